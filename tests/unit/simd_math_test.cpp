// vmath (kernels/simd_math.hpp): exp, expm1, log and log1p in float and double against the C
// library (long double for double, double for float) on millions of log-uniform random arguments
// covering each function's whole domain (subnormals, near 1 for log, near 0 and -1 for log1p,
// the overflow and underflow ranges of exp), a sweep over float bit patterns, and the special
// values: every error within 1 ulp, special values exact. The functions run in plain loops, as
// in the kernels (so the vectorized code is what is tested, where the compiler vectorizes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <type_traits>
#include <vector>

#include "gwflow/kernels/simd_math.hpp"

namespace gwflow::kernels {
namespace {

constexpr double kMaxUlp = 1.0;  // measured: below 0.86 for every function and type

/// The reference precision: long double for double, double for float.
template <typename T> using Ref = std::conditional_t<std::is_same_v<T, float>, double, long double>;

struct Exp {
  static constexpr const char* name = "exp";
  template <typename T> static T f(T x) { return vmath::exp(x); }
  template <typename R> static R ref(R x) { return std::exp(x); }
};
struct Expm1 {
  static constexpr const char* name = "expm1";
  template <typename T> static T f(T x) { return vmath::expm1(x); }
  template <typename R> static R ref(R x) { return std::expm1(x); }
};
struct Log {
  static constexpr const char* name = "log";
  template <typename T> static T f(T x) { return vmath::log(x); }
  template <typename R> static R ref(R x) { return std::log(x); }
};
struct Log1p {
  static constexpr const char* name = "log1p";
  template <typename T> static T f(T x) { return vmath::log1p(x); }
  template <typename R> static R ref(R x) { return std::log1p(x); }
};

/// F::f over x in a plain loop (vectorizable, as in the kernels).
template <typename F, typename T> std::vector<T> apply(const std::vector<T>& x) {
  std::vector<T> y(x.size());
  const T* in = x.data();
  T* out = y.data();
  const size_t n = x.size();
  for (size_t i = 0; i < n; ++i) out[i] = F::f(in[i]);
  return y;
}

/// |got - ref| in units of T's spacing at ref (the subnormal spacing below the normal range);
/// infinite when got is not the right inf/NaN where the correctly rounded result is one.
template <typename T> double ulp_error(T got, long double ref) {
  using L = std::numeric_limits<T>;
  constexpr double kBad = std::numeric_limits<double>::infinity();
  if (std::isnan(ref)) return std::isnan(got) ? 0 : kBad;
  const T rounded = static_cast<T>(ref);
  if (std::isinf(rounded)) return got == rounded ? 0 : kBad;
  if (!std::isfinite(got)) return kBad;
  const long double a = std::fabs(ref);
  const long double spacing =
      a < L::min() ? std::ldexp(1.0L, L::min_exponent - L::digits) : std::ldexp(1.0L, std::ilogb(a) - (L::digits - 1));
  return static_cast<double>(std::fabs(static_cast<long double>(got) - ref) / spacing);
}

/// Max ulp error of F over x (with the worst argument in `worst`).
template <typename F, typename T> double max_ulp(const std::vector<T>& x, std::string* worst) {
  const std::vector<T> y = apply<F>(x);
  double max_err = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double err = ulp_error<T>(y[i], static_cast<long double>(F::ref(static_cast<Ref<T>>(x[i]))));
    if (!(err <= max_err)) {
      max_err = err;
      std::ostringstream os;
      os.precision(std::numeric_limits<T>::max_digits10);
      os << F::name << "(" << x[i] << ") = " << y[i] << ", reference "
         << static_cast<long double>(F::ref(static_cast<Ref<T>>(x[i])));
      *worst = os.str();
    }
  }
  return max_err;
}

/// n values offset + sign * 2^u, u uniform in [lo, hi) (so log-uniform when offset = 0).
template <typename T>
std::vector<T> log_uniform(std::mt19937_64& rng, size_t n, double lo, double hi, double sign = 1, double offset = 0) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> x(n);
  for (auto& v : x) v = static_cast<T>(offset + sign * std::exp2(u(rng)));
  return x;
}
template <typename T> std::vector<T> uniform(std::mt19937_64& rng, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> x(n);
  for (auto& v : x) v = static_cast<T>(u(rng));
  return x;
}

