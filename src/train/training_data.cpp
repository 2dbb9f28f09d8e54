#include "gwflow/train/training_data.hpp"

#include <cmath>

#include "gwflow/errors.hpp"
#include "gwflow/io/hdf5.hpp"

namespace gwflow::train {
namespace {

// Collective: every rank throws the same error, naming the first non-finite row globally.
void check_finite(const torch::Tensor& rows, const config::DatasetRef& ref, int64_t offset,
                  const parallel::Communicator& comm) {
  double first = INFINITY;
  auto bad = torch::isfinite(rows).all(1).logical_not();
  if (bad.any().item<bool>()) first = static_cast<double>(bad.nonzero()[0][0].item<int64_t>() + offset);
  comm.min(&first, 1);
  if (std::isfinite(first)) {
    throw DomainError(ref.str() + ": row " + std::to_string(static_cast<int64_t>(first)) +
                      " is not finite (NaN or inf)");
  }
}

}  // namespace

namespace {

/// Collective: rows [offset, offset + count) of a 1-D weights dataset with `expected` rows.
torch::Tensor read_weights_rows(const config::DatasetRef& ref, int64_t expected, int64_t offset, int64_t count,
                                const std::string& key, const parallel::Communicator& comm) {
  if (ref.empty()) throw ConfigError(key + " is not set: the regression losses need the target log density");
  io::File f(ref.file, io::File::Mode::kRead, &comm);
  const auto dims = f.dims(ref.path);
  if (dims.size() != 1 || dims[0] != expected) {
    throw DomainError(ref.str() + ": expected [" + std::to_string(expected) + "] target log densities (" + key + ")");
  }
  return f.read_rows(ref.path, offset, count);
}

}  // namespace

TrainingData load_training_data(const config::DataConfig& data, const parallel::Communicator& comm, bool need_weights) {
  if (data.train.empty()) throw ConfigError("data.train is not set (\"FILE.h5:/dataset\")");
  TrainingData td;
  io::File train_file(data.train.file, io::File::Mode::kRead, &comm);
  const auto dims = train_file.dims(data.train.path);
  if (dims.size() != 2 || dims[1] < 1) {
    throw DomainError(data.train.str() + ": expected a 2-D dataset [N, D]");
  }
  td.dim = dims[1];
  const int64_t n_rows = dims[0];
  if (data.validation.empty()) {
    td.n_train = static_cast<int64_t>(std::floor((1.0 - data.validation_fraction) * n_rows + 1e-9));
    td.n_validation = n_rows - td.n_train;
  } else {
    td.n_train = n_rows;
  }
  if (td.n_train < comm.size()) {
    throw DomainError(data.train.str() + ": " + std::to_string(td.n_train) + " training rows for " +
                      std::to_string(comm.size()) + " ranks");
  }
  td.train_shard = parallel::shard_rows(td.n_train, comm.rank(), comm.size());
  td.train = train_file.read_rows(data.train.path, td.train_shard.offset, td.train_shard.count);
  check_finite(td.train, data.train, td.train_shard.offset, comm);

  if (data.validation.empty()) {
    td.validation_shard = parallel::shard_rows(td.n_validation, comm.rank(), comm.size());
    td.validation =
        train_file.read_rows(data.train.path, td.n_train + td.validation_shard.offset, td.validation_shard.count);
  } else {
    io::File val_file(data.validation.file, io::File::Mode::kRead, &comm);
    const auto vdims = val_file.dims(data.validation.path);
    if (vdims.size() != 2 || vdims[1] != td.dim) {
      throw DomainError(data.validation.str() + ": expected [N, " + std::to_string(td.dim) + "] like data.train");
    }
    td.n_validation = vdims[0];
    td.validation_shard = parallel::shard_rows(td.n_validation, comm.rank(), comm.size());
    td.validation = val_file.read_rows(data.validation.path, td.validation_shard.offset, td.validation_shard.count);
  }
  if (td.n_validation < 1) {
    throw DomainError((data.validation.empty() ? data.train.str() : data.validation.str()) + ": no validation rows");
  }
  const auto& vref = data.validation.empty() ? data.train : data.validation;
  check_finite(td.validation, vref, td.validation_shard.offset + (data.validation.empty() ? td.n_train : 0), comm);

  if (need_weights) {
    td.train_weights =
        read_weights_rows(data.weights, n_rows, td.train_shard.offset, td.train_shard.count, "data.weights", comm);
    check_finite(td.train_weights.unsqueeze(1), data.weights, td.train_shard.offset, comm);
    if (data.validation.empty()) {
      td.validation_weights = read_weights_rows(data.weights, n_rows, td.n_train + td.validation_shard.offset,
                                                td.validation_shard.count, "data.weights", comm);
    } else {
      td.validation_weights = read_weights_rows(data.validation_weights, td.n_validation, td.validation_shard.offset,
                                                td.validation_shard.count, "data.validation_weights", comm);
    }
    check_finite(td.validation_weights.unsqueeze(1), data.validation.empty() ? data.weights : data.validation_weights,
                 td.validation_shard.offset, comm);
  }

  std::vector<double> mn(td.dim, INFINITY), mx(td.dim, -INFINITY);
  if (td.train_shard.count > 0) {
    auto lo = std::get<0>(td.train.min(0)), hi = std::get<0>(td.train.max(0));
    for (int64_t d = 0; d < td.dim; ++d) {
      mn[d] = lo[d].item<double>();
      mx[d] = hi[d].item<double>();
    }
  }
  comm.min(mn.data(), td.dim);
  comm.max(mx.data(), td.dim);
  td.min = torch::tensor(mn, torch::kFloat64);
  td.max = torch::tensor(mx, torch::kFloat64);
  return td;
}

}  // namespace gwflow::train
