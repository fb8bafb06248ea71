// Small, Boost-free readings of an HTTP request's head that the proxy's stages share: which
// header fields are hop-by-hop, whether a Transfer-Encoding is only chunked, the query string
// percent-decoded for scanning, and the model a JSON body names (for the audit log).
//
//   if (!only_chunked(transfer_encoding_values)) refuse();
//   scanner.scan(percent_decode(query), InputFormat::text);
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace promptgate::proxy {

// ASCII case-insensitive equality (header names and tokens).
bool ascii_iequals(std::string_view a, std::string_view b);

// Fields that describe one connection, not the request: never copied upstream.
bool is_hop_by_hop(std::string_view name);

// True when every coding in the Transfer-Encoding values is chunked: a compressed transfer
// coding would be decoded by nobody (the proxy scans and forwards the bytes as they came).
bool only_chunked(const std::vector<std::string_view>& transfer_encoding_values);

// %XX sequences decoded and '+' read as a space, as a form-encoded query string means them.
std::string percent_decode(std::string_view s);

// The model named in a JSON body, for the audit log: the first "model" key with a short,
// name-like string value; empty when there is none. Cheap on purpose (no second JSON parse).
std::string model_of(std::string_view body);

}  // namespace promptgate::proxy
