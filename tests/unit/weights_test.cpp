// Weights files: round trip, order, dtype, and errors that name the file.
#include <fstream>

#include "gwflow/flow/flow.hpp"
#include "gwflow/io/weights.hpp"
#include "test_util.hpp"

namespace gwflow::io {
namespace {

TEST(Weights, RoundTripKeepsNamesOrderAndValues) {
  const auto dir = test::scratch_dir("weights_rt");
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    torch::manual_seed(5);
    flow::Flow f(flow::Architecture{3, {7, 4}, true}, dtype);
    {
      torch::NoGradGuard g;
      for (auto& p : f->parameters()) p.add_(torch::randn_like(p));
    }
    const std::string path = dir + "/w.zip";
    write_weights(path, f->state_dict());
    auto back = read_weights(path, "");
    auto orig = f->state_dict();
    ASSERT_EQ(back.size(), orig.size());
    for (size_t i = 0; i < orig.size(); ++i) {
      EXPECT_EQ(back[i].first, orig[i].first);
      EXPECT_TRUE(torch::equal(back[i].second, orig[i].second)) << orig[i].first;
      EXPECT_EQ(back[i].second.scalar_type(), orig[i].second.scalar_type());
    }
    auto g = flow::flow_from_state(back, dtype);
    auto x = 0.5 * torch::randn({20, 3}, dtype);
    torch::NoGradGuard ng;
    f->box()->set_box(torch::full({3}, -3.0), torch::full({3}, 3.0));
    g->box()->set_box(torch::full({3}, -3.0), torch::full({3}, 3.0));
    EXPECT_TRUE(torch::equal(f->log_prob(x), g->log_prob(x)));
    EXPECT_FALSE(std::ifstream(path + ".partial").good()) << "the partial file must be renamed away";
  }
}

TEST(Weights, FixtureDictFilesLoadInto64Bit) {
  auto state = read_weights(test::data_path("std_D2_L3_H5.weights-dict.pt"), "");
  auto f = flow::flow_from_state(state, torch::kFloat64);
  EXPECT_EQ(f->architecture().parameter_count(), 3 * (4 + 6 + 30 + 100 + 25));
}

TEST(Weights, ErrorsNameTheFile) {
  const auto dir = test::scratch_dir("weights_err");
  try {
    read_weights(dir + "/missing.zip", "");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("missing.zip"), std::string::npos);
  }
  std::ofstream(dir + "/junk.zip") << "not a zip at all";
  EXPECT_THROW(read_weights(dir + "/junk.zip", ""), std::exception);
  // A state dict missing an entry is rejected with the entry's name.
  flow::Flow f(flow::Architecture{2, {3}, false}, torch::kFloat32);
  auto state = f->state_dict();
  state.erase(state.begin() + 3);
  try {
    f->load_state_dict(state);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("_transform._transforms.1._weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gwflow::io
