// Property tests applied to every transform (nflows/zuko style): finite outputs, exact inverse,
// forward + inverse logabsdet = 0, logabsdet = log|det J| computed by autograd.
#include <functional>
#include <limits>

#include "gwflow/flow/flow.hpp"
#include "gwflow/flow/masked_affine_autoregressive.hpp"
#include "gwflow/flow/naive_linear.hpp"
#include "gwflow/flow/tanh_box.hpp"
#include "test_util.hpp"

namespace gwflow::flow {
namespace {

struct Case {
  std::string name;
  int64_t dim;
  std::function<std::shared_ptr<TransformImpl>(int64_t)> make;
  bool data_in_box;  // inputs of forward must lie in the box [-2, 3]^D
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::shared_ptr<TransformImpl> perturbed(std::shared_ptr<TransformImpl> t) {
  // Move every parameter away from its init so that every code path matters.
  torch::NoGradGuard no_grad;
  for (auto& p : t->parameters()) p.add_(0.3 * torch::randn_like(p));
  return t;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (int64_t d : {1, 2, 3, 5}) {
    out.push_back({"TanhBox_D" + std::to_string(d), d,
                   [](int64_t dim) {
                     auto box = std::make_shared<TanhBoxImpl>(dim, torch::kFloat64);
                     box->set_box(torch::full({dim}, -2.0, torch::kFloat64), torch::full({dim}, 3.0, torch::kFloat64));
                     return std::static_pointer_cast<TransformImpl>(box);
                   },
                   true});
    out.push_back({"NaiveLinear_D" + std::to_string(d), d,
                   [](int64_t dim) { return perturbed(std::make_shared<NaiveLinearImpl>(dim, torch::kFloat64)); },
                   false});
    for (int64_t h : {1, 4, 13}) {
      out.push_back({"MAF_D" + std::to_string(d) + "_H" + std::to_string(h), d,
                     [h](int64_t dim) {
                       return perturbed(std::make_shared<MaskedAffineAutoregressiveImpl>(dim, h, torch::kFloat64));
                     },
                     false});
    }
    out.push_back({"Composite_D" + std::to_string(d), d,
                   [](int64_t dim) {
                     Flow f(Architecture{dim, {6, 3}, false}, torch::kFloat64);
                     f->box()->set_box(torch::full({dim}, -2.0, torch::kFloat64),
                                       torch::full({dim}, 3.0, torch::kFloat64));
                     return perturbed(f->transform().ptr());
                   },
                   true});
  }
  return out;
}

class TransformProperties : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { torch::manual_seed(1234); }
  torch::Tensor inputs(int64_t n) const {
    const auto& c = GetParam();
    auto x = torch::randn({n, c.dim}, torch::kFloat64);
    return c.data_in_box ? 0.5 + 2.4 * torch::tanh(x) : x;
  }
};

TEST_P(TransformProperties, ForwardIsFiniteAndInverseIsExact) {
  auto t = GetParam().make(GetParam().dim);
  auto x = inputs(50);
  auto f = t->forward(x);
  ASSERT_TRUE(torch::isfinite(f.outputs).all().item<bool>());
  ASSERT_TRUE(torch::isfinite(f.logabsdet).all().item<bool>());
  ASSERT_EQ(f.logabsdet.sizes(), torch::IntArrayRef({50}));
  auto b = t->inverse(f.outputs);
  EXPECT_LT((b.outputs - x).abs().max().item<double>(), 1e-9);
  EXPECT_LT((f.logabsdet + b.logabsdet).abs().max().item<double>(), 1e-9);
}

TEST_P(TransformProperties, LogabsdetMatchesAutogradJacobian) {
  auto t = GetParam().make(GetParam().dim);
  const int64_t dim = GetParam().dim;
  auto x = inputs(8);
  for (bool inverse : {false, true}) {
    auto in = inverse ? t->forward(x).outputs.detach() : x;
    for (int64_t row = 0; row < in.size(0); ++row) {
      auto xi = in.narrow(0, row, 1).clone().requires_grad_(true);
      auto r = inverse ? t->inverse(xi) : t->forward(xi);
      auto jac = torch::zeros({dim, dim}, torch::kFloat64);
      for (int64_t o = 0; o < dim; ++o) {
        auto g = torch::autograd::grad({r.outputs[0][o]}, {xi}, {}, /*retain_graph=*/true)[0];
        jac[o] = g[0];
      }
      const double expected = std::get<1>(at::linalg_slogdet(jac)).item<double>();
      EXPECT_NEAR(r.logabsdet[0].item<double>(), expected, 1e-8 * (1 + std::abs(expected)))
          << (inverse ? "inverse" : "forward") << " row " << row;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTransforms, TransformProperties, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(TanhBox, OutsideRowsGetMinusInfAndDoNotAffectOthers) {
  // Over several random models: LibTorch >= 2.x seeds its default generator at random in every
  // process, and an unseeded model failed this comparison in 20 runs out of 260. The rows inside the box
  // must agree with their evaluation alone up to float64 rounding: BLAS may round a 5-row and a
  // 2-row product differently in the last bit, and a contaminated row would be NaN or far off.
  const double eps64 = std::numeric_limits<double>::epsilon();
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    torch::manual_seed(seed);
    Flow f(Architecture{2, {5}, false}, torch::kFloat64);
    f->box()->set_box(torch::tensor({0.0, 0.0}, torch::kFloat64), torch::tensor({1.0, 1.0}, torch::kFloat64));
    auto x = torch::tensor(std::vector<double>{0.5, 0.5, 1.5, 0.5, 0.2, 0.7, NAN, 0.1, 0.0, 0.3}, torch::kFloat64)
                 .view({5, 2});
    auto lp = f->log_prob(x);
    EXPECT_TRUE(std::isfinite(lp[0].item<double>()));
    EXPECT_EQ(lp[1].item<double>(), -INFINITY);
    EXPECT_TRUE(std::isfinite(lp[2].item<double>()));
    EXPECT_TRUE(std::isnan(lp[3].item<double>()));
    EXPECT_EQ(lp[4].item<double>(), -INFINITY);  // on the boundary: atanh(-1)
    auto alone = f->log_prob(x.index({torch::tensor({0, 2})}));
    for (int64_t i : {0, 1}) {
      const double in_batch = lp[2 * i].item<double>(), by_itself = alone[i].item<double>();
      EXPECT_NEAR(in_batch, by_itself, 64 * eps64 * (1 + std::abs(by_itself))) << "row " << 2 * i;
    }
    auto z = f->transform_to_noise(x);
    EXPECT_TRUE(torch::isnan(z[1]).all().item<bool>());
    EXPECT_TRUE(torch::isfinite(z[0]).all().item<bool>());
  }
}

TEST(TanhBox, SaturatedInverseKeepsFiniteStableDensity) {
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    TanhBoxImpl box(1, dtype);
    box.set_box(torch::tensor({-1.0}), torch::tensor({3.0}));
    auto z = torch::tensor({{0.0}, {5.0}, {30.0}, {-400.0}}, torch::TensorOptions().dtype(dtype));
    auto r = box.inverse(z);
    ASSERT_TRUE(torch::isfinite(r.logabsdet).all().item<bool>());
    // log(1 - tanh(z)^2) ~ log 4 - 2|z| for large |z|; (high - low)/2 = 2.
    EXPECT_NEAR(r.logabsdet[2].item<double>(), std::log(4.0) - 60 + std::log(2.0), 1e-4);
    EXPECT_NEAR(r.logabsdet[3].item<double>(), std::log(4.0) - 800 + std::log(2.0), 1e-3);
    EXPECT_NEAR(r.logabsdet[0].item<double>(), std::log(2.0), 1e-6);
  }
}

TEST(TanhBox, DegenerateDimensionIsAnError) {
  auto mn = torch::tensor({0.0, 1.0}, torch::kFloat64), mx = torch::tensor({1.0, 1.0}, torch::kFloat64);
  EXPECT_THROW(box_with_margin(mn, mx), std::exception);
  auto [lo, hi] = box_with_margin(torch::tensor({0.0}, torch::kFloat64), torch::tensor({2.0}, torch::kFloat64));
  EXPECT_DOUBLE_EQ(lo[0].item<double>(), -0.02);
  EXPECT_DOUBLE_EQ(hi[0].item<double>(), 2.02);
}

}  // namespace
}  // namespace gwflow::flow
