// The CLI's argument parser: value and flag options in order, both value spellings where
// allowed, positionals, --help, and the errors each command prints after its own prefix.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "cli/arguments.h"

using promptgate::cli::ArgumentError;
using promptgate::cli::Arguments;
using promptgate::cli::ArgumentSpec;
using promptgate::cli::OptionKind;
using promptgate::cli::parse_arguments;
using Words = std::vector<std::string>;

namespace {

// Like `scan`: value options (one with choices), a flag, positionals; no "=" form.
const ArgumentSpec kScanLike{
    .options = {{"--rules", OptionKind::value},
                {"--format", OptionKind::value, {"jsonl", "text", "sarif"}},
                {"--strict"}},
    .positionals = true};

// Like `run`: "--name=value" too, no positionals.
const ArgumentSpec kRunLike{
    .options = {{"--listen", OptionKind::value}, {"--mode", OptionKind::value}, {"--check-config"}},
    .equals_form = true};

// The error parse_arguments throws for `words`, which must be one.
ArgumentError error_of(const Words& words, const ArgumentSpec& spec) {
  try {
    parse_arguments(words, spec);
  } catch (const ArgumentError& e) {
    return e;
  }
  FAIL("no error");
  return ArgumentError(ArgumentError::Kind::unknown_option, "", "");  // not reached
}

}  // namespace

TEST_CASE("options keep their command-line order and positionals are collected apart", "[cli]") {
  Arguments a = parse_arguments(
      Words{"--rules", "a.yaml", "src", "--strict", "--rules", "b.yaml", "-", ""}, kScanLike);
  REQUIRE(a.options.size() == 3);
  CHECK(a.options[0].name == "--rules");
  CHECK(a.options[0].value == "a.yaml");
  CHECK(a.options[1].name == "--strict");
  CHECK(a.options[1].value.empty());
  CHECK(a.all("--rules") == Words{"a.yaml", "b.yaml"});
  CHECK(a.last("--rules") == "b.yaml");  // a later value wins for single-valued options
  CHECK(a.has("--strict"));
  CHECK_FALSE(a.has("--format"));
  CHECK_FALSE(a.last("--format").has_value());
  CHECK(a.all("--format").empty());
  // "-" (stdin) and an empty word are positionals, as before.
  CHECK(a.positionals == Words{"src", "-", ""});
}

TEST_CASE("a value option takes the next word whatever it looks like", "[cli]") {
  Arguments a = parse_arguments(Words{"--rules", "--strict", "--rules", "-"}, kScanLike);
  CHECK(a.all("--rules") == Words{"--strict", "-"});
  CHECK_FALSE(a.has("--strict"));
  CHECK(a.positionals.empty());
}

TEST_CASE("nothing to parse gives nothing", "[cli]") {
  Arguments a = parse_arguments(Words{}, kScanLike);
  CHECK(a.options.empty());
  CHECK(a.positionals.empty());
}

TEST_CASE("a value option at the end needs a value", "[cli]") {
  ArgumentError e = error_of(Words{"src", "--format"}, kScanLike);
  CHECK(e.kind() == ArgumentError::Kind::missing_value);
  CHECK(e.option() == "--format");
  CHECK(std::string(e.what()) == "--format needs a value");
}

TEST_CASE("unknown options are named as written", "[cli]") {
  ArgumentError e = error_of(Words{"--bogus", "x"}, kScanLike);
  CHECK(e.kind() == ArgumentError::Kind::unknown_option);
  CHECK(e.option() == "--bogus");
  CHECK(std::string(e.what()) == "unknown option --bogus");
  // Single-dash words other than "-" are options too, and "--" is no end-of-options marker.
  CHECK(error_of(Words{"-x"}, kScanLike).option() == "-x");
  CHECK(error_of(Words{"--", "src"}, kScanLike).option() == "--");
  // Without equals_form, "--format=text" is one unknown word.
  CHECK(error_of(Words{"--format=text"}, kScanLike).option() == "--format=text");
}

