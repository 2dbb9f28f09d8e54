// The tile kernels of one instruction-set variant: compiled once per variant (CMakeLists.txt:
// -march=x86-64-v2 / -v3 / -v4 with GWFLOW_KERNEL_ISA_NS=isa_v2 / ... and
// GWFLOW_KERNEL_ISA_ENTRY=isa_kernels_v2 / ...; one portable variant elsewhere), each exporting
// one table (IsaKernels) of per-tile entry points that packed_flow.cpp's parallel loops call.
// Nothing with external linkage is defined here but that table's accessor (see tile_kernels.hpp).
#include "tile_kernels.hpp"

#ifndef GWFLOW_KERNEL_ISA_ENTRY
#error "GWFLOW_KERNEL_ISA_ENTRY must name this variant's entry point"
#endif
#ifndef GWFLOW_KERNEL_ISA_NAME
#define GWFLOW_KERNEL_ISA_NAME "portable"
#endif
#ifndef GWFLOW_KERNEL_ISA_TARGET
#define GWFLOW_KERNEL_ISA_TARGET "the compiler's default"
#endif

namespace gwflow::kernels {
inline namespace GWFLOW_KERNEL_ISA_NS {
namespace {

/// Rows per tile, the compile-time trip count of every inner loop: more rows amortise the
/// per-unit loop overheads of narrow networks; fewer keep a wide network's tile in L2 and its
/// accumulators in registers. Measured per variant (README, Performance): on AVX2 and SSE4.2
/// (16 registers) 64 float32 / 32 float64 rows beat 128 / 64 by 10-40 %, for the seed and the
/// bank-scale networks alike; the AVX-512 figures were tuned with 128 / 64. Large tiles (twice
/// that) are used for networks whose tile fits in L2 (packed_flow.cpp).
#if defined(__AVX512F__)
#define GWFLOW_KERNEL_DEFAULT_TILE_ROWS_F32 128
#else
#define GWFLOW_KERNEL_DEFAULT_TILE_ROWS_F32 64
#endif
#ifndef GWFLOW_KERNEL_TILE_ROWS_F32
#define GWFLOW_KERNEL_TILE_ROWS_F32 GWFLOW_KERNEL_DEFAULT_TILE_ROWS_F32
#endif
#ifndef GWFLOW_KERNEL_TILE_ROWS_F64
#define GWFLOW_KERNEL_TILE_ROWS_F64 (GWFLOW_KERNEL_TILE_ROWS_F32 / 2)
#endif
template <typename T>
constexpr int kTileSmall = sizeof(T) == 4 ? GWFLOW_KERNEL_TILE_ROWS_F32 : GWFLOW_KERNEL_TILE_ROWS_F64;
template <typename T> constexpr int kTileLarge = 2 * kTileSmall<T>;

template <typename T> inline bool finite(T v) { return v - v == T(0); }

/// Real rows in the tile starting at row0 (the rest is padding).
template <int R> inline int tile_rows(int64_t n, int64_t row0) { return n - row0 < R ? static_cast<int>(n - row0) : R; }

template <typename T, int R> void log_prob_tile(const TileJob<T>& j, T* slot, int64_t tile) {
  T* s = j.saved ? j.saved + tile * j.ts.fwd_size : slot;
  const int64_t row0 = tile * R;
  detail::forward_tile<T, R>(j.d, s, j.ts, j.hmax, j.in, row0, j.n);
  const T* out = s + j.ts.lp;
  const int m = tile_rows<R>(j.n, row0);
  const int D = j.d.dim;
  for (int r = 0; r < m; ++r) j.lp[row0 + r] = out[r];
  if (j.out) {
    const T* zt = s + j.ts.z;
    for (int r = 0; r < m; ++r) {
      for (int k = 0; k < D; ++k)
        j.out[(row0 + r) * D + k] = finite(out[r]) ? zt[k * R + r] : static_cast<T>(__builtin_nan(""));
    }
  }
}

template <typename T, int R> void sample_tile(const TileJob<T>& j, T* slot, int64_t tile) {
  const int64_t row0 = tile * R;
  alignas(64) T out[R];
  T* xt = slot + j.ts.fwd_size + j.ts.gv;  // [D][R]
  detail::inverse_tile<T, R>(j.d, slot, j.ts, j.hmax, j.in, row0, j.n, xt, out);
  const int m = tile_rows<R>(j.n, row0);
  const int D = j.d.dim;
  for (int r = 0; r < m; ++r) {
    j.lp[row0 + r] = out[r];
    for (int k = 0; k < D; ++k) j.out[(row0 + r) * D + k] = xt[k * R + r];
  }
}

template <typename T, int R> void gradient_tile(const TileJob<T>& j, T* slot, double* G, int64_t tile) {
  T* work = slot + j.ts.fwd_size;
  const int64_t row0 = tile * R;
  const T* fwd = j.saved_in ? j.saved_in + tile * j.ts.fwd_size : slot;
  if (!j.saved_in) detail::forward_tile<T, R>(j.d, slot, j.ts, j.hmax, j.in, row0, j.n);
  const T* out = fwd + j.ts.lp;
  const int m = tile_rows<R>(j.n, row0);
  if (j.lp) {
    for (int r = 0; r < m; ++r) j.lp[row0 + r] = out[r];
  }
  T* gt = work + j.ts.g;
  T sum = T(0);
  bool any = false;
  for (int r = 0; r < R; ++r) {
    gt[r] = r < m && finite(out[r]) ? (j.g ? j.g[row0 + r] : T(1)) : T(0);
    any = any || gt[r] != T(0);
    sum += gt[r];
  }
  if (any) {
    detail::backward_tile<T, R>(j.d, fwd, work, j.ts, j.hmax, gt, G);
    G[j.np] += static_cast<double>(sum);
  }
}

/// The job's tile size R (one of the two this variant was compiled for) as a template argument.
template <typename T> void log_prob(const TileJob<T>& j, T* slot, int64_t tile) {
  if (j.rows == kTileLarge<T>) {
    log_prob_tile<T, kTileLarge<T>>(j, slot, tile);
  } else {
    log_prob_tile<T, kTileSmall<T>>(j, slot, tile);
  }
}
template <typename T> void sample(const TileJob<T>& j, T* slot, int64_t tile) {
  if (j.rows == kTileLarge<T>) {
    sample_tile<T, kTileLarge<T>>(j, slot, tile);
  } else {
    sample_tile<T, kTileSmall<T>>(j, slot, tile);
  }
}
template <typename T> void gradient(const TileJob<T>& j, T* slot, double* G, int64_t tile) {
  if (j.rows == kTileLarge<T>) {
    gradient_tile<T, kTileLarge<T>>(j, slot, G, tile);
  } else {
    gradient_tile<T, kTileSmall<T>>(j, slot, G, tile);
  }
}

constexpr IsaKernels kKernels{GWFLOW_KERNEL_ISA_NAME,
                              GWFLOW_KERNEL_ISA_TARGET,
                              detail::kVectorBytes,
                              detail::kMaxAccumulators,
                              {kTileSmall<float>, kTileSmall<double>},
                              {kTileLarge<float>, kTileLarge<double>},
                              {&log_prob<float>, &sample<float>, &gradient<float>},
                              {&log_prob<double>, &sample<double>, &gradient<double>}};

}  // namespace
}  // namespace GWFLOW_KERNEL_ISA_NS

const IsaKernels& GWFLOW_KERNEL_ISA_ENTRY() { return kKernels; }

}  // namespace gwflow::kernels
