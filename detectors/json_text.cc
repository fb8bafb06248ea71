#include "detectors/json_text.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "detectors/cpu_features.h"
#include "detectors/lenient_base64.h"

namespace promptgate {
namespace {

constexpr size_t kMaxKeyBytes = 256;
constexpr size_t kMaxNumberBytes = 512;

// First byte in [p, end) that ends a run of plain string content: '"', '\\' or a control char.
const char* find_special(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                ctl = _mm_set1_epi8(0x1F);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                               _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
    int mask = _mm_movemask_epi8(hit);
    if (mask) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  for (; p < end; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20) return p;
  }
  return end;
}

#if defined(__x86_64__) && defined(__GNUC__)
// Copies plain string content 32 bytes at a time until the first '"', '\\' or control byte, or
// until fewer than 32 bytes are left; returns how many bytes it copied. Compiled for AVX2 and
// used only on CPUs that have it (the SSE2 loop in copy_plain_run does the rest).
__attribute__((target("avx2"))) size_t copy_plain_avx2(const char* p, const char* end, char* w) {
  const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\'),
                ctl = _mm256_set1_epi8(0x1F);
  const char* const start = p;
  while (end - p >= 32) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w), v);
    unsigned mask = static_cast<unsigned>(_mm256_movemask_epi8(_mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, backslash)),
        _mm256_cmpeq_epi8(_mm256_max_epu8(v, ctl), ctl))));
    if (mask) return static_cast<size_t>(p - start) + static_cast<unsigned>(__builtin_ctz(mask));
    p += 32;
    w += 32;
  }
  return static_cast<size_t>(p - start);
}

#endif

// The byte a two-character escape stands for, or 0 for \u and invalid escapes.
char simple_escape(char c) {
  switch (c) {
    case '"':
      return '"';
    case '\\':
      return '\\';
    case '/':
      return '/';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return 0;
  }
}

