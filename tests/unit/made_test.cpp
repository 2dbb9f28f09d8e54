// MADE masks and degrees exactly as docs/flow.md sec. 1.3, and the autoregressive property they imply.
#include "gwflow/flow/flow.hpp"
#include "gwflow/flow/made.hpp"
#include "test_util.hpp"

namespace gwflow::flow {
namespace {

TEST(Made, DegreesFollowTheSpec) {
  EXPECT_TRUE(torch::equal(hidden_degrees(3, 5), torch::tensor({1, 2, 1, 2, 1}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(hidden_degrees(1, 3), torch::tensor({0, 0, 0}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(hidden_degrees(4, 4), torch::tensor({1, 2, 3, 1}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(output_degrees(3, 2), torch::tensor({1, 1, 2, 2, 3, 3}, torch::kInt64)));
}

TEST(Made, MasksAreNonStrictInsideAndStrictAtTheOutput) {
  torch::manual_seed(0);
  Made made(3, 4, torch::kFloat64);
  // hidden degrees [1, 2, 1, 2]; inputs [1, 2, 3]
  auto m0 = made->initial_layer()->mask();
  EXPECT_TRUE(torch::equal(m0, torch::tensor({{1, 0, 0}, {1, 1, 0}, {1, 0, 0}, {1, 1, 0}}, torch::kFloat32)));
  auto mb = made->block(0)->layer(1)->mask();
  EXPECT_TRUE(
      torch::equal(mb, torch::tensor({{1, 0, 1, 0}, {1, 1, 1, 1}, {1, 0, 1, 0}, {1, 1, 1, 1}}, torch::kFloat32)));
  auto mf = made->final_layer()->mask();
  auto expected = torch::tensor({{0, 0, 0, 0}, {0, 0, 0, 0}, {1, 0, 1, 0}, {1, 0, 1, 0}, {1, 1, 1, 1}, {1, 1, 1, 1}},
                                torch::kFloat32);
  EXPECT_TRUE(torch::equal(mf, expected));
  EXPECT_EQ(made->final_layer()->degrees().scalar_type(), torch::kInt64);
  EXPECT_EQ(mf.scalar_type(), torch::kFloat32);
}

TEST(Made, OutputsOfDimensionIDependOnlyOnEarlierInputs) {
  torch::manual_seed(1);
  for (int64_t d : {1, 2, 4, 6}) {
    Made made(d, 9, torch::kFloat64);
    {
      torch::NoGradGuard g;
      for (auto& p : made->parameters()) p.add_(torch::randn_like(p));
    }
    auto x = torch::randn({1, d}, torch::kFloat64).requires_grad_(true);
    auto out = made->forward(x);
    for (int64_t o = 0; o < 2 * d; ++o) {
      auto g = torch::autograd::grad({out[0][o]}, {x}, {}, true, false, true)[0];
      if (!g.defined()) continue;
      for (int64_t j = o / 2; j < d; ++j)
        EXPECT_EQ(g[0][j].item<double>(), 0.0) << "D=" << d << " out " << o << " in " << j;
    }
  }
}

TEST(Made, ResidualOutputLayerStartsSmall) {
  torch::manual_seed(2);
  Made made(3, 20, torch::kFloat32);
  EXPECT_LE(made->block(0)->layer(1)->weight().abs().max().item<double>(), 1e-3);
  EXPECT_LE(made->block(1)->layer(1)->bias().abs().max().item<double>(), 1e-3);
  EXPECT_GT(made->block(0)->layer(0)->weight().abs().max().item<double>(), 1e-2);
}

TEST(StandardModel, ParameterNamesOrderAndCount) {
  Flow f(Architecture{3, {10, 5}, true}, torch::kFloat32);
  auto state = f->state_dict();
  ASSERT_EQ(state.size(), 55u);  // as the mbank fixture file
  EXPECT_EQ(state[0].first, "constant");
  EXPECT_EQ(state[1].first, "_transform._transforms.0.low");
  EXPECT_EQ(state[2].first, "_transform._transforms.0.high");
  EXPECT_EQ(state[3].first, "_transform._transforms.1.bias");
  EXPECT_EQ(state[4].first, "_transform._transforms.1._weight");
  EXPECT_EQ(state[5].first, "_transform._transforms.2.autoregressive_net.initial_layer.weight");
  EXPECT_EQ(state[8].first, "_transform._transforms.2.autoregressive_net.initial_layer.degrees");
  EXPECT_EQ(state[9].first, "_transform._transforms.2.autoregressive_net.blocks.0.linear_layers.0.weight");
  EXPECT_EQ(state.back().first, "_transform._transforms.4.autoregressive_net.final_layer.degrees");
  int64_t trainable = 0;
  for (auto& p : f->parameters()) trainable += p.numel();
  EXPECT_EQ(trainable, 747);
  EXPECT_EQ(f->architecture().parameter_count(), 747);
  EXPECT_EQ(infer_architecture(state), f->architecture());
  Flow g(Architecture{3, {10, 5}, false}, torch::kFloat32);
  EXPECT_EQ(g->architecture().parameter_count(), 746);
}

TEST(StandardModel, NaiveLinearStartsOrthogonal) {
  torch::manual_seed(3);
  Flow f(Architecture{4, {3}, false}, torch::kFloat64);
  auto state = f->state_dict();
  torch::Tensor w;
  for (auto& [n, t] : state) {
    if (n == "_transform._transforms.1._weight") w = t;
  }
  ASSERT_TRUE(w.defined());
  EXPECT_LT((w.mm(w.t()) - torch::eye(4, torch::kFloat64)).abs().max().item<double>(), 1e-12);
}

}  // namespace
}  // namespace gwflow::flow
