// libFuzzer target: the mbank dataset text parser. The first byte picks the dimension (1 to 8);
// every input must parse or give a gwflow::IoError/DomainError; anything else is a finding.
#include <cstdint>
#include <sstream>
#include <string>

#include "gwflow/errors.hpp"
#include "gwflow/io/mbank_dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int64_t dim = 1 + data[0] % 8;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  try {
    const auto ds = gwflow::io::parse_mbank_dataset(in, "fuzz.txt", dim);
    if (ds.x.size(1) != dim || ds.x.size(0) != ds.log_pdf.size(0)) std::abort();
  } catch (const gwflow::Error&) {
  }
  return 0;
}
