#pragma once
// Command-line parsing (docs/cli.md).
#include <map>
#include <string>
#include <vector>

namespace gwflow::app {

struct CommandLine {
  std::string command;                         ///< "train", "sample", ... ("" for --version/--help)
  std::vector<std::string> positional;         ///< CONFIG, WEIGHTS, generator name, ...
  std::vector<std::string> overrides;          ///< --set section.key=value, in order
  std::map<std::string, std::string> options;  ///< --n, --seed, --out, ... (value or "")
  bool help = false;
  bool version = false;
};

/// Parses argv; throws UsageError (exit code 2) for unknown commands and options.
CommandLine parse_command_line(int argc, char** argv);

/// The help text of one command ("" = the overview).
std::string help_text(const std::string& command);

}  // namespace gwflow::app
