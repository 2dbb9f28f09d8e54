// make_initial_model: the same model from the same training.seed, the box from data.boundaries or
// the data's range, model.init's parameters (and its architecture check), the regression constant
// at the 0.9 quantile of the targets, and the config errors it names.
#include "gwflow/errors.hpp"
#include "gwflow/io/weights.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/initial_model.hpp"
#include "test_util.hpp"

namespace gwflow::train {
namespace {

struct Scene {
  config::Config cfg;
  TrainingData data;
  parallel::Communicator comm{MPI_COMM_SELF};
  Scene() {
    cfg.data.train = config::parse_dataset_ref("train.h5:/x", "data.train");
    cfg.model.hidden_features = {4, 3};
    cfg.model.n_layers = 2;
    cfg.model.dtype = config::Dtype::kFloat64;
    torch::manual_seed(5);
    data.dim = 2;
    data.train = torch::rand({50, 2}, torch::kFloat64) * 4 - 1;  // in [-1, 3)
    data.n_train = 50;
    data.min = std::get<0>(data.train.min(0));
    data.max = std::get<0>(data.train.max(0));
    data.train_weights = torch::randn({50}, torch::kFloat64);
  }
};

TEST(InitialModel, SameSeedSameModelOtherSeedAnother) {
  Scene s;
  const auto a = make_initial_model(s.cfg, s.data, s.comm)->state_dict();
  torch::manual_seed(123);  // the global generator's state before does not matter
  const auto b = make_initial_model(s.cfg, s.data, s.comm)->state_dict();
  EXPECT_TRUE(test::same_state(a, b));
  s.cfg.training.seed += 1;
  EXPECT_FALSE(test::same_state(a, make_initial_model(s.cfg, s.data, s.comm)->state_dict()));
}

TEST(InitialModel, BoxFromBoundariesOrFromTheDataRange) {
  Scene s;
  auto from_data = make_initial_model(s.cfg, s.data, s.comm);
  auto [low, high] = flow::box_with_margin(s.data.min, s.data.max);
  EXPECT_TRUE(torch::equal(from_data->box()->low().detach(), low.to(torch::kFloat64)));
  EXPECT_TRUE(torch::equal(from_data->box()->high().detach(), high.to(torch::kFloat64)));
  s.cfg.data.boundaries = config::Box{{-5, -6}, {7, 8}};
  auto from_cfg = make_initial_model(s.cfg, s.data, s.comm);
  std::tie(low, high) =
      flow::box_with_margin(torch::tensor({-5.0, -6.0}, torch::kFloat64), torch::tensor({7.0, 8.0}, torch::kFloat64));
  EXPECT_TRUE(torch::equal(from_cfg->box()->low().detach(), low));
  EXPECT_TRUE(torch::equal(from_cfg->box()->high().detach(), high));
}

TEST(InitialModel, RegressionConstantStartsAtTheTargetsQuantile) {
  Scene s;
  s.cfg.model.constant = true;
  s.cfg.training.loss = config::Loss::kLlMse;
  auto f = make_initial_model(s.cfg, s.data, s.comm);
  EXPECT_EQ(f->constant().item<double>(), torch::quantile(s.data.train_weights, 0.9).item<double>());
  s.data.train_weights = torch::Tensor();
  EXPECT_THROW(
      {
        try {
          make_initial_model(s.cfg, s.data, s.comm);
        } catch (const ConfigError& e) {
          EXPECT_STREQ(e.what(), "training.loss = \"ll_mse\" needs data.weights");
          throw;
        }
      },
      ConfigError);
}

TEST(InitialModel, ModelInitGivesEveryParameterAndChecksTheArchitecture) {
  Scene s;
  const std::string dir = test::scratch_dir("initial_model");
  torch::manual_seed(77);
  flow::Flow other(flow::Architecture{2, {4, 3}, false}, torch::kFloat64);
  other->box()->set_box(torch::tensor({-2.0, -2.0}, torch::kFloat64), torch::tensor({2.0, 2.0}, torch::kFloat64));
  io::write_weights(dir + "/w.zip", other->state_dict());
  s.cfg.model.init = dir + "/w.zip";
  EXPECT_TRUE(test::same_state(make_initial_model(s.cfg, s.data, s.comm)->state_dict(), other->state_dict()));
  s.cfg.model.hidden_features = {5, 3};
  try {
    make_initial_model(s.cfg, s.data, s.comm);
    ADD_FAILURE() << "a model.init of another architecture was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.init = " + dir + "/w.zip holds D=2"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(InitialModel, ColumnsAndBoundariesMustHaveDEntries) {
  Scene s;
  s.cfg.data.columns = {"a", "b", "c"};
  try {
    make_initial_model(s.cfg, s.data, s.comm);
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "data.columns has 3 names but train.h5:/x has D = 2");
  }
  s.cfg.data.columns.clear();
  s.cfg.data.boundaries = config::Box{{0, 0, 0}, {1, 1, 1}};
  try {
    make_initial_model(s.cfg, s.data, s.comm);
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "data.boundaries has 3 dimensions but train.h5:/x has D = 2");
  }
}

}  // namespace
}  // namespace gwflow::train
