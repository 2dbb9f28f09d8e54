// global_quantile: torch.quantile's definition (linear interpolation) over every rank's rows.
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/quantile.hpp"
#include "test_util.hpp"

namespace gwflow::train {
namespace {

TEST(Quantile, MatchesTorchQuantileOnOddEvenAndDuplicates) {
  parallel::Communicator comm(MPI_COMM_SELF);
  torch::manual_seed(1);
  std::vector<torch::Tensor> cases = {torch::randn({11}, torch::kFloat64),
                                      torch::randn({10}, torch::kFloat64),
                                      torch::tensor({3.0, 1.0, 3.0, 3.0, 2.0, 1.0}, torch::kFloat64),
                                      torch::tensor({5.0}, torch::kFloat64),
                                      -torch::rand({1000}, torch::kFloat64) * 1e5,
                                      torch::tensor({-0.0, 0.0, -1e-300, 1e-300, -2.5, 7.0}, torch::kFloat64)};
  for (const auto& v : cases) {
    for (double q : {0.0, 0.1, 0.5, 0.9, 0.95, 1.0}) {
      const double expected = torch::quantile(v, q).item<double>();
      EXPECT_EQ(global_quantile(v, q, comm), expected) << "n=" << v.numel() << " q=" << q;
    }
  }
  EXPECT_THROW(global_quantile(torch::tensor({1.0, NAN}, torch::kFloat64), 0.5, comm), std::exception);
}

}  // namespace
}  // namespace gwflow::train
