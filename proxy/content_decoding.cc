// Streaming Content-Encoding decoders (gzip, deflate, br, zstd, identity) chained in the reverse
// of the order the codings were applied, with every stage's output bounded.
#include "proxy/content_decoding.h"

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include <vector>

namespace promptgate::proxy {
namespace {

// Each stage produces output in pieces of at most this size and hands each piece on at once, so
// a bomb is caught after one step and no stage ever holds a large buffer.
constexpr size_t kStep = 64 * 1024;
// More layers than any real client sends; bounds the work one header can ask for.
constexpr size_t kMaxLayers = 4;
// RFC 9659 lets HTTP zstd decoders refuse windows above 8 MiB; larger ones would let a sender
// make us allocate up to the library's default maximum (128 MiB) per stream.
constexpr int kZstdWindowLogMax = 23;

struct Shared {
  size_t max_output;
  std::string error;
  bool failed = false;
  bool limit_exceeded = false;
};

class Stage {
 public:
  Stage(const char* name, Shared& shared) : name_(name), shared_(shared) {}
  virtual ~Stage() = default;
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  // Consumes all of `in`, passing decoded bytes on; false (with the shared error set) on failure.
  virtual bool feed(std::string_view in) = 0;
  // The input is complete: false when the stream was cut short.
  virtual bool end() = 0;

  void connect(Stage* next, std::string* out) {
    next_ = next;
    out_ = out;
  }

 protected:
  bool emit(const void* data, size_t n) {
    if (n == 0) return true;
    // Intermediate stages are bounded too: a small input must not make any layer do unbounded
    // work, even one whose output the next layer shrinks again.
    if (n > shared_.max_output - produced_) {
      shared_.limit_exceeded = true;
      return fail("decoded output exceeds the limit of " + std::to_string(shared_.max_output) +
                  " bytes");
    }
    produced_ += n;
    if (next_) return next_->feed({static_cast<const char*>(data), n});
    out_->append(static_cast<const char*>(data), n);
    return true;
  }

  bool fail(const std::string& why) {
    if (!shared_.failed) {
      shared_.failed = true;
      shared_.error = std::string(name_) + ": " + why;
    }
    return false;
  }

  const char* name_;
  Shared& shared_;
  bool saw_input_ = false;

 private:
  Stage* next_ = nullptr;
  std::string* out_ = nullptr;
  size_t produced_ = 0;
};

class IdentityStage final : public Stage {
 public:
  using Stage::Stage;
  bool feed(std::string_view in) override {
    for (size_t pos = 0; pos < in.size(); pos += kStep) {
      if (!emit(in.data() + pos, std::min(kStep, in.size() - pos))) return false;
    }
    return true;
  }
  bool end() override { return true; }
};

class ZlibStage final : public Stage {
 public:
  enum class Kind { gzip, deflate };
  ZlibStage(const char* name, Shared& shared, Kind kind)
      : Stage(name, shared), kind_(kind), buf_(kStep) {}
  ~ZlibStage() override {
    if (initialized_) inflateEnd(&strm_);
  }

  bool feed(std::string_view in) override {
    if (in.empty()) return true;
    saw_input_ = true;
    if (!initialized_) {
      if (kind_ == Kind::gzip) return init(16 + MAX_WBITS) && inflate_all(in);
      // "deflate" means zlib-wrapped (RFC 9110), but some clients send raw deflate; two bytes
      // tell them apart, and they may arrive one at a time.
      header_.append(in);
      if (header_.size() < 2) return true;
      const auto b0 = static_cast<unsigned char>(header_[0]);
      const auto b1 = static_cast<unsigned char>(header_[1]);
      const bool zlib_header =
          (b0 & 0x0f) == Z_DEFLATED && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 == 0;
      if (!init(zlib_header ? MAX_WBITS : -MAX_WBITS)) return false;
      std::string pending = std::move(header_);
      header_.clear();
      return inflate_all(pending);
    }
    return inflate_all(in);
  }

  bool end() override {
    if (!saw_input_) return true;  // an empty body: nothing was encoded
    if (!stream_ended_) return fail("truncated stream");
    return true;
  }

 private:
  bool init(int window_bits) {
    if (inflateInit2(&strm_, window_bits) != Z_OK) return fail("cannot initialize zlib");
    initialized_ = true;
    return true;
  }

  bool inflate_all(std::string_view in) {
    // avail_in is 32 bits wide.
    constexpr size_t kSlice = size_t{1} << 30;
    for (size_t pos = 0; pos < in.size(); pos += kSlice) {
      if (!inflate_slice(in.substr(pos, kSlice))) return false;
    }
    return true;
  }

