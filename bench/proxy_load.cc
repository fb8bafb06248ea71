// proxy_load: the load client and the fast local TLS upstream of the proxy benchmark
// (bench/proxy_bench.sh, bench/gateway_scale_bench.sh). One binary, five modes:
//
//   proxy_load serve --listen 127.0.0.1:443 --cert C --key K
//       HTTP/1.1 keep-alive TLS server: reads each request body, answers a small JSON 200.
//   proxy_load load --ca CA [--proxy 127.0.0.1:8080] [--target 127.0.0.1:443]
//                   --body-bytes N --concurrency C [--duration S | --requests N] [--pid PID]
//       C keep-alive connections (through the proxy with CONNECT, or straight to --target),
//       TLS with SNI --host, POSTing one Claude-Code-like /v1/messages body of ~N bytes over and
//       over. Prints requests/s, p50/p99 latency and, with --pid, that process's CPU time per
//       request over the measured window (/proc/PID/stat utime + stime).
//   proxy_load idle --ca CA --proxy ADDR --pid PID [--idle 200] [--idle-requests 1]
//       Opens that many intercepted connections (handshake, one 4 KB request or as many as
//       --idle-requests says, then idle) and prints the proxy's VmRSS growth per connection.
//   proxy_load scale --ca CA --proxy ADDR --pid PID --connections N [--open-parallel 100]
//                    [--body-bytes N] [--warmup S] [--duration S] [--rate R]
//       Many connections at once. Opens N intercepted keep-alive connections, at most
//       --open-parallel handshakes in flight (each sends one request, then idles), and reads the
//       proxy's VmRSS before and after. Then drives requests over all N as fast as answers come
//       back (closed loop: requests/s, p50/p99, CPU per request); then, with --rate, paced at R
//       requests/s in total, each connection at a fixed period N/R with a random phase (latency
//       below saturation).
//   proxy_load body --body-bytes N
//       Writes the request body to stdout (to check it is clean: `promptgate scan -`).
//
// Every connection open (TCP, CONNECT, TLS) gives up after --connect-timeout seconds (30), and
// every request after --request-timeout (120), so a stalled proxy shows up as errors, not a hang.
// The soft open-file limit is raised to the hard one at start.
//
// Output of load, idle and scale is one line of key=value pairs for the script to parse.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/corpus.h"

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

constexpr const char* kUsage =
    R"(usage: proxy_load serve --listen ADDR:PORT --cert FILE --key FILE [--threads N]
       proxy_load load --ca FILE [--proxy ADDR:PORT] [--target ADDR:PORT] [--host NAME]
                       [--body-bytes N] [--concurrency N] [--warmup S]
                       [--duration S | --requests N] [--pid PID]
       proxy_load idle --ca FILE --proxy ADDR:PORT --pid PID [--idle N] [--idle-requests N]
                       [--host NAME]
       proxy_load scale --ca FILE --proxy ADDR:PORT --pid PID --connections N
                        [--open-parallel N] [--body-bytes N] [--warmup S] [--duration S]
                        [--rate R]
       common: [--connect-timeout S] [--request-timeout S]
       proxy_load body [--body-bytes N]
)";

struct Options {
  std::string mode;
  std::string listen = "127.0.0.1:443";
  std::string cert, key;
  unsigned threads = 1;
  std::string ca;
  std::string proxy;                     // empty: straight to target
  std::string target = "127.0.0.1:443";  // where "direct" connects
  std::string host = "api.anthropic.com";
  size_t body_bytes = 4096;
  unsigned concurrency = 1;
  double warmup = 1.0;
  double duration = 5.0;
  uint64_t requests = 0;  // > 0: measure this many requests instead of a duration
  int pid = 0;            // the process whose CPU / RSS is measured
  unsigned idle = 200;
  unsigned idle_requests = 1;    // requests sent on each idle connection before it idles
  unsigned connections = 1000;   // scale: connections held open at once
  unsigned open_parallel = 100;  // scale: opens in flight; more overflows accept backlogs
  double rate = 0;               // scale: paced phase, requests/s over all connections; 0 = none
  double connect_timeout = 30;   // seconds for TCP + CONNECT + TLS handshake
  double request_timeout = 120;  // seconds for one request and its answer
};

