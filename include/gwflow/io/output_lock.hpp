#pragma once
// Exclusive use of an output for the whole run: an open-file-description lock (fcntl F_OFD_SETLK,
// a POSIX record lock that NFS and Lustre honour) on a lock file beside the output, taken by rank
// 0 and agreed by every rank. The kernel drops it when the process ends however it ends, so a
// crash never leaves a stale lock. The lock file holds the holder's host and pid; a run removes it
// when it ends (a crashed run's file stays behind, unlocked, and is taken over).
#include <string>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::io {

class OutputLock {
 public:
  /// Collective. Locks `lock_path` (created if missing) for `output`, writing "host pid" into it.
  /// When another process holds it: ConfigError on every rank, "<output> is in use by another
  /// gwflow run (host H, pid P); wait for it to end or choose another output". A file system
  /// without locks only gets a warning in `note` (the run goes on unprotected).
  OutputLock(const std::string& output, const std::string& lock_path, const parallel::Communicator& comm,
             std::string& note);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  /// The lock file of an output file: "<output>.lock".
  static std::string beside(const std::string& output) { return output + ".lock"; }

 private:
  std::string lock_path_;
  int fd_ = -1;
};

}  // namespace gwflow::io