bool is_ws(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
bool valid_number(std::string_view s) {
  size_t i = 0, n = s.size();
  auto digits = [&] {
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < n && s[i] == '-') ++i;
  if (i < n && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == n;
}

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace

// Member names that matter to documents, told apart by length first: this runs for every key.
JsonTextExtractor::KeyKind JsonTextExtractor::kind_of_key(std::string_view k) {
  switch (k.size()) {
    case 3:
      return k == "url" ? KeyKind::url : KeyKind::other;
    case 4:
      return k == "type" ? KeyKind::type : k == "data" ? KeyKind::data : KeyKind::other;
    case 5:
      return k == "bytes" ? KeyKind::bytes : KeyKind::other;
    case 6:
      return k == "source" ? KeyKind::source : k == "format" ? KeyKind::format : KeyKind::other;
    case 8:
      return k == "mimeType" ? KeyKind::media_type : KeyKind::other;
    case 9:
      return k == "mime_type"   ? KeyKind::media_type
             : k == "file_data" ? KeyKind::file_data
             : k == "image_url" ? KeyKind::image_url
                                : KeyKind::other;
    case 10:
      return k == "media_type"   ? KeyKind::media_type
             : k == "inlineData" ? KeyKind::inline_data
                                 : KeyKind::other;
    case 11:
      return k == "inline_data" ? KeyKind::inline_data : KeyKind::other;
    default:
      return KeyKind::other;
  }
}

namespace {

bool is_text_media(std::string_view media_type) {
  std::string m(media_type.substr(0, 64));
  for (char& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return m.starts_with("text/") || m == "application/json" || m == "application/xml" ||
         m == "application/x-yaml" || m == "application/yaml" || m == "application/javascript" ||
         m == "application/x-sh" || m == "application/sql";
}

// Audio and video: never read as an attachment, so never decoded.
bool is_opaque_media(std::string_view media_type) {
  std::string m(media_type.substr(0, 6));
  for (char& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return m.starts_with("audio/") || m.starts_with("video/");
}

// Bedrock Converse document formats that are text.
bool is_text_format(std::string_view format) {
  return format == "txt" || format == "csv" || format == "html" || format == "md";
}

}  // namespace

JsonTextExtractor::JsonTextExtractor(DecodedText& out)
    : out_(out), readers_(std::make_unique<TextReaders>(out)) {
  out_.live_nodes_ = &frame_nodes_;
}

JsonTextExtractor::~JsonTextExtractor() {
  if (out_.live_nodes_ == &frame_nodes_) out_.live_nodes_ = nullptr;
}

bool JsonTextExtractor::fail(const std::string& msg) {
  if (error_.empty()) error_ = "invalid JSON at byte " + std::to_string(pos_) + ": " + msg;
  return false;
}

void JsonTextExtractor::begin_value_node() {
  if (frames_.empty()) {
    value_node_ = 0;
    return;
  }
  Frame& f = frames_.back();
  if (f.is_array) {
    value_node_ = out_.add_node(frame_nodes_.back(), f.next_index++, {});
  } else {
    value_node_ = out_.add_node(frame_nodes_.back(), -1, key_);
  }
}

void JsonTextExtractor::begin_string(bool is_key) {
  in_key_ = is_key;
  string_start_ = pos_ + 1;  // after the opening quote
  pending_high_ = 0;
  decode_document_ = false;
  capture_.active = false;
  if (is_key) {
    out_.begin_segment(SegmentKind::json_key, string_start_,
                       frame_nodes_.empty() ? 0 : frame_nodes_.back());
  } else {
    begin_value_node();
    // The text of the string is always scanned as it is (a "data" member may hold plain text,
    // whatever its siblings claim); a document source's is decoded from base64 as well, and an
    // attachment's is kept (json_attachments.cc).
    if (key_kind_ != KeyKind::other && !frames_.empty() && !frames_.back().is_array)
      begin_document_string();
    out_.begin_segment(SegmentKind::json_string, string_start_, value_node_);
    if (!decode_document_ && !document_data()) readers_->begin(join_depth());
  }
  string_dec_start_ = out_.end();
  capture_.encoded_begin = string_dec_start_;
  if (decode_document_ || capture_.active) {
    if (!b64_) b64_ = std::make_unique<LenientBase64>();
    b64_->reset();
    b64_fed_ = string_dec_start_;
    b64_doc_.clear();
  }
}

void JsonTextExtractor::decode_document_text() {
  uint64_t from = std::max(b64_fed_, out_.begin());
  if (capture_.active && capture_.data_url && !capture_.header_done &&
      !read_data_url_header(from)) {
    b64_fed_ = out_.end();
    return;
  }
  // An attachment over its cap keeps only its first bytes; a text document is decoded whole.
  if (decode_document_ || (capture_.active && !capture_.over))
    b64_->feed(out_.slice(from, out_.end()), b64_doc_);
  b64_fed_ = out_.end();
  check_capture_room();
}

void JsonTextExtractor::finish_document() {
  decode_document_text();
  if (decode_document_ || (capture_.active && !capture_.over)) b64_->finish(b64_doc_);
  check_capture_room();
}

void JsonTextExtractor::string_bytes(const char* p, size_t n) {
  if (pending_high_) flush_pending_high();
  out_.append_identity(p, n);
}

void JsonTextExtractor::emit_codepoint(uint32_t cp, uint64_t raw_start, uint32_t raw_len) {
  char buf[4];
  size_t n;
  if (cp < 0x80) {
    buf[0] = static_cast<char>(cp);
    n = 1;
  } else if (cp < 0x800) {
    buf[0] = static_cast<char>(0xC0 | (cp >> 6));
    buf[1] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    buf[0] = static_cast<char>(0xE0 | (cp >> 12));
    buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    buf[0] = static_cast<char>(0xF0 | (cp >> 18));
    buf[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 4;
  }
  out_.append_escape(buf, n, raw_start, raw_len);
}

void JsonTextExtractor::flush_pending_high() {
  if (!pending_high_) return;
  pending_high_ = 0;
  emit_codepoint(0xFFFD, pending_high_start_, 6);  // a lone surrogate
}

void JsonTextExtractor::end_string() {
  flush_pending_high();
  out_.end_segment(pos_);
  if (decode_document_ || capture_.active) {
    finish_document();
    if (decode_document_ && !b64_doc_.empty()) {
      out_.append_separator("\n", pos_);
      out_.begin_segment(SegmentKind::base64_document, string_start_, value_node_);
      out_.append_identity(b64_doc_.data(), b64_doc_.size());
      out_.end_segment(pos_);
    }
    decode_document_ = false;
    if (capture_.active) end_capture();
    if (b64_doc_.capacity() > (1u << 20)) std::string().swap(b64_doc_);
  }
  if (in_key_) {
    // The member name, for paths and for recognising documents (capped: names can be huge).
    uint64_t from = std::max(string_dec_start_, out_.begin());
    std::string_view name = out_.slice(from, out_.end());
    key_.assign(name.substr(0, kMaxKeyBytes));
    key_kind_ = kind_of_key(key_);
    // What decides how a document's data is read must be said once: parsers differ on which
    // of two equal keys wins, and the scan must read the document as the API does.
    if (key_kind_ <= KeyKind::format && !frames_.empty()) {
      auto bit = static_cast<uint8_t>(1u << static_cast<unsigned>(key_kind_));
      Frame& f = frames_.back();
      if (bit & f.seen_keys) {
        fail("\"" + key_ + "\" appears twice in one object");
        return;
      }
      f.seen_keys |= bit;
    }
    out_.append_separator(": ", pos_);
    state_ = State::colon;
    return;
  }
  // Remember what tells us whether a sibling "data" member is a base64 text document.
  if ((key_kind_ == KeyKind::type || key_kind_ == KeyKind::media_type ||
       key_kind_ == KeyKind::format) &&
      !frames_.empty() && !frames_.back().is_array && string_dec_start_ >= out_.begin()) {
    Frame& f = frames_.back();
    std::string_view value = out_.slice(string_dec_start_, out_.end());
    if (key_kind_ == KeyKind::type) {
      f.type = value == "base64" ? SourceType::base64 : SourceType::other;
    } else if (key_kind_ == KeyKind::media_type) {
      f.media = is_text_media(value)     ? Media::text
                : is_opaque_media(value) ? Media::opaque
                                         : Media::binary;
      f.declared = media_kind_of_type(value);
    } else {
      f.media = is_text_format(value) ? Media::text : Media::binary;
      f.declared = media_kind_of_format(value);
    }
  }
  readers_->end();
  out_.append_separator("\n", pos_);
  after_value_done();
}

// The data of a document source (what the document code reads): not for the text readers.
bool JsonTextExtractor::document_data() const {
  if (key_kind_ != KeyKind::data || frames_.empty() || frames_.back().is_array) return false;
  const Frame& f = frames_.back();
  return f.owner == KeyKind::source || f.owner == KeyKind::inline_data ||
         f.type != SourceType::unknown || f.media != Media::unknown;
}

// The text block of a content list whose blocks the readers join: a "text" member of an object
// in an array named "content", "parts" or "system"; that array's depth, else -1.
int JsonTextExtractor::join_depth() const {
  if (key_.size() != 4 || key_ != "text" || frames_.size() < 2) return -1;
  const size_t list = frames_.size() - 2;
  if (frames_.back().is_array || !frames_[list].is_array) return -1;
  std::string_view name = out_.node_key(frame_nodes_[list]);
  return name == "content" || name == "parts" || name == "system" ? static_cast<int>(list) : -1;
}

void JsonTextExtractor::skip_values(std::vector<RawRange> ranges) {
  skips_ = std::move(ranges);
  skip_next_ = 0;
}

bool JsonTextExtractor::begin_skip_if_listed() {
  while (skip_next_ < skips_.size() && skips_[skip_next_].begin < pos_) ++skip_next_;
  if (skip_next_ == skips_.size() || skips_[skip_next_].begin != pos_ ||
      skips_[skip_next_].end <= pos_)
    return false;
  begin_value_node();  // so later siblings keep their array indexes in paths
  readers_->break_join();
  skip_until_ = skips_[skip_next_++].end;
  state_ = State::skipping;
  return true;
}

void JsonTextExtractor::after_value_done() {
  state_ = frames_.empty() ? State::done : State::after_value;
}

void JsonTextExtractor::close_container(char c) {
  bool is_array = c == ']';
  if (frames_.empty() || frames_.back().is_array != is_array) {
    fail(std::string("unexpected '") + c + "'");
    return;
  }
  if (!is_array && frames_.back().attachment >= 0) close_object_attachment();
  frames_.pop_back();
  frame_nodes_.pop_back();
  readers_->container_closed(frames_.size());
  after_value_done();
}

const char* JsonTextExtractor::copy_plain_run(const char* p, const char* end) {
  // The hot loop: string content without escapes, or with two-character escapes, is copied
  // 16 (or, with AVX2, 32) bytes at a time; anything else (the closing quote, \u, a control byte)
  // goes back to the state machine. Output never outgrows input here, so room is made once and the
  // write position lives in a local (stores through char* would otherwise force reloads).
  const uint64_t raw_base = pos_ - reinterpret_cast<uintptr_t>(p);
  out_.reserve_more(static_cast<size_t>(end - p) + 16);
  char* const w0 = out_.tail();
  char* w = w0;
  const uint64_t dec_base = out_.end();
  for (;;) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpu::has_avx2 && end - p >= 32) {
      size_t k = copy_plain_avx2(p, end, w);
      p += k;
      w += k;
      if (end - p >= 32) goto special;  // it stopped at a special byte
    }
#endif
#if defined(__SSE2__)
    {
      const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'),
                    ctl = _mm_set1_epi8(0x1F);
      while (end - p >= 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(w), v);
        int mask = _mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                         _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl)));
        if (mask) {
          unsigned k = static_cast<unsigned>(__builtin_ctz(static_cast<unsigned>(mask)));
          p += k;
          w += k;
          goto special;
        }
        p += 16;
        w += 16;
      }
    }
#endif
    {
      const char* q = find_special(p, end);
      std::memcpy(w, p, static_cast<size_t>(q - p));
      w += q - p;
      p = q;
      if (p == end) break;
    }
  special:
    if (*p != '\\' || p + 1 >= end) break;
    char d = simple_escape(p[1]);
    if (!d) break;
    out_.record_escape(dec_base + static_cast<uint64_t>(w - w0),
                       raw_base + reinterpret_cast<uintptr_t>(p), 1, 2);
    *w++ = d;
    p += 2;
  }
  out_.advance(static_cast<size_t>(w - w0));
  return p;
}