Clock::duration seconds_to_duration(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// The soft RLIMIT_NOFILE raised to the hard limit (N connections need N descriptors).
rlim_t raise_open_file_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

std::pair<std::string, std::string> split_host_port(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("expected ADDR:PORT, got " + s);
  return {s.substr(0, colon), s.substr(colon + 1)};
}

// ---------------------------------------------------------------------------------------------
// /proc readings

// utime + stime of the whole process (all threads), in seconds.
double process_cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After ")": field 3 (state) ... utime is field 14, stime field 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long vm_rss_kb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// ---------------------------------------------------------------------------------------------
// The request body: Claude-Code-shaped, clean (no planted secrets), about `target` bytes.

std::string make_body(size_t target) {
  using promptgate::bench::prompt_corpus;
  auto corpus = prompt_corpus(target + 512 * 1024, static_cast<size_t>(-1), 20261124);
  std::vector<json> parsed;
  for (const auto& b : corpus.bodies) parsed.push_back(json::parse(b));
  std::string system_text = parsed[0]["system"][0]["text"];
  if (target < 16 * 1024) system_text.resize(std::min(system_text.size(), target / 3));
  json body = {{"model", "claude-sonnet-4-5"},
               {"max_tokens", 32000},
               {"system", json::array({{{"type", "text"},
                                        {"text", system_text},
                                        {"cache_control", {{"type", "ephemeral"}}}}})}};
  if (target >= 48 * 1024) body["tools"] = parsed[0]["tools"];
  body["messages"] = json::array();
  body["metadata"] = {{"user_id", "user_bench_session_0001"}};
  body["stream"] = false;
  size_t size = body.dump().size();
  std::string filler;  // text for the last message, cut to fit
  for (const auto& p : parsed) {
    for (const auto& m : p["messages"]) {
      size_t add = m.dump().size() + 1;
      if (size + add > target) {
        if (filler.empty() && m["role"] == "user" && m["content"][0].contains("text"))
          filler = m["content"][0]["text"];
        continue;
      }
      body["messages"].push_back(m);
      size += add;
    }
  }
  if (filler.empty()) filler = std::string(parsed[0]["system"][0]["text"]);
  while (filler.size() < target) filler += " " + filler;
  json last = {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", ""}}})}};
  size_t overhead = last.dump().size() + 1;
  if (size + overhead < target) {
    std::string text = filler.substr(0, target - size - overhead);
    for (;;) {
      last["content"][0]["text"] = text;
      size_t add = last.dump().size() + 1;
      if (size + add <= target || text.size() < 64) break;
      text.resize(text.size() - std::min(text.size(), size + add - target));
    }
    body["messages"].push_back(last);
  }
  return body.dump();
}

// ---------------------------------------------------------------------------------------------
// Client side

ssl::context client_context(const Options& o) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(o.ca);
  ctx.set_verify_mode(ssl::verify_peer);
  static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx.native_handle(), kAlpn, sizeof kAlpn);
  return ctx;
}

