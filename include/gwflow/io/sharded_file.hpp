#pragma once
// A whole data file written collectively in one go: every rank contributes its contiguous rows of
// each dataset, the file is created under a partial name and renamed when complete.
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "gwflow/io/hdf5.hpp"

namespace gwflow::io {

/// One dataset of `rows` global rows; `local` holds this rank's rows ([count] or [count, cols],
/// float64) starting at the common `offset`.
struct ShardedDataset {
  std::string name;
  std::vector<int64_t> dims;
  torch::Tensor local;
};

/// Collective: writes every dataset (rows [offset, offset + local.size(0)) from each rank) and the
/// attributes set by `attributes(file)` into `path`, atomically (partial name, then rename).
void write_sharded_file(const std::string& path, int64_t offset, const std::vector<ShardedDataset>& datasets,
                        const std::function<void(File&)>& attributes, const parallel::Communicator& comm);

}  // namespace gwflow::io
