// DirectTlsStream: a TLS stream over a TCP socket where OpenSSL reads and writes the socket itself
// (a small custom BIO doing non-blocking recv/send), driven by Asio's reactor. A drop-in for how
// the proxy used `beast::ssl_stream<beast::tcp_stream>`, for both the intercepted (server-mode)
// and the upstream (client-mode) side.
//
//   DirectTlsStream tls(std::move(tcp_stream_or_socket), ssl_ctx);  // SSL_CTX*, up-ref'd by SSL
//   SSL_set_tlsext_host_name(tls.native_handle(), host);             // client: SNI, SSL_set1_host
//   tls.expires_after(10s);                                          // like beast::tcp_stream
//   co_await tls.async_handshake(ssl::stream_base::client, tok(ec));
//   co_await http::async_write(tls, req, tok(ec));                    // any Beast algorithm
//   co_await tls.async_shutdown(tok(ec));                             // sends close_notify only
//
// Why not asio::ssl::stream: its BIO-pair design copies every byte twice more than needed (kernel
// -> stream input buffer -> BIO pair -> OpenSSL record buffer) and each stream holds about 65 KB
// even when idle (two 17 KB vectors plus the BIO pair's two 17 KB buffers). Here bytes go
// kernel -> OpenSSL record buffer -> caller, and an idle stream holds only the SSL object (its
// record buffers are released with SSL_MODE_RELEASE_BUFFERS) plus one small heap block with the
// socket and the deadline timer; sizeof(DirectTlsStream) is one shared_ptr.
//
// There is no next_layer(): beast::get_lowest_layer(tls) is the stream itself, which therefore
// offers tcp_stream's timeout interface. expires_after(d) sets a deadline for the operations
// pending when it passes (and for ones started after it passed); such an operation completes
// with beast::error::timeout and the socket is closed. One timer per stream, only re-armed when
// it fires before the (since moved) deadline, so expires_after costs a clock read, not a timer
// re-arm.
//
// Completion errors follow asio::ssl::stream: the peer's close_notify -> net::error::eof; TCP EOF
// without close_notify -> net::ssl::error::stream_truncated; OpenSSL failures -> an error in
// net::error::get_ssl_category() carrying ERR_get_error() (message e.g. "certificate verify
// failed"); socket failures -> the system error (connection_reset, broken_pipe, bad_descriptor
// once the socket was closed, operation_aborted when it is closed or cancelled while waiting).
//
// Contract: every call on the stream's executor (one thread or strand); at most one operation
// outstanding at a time (read, write, handshake or shutdown; asserted in debug builds); the stream
// outlives its operations. A moved-from stream may only be destroyed or assigned to.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "proxy/openssl_handles.h"

namespace promptgate::proxy {

namespace direct_tls_detail {

namespace net = boost::asio;
using error_code = boost::system::error_code;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// What one attempt of an SSL call asks for next.
enum class Want { done, read, write };
struct Step {
  Want want = Want::done;
  error_code ec;
  std::size_t bytes = 0;
};

// Everything a stream owns, on the heap so the BIO and the timer's handler have a stable address
// and the stream object itself stays one pointer wide.
struct Core {
  Core(tcp::socket&& s, SSL_CTX* ctx);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // One attempt each; never blocks (the socket is non-blocking).
  Step read(void* data, std::size_t size);
  Step write(const void* data, std::size_t size);
  Step handshake();
  Step shutdown();
  void start_handshake(net::ssl::stream_base::handshake_type type, std::string prefix_bytes);

  // The deadline; the timer's handler holds only a weak_ptr, so a destroyed stream's wait ends
  // with nothing to touch.
  static void set_deadline(const std::shared_ptr<Core>& core, Clock::time_point deadline);
  void clear_deadline();
  void close();
  // A timed-out operation closes the socket and reports beast::error::timeout.
  error_code time_out();