// TCP to the proxy (then CONNECT host:443) or straight to the target; then TLS as `host`.
net::awaitable<std::unique_ptr<TlsStream>> open_connection(const Options& o, ssl::context& ctx) {
  auto ex = co_await net::this_coro::executor;
  auto [addr, port] = split_host_port(o.proxy.empty() ? o.target : o.proxy);
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(addr, port, net::use_awaitable);
  beast::tcp_stream stream(ex);
  // The expiry covers every operation until the handshake is done (it moves with the stream).
  stream.expires_after(seconds_to_duration(o.connect_timeout));
  co_await stream.async_connect(endpoints, net::use_awaitable);
  stream.socket().set_option(tcp::no_delay(true));
  if (!o.proxy.empty()) {
    std::string connect = "CONNECT " + o.host + ":443 HTTP/1.1\r\nHost: " + o.host +
                          ":443\r\nUser-Agent: proxy_load\r\n\r\n";
    co_await net::async_write(stream, net::buffer(connect), net::use_awaitable);
    std::string reply;
    size_t n = co_await net::async_read_until(stream, net::dynamic_buffer(reply), "\r\n\r\n",
                                              net::use_awaitable);
    if (reply.size() != n) throw std::runtime_error("proxy sent bytes after the CONNECT reply");
    if (reply.rfind("HTTP/1.1 200", 0) != 0 && reply.rfind("HTTP/1.0 200", 0) != 0)
      throw std::runtime_error("CONNECT refused: " + reply.substr(0, reply.find('\r')));
  }
  auto tls = std::make_unique<TlsStream>(std::move(stream), ctx);
  SSL_set_tlsext_host_name(tls->native_handle(), o.host.c_str());
  SSL_set1_host(tls->native_handle(), o.host.c_str());
  co_await tls->async_handshake(ssl::stream_base::client, net::use_awaitable);
  beast::get_lowest_layer(*tls).expires_never();
  co_return tls;
}

// One request on an open connection; the answer's status, and whether it allows keep-alive.
struct Answer {
  unsigned status = 0;
  bool keep_alive = false;
  std::string body;
};
net::awaitable<Answer> round_trip(const Options& o, TlsStream& tls, beast::flat_buffer& buf,
                                  const http::request<http::string_body>& req) {
  auto& tcp_layer = beast::get_lowest_layer(tls);
  tcp_layer.expires_after(seconds_to_duration(o.request_timeout));
  co_await http::async_write(tls, req, net::use_awaitable);
  http::response<http::string_body> res;
  co_await http::async_read(tls, buf, res, net::use_awaitable);
  tcp_layer.expires_never();
  co_return Answer{res.result_int(), res.keep_alive(), std::move(res.body())};
}

