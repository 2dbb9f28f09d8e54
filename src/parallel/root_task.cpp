#include "gwflow/parallel/root_task.hpp"

#include <exception>
#include <string>

#include "gwflow/errors.hpp"

namespace gwflow::parallel {

void run_on_root(const Communicator& comm, const std::function<void()>& task) {
  enum Kind { kOk, kConfig, kIo, kDomain, kNumerics, kUsage };
  int kind = kOk;
  std::string message;
  if (comm.is_root()) {
    try {
      task();
    } catch (const UsageError& e) {
      kind = kUsage;
      message = e.what();
    } catch (const ConfigError& e) {
      kind = kConfig;
      message = e.what();
    } catch (const DomainError& e) {
      kind = kDomain;
      message = e.what();
    } catch (const NumericsError& e) {
      kind = kNumerics;
      message = e.what();
    } catch (const std::exception& e) {  // IoError and anything else
      kind = kIo;
      message = e.what();
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
  default: throw IoError(message);
  }
}

}  // namespace gwflow::parallel
