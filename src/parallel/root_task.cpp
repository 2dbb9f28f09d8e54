#include "gwflow/parallel/root_task.hpp"

#include <exception>
#include <string>

#include "gwflow/errors.hpp"

namespace gwflow::parallel {

void run_on_root(const Communicator& comm, const std::function<void()>& task) {
  enum Kind { kOk, kConfig, kIo, kDomain, kNumerics, kUsage, kSystem, kInternal };
  int kind = kOk;
  std::string message;
  if (comm.is_root()) {
    try {
      task();
    } catch (const std::exception& e) {  // IoError and anything else not below is kIo
      message = e.what();
      kind = dynamic_cast<const UsageError*>(&e)      ? kUsage
             : dynamic_cast<const ConfigError*>(&e)   ? kConfig
             : dynamic_cast<const DomainError*>(&e)   ? kDomain
             : dynamic_cast<const NumericsError*>(&e) ? kNumerics
             : dynamic_cast<const SystemError*>(&e)   ? kSystem
             : dynamic_cast<const InternalError*>(&e) ? kInternal
                                                      : kIo;
    }
  }
  comm.broadcast(kind);
  if (kind == kOk) return;
  comm.broadcast(message);
  switch (kind) {
  case kUsage: throw UsageError(message);
  case kConfig: throw ConfigError(message);
  case kDomain: throw DomainError(message);
  case kNumerics: throw NumericsError(message);
  case kSystem: throw SystemError(message);
  case kInternal: throw InternalError(message);
  default: throw IoError(message);
  }
}

bool root_decides(const Communicator& comm, const std::function<bool()>& question) {
  int answer = 0;
  run_on_root(comm, [&] { answer = question() ? 1 : 0; });
  comm.broadcast(answer);
  return answer != 0;
}

}  // namespace gwflow::parallel
