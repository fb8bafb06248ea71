// `promptgate scan`'s filters and git reading on their own: gitignore-style globs, the line index
// with its promptgate:allow lines (a marker split between stream chunks included), baselines and
// their errors, and the added-lines reader of `git log -p -U0` output.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cli/scan_filters.h"
#include "cli/scan_git.h"

using namespace promptgate::scan;

TEST_CASE("glob_match: * and ? stay within a component, ** crosses them", "[scan_filters]") {
  CHECK(glob_match("*.log", "today.log"));
  CHECK_FALSE(glob_match("*.log", "logs/today.log"));
  CHECK(glob_match("src/*.txt", "src/a.txt"));
  CHECK_FALSE(glob_match("src/*.txt", "src/sub/a.txt"));
  CHECK(glob_match("a?c", "abc"));
  CHECK_FALSE(glob_match("a?c", "a/c"));
  CHECK(glob_match("**/deep", "deep"));
  CHECK(glob_match("**/deep", "x/y/deep"));
  CHECK(glob_match("build/**", "build/a/b.o"));
  CHECK(glob_match("a/**/b", "a/b"));
  CHECK(glob_match("a/**/b", "a/x/y/b"));
  CHECK_FALSE(glob_match("a/**/b", "a/x/y/c"));
  CHECK(glob_match("[a-c]x", "bx"));
  CHECK_FALSE(glob_match("[!a-c]x", "bx"));
  CHECK(glob_match("[!a-c]x", "dx"));
  CHECK(glob_match("\\*x", "*x"));
  CHECK_FALSE(glob_match("\\*x", "ax"));
  CHECK(glob_match("[x", "[x"));  // an unclosed class is a literal '['
}

TEST_CASE("IgnoreRules: anchoring, directories only, negation, comments", "[scan_filters]") {
  IgnoreRules r;
  for (const char* line : {"# a comment", "", "*.log", "build/", "/top.txt", "docs/*.md",
                           "!docs/keep.md", "\\#hash", "trailing   "})
    r.add_pattern(line);
  CHECK(r.ignored("a/b/x.log", false));  // no slash: a name at any depth
  CHECK(r.ignored("build", true));
  CHECK_FALSE(r.ignored("build", false));    // "build/" matches directories only
  CHECK(r.ignored_path("src/build/out.o"));  // inside an ignored directory
  CHECK(r.ignored("top.txt", false));
  CHECK_FALSE(r.ignored("sub/top.txt", false));  // anchored by its leading '/'
  CHECK(r.ignored("docs/a.md", false));
  CHECK_FALSE(r.ignored("docs/keep.md", false));  // re-included: the last match wins
  CHECK_FALSE(r.ignored("x/docs/a.md", false));   // a middle '/' anchors too
  CHECK(r.ignored("#hash", false));
  CHECK(r.ignored("trailing", false));
  CHECK_FALSE(r.ignored("# a comment", false));
  CHECK_FALSE(r.ignored_path("src/main.cc"));
  CHECK(r.ignored("./q.log", false));
}

TEST_CASE("LineIndex: positions and promptgate:allow lines, whole or chunked", "[scan_filters]") {
  const std::string text =
      "line one\n"
      "key = x  # promptgate:allow\n"
      "third\n"
      "fourth promptgate:allow and promptgate:allow\n"
      "fifth\n";
  for (size_t chunk : {text.size(), size_t{1}, size_t{5}, size_t{16}, size_t{17}}) {
    LineIndex lines;
    for (size_t i = 0; i < text.size(); i += chunk)
      lines.feed(std::string_view(text).substr(i, chunk));
    INFO("chunk " << chunk);
    auto pos = lines.positions({0, 9, text.find("third") + 2, text.find("fifth")});
    CHECK(pos[0] == std::pair<uint64_t, uint64_t>{1, 1});
    CHECK(pos[1] == std::pair<uint64_t, uint64_t>{2, 1});
    CHECK(pos[2] == std::pair<uint64_t, uint64_t>{3, 3});
    CHECK(pos[3] == std::pair<uint64_t, uint64_t>{5, 1});
    CHECK_FALSE(lines.allowed(1, 1));
    CHECK(lines.allowed(2, 2));
    CHECK_FALSE(lines.allowed(3, 3));
    CHECK(lines.allowed(4, 4));
    CHECK(lines.allowed(3, 5));  // a finding spanning lines 3 to 5 covers the marked line 4
    CHECK_FALSE(lines.allowed(5, 5));
  }
}

TEST_CASE("LineIndex: every offset of a long random text gets the line a byte walk gives",
          "[scan_filters]") {
  // Lines of 0-70 bytes (newlines in every position of the 16-byte compares and at chunk edges)
  // and markers at random places, fed whole and in uneven chunks.
  std::mt19937_64 rng(5);
  std::string text;
  while (text.size() < 20000) {
    text.append(rng() % 71, 'x');
    if (rng() % 50 == 0) text += std::string(kAllowMarker);
    text += '\n';
  }
  std::vector<uint64_t> offsets;
  std::vector<std::pair<uint64_t, uint64_t>> want;
  std::set<uint64_t> marked;
  uint64_t line = 1, column = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    offsets.push_back(i);
    want.emplace_back(line, column);
    if (text.compare(i, kAllowMarker.size(), kAllowMarker) == 0) marked.insert(line);
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  for (size_t chunk : {text.size(), size_t{7}, size_t{4099}}) {
    LineIndex lines;
    for (size_t i = 0; i < text.size(); i += chunk)
      lines.feed(std::string_view(text).substr(i, chunk));
    INFO("chunk " << chunk);
    REQUIRE(lines.positions(offsets) == want);
    for (uint64_t l = 1; l < line; ++l) REQUIRE(lines.allowed(l, l) == marked.count(l) > 0);
  }
}