http::request<http::string_body> make_request(const Options& o, std::string body) {
  http::request<http::string_body> req{http::verb::post, "/v1/messages", 11};
  req.set(http::field::host, o.host);
  req.set(http::field::user_agent, "claude-cli/2.0.0 (external, cli)");
  req.set(http::field::accept, "application/json");
  req.set(http::field::content_type, "application/json");
  req.set("anthropic-version", "2023-06-01");
  req.set("anthropic-beta", "claude-code-20250219");
  req.set("x-app", "cli");
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

struct LoadState {
  const Options& o;
  ssl::context& ctx;
  const http::request<http::string_body>& req;
  Clock::time_point measure_start, measure_end;  // end is moved earlier in --requests mode
  bool stopping = false;
  std::vector<double> latencies_ms;  // completions inside the window
  uint64_t errors = 0;
  std::string first_error;
  double cpu_start = 0, cpu_end = 0;
  Clock::time_point actual_end;
};

void note_error(LoadState& st, const std::string& what) {
  ++st.errors;
  if (st.first_error.empty()) st.first_error = what;
}

void finish_window(LoadState& st) {
  if (st.stopping) return;
  st.stopping = true;
  st.actual_end = Clock::now();
  if (st.o.pid) st.cpu_end = process_cpu_seconds(st.o.pid);
}

net::awaitable<void> load_connection(LoadState& st) {
  auto ex = co_await net::this_coro::executor;
  while (!st.stopping) {
    std::unique_ptr<TlsStream> tls;
    try {
      tls = co_await open_connection(st.o, st.ctx);
    } catch (const std::exception& e) {
      note_error(st, std::string("connect: ") + e.what());
    }
    if (!tls) {
      net::steady_timer t(ex, std::chrono::milliseconds(50));
      co_await t.async_wait(net::use_awaitable);
      continue;
    }
    beast::flat_buffer buf;
    try {
      while (!st.stopping) {
        auto t0 = Clock::now();
        Answer res = co_await round_trip(st.o, *tls, buf, st.req);
        auto t1 = Clock::now();
        if (res.status != 200) {
          note_error(st, "HTTP " + std::to_string(res.status) + ": " + res.body);
        } else if (t1 >= st.measure_start && !st.stopping) {
          st.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          if (st.o.requests && st.latencies_ms.size() >= st.o.requests) finish_window(st);
        }
        if (!res.keep_alive) break;
      }
    } catch (const std::exception& e) {
      if (!st.stopping) note_error(st, std::string("request: ") + e.what());
    }
    beast::error_code ec;
    beast::get_lowest_layer(*tls).socket().close(ec);
  }
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

int run_load(const Options& o) {
  net::io_context io(1);
  ssl::context ctx = client_context(o);
  auto req = make_request(o, make_body(o.body_bytes));
  auto start = Clock::now();
  LoadState st{o, ctx, req, {}, {}, false, {}, 0, {}, 0, 0, {}};
  auto secs = seconds_to_duration;
  st.measure_start = start + secs(o.warmup);
  st.measure_end = o.requests ? Clock::time_point::max() : st.measure_start + secs(o.duration);
  for (unsigned i = 0; i < o.concurrency; ++i)
    net::co_spawn(io, load_connection(st), net::detached);
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        net::steady_timer t(io, st.measure_start);
        co_await t.async_wait(net::use_awaitable);
        if (o.pid) st.cpu_start = process_cpu_seconds(o.pid);
        if (o.requests) {
          // Safety stop: 120 s at most.
          t.expires_after(std::chrono::seconds(120));
          co_await t.async_wait(net::use_awaitable);
          finish_window(st);
        } else {
          t.expires_at(st.measure_end);
          co_await t.async_wait(net::use_awaitable);
          finish_window(st);
        }
        io.stop();
      },
      net::detached);
  // In --requests mode the window ends in a connection; stop the io_context soon after.
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        net::steady_timer t(io);
        while (!st.stopping) {
          t.expires_after(std::chrono::milliseconds(5));
          co_await t.async_wait(net::use_awaitable);
        }
        io.stop();
      },
      net::detached);
  io.run();
  double seconds = std::chrono::duration<double>(st.actual_end - st.measure_start).count();
  size_t n = st.latencies_ms.size();
  double p50 = percentile(st.latencies_ms, 0.50);
  double p99 = percentile(st.latencies_ms, 0.99);
  std::printf(
      "body_bytes=%zu concurrency=%u requests=%zu seconds=%.3f rps=%.1f p50_ms=%.3f "
      "p99_ms=%.3f errors=%llu",
      req.body().size(), o.concurrency, n, seconds, static_cast<double>(n) / seconds, p50, p99,
      static_cast<unsigned long long>(st.errors));
  if (o.pid) {
    double cpu = st.cpu_end - st.cpu_start;
    std::printf(" cpu_ms_per_req=%.4f cpu_util=%.3f", n ? cpu * 1000 / static_cast<double>(n) : 0,
                cpu / seconds);
  }
  std::printf("\n");
  if (st.errors)
    std::cerr << "proxy_load: " << st.errors << " errors; first: " << st.first_error << "\n";
  return n ? 0 : 1;
}

int run_idle(const Options& o) {
  net::io_context io(1);
  ssl::context ctx = client_context(o);
  auto req = make_request(o, make_body(4096));
  std::vector<std::unique_ptr<TlsStream>> conns;
  long before = 0, after = 0;
  std::string error;
  auto one = [&](unsigned requests) -> net::awaitable<std::unique_ptr<TlsStream>> {
    auto tls = co_await open_connection(o, ctx);
    beast::flat_buffer buf;
    for (unsigned i = 0; i < requests; ++i) {
      Answer res = co_await round_trip(o, *tls, buf, req);
      if (res.status != 200) throw std::runtime_error("HTTP " + std::to_string(res.status));
    }
    co_return tls;
  };
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        try {
          net::steady_timer t(io);
          // Warm up: the first connections mint the leaf, build scratch, grow pools.
          for (int i = 0; i < 4; ++i) {
            auto c = co_await one(1);
            beast::error_code ec;
            c->shutdown(ec);
            beast::get_lowest_layer(*c).socket().close(ec);
          }
          t.expires_after(std::chrono::seconds(1));
          co_await t.async_wait(net::use_awaitable);
          before = vm_rss_kb(o.pid);
          for (unsigned i = 0; i < o.idle; ++i) conns.push_back(co_await one(o.idle_requests));
          t.expires_after(std::chrono::seconds(1));
          co_await t.async_wait(net::use_awaitable);
          after = vm_rss_kb(o.pid);
        } catch (const std::exception& e) {
          error = e.what();
        }
      },
      net::detached);
  io.run();
  if (!error.empty()) {
    std::cerr << "proxy_load idle: " << error << " (after " << conns.size() << " connections)\n";
    return 1;
  }
  std::printf("idle_conns=%u rss_before_kb=%ld rss_after_kb=%ld kb_per_conn=%.1f\n", o.idle, before,
              after, static_cast<double>(after - before) / o.idle);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Many connections at once

