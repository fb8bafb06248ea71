// JSON-lines audit log with a hash chain, and its verifier; see audit_log.h and docs/audit.md.
#include "proxy/audit_log.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace promptgate::proxy {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out(2 * len, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  return out;
}

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // Step back over continuation bytes to the start of the sequence that would be cut.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

namespace {

using Json = nlohmann::json;

std::string now_iso8601() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

bool is_hash(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The chain fields of a line, when it is a JSON object that has valid ones.
struct ChainFields {
  uint64_t seq = 0;
  std::string prev;
  std::string marker;  // "", "start" or "restart"
};
std::optional<ChainFields> chain_fields(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  auto seq = j.find("seq");
  auto prev = j.find("prev");
  if (seq == j.end() || prev == j.end() || !seq->is_number_unsigned() || !prev->is_string())
    return std::nullopt;
  ChainFields f{seq->get<uint64_t>(), prev->get<std::string>(), ""};
  if (f.seq == 0 || !is_hash(f.prev)) return std::nullopt;
  if (auto m = j.find("chain"); m != j.end()) {
    if (!m->is_string()) return std::nullopt;
    f.marker = m->get<std::string>();
    if (f.marker != "start" && f.marker != "restart") return std::nullopt;
  }
  return f;
}

std::optional<ChainFields> chain_fields(const std::string& line) {
  return chain_fields(Json::parse(line, nullptr, false));
}

struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// The line that ends at byte `end` (exclusive, no newline) and where it starts, reading backwards
// in chunks: only the tail of a large log is read.
std::string line_ending_at(int fd, off_t end, off_t& start) {
  constexpr off_t kChunk = 64 * 1024;
  std::vector<std::string> chunks;  // newest first
  off_t pos = end;
  start = 0;
  while (pos > 0) {
    off_t n = std::min(kChunk, pos);
    std::string buf(static_cast<size_t>(n), '\0');
    ssize_t got = ::pread(fd, buf.data(), buf.size(), pos - n);
    if (got != n) throw std::runtime_error(std::string("read failed: ") + std::strerror(errno));
    size_t nl = buf.rfind('\n');
    if (nl != std::string::npos) {
      chunks.push_back(buf.substr(nl + 1));
      start = pos - n + static_cast<off_t>(nl) + 1;
      break;
    }
    chunks.push_back(std::move(buf));
    pos -= n;
  }
  std::string line;
  for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) line += *it;
  return line;
}

}  // namespace

