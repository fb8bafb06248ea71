// Reads the server name (SNI) from the start of a TLS connection without consuming it: the
// proxy peeks at what a client sent after a CONNECT to an IP address, decides by the name, and
// then hands the same bytes to the TLS handshake or the tunnel. Boost-free and allocation-light;
// it only looks at bytes, never changes them.
//
//   ClientHelloPeek p = peek_client_hello(std::string_view(bytes, n));
//   if (p.status == ClientHelloPeek::need_more) ... read more, call again with all bytes ...
//   else if (!p.server_name.empty()) ... decide by p.server_name ...
//
// The ClientHello may span several TLS records (a large key share, or a client that fragments):
// consecutive handshake records are joined until the message is complete. The server name is
// the first host_name of the server_name extension, lower-cased, when it is a valid DNS name (RFC
// 6066 forbids IP literals and trailing dots there); otherwise there is none.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace promptgate::proxy {

struct ClientHelloPeek {
  enum Status {
    need_more,  // a valid start of a ClientHello: more bytes are needed to finish it
    complete,   // a whole ClientHello was read; server_name may still be empty (no SNI)
    not_tls,    // the bytes do not start a TLS handshake
    malformed,  // a TLS handshake record, but not a well-formed ClientHello (or too large)
  };
  Status status = need_more;
  std::string server_name;  // empty: none (or not valid as a host name)
};

// The largest ClientHello message accepted (its handshake body); larger ones are `malformed`.
// Real ones are under 2 KiB, ~8 KiB with several post-quantum key shares.
inline constexpr size_t kMaxClientHelloBytes = 64 * 1024;
// What a caller may need to buffer to see a whole ClientHello of that size, record headers
// included (a record carries at least one byte, but real fragments carry far more).
inline constexpr size_t kMaxClientHelloBufferBytes = kMaxClientHelloBytes + 16 * 1024;

ClientHelloPeek peek_client_hello(std::string_view bytes);

// True when `name` is a valid DNS host name for SNI: labels of letters, digits and hyphens (1-63
// bytes, not starting or ending with a hyphen), 253 bytes at most, no trailing dot, and not an
// IPv4 literal (the last label is not all digits).
bool valid_server_name(std::string_view name);

}  // namespace promptgate::proxy
