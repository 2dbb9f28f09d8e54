// libFuzzer target: the weights-archive reader (io/zip_archive + io/torch_archive) on any bytes.
// Every input must give a state dict or a gwflow::IoError; anything else (a crash, a sanitizer
// report, another exception) is a finding.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "gwflow/errors.hpp"
#include "gwflow/io/torch_archive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<char> bytes(data, data + size);
  try {
    const auto state = gwflow::io::read_torch_state_dict_archive("fuzz.zip", bytes);
    for (const auto& [name, t] : state) {
      if (!t.is_contiguous()) std::abort();  // the reader promises fresh contiguous tensors
    }
  } catch (const gwflow::IoError&) {
  }
  return 0;
}