TEST_CASE("choices are checked in command-line order, with the message commands print", "[cli]") {
  ArgumentError e = error_of(Words{"--format", "xml", "--bogus"}, kScanLike);
  CHECK(e.kind() == ArgumentError::Kind::bad_choice);
  CHECK(e.option() == "--format");
  CHECK(std::string(e.what()) == "--format must be jsonl, text or sarif");
  CHECK(std::string(error_of(Words{"--bogus", "--format", "xml"}, kScanLike).what()) ==
        "unknown option --bogus");
  const ArgumentSpec two{.options = {{"--json", OptionKind::value, {"on", "off"}}}};
  CHECK(std::string(error_of(Words{"--json", "maybe"}, two).what()) == "--json must be on or off");
  CHECK(parse_arguments(Words{"--format", "sarif"}, kScanLike).last("--format") == "sarif");
}

TEST_CASE("equals_form accepts --name=value for value options only", "[cli]") {
  Arguments a = parse_arguments(
      Words{"--listen=127.0.0.1:1", "--mode", "monitor", "--listen=", "--check-config"}, kRunLike);
  REQUIRE(a.options.size() == 4);
  CHECK(a.options[0].name == "--listen");
  CHECK(a.options[0].value == "127.0.0.1:1");
  CHECK(a.options[2].name == "--listen");
  CHECK(a.options[2].value.empty());  // "--listen=" gives an empty value, not an error
  CHECK(a.has("--check-config"));
  // The value is everything after the first '='.
  CHECK(parse_arguments(Words{"--mode=a=b"}, kRunLike).last("--mode") == "a=b");
  // A flag given a value, or an unknown name, is named without its value.
  CHECK(error_of(Words{"--check-config=1"}, kRunLike).option() == "--check-config");
  CHECK(std::string(error_of(Words{"--bogus=1"}, kRunLike).what()) == "unknown option --bogus");
  // Choices hold for the "=" spelling too.
  const ArgumentSpec choosy{.options = {{"--mode", OptionKind::value, {"enforce", "monitor"}}},
                            .equals_form = true};
  CHECK(error_of(Words{"--mode=loud"}, choosy).kind() == ArgumentError::Kind::bad_choice);
  CHECK(parse_arguments(Words{"--mode=monitor"}, choosy).last("--mode") == "monitor");
}

TEST_CASE("without positionals, a plain word is an unknown option", "[cli]") {
  ArgumentError e = error_of(Words{"foo"}, kRunLike);
  CHECK(e.kind() == ArgumentError::Kind::unknown_option);
  CHECK(e.option() == "foo");
}

TEST_CASE("help (--help or -h) stops parsing, so what follows it is not read", "[cli]") {
  // Every spec answers help, positionals or not, with or without options.
  CHECK_THROWS_AS(parse_arguments(Words{"--check-config", "--help", "--bogus"}, kRunLike),
                  promptgate::cli::HelpRequested);
  CHECK_THROWS_AS(parse_arguments(Words{"-h"}, kRunLike), promptgate::cli::HelpRequested);
  CHECK_THROWS_AS(parse_arguments(Words{"file.txt", "--help"}, kScanLike),
                  promptgate::cli::HelpRequested);
  CHECK_THROWS_AS(parse_arguments(Words{"--help"}, ArgumentSpec{}), promptgate::cli::HelpRequested);
  // An error before --help is still an error.
  CHECK(error_of(Words{"--bogus", "--help"}, kRunLike).option() == "--bogus");
  // As an option's value, --help is just the value.
  Arguments v = parse_arguments(Words{"--listen", "--help"}, kRunLike);
  CHECK(v.last("--listen") == "--help");
}

TEST_CASE("an ArgumentError is an invalid_argument, so commands catch both alike", "[cli]") {
  CHECK_THROWS_AS(parse_arguments(Words{"--bogus"}, kScanLike), std::invalid_argument);
}
