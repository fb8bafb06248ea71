// The non-template half of DirectTlsStream: the socket BIO, SSL setup, one attempt of each SSL
// call with its error mapping, and the deadline timer.
#include "proxy/direct_tls_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>

namespace promptgate::proxy {
namespace direct_tls_detail {
namespace {

Core* core_of(BIO* bio) {
  return static_cast<Core*>(BIO_get_data(bio));
}

// Serves the handshake prefix first, then reads the socket straight into OpenSSL's buffer.
int bio_read(BIO* bio, char* out, size_t size, size_t* read_bytes) {
  BIO_clear_retry_flags(bio);
  *read_bytes = 0;
  if (size == 0) return 0;
  Core& core = *core_of(bio);
  if (core.prefix_used < core.prefix.size()) {
    size_t n = std::min(size, core.prefix.size() - core.prefix_used);
    std::memcpy(out, core.prefix.data() + core.prefix_used, n);
    core.prefix_used += n;
    if (core.prefix_used == core.prefix.size()) {
      std::string().swap(core.prefix);  // an idle stream keeps no buffer
      core.prefix_used = 0;
    }
    *read_bytes = n;
    return 1;
  }
  // Read through the socket object, never a cached fd: once it is closed (timeout, drain) the
  // number may already belong to another connection.
  int fd = core.socket.native_handle();
  if (fd < 0) {
    core.last_errno = EBADF;
    return 0;
  }
  for (;;) {
    ssize_t n = ::recv(fd, out, size, 0);
    if (n > 0) {
      *read_bytes = static_cast<size_t>(n);
      return 1;
    }
    if (n == 0) {
      core.peer_eof = true;  // OpenSSL asks BIO_eof() to tell a truncation from an error
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_read(bio);
      return 0;
    }
    core.last_errno = errno;
    return 0;
  }
}

int bio_write(BIO* bio, const char* data, size_t size, size_t* written) {
  BIO_clear_retry_flags(bio);
  *written = 0;
  Core& core = *core_of(bio);
  int fd = core.socket.native_handle();
  if (fd < 0) {
    core.last_errno = EBADF;
    return 0;
  }
  for (;;) {
    // MSG_MORE on all but a write's last record: the kernel sends the body in full segments
    // and wakes the reader once, not once per 16 KB record.
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL | (core.more_records ? MSG_MORE : 0));
    if (n >= 0) {
      *written = static_cast<size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_write(bio);
      return 0;
    }
    core.last_errno = errno;
    return 0;
  }
}

long bio_ctrl(BIO* bio, int cmd, long /*num*/, void* ptr) {
  Core& core = *core_of(bio);
  switch (cmd) {
    case BIO_CTRL_FLUSH:  // writes go straight to the socket
      return 1;
    case BIO_CTRL_EOF:
      return core.peer_eof ? 1 : 0;
    case BIO_CTRL_PENDING:
      return static_cast<long>(core.prefix.size() - core.prefix_used);
    case BIO_C_GET_FD: {  // SSL_get_fd()
      int fd = core.socket.native_handle();
      if (ptr) *static_cast<int*>(ptr) = fd;
      return fd;
    }
    default:
      // BIO_CTRL_PUSH/POP (OpenSSL stacks a buffer BIO on top during handshakes), WPENDING,
      // the kernel-TLS queries (none here: OpenSSL keeps the records) and the rest: no.
      return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_data(bio, nullptr);
  return 1;
}

int bio_destroy(BIO* bio) {
  return bio ? 1 : 0;  // the Core owns the BIO's state
}

BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "promptgate direct socket");
    if (m) {
      BIO_meth_set_read_ex(m, bio_read);
      BIO_meth_set_write_ex(m, bio_write);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, bio_create);
      BIO_meth_set_destroy(m, bio_destroy);
    }
    return m;
  }();
  return method;
}

error_code from_err(unsigned long e) {
  if (ERR_SYSTEM_ERROR(e)) return error_code(ERR_GET_REASON(e), net::error::get_system_category());
  return error_code(static_cast<int>(e), net::error::get_ssl_category());
}

[[noreturn]] void throw_ssl(const char* what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  throw boost::system::system_error(e ? from_err(e) : error_code(net::error::no_memory), what);
}

}  // namespace

char* coalesce_scratch() {
  thread_local char scratch[kCoalesceLimit];
  return scratch;
}

