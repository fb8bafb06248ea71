// Stand-ins back to originals in an answer; see sse_restorer.h.
#include "proxy/sse_restorer.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "detectors/redactor.h"

namespace promptgate::proxy {

namespace {

void wipe(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

struct Line {
  std::string_view content;  // without its line ending
  std::string_view eol;      // "\n", "\r\n" or "" (the last line of an unterminated event)
};

std::vector<Line> split_lines(std::string_view raw) {
  std::vector<Line> lines;
  size_t at = 0;
  while (at < raw.size()) {
    size_t nl = raw.find('\n', at);
    if (nl == std::string_view::npos) {
      lines.push_back({raw.substr(at), {}});
      break;
    }
    size_t end = nl > at && raw[nl - 1] == '\r' ? nl - 1 : nl;
    lines.push_back({raw.substr(at, end - at), raw.substr(end, nl + 1 - end)});
    at = nl + 1;
  }
  return lines;
}

// The field name and value of an SSE line ("data: x" -> data, x).
std::pair<std::string_view, std::string_view> field_of(std::string_view line) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return {line, {}};
  std::string_view value = line.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  return {line.substr(0, colon), value};
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

// --- Substitutions ---------------------------------------------------------------------------

Substitutions::Substitutions(std::vector<std::pair<std::string, std::string>> standin_to_original) {
  for (auto& [standin, original] : standin_to_original) {
    if (standin.size() < 2) {
      wipe(original);
      continue;
    }
    std::string escaped = json_escape(original);
    entries_.push_back({std::move(standin), std::move(original), std::move(escaped)});
  }
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.standin < b.standin; });
  auto dup = std::unique(entries_.begin(), entries_.end(),
                         [](const Entry& a, const Entry& b) { return a.standin == b.standin; });
  for (auto it = dup; it != entries_.end(); ++it) {
    wipe(it->original);
    wipe(it->original_json);
  }
  entries_.erase(dup, entries_.end());
  for (const auto& e : entries_) {
    auto b0 = static_cast<unsigned char>(e.standin[0]);
    auto b1 = static_cast<unsigned char>(e.standin[1]);
    first_bytes_.set(b0);
    first_pairs_.set(static_cast<size_t>(b0) << 8 | b1);
    max_length_ = std::max(max_length_, e.standin.size());
  }
}

Substitutions::~Substitutions() {
  for (auto& e : entries_) {
    wipe(e.original);
    wipe(e.original_json);
  }
}

size_t Substitutions::restore(std::string_view text, bool json, bool final, std::string& out,
                              uint64_t& restored) const {
  size_t n = text.size(), p = 0, copied = 0;
  if (entries_.empty()) {
    out.append(text);
    return n;
  }
  while (p < n) {
    auto b0 = static_cast<unsigned char>(text[p]);
    if (!first_bytes_[b0]) {
      ++p;
      continue;
    }
    size_t rem = n - p;
    const Entry* best = nullptr;
    bool partial = false;
    if (rem == 1) {
      partial = true;
    } else {
      auto b1 = static_cast<unsigned char>(text[p + 1]);
      if (!first_pairs_[static_cast<size_t>(b0) << 8 | b1]) {
        ++p;
        continue;
      }
      std::string_view pair = text.substr(p, 2);
      auto it = std::lower_bound(entries_.begin(), entries_.end(), pair,
                                 [](const Entry& e, std::string_view v) { return e.standin < v; });
      for (; it != entries_.end() && std::string_view(it->standin).substr(0, 2) == pair; ++it) {
        const std::string& s = it->standin;
        if (s.size() <= rem) {
          if (text.compare(p, s.size(), s) == 0 && (!best || s.size() > best->standin.size()))
            best = &*it;
        } else if (!partial && text.substr(p) == std::string_view(s).substr(0, rem)) {
          partial = true;
        }
      }
    }
    if (partial && !final) {
      out.append(text.substr(copied, p - copied));
      return p;
    }
    if (best) {
      out.append(text.substr(copied, p - copied));
      out += json ? best->original_json : best->original;
      ++restored;
      p += best->standin.size();
      copied = p;
      continue;
    }
    ++p;
  }
  out.append(text.substr(copied));
  return n;
}

// --- StreamRestorer --------------------------------------------------------------------------

StreamRestorer::StreamRestorer(std::shared_ptr<const Substitutions> substitutions)
    : subs_(std::move(substitutions)) {
  if (!subs_) subs_ = std::make_shared<const Substitutions>();
}

std::string StreamRestorer::feed(std::string_view bytes) {
  if (subs_->empty()) return std::string(bytes);
  std::string out;
  if (passthrough_) {
    std::string rest = oversized_passthrough(bytes, out);
    if (passthrough_) return out;
    buf_ = std::move(rest);
    scan_from_ = 0;
  } else {
    buf_.append(bytes);
  }
  size_t begin = 0;  // start of the current event in buf_
  for (;;) {
    bool complete = false;
    while (!complete) {
      size_t nl = buf_.find('\n', scan_from_);
      if (nl == std::string::npos) break;
      size_t line_start = scan_from_;
      scan_from_ = nl + 1;
      size_t len = nl - line_start;
      if (len > 0 && buf_[nl - 1] == '\r') --len;
      complete = len == 0;
    }
    if (complete) {
      std::string_view raw = std::string_view(buf_).substr(begin, scan_from_ - begin);
      if (raw.size() > kMaxEventBytes) {
        release_all(out);
        ++oversized_events_;
        out.append(raw);
      } else {
        process_event(raw, out);
      }
      begin = scan_from_;
      continue;
    }
    if (buf_.size() - begin > kMaxEventBytes) {
      // Too large to hold: release what is held, then let this event through untouched.
      release_all(out);
      ++oversized_events_;
      std::string_view partial_line = std::string_view(buf_).substr(scan_from_);
      passthrough_ = true;
      passthrough_line_start_ = partial_line.empty() || partial_line == "\r";
      out.append(buf_, begin, std::string::npos);
      buf_.clear();
      scan_from_ = 0;
      return out;
    }
    break;
  }
  buf_.erase(0, begin);
  scan_from_ -= begin;
  return out;
}

// Emits bytes of an oversized event up to its end; returns what follows the end.
std::string StreamRestorer::oversized_passthrough(std::string_view bytes, std::string& out) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c == '\n') {
      if (passthrough_line_start_) {
        passthrough_ = false;
        out.append(bytes.substr(0, i + 1));
        return std::string(bytes.substr(i + 1));
      }
      passthrough_line_start_ = true;
    } else if (c != '\r') {
      passthrough_line_start_ = false;
    }
  }
  out.append(bytes);
  return {};
}

