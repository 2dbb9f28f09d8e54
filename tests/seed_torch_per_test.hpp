#pragma once
// A GoogleTest listener that seeds torch's default generator before every test, on every rank
// alike: LibTorch 1.13 started every process from one fixed seed, LibTorch 2.x seeds it at
// random, so a test that draws without seeding would see other numbers in every run.
#include <gtest/gtest.h>
#include <torch/utils.h>

namespace gwflow::test {

class SeedTorchPerTest : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo& /*test*/) override { torch::manual_seed(67280421310721ULL); }
};

}  // namespace gwflow::test
