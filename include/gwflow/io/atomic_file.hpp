#pragma once
// Crash-safe file replacement: write a temporary name, fsync, rename over the final name.
#include <string>
#include <vector>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::io {

/// The temporary name used while `final_path` is being written ("<final>.partial").
std::string partial_path(const std::string& final_path);

/// fsyncs `tmp_path`, renames it to `final_path` and fsyncs the directory: a crash leaves either
/// the old complete file or the new one. Throws IoError naming the file.
void commit_file(const std::string& tmp_path, const std::string& final_path);

/// Writes `bytes` to `path` atomically (partial name, fsync, rename).
void write_file_atomic(const std::string& path, const std::vector<char>& bytes);

/// Reads a whole file; IoError naming it when it cannot be read.
std::vector<char> read_file(const std::string& path);

/// IoError "<path>: is a directory" when it is one: for paths that must name a file, checked
/// before anything is created or read.
void require_not_directory(const std::string& path);

/// True when both paths exist and name the same file (links and relative paths resolved).
bool same_file(const std::string& a, const std::string& b);

/// "size:mtime_ns" of a file ("missing" when it does not exist): changes when the file is
/// rewritten. Recorded by checkpoints and outputs to notice changed inputs.
std::string file_fingerprint(const std::string& path);

/// Creates a directory and its parents (no error when it exists).
void make_directories(const std::string& dir);
/// Collective: rank 0 creates `dir` (and its parents); every rank gets rank 0's error.
void make_directories(const std::string& dir, const parallel::Communicator& comm);

}  // namespace gwflow::io
