// Puts secrets back into a model's answer (action `tokenize`): the request carried stand-ins
// (detectors/standin.h), and wherever the answer repeats one, the client gets the original.
//
//   std::shared_ptr<const Substitutions> subs = conversation->restorations();
//   StreamRestorer restorer(subs);
//   for each chunk of the de-chunked, decompressed SSE body: send(restorer.feed(chunk));
//   send(restorer.finish());
//   metrics: restorer.restored(), restorer.unrestorable(), restorer.oversized_events()
//
//   std::string body = restore_json_body(json_body, *subs);   // a non-streaming answer
//
// The restorer parses the Anthropic Messages event stream incrementally (bytes may be split
// anywhere; lines end in \n or \r\n). Every event except a `content_block_delta` whose delta is
// `text_delta` or `input_json_delta` passes through byte for byte as soon as it is complete, and
// so does a delta with nothing to restore. In `text` the original is written as is; in
// `partial_json` (JSON text: the stand-in sits inside a string literal) it is written
// JSON-escaped. A delta that ends with a proper prefix of a stand-in keeps those characters back
// (per content block index, fewer than the longest stand-in) and puts them in front of the
// block's next delta; a `content_block_stop`, `message_delta`, `message_stop` or `error` first
// releases what its block (or every block) holds as a delta of its own. With no substitutions,
// feed() returns its input unchanged.
//
// unrestorable(): content blocks still holding a stand-in prefix when the input ended (finish()),
// i.e. a stand-in cut off by the end of the stream; those characters are released as they are.
// Held text released by a content_block_stop (the model ended the block inside what looked like
// the start of a stand-in) is ordinary text and counted in released_at_block_end().
// An event larger than kMaxEventBytes is passed through unparsed (oversized_events()).
// Substitutions hold secrets: they are wiped when destroyed and must never be logged.
#pragma once

#include <bitset>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promptgate::proxy {

// An immutable map stand-in -> original for one answer.
class Substitutions {
 public:
  Substitutions() = default;
  // Stand-ins shorter than 2 characters are ignored; for a duplicated stand-in the first wins.
  explicit Substitutions(std::vector<std::pair<std::string, std::string>> standin_to_original);
  ~Substitutions();
  Substitutions(const Substitutions&) = delete;
  Substitutions& operator=(const Substitutions&) = delete;

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  size_t max_standin_length() const { return max_length_; }

  // Appends `text` to `out` with every complete stand-in replaced by its original (JSON-escaped
  // when `json` is set), leftmost first, the longest where several start at one place. Unless
  // `final`, stops at a trailing proper prefix of a stand-in and returns where it starts (else
  // text.size()). `restored` counts the replacements.
  size_t restore(std::string_view text, bool json, bool final, std::string& out,
                 uint64_t& restored) const;

 private:
  struct Entry {
    std::string standin, original, original_json;
  };
  std::vector<Entry> entries_;  // sorted by stand-in
  std::bitset<65536> first_pairs_;
  std::bitset<256> first_bytes_;
  size_t max_length_ = 0;
};

class StreamRestorer {
 public:
  static constexpr size_t kMaxEventBytes = 1 << 20;

  explicit StreamRestorer(std::shared_ptr<const Substitutions> substitutions);
  // Returns the bytes that can be sent now.
  std::string feed(std::string_view response_bytes);
  // End of the input: releases whatever is held back.
  std::string finish();

  uint64_t restored() const { return restored_; }
  uint64_t unrestorable() const { return unrestorable_; }
  uint64_t released_at_block_end() const { return released_at_block_end_; }
  uint64_t oversized_events() const { return oversized_events_; }
  // The most text ever held back for one content block.
  size_t max_held_bytes() const { return max_held_bytes_; }

 private:
  struct Held {
    std::string text;
    bool json = false;  // input_json_delta (else text_delta)
  };
  void process_event(std::string_view raw, std::string& out);
  void release(int64_t index, std::string& out);
  void release_all(std::string& out);
  void synthetic_delta(int64_t index, const Held& held, std::string_view text, std::string& out);
  std::string oversized_passthrough(std::string_view bytes, std::string& out);

  std::shared_ptr<const Substitutions> subs_;
  std::string buf_;       // bytes of the event being received
  size_t scan_from_ = 0;  // buf_ is scanned for the blank line up to here
  bool passthrough_ = false;
  bool passthrough_line_start_ = false;
  std::string eol_ = "\n";
  std::map<int64_t, Held> held_;
  uint64_t restored_ = 0, unrestorable_ = 0, released_at_block_end_ = 0, oversized_events_ = 0;
  size_t max_held_bytes_ = 0;
};

// A non-streaming JSON answer: every stand-in in the raw body is replaced by its original,
// JSON-escaped (stand-ins need no escaping, so they appear in the body as they are).
std::string restore_json_body(std::string_view body, const Substitutions& substitutions,
                              uint64_t* restored = nullptr);

}  // namespace promptgate::proxy
