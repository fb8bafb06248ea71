// The JSON decoder: what the model reads, where it came from, and where in the document it is.
#include <catch2/catch.hpp>

#include "detectors/decoded_text.h"
#include "detectors/json_text.h"

using namespace promptgate;

namespace {

struct Decoded {
  DecodedText text;
  bool ok;
  std::string error;
};

std::unique_ptr<Decoded> decode(std::string_view json, size_t chunk = 0) {
  auto d = std::make_unique<Decoded>();
  JsonTextExtractor ex(d->text);
  bool ok = true;
  if (chunk == 0) {
    ok = ex.feed(json);
  } else {
    for (size_t at = 0; at < json.size() && ok; at += chunk) ok = ex.feed(json.substr(at, chunk));
  }
  d->ok = ok && ex.finish();
  d->error = ex.error();
  return d;
}

}  // namespace

TEST_CASE("string escapes decode to what the model reads") {
  auto d = decode(R"({"a":"x\ny\t\"q\" \\ \/ \u0041\u00e9\u20ac\ud83d\ude00 end"})");
  REQUIRE(d->ok);
  std::string_view v = d->text.view();
  CHECK(v.find("x\ny\t\"q\" \\ / A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 end") !=
        std::string_view::npos);
}

TEST_CASE("lone surrogates decode to the replacement character") {
  auto d = decode(R"(["\ud800x", "\udc00"])");
  REQUIRE(d->ok);
  CHECK(d->text.view().find("\xEF\xBF\xBDx") != std::string_view::npos);
}

TEST_CASE("members read as 'key: value' lines") {
  auto d = decode(R"({"user":{"password":"hunter22","n":42,"ok":true}})");
  REQUIRE(d->ok);
  CHECK(d->text.view().find("password: hunter22\n") != std::string_view::npos);
  CHECK(d->text.view().find("n: 42\n") != std::string_view::npos);
}

TEST_CASE("decoded offsets map back to raw offsets through escapes") {
  std::string json = R"({"k":"ab\ncd\u0041ef"})";
  auto d = decode(json);
  REQUIRE(d->ok);
  std::string_view v = d->text.view();
  size_t c = v.find("cdAef");
  REQUIRE(c != std::string_view::npos);
  size_t seg = d->text.segment_at(c);
  auto [s1, e1] = d->text.raw_span(seg, c, c + 2);  // "cd"
  CHECK(json.substr(s1, e1 - s1) == "cd");
  auto [s2, e2] = d->text.raw_span(seg, c + 2, c + 3);  // "A" from \u0041
  CHECK(json.substr(s2, e2 - s2) == "\\u0041");
  auto [s3, e3] = d->text.raw_span(seg, c - 2, c + 5);  // "b\ncdAef"
  CHECK(json.substr(s3, e3 - s3) == "b\\ncd\\u0041ef");
}

TEST_CASE("locations name the JSON path") {
  std::string json =
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"hello"},{"type":"tool_result","content":"world"}]}],"odd key":{"x.y":"z"}})";
  auto d = decode(json);
  REQUIRE(d->ok);
  auto loc = [&](std::string_view needle) {
    size_t at = d->text.view().find(needle);
    REQUIRE(at != std::string_view::npos);
    return d->text.location(d->text.segment(d->text.segment_at(at)).node);
  };
  CHECK(loc("hello") == "messages[0].content[0].text");
  CHECK(loc("world") == "messages[0].content[1].content");
  CHECK(loc("z\n") == "[\"odd key\"][\"x.y\"]");
}

TEST_CASE("any chunking decodes to the same text") {
  std::string json =
      R"({"a":["x\u00e9y", 1.5e3, null, {"b":"c\\d\"e"}], "f": [], "g": {}, "h":"\ud83d\ude00"})";
  auto whole = decode(json);
  REQUIRE(whole->ok);
  for (size_t chunk = 1; chunk < json.size(); ++chunk) {
    auto d = decode(json, chunk);
    INFO("chunk " << chunk);
    REQUIRE(d->ok);
    CHECK(d->text.view() == whole->text.view());
  }
}

TEST_CASE("malformed JSON names the byte offset") {
  auto d = decode(R"({"a": [1, 2,, 3]})");
  CHECK_FALSE(d->ok);
  CHECK(d->error.find("invalid JSON at byte 12") != std::string::npos);
  CHECK_FALSE(decode("")->ok);
  CHECK_FALSE(decode("   ")->ok);
  CHECK(decode(" 42 ")->ok);
  CHECK(decode("[[],{},\"\",0,-1.5E-3,true,false,null]")->ok);
  CHECK_FALSE(decode("[1 2]")->ok);
  CHECK_FALSE(decode("{\"a\":1,}")->ok);
}

TEST_CASE("nesting depth is bounded") {
  std::string ok_depth(500, '[');
  ok_depth += std::string(500, ']');
  CHECK(decode(ok_depth)->ok);
  std::string too_deep(600, '[');
  too_deep += std::string(600, ']');
  auto d = decode(too_deep);
  CHECK_FALSE(d->ok);
  CHECK(d->error.find("nesting") != std::string::npos);
}

TEST_CASE("long strings decode right with an escape or a bad byte at any offset") {
  // The copy loop moves 32 or 16 bytes at a time: put the special byte at every position of
  // several such blocks, at every chunk size that splits them differently.
  for (size_t at = 0; at < 100; ++at) {
    std::string plain(100, 'x');
    for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<char>('a' + i % 26);
    std::string expected = plain.substr(0, at) + "\n" + plain.substr(at);
    std::string json = "{\"k\":\"" + plain.substr(0, at) + "\\n" + plain.substr(at) + "\"}";
    for (size_t chunk : {size_t{0}, size_t{7}, size_t{33}}) {
      auto d = decode(json, chunk);
      INFO("escape at " << at << ", chunk " << chunk);
      REQUIRE(d->ok);
      CHECK(d->text.view().find(expected) != std::string_view::npos);
      size_t c = d->text.view().find(expected) + at;
      auto [s, e] = d->text.raw_span(d->text.segment_at(c), c, c + 1);
      CHECK(json.substr(s, e - s) == "\\n");
    }
    std::string bad = "{\"k\":\"" + plain.substr(0, at) + '\x01' + plain.substr(at) + "\"}";
    INFO("control byte at " << at);
    CHECK_FALSE(decode(bad)->ok);
  }
}
