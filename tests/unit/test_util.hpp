#pragma once
// Helpers shared by the unit tests.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace gwflow::test {

inline std::string data_path(const std::string& name) { return std::string(GWFLOW_TEST_DATA_DIR) + "/" + name; }

/// A fresh, empty scratch directory for one test.
inline std::string scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("gwflow_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

/// max_i |a_i - b_i| / max(|b_i|, floor) over entries where b is finite; requires the same
/// non-finite pattern.
inline double max_rel_error(const torch::Tensor& a, const torch::Tensor& b, double floor = 1.0) {
  auto a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(torch::isfinite(a64), torch::isfinite(b64))) << "non-finite patterns differ";
  auto fin = torch::isfinite(b64) & torch::isfinite(a64);
  if (!fin.any().item<bool>()) return 0;
  auto diff = (a64 - b64).abs().masked_select(fin);
  auto scale = b64.abs().masked_select(fin).clamp_min(floor);
  return (diff / scale).max().item<double>();
}

}  // namespace gwflow::test
