// "Rank 0 does it, every rank learns how it went" on 2 ranks: the task runs on rank 0 alone, its
// typed error reaches every rank with rank 0's message, and rank 0's answer is every rank's.
#include <gtest/gtest.h>

#include "gwflow/errors.hpp"
#include "gwflow/parallel/root_task.hpp"

namespace gwflow::parallel {
namespace {

const Communicator& world() {
  static Communicator comm(MPI_COMM_WORLD);
  return comm;
}

TEST(RootTask, RunsOnRankZeroAloneAndEveryRankGetsItsTypedError) {
  ASSERT_EQ(world().size(), 2);
  int runs = 0;
  run_on_root(world(), [&] { ++runs; });
  EXPECT_EQ(runs, world().is_root() ? 1 : 0);
  try {
    run_on_root(world(), [] { throw ConfigError("rank 0's reason"); });
    ADD_FAILURE() << "no error on rank " << world().rank();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "rank 0's reason");
  }
  try {
    run_on_root(world(), [] { throw std::runtime_error("a standard library error"); });
    ADD_FAILURE() << "no error on rank " << world().rank();
  } catch (const IoError& e) {  // anything that is not a gwflow error arrives as an IoError
    EXPECT_STREQ(e.what(), "a standard library error");
  }
}

TEST(RootTask, EveryRankGetsRankZerosAnswer) {
  // Rank 0 answers from its own state; another rank would answer differently.
  for (bool zero_says : {true, false}) {
    int asked = 0;
    const bool answer = root_decides(world(), [&] {
      ++asked;
      return world().is_root() ? zero_says : !zero_says;
    });
    EXPECT_EQ(answer, zero_says) << "rank " << world().rank();
    EXPECT_EQ(asked, world().is_root() ? 1 : 0);
  }
  EXPECT_THROW(root_decides(world(), []() -> bool { throw DomainError("no answer"); }), DomainError);
}

}  // namespace
}  // namespace gwflow::parallel
