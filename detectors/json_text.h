// Push decoder from raw JSON bytes to the text a model reads.
//
// Feed raw bytes in chunks of any size; string contents come out unescaped (`\n`, `\"`,
// `\u0041`, surrogate pairs) into a DecodedText, one segment per string, with the map back to
// raw offsets and the JSON path of each value. The `data` string of a document source (an
// object with `"type":"base64"`, or the value of a `source` member whose type is not known yet,
// as in Anthropic `document` / `image` blocks) is scanned as the text it is and, unless its
// `media_type` says it is not text, also decoded from base64 as leniently as the API's decoders
// are, into a second segment after it. A UTF-8 byte order mark before the document is allowed,
// as JSON parsers that read bytes allow it. Strict otherwise: malformed JSON stops the
// decoder with an error that names the raw offset, and so does an object that says
// "type", "media_type" or "data" twice (parsers differ on which one wins). Nesting depth and
// token sizes are bounded; a document's decoded copy is held until its string ends (at most
// 3/4 of the string), so memory is bounded by the input's largest string.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "decoded_text.h"
#include "lenient_base64.h"
#include "text_readers.h"

namespace promptgate {

class JsonTextExtractor {
 public:
  static constexpr size_t kMaxDepth = 512;

  explicit JsonTextExtractor(DecodedText& out);
  ~JsonTextExtractor();
  JsonTextExtractor(const JsonTextExtractor&) = delete;
  JsonTextExtractor& operator=(const JsonTextExtractor&) = delete;

  // Values to pass over without decoding or validating (incremental scanning: transcript blocks
  // already scanned clean). Sorted, non-overlapping, each exactly one JSON value of the input
  // (from its first to one past its last byte); a range that does not start at a value is
  // ignored. Call before the first feed().
  void skip_values(std::vector<RawRange> ranges);

  // Returns false once the input is known to be malformed; error() says why.
  bool feed(std::string_view chunk);
  // End of input: false if the document is incomplete.
  bool finish();
  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }
  // Why the text readers (text_readers.h: what strings say in base64, percent-encoding, ...)
  // stopped early, or "". The JSON itself may still be fine.
  const std::string& reader_error() const { return readers_->error(); }

 private:
  enum class State : uint8_t {
    value,
    object_key_or_end,
    object_key,
    colon,
    after_value,
    string,
    escape,
    unicode,
    literal,
    number,
    skipping,
    done
  };
  enum class Media : uint8_t { unknown, text, binary };
  enum class SourceType : uint8_t { unknown, base64, other };  // this object's "type"
  // The member names documents are recognised by (the first three are bits in seen_keys).
  enum class KeyKind : uint8_t { type, media_type, data, source, other };
  static KeyKind kind_of_key(std::string_view key);
  struct Frame {
    bool is_array;
    int32_t next_index;
    bool under_source;  // the value of a "source" member
    SourceType type;
    Media media;
    uint8_t seen_keys;  // KeyKind type, media_type, data seen in this object (1 << kind)
  };

  bool fail(const std::string& msg);
  const char* copy_plain_run(const char* p, const char* end);
  void skip_common_structure(const char*& p, const char* end);
  void begin_value_node();
  void begin_string(bool is_key);
  void end_string();
  void string_bytes(const char* p, size_t n);
  void emit_codepoint(uint32_t cp, uint64_t raw_start, uint32_t raw_len);
  void flush_pending_high();
  void decode_document_text();
  void finish_document();
  void close_container(char c);
  void after_value_done();
  bool begin_skip_if_listed();
  int join_depth() const;
  bool document_data() const;

  DecodedText& out_;
  std::string error_;
  State state_ = State::value;
  uint64_t pos_ = 0;     // raw offset of the next byte
  size_t bom_seen_ = 0;  // bytes of a leading UTF-8 byte order mark read so far
  std::vector<Frame> frames_;
  std::vector<uint32_t> frame_nodes_;  // container node per frame (DecodedText may remap these)
  uint32_t value_node_ = 0;            // node of the value being parsed
  std::string key_;                    // last member name in the current object (decoded, capped)
  KeyKind key_kind_ = KeyKind::other;  // what key_ is, for documents
  bool in_key_ = false;
  // string state
  uint64_t string_start_ = 0;
  uint64_t string_dec_start_ = 0;
  uint64_t escape_start_ = 0;
  uint32_t unicode_value_ = 0;
  int unicode_digits_ = 0;
  uint32_t pending_high_ = 0;
  uint64_t pending_high_start_ = 0;
  // A document source's `data`: its decoded text from b64_fed_ on goes through the base64
  // decoder into b64_doc_, which becomes a segment of its own when the string ends.
  bool decode_document_ = false;
  uint64_t b64_fed_ = 0;
  std::string b64_doc_;
  std::unique_ptr<LenientBase64> b64_;
  // literal / number state
  const char* literal_ = nullptr;
  size_t literal_pos_ = 0;
  size_t number_len_ = 0;
  // What each string value says when read as the model reads it (not document data).
  std::unique_ptr<TextReaders> readers_;
  // skipped values
  std::vector<RawRange> skips_;
  size_t skip_next_ = 0;
  uint64_t skip_until_ = 0;
};

}  // namespace promptgate