template <typename F, typename T> void expect_accurate(const std::vector<T>& x, const char* what) {
  std::string worst;
  const double err = max_ulp<F>(x, &worst);
  EXPECT_LE(err, kMaxUlp) << what << ": " << worst;
}

template <typename T> class Vmath : public ::testing::Test {};
using VmathTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Vmath, VmathTypes);

constexpr size_t kN = size_t(1) << 19;  // per range: 8 million arguments per type in all

TYPED_TEST(Vmath, ExpAccuracy) {
  using T = TypeParam;
  constexpr bool dbl = std::is_same_v<T, double>;
  std::mt19937_64 rng(1);
  const double top = dbl ? 9.6 : 6.8;  // 2^top a little past the overflow/underflow thresholds
  expect_accurate<Exp>(log_uniform<T>(rng, kN, -80, top), "positive");
  expect_accurate<Exp>(log_uniform<T>(rng, kN, -80, top, -1), "negative");
  expect_accurate<Exp>(uniform<T>(rng, kN, dbl ? -746 : -104, dbl ? 710 : 89), "whole range");
}

TYPED_TEST(Vmath, Expm1Accuracy) {
  using T = TypeParam;
  constexpr bool dbl = std::is_same_v<T, double>;
  std::mt19937_64 rng(2);
  const double top = dbl ? 9.6 : 6.8;
  expect_accurate<Expm1>(log_uniform<T>(rng, kN, dbl ? -1074 : -149, top), "positive");
  expect_accurate<Expm1>(log_uniform<T>(rng, kN, dbl ? -1074 : -149, top, -1), "negative");
  expect_accurate<Expm1>(log_uniform<T>(rng, kN, -30, 2), "near 0, positive");
  expect_accurate<Expm1>(log_uniform<T>(rng, kN, -30, 2, -1), "near 0, negative");
  expect_accurate<Expm1>(uniform<T>(rng, kN, -2, 2), "[-2, 2]");
  expect_accurate<Expm1>(uniform<T>(rng, kN, dbl ? -50 : -20, dbl ? 710 : 89), "whole range");
}

TYPED_TEST(Vmath, LogAccuracy) {
  using T = TypeParam;
  constexpr bool dbl = std::is_same_v<T, double>;
  std::mt19937_64 rng(3);
  expect_accurate<Log>(log_uniform<T>(rng, kN, dbl ? -1074 : -149, dbl ? 1024 : 128), "all positive");
  expect_accurate<Log>(log_uniform<T>(rng, kN, dbl ? -60 : -30, -1, 1, 1), "above 1");
  expect_accurate<Log>(log_uniform<T>(rng, kN, dbl ? -60 : -30, -1, -1, 1), "below 1");
  expect_accurate<Log>(uniform<T>(rng, kN, 0.5, 2), "[0.5, 2]");
}

TYPED_TEST(Vmath, Log1pAccuracy) {
  using T = TypeParam;
  constexpr bool dbl = std::is_same_v<T, double>;
  std::mt19937_64 rng(4);
  expect_accurate<Log1p>(log_uniform<T>(rng, kN, dbl ? -1074 : -149, dbl ? 1024 : 128), "positive");
  expect_accurate<Log1p>(log_uniform<T>(rng, kN, dbl ? -1074 : -149, 0, -1), "(-1, 0)");
  expect_accurate<Log1p>(log_uniform<T>(rng, kN, dbl ? -53 : -24, -1, 1, -1), "near -1");
  expect_accurate<Log1p>(uniform<T>(rng, kN, -1, 3), "(-1, 3)");
}

/// Every 4099th float bit pattern (all binades, both signs): about a million per function.
TEST(VmathFloat, BitPatternSweep) {
  std::vector<float> x;
  for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 4099) {
    const auto bits = static_cast<uint32_t>(b);
    float v;
    std::memcpy(&v, &bits, sizeof v);
    x.push_back(v);
  }
  expect_accurate<Exp>(x, "sweep");
  expect_accurate<Expm1>(x, "sweep");
  expect_accurate<Log>(x, "sweep");
  expect_accurate<Log1p>(x, "sweep");
}

