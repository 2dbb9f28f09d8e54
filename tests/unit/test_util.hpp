#pragma once
// Helpers shared by the unit tests that use LibTorch (the others include test_files.hpp alone).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "gwflow/flow/flow.hpp"
#include "test_files.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace gwflow::test {

/// Two parameter lists with the same names in the same order and bit-identical tensors.
inline bool same_state(const flow::NamedTensors& a, const flow::NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || !torch::equal(a[i].second, b[i].second)) return false;
  }
  return true;
}

/// max_i |a_i - b_i| / max(|b_i|, floor) over entries where b is finite; requires the same
/// non-finite pattern.
inline double max_rel_error(const torch::Tensor& a, const torch::Tensor& b, double floor = 1.0) {
  auto a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(torch::isfinite(a64), torch::isfinite(b64))) << "non-finite patterns differ";
  auto fin = torch::isfinite(b64) & torch::isfinite(a64);
  if (!fin.any().item<bool>()) return 0;
  auto diff = (a64 - b64).abs().masked_select(fin);
  auto scale = b64.abs().masked_select(fin).clamp_min(floor);
  return (diff / scale).max().item<double>();
}

/// float32 tolerances from the numerics. A float32 evaluation of the flow rounds every intermediate
/// to a relative error of order eps32 = 2^-24; what that does to log p(x) and z scales with the
/// magnitude of the intermediates that make them, not with the result (which may be ~0 by
/// cancellation). These give, per row, that magnitude in float64 (the reference), so that a test
/// can require |float32 - float64| <= K eps32 magnitude whatever BLAS kernel, vector width or FMA
/// contraction produced the float32 result.
inline constexpr double kFloat32Eps = 0x1p-24;
/// The bounds, in units of eps32 times the row's magnitude. log p sums O(L D) terms, each the end
/// of a chain of O(10) roundings (dot products of width <= 16, softplus, log, the tanh box); z
/// comes out of the same chains. Measured worst cases over the fixture and random models, the
/// kernels' v2 / v3 / portable variants and LibTorch (OpenBLAS, AVX2): about 8 for log p and 11
/// for z; the bounds leave a factor of 4 for other BLAS kernels, vector widths and FMA use.
inline constexpr double kLogProbEps32Units = 32;
inline constexpr double kNoiseEps32Units = 48;

struct Magnitudes {
  torch::Tensor log_prob;  // [N]: 0.5 D log 2 pi + 0.5 |z|^2 + sum over transforms of |log|det J||
  torch::Tensor values;    // [N]: max over the transforms of max |output| (and 1)
};

/// The magnitudes of the intermediates of log p(x) for rows x, by the flow evaluated in float64
/// (`f` may be of either dtype: its state is copied). Rows outside the box give 0.
inline Magnitudes magnitudes(const flow::FlowImpl& f, const torch::Tensor& x) {
  auto f64 = flow::flow_from_state(f.state_dict(), torch::kFloat64);
  torch::NoGradGuard g;
  auto h = x.to(torch::kFloat64);
  const int64_t d = h.size(1);
  auto lp = torch::full({h.size(0)}, 0.5 * static_cast<double>(d) * std::log(2 * M_PI), torch::kFloat64);
  auto vals = torch::ones({h.size(0)}, torch::kFloat64);
  auto composite = f64->transform();
  for (size_t i = 0; i < composite->size(); ++i) {
    auto r = composite->at(i)->forward(h);
    lp += r.logabsdet.abs();
    h = r.outputs;
    vals = torch::maximum(vals, h.abs().amax(1));
  }
  lp += 0.5 * h.square().sum(1);
  auto ok = torch::isfinite(lp) & torch::isfinite(vals);
  return {torch::where(ok, lp, torch::zeros_like(lp)), torch::where(ok, vals, torch::zeros_like(vals))};
}

/// max over rows (and columns) of |a - ref| / (eps32 * scale_row), over the entries where ref is
/// finite (the non-finite patterns must agree): the error in units of eps32 times the row's
/// magnitude. A test bounds it by a constant that counts the sequential roundings involved.
inline double eps32_units(const torch::Tensor& a, const torch::Tensor& ref, const torch::Tensor& scale) {
  auto a64 = a.to(torch::kFloat64), r64 = ref.to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(torch::isfinite(a64), torch::isfinite(r64))) << "non-finite patterns differ";
  auto s = scale.to(torch::kFloat64).clamp_min(1.0);
  if (a64.dim() == 2) s = s.unsqueeze(1).expand_as(a64);
  auto fin = torch::isfinite(r64) & torch::isfinite(a64);
  if (!fin.any().item<bool>()) return 0;
  return ((a64 - r64).abs() / (kFloat32Eps * s)).masked_select(fin).max().item<double>();
}

}  // namespace gwflow::test
