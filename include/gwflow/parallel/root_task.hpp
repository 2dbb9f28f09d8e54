#pragma once
// "Rank 0 does it, every rank learns how it went": files that one rank writes (checkpoints,
// weights, history, imported datasets) fail on every rank alike, with rank 0's message, instead
// of rank 0 failing alone and the job being aborted.
#include <functional>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::parallel {

/// Collective. Rank 0 runs `task`; if it throws, every rank throws an error of the same gwflow
/// type (ConfigError, IoError, DomainError, NumericsError, UsageError; anything else becomes an
/// IoError) with rank 0's message. The other ranks only wait.
void run_on_root(const Communicator& comm, const std::function<void()>& task);

/// Collective. Rank 0 answers `question` (about the file system, say, which may lag between
/// nodes); every rank returns rank 0's answer, or throws rank 0's error as run_on_root does.
bool root_decides(const Communicator& comm, const std::function<bool()>& question);

}  // namespace gwflow::parallel