struct ScaleConn {
  std::unique_ptr<TlsStream> tls;  // null: failed to open, or closed after an error
  beast::flat_buffer buf;
};

// One measured phase over all connections. Completions count while the window is open.
struct Phase {
  Clock::time_point measure_start = Clock::time_point::max();  // set when the window opens
  double warmup_seconds = 0;
  bool stopping = false;
  Clock::time_point actual_end;
  std::vector<double> latencies_ms;
  uint64_t errors = 0;
  uint64_t reopened = 0;
  std::string first_error;
  unsigned running = 0;   // drivers not yet returned
  unsigned answered = 0;  // connections with at least one answer in this phase
  double cpu_start = 0, cpu_end = 0;
};

void phase_error(Phase& ph, const std::string& what) {
  ++ph.errors;
  if (ph.first_error.empty()) ph.first_error = what;
}

struct Scale {
  const Options& o;
  ssl::context& ctx;
  const http::request<http::string_body>& req;
  std::vector<ScaleConn> conns;  // sized once: drivers hold references into it
};

net::awaitable<void> sleep_for(Clock::duration d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(net::use_awaitable);
}

// Opens connections from the shared cursor until none is left; each sends one request.
net::awaitable<void> open_worker(Scale& sc, size_t& cursor, unsigned& workers_done,
                                 uint64_t& failed, std::string& first_error) {
  while (cursor < sc.conns.size()) {
    ScaleConn& c = sc.conns[cursor++];
    try {
      c.tls = co_await open_connection(sc.o, sc.ctx);
      Answer a = co_await round_trip(sc.o, *c.tls, c.buf, sc.req);
      if (a.status != 200) throw std::runtime_error("HTTP " + std::to_string(a.status));
      if (!a.keep_alive) throw std::runtime_error("closed after the first request");
    } catch (const std::exception& e) {
      ++failed;
      c.tls.reset();
      if (first_error.empty()) first_error = e.what();
    }
  }
  ++workers_done;
}

// Drives one connection through a phase. A zero period: the next request as soon as the answer
// is in (closed loop). Otherwise one request per period from `next` on; a connection that falls
// behind sends at once but does not burst to catch up. A broken connection is reopened.
net::awaitable<void> drive(Scale& sc, ScaleConn& c, Phase& ph, Clock::duration period,
                           Clock::time_point next) {
  bool answered = false;
  while (!ph.stopping) {
    if (period.count()) {
      auto now = Clock::now();
      if (next > now) co_await sleep_for(next - now);
      if (ph.stopping) break;
      next = std::max(next + period, Clock::now());
    }
    if (!c.tls) {
      bool reopened = false;
      try {
        c.tls = co_await open_connection(sc.o, sc.ctx);
        c.buf.clear();
        ++ph.reopened;
        reopened = true;
      } catch (const std::exception& e) {
        phase_error(ph, std::string("reconnect: ") + e.what());
      }
      if (!reopened) {
        co_await sleep_for(std::chrono::milliseconds(50));
        continue;
      }
    }
    try {
      auto t0 = Clock::now();
      Answer a = co_await round_trip(sc.o, *c.tls, c.buf, sc.req);
      auto t1 = Clock::now();
      if (!answered) {
        answered = true;
        ++ph.answered;
      }
      if (a.status != 200)
        phase_error(ph, "HTTP " + std::to_string(a.status) + ": " + a.body.substr(0, 200));
      else if (t1 >= ph.measure_start && !ph.stopping)
        ph.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      if (!a.keep_alive) c.tls.reset();
    } catch (const std::exception& e) {
      if (!ph.stopping) phase_error(ph, std::string("request: ") + e.what());
      c.tls.reset();
    }
  }
  --ph.running;
}

