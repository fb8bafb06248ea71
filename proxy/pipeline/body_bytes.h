// The buffer a request body is read into, and the request sent upstream holds. Its allocator
// leaves new bytes uninitialised: the buffer is sized from Content-Length (or grown for chunks)
// and then overwritten by the read, so zero-filling it first would be wasted work, and pages no
// read has touched cost no memory.
//
//   BodyBytes body;
//   body.resize(content_length);          // no memset
//   read_into(body.data(), body.size());
//   scan(as_view(body));
#pragma once

#include <memory>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace promptgate::proxy {

template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using BodyBytes = std::vector<char, UninitializedAllocator<char>>;

inline std::string_view as_view(const BodyBytes& b) {
  return std::string_view(b.data(), b.size());
}

}  // namespace promptgate::proxy
