#pragma once
// Branch-free, libm-free exp, expm1, log and log1p for float and double (vmath::exp(x) etc.),
// written so that GCC auto-vectorizes them inside plain loops over rows, at baseline x86-64
// (SSE2) as well as with AVX2/AVX-512 and NEON (no std:: calls, no tables, no branches, no libm).
//
// Compiled once per instruction-set variant of the kernels (src/kernels/tile_kernels.cpp): each
// translation unit that includes this header puts it in the inline namespace
// GWFLOW_KERNEL_ISA_NS (default `baseline`), so that the copies built with -march=x86-64-v4 and
// with the baseline flags are different functions to the linker, and one can never stand in for
// the other (an AVX-512 copy picked for a baseline caller would die with SIGILL on older CPUs).
//
// How:
// - float is computed in float with 32-bit integer bit operations, double in double with 64-bit
//   ones, so float vectorizes at twice the width of double. Bits are read and written through a
//   union pun (fine in GCC, clang and nvcc; GCC turns it into a plain register move).
// - No float<->int64 conversion instruction (SSE2/AVX2 have none): integers enter and leave the
//   floating-point domain through magic-number additions (x + 1.5 * 2^52 holds round(x) in its
//   low bits; the bits of 2^52 + e read as a double are 2^52 + e).
// - No `?:` and no comparison: every special case is a bit blend under a mask made from a sign
//   bit (v >> 63, negated) of an integer difference. A `?:` is lowered by GCC to a branch that
//   its optimizers then fill with floating-point work (sinking, jump threading), which the
//   vectorizer may not if-convert under -ftrapping-math (the default); and a comparison of
//   doubles turned into a 64-bit integer mask needs SSE4.2. The blends need neither. Only
//   integer add/sub/and/or/xor and shifts by constants are used (all in SSE2).
// - The functions are GWFLOW_FORCEINLINE: a call that is not inlined cannot be vectorized, and GCC's inliner alone
// leaves expm1 and
//   log1p out of line at -O2 and may do so in large kernels. Loops vectorize at -O3 (GCC 12's
//   -O2 cost model vectorizes none of these loops).
// - Nothing relies on -ffast-math (which would break the special cases) or on the absence of
//   FMA contraction: the bounds below hold under -ffp-contract=off and -ffp-contract=fast (GCC's
//   default for C++, -std=c++17 included: so -march=native builds use FMA and their last bits
//   differ from baseline builds; nvcc contracts too).
//
// Accuracy: all four functions are within 1 ulp over their whole domain, float and double
// (measured max: 0.75 to 0.85 ulp; every float input checked; tests/unit/simd_math_test.cpp).
//
// Special values: exp(+big) = +inf, exp(-big) = +0, exp(NaN) = NaN; expm1(+big) = +inf,
// expm1(-big) = -1, expm1(+-0) = +-0; log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf,
// log(NaN) = NaN; log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(+inf) = +inf, log1p(+-0) = +-0,
// log1p(NaN) = NaN. A NaN input is returned as is (a signalling NaN is not quieted).
// Floating-point status flags (inexact, overflow, invalid...) may be raised spuriously, as the
// special cases are computed and then discarded: harmless unless traps are enabled.
// Subnormals: exp's subnormal results come from gradual underflow (correctly scaled, error
// within 1 unit of the subnormal spacing), log rescales subnormal inputs (full accuracy), and
// expm1/log1p return a subnormal x itself. Like all subnormal arithmetic on x86 they are slow
// (microcode assists); with FTZ/DAZ set (gwflow sets neither) exp's subnormal results and
// expm1/log1p of subnormals flush to 0, and log of a subnormal is off (about log(2^-1077)).
#include <cstdint>
#include <type_traits>

#ifndef GWFLOW_FORCEINLINE
#if defined(__GNUC__)
#define GWFLOW_FORCEINLINE inline __attribute__((always_inline))
#else
#define GWFLOW_FORCEINLINE inline
#endif
#endif
#ifndef GWFLOW_KERNEL_ISA_NS
#define GWFLOW_KERNEL_ISA_NS baseline
#endif