std::string StreamRestorer::finish() {
  std::string out;
  if (subs_->empty()) return out;
  // A block still holding text when the input ends was cut off inside a stand-in.
  unrestorable_ += held_.size();
  for (auto& [index, held] : held_) {
    std::string text;
    subs_->restore(held.text, held.json, true, text, restored_);
    synthetic_delta(index, held, text, out);
    wipe(held.text);
  }
  held_.clear();
  out += buf_;  // an unterminated last event, as it came
  buf_.clear();
  scan_from_ = 0;
  passthrough_ = false;
  return out;
}

void StreamRestorer::release(int64_t index, std::string& out) {
  auto it = held_.find(index);
  if (it == held_.end()) return;
  ++released_at_block_end_;
  std::string text;
  subs_->restore(it->second.text, it->second.json, true, text, restored_);
  synthetic_delta(index, it->second, text, out);
  wipe(it->second.text);
  held_.erase(it);
}

void StreamRestorer::release_all(std::string& out) {
  while (!held_.empty()) release(held_.begin()->first, out);
}

void StreamRestorer::synthetic_delta(int64_t index, const Held& held, std::string_view text,
                                     std::string& out) {
  if (text.empty()) return;
  nlohmann::ordered_json delta = {{"type", held.json ? "input_json_delta" : "text_delta"},
                                  {held.json ? "partial_json" : "text", std::string(text)}};
  nlohmann::ordered_json event = {
      {"type", "content_block_delta"}, {"index", index}, {"delta", std::move(delta)}};
  out += "event: content_block_delta";
  out += eol_;
  out += "data: ";
  out += dump(event);
  out += eol_;
  out += eol_;
}