  bool inflate_slice(std::string_view in) {
    strm_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    strm_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      if (stream_ended_) {
        if (strm_.avail_in == 0) return true;
        // Concatenated gzip members form one valid body; anything else after the end is not.
        if (kind_ != Kind::gzip) return fail("unexpected data after the end of the stream");
        if (inflateReset(&strm_) != Z_OK) return fail("cannot reset zlib");
        stream_ended_ = false;
      }
      strm_.next_out = buf_.data();
      strm_.avail_out = static_cast<uInt>(buf_.size());
      const int rc = inflate(&strm_, Z_NO_FLUSH);
      const size_t produced = buf_.size() - strm_.avail_out;
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        if (rc == Z_NEED_DICT) return fail("corrupt data (preset dictionary required)");
        return fail(std::string("corrupt data (") + (strm_.msg ? strm_.msg : "zlib error") + ")");
      }
      if (!emit(buf_.data(), produced)) return false;
      if (rc == Z_STREAM_END) {
        stream_ended_ = true;
        continue;
      }
      // Z_BUF_ERROR: no progress possible, i.e. all input consumed and all output flushed.
      if (rc == Z_BUF_ERROR || (strm_.avail_in == 0 && strm_.avail_out != 0)) return true;
    }
  }

  Kind kind_;
  z_stream strm_{};
  bool initialized_ = false;
  bool stream_ended_ = false;
  std::string header_;
  std::vector<unsigned char> buf_;
};

class BrotliStage final : public Stage {
 public:
  BrotliStage(const char* name, Shared& shared)
      : Stage(name, shared),
        state_(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr)),
        buf_(kStep) {}
  ~BrotliStage() override {
    if (state_) BrotliDecoderDestroyInstance(state_);
  }

  bool feed(std::string_view in) override {
    if (in.empty()) return true;
    if (!state_) return fail("cannot initialize brotli");
    saw_input_ = true;
    if (done_) return fail("unexpected data after the end of the stream");
    size_t avail_in = in.size();
    const auto* next_in = reinterpret_cast<const uint8_t*>(in.data());
    for (;;) {
      size_t avail_out = buf_.size();
      uint8_t* next_out = buf_.data();
      const BrotliDecoderResult rc = BrotliDecoderDecompressStream(state_, &avail_in, &next_in,
                                                                   &avail_out, &next_out, nullptr);
      if (rc == BROTLI_DECODER_RESULT_ERROR)
        return fail(std::string("corrupt data (") +
                    BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state_)) + ")");
      if (!emit(buf_.data(), buf_.size() - avail_out)) return false;
      if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
        done_ = true;
        if (avail_in != 0) return fail("unexpected data after the end of the stream");
        return true;
      }
      if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return true;
      // BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT: go round with an empty buffer.
    }
  }

  bool end() override {
    if (saw_input_ && !done_) return fail("truncated stream");
    return true;
  }

 private:
  BrotliDecoderState* state_;
  bool done_ = false;
  std::vector<uint8_t> buf_;
};

class ZstdStage final : public Stage {
 public:
  ZstdStage(const char* name, Shared& shared)
      : Stage(name, shared), dctx_(ZSTD_createDCtx()), buf_(kStep) {
    if (dctx_) ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, kZstdWindowLogMax);
  }
  ~ZstdStage() override { ZSTD_freeDCtx(dctx_); }

  bool feed(std::string_view in) override {
    if (in.empty()) return true;
    if (!dctx_) return fail("cannot initialize zstd");
    saw_input_ = true;
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      ZSTD_outBuffer output{buf_.data(), buf_.size(), 0};
      // After a frame ends the context starts the next one by itself, so several frames in a
      // row (as independent compressors produce) decode as one body.
      const size_t consumed_before = input.pos;
      const size_t rc = ZSTD_decompressStream(dctx_, &output, &input);
      if (ZSTD_isError(rc))
        return fail(std::string("corrupt data (") + ZSTD_getErrorName(rc) + ")");
      if (!note_header(in.substr(consumed_before, input.pos - consumed_before))) return false;
      frame_complete_ = rc == 0;
      frame_output_ += output.pos;
      if (!emit(buf_.data(), output.pos)) return false;
      if (frame_complete_ && !frame_size_matches()) return false;
      if (input.pos == input.size && (frame_complete_ || output.pos < output.size)) return true;
    }
  }

  bool end() override {
    if (saw_input_ && !frame_complete_) return fail("truncated stream");
    return true;
  }

 private:
  // libzstd checks a frame's declared content size when it decodes the frame in one call (the
  // whole frame in one input), but not when the frame arrives in pieces: a frame declaring
  // 11,688 bytes that holds none was refused whole and accepted split. The check is made here
  // for every frame, so a body is accepted or refused however the network cut it.
  // False (and failed) for a frame that is not RFC 8878's: libzstd also reads its legacy
  // formats (v0.5-v0.7), but only when such a frame arrives whole, never in pieces.
  bool note_header(std::string_view consumed) {
    if (header_known_) return true;
    header_.append(consumed.substr(0, std::min(consumed.size(), kHeaderMax - header_.size())));
    if (header_.size() >= 4 && magic() != kZstdMagic && !skippable())
      return fail("corrupt data (not a zstd frame: a legacy or unknown format)");
    const unsigned long long size = ZSTD_getFrameContentSize(header_.data(), header_.size());
    if (size == ZSTD_CONTENTSIZE_ERROR) {  // not all of the header yet
      if (header_.size() == kHeaderMax) header_known_ = true;
      return true;
    }
    header_known_ = true;
    declared_size_ = skippable() ? ZSTD_CONTENTSIZE_UNKNOWN : size;  // a skippable one says 0
    return true;
  }

  uint32_t magic() const {  // the frame's first 4 bytes, little endian
    uint32_t m = 0;
    for (int i = 3; i >= 0; --i) m = m << 8 | static_cast<unsigned char>(header_[i]);
    return m;
  }

  bool skippable() const {
    return header_.size() >= 4 &&
           (magic() & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
  }

  // At the end of a frame: its output against the size its header declared, then reset.
  bool frame_size_matches() {
    const bool matches =
        declared_size_ == ZSTD_CONTENTSIZE_UNKNOWN || frame_output_ == declared_size_;
    header_.clear();
    header_known_ = false;
    declared_size_ = ZSTD_CONTENTSIZE_UNKNOWN;
    frame_output_ = 0;
    return matches || fail("corrupt data (a frame's content differs from its declared size)");
  }

  static constexpr size_t kHeaderMax = 18;  // ZSTD_FRAMEHEADERSIZE_MAX, an unstable API's name
  static constexpr uint32_t kZstdMagic = 0xFD2FB528;  // ZSTD_MAGICNUMBER
  ZSTD_DCtx* dctx_;
  std::string header_;  // the current frame's first bytes, until its header is read
  bool header_known_ = false;
  unsigned long long declared_size_ = ZSTD_CONTENTSIZE_UNKNOWN;
  unsigned long long frame_output_ = 0;
  bool frame_complete_ = true;
  std::vector<char> buf_;
};

