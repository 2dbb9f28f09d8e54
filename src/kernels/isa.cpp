#include "gwflow/kernels/isa.hpp"

#include <cstdlib>
#include <mutex>

#include "gwflow/errors.hpp"

namespace gwflow::kernels {

// The entry points of the variants this build compiled (CMakeLists.txt defines the macros).
#ifdef GWFLOW_KERNEL_ISA_V4
const IsaKernels& isa_kernels_v4();
#endif
#ifdef GWFLOW_KERNEL_ISA_V3
const IsaKernels& isa_kernels_v3();
#endif
#ifdef GWFLOW_KERNEL_ISA_V2
const IsaKernels& isa_kernels_v2();
#endif
#ifdef GWFLOW_KERNEL_ISA_PORTABLE
const IsaKernels& isa_kernels_portable();
#endif
#ifdef GWFLOW_KERNEL_ISA_CUSTOM
const IsaKernels& isa_kernels_custom();
#endif

namespace {

std::mutex g_mutex;
const IsaKernels* g_selected = nullptr;

/// The names of the variants this CPU runs, for error messages.
std::string runnable_names() {
  std::string s;
  for (const IsaKernels* v : compiled_variants()) {
    if (cpu_runs(*v)) s += (s.empty() ? "" : ", ") + std::string(v->name);
  }
  return s;
}

std::string compiled_names() {
  std::string s;
  for (const IsaKernels* v : compiled_variants()) s += (s.empty() ? "" : ", ") + std::string(v->name);
  return s;
}

const IsaKernels& resolve(const std::string& name, const std::string& source) {
  const auto& all = compiled_variants();
  if (name.empty() || name == "auto") {
    for (const IsaKernels* v : all) {
      if (cpu_runs(*v)) return *v;
    }
    throw ConfigError("this CPU runs none of the kernel variants in this build (" + compiled_names() + ")");
  }
  for (const IsaKernels* v : all) {
    if (name != v->name) continue;
    if (!cpu_runs(*v))
      throw ConfigError(source + " = " + name + ": this CPU cannot run it (" + v->target + "); it runs: " +
                        runnable_names());
    return *v;
  }
  if (name == "v2" || name == "v3" || name == "v4" || name == "portable" || name == "custom")
    throw ConfigError(source + " = " + name + ": this build has no such kernel variant (it has: " + compiled_names() +
                      ")");
  throw ConfigError(source + " = '" + name + "': expected auto, v2, v3, v4, portable or custom");
}

}  // namespace

const std::vector<const IsaKernels*>& compiled_variants() {
  static const std::vector<const IsaKernels*> all = [] {
    std::vector<const IsaKernels*> v;
#ifdef GWFLOW_KERNEL_ISA_CUSTOM
    v.push_back(&isa_kernels_custom());
#endif
#ifdef GWFLOW_KERNEL_ISA_V4
    v.push_back(&isa_kernels_v4());
#endif
#ifdef GWFLOW_KERNEL_ISA_V3
    v.push_back(&isa_kernels_v3());
#endif
#ifdef GWFLOW_KERNEL_ISA_V2
    v.push_back(&isa_kernels_v2());
#endif
#ifdef GWFLOW_KERNEL_ISA_PORTABLE
    v.push_back(&isa_kernels_portable());
#endif
    return v;
  }();
  return all;
}

bool cpu_runs(const IsaKernels& v) {
  const std::string name = v.name;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  // libgcc's checks include the OS's support (XCR0) for the AVX and AVX-512 register state.
  if (name == "v4") return __builtin_cpu_supports("x86-64-v4");
  if (name == "v3") return __builtin_cpu_supports("x86-64-v3");
  if (name == "v2") return __builtin_cpu_supports("x86-64-v2");
#endif
  // portable: the compiler's baseline, as the rest of the binary; custom: whatever -march the
  // build chose (GWFLOW_KERNEL_ARCH), which the builder vouches for.
  return name == "portable" || name == "custom";
}

const IsaKernels& selected_variant() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_selected) {
    const char* env = std::getenv("GWFLOW_KERNEL_ISA");
    g_selected = &resolve(env ? env : "", "GWFLOW_KERNEL_ISA");
  }
  return *g_selected;
}

const IsaKernels& select_variant(const std::string& name) {
  const IsaKernels& v = resolve(name, "kernel variant");
  std::lock_guard<std::mutex> lock(g_mutex);
  g_selected = &v;
  return v;
}

std::string describe(const IsaKernels& v) {
  return std::string(v.name) + " (" + v.target + ", " + std::to_string(v.vector_bytes) + "-byte vectors)";
}

}  // namespace gwflow::kernels
