// Devices and gradient reducers without a GPU: the selection logic, and clean errors when CUDA
// or NCCL is asked for where it cannot work.
#include "gwflow/errors.hpp"
#include "gwflow/parallel/device.hpp"
#include "gwflow/parallel/gradient_reducer.hpp"
#include "test_util.hpp"

#include <torch/cuda.h>

namespace gwflow::parallel {
namespace {

TEST(Reducer, SelectionLogic) {
  using config::Reducer;
  EXPECT_EQ(choose_reducer(Reducer::kAuto, false, false), Reducer::kMpi);
  EXPECT_EQ(choose_reducer(Reducer::kAuto, false, true), Reducer::kMpi);
  EXPECT_EQ(choose_reducer(Reducer::kAuto, true, false), Reducer::kMpi);
  EXPECT_EQ(choose_reducer(Reducer::kAuto, true, true), Reducer::kNccl);
  EXPECT_EQ(choose_reducer(Reducer::kMpi, true, true), Reducer::kMpi);
  EXPECT_EQ(choose_reducer(Reducer::kNccl, true, true), Reducer::kNccl);
  EXPECT_THROW(choose_reducer(Reducer::kNccl, true, false), ConfigError);
  EXPECT_THROW(choose_reducer(Reducer::kNccl, false, true), ConfigError);
  EXPECT_FALSE(config::parse_choice<Reducer>("gloo"));  // and load_config names the key: config_test
}

TEST(Reducer, NcclIsBuiltAsConfigured) {
#ifdef GWFLOW_HAVE_NCCL
  EXPECT_TRUE(nccl_built());
#else
  EXPECT_FALSE(nccl_built());
#endif
}

TEST(Reducer, NcclWithHostTensorsIsAClearError) {
  Communicator comm(MPI_COMM_SELF);
  auto p = torch::zeros({3}, torch::kFloat32).requires_grad_(true);
  try {
    NcclGradientReducer r(comm, {p});
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(what.find("CUDA") != std::string::npos || what.find("NCCL") != std::string::npos) << what;
  }
  // "auto" with host tensors picks MPI, which works.
  auto r = make_gradient_reducer(config::Reducer::kAuto, comm, {p});
  EXPECT_EQ(r->name(), "mpi");
  p.mutable_grad() = torch::ones({3});
  r->allreduce();
  EXPECT_TRUE(torch::equal(p.grad(), torch::ones({3})));
}

TEST(Device, CudaWithoutCudaIsAClearError) {
  Communicator comm(MPI_COMM_SELF);
  EXPECT_TRUE(select_device(config::Device::kCpu, "training.device", comm).is_cpu());
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU is visible";
  try {
    select_device(config::Device::kCuda, "training.device", comm);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("training.device = \"cuda\""), std::string::npos) << e.what();
  }
}

TEST(Reducer, NcclOnOneGpuEqualsMpi) {
  if (!torch::cuda::is_available() || !nccl_built()) GTEST_SKIP() << "needs a GPU and a build with NCCL";
  Communicator comm(MPI_COMM_SELF);
  torch::manual_seed(3);
  auto g = torch::randn({1000}, torch::kFloat64);
  auto pc = torch::zeros({1000}, torch::kFloat64).requires_grad_(true);
  auto pg =
      torch::zeros({1000}, torch::TensorOptions().dtype(torch::kFloat64).device(torch::kCUDA)).requires_grad_(true);
  pc.mutable_grad() = g.clone();
  pg.mutable_grad() = g.to(torch::kCUDA);
  MpiGradientReducer mpi(comm, {pc});
  NcclGradientReducer nccl(comm, {pg});
  mpi.allreduce();
  nccl.allreduce();
  EXPECT_TRUE(torch::equal(pc.grad(), pg.grad().cpu()));
}

}  // namespace
}  // namespace gwflow::parallel