/// Bitwise equality (so +0 != -0, NaN == NaN).
template <typename T> bool same(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

template <typename F, typename T> void expect_special(const std::vector<std::pair<T, T>>& cases) {
  std::vector<T> x;
  for (const auto& c : cases) x.push_back(c.first);
  const std::vector<T> y = apply<F>(x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_TRUE(same(y[i], cases[i].second))
        << F::name << "(" << x[i] << ") = " << y[i] << ", expected " << cases[i].second;
  }
}

TYPED_TEST(Vmath, SpecialValues) {
  using T = TypeParam;
  using L = std::numeric_limits<T>;
  const T inf = L::infinity(), nan = L::quiet_NaN(), mx = L::max(), mn = L::min(), dmin = L::denorm_min();
  expect_special<Exp, T>({{T(0), T(1)},
                          {-T(0), T(1)},
                          {inf, inf},
                          {-inf, T(0)},
                          {nan, nan},
                          {-nan, nan},
                          {mx, inf},
                          {-mx, T(0)},
                          {T(1000), inf},
                          {T(-1000), T(0)},
                          {dmin, T(1)},
                          {-dmin, T(1)}});
  expect_special<Expm1, T>({{T(0), T(0)},
                            {-T(0), -T(0)},
                            {inf, inf},
                            {-inf, T(-1)},
                            {nan, nan},
                            {mx, inf},
                            {-mx, T(-1)},
                            {T(1000), inf},
                            {T(-1000), T(-1)},
                            {T(-100), T(-1)},
                            {dmin, dmin},
                            {-dmin, -dmin},
                            {mn, mn}});
  expect_special<Log, T>({{T(0), -inf},
                          {-T(0), -inf},
                          {T(1), T(0)},
                          {inf, inf},
                          {-inf, nan},
                          {T(-1), nan},
                          {-dmin, nan},
                          {-mx, nan},
                          {nan, nan},
                          {-nan, nan}});
  expect_special<Log1p, T>({{T(0), T(0)},
                            {-T(0), -T(0)},
                            {T(-1), -inf},
                            {std::nextafter(T(-1), T(-2)), nan},
                            {T(-2), nan},
                            {-inf, nan},
                            {-mx, nan},
                            {inf, inf},
                            {nan, nan},
                            {dmin, dmin},
                            {-dmin, -dmin}});
}

/// Arguments at the edges of the ranges (overflow, underflow, subnormals, next to -1), checked
/// against the reference like the random ones.
TYPED_TEST(Vmath, EdgeArguments) {
  using T = TypeParam;
  using L = std::numeric_limits<T>;
  const T mx = L::max(), mn = L::min(), dmin = L::denorm_min();
  std::vector<T> x = {mx, mn, dmin, T(2) * dmin, mn - dmin, std::nextafter(T(-1), T(0)), T(-0.5), T(0.5), T(1), T(-1)};
  // Around the overflow and underflow thresholds of exp and the end of expm1's range.
  const T thresholds[] = {std::log(mx),        std::log(mn),       std::log(dmin), std::log(dmin) - std::log(T(2)),
                          -std::log(T(2)) / 2, std::log(T(2)) / 2, std::log(T(2)), -std::log(T(2))};
  for (T t : thresholds) {
    T v = t, w = t;
    for (int i = 0; i < 64; ++i) {
      x.push_back(v);
      x.push_back(w);
      v = std::nextafter(v, L::infinity());
      w = std::nextafter(w, -L::infinity());
    }
  }
  expect_accurate<Exp>(x, "edges");
  expect_accurate<Expm1>(x, "edges");
  std::vector<T> pos;
  for (T v : x) pos.push_back(std::fabs(v));
  expect_accurate<Log>(pos, "edges");
  expect_accurate<Log1p>(x, "edges");
}

}  // namespace
}  // namespace gwflow::kernels
