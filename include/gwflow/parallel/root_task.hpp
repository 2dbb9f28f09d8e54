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

}  // namespace gwflow::parallel
