#pragma once
// Test data and scratch folders, for every unit test (no LibTorch: tests/CMakeLists.txt compiles a
// test that includes neither LibTorch nor test_util.hpp without the LibTorch precompiled header).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gwflow::test {

inline std::string data_path(const std::string& name) { return std::string(GWFLOW_TEST_DATA_DIR) + "/" + name; }

/// A fresh, empty scratch directory for one test.
inline std::string scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("gwflow_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace gwflow::test
