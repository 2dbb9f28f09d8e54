#pragma once
// Which instruction-set variant of the fused kernels runs. The tile kernels are compiled once per
// x86-64 level (v2: SSE4.2, v3: AVX2 + FMA, v4: AVX-512), each with its own vector width and
// register blocking, or once for a portable target (non-x86 builds) or a single -march target
// (GWFLOW_KERNEL_ARCH); the best variant the CPU runs is picked at run time, or the one named by
// the environment variable GWFLOW_KERNEL_ISA (auto | v2 | v3 | v4 | portable | custom).
#include <string>
#include <vector>

#include "gwflow/kernels/tile_layout.hpp"

namespace gwflow::kernels {

/// The variants compiled into this binary, best first.
const std::vector<const IsaKernels*>& compiled_variants();
/// Whether this CPU (and its OS) can run `v`.
bool cpu_runs(const IsaKernels& v);
/// The variant in use: the one GWFLOW_KERNEL_ISA names, or the best this CPU runs. Resolved on
/// the first call; throws ConfigError (one line) for an unknown name or one the CPU cannot run.
const IsaKernels& selected_variant();
/// Selects a variant by name for the rest of the process ("auto": the best the CPU runs), with
/// the same checks, for tests and benchmarks. Flows packed before keep the variant they had.
const IsaKernels& select_variant(const std::string& name);
/// "v3 (x86-64-v3, 32-byte vectors)": for run headers and benchmarks.
std::string describe(const IsaKernels& v);

}  // namespace gwflow::kernels
