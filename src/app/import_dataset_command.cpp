// gwflow import-dataset: mbank's dataset text file -> /x, /log_pdf (and /metric) in an HDF5 file.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "gwflow/app/commands.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/hdf5.hpp"
#include "gwflow/io/mbank_dataset.hpp"
#include "gwflow/io/output_lock.hpp"
#include "gwflow/parallel/root_task.hpp"
#include "gwflow/version.hpp"

namespace gwflow::app {
namespace {

int64_t dim_option(const CommandLine& cl) {
  auto it = cl.options.find("--dim");
  if (it == cl.options.end()) throw UsageError("import-dataset: --dim D is required");
  try {
    size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used != it->second.size() || v < 1) throw std::invalid_argument("range");
    return v;
  } catch (const std::exception&) {
    throw UsageError("import-dataset: --dim must be an integer >= 1, got '" + it->second + "'");
  }
}

/// Rank 0's work: parse, write under the partial name, rename. Returns the lines to print.
std::vector<std::string> import_dataset(const std::string& input, int64_t dim, const std::string& out) {
  const auto t0 = std::chrono::steady_clock::now();
  if (io::same_file(out, input)) {
    throw UsageError("import-dataset: --out " + out + " is the input file: choose another output");
  }
  const io::MbankDataset ds = io::read_mbank_dataset(input, dim);
  const int64_t n = ds.x.size(0);
  const std::string tmp = io::partial_path(out);
  try {
    io::File f(tmp, io::File::Mode::kCreate);
    f.write_tensor("/x", ds.x);
    if (ds.has_metric) f.write_tensor("/metric", ds.metric);
    f.write_tensor("/log_pdf", ds.log_pdf);
    f.write_attribute("/", "source", input);
    f.write_attribute("/", "layout", ds.layout());
    f.write_attribute("/", "dim", dim);
    f.write_attribute("/", "rows_read", ds.rows_read);
    f.write_attribute("/", "rows_with_nan_dropped", ds.rows_with_nan);
    f.write_attribute("/", "gwflow_version", std::string(kVersion));
    f.write_attribute("/", "format_version", io::kOutputFormatVersion);
    if (!ds.variable_format.empty()) f.write_attribute("/", "variable_format", ds.variable_format);
    f.close();
    io::commit_file(tmp, out);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string d = std::to_string(dim), rows = std::to_string(n);
  std::vector<std::string> lines;
  lines.push_back("import-dataset: " + input + ": layout " + ds.layout() + (ds.has_metric ? "" : " (no metric)"));
  lines.push_back("import-dataset: " + std::to_string(ds.rows_read) + " data rows, " +
                  std::to_string(ds.rows_with_nan) + " with NaN dropped, " + rows + " kept");
  lines.push_back("import-dataset: wrote " + out + ": /x [" + rows + ", " + d + "]" +
                  (ds.has_metric ? ", /metric [" + rows + ", " + d + ", " + d + "]" : std::string()) + ", /log_pdf [" +
                  rows + "] (float64) in " + format_seconds(s));
  return lines;
}

}  // namespace

int run_import_dataset(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("import-dataset: expected one MBANK_TEXT_FILE");
  const std::string& input = cl.positional[0];
  const int64_t dim = dim_option(cl);
  auto out = cl.options.find("--out");
  if (out == cl.options.end() || out->second.empty()) throw UsageError("import-dataset: --out FILE.h5 is required");
  io::make_directories(std::filesystem::path(out->second).parent_path().string(), comm);
  std::string lock_note;
  const io::OutputLock lock(out->second, io::OutputLock::beside(out->second), comm, lock_note);
  if (!lock_note.empty()) Log(comm).warn(lock_note);

  // Only rank 0 reads and writes; the others wait for its verdict so that all ranks fail alike.
  std::vector<std::string> lines;
  parallel::run_on_root(comm, [&] { lines = import_dataset(input, dim, out->second); });
  const Log log(comm);
  for (const auto& line : lines) log.info(line);
  return 0;
}

}  // namespace gwflow::app
