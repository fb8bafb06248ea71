// A deadline for reading from a client that leaves the socket open when it passes, so the
// proxy can still answer 408. beast::tcp_stream::expires_after closes the socket at its
// deadline, and the documented 408 could never be written. Internal (includes Asio).
//
//   ReadDeadline deadline(beast::get_lowest_layer(client), ms(cfg.body_timeout_ms));
//   co_await http::async_read(client, buf, parser, tok(ec));
//   deadline.classify(ec);   // operation_aborted by the deadline becomes beast::error::timeout
//
// One io_context per thread runs a connection (server.cc), so the timer's handler and the read
// never run at once. The handler only cancels while the guard is armed: one already queued when
// the guard goes away must not cancel a later operation on the same socket.
#pragma once

#include <memory>

#include "proxy/asio_aliases.h"

namespace promptgate::proxy {

// Stream: beast::tcp_stream or DirectTlsStream (what beast::get_lowest_layer gives for either).
template <class Stream>
class ReadDeadline {
 public:
  ReadDeadline(Stream& stream, std::chrono::milliseconds after)
      : timer_(stream.get_executor()), state_(std::make_shared<State>()) {
    stream.expires_never();
    timer_.expires_after(after);
    timer_.async_wait([&stream, state = state_](const beast::error_code& ec) {
      if (ec || !state->armed) return;
      state->expired = true;
      beast::error_code ignored;
      stream.socket().cancel(ignored);
    });
  }
  ~ReadDeadline() {
    state_->armed = false;
    timer_.cancel();
  }
  ReadDeadline(const ReadDeadline&) = delete;
  ReadDeadline& operator=(const ReadDeadline&) = delete;

  bool expired() const { return state_->expired; }
  // A read the deadline cut short reports operation_aborted: call it what it is.
  void classify(beast::error_code& ec) const {
    if (state_->expired && (!ec || ec == net::error::operation_aborted)) ec = beast::error::timeout;
  }

 private:
  struct State {
    bool armed = true;
    bool expired = false;
  };
  net::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace promptgate::proxy