TEST_CASE("Baseline: jsonl fingerprints, errors naming the file and line", "[scan_filters]") {
  auto dir = std::filesystem::temp_directory_path() / "promptgate-test-baseline";
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& body) {
    std::ofstream(dir / name) << body;
    return (dir / name).string();
  };
  Baseline b = Baseline::load(write("ok.jsonl",
                                    "{\"path\":\"a\",\"fingerprint\":\"fp_0123456789abcdef\"}\n\n"
                                    "{\"fingerprint\":\"fp_fedcba9876543210\",\"line\":3}\n"));
  CHECK(b.size() == 2);
  CHECK(b.contains("fp_0123456789abcdef"));
  CHECK_FALSE(b.contains("fp_1111111111111111"));
  std::string bad = write("bad.jsonl", "{\"fingerprint\":\"fp_01\"}\n[1, 2]\n");
  CHECK_THROWS_WITH(Baseline::load(bad), Catch::StartsWith(bad + ":2: not a JSON object"));
  std::string nofp = write("nofp.jsonl", "{\"fingerprint\": 7}\n");
  CHECK_THROWS_WITH(Baseline::load(nofp), Catch::StartsWith(nofp + ":1: no \"fingerprint\""));
  CHECK_THROWS_WITH(Baseline::load((dir / "missing").string()),
                    Catch::Contains("missing: cannot read"));
  std::filesystem::remove_all(dir);
}

namespace {

std::vector<AddedText> read_diff(const std::string& diff, size_t cap = 1 << 20) {
  std::vector<AddedText> out;
  AddedLinesReader reader([](const std::string& path) { return path == "skipped.txt"; },
                          [&](AddedText& t) { out.push_back(t); }, cap);
  size_t start = 0;
  for (size_t nl; (nl = diff.find('\n', start)) != std::string::npos; start = nl + 1)
    reader.line(std::string_view(diff).substr(start, nl - start));
  reader.finish();
  return out;
}

}  // namespace

TEST_CASE("AddedLinesReader: added lines with their line numbers, per commit and file",
          "[scan_filters]") {
  const std::string diff =
      "commit abc1234\n"
      "\n"
      "diff --git a/config.ini b/config.ini\n"
      "index 111..222 100644\n"
      "--- a/config.ini\n"
      "+++ b/config.ini\n"
      "@@ -3 +3,2 @@ [section]\n"
      "-old = 1\n"
      "+new = 2\n"
      "++++ b/looks-like-a-header\n"  // an added line reading "+++ b/...", counted as one
      "@@ -10,0 +12 @@\n"
      "+twelve\n"
      "\\ No newline at end of file\n"
      "diff --git a/skipped.txt b/skipped.txt\n"
      "--- a/skipped.txt\n"
      "+++ b/skipped.txt\n"
      "@@ -0,0 +1 @@\n"
      "+not kept\n"
      "diff --git a/gone.txt b/gone.txt\n"
      "deleted file mode 100644\n"
      "--- a/gone.txt\n"
      "+++ /dev/null\n"
      "@@ -1 +0,0 @@\n"
      "-removed only\n"
      "commit def5678\n"
      "\n"
      "diff --git \"a/t\\303\\251st\\tx\" \"b/t\\303\\251st\\tx\"\n"
      "new file mode 100644\n"
      "--- /dev/null\n"
      "+++ \"b/t\\303\\251st\\tx\"\n"
      "@@ -0,0 +1,2 @@\n"
      "+a\n"
      "+b\n";
  auto texts = read_diff(diff);
  REQUIRE(texts.size() == 2);
  CHECK(texts[0].commit == "abc1234");
  CHECK(texts[0].path == "config.ini");
  CHECK(texts[0].text == "new = 2\n+++ b/looks-like-a-header\ntwelve\n");
  CHECK(texts[0].lines == std::vector<uint64_t>{3, 4, 12});
  CHECK(texts[1].commit == "def5678");
  CHECK(texts[1].path == "t\xc3\xa9st\tx");
  CHECK(texts[1].text == "a\nb\n");
  CHECK(texts[1].lines == std::vector<uint64_t>{1, 2});

  // Past the cap a file's added lines come in more than one piece, each with its own lines.
  auto pieces = read_diff(diff, 8);
  REQUIRE(pieces.size() >= 3);
  CHECK(pieces[0].text == "new = 2\n");
  CHECK(pieces[0].lines == std::vector<uint64_t>{3});
  CHECK(pieces[1].lines == std::vector<uint64_t>{4});
}

TEST_CASE("git_log_argv: a range read as an option is refused", "[scan_filters]") {
  CHECK_THROWS_AS(git_log_argv("/repo", "--output=/tmp/x"), GitError);
  CHECK_THROWS_AS(git_log_argv("/repo", ""), GitError);
  auto argv = git_log_argv("/repo", "main..HEAD");
  REQUIRE(argv.size() >= 3);
  CHECK(argv[argv.size() - 3] == "--end-of-options");
  CHECK(argv[argv.size() - 2] == "main..HEAD");
}
