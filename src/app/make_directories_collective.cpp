// Directory creation that every rank agrees on (declared in gwflow/app/commands.hpp).
#include "gwflow/app/commands.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"

namespace gwflow::app {

void make_directories_collective(const std::string& dir, const parallel::Communicator& comm) {
  int ok = 1;
  std::string error;
  if (comm.is_root()) {
    try {
      io::make_directories(dir);
    } catch (const IoError& e) {
      ok = 0;
      error = e.what();
    }
  }
  comm.broadcast(ok);
  if (!ok) throw IoError(comm.is_root() ? error : dir + ": cannot create the directory");
}

}  // namespace gwflow::app
