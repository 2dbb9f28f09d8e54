#include "gwflow/train/history.hpp"

#include "gwflow/train/state_archive.hpp"

#include <filesystem>

#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/hdf5.hpp"

namespace gwflow::train {
namespace {

std::vector<double> read_vector(const io::File& f, const std::string& name) {
  const auto dims = f.dims(name);
  auto t = f.read_rows(name, 0, dims.at(0));
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

}  // namespace

void save_history(const History& h, const std::string& path,
                  const std::vector<std::pair<std::string, std::string>>& provenance) {
  std::vector<char> bytes;
  {
    io::File f(path, io::File::Mode::kInMemory);  // written in one go below
    f.write_vector("/train_loss", h.train_loss);
    f.write_vector("/validation_loss", h.validation_loss);
    f.write_vector("/valmetric_value", h.valmetric_value);
    f.write_vector("/validation_iteration", h.validation_iteration);
    f.write_vector("/learning_rate", h.learning_rate);
    f.write_attribute("/", "validation_step", h.validation_step);
    f.write_attribute("/", "valmetric_mean", h.valmetric_mean);
    f.write_attribute("/", "valmetric_std", h.valmetric_std);
    f.write_attribute("/", "validation_metric", h.validation_metric);
    f.write_attribute("/", "format_version", io::kOutputFormatVersion);
    for (const auto& [k, v] : provenance) f.write_attribute("/", k, v);
    bytes = f.image();
  }
  io::write_file_atomic(path, bytes);
}

History load_history(const std::string& path) {
  io::File f(path, io::File::Mode::kRead);
  History h;
  h.train_loss = read_vector(f, "/train_loss");
  h.validation_loss = read_vector(f, "/validation_loss");
  h.valmetric_value = read_vector(f, "/valmetric_value");
  h.validation_iteration = read_vector(f, "/validation_iteration");
  if (f.has("/learning_rate")) h.learning_rate = read_vector(f, "/learning_rate");
  h.validation_step = static_cast<int64_t>(f.read_double_attribute("/", "validation_step"));
  h.valmetric_mean = f.read_double_attribute("/", "valmetric_mean");
  h.valmetric_std = f.read_double_attribute("/", "valmetric_std");
  h.validation_metric = f.read_string_attribute("/", "validation_metric");
  return h;
}

void History::archive(StateArchive& a) {
  a.series("history.train_loss", train_loss);
  a.series("history.validation_loss", validation_loss);
  a.series("history.valmetric_value", valmetric_value);
  a.series("history.validation_iteration", validation_iteration);
  a.series("history.learning_rate", learning_rate);
  a.number("valmetric_mean", valmetric_mean);
  a.number("valmetric_std", valmetric_std);
  a.text("validation_metric", validation_metric);
}

}  // namespace gwflow::train