Core::Core(tcp::socket&& s, SSL_CTX* ctx)
    : socket(std::move(s)), timer(socket.get_executor()), ssl(SSL_new(ctx)) {
  if (!ssl) throw_ssl("SSL_new");
  // Partial writes: write_some semantics, at most one record per call. Moving buffer: a retry
  // may come from a different address (see WriteAction). Released buffers: an idle stream
  // holds no record buffers. Read-ahead: one recv() fills OpenSSL's buffer with as many
  // records as have arrived instead of two recv() calls (header, body) per record.
  SSL_set_mode(ssl.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
  SSL_set_read_ahead(ssl.get(), 1);
  BIO_METHOD* method = socket_method();
  BIO* bio = method ? BIO_new(method) : nullptr;
  if (!bio) throw_ssl("BIO_new");
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl.get(), bio, bio);  // one reference, owned by the SSL
  error_code ec;
  socket.non_blocking(true, ec);
  if (ec) throw boost::system::system_error(ec, "DirectTlsStream: socket");
}

Core::~Core() = default;

void Core::start_handshake(net::ssl::stream_base::handshake_type type, std::string prefix_bytes) {
  prefix = std::move(prefix_bytes);
  prefix_used = 0;
  if (type == net::ssl::stream_base::client)
    SSL_set_connect_state(ssl.get());
  else
    SSL_set_accept_state(ssl.get());
}

namespace {

// SSL_get_error() reports SSL_ERROR_SSL whenever the thread's error queue is not empty, so an
// error left by unrelated code would fail a connection. We empty the queue after every failure
// we map; this guard catches the rest for the cost of a peek (ERR_clear_error() on every call,
// as asio does, walks all 16 queue slots).
void before_call(Core& core) {
  if (ERR_peek_error() != 0) ERR_clear_error();
  core.last_errno = 0;
}

Step after_failure(Core& core, int ret) {
  Step step;
  switch (SSL_get_error(core.ssl.get(), ret)) {
    case SSL_ERROR_WANT_READ:
      step.want = Want::read;
      return step;
    case SSL_ERROR_WANT_WRITE:
      step.want = Want::write;
      return step;
    case SSL_ERROR_ZERO_RETURN:  // close_notify
      step.ec = net::error::eof;
      break;
    case SSL_ERROR_SYSCALL: {
      unsigned long e = ERR_get_error();
      if (core.last_errno != 0)
        step.ec = error_code(core.last_errno, net::error::get_system_category());
      else if (e != 0)
        step.ec = from_err(e);
      else if (core.peer_eof)
        step.ec = net::ssl::error::stream_truncated;
      else
        step.ec = net::ssl::error::unspecified_system_error;
      break;
    }
    case SSL_ERROR_SSL: {
      unsigned long e = ERR_get_error();
      if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        step.ec = net::ssl::error::stream_truncated;  // TCP EOF without close_notify
      else if (e != 0)
        step.ec = from_err(e);
      else
        step.ec = net::ssl::error::unexpected_result;
      break;
    }
    default:
      step.ec = net::ssl::error::unexpected_result;
      break;
  }
  ERR_clear_error();
  return step;
}

}  // namespace

// Both loop over records: a 100 KB body is a handful of operations, not one per 16 KB record,
// and each operation's completion costs more than an SSL call. A failure after some bytes were
// moved is kept and reported by the next call, so the bytes before it are not lost.
Step Core::read(void* data, std::size_t size) {
  if (size == 0) return {};
  if (deferred.ec) return std::exchange(deferred, Step{});
  auto* out = static_cast<char*>(data);
  std::size_t total = 0;
  while (total < size) {
    before_call(*this);
    std::size_t n = 0;
    int ret = SSL_read_ex(ssl.get(), out + total, size - total, &n);
    if (ret == 1) {
      total += n;
      continue;
    }
    Step step = after_failure(*this, ret);
    if (total == 0) return step;
    if (step.want == Want::done) deferred = step;  // EOF or an error: next time
    break;
  }
  return {Want::done, {}, total};
}

