#include "gwflow/app/cli.hpp"

#include <set>

#include "gwflow/errors.hpp"

namespace gwflow::app {
namespace {

// Options each command accepts; true = takes a value.
const std::map<std::string, std::map<std::string, bool>>& command_options() {
  static const std::map<std::string, std::map<std::string, bool>> kOptions = {
      {"train",
       {{"--set", true}, {"--restart", false}, {"--overwrite", false}, {"--quiet", false}, {"--verbose", false}}},
      {"sample", {{"--set", true}, {"--overwrite", false}, {"--quiet", false}, {"--verbose", false}}},
      {"logprob", {{"--set", true}, {"--overwrite", false}, {"--quiet", false}, {"--verbose", false}}},
      {"info", {}},
      {"make-data", {{"--n", true}, {"--seed", true}, {"--out", true}}},
      {"import-dataset", {{"--dim", true}, {"--out", true}}},
  };
  return kOptions;
}

}  // namespace

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine cl;
  if (argc < 2) throw UsageError("no command given (try gwflow --help)");
  const std::string first = argv[1];
  if (first == "--version" || first == "-V") {
    cl.version = true;
    return cl;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    cl.help = true;
    if (argc > 2) cl.command = argv[2];
    return cl;
  }
  const auto& all = command_options();
  auto it = all.find(first);
  if (it == all.end()) throw UsageError("unknown command '" + first + "'");
  cl.command = first;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      cl.help = true;
      continue;
    }
    if (arg.rfind("--", 0) == 0) {
      std::string value;
      bool inline_value = false;
      if (auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--set", 0) != 0) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        inline_value = true;
      }
      auto opt = it->second.find(arg);
      if (opt == it->second.end()) throw UsageError(first + ": unknown option '" + arg + "'");
      if (opt->second && !inline_value) {
        if (i + 1 >= argc) throw UsageError(first + ": " + arg + " needs a value");
        value = argv[++i];
      }
      if (arg == "--set") {
        cl.overrides.push_back(value);
      } else {
        cl.options[arg] = value;
      }
    } else {
      cl.positional.push_back(arg);
    }
  }
  return cl;
}

std::string help_text(const std::string& command) {
  if (command == "train") {
    return "usage: gwflow train CONFIG.toml [--set section.key=value ...] [--restart | --overwrite]\n"
           "  Trains the flow of CONFIG's [model] on [data] with [training]; writes weights.zip and\n"
           "  history.h5 into [output].dir. Runs on any number of MPI ranks (data-parallel).\n"
           "  Checkpoints (every training.checkpoint_every iterations and when stopped) go there too;\n"
           "  --restart continues from the newest valid one (training.restart = \"auto\": whenever\n"
           "  there is one). A fresh run into a folder with an earlier run's checkpoints is an error\n"
           "  unless --overwrite (which deletes them). SIGUSR1/SIGTERM: checkpoint, outputs, exit 75.\n"
           "  Ctrl+C: the same, exit 0.\n";
  }
  if (command == "sample") {
    return "usage: gwflow sample CONFIG.toml [--set section.key=value ...] [--overwrite]\n"
           "  Draws [sample].n points from [sample].weights into [sample].out (/samples [n, D],\n"
           "  /log_prob [n]). Row i's noise depends only on (seed, i): any rank count or block size\n"
           "  gives the same datasets. With sample.boundaries only points inside that box are kept\n"
           "  (the first n accepted candidates). Run the same command again after a kill or a\n"
           "  signal (exit 75) to finish the missing blocks; a finished file is left as it is.\n";
  }
  if (command == "logprob") {
    return "usage: gwflow logprob CONFIG.toml [--set section.key=value ...] [--overwrite]\n"
           "  Evaluates log p(x) of the flow [logprob].weights on [logprob].input; writes /log_prob\n"
           "  (and /z with noise = true) into [logprob].out. Points outside the box get -inf.\n"
           "  Resumable like sample: run it again to finish after a kill or a signal.\n";
  }
  if (command == "info") {
    return "usage: gwflow info WEIGHTS\n"
           "  Prints the architecture, parameter count, box and constant of a weights file.\n";
  }
  if (command == "make-data") {
    return "usage: gwflow make-data seed-tutorial|regression-3d --n N --seed S --out FILE.h5\n"
           "  seed-tutorial: N rows of (Exp(1), N(0, 1)) into FILE.h5:/x [N, 2] (the seed tutorial).\n"
           "  regression-3d: N points /x [N, 3] from an unnormalised 3-D density and its log /log_pdf,\n"
           "  attribute log_Z = the log of its known normalisation (the regression example).\n"
           "  Row i depends only on (S, i): the file is the same for any number of ranks.\n";
  }
  if (command == "import-dataset") {
    return "usage: gwflow import-dataset MBANK_TEXT_FILE --dim D --out FILE.h5\n"
           "  Converts an mbank dataset text file (np.savetxt rows [x (D), metric (D*D, optional),\n"
           "  log_pdf]; '#' starts a comment) into FILE.h5: /x [N, D], /log_pdf [N] and, when the rows\n"
           "  hold it, /metric [N, D, D], all float64. The layout follows from the column count; rows\n"
           "  holding NaN are dropped and counted. Rank 0 does the work; the file is written atomically.\n";
  }
  return "usage: gwflow <command> [options]     (gwflow <command> --help for details)\n"
         "  train     CONFIG.toml [--set k=v ...] [--restart]   train a normalizing flow\n"
         "  sample    CONFIG.toml [--set k=v ...]               draw samples and their log densities\n"
         "  logprob   CONFIG.toml [--set k=v ...]               log densities of given points\n"
         "  info      WEIGHTS                                   describe a weights file\n"
         "  make-data seed-tutorial|regression-3d --n N --seed S --out F.h5   example data\n"
         "  import-dataset FILE.txt --dim D --out F.h5         mbank dataset text -> HDF5\n"
         "  --version, --help; train/sample/logprob also take --quiet (warnings, errors and the final\n"
         "  summary only) and --verbose (also the resolved config)\n"
         "Every command runs alone or under mpirun/srun with any number of ranks.\n"
         "Exit codes: 0 done, 1 error, 2 usage error, 75 stopped by a signal (continue later).\n";
}

}  // namespace gwflow::app
