// Checkpointer: what a checkpoint records besides the training state (version, restart identity,
// data fingerprints), the newest two kept, no second write of the same iteration, and the checks
// before a restart (every identity key recorded and equal, the data files unchanged).
#include <fstream>

#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/checkpointer.hpp"
#include "gwflow/version.hpp"
#include "test_util.hpp"

namespace gwflow::train {
namespace {

struct Scene {
  std::string dir = test::scratch_dir("checkpointer");
  config::Config cfg;
  parallel::Communicator comm{MPI_COMM_SELF};
  Scene() {
    std::ofstream(dir + "/train.h5") << "training rows";
    cfg.data.train = config::parse_dataset_ref(dir + "/train.h5:/x", "data.train");
  }
  ~Scene() { std::filesystem::remove_all(dir); }
  static void fill(io::CheckpointContent& c) { c.text["iteration"] = "7"; }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpointer, RecordsVersionIdentityAndDataAndKeepsTheNewestTwo) {
  Scene s;
  Checkpointer ck(s.cfg, s.comm);
  for (int64_t it : {10, 20, 30}) EXPECT_EQ(ck.save(s.dir, it, Scene::fill), io::checkpoint_path(s.dir, it));
  EXPECT_EQ(io::list_checkpoints(s.dir),
            (std::vector<std::string>{io::checkpoint_path(s.dir, 30), io::checkpoint_path(s.dir, 20)}));
  EXPECT_GT(ck.last_bytes(), 0);
  const auto c = io::read_checkpoint_file(io::checkpoint_path(s.dir, 30));
  EXPECT_EQ(c.text.at("iteration"), "7");
  EXPECT_EQ(c.text.at("gwflow_version"), kVersion);
  EXPECT_EQ(c.text.at("data.train"), io::file_fingerprint(s.dir + "/train.h5"));
  EXPECT_EQ(c.text.count("data.validation"), 0u);  // none configured
  for (const auto& [k, v] : config::restart_identity(s.cfg)) EXPECT_EQ(c.text.at("config." + k), v) << k;
  EXPECT_EQ(error_of([&] { ck.check_compatible(c, "c.h5"); }), "");
}

TEST(Checkpointer, TheSameIterationIsNotWrittenTwice) {
  Scene s;
  Checkpointer ck(s.cfg, s.comm);
  const std::string path = ck.save(s.dir, 5, Scene::fill);
  std::filesystem::remove(path);
  EXPECT_EQ(ck.save(s.dir, 5, Scene::fill), path);
  EXPECT_FALSE(std::filesystem::exists(path));  // already written: no second write
  ck.restored(9);
  ck.save(s.dir, 9, Scene::fill);
  EXPECT_FALSE(std::filesystem::exists(io::checkpoint_path(s.dir, 9)));  // restored from: not rewritten
  ck.save(s.dir, 10, Scene::fill);
  EXPECT_TRUE(std::filesystem::exists(io::checkpoint_path(s.dir, 10)));
}

TEST(Checkpointer, RefusesAnotherIdentityAnOlderFormatAndChangedData) {
  Scene s;
  Checkpointer ck(s.cfg, s.comm);
  const auto c = io::read_checkpoint_file(ck.save(s.dir, 3, Scene::fill));
  // Every identity key, changed alone, is named.
  config::Config changed = s.cfg;
  changed.training.learning_rate *= 2;
  Checkpointer other(changed, s.comm);
  EXPECT_NE(error_of([&] {
              other.check_compatible(c, "c.h5");
            }).find("cannot restart from c.h5: training.learning_rate is '"),
            std::string::npos);
  // A checkpoint without a key (an older gwflow's) names the version that wrote it.
  auto old = c;
  old.text.erase("config.training.learning_rate");
  old.text["gwflow_version"] = "0.2.0";
  EXPECT_NE(error_of([&] {
              ck.check_compatible(old, "c.h5");
            }).find("c.h5: the checkpoint does not record training.learning_rate (written by gwflow 0.2.0;"),
            std::string::npos);
  // The training data file changed since (its size here).
  std::ofstream(s.dir + "/train.h5", std::ios::app) << " and one more";
  EXPECT_NE(error_of([&] {
              ck.check_compatible(c, "c.h5");
            }).find("cannot restart from c.h5: the training data file " + s.dir + "/train.h5 changed"),
            std::string::npos);
}

}  // namespace
}  // namespace gwflow::train
