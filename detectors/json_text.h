// Push decoder from raw JSON bytes to the text a model reads.
//
// Feed raw bytes in chunks of any size; string contents come out unescaped (`\n`, `\"`,
// `\u0041`, surrogate pairs) into a DecodedText, one segment per string, with the map back to
// raw offsets and the JSON path of each value. The `data` string of a document source (an
// object with `"type":"base64"`, or the value of a `source` member whose type is not known yet,
// as in Anthropic `document` / `image` blocks; also Gemini `inlineData` / `inline_data` and
// Bedrock `source.bytes`) is scanned as the text it is and, unless its `media_type` (`mimeType`,
// `mime_type`, Bedrock's `format`) says it is not text, also decoded from base64 as leniently as
// the API's decoders are, into a second segment after it. A UTF-8 byte order mark before the
// document is allowed, as JSON parsers that read bytes allow it. Strict otherwise: malformed
// JSON stops the decoder with an error that names the raw offset, and so does an object that
// says "type", "media_type" (or "mimeType", "mime_type"), "data", "bytes" or "format" twice
// (parsers differ on which one wins). Nesting depth and token sizes are bounded; a document's
// decoded copy is held until its string ends (at most 3/4 of the string), so memory is bounded
// by the input's largest string.
//
// With collect_attachments(), the binary attachments of every vendor's request format (PDFs,
// pictures, office files; see attachments.h) are decoded too and listed, within the limits given.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "detectors/attachments.h"
#include "detectors/decoded_text.h"
#include "detectors/lenient_base64.h"
#include "detectors/text_readers.h"

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
  // Lists the request's attachments into `out` (see attachments.h), each decoded and bounded by
  // `limits`. Call before the first feed(); `out` must outlive the extractor.
  void collect_attachments(const AttachmentLimits& limits, std::vector<Attachment>* out);

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
  // What a declared media type says: opaque (audio, video) is never read as an attachment.
  enum class Media : uint8_t { unknown, text, binary, opaque };
  enum class SourceType : uint8_t { unknown, base64, other };  // this object's "type"
  // The member names documents and attachments are recognised by. Those up to `format` decide
  // how a document is read and must be said once per object (bits in seen_keys); media_type
  // stands for mimeType and mime_type too.
  enum class KeyKind : uint8_t {
    type,
    media_type,
    data,
    bytes,
    format,
    source,
    inline_data,
    image_url,
    url,
    file_data,
    other
  };
  static KeyKind kind_of_key(std::string_view key);
  struct Frame {
    bool is_array;
    int32_t next_index;
    KeyKind owner;  // the member this object is the value of (source, inline_data, ...)
    SourceType type;
    Media media;
    MediaKind declared;  // what media_type / format said
    uint8_t seen_keys;   // KeyKind type .. format seen in this object (1 << kind)
    int32_t attachment;  // an attachment of this object whose kind waits for its close, or -1
  };
  // The attachment being decoded from the current string (see attachments.h).
  struct Capture {
    bool active = false;
    bool data_url = false;     // the string is a data URL: its header comes first
    bool header_done = false;  // the data URL header was read; base64 follows
    bool over = false;         // over a cap: only the first bytes are kept, to tell the kind
    MediaKind declared = MediaKind::unknown;
    bool too_many = false;       // over max_attachments
    uint64_t room = 0;           // decoded bytes it may keep
    uint64_t encoded_begin = 0;  // decoded offset where the base64 text starts
    std::string header;
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
  void begin_document_string();
  bool read_data_url_header(uint64_t& from);
  void check_capture_room();
  std::string over_cap_reason(uint64_t decoded_size) const;
  void end_capture();
  void resolve_attachment(size_t index);
  void close_object_attachment();
  void close_container(char c);
  bool escape_byte(char c);
  bool unicode_byte(char c);
  bool open_container(const char*& p, const char* end);
  enum class AfterValue { consumed, read_again, failed };
  AfterValue after_value_byte(char c);
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
  // attachments (collect_attachments)
  std::vector<Attachment>* attachments_ = nullptr;
  AttachmentLimits limits_;
  Capture capture_;
  uint64_t attachment_bytes_ = 0;  // decoded bytes kept by the listed attachments
  size_t attachments_listed_ = 0;
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
