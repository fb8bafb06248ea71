// proxy_load: the load client and the fast local TLS upstream of the proxy benchmark
// (bench/proxy_bench.sh). One binary, four modes:
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
//   proxy_load body --body-bytes N
//       Writes the request body to stdout (to check it is clean: `promptgate scan -`).
//
// Output of load and idle is one line of key=value pairs for the script to parse.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
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
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "corpus.h"

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
  unsigned idle_requests = 1;  // requests sent on each idle connection before it idles
};

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
  co_return tls;
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
        co_await http::async_write(*tls, st.req, net::use_awaitable);
        http::response<http::string_body> res;
        co_await http::async_read(*tls, buf, res, net::use_awaitable);
        auto t1 = Clock::now();
        if (res.result_int() != 200) {
          note_error(st, "HTTP " + std::to_string(res.result_int()) + ": " + res.body());
        } else if (t1 >= st.measure_start && !st.stopping) {
          st.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          if (st.o.requests && st.latencies_ms.size() >= st.o.requests) finish_window(st);
        }
        if (!res.keep_alive()) break;
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
  auto secs = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
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
      co_await http::async_write(*tls, req, net::use_awaitable);
      http::response<http::string_body> res;
      co_await http::async_read(*tls, buf, res, net::use_awaitable);
      if (res.result_int() != 200)
        throw std::runtime_error("HTTP " + std::to_string(res.result_int()));
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
      else
        throw std::runtime_error("unknown option " + a);
    }
    if (o.mode == "serve") return run_serve(o);
    if (o.mode == "load") return run_load(o);
    if (o.mode == "idle") return run_idle(o);
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
