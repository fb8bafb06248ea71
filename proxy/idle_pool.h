// Idle upstream connections of one io thread, shared by every client connection on that thread.
// A client connection holds an upstream connection only while a request is in flight, so an
// idle client costs one TLS session instead of two (memory, descriptors), and a new client reuses
// a warm connection instead of paying a TCP and TLS handshake. Only its own thread touches it, so
// it takes no lock. Connections are keyed by target and snapshot generation (a reload may change
// upstream trust, connect_to or the parent proxy), newest last; a stale one is caught by the
// forwarder's retry, and connections idle for longer than kMaxIdle are closed.
//
// A template over the connection type so the rules are tested without sockets: `Conn` is
// movable and has `void close()` and `size_t unread_bytes() const`.
//
//   IdlePool<Upstream> pool;
//   if (auto warm = pool.take(target, generation)) use(std::move(*warm));
//   pool.give(std::move(upstream), target, generation);
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include "proxy/target.h"

namespace promptgate::proxy {

template <class Conn>
class IdlePool {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxIdlePerTarget = 1024;
  static constexpr size_t kMaxIdleTotal = 4096;  // per thread, all targets together
  static constexpr std::chrono::seconds kMaxIdle{30};

  std::optional<Conn> take(const Target& t, uint64_t generation) {
    auto it = idle_.find(key(t, generation));
    if (it == idle_.end()) return std::nullopt;
    prune(it->second);
    if (it->second.empty()) {
      idle_.erase(it);
      return std::nullopt;
    }
    Conn up = std::move(it->second.back().conn);
    it->second.pop_back();
    return up;
  }

  void give(Conn&& up, const Target& t, uint64_t generation) {
    // Bytes after the answer belong to nobody: such a connection must not serve another client.
    if (up.unread_bytes() != 0) {
      up.close();
      return;
    }
    // Connections made under an older snapshot are never taken again; idle ones expire. Every
    // target is swept, so a target nobody asks for again does not hold its sockets.
    size_t total = 0;
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (it->first.generation >= generation) prune(it->second);
      if (it->first.generation < generation || it->second.empty()) {
        it = idle_.erase(it);
      } else {
        total += it->second.size();
        ++it;
      }
    }
    auto& list = idle_[key(t, generation)];
    if (list.size() >= kMaxIdlePerTarget || total >= kMaxIdleTotal) {
      if (list.empty()) {
        up.close();
        return;
      }
      list.front().conn.close();
      list.pop_front();
    }
    list.push_back({std::move(up), now_()});
  }

  size_t idle_count() const {
    size_t n = 0;
    for (const auto& [k, list] : idle_) n += list.size();
    return n;
  }

  // Tests move time forward instead of sleeping.
  void set_clock_for_tests(std::function<Clock::time_point()> now) { now_ = std::move(now); }

 private:
  struct Key {
    std::string host;
    uint16_t port;
    bool tls;
    uint64_t generation;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string>{}(k.host) ^ (size_t{k.port} << 1) ^ (k.tls ? 0x9e37 : 0) ^
             (k.generation * 0x9e3779b97f4a7c15ull);
    }
  };
  struct Idle {
    Conn conn;
    Clock::time_point since;
  };
  static Key key(const Target& t, uint64_t generation) {
    // A name reached at a client-chosen address is not the same upstream as the name resolved.
    return {t.address.empty() ? t.host : t.host + "@" + t.address, t.port, t.tls, generation};
  }
  void prune(std::deque<Idle>& list) {
    const auto cutoff = now_() - kMaxIdle;
    while (!list.empty() && list.front().since < cutoff) {
      list.front().conn.close();
      list.pop_front();
    }
  }
  std::unordered_map<Key, std::deque<Idle>, KeyHash> idle_;
  std::function<Clock::time_point()> now_ = [] { return Clock::now(); };
};

}  // namespace promptgate::proxy
