#pragma once
// The packed flow's layout as the tile kernels see it: where each layer's parameters start in the
// flat packed array, where each intermediate of a tile of rows lives in its scratch, and the job
// that a parallel loop hands to the per-ISA tile kernels. Plain data, no Kokkos, no torch: it is
// shared by the Kokkos side (packed_flow.cpp) and the tile kernels compiled once per instruction
// set (tile_kernels.cpp), which must not include anything with out-of-line code of its own.
#include <cstdint>

namespace gwflow::kernels {

/// Compile-time bounds of the per-row scratch space (checked when packing).
inline constexpr int kMaxDim = 32;
inline constexpr int kMaxHidden = 256;

/// Where each layer's parameters start in the flat packed array (all row-major).
struct LayerLayout {
  int hidden = 0;
  int64_t w = 0, b = 0, winv = 0;       // NaiveLinear
  int64_t w0 = 0, b0 = 0;               // MADE initial layer [H, D]
  int64_t wb[2][2] = {{0, 0}, {0, 0}};  // residual blocks' linear layers [H, H]
  int64_t bb[2][2] = {{0, 0}, {0, 0}};
  int64_t wf = 0, bf = 0;  // final layer [2D, H]
  double logdet = 0;       // log|det W|
  int64_t ends = 0;        // int offset: ends[d] = #hidden units of degree <= d, d = 0..D
  int64_t degrees = 0;     // int offset: degree of each (sorted) hidden unit
};

/// Offsets (in elements of T) of the arrays of a tile of rows. The forward part (every
/// intermediate the reverse pass needs) is per slot, or per tile when a forward pass saves it for
/// the gradient; the work part is per slot.
struct TileScratch {
  int64_t layer_stride = 0;  // forward part, per layer: vin, y, us, s [D][R]; rh0, ra0, rh1, ra1, hs2 [H][R]
  int64_t z = 0, lp = 0;     // forward part: z [D][R], log p [R]
  int64_t fwd_size = 0;
  int64_t gv = 0, gy = 0, gus = 0, gsh = 0, g = 0, gh = 0, gt = 0, tr = 0;  // work part
  int64_t work_size = 0;
};

/// The packed flow, read-only, as raw pointers.
template <typename T> struct FlowData {
  const T* p;
  const int* ints;
  const LayerLayout* layers;
  const T* box;  // low, high, log half width
  int dim, n_layers;
};

/// One call of a tile kernel over tiles of `rows` rows of an n-row batch. Which pointers are read
/// depends on the kernel (see TileOps).
template <typename T> struct TileJob {
  FlowData<T> d;
  TileScratch ts;
  int hmax = 1;
  int rows = 0;                 // R, one of the variant's tile sizes
  int64_t n = 0;                // rows in the batch (the last tile is padded)
  const T* in = nullptr;        // x [n, D] (log_prob, gradient) or z [n, D] (sample)
  const T* g = nullptr;         // gradient: upstream per row (null: 1 for every finite log p)
  T* lp = nullptr;              // log p [n] (gradient: optional)
  T* out = nullptr;             // log_prob: z [n, D] (optional); sample: x [n, D]
  T* saved = nullptr;           // log_prob: per-tile forward parts to keep (optional)
  const T* saved_in = nullptr;  // gradient: per-tile forward parts from log_prob (optional)
  int64_t np = 0;               // gradient: packed parameters
};

/// The tile kernels of one instruction-set variant, for one dtype. `slot` is the calling thread's
/// scratch (fwd_size + work_size values); `G` its packed gradient accumulator (np values + the
/// sum of the upstreams).
template <typename T> struct TileOps {
  void (*log_prob)(const TileJob<T>& job, T* slot, int64_t tile);
  void (*sample)(const TileJob<T>& job, T* slot, int64_t tile);
  void (*gradient)(const TileJob<T>& job, T* slot, double* G, int64_t tile);
};

/// One compiled variant of the tile kernels: its name, what it was compiled for, and its tuning.
struct IsaKernels {
  const char* name;        // "v2", "v3", "v4", "portable", or "custom" (GWFLOW_KERNEL_ARCH)
  const char* target;      // the compiler's target, e.g. "x86-64-v3"
  int vector_bytes;        // width of the kernels' vectors
  int max_accumulators;    // vectors kept live by the row-blocked products
  int tile_rows_small[2];  // rows per tile, [float, double], for wide networks
  int tile_rows_large[2];  // ... and for networks whose tile fits in L2
  TileOps<float> f32;
  TileOps<double> f64;
};

}  // namespace gwflow::kernels