namespace gwflow::kernels {
inline namespace GWFLOW_KERNEL_ISA_NS {
namespace vmath {
namespace detail {

// Bit casts.
GWFLOW_FORCEINLINE uint64_t to_bits(double x) {
  union {
    double f;
    uint64_t u;
  } v{x};
  return v.u;
}
GWFLOW_FORCEINLINE double from_bits(uint64_t u) {
  union {
    uint64_t u;
    double f;
  } v{u};
  return v.f;
}
GWFLOW_FORCEINLINE uint32_t to_bits(float x) {
  union {
    float f;
    uint32_t u;
  } v{x};
  return v.u;
}
GWFLOW_FORCEINLINE float from_bits(uint32_t u) {
  union {
    uint32_t u;
    float f;
  } v{u};
  return v.f;
}

template <typename T> struct Fp;

template <> struct Fp<double> {
  using U = uint64_t;
  static constexpr int kMantBits = 52;
  static constexpr U kBias = 1023;
  static constexpr U kAbsMask = 0x7fffffffffffffffull;
  static constexpr U kInfBits = 0x7ff0000000000000ull;
  static constexpr U kNanBits = 0x7ff8000000000000ull;
  static constexpr U kOneBits = 0x3ff0000000000000ull;
  static constexpr U kMinusOneBits = 0xbff0000000000000ull;
  static constexpr U kMinNormalBits = 0x0010000000000000ull;  // 2^-1022
  // Rounding to an integer: x + kShift holds round(x) in its low mantissa bits (|x| < 2^51),
  // i.e. to_bits(x + kShift) = kShiftBits + round(x).
  static constexpr double kShift = 0x1.8p52;
  static constexpr U kShiftBits = 0x4338000000000000ull;
  static constexpr double kInvLn2 = 0x1.71547652b82fep0;
  // ln 2 = kLn2Hi + kLn2Lo (fdlibm's split): kLn2Hi has 32 significant bits, so k * kLn2Hi is
  // exact for |k| < 2^21.
  static constexpr double kLn2Hi = 0x1.62e42feep-1;
  static constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;
  static constexpr double kLogLn2Hi = kLn2Hi, kLogLn2Lo = kLn2Lo;
  // exp clamps |x| to kExpClamp, expm1 x to [-kExpm1MinAbs, kExpm1Max] (given as bits):
  // e^750 overflows, e^-750 underflows to 0, expm1(710) overflows, expm1(-60) = -1, and 2^k
  // stays within reach of the two-step scaling.
  static constexpr U kExpClampBits = 0x4087700000000000ull;     // 750
  static constexpr U kExpm1MaxBits = 0x4086300000000000ull;     // 710
  static constexpr U kExpm1MinAbsBits = 0x404e000000000000ull;  // 60
  // expm1 drops 2^-k for k > kExpm1BigK (|2^-k| < 2^-100: no effect on the result).
  static constexpr int kExpm1BigK = 100;
  // log: mantissa split at sqrt(1/2) (its high word, as fdlibm/musl).
  static constexpr U kSqrtHalfBits = 0x3fe6a09e00000000ull;
  static constexpr U kMantMask = 0x000fffffffffffffull;
  // from_bits(kIntMagicBits + e) - kIntMagic == e - kBias exactly, for 0 <= e < 2^52.
  static constexpr U kIntMagicBits = 0x4330000000000000ull;  // 2^52
  static constexpr double kIntMagic = 0x1p52 + 1023.0;
  // Subnormal inputs of log are scaled by 2^kSubScaleLog2 first.
  static constexpr double kSubScale = 0x1p54, kSubScaleLog2 = 54.0;

  /// Q(r) ~ (e^r - 1 - r - r^2/2) / r^3 for |r| <= ln2/2, degree-9 minimax (r^3 Q(r) is within
  /// 2^-58.4 r^2 of the target); the r^2/2 term is added separately, exactly.
  static GWFLOW_FORCEINLINE double expq(double r) {
    const double r2 = r * r;
    const double even = 0x1.5555555555557p-3 +
                        r2 * (0x1.11111111100dcp-7 +
                              r2 * (0x1.a01a01abe7b29p-13 + r2 * (0x1.71de02329376ep-19 + r2 * 0x1.af4de75698fe5p-26)));
    const double odd = 0x1.5555555555558p-5 +
                       r2 * (0x1.6c16c16c151fcp-10 +
                             r2 * (0x1.a01a01acfab68p-16 + r2 * (0x1.27e4ccce1c544p-22 + r2 * 0x1.1f8b4c1adca19p-29)));
    return even + r * odd;
  }
  /// fdlibm's R(z), |(log(1+s) - log(1-s))/s - 2 - R(s^2)| < 2^-58.45, given z = s^2, w = s^4.
  static GWFLOW_FORCEINLINE double logr(double z, double w) {
    const double t1 = w * (0x1.999999997fa04p-2 + w * (0x1.c71c51d8e78afp-3 + w * 0x1.39a09d078c69fp-3));
    const double t2 =
        z * (0x1.5555555555593p-1 + w * (0x1.2492494229359p-2 + w * (0x1.7466496cb03dep-3 + w * 0x1.2f112df3e5244p-3)));
    return t2 + t1;
  }
};

template <> struct Fp<float> {
  using U = uint32_t;
  static constexpr int kMantBits = 23;
  static constexpr U kBias = 127;
  static constexpr U kAbsMask = 0x7fffffffu;
  static constexpr U kInfBits = 0x7f800000u;
  static constexpr U kNanBits = 0x7fc00000u;
  static constexpr U kOneBits = 0x3f800000u;
  static constexpr U kMinusOneBits = 0xbf800000u;
  static constexpr U kMinNormalBits = 0x00800000u;  // 2^-126
  static constexpr float kShift = 0x1.8p23f;
  static constexpr U kShiftBits = 0x4b400000u;
  static constexpr float kInvLn2 = 0x1.715476p0f;
  // For exp: kLn2Hi with 16 significant bits (k * kLn2Hi exact for |k| < 2^8).
  static constexpr float kLn2Hi = 0x1.62e4p-1f;
  static constexpr float kLn2Lo = 0x1.7f7d1cp-20f;
  // For log: fdlibm's logf split (6.9313812256e-01, 9.0580006145e-06).
  static constexpr float kLogLn2Hi = 0x1.62e3p-1f;
  static constexpr float kLogLn2Lo = 0x1.2fefa2p-17f;
  static constexpr U kExpClampBits = 0x42dc0000u;     // 110
  static constexpr U kExpm1MaxBits = 0x42b20000u;     // 89
  static constexpr U kExpm1MinAbsBits = 0x41f00000u;  // 30
  static constexpr int kExpm1BigK = 50;
  static constexpr U kSqrtHalfBits = 0x3f3504f3u;
  static constexpr U kMantMask = 0x007fffffu;
  static constexpr U kIntMagicBits = 0x4b000000u;  // 2^23
  static constexpr float kIntMagic = 0x1p23f + 127.0f;
  static constexpr float kSubScale = 0x1p25f, kSubScaleLog2 = 25.0f;

  /// Q(r) ~ (e^r - 1 - r - r^2/2) / r^3 for |r| <= ln2/2, degree-4 minimax (r^3 Q(r) is within
  /// 2^-27.9 r^2 of the target).
  static GWFLOW_FORCEINLINE float expq(float r) {
    const float r2 = r * r;
    const float even = 0x1.555556p-3f + r2 * (0x1.1110acp-7f + r2 * 0x1.a17e08p-13f);
    const float odd = 0x1.5554eap-5f + r2 * 0x1.6d4324p-10f;
    return even + r * odd;
  }
  /// fdlibm/musl logf's R(z) (error < 2^-34.24), given z = s^2, w = s^4.
  static GWFLOW_FORCEINLINE float logr(float z, float w) {
    const float t1 = w * (0xccce13.0p-25f + w * 0xf89e26.0p-26f);
    const float t2 = z * (0xaaaaaa.0p-24f + w * 0x91e9ee.0p-25f);
    return t2 + t1;
  }
};

template <typename T> GWFLOW_FORCEINLINE void check_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "vmath: float or double only");
}

// Masks: all ones where the condition holds, 0 elsewhere.
/// The top bit of v, spread over the word.
template <typename U> GWFLOW_FORCEINLINE U sign_mask(U v) {
  return static_cast<U>(U(0) - static_cast<U>(v >> (8 * sizeof(U) - 1)));
}
/// a < b, for a and b below 2^(w-1) (non-negative as signed).
template <typename U> GWFLOW_FORCEINLINE U lt_mask(U a, U b) { return sign_mask(static_cast<U>(a - b)); }
/// a == b (any a, b).
template <typename U> GWFLOW_FORCEINLINE U eq_mask(U a, U b) {
  const U d = a ^ b;
  return sign_mask(static_cast<U>((d - 1) & ~d));
}
/// mask ? a : b, bitwise.
template <typename T, typename U> GWFLOW_FORCEINLINE T blend(U mask, T a, T b) {
  return from_bits(static_cast<U>((to_bits(a) & mask) | (to_bits(b) & ~mask)));
}

/// Argument reduction x = k ln2 + r + c, |r| <= ln2/2 (x clamped beforehand): kd = k as a
/// floating-point number, kbits = kShiftBits + k (k in the low bits), c = rounding error of r.
template <typename T> struct ExpReduced {
  T kd, r, c;
  typename Fp<T>::U kbits;
};
template <typename T> GWFLOW_FORCEINLINE ExpReduced<T> exp_reduce(T x) {
  using F = Fp<T>;
  const T z = x * F::kInvLn2 + F::kShift;
  ExpReduced<T> e;
  e.kbits = to_bits(z);
  e.kd = z - F::kShift;
  const T hi = x - e.kd * F::kLn2Hi;  // exact
  const T lo = e.kd * F::kLn2Lo;
  e.r = hi - lo;
  e.c = (hi - e.r) - lo;
  return e;
}

/// y * 2^k in two exact steps, 2^k1 * 2^(k - k1) with k1 = round(k/2), so that k may reach
/// past the exponent range: overflows to inf and underflows gradually (one rounding).
template <typename T> GWFLOW_FORCEINLINE T scale_pow2(T y, const ExpReduced<T>& e) {
  using F = Fp<T>;
  using U = typename F::U;
  const U k1 = to_bits(e.kd * T(0.5) + F::kShift);  // kShiftBits + k1
  const T s1 = from_bits(static_cast<U>((k1 + F::kBias) << F::kMantBits));
  const T s2 = from_bits(static_cast<U>((e.kbits - k1 + F::kBias) << F::kMantBits));
  return (y * s1) * s2;
}

/// (a + a_lo) + e^(r+c) - 1 for |r| <= ln2/2, c tiny, a = 0 or |a| >= 1/2: a + r is taken
/// exactly as a sum of two (Fast2Sum), and the rest, a_lo + (e^(r+c) - 1 - r) with
/// e^(r+c) - 1 - r = r^2/2 + r^3 Q(r) + c (1 + r), is rounded once onto it.
template <typename T> GWFLOW_FORCEINLINE T exp_core(T a, T a_lo, T r, T c) {
  const T s = a + r;
  const T err = r - (s - a);
  const T r2 = r * r;
  const T tail = T(0.5) * r2 + (r2 * r * Fp<T>::expq(r) + (c + c * r));
  return s + (err + (a_lo + tail));
}

/// x clamped to [-min_abs, max], both given as bits (NaN becomes one of them: callers restore it).
template <typename T>
GWFLOW_FORCEINLINE T exp_clamp(T x, typename Fp<T>::U ix, typename Fp<T>::U ax, typename Fp<T>::U max_bits,
                               typename Fp<T>::U min_abs_bits) {
  using U = typename Fp<T>::U;
  const U neg = sign_mask(ix);
  const U out = (lt_mask(max_bits, ax) & ~neg) | (lt_mask(min_abs_bits, ax) & neg);
  const T bound = blend(neg, from_bits(static_cast<U>(min_abs_bits | ~Fp<T>::kAbsMask)), from_bits(max_bits));
  return blend(out, bound, x);
}

/// k ln2 + log(1 + f) + c for f in [sqrt(1/2) - 1, sqrt(2) - 1) (c: a tiny correction), with
/// fdlibm's evaluation: s = f / (2 + f), log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)).
template <typename T> GWFLOW_FORCEINLINE T log_kernel(T kd, T f, T c) {
  using F = Fp<T>;
  const T hfsq = T(0.5) * f * f;
  const T s = f / (T(2) + f);
  const T z = s * s;
  const T R = F::logr(z, z * z);
  return kd * F::kLogLn2Hi - ((hfsq - (s * (hfsq + R) + (kd * F::kLogLn2Lo + c))) - f);
}

/// A positive normal x as 2^k m with m in [sqrt(1/2), sqrt(2)): k as a floating-point number
/// (kd) and as k + kBias (kbiased), and m.
template <typename T> struct LogSplit {
  T kd, m;
  typename Fp<T>::U kbiased;
};
template <typename T> GWFLOW_FORCEINLINE LogSplit<T> log_split(T x) {
  using F = Fp<T>;
  using U = typename F::U;
  const U ix = to_bits(x) + (F::kOneBits - F::kSqrtHalfBits);
  LogSplit<T> s;
  s.kbiased = ix >> F::kMantBits;
  s.kd = from_bits(static_cast<U>(F::kIntMagicBits + s.kbiased)) - F::kIntMagic;
  s.m = from_bits(static_cast<U>((ix & F::kMantMask) + F::kSqrtHalfBits));
  return s;
}

}  // namespace detail

/// e^x, within 1 ulp. +inf when it overflows, +0 below the subnormal range (gradual underflow
/// before that), NaN for NaN.
template <typename T> GWFLOW_FORCEINLINE T exp(T x) {
  detail::check_type<T>();
  using F = detail::Fp<T>;
  using U = typename F::U;
  const U ix = detail::to_bits(x);
  const U ax = ix & F::kAbsMask;
  // |x| clamped to kExpClamp (e^kExpClamp = inf and e^-kExpClamp = 0 still come out right).
  const T xc = detail::blend(detail::lt_mask(F::kExpClampBits, ax),
                             detail::from_bits(static_cast<U>(F::kExpClampBits | (ix & ~F::kAbsMask))), x);
  const detail::ExpReduced<T> e = detail::exp_reduce(xc);
  // a_lo = -0: adding it is an identity the compiler removes (+0 is not one).
  const T res = detail::scale_pow2(detail::exp_core(T(1), T(-0.0), e.r, e.c), e);
  return detail::blend(detail::lt_mask(F::kInfBits, ax), x, res);  // NaN
}

/// e^x - 1, within 1 ulp (relative error, so accurate for small |x|: expm1(x) = x + x^2/2 + ...).
/// +inf when e^x overflows, -1 for large negative x, +-0 for +-0, NaN for NaN.
template <typename T> GWFLOW_FORCEINLINE T expm1(T x) {
  detail::check_type<T>();
  using F = detail::Fp<T>;
  using U = typename F::U;
  const U ix = detail::to_bits(x);
  const U ax = ix & F::kAbsMask;
  const T xc = detail::exp_clamp(x, ix, ax, F::kExpm1MaxBits, F::kExpm1MinAbsBits);
  const detail::ExpReduced<T> e = detail::exp_reduce(xc);
  // e^x - 1 = 2^k ((1 - 2^-k) + e^(r+c) - 1) with 1 - 2^-k = a + a_lo exactly (Fast2Sum; a_lo
  // is 0 unless |k| > 53). For k = 0, a = 0 and r = x exactly: the result is x + tail.
  // 2^-k is built from bits (valid for |k| < kBias) and replaced by 0 above kExpm1BigK.
  const T two_mk = detail::from_bits(static_cast<U>((F::kBias - e.kbits) << F::kMantBits));
  const U k_big = detail::lt_mask(static_cast<U>(F::kShiftBits + F::kExpm1BigK), e.kbits);
  const U k_neg = detail::lt_mask(e.kbits, F::kShiftBits);
  const T mk = detail::blend(k_big, T(0), two_mk);
  const T a = T(1) - mk;
  const T a_lo = detail::blend(k_neg, T(1) - (a + mk), (T(1) - a) - mk);
  const T res = detail::scale_pow2(detail::exp_core(a, a_lo, e.r, e.c), e);
  // +-0 and NaN: x itself.
  const U zero_or_nan = detail::sign_mask(static_cast<U>(ax - 1)) | detail::lt_mask(F::kInfBits, ax);
  return detail::blend(zero_or_nan, x, res);
}

/// Natural logarithm, within 1 ulp. log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf,
/// log(NaN) = NaN; subnormal x at full accuracy (rescaled into the normal range first).
template <typename T> GWFLOW_FORCEINLINE T log(T x) {
  detail::check_type<T>();
  using F = detail::Fp<T>;
  using U = typename F::U;
  const U ix = detail::to_bits(x);
  const U ax = ix & F::kAbsMask;
  const U sub = detail::lt_mask(ax, F::kMinNormalBits);
  const T xs = detail::blend(sub, x * F::kSubScale, x);
  const detail::LogSplit<T> sp = detail::log_split(xs);
  const T kd = sp.kd - detail::blend(sub, F::kSubScaleLog2, T(0));
  const T res = detail::log_kernel(kd, sp.m - T(1), T(0));
  // Special cases, off the critical path (one blend on it): x < 0 -> NaN, +-0 -> -inf, and x
  // itself for +inf and NaN.
  const U neg = detail::sign_mask(ix);
  const U zero = detail::sign_mask(static_cast<U>(ax - 1));
  T special = detail::blend(neg, detail::from_bits(F::kNanBits), x);
  special = detail::blend(zero, detail::from_bits(static_cast<U>(F::kInfBits | ~F::kAbsMask)), special);
  return detail::blend(static_cast<U>(neg | zero | detail::lt_mask(static_cast<U>(F::kInfBits - 1), ax)), special, res);
}

/// log(1 + x), within 1 ulp (so accurate for small |x|: log1p(x) = x - x^2/2 + ...).
/// log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(+inf) = +inf, +-0 for +-0, NaN for NaN.
template <typename T> GWFLOW_FORCEINLINE T log1p(T x) {
  detail::check_type<T>();
  using F = detail::Fp<T>;
  using U = typename F::U;
  const U ix = detail::to_bits(x);
  const U ax = ix & F::kAbsMask;
  // 1 + x = u + err exactly (TwoSum).
  const T u = T(1) + x;
  const T xv = u - T(1);
  const T one_v = u - xv;
  const T err = (T(1) - one_v) + (x - xv);
  const detail::LogSplit<T> sp = detail::log_split(u);
  // log(u + err) = log(u) + err/u to far below an ulp. Where k = 0 (u in [sqrt(1/2), sqrt(2)))
  // f = u - 1 + err is x itself, exact.
  const U k0 = detail::eq_mask(sp.kbiased, F::kBias);
  const T f = detail::blend(k0, x, sp.m - T(1));
  const T c = detail::blend(k0, T(0), err / u);
  const T res = detail::log_kernel(sp.kd, f, c);
  // Special cases, off the critical path (one blend on it): x < -1 -> NaN, -1 -> -inf, and x
  // itself for +-0, +inf and NaN.
  const U below_m1 = detail::sign_mask(ix) & detail::lt_mask(F::kOneBits, ax);  // also -inf, -NaN
  const U m1 = detail::eq_mask(ix, F::kMinusOneBits);
  T special = detail::blend(below_m1, detail::from_bits(F::kNanBits), x);
  special = detail::blend(m1, detail::from_bits(static_cast<U>(F::kInfBits | ~F::kAbsMask)), special);
  const U is_special =
      below_m1 | m1 | detail::sign_mask(static_cast<U>(ax - 1)) | detail::lt_mask(static_cast<U>(F::kInfBits - 1), ax);
  return detail::blend(is_special, special, res);
}

// Branch-free selections for the kernels' per-row loops. A `c ? x : y` on computed floating-point
// values is a branch to GCC, which it if-converts (and so vectorises) only where both sides are
// safe to evaluate or the target has masked instructions (AVX-512): on SSE4.2 and AVX2 such a
// loop stays scalar. These are bit blends under integer masks, which vectorise everywhere.

/// a > b ? x : y (by the sign of b - a: NaN operands pick either side).
template <typename T> GWFLOW_FORCEINLINE T select_gt(T a, T b, T x, T y) {
  detail::check_type<T>();
  return detail::blend(detail::sign_mask(detail::to_bits(static_cast<T>(b - a))), x, y);
}
/// isnan(v) ? x : y.
template <typename T> GWFLOW_FORCEINLINE T select_nan(T v, T x, T y) {
  detail::check_type<T>();
  using F = detail::Fp<T>;
  using U = typename F::U;
  return detail::blend(detail::lt_mask(F::kInfBits, static_cast<U>(detail::to_bits(v) & F::kAbsMask)), x, y);
}
/// |v|.
template <typename T> GWFLOW_FORCEINLINE T abs(T v) {
  detail::check_type<T>();
  using F = detail::Fp<T>;
  return detail::from_bits(static_cast<typename F::U>(detail::to_bits(v) & F::kAbsMask));
}
/// |m| with the sign of s.
template <typename T> GWFLOW_FORCEINLINE T copysign(T m, T s) {
  detail::check_type<T>();
  using F = detail::Fp<T>;
  using U = typename F::U;
  return detail::from_bits(static_cast<U>((detail::to_bits(m) & F::kAbsMask) | (detail::to_bits(s) & ~F::kAbsMask)));
}

}  // namespace vmath
}  // namespace GWFLOW_KERNEL_ISA_NS
}  // namespace gwflow::kernels
