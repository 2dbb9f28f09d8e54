#include "gwflow/io/output_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gwflow/errors.hpp"

namespace gwflow::io {
namespace {

int lock_whole_file(int fd) {
  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
  if (fcntl(fd, F_OFD_SETLK, &l) == 0) return 0;
  if (errno != EINVAL) return -1;  // EINVAL: a kernel without OFD locks; use a process lock
#endif
  return fcntl(fd, F_SETLK, &l);
}

std::string holder_of(int fd) {
  char buf[256] = {};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  std::string s(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s.empty() ? "unknown holder" : s;
}

}  // namespace

OutputLock::OutputLock(const std::string& output, const std::string& lock_path, const parallel::Communicator& comm,
                       std::string& note)
    : lock_path_(lock_path) {
  enum Status { kLocked = 0, kHeld = 1, kNoLocks = 2, kCannotCreate = 3 };
  int status = kLocked;
  std::string detail;
  if (comm.is_root()) {
    // A finishing holder unlinks the lock file while it still holds the lock: if the file this
    // run locked is no longer the one named lock_path, it locked a dead inode and tries again.
    for (int attempt = 0;; ++attempt) {
      fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd_ < 0) {
        status = kCannotCreate;
        detail = lock_path + ": cannot create the output's lock file (" + std::strerror(errno) + ")";
        break;
      }
      if (lock_whole_file(fd_) != 0) {
        const int err = errno;
        if (err == EACCES || err == EAGAIN) {
          status = kHeld;
          detail = output + " is in use by another gwflow run (" + holder_of(fd_) +
                   "); wait for it to end or choose another output";
        } else {
          status = kNoLocks;
          detail = lock_path + ": this file system does not support locks (" + std::strerror(err) +
                   "): nothing stops another run from writing " + output + " at the same time";
        }
        ::close(fd_);
        fd_ = -1;
        break;
      }
      struct stat held {
      }, named{};
      if ((fstat(fd_, &held) == 0 && stat(lock_path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
           held.st_dev == named.st_dev) ||
          attempt == 100) {
        char host[256] = {};
        gethostname(host, sizeof host - 1);
        const std::string me = "host " + std::string(host) + ", pid " + std::to_string(getpid());
        // The holder's name is a courtesy for the next run's message; the lock is what counts.
        if (ftruncate(fd_, 0) == 0) (void)!pwrite(fd_, me.data(), me.size(), 0);
        break;
      }
      ::close(fd_);
      fd_ = -1;
    }
  }
  comm.broadcast(status);
  comm.broadcast(detail);
  if (status == kHeld || status == kCannotCreate) throw ConfigError(detail);
  if (status == kNoLocks) note = detail;
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  // Remove the lock file while still holding the lock (a process that opened it meanwhile sees
  // the name gone and retries), then drop the lock by closing. After a crash the file stays,
  // unlocked, and the next run takes it over.
  ::unlink(lock_path_.c_str());
  ::close(fd_);
}

}  // namespace gwflow::io
