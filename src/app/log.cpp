#include "gwflow/app/log.hpp"

#include <sys/resource.h>

#include <Kokkos_Core.hpp>
#include <hdf5.h>
#include <torch/utils.h>
#include <torch/version.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "gwflow/kernels/isa.hpp"
#include "gwflow/version.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace gwflow::app {

namespace {
int g_verbosity = 0;
}  // namespace

void Log::set_verbosity(int level) { g_verbosity = level; }
int Log::verbosity() { return g_verbosity; }

void Log::info(const std::string& line) const {
  if (comm_.rank() != 0 || g_verbosity < 0) return;
  std::cout << line << std::endl;
}

void Log::summary(const std::string& line) const {
  if (comm_.rank() != 0) return;
  std::cout << line << std::endl;
}

void Log::detail(const std::string& line) const {
  if (comm_.rank() != 0 || g_verbosity < 1) return;
  std::cout << line << std::endl;
}

void print_run_header(const Log& log, const parallel::Communicator& comm, const std::string& command,
                      const std::string& backend, const std::string& resolved_config) {
  const std::string host = parallel::Communicator::processor_name();
  std::vector<uint8_t> mine(host.begin(), host.end());
  auto all = comm.gather_bytes(mine);
  std::set<std::string> nodes;
  for (const auto& h : all) nodes.insert(std::string(h.begin(), h.end()));
  const char* omp = std::getenv("OMP_NUM_THREADS");
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "gwflow %s (commit %s) %s: %d rank(s) on %zu node(s), %d LibTorch thread(s) per rank "
                "(OMP_NUM_THREADS=%s), backend %s",
                kVersion, kGitCommit, command.c_str(), comm.size(), nodes.size(), torch::get_num_threads(),
                omp ? omp : "unset", backend.c_str());
  log.info(buf);
  std::snprintf(buf, sizeof buf, "libraries: LibTorch %s, Kokkos %d.%d.%d, HDF5 %d.%d.%d, MPI %d.%d", TORCH_VERSION,
                KOKKOS_VERSION / 10000, KOKKOS_VERSION / 100 % 100, KOKKOS_VERSION % 100, H5_VERS_MAJOR, H5_VERS_MINOR,
                H5_VERS_RELEASE, MPI_VERSION, MPI_SUBVERSION);
  log.info(buf);
  // Which BLAS LibTorch's dense layers run on: netlib's reference BLAS is ~10x slower.
  std::ifstream maps("/proc/self/maps");
  std::string line, blas = "unknown";
  while (std::getline(maps, line)) {
    if (line.find("openblas") != std::string::npos) {
      blas = "OpenBLAS";
      break;
    }
    if (line.find("/blas/libblas.so") != std::string::npos) blas = "reference BLAS";
  }
  if (blas == "reference BLAS") {
    log.warn("LibTorch runs on the reference BLAS (about 10x slower): install libopenblas0-openmp");
  }
  log.info("libraries: BLAS " + blas);
  // The fused kernels' instruction-set variant on every rank (nodes of a job may differ).
  const auto& mine_isa = kernels::selected_variant();
  const std::string d = kernels::describe(mine_isa);
  auto isas = comm.gather_bytes(std::vector<uint8_t>(d.begin(), d.end()));
  std::map<std::string, int> count;
  for (const auto& v : isas) ++count[std::string(v.begin(), v.end())];
  std::string kinds;
  for (const auto& [name, n] : count) {
    kinds += (kinds.empty() ? "" : "; ") + name;
    if (count.size() > 1) kinds += " on " + std::to_string(n) + " rank(s)";
  }
  log.info("kernels: " + kinds + " (GWFLOW_KERNEL_ISA to force one)");
  if (count.size() > 1) log.warn("the ranks run different kernel variants: their last bits may differ");
  log.detail("resolved config:\n" + resolved_config);
}

std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\r') {
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
      while (i + 1 < text.size() && std::strchr("\r\n \t", text[i + 1])) ++i;
      if (!out.empty() && i + 1 < text.size()) out += "; ";
    } else {
      out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
    }
  }
  return out;
}

void Log::warn(const std::string& line) const {
  if (comm_.rank() != 0) return;
  std::cerr << "gwflow: warning: " << one_line(line) << std::endl;
}

void Log::warn_local(const std::string& line) const {
  std::cerr << "gwflow: warning: " << (comm_.rank() ? "[rank " + std::to_string(comm_.rank()) + "] " : "")
            << one_line(line) << std::endl;
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
