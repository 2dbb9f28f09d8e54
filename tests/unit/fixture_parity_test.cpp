// Parity with the Python reference (mbank STD_GW_Flow on glasflow/nflows, torch 1.13): the
// fixtures in tests/data were produced by it (see tests/data/README.md).
#include <torch/serialize.h>

#include "gwflow/flow/flow.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/weights.hpp"
#include "test_util.hpp"

namespace gwflow::flow {
namespace {

std::map<std::string, torch::Tensor> load_fixture(const std::string& name) {
  auto value = torch::pickle_load(io::read_file(test::data_path(name + ".fixture.pt")));
  std::map<std::string, torch::Tensor> out;
  for (const auto& e : value.toGenericDict()) out[e.key().toStringRef()] = e.value().toTensor();
  return out;
}

class FixtureParity : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureParity, Float64MatchesTheReference) {
  auto fx = load_fixture(GetParam());
  Flow f = flow_from_state(io::read_weights(test::data_path(GetParam() + ".weights-dict.pt")), torch::kFloat64);
  torch::NoGradGuard g;
  auto x = fx["x"].to(torch::kFloat64);
  EXPECT_LT(test::max_rel_error(f->log_prob(x), fx["log_prob64"]), 1e-10);
  EXPECT_LT(test::max_rel_error(f->transform_to_noise(x), fx["z64"]), 1e-10);
  auto z = fx["z_in"].to(torch::kFloat64);
  auto inv = f->inverse(z);
  EXPECT_LT(test::max_rel_error(inv.outputs, fx["x_from_z64"]), 1e-10);
  // The reference's own sampling density is +inf where tanh saturates; compare where finite,
  // and compare gwflow's stable density everywhere.
  auto s = f->sample_and_log_prob_from_noise(z);
  auto ref = fx["log_prob_of_x_from_z64"];
  auto fin = torch::isfinite(ref);
  EXPECT_LT(test::max_rel_error(s.log_prob.masked_select(fin), ref.masked_select(fin)), 1e-10);
  EXPECT_TRUE(torch::isfinite(s.log_prob).all().item<bool>());
  EXPECT_LT(test::max_rel_error(s.log_prob, fx["log_prob_of_x_from_z_stable64"]), 1e-10);
}

TEST_P(FixtureParity, Float32MatchesTheReference) {
  auto fx = load_fixture(GetParam());
  Flow f = flow_from_state(io::read_weights(test::data_path(GetParam() + ".weights-dict.pt")), torch::kFloat32);
  torch::NoGradGuard g;
  auto x = fx["x"];
  EXPECT_LT(test::max_rel_error(f->log_prob(x), fx["log_prob32"]), 1e-5);
  EXPECT_LT(test::max_rel_error(f->transform_to_noise(x), fx["z32"]), 1e-5);
  auto s = f->sample_and_log_prob_from_noise(fx["z_in"]);
  EXPECT_LT(test::max_rel_error(s.x, fx["x_from_z32"]), 1e-5);
  auto ref = fx["log_prob_of_x_from_z32"];
  auto fin = torch::isfinite(ref) & torch::isfinite(s.log_prob);
  EXPECT_LT(test::max_rel_error(s.log_prob.masked_select(fin), ref.masked_select(fin)), 1e-5);
  EXPECT_TRUE(torch::isfinite(s.log_prob).all().item<bool>()) << "float32 sampling must stay finite";
  EXPECT_LT(test::max_rel_error(s.log_prob, fx["log_prob_of_x_from_z_stable64"]), 1e-4);
}

TEST_P(FixtureParity, InfersTheArchitecture) {
  auto state = io::read_weights(test::data_path(GetParam() + ".weights-dict.pt"));
  auto arch = infer_architecture(state);
  const std::map<std::string, Architecture> expected = {
      {"std_D3_L2_H10-5", {3, {10, 5}, true}}, {"std_D2_L3_H5", {2, {5, 5, 5}, false}}, {"std_D1_L1_H1", {1, {1}, true}}};
  EXPECT_EQ(arch, expected.at(GetParam())) << arch.describe();
}

INSTANTIATE_TEST_SUITE_P(Models, FixtureParity,
                         ::testing::Values("std_D3_L2_H10-5", "std_D2_L3_H5", "std_D1_L1_H1"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

}  // namespace
}  // namespace gwflow::flow