// Runs one phase: warm-up, measured window (CPU of --pid read at both ends), then waits for
// the requests in flight to finish so the next phase starts from idle connections. In the closed
// loop the warm-up also lasts until every connection has had an answer: with N connections
// starting at once, the first wave of answers is not the steady state.
net::awaitable<void> run_phase(Scale& sc, Phase& ph, double rate, long& rss_at_end_kb) {
  const Options& o = sc.o;
  auto ex = co_await net::this_coro::executor;
  auto start = Clock::now();
  ph.latencies_ms.reserve(1 << 20);
  size_t open = 0;
  for (auto& c : sc.conns) open += c.tls ? 1 : 0;
  Clock::duration period{};
  if (rate > 0) period = seconds_to_duration(static_cast<double>(open) / rate);
  std::mt19937_64 rng(20261124);
  for (auto& c : sc.conns) {
    if (!c.tls) continue;
    ++ph.running;
    auto phase_offset = std::uniform_int_distribution<Clock::rep>(0, period.count())(rng);
    net::co_spawn(ex, drive(sc, c, ph, period, start + Clock::duration(phase_offset)),
                  net::detached);
  }
  co_await sleep_for(seconds_to_duration(o.warmup));
  auto warm_cap = Clock::now() + seconds_to_duration(o.request_timeout);
  while (rate <= 0 && ph.answered < ph.running && Clock::now() < warm_cap)
    co_await sleep_for(std::chrono::milliseconds(20));
  ph.measure_start = Clock::now();
  ph.warmup_seconds = std::chrono::duration<double>(ph.measure_start - start).count();
  if (o.pid) ph.cpu_start = process_cpu_seconds(o.pid);
  co_await sleep_for(seconds_to_duration(o.duration));
  ph.stopping = true;
  ph.actual_end = Clock::now();
  if (o.pid) {
    ph.cpu_end = process_cpu_seconds(o.pid);
    rss_at_end_kb = vm_rss_kb(o.pid);
  }
  auto give_up = Clock::now() + seconds_to_duration(o.request_timeout + 10);
  while (ph.running && Clock::now() < give_up) co_await sleep_for(std::chrono::milliseconds(20));
  if (ph.running)
    phase_error(ph, std::to_string(ph.running) + " connections stuck after the phase");
}

void print_phase(const char* prefix, Phase& ph, const Options& o) {
  double seconds = std::chrono::duration<double>(ph.actual_end - ph.measure_start).count();
  size_t n = ph.latencies_ms.size();
  double p50 = percentile(ph.latencies_ms, 0.50);
  double p99 = percentile(ph.latencies_ms, 0.99);
  std::printf(" %swarmup_s=%.1f", prefix, ph.warmup_seconds);
  std::printf(
      " %srequests=%zu %srps=%.1f %sp50_ms=%.3f %sp99_ms=%.3f %serrors=%llu %sreopened=%llu",
      prefix, n, prefix, static_cast<double>(n) / seconds, prefix, p50, prefix, p99, prefix,
      static_cast<unsigned long long>(ph.errors), prefix,
      static_cast<unsigned long long>(ph.reopened));
  if (o.pid) {
    double cpu = ph.cpu_end - ph.cpu_start;
    std::printf(" %scpu_ms_per_req=%.4f %scpu_util=%.3f", prefix,
                n ? cpu * 1000 / static_cast<double>(n) : 0, prefix, cpu / seconds);
  }
  if (ph.errors)
    std::cerr << "proxy_load scale: " << (*prefix ? prefix : "load_") << "errors " << ph.errors
              << "; first: " << ph.first_error << "\n";
}

