// Data-parallel training on 2 ranks: identical parameters on every rank, the same statistics as
// a 1-rank run with the same global batch, signals agreed by all ranks, sharded reads.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <limits>

#include "gwflow/examples/regression_data.hpp"
#include "gwflow/examples/seed_tutorial_data.hpp"
#include "gwflow/io/hdf5.hpp"
#include "gwflow/parallel/gradient_reducer.hpp"
#include "gwflow/parallel/signals.hpp"
#include "gwflow/train/quantile.hpp"
#include "gwflow/train/trainer.hpp"

namespace gwflow {
namespace {

const parallel::Communicator& world() {
  static parallel::Communicator comm(MPI_COMM_WORLD);
  return comm;
}

/// A data file shared by both ranks (rank 0 picks the name).
std::string shared_data(int64_t n) {
  static std::map<int64_t, std::string> made;
  if (made.count(n)) return made[n];
  const auto dir = std::filesystem::temp_directory_path() / "gwflow_mpi_tests";
  const std::string path = (dir / ("tutorial_" + std::to_string(n) + ".h5")).string();
  examples::write_seed_tutorial_data(path, n, 11, world());
  return made[n] = path;
}

config::Config small_config(int64_t n) {
  config::Config c;
  c.data.train = {shared_data(n), "/x"};
  c.model.n_layers = 2;
  c.model.hidden_features = {6, 6};
  c.training.iterations = 300;
  c.training.batch_size = 600;
  c.training.learning_rate = 5e-3;
  c.training.validation_step = 10;
  c.training.seed = 4;
  return c;
}

std::vector<double> flat_params(const flow::Flow& f) {
  std::vector<double> out;
  for (auto& [name, t] : f->state_dict()) {
    auto d = t.to(torch::kFloat64).contiguous();
    out.insert(out.end(), d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  }
  return out;
}

TEST(ShardedRead, EachRankReadsItsRowsAndTheDataIsRankCountIndependent) {
  const auto path = shared_data(1001);
  config::DataConfig dc;
  dc.train = {path, "/x"};
  auto td = train::load_training_data(dc, world());
  EXPECT_EQ(td.n_train + td.n_validation, 1001);
  EXPECT_EQ(world().sum(td.train_shard.count), td.n_train);
  for (int64_t i = 0; i < td.train_shard.count; i += 97) {
    double row[2];
    examples::seed_tutorial_row(11, td.train_shard.offset + i, row);
    EXPECT_EQ(td.train[i][0].item<double>(), row[0]);
    EXPECT_EQ(td.train[i][1].item<double>(), row[1]);
  }
  // The global min/max agree on every rank.
  double mx = td.max[0].item<double>(), mx_max = mx;
  world().max(&mx_max, 1);
  EXPECT_EQ(mx, mx_max);
}

TEST(GradientReducer, SumsEveryRanksGradients) {
  auto p = torch::zeros({3, 2}, torch::kFloat64).requires_grad_(true);
  p.mutable_grad() = torch::full({3, 2}, world().rank() + 1.0, torch::kFloat64);
  auto q = torch::zeros({4}, torch::kFloat32).requires_grad_(true);  // no grad on purpose
  parallel::MpiGradientReducer r(world(), {p});
  r.allreduce();
  const double expected = world().size() * (world().size() + 1) / 2.0;
  EXPECT_TRUE(torch::allclose(p.grad(), torch::full({3, 2}, expected, torch::kFloat64)));
}

TEST(DataParallelTraining, ValidationInSmallStepsGivesTheSameLoss) {
  // training.validation_batch_size bounds the rows evaluated at once; the loss is the same sum
  // taken in other pieces: equal up to float32 summation rounding, at most n eps32 sum|t| for a
  // float32 sum of n terms t (bounded here by n eps32 |loss| times the conditioning, which the
  // tolerance takes as 4: the terms -log p are mostly of one sign on this data).
  std::vector<std::vector<double>> losses;
  int64_t n_validation = 0;
  for (int64_t step : {int64_t{65536}, int64_t{7}}) {
    auto cfg = small_config(4000);
    cfg.training.iterations = 30;
    cfg.training.validation_batch_size = step;
    auto td = train::load_training_data(cfg.data, world());
    n_validation = td.n_validation;
    train::Trainer t(cfg, td, world());
    t.run({});
    losses.push_back(t.history().validation_loss);
  }
  ASSERT_EQ(losses[0].size(), 3u);
  ASSERT_EQ(losses[1].size(), losses[0].size());
  const double eps32 = std::numeric_limits<float>::epsilon();
  for (size_t i = 0; i < losses[0].size(); ++i) {
    EXPECT_NEAR(losses[1][i], losses[0][i], 4.0 * n_validation * eps32 * std::abs(losses[0][i])) << "validation " << i;
  }
}

TEST(DataParallelTraining, ParametersStayIdenticalOnAllRanks) {
  auto cfg = small_config(4000);
  cfg.training.iterations = 60;
  auto td = train::load_training_data(cfg.data, world());
  train::Trainer t(cfg, td, world());
  t.run({});
  auto mine = flat_params(t.flow());
  auto root = mine;
  world().broadcast(root.data(), static_cast<int64_t>(root.size()));
  double maxdiff = 0;
  for (size_t i = 0; i < mine.size(); ++i) maxdiff = std::max(maxdiff, std::abs(mine[i] - root[i]));
  EXPECT_EQ(maxdiff, 0.0) << "ranks diverged";
  EXPECT_EQ(t.history().train_loss.size(), 60u);
  EXPECT_EQ(t.history().validation_loss.size(), 6u);
  EXPECT_EQ(world().sum(t.local_batch()), cfg.training.batch_size);
}

TEST(DataParallelTraining, TwoRanksSeeTheSameLossCurveAsOneRankStatistically) {
  auto cfg = small_config(4000);
  auto td2 = train::load_training_data(cfg.data, world());
  train::Trainer t2(cfg, td2, world());
  t2.run({});
  // The same training on rank 0 alone (a 1-rank communicator), same global batch.
  MPI_Comm solo_raw;
  MPI_Comm_split(world().get(), world().rank(), 0, &solo_raw);
  double finals[2] = {0, 0};
  {
    parallel::Communicator solo(solo_raw);
    if (world().rank() == 0) {
      auto td1 = train::load_training_data(cfg.data, solo);
      train::Trainer t1(cfg, td1, solo);
      t1.run({});
      const auto& v1 = t1.history().validation_loss;
      finals[0] = (v1[v1.size() - 1] + v1[v1.size() - 2] + v1[v1.size() - 3]) / 3;
      const auto& v2 = t2.history().validation_loss;
      finals[1] = (v2[v2.size() - 1] + v2[v2.size() - 2] + v2[v2.size() - 3]) / 3;
      const double start = v2.front();
      std::cout << "validation loss: start " << start << ", 1 rank " << finals[0] << ", 2 ranks " << finals[1]
                << std::endl;
      EXPECT_LT(finals[1], start - 0.3) << "the 2-rank run did not learn";
      EXPECT_LT(finals[0], start - 0.3) << "the 1-rank run did not learn";
      EXPECT_NEAR(finals[0], finals[1], 0.1);
    }
  }
  MPI_Comm_free(&solo_raw);
}

TEST(DataParallelTraining, ASignalOnOneRankStopsAllRanksAtTheSameIteration) {
  auto cfg = small_config(4000);
  cfg.training.iterations = 50;
  auto td = train::load_training_data(cfg.data, world());
  train::Trainer t(cfg, td, world());
  parallel::StopSignals signals;
  if (world().rank() == world().size() - 1) parallel::StopSignals::raise_for_test(SIGINT);
  t.run({});
  EXPECT_EQ(t.stop_signal(), SIGINT);
  EXPECT_EQ(t.iterations_done(), 1);
  EXPECT_EQ(world().max(static_cast<int>(t.iterations_done())), 1);
  parallel::StopSignals::raise_for_test(0);  // do not leak the flag into later tests
}

TEST(Quantile, DistributedEqualsTorchQuantileOfTheUnion) {
  torch::manual_seed(7);
  for (int64_t n : {1, 2, 9, 1000, 1001}) {
    auto all = torch::randn({n}, torch::kFloat64).round();  // duplicates on purpose
    const auto shard = parallel::shard_rows(n, world().rank(), world().size());
    auto mine = all.narrow(0, shard.offset, shard.count);
    for (double q : {0.0, 0.25, 0.9, 1.0}) {
      EXPECT_EQ(train::global_quantile(mine, q, world()), torch::quantile(all, q).item<double>())
          << "n=" << n << " q=" << q;
    }
  }
}

TEST(RegressionTraining, ConstantStartsAtTheQuantileAndApproachesLogZ) {
  const auto dir = std::filesystem::temp_directory_path() / "gwflow_mpi_tests";
  const std::string path = (dir / "regression.h5").string();
  examples::write_regression_data(path, 12000, 3, world());
  config::Config c;
  c.data.train = {path, "/x"};
  c.data.weights = {path, "/log_pdf"};
  c.model.n_layers = 2;
  c.model.hidden_features = {12, 12};
  c.model.constant = true;
  c.training.loss = config::Loss::kLlMse;
  c.training.iterations = 600;
  c.training.batch_size = 2000;
  c.training.learning_rate = 5e-3;
  c.training.validation_step = 50;
  c.training.lr_scheduler = config::LrScheduler::kPlateau;
  auto td = train::load_training_data(c.data, world(), true);
  train::Trainer t(c, td, world());
  // Before training: C = torch.quantile(all training targets, 0.9).
  io::File f(path, io::File::Mode::kRead);
  auto w_all = f.read_rows("/log_pdf", 0, td.n_train);
  EXPECT_EQ(t.flow()->constant().item<double>(),
            static_cast<double>(static_cast<float>(torch::quantile(w_all, 0.9).item<double>())));
  t.run({});
  auto r = t.regression_summary();
  if (world().is_root()) {
    std::cout << "regression: C = " << r.constant << ", log Z = " << examples::regression_log_z() << ", residual std "
              << r.residual_std << std::endl;
  }
  EXPECT_NEAR(r.constant, examples::regression_log_z(), 0.05);
  EXPECT_LT(r.residual_std, 0.2);
  EXPECT_EQ(t.history().learning_rate.size(), t.history().validation_loss.size());
}

}  // namespace
}  // namespace gwflow
