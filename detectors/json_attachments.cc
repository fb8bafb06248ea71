// The JSON decoder's attachment collection (see attachments.h and json_text.h): which strings
// hold an attachment, data URL headers, the caps, and deciding each one's kind.
#include <algorithm>

#include "detectors/attachments.h"
#include "detectors/json_text.h"

namespace promptgate {
namespace {

constexpr size_t kMaxDataUrlHeader = 256;
constexpr size_t kSniffBytes = 1024;  // kept of an attachment over a cap, to tell its kind

std::string mib(uint64_t bytes) {
  return bytes % (1u << 20) == 0 ? std::to_string(bytes >> 20) + " MiB"
                                 : std::to_string(bytes) + " bytes";
}

// A data URL type worth decoding: one a reader handles, or one that says nothing.
bool data_url_candidate(std::string_view media_type) {
  if (media_kind_of_type(media_type) != MediaKind::unknown) return true;
  std::string m(media_type.substr(0, 40));
  for (char& c : m)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  return m.empty() || m == "application/octet-stream" || m == "binary/octet-stream" ||
         m == "application/zip";
}

}  // namespace

void JsonTextExtractor::collect_attachments(const AttachmentLimits& limits,
                                            std::vector<Attachment>* out) {
  limits_ = limits;
  attachments_ = limits.collect ? out : nullptr;
}

// A value string of an object: is it a document's base64 text (decode_document_: scanned as a
// text document too), an attachment (capture_), both, or neither?
void JsonTextExtractor::begin_document_string() {
  const Frame& f = frames_.back();
  const Frame* holder = &f;  // the object whose media_type / format says what it is
  bool document = false, data_url = false;
  switch (key_kind_) {
    case KeyKind::data:  // Anthropic source, Gemini inlineData
      document = f.type == SourceType::base64 ||
                 (f.type == SourceType::unknown &&
                  (f.owner == KeyKind::source || f.owner == KeyKind::inline_data));
      break;
    case KeyKind::bytes:  // Bedrock: {"document":{"format":"pdf","source":{"bytes":"..."}}}
      document = f.owner == KeyKind::source && f.type == SourceType::unknown;
      if (frames_.size() >= 2 && !frames_[frames_.size() - 2].is_array)
        holder = &frames_[frames_.size() - 2];
      break;
    case KeyKind::file_data:  // OpenAI: data URLs
    case KeyKind::image_url:
      data_url = true;
      break;
    case KeyKind::url:
      data_url = f.owner == KeyKind::image_url;
      break;
    default:
      return;
  }
  if (document) decode_document_ = holder->media == Media::unknown || holder->media == Media::text;
  if (!attachments_ || !(data_url || (document && holder->media != Media::opaque))) return;
  capture_.active = true;
  capture_.data_url = data_url;
  capture_.header_done = false;
  capture_.over = false;
  capture_.header.clear();
  capture_.declared = data_url ? MediaKind::unknown : holder->declared;
  uint64_t request_left = limits_.max_request_bytes > attachment_bytes_
                              ? limits_.max_request_bytes - attachment_bytes_
                              : 0;
  capture_.too_many = attachments_listed_ >= limits_.max_attachments;
  capture_.room = capture_.too_many ? 0 : std::min(limits_.max_attachment_bytes, request_left);
}

// An attachment over its cap keeps only its first bytes (to tell its kind); a text document is
// still decoded whole, for its segment.
void JsonTextExtractor::check_capture_room() {
  if (!capture_.active || capture_.over || b64_doc_.size() <= capture_.room) return;
  capture_.over = true;
  if (!decode_document_) b64_doc_.resize(std::min(b64_doc_.size(), kSniffBytes));
}

std::string JsonTextExtractor::over_cap_reason(uint64_t decoded_size) const {
  if (capture_.too_many)
    return "more than " + std::to_string(limits_.max_attachments) +
           " attachments in one request (max_attachments)";
  if (decoded_size > limits_.max_attachment_bytes)
    return "larger than the " + mib(limits_.max_attachment_bytes) +
           " limit per attachment (max_attachment_bytes)";
  return "the request's attachments are over the " + mib(limits_.max_request_bytes) +
         " limit (max_request_bytes)";
}

// Reads a data URL's header ("data:application/pdf;base64,") from decoded offset `from` on.
// True once the base64 text starts (at the updated `from`); false while the header is still
// incomplete, or when the string is no data URL worth decoding (the capture ends).
bool JsonTextExtractor::read_data_url_header(uint64_t& from) {
  std::string_view s = out_.slice(from, out_.end());
  size_t comma = s.find(',');
  size_t take = std::min(comma == std::string_view::npos ? s.size() : comma,
                         kMaxDataUrlHeader - capture_.header.size());
  capture_.header.append(s.substr(0, take));
  std::string_view h = capture_.header;
  static constexpr std::string_view kScheme = "data:";
  for (size_t i = 0; i < std::min(h.size(), kScheme.size()); ++i) {
    char c = h[i] >= 'A' && h[i] <= 'Z' ? static_cast<char>(h[i] + ('a' - 'A')) : h[i];
    if (c != kScheme[i]) {
      capture_.active = false;
      return false;
    }
  }
  if (comma == std::string_view::npos || comma > take) {
    if (capture_.header.size() >= kMaxDataUrlHeader) capture_.active = false;
    return false;
  }
  std::string_view type;
  bool base64 = false;
  if (!attachment_detail::parse_data_url_header(h, type, base64) || !base64 ||
      !data_url_candidate(type)) {
    capture_.active = false;  // percent-encoded, or text: read as text elsewhere
    return false;
  }
  capture_.declared = media_kind_of_type(type);
  capture_.header_done = true;
  from += comma + 1;
  capture_.encoded_begin = from;
  return true;
}

// The string ended: list what was decoded. A data URL said its type; an object's type may be
// said after its data, so its kind is decided when the object closes.
void JsonTextExtractor::end_capture() {
  capture_.active = false;
  if (capture_.data_url && !capture_.header_done) return;
  Attachment a;
  a.raw_begin = string_start_;
  a.raw_end = pos_;
  a.kind = capture_.declared;
  uint64_t header = capture_.data_url ? capture_.header.size() + 1 : 0;
  uint64_t encoded = pos_ - string_start_ > header ? pos_ - string_start_ - header : 0;
  a.decoded_size = capture_.over ? encoded / 4 * 3 : b64_doc_.size();
  a.unreadable = capture_.over;
  if (capture_.over) a.reason = over_cap_reason(a.decoded_size);

  a.bytes = std::move(b64_doc_);
  b64_doc_.clear();
  a.location = out_.location(capture_.data_url ? value_node_ : frame_nodes_.back());
  attachment_bytes_ += a.bytes.size();
  ++attachments_listed_;
  attachments_->push_back(std::move(a));
  size_t index = attachments_->size() - 1;
  if (capture_.data_url) {
    resolve_attachment(index);
    return;
  }
  Frame& f = frames_.back();
  if (f.attachment >= 0) resolve_attachment(static_cast<size_t>(f.attachment));
  f.attachment = static_cast<int32_t>(index);
}

// An object holding an attachment closes: its media_type / format is known now. Bedrock says
// the format beside "source", one level up, so an attachment still without a kind waits there.
void JsonTextExtractor::close_object_attachment() {
  Frame& f = frames_.back();
  auto index = static_cast<size_t>(f.attachment);
  f.attachment = -1;
  Attachment& a = (*attachments_)[index];
  if (a.kind == MediaKind::unknown) a.kind = f.declared;
  size_t n = frames_.size();
  if (a.kind == MediaKind::unknown && f.owner == KeyKind::source && n >= 2 &&
      !frames_[n - 2].is_array) {
    Frame& parent = frames_[n - 2];
    if (parent.attachment >= 0) resolve_attachment(static_cast<size_t>(parent.attachment));
    parent.attachment = static_cast<int32_t>(index);
    return;
  }
  resolve_attachment(index);
}

// The bytes decide the kind, the declared type breaks ties; what is no attachment a reader
// handles is dropped (and leaves the list at finish()).
void JsonTextExtractor::resolve_attachment(size_t index) {
  Attachment& a = (*attachments_)[index];
  MediaKind kind =
      resolve_media(sniff_media(std::string_view(a.bytes).substr(0, kSniffBytes)), a.kind);
  a.kind = kind;
  if (kind == MediaKind::unknown || a.unreadable) {
    attachment_bytes_ -= std::min<uint64_t>(attachment_bytes_, a.bytes.size());
    std::string().swap(a.bytes);
    if (kind == MediaKind::unknown) {
      a.unreadable = false;
      --attachments_listed_;
    }
    return;
  }
  attachment_detail::sha256(a.bytes, a.sha256);
}

}  // namespace promptgate