int run_scale(const Options& o) {
  rlim_t files = raise_open_file_limit();
  if (files < o.connections + 64) {
    std::cerr << "proxy_load scale: open-file limit " << files << " is too low for "
              << o.connections << " connections (raise ulimit -n)\n";
    return 2;
  }
  net::io_context io(1);
  ssl::context ctx = client_context(o);
  auto req = make_request(o, make_body(o.body_bytes));
  Scale sc{o, ctx, req, std::vector<ScaleConn>(o.connections)};
  long rss_before = -1, rss_open = -1, rss_load = -1, rss_paced = -1;
  double open_seconds = 0, open_cpu = 0;  // wall time, and the proxy's CPU seconds, to open
  uint64_t open_failed = 0;
  std::string open_error, fatal;
  Phase load, paced;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        try {
          // Warm-up: mint the leaf, grow pools, load the rules' scratch; then the baseline.
          for (int i = 0; i < 4; ++i) {
            ScaleConn c;
            c.tls = co_await open_connection(o, ctx);
            co_await round_trip(o, *c.tls, c.buf, req);
          }
          co_await sleep_for(std::chrono::seconds(1));
          if (o.pid) rss_before = vm_rss_kb(o.pid);
          if (o.pid) open_cpu = process_cpu_seconds(o.pid);
          auto t0 = Clock::now();
          size_t cursor = 0;
          unsigned workers = std::max(1u, std::min(o.open_parallel, o.connections)), done = 0;
          for (unsigned i = 0; i < workers; ++i)
            net::co_spawn(io, open_worker(sc, cursor, done, open_failed, open_error),
                          net::detached);
          while (done < workers) co_await sleep_for(std::chrono::milliseconds(10));
          open_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
          if (o.pid) open_cpu = process_cpu_seconds(o.pid) - open_cpu;
          co_await sleep_for(std::chrono::seconds(1));
          if (o.pid) rss_open = vm_rss_kb(o.pid);
          if (open_failed == o.connections) throw std::runtime_error("no connection opened");
          co_await run_phase(sc, load, 0, rss_load);
          if (o.rate > 0) co_await run_phase(sc, paced, o.rate, rss_paced);
        } catch (const std::exception& e) {
          fatal = e.what();
        }
        io.stop();
      },
      net::detached);
  io.run();
  if (!fatal.empty()) {
    std::cerr << "proxy_load scale: " << fatal << "\n";
    if (!open_error.empty())
      std::cerr << "proxy_load scale: first open error: " << open_error << "\n";
    return 1;
  }
  uint64_t opened = o.connections - open_failed;
  auto per_conn = [&](long after) {
    return after < 0 || rss_before < 0 ? 0.0
                                       : static_cast<double>(after - rss_before) /
                                             static_cast<double>(std::max<uint64_t>(1, opened));
  };
  std::printf(
      "connections=%u open_ok=%llu open_failed=%llu open_s=%.2f open_cpu_ms_per_conn=%.3f "
      "body_bytes=%zu rss_before_kb=%ld rss_open_kb=%ld kb_per_conn=%.1f rss_load_kb=%ld "
      "kb_per_conn_load=%.1f",
      o.connections, static_cast<unsigned long long>(opened),
      static_cast<unsigned long long>(open_failed), open_seconds,
      open_cpu * 1000 / static_cast<double>(std::max<uint64_t>(1, opened)), req.body().size(),
      rss_before, rss_open, per_conn(rss_open), rss_load, per_conn(rss_load));
  print_phase("", load, o);
  if (o.rate > 0) {
    std::printf(" paced_rate=%.1f", o.rate);
    print_phase("paced_", paced, o);
  }
  std::printf("\n");
  if (open_failed)
    std::cerr << "proxy_load scale: " << open_failed << " of " << o.connections
              << " connections failed to open; first: " << open_error << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The upstream

const std::string& upstream_answer() {
  static const std::string kBody =
      R"({"id":"msg_bench0001","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
      R"("content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,)"
      R"("usage":{"input_tokens":1000,"output_tokens":1}})";
  return kBody;
}