void StreamRestorer::process_event(std::string_view raw, std::string& out) {
  std::vector<Line> lines = split_lines(raw);
  std::string_view name;
  std::string data;
  bool has_data = false;
  for (const auto& line : lines) {
    if (line.content.empty() || line.content[0] == ':') continue;
    auto [field, value] = field_of(line.content);
    if (field == "event") {
      name = value;
    } else if (field == "data") {
      if (has_data) data.push_back('\n');
      data.append(value);
      has_data = true;
    }
  }
  if (!lines.empty() && !lines.front().eol.empty()) eol_ = std::string(lines.front().eol);
  if (name.empty() && has_data) {  // the type may be given in the data only
    if (data.find("\"content_block_delta\"") != std::string::npos) {
      name = "content_block_delta";
    } else if (data.find("\"content_block_stop\"") != std::string::npos) {
      name = "content_block_stop";
    }
  }

  if (name == "message_delta" || name == "message_stop" || name == "error") {
    release_all(out);
  } else if (name == "content_block_stop") {
    auto j = nlohmann::ordered_json::parse(data, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("index") && j["index"].is_number_integer())
      release(j["index"].get<int64_t>(), out);
  }
  if (name != "content_block_delta" || !has_data) {
    out.append(raw);
    return;
  }

  auto j = nlohmann::ordered_json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("index") ||
      !j["index"].is_number_integer() || !j.contains("delta") || !j["delta"].is_object()) {
    out.append(raw);
    return;
  }
  auto& delta = j["delta"];
  // Not value("type", ""): it throws when the upstream sends a type that is not a string.
  auto type_field = delta.find("type");
  std::string type = type_field != delta.end() && type_field->is_string()
                         ? type_field->get<std::string>()
                         : std::string();
  bool json = type == "input_json_delta";
  const char* field = json ? "partial_json" : "text";
  if ((type != "text_delta" && !json) || !delta.contains(field) || !delta[field].is_string()) {
    out.append(raw);
    return;
  }
  int64_t index = j["index"].get<int64_t>();
  const std::string& fresh = delta[field].get_ref<const std::string&>();
  Held& held = held_[index];
  held.json = json;
  bool had_held = !held.text.empty();
  std::string text = std::move(held.text);
  text += fresh;
  std::string restored;
  uint64_t before = restored_;
  size_t cut = subs_->restore(text, json, false, restored, restored_);
  held.text = text.substr(cut);
  wipe(text);
  max_held_bytes_ = std::max(max_held_bytes_, held.text.size());
  if (held.text.empty()) held_.erase(index);
  if (!had_held && cut == fresh.size() && restored_ == before) {
    out.append(raw);  // nothing restored, nothing held: the event as it came
    return;
  }
  if (restored.empty()) return;  // all of it is held back for now
  delta[field] = std::move(restored);
  std::string new_data = dump(j);
  wipe(delta[field].get_ref<std::string&>());
  bool data_written = false;
  for (const auto& line : lines) {
    if (!line.content.empty() && line.content[0] != ':' && field_of(line.content).first == "data") {
      if (data_written) continue;
      data_written = true;
      out += "data: ";
      out += new_data;
    } else {
      out.append(line.content);
    }
    out.append(line.eol);
  }
  wipe(new_data);
}

std::string restore_json_body(std::string_view body, const Substitutions& substitutions,
                              uint64_t* restored) {
  std::string out;
  uint64_t count = 0;
  substitutions.restore(body, true, true, out, count);
  if (restored) *restored += count;
  return out;
}

}  // namespace promptgate::proxy
