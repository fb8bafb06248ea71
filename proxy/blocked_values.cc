// The values already shown in a block, per conversation; see blocked_values.h.
#include "proxy/blocked_values.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "detectors/transcript.h"

namespace promptgate::proxy {

namespace {

// Clients mark a moving window of blocks for prompt caching; the mark is no part of what the
// user said.
void drop_cache_marks(nlohmann::json& j) {
  if (j.is_object()) {
    j.erase("cache_control");
    for (auto& [k, v] : j.items()) drop_cache_marks(v);
  } else if (j.is_array()) {
    for (auto& v : j) drop_cache_marks(v);
  }
}

constexpr size_t kMaxParsedFirstMessage = 4u << 20;

std::string trimmed(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == ' ' || s.back() == '\r' || s.back() == '\t'))
    s.pop_back();
  return s;
}

// What identifies a conversation in its first message: the first block the user wrote (the
// client's own <system-reminder> blocks are the same in every conversation of a day). Only that
// block, without trailing space: after a failed first turn, Claude Code merges the next prompt
// into the first message (a newline and more blocks appended), and the conversation must stay
// the same one.
std::string first_user_block(nlohmann::json message) {
  auto content = message.is_object() ? message.find("content") : message.end();
  if (!message.is_object() || content == message.end()) return message.dump();
  if (content->is_string()) return trimmed(content->get<std::string>());
  if (!content->is_array() || content->empty()) return content->dump();
  const nlohmann::json* chosen = &(*content)[0];
  for (const auto& block : *content) {
    bool reminder = block.is_object() && block.value("type", "") == "text" &&
                    block.value("text", "").starts_with("<system-reminder>");
    if (!reminder) {
      chosen = &block;
      break;
    }
  }
  if (chosen->is_object() && chosen->value("type", "") == "text")
    return trimmed(chosen->value("text", ""));
  nlohmann::json copy = *chosen;
  drop_cache_marks(copy);
  return copy.dump();
}

}  // namespace

BlockedValues::BlockedValues(Limits limits, Clock clock)
    : limits_(limits), clock_(std::move(clock)) {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1)
    throw std::runtime_error("BlockedValues: no random bytes for the digest key");
}

std::string BlockedValues::conversation_key(std::string_view owner,
                                            std::string_view body_json) const {
  auto first = first_message(body_json);
  if (!first) return {};
  std::string_view raw = body_json.substr(first->begin, first->end - first->begin);
  // A huge first message (a document) is digested as sent rather than parsed: the parse would
  // hold several copies of it outside the body budget.
  std::string canonical;
  try {
    if (raw.size() <= kMaxParsedFirstMessage)
      canonical = first_user_block(nlohmann::json::parse(raw));
    else
      canonical.assign(raw);
  } catch (const nlohmann::json::exception&) {
    canonical.assign(raw);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  const unsigned char zero = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), key_.data(), key_.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), owner.data(), owner.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), &zero, 1) != 1 ||
      EVP_DigestUpdate(ctx.get(), canonical.data(), canonical.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &n) != 1)
    return {};
  return std::string(reinterpret_cast<const char*>(digest), 16);
}

std::optional<std::string> BlockedValues::blocked_before(const std::string& conversation,
                                                         const std::string& fingerprint) {
  if (conversation.empty()) return std::nullopt;
  std::lock_guard lock(mu_);
  auto c = by_key_.find(conversation);
  if (c == by_key_.end()) return std::nullopt;
  auto v = c->second.values.find(fingerprint);
  if (v == c->second.values.end()) return std::nullopt;
  if (clock_() - v->second.at > limits_.ttl) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, c->second.lru);
  return v->second.request_id;
}

void BlockedValues::remember(const std::string& conversation,
                             const std::vector<std::string>& fingerprints,
                             const std::string& request_id) {
  if (conversation.empty() || fingerprints.empty()) return;
  std::lock_guard lock(mu_);
  auto now = clock_();
  auto [c, added] = by_key_.try_emplace(conversation);
  if (added) {
    lru_.push_front(conversation);
    c->second.lru = lru_.begin();
    if (by_key_.size() > limits_.max_conversations) {
      by_key_.erase(lru_.back());
      lru_.pop_back();
    }
  } else {
    lru_.splice(lru_.begin(), lru_, c->second.lru);
  }
  Conversation& conv = c->second;
  for (const auto& fp : fingerprints) {
    auto v = conv.values.find(fp);
    if (v != conv.values.end()) {
      if (now - v->second.at <= limits_.ttl) continue;  // keeps the first block's id
      conv.values.erase(v);
      conv.order.remove(fp);
    }
    conv.values.emplace(fp, Value{request_id, now});
    conv.order.push_back(fp);
    if (conv.order.size() > limits_.max_values) {
      conv.values.erase(conv.order.front());
      conv.order.pop_front();
    }
  }
}

void BlockedValues::forget(const std::string& conversation,
                           const std::vector<std::string>& fingerprints) {
  std::lock_guard lock(mu_);
  auto c = by_key_.find(conversation);
  if (c == by_key_.end()) return;
  for (const auto& fp : fingerprints)
    if (c->second.values.erase(fp)) c->second.order.remove(fp);
}

size_t BlockedValues::conversations() const {
  std::lock_guard lock(mu_);
  return by_key_.size();
}

}  // namespace promptgate::proxy
