#include "gwflow/io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "gwflow/errors.hpp"
#include "gwflow/parallel/root_task.hpp"

namespace gwflow::io {
namespace {

void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) {
    if (directory) return;  // best effort on file systems that do not allow it
    throw IoError(path + ": cannot open for fsync (" + std::strerror(errno) + ")");
  }
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0 && !directory) throw IoError(path + ": fsync failed (" + std::strerror(errno) + ")");
}

}  // namespace

std::string partial_path(const std::string& final_path) { return final_path + ".partial"; }

void commit_file(const std::string& tmp_path, const std::string& final_path) {
  fsync_path(tmp_path, false);
  if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    throw IoError(final_path + ": cannot rename " + tmp_path + " onto it (" + std::strerror(errno) + ")");
  }
  auto dir = std::filesystem::path(final_path).parent_path();
  fsync_path(dir.empty() ? "." : dir.string(), true);
}

void write_file_atomic(const std::string& path, const std::vector<char>& bytes) {
  const std::string tmp = partial_path(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(path + ": cannot create " + tmp + " (" + std::strerror(errno) + ")");
  size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  try {
    if (err != 0) throw IoError(path + ": cannot write it (" + std::strerror(err) + ")");
    commit_file(tmp, path);
  } catch (const IoError&) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);  // a small file, written in one go: nothing to resume
    throw;
  }
}

void require_not_directory(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw IoError(path + ": is a directory, not a file");
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec);
}

std::vector<char> read_file(const std::string& path) {
  require_not_directory(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string file_fingerprint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_size) + ":" +
         std::to_string(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
}

void make_directories(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(dir + ": cannot create the directory (" + ec.message() + ")");
}

void make_directories(const std::string& dir, const parallel::Communicator& comm) {
  parallel::run_on_root(comm, [&] { make_directories(dir); });
}

}  // namespace gwflow::io