class ChainDecoder final : public ContentDecoder {
 public:
  explicit ChainDecoder(size_t max_output) { shared_.max_output = max_output; }

  bool decode(std::string_view in, std::string& out) override {
    if (shared_.failed) return false;
    stages_.back()->connect(nullptr, &out);
    return stages_.front()->feed(in);
  }

  bool finish(std::string& out) override {
    if (shared_.failed) return false;
    stages_.back()->connect(nullptr, &out);
    // In input order: each stage's end may flush into the next before that one ends.
    for (auto& stage : stages_) {
      if (!stage->end()) return false;
    }
    return true;
  }

  const std::string& error() const override { return shared_.error; }
  bool output_limit_exceeded() const override { return shared_.limit_exceeded; }

  // Stages are added outermost coding first, i.e. in the order the input must pass them.
  void add(std::unique_ptr<Stage> stage) {
    if (!stages_.empty()) stages_.back()->connect(stage.get(), nullptr);
    stages_.push_back(std::move(stage));
  }
  Shared& shared() { return shared_; }
  bool empty() const { return stages_.empty(); }

 private:
  Shared shared_;
  std::vector<std::unique_ptr<Stage>> stages_;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::unique_ptr<ContentDecoder> ContentDecoder::create(std::string_view content_encoding,
                                                       size_t max_output, std::string& error) {
  // The header lists codings in the order they were applied; split it, then build the chain
  // from the last one (the outermost) inwards.
  std::vector<std::string> codings;
  size_t start = 0;
  while (start <= content_encoding.size()) {
    size_t comma = content_encoding.find(',', start);
    if (comma == std::string_view::npos) comma = content_encoding.size();
    std::string_view item = trim(content_encoding.substr(start, comma - start));
    // Empty list elements are allowed by HTTP's list syntax ("gzip, , br").
    if (!item.empty()) {
      std::string coding = lowercase(item);
      if (coding == "x-gzip") coding = "gzip";
      if (coding != "gzip" && coding != "deflate" && coding != "br" && coding != "zstd" &&
          coding != "identity") {
        error = "unsupported Content-Encoding '" + std::string(item) + "'";
        return nullptr;
      }
      if (coding != "identity") codings.push_back(std::move(coding));
    }
    start = comma + 1;
  }
  if (codings.size() > kMaxLayers) {
    error = "too many Content-Encoding layers (" + std::to_string(codings.size()) + ", at most " +
            std::to_string(kMaxLayers) + ")";
    return nullptr;
  }

  auto decoder = std::make_unique<ChainDecoder>(max_output);
  Shared& shared = decoder->shared();
  for (auto it = codings.rbegin(); it != codings.rend(); ++it) {
    const std::string& coding = *it;
    if (coding == "gzip") {
      decoder->add(std::make_unique<ZlibStage>("gzip", shared, ZlibStage::Kind::gzip));
    } else if (coding == "deflate") {
      decoder->add(std::make_unique<ZlibStage>("deflate", shared, ZlibStage::Kind::deflate));
    } else if (coding == "br") {
      decoder->add(std::make_unique<BrotliStage>("br", shared));
    } else {  // zstd, the one coding left after the check above
      decoder->add(std::make_unique<ZstdStage>("zstd", shared));
    }
  }
  if (decoder->empty()) decoder->add(std::make_unique<IdentityStage>("identity", shared));
  error.clear();
  return decoder;
}

}  // namespace promptgate::proxy