AuditLog::AuditLog(const std::string& path) {
  if (path.empty()) return;
  prev_hash_ = kChainOrigin;
  segment_marker_ = "start";
  if (path == "-") {
    file_ = stdout;  // nothing to read back: every run of a stdout log starts a new chain
    return;
  }
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw std::runtime_error("audit log " + path + ": " + std::strerror(errno));
  owned_ = true;
  // Unbuffered: fwrite then reports what really reached the file, which the chain relies on.
  std::setvbuf(file_, nullptr, _IONBF, 0);
  try {
    FileDescriptor in{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    struct stat st {};
    if (in.fd < 0 || ::fstat(in.fd, &st) != 0)
      throw std::runtime_error(std::string("cannot read it back: ") + std::strerror(errno));
    if (st.st_size == 0) return;  // a new chain
    char last_byte = 0;
    if (::pread(in.fd, &last_byte, 1, st.st_size - 1) != 1)
      throw std::runtime_error(std::string("read failed: ") + std::strerror(errno));
    bool torn = last_byte != '\n';
    off_t start = 0;
    std::string last = line_ending_at(in.fd, torn ? st.st_size : st.st_size - 1, start);
    auto fields = chain_fields(last);
    if (!torn && fields) {
      next_seq_ = fields->seq + 1;
      prev_hash_ = sha256_hex(last);
      segment_marker_.clear();
      return;
    }
    // The last line is torn (a crash mid-write) or not a chained event (edited, or written by a
    // promptgate without chaining). Start a marked segment linked to its exact bytes, so verify
    // reports it instead of the chain silently accepting it.
    if (torn && std::fwrite("\n", 1, 1, file_) != 1)
      throw std::runtime_error(std::string("write failed: ") + std::strerror(errno));
    prev_hash_ = sha256_hex(last);
    segment_marker_ = "restart";
    if (fields) {
      next_seq_ = fields->seq + 1;
    } else if (start > 0) {
      off_t before_start = 0;
      auto before = chain_fields(line_ending_at(in.fd, start - 1, before_start));
      // The unreadable line most likely held seq + 1: keep seq increasing past it.
      if (before) next_seq_ = before->seq + 2;
    }
  } catch (const std::exception& e) {
    std::fclose(file_);
    file_ = nullptr;
    throw std::runtime_error("audit log " + path + ": " + e.what());
  }
}

AuditLog::~AuditLog() {
  if (owned_ && file_) std::fclose(file_);
}

std::string AuditLog::to_json_line(const AuditEvent& e) {
  nlohmann::ordered_json j = {{"time", now_iso8601()},
                              {"request_id", e.request_id},
                              {"client", e.client},
                              {"user", e.user},
                              {"groups", e.groups},
                              {"method", e.method},
                              {"host", e.host},
                              {"port", e.port},
                              {"path", e.path},
                              {"destination", e.destination},
                              {"model", e.model},
                              {"body_bytes", e.body_bytes},
                              {"decision", e.decision},
                              {"mode", e.mode},
                              {"enforced", e.enforced},
                              {"status", e.status},
                              {"scan_us", e.scan_us},
                              {"upstream_status", e.upstream_status},
                              {"upstream_ms", e.upstream_ms},
                              {"duration_ms", e.duration_ms}};
  if (e.scan_skipped_bytes) j["scan_skipped_bytes"] = e.scan_skipped_bytes;
  if (e.attachments)
    j["attachments"] = {{"listed", e.attachments},
                        {"read", e.attachments_read},
                        {"unreadable", e.attachments_unreadable},
                        {"read_ms", e.read_ms}};
  if (e.tokenized) j["tokenized"] = e.tokenized;
  if (e.restored) j["restored"] = e.restored;
  if (e.unrestorable) j["unrestorable"] = e.unrestorable;
  if (!e.policy.empty()) j["policy"] = e.policy;
  if (!e.error.empty()) j["error"] = e.error;
  if (!e.tls_failure.empty()) j["tls_failure"] = e.tls_failure;
  if (e.destination == "tunnel") {
    j["tunnel_bytes_up"] = e.tunnel_bytes_up;
    j["tunnel_bytes_down"] = e.tunnel_bytes_down;
  }
  nlohmann::ordered_json findings = nlohmann::ordered_json::array();
  for (size_t i = 0; i < e.findings.size(); ++i) {
    const Finding& f = e.findings[i];
    nlohmann::ordered_json one = {
        {"rule", f.rule_id},
        {"category", to_string(f.category)},
        {"severity", to_string(f.severity)},
        {"action", to_string(i < e.actions.size() ? e.actions[i] : f.action)},
        {"location", f.location},
        {"length", f.length},
        {"fingerprint", f.fingerprint}};
    // The other rules that matched the same value (one finding per value).
    for (const auto& m : f.also_matched) one["also_matched"].push_back(m.rule_id);
    if (!f.origin.empty()) one["origin"] = f.origin;
    if (f.line) one["line"] = f.line;
    findings.push_back(std::move(one));
  }
  j["findings"] = std::move(findings);
  // Several replicas each write their own chain; the name tells their lines apart in a merged
  // log (`audit verify` checks each replica's chain on its own).
  if (!e.replica.empty()) j["replica"] = e.replica;
  if (e.after_block_values)
    j["after_block"] = {{"values", e.after_block_values}, {"first_block", e.after_block_first}};
  if (e.override_record) {
    const OverrideRecord& o = *e.override_record;
    nlohmann::ordered_json rec = {{"status", o.status}};
    if (!o.reason.empty()) rec["reason"] = o.reason;
    if (!o.code_id.empty()) rec["code_id"] = o.code_id;
    // User text: capped, and otherwise written as typed (dump escapes it).
    if (!o.justification.empty())
      rec["justification"] = std::string(utf8_prefix(o.justification, kMaxJustificationBytes));
    rec["fingerprints"] = o.fingerprints;
    j["override"] = std::move(rec);
  }
  // Paths and models come from the client; replace invalid UTF-8 rather than throw.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string AuditLog::console_line(const AuditEvent& e, std::time_t now) {
  std::tm local{};
  localtime_r(&now, &local);
  char time[16];
  std::strftime(time, sizeof time, "%H:%M:%S", &local);
  std::string line = std::string(time) + "  " + (e.method.empty() ? "-" : e.method) + " " + e.host;
  if (e.method == "CONNECT" || e.path.empty())
    line += ":" + std::to_string(e.port);
  else
    line += std::string(utf8_prefix(e.path, 80));
  line += "  " + e.decision;
  if (!e.enforced) line += " (monitor: not applied)";
  if (e.status) line += " " + std::to_string(e.status);
  std::vector<std::string> rules;
  for (const auto& f : e.findings)
    if (std::find(rules.begin(), rules.end(), f.rule_id) == rules.end()) rules.push_back(f.rule_id);
  for (size_t i = 0; i < rules.size(); ++i) line += (i ? ", " : "  ") + rules[i];
  if (!e.error.empty()) line += "  (" + std::string(utf8_prefix(e.error, 100)) + ")";
  return line;
}

void AuditLog::write(const AuditEvent& event) {
  // A failed handshake has its own stderr line already (connection.cc).
  if (console_ && event.tls_failure.empty()) {
    std::string line = console_line(event, std::time(nullptr)) + "\n";
    std::fwrite(line.data(), 1, line.size(), console_);
    std::fflush(console_);
  }
  if (!file_) return;
  const std::string body = to_json_line(event);  // "{...}": the chain fields go before the '}'
  std::lock_guard lock(mu_);
  std::string line;
  line.reserve(body.size() + 128);
  line.append(body, 0, body.size() - 1);
  line += ",\"seq\":" + std::to_string(next_seq_) + ",\"prev\":\"" + prev_hash_ + "\"";
  if (!segment_marker_.empty()) line += ",\"chain\":\"" + segment_marker_ + "\"";
  line += '}';
  // Hashed under the lock with the write, so the file order is the chain order.
  std::string hash = sha256_hex(line);
  line += '\n';
  size_t written = std::fwrite(line.data(), 1, line.size(), file_);
  bool ok = written == line.size() && std::fflush(file_) == 0;
  if (ok) {
    prev_hash_ = std::move(hash);
    ++next_seq_;
    segment_marker_.clear();
    return;
  }
  if (!reported_write_error_) {
    std::fprintf(stderr, "promptgate: audit log write failed: %s\n", std::strerror(errno));
    reported_write_error_ = true;
  }
  if (written > 0 && written < line.size()) {
    // Part of the line reached the file: end it and link the next line to the torn bytes, as a
    // restart after a crash would.
    std::string torn = line.substr(0, written);
    if (std::fwrite("\n", 1, 1, file_) == 1) {
      prev_hash_ = sha256_hex(torn);
      ++next_seq_;
      segment_marker_ = "restart";
    }
  }
}

namespace {
std::string seq_text(std::optional<uint64_t> s) {
  return s ? std::to_string(*s) : std::string("none");
}
}  // namespace

AuditChainVerifier::FileResult AuditChainVerifier::check(std::istream& in) {
  FileResult r;
  uint64_t n = 0;
  std::string line;
  // A line that is not JSON is accepted only when the next line restarts the chain from it.
  // (A plain struct, line 0 = none: GCC 12 misreports std::optional here as uninitialized.)
  struct Unreadable {
    uint64_t line = 0;
    bool had_newline = false;
    explicit operator bool() const { return line != 0; }
    void reset() { line = 0; }
  } unreadable;
  uint64_t unchained_first = 0, unchained_last = 0;  // a run of events without chain fields
  auto fail = [&](uint64_t at, std::string msg) {
    r.error = Issue{at, std::move(msg)};
    return r;
  };
  auto flush_unchained = [&] {
    if (unchained_first)
      r.warnings.push_back(
          {unchained_first, "lines " + std::to_string(unchained_first) + "-" +
                                std::to_string(unchained_last) +
                                " have no chain fields (written before the log was chained?); "
                                "they cannot be checked"});
    unchained_first = 0;
  };
  auto remember = [&](const std::string& hash, std::optional<uint64_t> seq) {
    have_previous_ = true;
    previous_hash_ = hash;
    previous_seq_ = seq;
    r.last_hash = hash;
  };

  while (std::getline(in, line)) {
    ++n;
    const bool had_newline = !in.eof();
    const std::string hash = sha256_hex(line);
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      if (unreadable) return fail(unreadable.line, "not a JSON event");
      unreadable.line = n;
      unreadable.had_newline = had_newline;
      remember(hash, std::nullopt);
      continue;
    }
    ++r.events;
    if (!j.contains("seq") && !j.contains("prev") && !j.contains("chain")) {
      if (unreadable) return fail(unreadable.line, "not a JSON event");
      if (chained_seen_)
        return fail(n, "no chain fields (seq, prev) after chained lines: inserted or edited");
      if (!unchained_first) unchained_first = n;
      unchained_last = n;
      remember(hash, std::nullopt);
      continue;
    }
    auto f = chain_fields(j);
    if (!f) return fail(n, "malformed chain fields (seq, prev or chain)");
    if (unreadable && f->marker != "restart") return fail(unreadable.line, "not a JSON event");
    flush_unchained();
    if (!r.first_seq) r.first_seq = f->seq;

    if (f->marker == "start") {
      if (f->prev != kChainOrigin || f->seq != 1)
        return fail(n, "a chain start must have seq 1 and prev 0...0");
      if (have_previous_)
        r.warnings.push_back({n,
                              "a new chain starts here: the lines before are not linked to it "
                              "(several runs logging to stdout, or lines replaced)"});
    } else if (!have_previous_) {
      if (f->marker == "restart")
        r.warnings.push_back({n, "the chain restarts here after a line that is not in this file"});
      else if (f->prev != kChainOrigin)
        r.warnings.push_back({n, "continues a chain from an earlier file (seq " +
                                     std::to_string(f->seq) +
                                     "); give the earlier files first to check the link"});
    } else if (f->prev != previous_hash_) {
      const std::string where =
          n == 1 ? "the last line of the previous file" : "line " + std::to_string(n - 1);
      if (f->marker != "restart" && previous_seq_ && f->seq == *previous_seq_ + 1) {
        // The seq numbers run on, so a line changed rather than moved. The next line tells
        // which: it still links to this line if the previous one was edited.
        std::string next;
        if (std::getline(in, next)) {
          auto nf = chain_fields(next);
          if (nf && nf->prev == hash)
            return fail(n == 1 ? 0 : n - 1,
                        where + " was edited: its hash no longer matches the prev of line " +
                            std::to_string(n));
          return fail(n, "edited: its prev (or the line it links to) was changed");
        }
        return fail(n == 1 ? 0 : n - 1, where + " was edited (or the prev of line " +
                                            std::to_string(n) + "): they no longer link");
      }
      return fail(n, "prev does not match " + where + " (seq " + seq_text(previous_seq_) +
                         " then " + std::to_string(f->seq) +
                         "): lines were deleted, inserted or reordered here");
    } else if (f->marker == "restart") {
      if (unreadable)
        r.warnings.push_back({unreadable.line,
                              "not a JSON event (a torn write?); the writer restarted the chain "
                              "after it at line " +
                                  std::to_string(n)});
      else
        r.warnings.push_back({n, "the chain restarts here after a line that was not chained"});
    } else if (!previous_seq_) {
      return fail(n, "follows an unchained line without a restart marker");
    } else if (f->seq != *previous_seq_ + 1) {
      return fail(n, "seq " + std::to_string(f->seq) + " does not follow " +
                         std::to_string(*previous_seq_) + ": a line was deleted or inserted");
    }
    if (f->marker == "restart" && previous_seq_ && f->seq <= *previous_seq_)
      return fail(
          n, "seq " + std::to_string(f->seq) + " is not after " + std::to_string(*previous_seq_));
    unreadable.reset();
    chained_seen_ = true;
    r.last_seq = f->seq;
    remember(hash, f->seq);
    if (!had_newline)
      r.warnings.push_back({n, "the last line has no newline (the file was cut here?)"});
  }
  flush_unchained();
  if (unreadable) {
    if (unreadable.had_newline) return fail(unreadable.line, "not a JSON event");
    r.warnings.push_back({unreadable.line,
                          "torn last line (the writer stopped mid-write); promptgate restarts "
                          "the chain after it on its next start"});
  }
  return r;
}

}  // namespace promptgate::proxy
