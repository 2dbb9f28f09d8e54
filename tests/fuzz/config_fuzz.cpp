// libFuzzer target: the TOML config loader with --set overrides. The input is the config text,
// then (after a NUL byte) one override per line. Every input must load or give a gwflow::Error
// (ConfigError); anything else is a finding, as is a message with a raw control byte in it.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "gwflow/config/config.hpp"
#include "gwflow/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("gwflow-config-fuzz", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const std::string all(reinterpret_cast<const char*>(data), size);
  const auto nul = all.find('\0');
  const std::string text = all.substr(0, nul);
  std::vector<std::string> overrides;
  if (nul != std::string::npos) {
    std::string rest = all.substr(nul + 1);
    size_t start = 0;
    while (start <= rest.size() && overrides.size() < 16) {
      const auto nl = rest.find('\n', start);
      overrides.push_back(rest.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) return 0;
  try {
    const auto c = gwflow::config::load_config(path, overrides);
    (void)gwflow::config::to_toml(c);
  } catch (const gwflow::Error&) {
  }
  return 0;
}
