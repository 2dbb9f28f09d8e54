#include "gwflow/io/generation_file.hpp"

#include "gwflow/parallel/root_task.hpp"

#include <filesystem>

#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"

namespace gwflow::io {
namespace {

constexpr const char* kProgress = "/progress";

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

/// Collective: rank 0 decides, everyone learns (file systems may lag between nodes).
bool agreed_exists(const std::string& path, const parallel::Communicator& comm) {
  return parallel::root_decides(comm, [&] { return exists(path); });
}

void remove_file(const std::string& path, const parallel::Communicator& comm) {
  parallel::run_on_root(comm, [&] {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  });
}

std::string identity_of(const File& f) {
  try {
    return f.read_string_attribute("/", "identity");
  } catch (const IoError&) {
    return "";
  }
}

/// Collective. Whether `f` holds every dataset at its full shape and /progress says every row is
/// written: only then is a file "complete" (its identity alone says what it should hold, not
/// that it does).
bool finished(const File& f, const std::vector<OutputDataset>& datasets, int64_t& rows_written) {
  rows_written = -1;
  int ok = 1;
  try {
    for (const auto& d : datasets) {
      if (!f.has(d.name) || f.dims(d.name) != d.dims) ok = 0;
    }
    if (ok && f.has(kProgress) && f.dims(kProgress).size() == 1 && f.dims(kProgress)[0] >= 2) {
      rows_written = static_cast<int64_t>(f.read_rows(kProgress, 0, 2)[1].item<double>());
    }
    if (datasets.empty() || rows_written != datasets.front().dims.front()) ok = 0;
  } catch (const IoError&) {
    ok = 0;
  }
  return ok != 0;
}

}  // namespace

GenerationFile::GenerationFile(const std::string& final_path, const std::vector<OutputDataset>& datasets,
                               const OutputIdentity& identity, const OutputAttributes& attributes, bool overwrite,
                               const parallel::Communicator& comm, std::string& note)
    : final_path_(final_path), partial_path_(partial_path(final_path)), comm_(comm) {
  require_not_directory(final_path_);
  if (agreed_exists(final_path_, comm)) {
    std::string found;
    int readable = 1, complete = 0;
    int64_t rows = -1;
    try {
      File f(final_path_, File::Mode::kRead, &comm);
      found = identity_of(f);
      complete = found == identity.text && finished(f, datasets, rows) ? 1 : 0;
    } catch (const IoError&) {
      readable = 0;
    }
    readable = -comm.max(-readable);
    complete = -comm.max(-complete);
    if (readable && complete) {
      state_ = State::kComplete;
      return;
    }
    if (readable && found == identity.text && !overwrite) {
      // This config's output, unfinished, under the final name (an older gwflow let a colliding
      // run rename one there): it goes back to the partial name and is resumed below.
      if (agreed_exists(partial_path_, comm)) {
        throw ConfigError(final_path_ + " is an unfinished output of this config (" +
                          (rows < 0 ? std::string("no progress record") : std::to_string(rows) + " rows written") +
                          ") and " + partial_path_ + " exists too (use --overwrite to start over)");
      }
      const bool renamed = parallel::root_decides(comm, [&] {
        std::error_code ec;
        std::filesystem::rename(final_path_, partial_path_, ec);
        return !ec;
      });
      if (!renamed)
        throw IoError(final_path_ + ": unfinished, and cannot be renamed to " + partial_path_ + " to resume it");
      note = final_path_ + " was unfinished (" + std::to_string(rows < 0 ? 0 : rows) + " of " +
             std::to_string(datasets.front().dims.front()) + " rows): resuming it";
    } else if (!overwrite) {
      throw ConfigError(final_path_ +
                        (!readable       ? " exists and is not a readable HDF5 file"
                         : found.empty() ? " exists and is not a gwflow output"
                                         : " exists and was made with another config, weights or seed") +
                        " (use --overwrite to replace it)");
    } else {
      remove_file(final_path_, comm);
    }
  }
  if (agreed_exists(partial_path_, comm)) {
    int usable = 1;
    std::string found;
    try {
      file_ = std::make_unique<File>(partial_path_, File::Mode::kReadWrite, &comm);
      found = identity_of(*file_);
      if (found.empty() || !file_->has(kProgress)) usable = 0;
    } catch (const IoError&) {
      usable = 0;
    }
    usable = -comm.max(-usable);  // all ranks must agree that it is usable
    if (!usable) {
      file_.reset();
      note = partial_path_ + " is unreadable (killed while being created?): starting over";
      remove_file(partial_path_, comm);
    } else if (found != identity.text) {
      const auto done = file_->read_rows(kProgress, 0, 2);
      file_.reset();
      // One that wrote no row (a bad box, say, whose candidates were all rejected, however many
      // were drawn before it stopped) holds nothing worth keeping.
      const bool empty = static_cast<int64_t>(done[1].item<double>()) == 0;
      if (!overwrite && !empty) {
        throw ConfigError(partial_path_ + " holds an unfinished output of another config, weights or seed (use "
                                          "--overwrite to discard it)");
      }
      remove_file(partial_path_, comm);
    } else {
      auto p = file_->read_rows(kProgress, 0, 2 + kCounters);
      progress_.rows_done = static_cast<int64_t>(p[0].item<double>());
      progress_.rows_written = static_cast<int64_t>(p[1].item<double>());
      for (int i = 0; i < kCounters; ++i) progress_.counters.push_back(static_cast<int64_t>(p[2 + i].item<double>()));
      state_ = State::kResumed;
      return;
    }
  }
  file_ = std::make_unique<File>(partial_path_, File::Mode::kCreate, &comm);
  for (const auto& d : datasets) file_->create_dataset(d.name, d.dims, d.dtype, /*contiguous=*/true);
  file_->create_dataset(kProgress, {2 + kCounters}, torch::kInt64, /*contiguous=*/true);
  file_->write_attribute("/", "identity", identity.text);
  file_->write_attribute("/", "format_version", kOutputFormatVersion);
  for (const auto& [k, v] : attributes.text) file_->write_attribute("/", k, v);
  for (const auto& [k, v] : attributes.lists) file_->write_attribute("/", k, v);
  progress_.counters.assign(kCounters, 0);
  commit(progress_);
  state_ = State::kFresh;
}

void GenerationFile::commit(const Progress& p) {
  file_->flush();  // the data first ...
  auto record = torch::zeros({2 + kCounters}, torch::kInt64);
  record[0] = p.rows_done;
  record[1] = p.rows_written;
  for (int i = 0; i < kCounters && i < static_cast<int>(p.counters.size()); ++i) record[2 + i] = p.counters[i];
  file_->write_rows(kProgress, 0, comm_.is_root() ? record : record.narrow(0, 0, 0));
  file_->flush();  // ... then the record that says it is there
  progress_ = p;
}

void GenerationFile::finish() {
  file_->close();
  file_.reset();
  comm_.barrier();
  if (comm_.is_root()) commit_file(partial_path_, final_path_);
  comm_.barrier();
}

}  // namespace gwflow::io