void JsonTextExtractor::skip_common_structure(const char*& p, const char* end) {
  // Compact JSON is mostly `"key":"value","key":...`: take those transitions with direct
  // branches instead of a trip through the state switch for every byte.
  while (p < end) {
    char d = *p;
    if (state_ == State::colon && d == ':') {
      state_ = State::value;
    } else if (state_ == State::after_value && d == ',' && !frames_.empty() &&
               frames_.back().next_index >= 0) {
      state_ = frames_.back().is_array ? State::value : State::object_key;
    } else if ((state_ == State::value || state_ == State::object_key) && d == '"') {
      if (state_ == State::value && skip_next_ < skips_.size() && begin_skip_if_listed()) return;
      begin_string(state_ == State::object_key);
      state_ = State::string;
      ++p;
      ++pos_;
      return;
    } else {
      return;
    }
    ++p;
    ++pos_;
  }
}

// The byte after a backslash in a string. \u only starts the four hex digits.
bool JsonTextExtractor::escape_byte(char c) {
  char decoded;
  switch (c) {
    case '"':
      decoded = '"';
      break;
    case '\\':
      decoded = '\\';
      break;
    case '/':
      decoded = '/';
      break;
    case 'b':
      decoded = '\b';
      break;
    case 'f':
      decoded = '\f';
      break;
    case 'n':
      decoded = '\n';
      break;
    case 'r':
      decoded = '\r';
      break;
    case 't':
      decoded = '\t';
      break;
    case 'u':
      unicode_value_ = 0;
      unicode_digits_ = 0;
      state_ = State::unicode;
      return true;
    default:
      return fail("bad escape sequence");
  }
  flush_pending_high();
  emit_codepoint(static_cast<unsigned char>(decoded), escape_start_, 2);
  state_ = State::string;
  return true;
}