  tcp::socket socket;
  net::steady_timer timer;
  SslPtr ssl;
  std::string prefix;  // bytes the caller read before the handshake, served before recv()
  std::size_t prefix_used = 0;
  Clock::time_point deadline = Clock::time_point::max();
  Clock::time_point timer_expiry = Clock::time_point::max();  // meaningful while timer_armed
  unsigned timer_generation = 0;
  int last_errno = 0;     // set by the BIO on a socket error
  bool peer_eof = false;  // recv() returned 0 (answers BIO_CTRL_EOF)
  // The record being sent is surely followed by another of the same write (send with MSG_MORE).
  bool more_records = false;
  // A failure met after some bytes moved, reported by the next read or write (either: a broken
  // TLS connection is broken both ways, and one operation runs at a time).
  Step deferred;
  bool timer_armed = false;
  bool expired = false;     // the deadline passed; the next or pending operation times out
  bool op_pending = false;  // one operation at a time; the timer closes the socket only then
};

// Several small buffers (a Beast header, chunk framing) are copied into one block so one TLS
// record carries them; the first non-empty buffer is written as it is when it is alone or worth
// a record by itself.
constexpr std::size_t kCoalesceLimit = 16 * 1024;
char* coalesce_scratch();  // thread-local, kCoalesceLimit bytes; valid until the next suspension

template <class ConstBufferSequence>
net::const_buffer pick_write_buffer(const ConstBufferSequence& buffers) {
  auto it = net::buffer_sequence_begin(buffers);
  auto end = net::buffer_sequence_end(buffers);
  while (it != end && net::const_buffer(*it).size() == 0) ++it;
  if (it == end) return {};
  net::const_buffer first(*it);
  auto next = it;
  ++next;
  while (next != end && net::const_buffer(*next).size() == 0) ++next;
  if (next == end || first.size() >= kCoalesceLimit) return first;
  char* scratch = coalesce_scratch();
  std::size_t n = net::buffer_copy(net::buffer(scratch, kCoalesceLimit), buffers);
  return {scratch, n};
}

template <class MutableBufferSequence>
net::mutable_buffer first_read_buffer(const MutableBufferSequence& buffers) {
  auto end = net::buffer_sequence_end(buffers);
  for (auto it = net::buffer_sequence_begin(buffers); it != end; ++it)
    if (net::mutable_buffer b(*it); b.size() != 0) return b;
  return {};
}

// Runs one SSL call until it completes: tries it at once, waits for the socket when OpenSSL
// wants I/O, retries. An operation that completes without waiting posts its completion, as
// Asio requires of initiating functions.
template <class Action, bool WithBytes>
struct IoOp {
  IoOp(Core& c, Action a) : core(c), action(std::move(a)) {}
  Core& core;
  Action action;
  enum class State { start, waiting, posted } state = State::start;
  error_code result_ec;
  std::size_t result_bytes = 0;

  template <class Self>
  void operator()(Self& self, error_code ec = {}) {
    switch (state) {
      case State::start:
        assert(!core.op_pending && "DirectTlsStream: one operation at a time");
        core.op_pending = true;
        if (core.expired) return finish(self, core.time_out(), 0, true);
        action.start(core);
        break;
      case State::waiting:
        if (core.expired) return finish(self, core.time_out(), 0, false);
        if (ec) return finish(self, ec, 0, false);
        break;
      case State::posted:
        return complete(self, result_ec, result_bytes);
    }
    const bool first_attempt = state == State::start;
    Step step = action(core);
    switch (step.want) {
      case Want::read:
        state = State::waiting;
        core.socket.async_wait(tcp::socket::wait_read, std::move(self));
        return;
      case Want::write:
        state = State::waiting;
        core.socket.async_wait(tcp::socket::wait_write, std::move(self));
        return;
      case Want::done:
        return finish(self, step.ec, step.bytes, first_attempt);
    }
  }

  template <class Self>
  void finish(Self& self, error_code ec, std::size_t bytes, bool immediate) {
    core.op_pending = false;
    if (!immediate) return complete(self, ec, bytes);
    result_ec = ec;
    result_bytes = bytes;
    state = State::posted;
    net::post(std::move(self));
  }

