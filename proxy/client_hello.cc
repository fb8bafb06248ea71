// The ClientHello server-name peek; see client_hello.h. Formats: RFC 8446 5.1 (records), 4.1.2
// (ClientHello), RFC 6066 3 (server_name).
#include "proxy/client_hello.h"

#include <algorithm>
#include <cstdint>
#include <optional>

namespace promptgate::proxy {
namespace {

constexpr uint8_t kHandshakeRecord = 22;
constexpr uint8_t kClientHello = 1;
constexpr uint16_t kServerNameExtension = 0;
constexpr uint8_t kHostName = 0;
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecordPayload = (1 << 14) + 256;  // 2^14, plus what TLS 1.2 allowed over it

// A bounds-checked reader over a byte range: every read fails (nullopt) past the end.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  size_t left() const { return b_.size() - at_; }
  std::optional<uint32_t> number(size_t bytes) {
    if (left() < bytes) return std::nullopt;
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = v << 8 | static_cast<uint8_t>(b_[at_ + i]);
    at_ += bytes;
    return v;
  }
  std::optional<std::string_view> bytes(size_t n) {
    if (left() < n) return std::nullopt;
    std::string_view out = b_.substr(at_, n);
    at_ += n;
    return out;
  }
  // A vector with a length prefix of `length_bytes`.
  std::optional<std::string_view> vector(size_t length_bytes) {
    auto n = number(length_bytes);
    return n ? bytes(*n) : std::nullopt;
  }

 private:
  std::string_view b_;
  size_t at_ = 0;
};

using Peek = ClientHelloPeek;

Peek status(Peek::Status s) {
  return Peek{s, {}};
}

// The server_name extension's data: the first host_name entry, if valid.
std::optional<std::string> server_name_of(std::string_view data) {
  Reader r(data);
  auto list = r.vector(2);
  if (!list || r.left() != 0 || list->empty()) return std::nullopt;
  Reader entries(*list);
  while (entries.left()) {
    auto type = entries.number(1);
    auto name = entries.vector(2);
    if (!type || !name) return std::nullopt;
    if (*type != kHostName) continue;
    std::string lower(*name);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return valid_server_name(lower) ? lower : std::string();
  }
  return std::string();
}

// A whole ClientHello handshake body (after its 4-byte header).
Peek parse_client_hello(std::string_view body) {
  Reader r(body);
  auto version = r.number(2);
  auto random = r.bytes(32);
  auto session_id = r.vector(1);
  auto ciphers = r.vector(2);
  auto compression = r.vector(1);
  if (!version || !random || !session_id || session_id->size() > 32 || !ciphers ||
      ciphers->empty() || ciphers->size() % 2 || !compression || compression->empty())
    return status(Peek::malformed);
  if (r.left() == 0) return status(Peek::complete);  // no extensions: no SNI
  auto extensions = r.vector(2);
  if (!extensions || r.left() != 0) return status(Peek::malformed);
  Reader ext(*extensions);
  Peek out = status(Peek::complete);
  bool seen = false;
  while (ext.left()) {
    auto type = ext.number(2);
    auto data = ext.vector(2);
    if (!type || !data) return status(Peek::malformed);
    if (*type != kServerNameExtension) continue;
    // Two server_name extensions: servers and this proxy could each read another one.
    if (seen) return status(Peek::malformed);
    seen = true;
    auto name = server_name_of(*data);
    if (!name) return status(Peek::malformed);
    out.server_name = std::move(*name);
  }
  return out;
}

}  // namespace

bool valid_server_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  std::string_view last;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
        return false;
    last = label;
    start = dot + 1;
  }
  return !std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

ClientHelloPeek peek_client_hello(std::string_view bytes) {
  // Join the payloads of consecutive handshake records until the ClientHello is whole.
  std::string message;
  size_t at = 0;
  // Once the handshake header is in: the whole message's size, or why it is refused.
  auto message_size = [&]() -> std::optional<size_t> {
    if (message.size() < 4) return std::nullopt;
    Reader h(message);
    const uint32_t type = *h.number(1), body = *h.number(3);
    if (type != kClientHello || body > kMaxClientHelloBytes) return 0;
    return 4 + size_t{body};
  };
  while (true) {
    // A record header starts with the handshake type and major version 3: what does not is
    // refused as soon as those bytes are in.
    const std::string_view rest = bytes.substr(at);
    const Peek::Status wrong = at == 0 ? Peek::not_tls : Peek::malformed;
    if (!rest.empty() && static_cast<uint8_t>(rest[0]) != kHandshakeRecord) return status(wrong);
    if (rest.size() >= 2 && rest[1] != 3) return status(wrong);
    if (rest.size() < kRecordHeader) return status(Peek::need_more);
    Reader header(rest.substr(0, kRecordHeader));
    header.bytes(3);
    const uint32_t length = *header.number(2);
    if (length == 0 || length > kMaxRecordPayload) return status(Peek::malformed);
    // Take what there is of the record: a partial one may already show a message too large.
    message.append(rest.substr(kRecordHeader, length));
    auto size = message_size();
    if (size && *size == 0) return status(Peek::malformed);
    if (rest.size() - kRecordHeader < length) return status(Peek::need_more);
    at += kRecordHeader + length;
    if (size && message.size() >= *size) {
      // Handshake bytes after the ClientHello, before the server has answered: a broken client.
      if (message.size() > *size) return status(Peek::malformed);
      return parse_client_hello(std::string_view(message).substr(4));
    }
  }
}

}  // namespace promptgate::proxy