// One hex digit of a \uXXXX escape; the fourth emits the code point (a high surrogate waits
// for its low half; a lone half becomes U+FFFD).
bool JsonTextExtractor::unicode_byte(char c) {
  int h = hex_value(c);
  if (h < 0) return fail("bad \\u escape");
  unicode_value_ = unicode_value_ * 16 + static_cast<uint32_t>(h);
  if (++unicode_digits_ < 4) return true;
  uint32_t cp = unicode_value_;
  uint32_t raw_len = static_cast<uint32_t>(pos_ + 1 - escape_start_);
  if (pending_high_ && cp >= 0xDC00 && cp <= 0xDFFF) {
    uint32_t full = 0x10000 + ((pending_high_ - 0xD800) << 10) + (cp - 0xDC00);
    pending_high_ = 0;
    emit_codepoint(full, pending_high_start_,
                   static_cast<uint32_t>(pos_ + 1 - pending_high_start_));
  } else {
    flush_pending_high();
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      pending_high_ = cp;
      pending_high_start_ = escape_start_;
    } else {
      emit_codepoint(cp >= 0xDC00 && cp <= 0xDFFF ? 0xFFFD : cp, escape_start_, raw_len);
    }
  }
  state_ = State::string;
  return true;
}

// '{' or '[' at p: a new container. p moves past it, and past the ']' of an empty array.
bool JsonTextExtractor::open_container(const char*& p, const char* end) {
  const char c = *p;
  if (frames_.size() >= kMaxDepth) return fail("nesting deeper than 512 levels");
  begin_value_node();
  out_.append_separator("\n", pos_);
  // Anthropic puts documents under "source"; members may come in any order, so a "data"
  // string there is decoded from base64 unless a "type" before it says otherwise.
  frames_.push_back(
      {c == '[', 0,
       c == '{' && !frames_.empty() && !frames_.back().is_array ? key_kind_ : KeyKind::other,
       SourceType::unknown, Media::unknown, MediaKind::unknown, 0, -1});
  frame_nodes_.push_back(value_node_);
  state_ = c == '[' ? State::value : State::object_key_or_end;
  ++p;
  ++pos_;
  if (c == '[') {
    // An empty array closes right away; remember that a value may be absent here.
    while (p < end && is_ws(*p)) ++p, ++pos_;
    if (p < end && *p == ']') {
      close_container(']');
      ++p;
      ++pos_;
    } else if (p == end) {
      state_ = State::after_value;     // resolved on the next byte
      frames_.back().next_index = -1;  // marks "just opened"
    }
  }
  return true;
}

