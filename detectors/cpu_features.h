// Which optional x86 instruction sets this CPU has, checked once per process. Code compiled with
// __attribute__((target("avx2"))) or similar may only run where the matching flag is true:
//
//   if (cpu::has_avx2) return mask_avx2(p);   // else the SSE2 path
//
// Before dynamic initialisation the flags read false, which only selects the baseline path.
#pragma once

namespace promptgate::cpu {

#if defined(__x86_64__) && defined(__GNUC__)
inline const bool has_avx2 = __builtin_cpu_supports("avx2");
inline const bool has_ssse3 = __builtin_cpu_supports("ssse3");
inline const bool has_avx512bw = __builtin_cpu_supports("avx512bw");
#else
inline constexpr bool has_avx2 = false;
inline constexpr bool has_ssse3 = false;
inline constexpr bool has_avx512bw = false;
#endif

}  // namespace promptgate::cpu
