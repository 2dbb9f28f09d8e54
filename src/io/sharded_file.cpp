#include "gwflow/io/sharded_file.hpp"

#include "gwflow/io/atomic_file.hpp"

namespace gwflow::io {

void write_sharded_file(const std::string& path, int64_t offset, const std::vector<ShardedDataset>& datasets,
                        const std::function<void(File&)>& attributes, const parallel::Communicator& comm) {
  const std::string tmp = partial_path(path);
  require_not_directory(path);
  {
    File f(tmp, File::Mode::kCreate, &comm);
    for (const auto& d : datasets) {
      f.create_dataset(d.name, d.dims, torch::kFloat64);
      f.write_rows(d.name, offset, d.local);
    }
    if (attributes) attributes(f);
    f.close();
  }
  comm.barrier();
  if (comm.is_root()) commit_file(tmp, path);
  comm.barrier();
}

}  // namespace gwflow::io