// A byte after a value: ',' or the end of the container. An array opened at the end of the
// previous chunk is resolved here: its first value's byte is then read again.
JsonTextExtractor::AfterValue JsonTextExtractor::after_value_byte(char c) {
  Frame* f = frames_.empty() ? nullptr : &frames_.back();
  if (f && f->is_array && f->next_index == -1) {
    f->next_index = 0;
    if (c == ']') {
      close_container(']');
      return AfterValue::consumed;
    }
    state_ = State::value;
    return AfterValue::read_again;
  }
  if (c == ',' && f) {
    state_ = f->is_array ? State::value : State::object_key;
  } else if (c == '}' || c == ']') {
    close_container(c);
    if (failed()) return AfterValue::failed;
  } else {
    fail("expected ',' or the end of the container");
    return AfterValue::failed;
  }
  return AfterValue::consumed;
}

bool JsonTextExtractor::feed(std::string_view chunk) {
  if (failed()) return false;
  const char* p = chunk.data();
  const char* end = p + chunk.size();
  // A byte order mark first (in any split across feeds) is not part of the JSON.
  while (bom_seen_ < kUtf8Bom.size() && pos_ == bom_seen_ && p < end) {
    if (*p != kUtf8Bom[bom_seen_]) {
      if (bom_seen_ > 0) return fail("incomplete byte order mark");
      break;
    }
    ++p;
    ++pos_;
    ++bom_seen_;
  }
  while (p < end) {
    char c = *p;
    switch (state_) {
      case State::string: {
        if (!pending_high_) {
          const char* start = p;
          p = copy_plain_run(p, end);
          pos_ += static_cast<uint64_t>(p - start);
          if (p == end) continue;
          c = *p;
        }
        const char* q = find_special(p, end);
        if (q > p) {
          string_bytes(p, static_cast<size_t>(q - p));
          pos_ += static_cast<uint64_t>(q - p);
          p = q;
          continue;
        }
        if (c == '"') {
          end_string();
          if (failed()) return false;
          ++p;
          ++pos_;
          skip_common_structure(p, end);
          continue;
        } else if (c == '\\') {
          escape_start_ = pos_;
          state_ = State::escape;
        } else {
          return fail("control character inside a string");
        }
        break;
      }
      case State::escape:
        if (!escape_byte(c)) return false;
        break;
      case State::unicode:
        if (!unicode_byte(c)) return false;
        break;
      case State::value: {
        if (is_ws(c)) break;
        if (skip_next_ < skips_.size() && begin_skip_if_listed()) continue;
        if (c == '"') {
          begin_string(false);
          state_ = State::string;
        } else if (c == '{' || c == '[') {
          if (!open_container(p, end)) return false;
          continue;
        } else if (c == 't' || c == 'f' || c == 'n') {
          literal_ = c == 't' ? "true" : c == 'f' ? "false" : "null";
          literal_pos_ = 1;
          if (!frames_.empty() && frames_.back().is_array) frames_.back().next_index++;
          state_ = State::literal;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          begin_value_node();
          out_.begin_segment(SegmentKind::json_number, pos_, value_node_);
          number_len_ = 0;
          state_ = State::number;
          continue;  // the number state consumes this byte
        } else {
          return fail(std::string("unexpected character '") + c + "'");
        }
        break;
      }
      case State::object_key_or_end:
      case State::object_key: {
        if (is_ws(c)) break;
        if (c == '"') {
          begin_string(true);
          state_ = State::string;
        } else if (c == '}' && state_ == State::object_key_or_end) {
          close_container('}');
        } else {
          return fail("expected an object member name");
        }
        break;
      }
      case State::colon:
        if (is_ws(c)) break;
        if (c != ':') return fail("expected ':'");
        state_ = State::value;
        break;
      case State::after_value:
        if (is_ws(c)) break;
        switch (after_value_byte(c)) {
          case AfterValue::failed:
            return false;
          case AfterValue::read_again:
            continue;
          case AfterValue::consumed:
            break;
        }
        break;
      case State::skipping: {
        uint64_t n = std::min<uint64_t>(skip_until_ - pos_, static_cast<uint64_t>(end - p));
        p += n;
        pos_ += n;
        if (pos_ == skip_until_) {
          out_.append_separator("\n", pos_);
          after_value_done();
          skip_common_structure(p, end);
        }
        continue;
      }
      case State::literal:
        if (c != literal_[literal_pos_]) return fail("bad literal");
        if (literal_[++literal_pos_] == '\0') after_value_done();
        break;
      case State::number: {
        bool part =
            (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
        if (part) {
          if (++number_len_ > kMaxNumberBytes) return fail("number too long");
          out_.append_identity(p, 1);
          break;
        }
        std::string_view num = out_.slice(out_.end() - number_len_, out_.end());
        if (!valid_number(num)) return fail("malformed number");
        out_.end_segment(pos_);
        out_.append_separator("\n", pos_);
        after_value_done();
        continue;  // this byte belongs to what follows the number
      }
      case State::done:
        if (is_ws(c)) break;
        return fail("data after the end of the JSON document");
    }
    if (failed()) return false;
    ++p;
    ++pos_;
  }
  // Before the caller may trim the decoded text: a document's text so far goes to its decoder.
  if ((decode_document_ || capture_.active) && state_ != State::done) decode_document_text();
  readers_->consume();
  return !failed();
}

bool JsonTextExtractor::finish() {
  if (failed()) return false;
  if (state_ == State::number) {
    std::string_view num = out_.slice(out_.end() - number_len_, out_.end());
    if (!valid_number(num)) return fail("malformed number");
    out_.end_segment(pos_);
    after_value_done();
  }
  if (state_ != State::done) return fail("truncated document");
  if (attachments_) {
    // Those that turned out to be no attachment (a zip, audio, text) leave the list.
    std::erase_if(*attachments_, [](const Attachment& a) { return a.kind == MediaKind::unknown; });
  }
  return true;
}

}  // namespace promptgate