Step Core::write(const void* data, std::size_t size) {
  if (size == 0) return {};
  if (deferred.ec) return std::exchange(deferred, Step{});
  auto* in = static_cast<const char*>(data);
  std::size_t total = 0;
  while (total < size) {
    before_call(*this);
    std::size_t n = 0;
    // With SSL_MODE_ENABLE_PARTIAL_WRITE each call writes one record of at most 16 KB, so more
    // than that left means another record follows; the last one goes without MSG_MORE.
    more_records = size - total > SSL3_RT_MAX_PLAIN_LENGTH;
    int ret = SSL_write_ex(ssl.get(), in + total, size - total, &n);
    more_records = false;
    if (ret == 1) {
      total += n;
      continue;
    }
    Step step = after_failure(*this, ret);
    if (total == 0) return step;
    // WANT_WRITE after some records: the caller comes back with exactly the rest, which is
    // the retry OpenSSL needs.
    if (step.want == Want::done) deferred = step;
    break;
  }
  return {Want::done, {}, total};
}

Step Core::handshake() {
  before_call(*this);
  int ret = SSL_do_handshake(ssl.get());
  if (ret == 1) return {};
  return after_failure(*this, ret);
}

Step Core::shutdown() {
  before_call(*this);
  int ret = SSL_shutdown(ssl.get());
  if (ret >= 0) return {};  // close_notify sent (0: the peer's not yet seen; we do not wait)
  Step step = after_failure(*this, ret);
  if (step.want == Want::read) step.want = Want::done;  // only the peer's close_notify is missing
  return step;
}

void Core::set_deadline(const std::shared_ptr<Core>& core, Clock::time_point at) {
  core->deadline = at;
  core->expired = false;
  // An armed timer that fires no later than the new deadline is left alone: when it fires it
  // sees the deadline moved and waits again. Only an earlier deadline re-arms it now.
  if (core->timer_armed && core->timer_expiry <= at) return;
  core->timer.expires_at(at);  // cancels the earlier wait, whose handler sees a stale generation
  core->timer_expiry = at;
  core->timer_armed = true;
  unsigned generation = ++core->timer_generation;
  core->timer.async_wait([weak = std::weak_ptr<Core>(core), generation](error_code ec) {
    std::shared_ptr<Core> c = weak.lock();
    if (!c || generation != c->timer_generation) return;
    c->timer_armed = false;
    if (ec || c->deadline == Clock::time_point::max()) return;
    if (Clock::now() < c->deadline) {
      set_deadline(c, c->deadline);
      return;
    }
    c->expired = true;
    if (c->op_pending) {  // its socket wait ends with operation_aborted and it sees `expired`
      error_code ignored;
      c->socket.close(ignored);
    }
  });
}

void Core::clear_deadline() {
  deadline = Clock::time_point::max();
  expired = false;
}

void Core::close() {
  error_code ignored;
  socket.close(ignored);
  ++timer_generation;
  timer.cancel();
  timer_armed = false;
  clear_deadline();
}

error_code Core::time_out() {
  error_code ignored;
  socket.close(ignored);
  return boost::beast::error::timeout;
}

}  // namespace direct_tls_detail

DirectTlsStream::DirectTlsStream(boost::beast::tcp_stream&& stream, SSL_CTX* ctx)
    : DirectTlsStream(stream.release_socket(), ctx) {}

DirectTlsStream::DirectTlsStream(tcp::socket&& socket, SSL_CTX* ctx)
    : core_(std::make_shared<Core>(std::move(socket), ctx)) {}

DirectTlsStream::~DirectTlsStream() = default;
DirectTlsStream::DirectTlsStream(DirectTlsStream&&) noexcept = default;
DirectTlsStream& DirectTlsStream::operator=(DirectTlsStream&&) noexcept = default;

void DirectTlsStream::expires_after(std::chrono::steady_clock::duration d) {
  auto now = std::chrono::steady_clock::now();
  expires_at(d >= std::chrono::steady_clock::time_point::max() - now
                 ? std::chrono::steady_clock::time_point::max()
                 : now + d);
}

void DirectTlsStream::expires_at(std::chrono::steady_clock::time_point t) {
  if (t == std::chrono::steady_clock::time_point::max())
    core_->clear_deadline();
  else
    Core::set_deadline(core_, t);
}

void DirectTlsStream::expires_never() {
  core_->clear_deadline();
}

void DirectTlsStream::close() {
  core_->close();
}

void DirectTlsStream::cancel() {
  error_code ignored;
  core_->socket.cancel(ignored);
}

}  // namespace promptgate::proxy