net::awaitable<void> serve_session(tcp::socket socket, ssl::context& ctx) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  TlsStream tls(beast::tcp_stream(std::move(socket)), ctx);
  co_await tls.async_handshake(ssl::stream_base::server,
                               net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return;
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    co_await http::async_read(tls, buf, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    auto& req = parser.get();
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.set("request-id", "req_bench");
    res.keep_alive(req.keep_alive());
    res.body() = upstream_answer();
    res.prepare_payload();
    co_await http::async_write(tls, res, net::redirect_error(net::use_awaitable, ec));
    if (ec || !req.keep_alive()) break;
  }
  tls.next_layer().socket().close(ec);
}

int run_serve(const Options& o) {
  ssl::context ctx(ssl::context::tls_server);
  ctx.use_certificate_chain_file(o.cert);
  ctx.use_private_key_file(o.key, ssl::context::pem);
  net::io_context io(static_cast<int>(o.threads));
  auto [addr, port] = split_host_port(o.listen);
  tcp::acceptor acceptor(io);
  tcp::endpoint ep(net::ip::make_address(addr), static_cast<uint16_t>(std::stoul(port)));
  acceptor.open(ep.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(net::socket_base::max_listen_connections);
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        for (;;) {
          tcp::socket s = co_await acceptor.async_accept(net::use_awaitable);
          net::co_spawn(io, serve_session(std::move(s), ctx), net::detached);
        }
      },
      net::detached);
  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) { io.stop(); });
  std::cerr << "proxy_load serve: listening on " << o.listen << std::endl;
  std::vector<std::thread> workers;
  for (unsigned i = 1; i < o.threads; ++i) workers.emplace_back([&] { io.run(); });
  io.run();
  for (auto& w : workers) w.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  o.mode = argv[1];
  raise_open_file_limit();  // serve and scale hold thousands of sockets
  try {
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      std::string v = argv[++i];
      if (a == "--listen")
        o.listen = v;
      else if (a == "--cert")
        o.cert = v;
      else if (a == "--key")
        o.key = v;
      else if (a == "--threads")
        o.threads = static_cast<unsigned>(std::stoul(v));
      else if (a == "--ca")
        o.ca = v;
      else if (a == "--proxy")
        o.proxy = v;
      else if (a == "--target")
        o.target = v;
      else if (a == "--host")
        o.host = v;
      else if (a == "--body-bytes")
        o.body_bytes = std::stoul(v);
      else if (a == "--concurrency")
        o.concurrency = static_cast<unsigned>(std::stoul(v));
      else if (a == "--warmup")
        o.warmup = std::stod(v);
      else if (a == "--duration")
        o.duration = std::stod(v);
      else if (a == "--requests")
        o.requests = std::stoull(v);
      else if (a == "--pid")
        o.pid = std::stoi(v);
      else if (a == "--idle")
        o.idle = static_cast<unsigned>(std::stoul(v));
      else if (a == "--idle-requests")
        o.idle_requests = static_cast<unsigned>(std::stoul(v));
      else if (a == "--connections")
        o.connections = static_cast<unsigned>(std::stoul(v));
      else if (a == "--open-parallel")
        o.open_parallel = static_cast<unsigned>(std::stoul(v));
      else if (a == "--rate")
        o.rate = std::stod(v);
      else if (a == "--connect-timeout")
        o.connect_timeout = std::stod(v);
      else if (a == "--request-timeout")
        o.request_timeout = std::stod(v);
      else
        throw std::runtime_error("unknown option " + a);
    }
    if (o.mode == "serve") return run_serve(o);
    if (o.mode == "load") return run_load(o);
    if (o.mode == "idle") return run_idle(o);
    if (o.mode == "scale") return run_scale(o);
    if (o.mode == "body") {
      std::cout << make_body(o.body_bytes);
      return 0;
    }
    throw std::runtime_error("unknown mode " + o.mode);
  } catch (const std::exception& e) {
    std::cerr << "proxy_load: " << e.what() << "\n" << kUsage;
    return 2;
  }
}
