// Streaming decoders for HTTP Content-Encoding, so the proxy scans what the upstream will read.
//
//   std::string error;
//   auto decoder = ContentDecoder::create("gzip", /*max_output=*/32 << 20, error);
//   if (!decoder) -> 415, error says which coding is not supported
//   decoder->decode(piece, out);   // appends decoded bytes; false on corrupt input or output limit
//   decoder->finish(out);          // false when the stream was cut short
//
// Supports identity, gzip / x-gzip, deflate (zlib-wrapped, and raw deflate as some clients send),
// br and zstd, and comma-separated lists ("gzip, br": applied in order, so decoded in reverse).
// The output limit guards against decompression bombs: past it, decode() fails and
// output_limit_exceeded() is true (the proxy answers 413).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace promptgate::proxy {

class ContentDecoder {
 public:
  virtual ~ContentDecoder() = default;
  // nullptr (and `error` set) when a coding in the list is unknown or the list is malformed.
  static std::unique_ptr<ContentDecoder> create(std::string_view content_encoding,
                                                size_t max_output, std::string& error);
  virtual bool decode(std::string_view in, std::string& out) = 0;
  virtual bool finish(std::string& out) = 0;
  virtual const std::string& error() const = 0;
  virtual bool output_limit_exceeded() const = 0;
};

}  // namespace promptgate::proxy