  template <class Self>
  void complete(Self& self, error_code ec, std::size_t bytes) {
    if constexpr (WithBytes)
      self.complete(ec, bytes);
    else
      self.complete(ec);
  }
};

// Actions: start() runs once when the operation starts, operator() is one attempt.
template <class MutableBufferSequence>
struct ReadAction {
  explicit ReadAction(const MutableBufferSequence& b) : buffers(b) {}
  MutableBufferSequence buffers;
  net::mutable_buffer buffer;
  void start(Core&) { buffer = first_read_buffer(buffers); }
  Step operator()(Core& core) const { return core.read(buffer.data(), buffer.size()); }
};

// A coalesced block lives in the thread's scratch for the first attempt (the common case
// completes there); when OpenSSL wants the socket writable it moves into a block of the
// operation's own, since OpenSSL's retry must be handed the same bytes.
template <class ConstBufferSequence>
struct WriteAction {
  explicit WriteAction(const ConstBufferSequence& b) : buffers(b) {}
  ConstBufferSequence buffers;
  net::const_buffer buffer;
  std::unique_ptr<char[]> owned;
  void start(Core&) { buffer = pick_write_buffer(buffers); }
  Step operator()(Core& core) {
    Step step = core.write(buffer.data(), buffer.size());
    if (step.want != Want::done && !owned && buffer.data() == coalesce_scratch()) {
      owned.reset(new char[buffer.size()]);
      std::memcpy(owned.get(), buffer.data(), buffer.size());
      buffer = net::const_buffer(owned.get(), buffer.size());
    }
    return step;
  }
};

struct HandshakeAction {
  HandshakeAction(net::ssl::stream_base::handshake_type t, std::string p)
      : type(t), prefix(std::move(p)) {}
  net::ssl::stream_base::handshake_type type;
  std::string prefix;
  std::size_t prefix_size = 0;
  void start(Core& core) {
    prefix_size = prefix.size();
    core.start_handshake(type, std::move(prefix));
  }
  Step operator()(Core& core) const {
    Step step = core.handshake();
    step.bytes = prefix_size;  // all of it sits in the BIO, served before the socket
    return step;
  }
};

struct ShutdownAction {
  void start(Core&) {}
  Step operator()(Core& core) const { return core.shutdown(); }
};

}  // namespace direct_tls_detail

class DirectTlsStream {
  using Core = direct_tls_detail::Core;
  using error_code = boost::system::error_code;
  using tcp = boost::asio::ip::tcp;

 public:
  using executor_type = tcp::socket::executor_type;

  // Takes the socket (the tcp_stream's own timer and deadline are dropped). Throws
  // boost::system::system_error when OpenSSL cannot make the SSL object.
  DirectTlsStream(boost::beast::tcp_stream&& stream, SSL_CTX* ctx);
  DirectTlsStream(tcp::socket&& socket, SSL_CTX* ctx);
  ~DirectTlsStream();
  DirectTlsStream(DirectTlsStream&&) noexcept;
  DirectTlsStream& operator=(DirectTlsStream&&) noexcept;
  DirectTlsStream(const DirectTlsStream&) = delete;
  DirectTlsStream& operator=(const DirectTlsStream&) = delete;

  SSL* native_handle() { return core_->ssl.get(); }
  tcp::socket& socket() { return core_->socket; }
  executor_type get_executor() { return core_->socket.get_executor(); }

  // beast::tcp_stream's timeout interface (see the top of this file).
  void expires_after(std::chrono::steady_clock::duration d);
  void expires_at(std::chrono::steady_clock::time_point t);
  void expires_never();
  void close();   // closes the socket (pending operations end with operation_aborted)
  void cancel();  // cancels the pending wait (operation_aborted); the connection stays usable

  // void(error_code)
  template <class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
    using namespace direct_tls_detail;
    return boost::asio::async_compose<Token, void(error_code)>(
        IoOp<HandshakeAction, false>(*core_, HandshakeAction(type, {})), token, core_->socket);
  }

  // void(error_code, std::size_t bytes_used): `already_read` are bytes the caller read from the
  // socket before (e.g. a ClientHello that came with the CONNECT header); they are all used.
  template <class ConstBufferSequence, class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type,
                       const ConstBufferSequence& already_read, Token&& token) {
    using namespace direct_tls_detail;
    std::string prefix(net::buffer_size(already_read), '\0');
    net::buffer_copy(net::buffer(prefix), already_read);
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        IoOp<HandshakeAction, true>(*core_, HandshakeAction(type, std::move(prefix))), token,
        core_->socket);
  }

  // void(error_code, std::size_t): fills the first non-empty buffer with every record that has
  // arrived (at least one byte; waits only when nothing has).
  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    using namespace direct_tls_detail;
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        IoOp<ReadAction<MutableBufferSequence>, true>(*core_, ReadAction(buffers)), token,
        core_->socket);
  }

  // void(error_code, std::size_t): writes the first buffer, record by record, until done or the
  // socket is full; several small buffers are first coalesced into one (up to 16 KiB).
  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    using namespace direct_tls_detail;
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        IoOp<WriteAction<ConstBufferSequence>, true>(*core_, WriteAction(buffers)), token,
        core_->socket);
  }

  // void(error_code): sends close_notify and completes; does not wait for the peer's.
  template <class Token>
  auto async_shutdown(Token&& token) {
    using namespace direct_tls_detail;
    return boost::asio::async_compose<Token, void(error_code)>(
        IoOp<ShutdownAction, false>(*core_, ShutdownAction()), token, core_->socket);
  }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace promptgate::proxy
