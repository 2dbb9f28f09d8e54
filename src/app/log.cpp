#include "gwflow/app/log.hpp"

#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace gwflow::app {

void Log::info(const std::string& line) const {
  if (comm_.rank() != 0) return;
  std::cout << line << std::endl;
}

void Log::warn(const std::string& line) const {
  if (comm_.rank() != 0) return;
  std::cerr << "gwflow: warning: " << line << std::endl;
}

void Log::warn_local(const std::string& line) const {
  std::cerr << "gwflow: warning: " << (comm_.rank() ? "[rank " + std::to_string(comm_.rank()) + "] " : "")
            << line << std::endl;
}

double peak_rss_mib(const parallel::Communicator& comm) {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  double mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
  comm.max(&mib, 1);
  return mib;
}

std::string format_seconds(double s) {
  char buf[64];
  if (!std::isfinite(s)) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%d min %02d s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%d h %02d min", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  }
  return buf;
}

}  // namespace gwflow::app
