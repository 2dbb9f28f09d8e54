#pragma once
// The fused flow kernels on tiles of R rows (private to src/kernels, included only by
// tile_kernels.cpp, which is compiled once per instruction-set variant). Every per-row quantity is
// an array [.][R] and every inner loop runs over the R rows with a compile-time trip count, so the
// compiler vectorises across rows; the elementary functions come from vmath (branch-free, no libm).
// All rows of a tile, including the padding rows of the last one, take the same instructions, so a
// row's result does not depend on its position (bit-identical across block sizes and ranks).
//
// Everything here lives in the inline namespace GWFLOW_KERNEL_ISA_NS (one per variant) and has no
// out-of-line dependency but the C library: no Kokkos, no torch, no std:: code, so that no copy
// compiled for one instruction set can be linked in place of another's.
//
// The variant's tuning comes from the compiler's target macros: the vector width (kVectorBytes)
// and the number of accumulator vectors a row-blocked product keeps live (kMaxAccumulators), which
// must fit the register file with room for the broadcast weight and the loads: 16 registers on
// SSE4.2 / AVX2 (8 accumulators), 32 on AVX-512 and NEON (16).
#include "gwflow/kernels/simd_math.hpp"
#include "gwflow/kernels/tile_layout.hpp"

#if defined(__AVX512F__)
#define GWFLOW_KERNEL_VECTOR_BYTES 64
#define GWFLOW_KERNEL_VECTOR_REGS 32
#elif defined(__AVX__)
#define GWFLOW_KERNEL_VECTOR_BYTES 32
#define GWFLOW_KERNEL_VECTOR_REGS 16
#elif defined(__aarch64__)
#define GWFLOW_KERNEL_VECTOR_BYTES 16
#define GWFLOW_KERNEL_VECTOR_REGS 32
#else
#define GWFLOW_KERNEL_VECTOR_BYTES 16
#define GWFLOW_KERNEL_VECTOR_REGS 16
#endif
#ifndef GWFLOW_KERNEL_MAX_ACCUMULATORS
#define GWFLOW_KERNEL_MAX_ACCUMULATORS (GWFLOW_KERNEL_VECTOR_REGS / 2)
#endif

namespace gwflow::kernels {
inline namespace GWFLOW_KERNEL_ISA_NS {
namespace detail {

inline constexpr int kVectorBytes = GWFLOW_KERNEL_VECTOR_BYTES;
inline constexpr int kMaxAccumulators = GWFLOW_KERNEL_MAX_ACCUMULATORS;

inline constexpr double kLog2Pi = 1.8378770664093454835606594728112;
inline constexpr double kLn2 = 0.69314718055994530941723212145818;

/// Per-layer tile arrays.
template <typename T> struct LayerTile { T *vin, *y, *us, *s, *rh0, *ra0, *rh1, *ra1, *hs2; };

template <typename T, int R> inline LayerTile<T> layer_tile(T* base, int D, int H) {
  LayerTile<T> t;
  t.vin = base;
  t.y = t.vin + D * R;
  t.us = t.y + D * R;
  t.s = t.us + D * R;
  t.rh0 = t.s + D * R;
  t.ra0 = t.rh0 + H * R;
  t.rh1 = t.ra0 + H * R;
  t.ra1 = t.rh1 + H * R;
  t.hs2 = t.ra1 + H * R;
  return t;
}

template <typename T> GWFLOW_FORCEINLINE T relu(T u) { return u > T(0) ? u : T(0); }

#if defined(__GNUC__)
#define GWFLOW_KERNELS_VECTOR_EXT 1
/// The variant's vectors of T (GCC/Clang vector extensions). Arrays of a few of them in a fully
/// unrolled loop stay in registers, which plain arrays of R scalars do not: the accumulators of
/// every product below are such arrays, sized to the register file.
template <typename T> struct Simd {
  static constexpr int kLanes = kVectorBytes / static_cast<int>(sizeof(T));
  typedef T V __attribute__((vector_size(kVectorBytes), aligned(alignof(T))));  // unaligned access allowed
};
#endif

#ifdef GWFLOW_KERNELS_VECTOR_EXT
/// out[q0 * W ..) = b + sum_{k in [k0, k1)} w[k * wstride] in[k * R + ...] for C vectors of rows
/// from vector q0: C accumulators live in registers through the k loop.
template <typename T, int R, int C>
GWFLOW_FORCEINLINE void dot_rows_block(T b, const T* w, int64_t wstride, int k0, int k1, const T* in, T* out, int q0) {
  using V = typename Simd<T>::V;
  V acc[C];
  for (int q = 0; q < C; ++q) acc[q] = V{} + b;
  for (int k = k0; k < k1; ++k) {
    const T wk = w[k * wstride];
    const V* iv = reinterpret_cast<const V*>(in + k * R) + q0;
    for (int q = 0; q < C; ++q) acc[q] += wk * iv[q];
  }
  V* o = reinterpret_cast<V*>(out) + q0;
  for (int q = 0; q < C; ++q) o[q] = acc[q];
}
#endif

/// out[r] = b + sum_{k in [k0, k1)} w[k * wstride] in[k * R + r] for the R rows of a tile, in
/// blocks of at most kMaxAccumulators vectors of rows.
template <typename T, int R>
inline void dot_rows(T b, const T* w, int64_t wstride, int k0, int k1, const T* in, T* out) {
#ifdef GWFLOW_KERNELS_VECTOR_EXT
  constexpr int Q = R / Simd<T>::kLanes;
  static_assert(Q * Simd<T>::kLanes == R, "R must be a multiple of the vector length");
  constexpr int C = Q < kMaxAccumulators ? Q : kMaxAccumulators;
  constexpr int full = Q / C * C;
  for (int q0 = 0; q0 < full; q0 += C) dot_rows_block<T, R, C>(b, w, wstride, k0, k1, in, out, q0);
  if constexpr (full < Q) dot_rows_block<T, R, Q - full>(b, w, wstride, k0, k1, in, out, full);
#else
  for (int r = 0; r < R; ++r) out[r] = b;
  for (int k = k0; k < k1; ++k) {
    const T wk = w[k * wstride];
    for (int r = 0; r < R; ++r) out[r] += wk * in[k * R + r];
  }
#endif
}

/// softplus as torch (threshold 20) and its derivative's factor exp(u) / (exp(u) + 1), both
/// sides computed and blended (vectorises without masked instructions).
template <typename T> GWFLOW_FORCEINLINE T softplus(T u) {
  const T e = vmath::exp(vmath::select_gt(u, T(20), T(0), u));
  return vmath::select_gt(u, T(20), u, vmath::log1p(e));
}
template <typename T> GWFLOW_FORCEINLINE T softplus_grad(T u) {
  const T e = vmath::exp(vmath::select_gt(u, T(20), T(0), u));
  return vmath::select_gt(u, T(20), T(1), e / (e + T(1)));
}

/// The MADE layers for hidden units [ub, ue) given inputs y[0 .. deg(u)): each unit reads only
/// units of lower or equal degree, which must already be computed. hs2 doubles as the running
/// residual stream.
template <typename T, int R>
inline void made_units(const FlowData<T>& d, const LayerLayout& L, int ub, int ue, const T* y, const LayerTile<T>& t) {
  const int D = d.dim, H = L.hidden;
  const int* ends = d.ints + L.ends;
  const int* deg = d.ints + L.degrees;
  for (int u = ub; u < ue; ++u) {
    T* h = t.hs2 + u * R;
    dot_rows<T, R>(d.p[L.b0 + u], d.p + L.w0 + static_cast<int64_t>(u) * D, 1, 0, deg[u], y, h);
    T* rh = t.rh0 + u * R;
    for (int r = 0; r < R; ++r) rh[r] = relu(h[r]);
  }
  for (int b = 0; b < 2; ++b) {
    const T* rin = b == 0 ? t.rh0 : t.rh1;
    T* ra = b == 0 ? t.ra0 : t.ra1;
    for (int u = ub; u < ue; ++u) {
      T* o = ra + u * R;
      dot_rows<T, R>(d.p[L.bb[b][0] + u], d.p + L.wb[b][0] + static_cast<int64_t>(u) * H, 1, 0, ends[deg[u]], rin, o);
      for (int r = 0; r < R; ++r) o[r] = relu(o[r]);
    }
    for (int u = ub; u < ue; ++u) {
      alignas(64) T acc[R];
      dot_rows<T, R>(d.p[L.bb[b][1] + u], d.p + L.wb[b][1] + static_cast<int64_t>(u) * H, 1, 0, ends[deg[u]], ra, acc);
      T* h = t.hs2 + u * R;
      for (int r = 0; r < R; ++r) h[r] += acc[r];
      if (b == 0) {
        T* rh = t.rh1 + u * R;
        for (int r = 0; r < R; ++r) rh[r] = relu(h[r]);
      }
    }
  }
}

/// Unconstrained scale and shift of dimension i (reads hidden units of degree <= i); stores us
/// and the scale s = softplus(us) + 1e-3.
template <typename T, int R>
inline void made_output(const FlowData<T>& d, const LayerLayout& L, int i, const LayerTile<T>& t, T* shift) {
  const int H = L.hidden;
  const int lim = d.ints[L.ends + i];
  alignas(64) T us[R];
  alignas(64) T sh[R];
  const T* ws = d.p + L.wf + static_cast<int64_t>(2 * i) * H;
  dot_rows<T, R>(d.p[L.bf + 2 * i], ws, 1, 0, lim, t.hs2, us);
  dot_rows<T, R>(d.p[L.bf + 2 * i + 1], ws + H, 1, 0, lim, t.hs2, sh);
  T* uo = t.us + i * R;
  T* so = t.s + i * R;
  for (int r = 0; r < R; ++r) {
    uo[r] = us[r];
    so[r] = softplus(us[r]) + T(1e-3);
    shift[r] = sh[r];
  }
}

/// y = W v + b for one tile.
template <typename T, int R> inline void linear(const FlowData<T>& d, const LayerLayout& L, const T* v, T* y) {
  const int D = d.dim;
  for (int a = 0; a < D; ++a) dot_rows<T, R>(d.p[L.b + a], d.p + L.w + a * D, 1, 0, D, v, y + a * R);
}

/// Forward pass of one tile: rows [row0, row0 + R) of x (rows >= n are padding). Leaves every
/// intermediate in the forward part `scratch` (layer tiles, z, and log p per row: -inf outside
/// the box, NaN for NaN rows).
template <typename T, int R>
inline void forward_tile(const FlowData<T>& d, T* scratch, const TileScratch& ts, int hmax, const T* x, int64_t row0,
                         int64_t n) {
  T* lp = scratch + ts.lp;
  const int D = d.dim;
  // Per-row flags as T (0 or 1) rather than bool, so that the loops below vectorise.
  T lad[R], nan_row[R], outside[R];
  for (int r = 0; r < R; ++r) {
    lad[r] = T(0);
    nan_row[r] = T(0);
    outside[r] = T(0);
  }
  LayerTile<T> t0 = layer_tile<T, R>(scratch, D, hmax);
  for (int k = 0; k < D; ++k) {
    const T lo = d.box[k], hi = d.box[D + k], lhw = d.box[2 * D + k];
    T tv[R];
    for (int r = 0; r < R; ++r) {
      const int64_t row = row0 + r < n ? row0 + r : row0;
      tv[r] = x[row * D + k];
    }
    T* vk = t0.vin + k * R;
    for (int r = 0; r < R; ++r) {
      const T xv = tv[r];
      nan_row[r] = vmath::select_nan(xv, T(1), nan_row[r]);
      T tt = (T(2) * xv - hi - lo) / (hi - lo);
      // Inside the box: |t| < 1 (NaN counts as outside; NaN rows come out NaN below).
      const T abs_t = vmath::abs(tt);
      outside[r] = vmath::select_gt(T(1), abs_t, outside[r], T(1));
      tt = vmath::select_gt(T(1), abs_t, tt, T(0));
      // atanh(t) = log1p(2t / (1 - t)) / 2
      vk[r] = T(0.5) * vmath::log1p(T(2) * tt / (T(1) - tt));
      lad[r] -= vmath::log1p(-tt) + vmath::log1p(tt) + lhw;
    }
  }
  for (int l = 0; l < d.n_layers; ++l) {
    const LayerLayout& L = d.layers[l];
    LayerTile<T> t = layer_tile<T, R>(scratch + l * ts.layer_stride, D, hmax);
    T* out = l + 1 < d.n_layers ? layer_tile<T, R>(scratch + (l + 1) * ts.layer_stride, D, hmax).vin : scratch + ts.z;
    linear<T, R>(d, L, t.vin, t.y);
    const T ld = T(L.logdet);
    for (int r = 0; r < R; ++r) lad[r] += ld;
    made_units<T, R>(d, L, 0, L.hidden, t.y, t);
    for (int i = 0; i < D; ++i) {
      T sh[R];
      made_output<T, R>(d, L, i, t, sh);
      const T* s = t.s + i * R;
      const T* yi = t.y + i * R;
      T* o = out + i * R;
      for (int r = 0; r < R; ++r) {
        o[r] = s[r] * yi[r] + sh[r];
        lad[r] += vmath::log(s[r]);
      }
    }
  }
  T sq[R];
  for (int r = 0; r < R; ++r) sq[r] = T(0);
  const T* z = scratch + ts.z;
  for (int k = 0; k < D; ++k) {
    for (int r = 0; r < R; ++r) sq[r] += z[k * R + r] * z[k * R + r];
  }
  const T norm = T(0.5 * D * kLog2Pi);
  for (int r = 0; r < R; ++r) {
    const T v = T(-0.5) * sq[r] - norm + lad[r];
    const T inf_or_v = vmath::select_gt(outside[r], T(0), -static_cast<T>(__builtin_inf()), v);
    lp[r] = vmath::select_gt(nan_row[r], T(0), static_cast<T>(__builtin_nan("")), inf_or_v);
  }
}

/// G[u * ld + v] += sum_r gu[u][r] a[v][r] for u in [0, nu), v < lim(u) (lim non-decreasing in
/// u, as every mask of the degree-sorted units is). A register-blocked product: the activations
/// are transposed once into tr [R][na rounded up to the vector length], then blocks of vectors of
/// columns accumulate over the rows in registers. Each tile's sum is formed in T and added to the
/// double accumulator G (the rounding grows with R, not with the batch).
#ifdef GWFLOW_KERNELS_VECTOR_EXT
/// Gu[v0 + j] += sum_r g[r] tr[r * nap + v0 + j] for j < min(NQ W, m - v0): NQ vectors of columns,
/// each summed over the rows in NP interleaved partial sums (independent FMA chains).
template <typename T, int R, int NQ, int NP>
inline void weight_grad_block(double* Gu, const T* g, const T* tr, int nap, int v0, int m) {
  using V = typename Simd<T>::V;
  constexpr int W = Simd<T>::kLanes;
  V acc[NQ][NP];
  for (int q = 0; q < NQ; ++q) {
    for (int p = 0; p < NP; ++p) acc[q][p] = V{};
  }
  for (int r = 0; r < R; r += NP) {
    for (int p = 0; p < NP; ++p) {
      const V* ar = reinterpret_cast<const V*>(tr + (r + p) * nap + v0);
      const T gr = g[r + p];
      for (int q = 0; q < NQ; ++q) acc[q][p] += gr * ar[q];
    }
  }
  for (int q = 0; q < NQ; ++q) {
    V sum = acc[q][0];
    for (int p = 1; p < NP; ++p) sum += acc[q][p];
    for (int j = 0; j < W && v0 + q * W + j < m; ++j) Gu[v0 + q * W + j] += static_cast<double>(sum[j]);
  }
}
#endif

#ifdef GWFLOW_KERNELS_VECTOR_EXT
/// The sum of Q vectors' lanes by a fixed tree.
template <typename T, int Q> GWFLOW_FORCEINLINE T tree_sum(typename Simd<T>::V* acc) {
  using V = typename Simd<T>::V;
  constexpr int W = Simd<T>::kLanes;
  for (int w = Q / 2; w >= 1; w /= 2) {
    for (int q = 0; q < w; ++q) acc[q] += acc[q + w];
  }
  alignas(64) T lanes[W];
  *reinterpret_cast<V*>(lanes) = acc[0];
  for (int w = W / 2; w >= 1; w /= 2) {
    for (int j = 0; j < w; ++j) lanes[j] += lanes[j + w];
  }
  return lanes[0];
}
#endif

/// sum_r a[r] b[r] over the R rows of a tile (vector partial sums, then a fixed tree).
template <typename T, int R> GWFLOW_FORCEINLINE T dot_over_rows(const T* a, const T* b) {
#ifdef GWFLOW_KERNELS_VECTOR_EXT
  using V = typename Simd<T>::V;
  constexpr int Q = R / Simd<T>::kLanes;
  const V* av = reinterpret_cast<const V*>(a);
  const V* bv = reinterpret_cast<const V*>(b);
  V acc[Q];
  for (int q = 0; q < Q; ++q) acc[q] = av[q] * bv[q];
  return tree_sum<T, Q>(acc);
#else
  T acc = T(0);
  for (int r = 0; r < R; ++r) acc += a[r] * b[r];
  return acc;
#endif
}

/// sum_r a[r] over the R rows of a tile (as dot_over_rows).
template <typename T, int R> GWFLOW_FORCEINLINE T sum_over_rows(const T* a) {
#ifdef GWFLOW_KERNELS_VECTOR_EXT
  using V = typename Simd<T>::V;
  constexpr int Q = R / Simd<T>::kLanes;
  const V* av = reinterpret_cast<const V*>(a);
  V acc[Q];
  for (int q = 0; q < Q; ++q) acc[q] = av[q];
  return tree_sum<T, Q>(acc);
#else
  T acc = T(0);
  for (int r = 0; r < R; ++r) acc += a[r];
  return acc;
#endif
}

template <typename T, int R, typename Lim>
inline void weight_grad(double* G, int ld, int nu, const T* gu, const T* a, int na, T* tr, Lim lim) {
#ifdef GWFLOW_KERNELS_VECTOR_EXT
  constexpr int W = Simd<T>::kLanes;
#else
  constexpr int W = 1;
#endif
  if (na < W) {  // narrow layers: one dot product over the rows per weight, no transposition
    for (int u = 0; u < nu; ++u) {
      const int m = lim(u);
      double* Gu = G + static_cast<int64_t>(u) * ld;
      for (int v = 0; v < m; ++v) Gu[v] += static_cast<double>(dot_over_rows<T, R>(gu + u * R, a + v * R));
    }
    return;
  }
  const int nap = (na + W - 1) / W * W;
  for (int v = 0; v < na; ++v) {
    for (int r = 0; r < R; ++r) tr[r * nap + v] = a[v * R + r];
  }
  // Columns [na, nap) hold stale values: they only reach lanes that are never stored.
  for (int u = 0; u < nu; ++u) {
    const int m = lim(u);
    const T* g = gu + u * R;
    double* Gu = G + static_cast<int64_t>(u) * ld;
#ifdef GWFLOW_KERNELS_VECTOR_EXT
    int v0 = 0;
    for (; v0 + 4 * W <= m; v0 += 4 * W) weight_grad_block<T, R, 4, 2>(Gu, g, tr, nap, v0, m);
    // The rest: up to 4 vectors (reads stay below nap).
    switch ((m - v0 + W - 1) / W) {
    case 1: weight_grad_block<T, R, 1, 4>(Gu, g, tr, nap, v0, m); break;
    case 2: weight_grad_block<T, R, 2, 4>(Gu, g, tr, nap, v0, m); break;
    case 3: weight_grad_block<T, R, 3, 2>(Gu, g, tr, nap, v0, m); break;
    case 4: weight_grad_block<T, R, 4, 2>(Gu, g, tr, nap, v0, m); break;
    default: break;
    }
#else
    for (int v0 = 0; v0 < m; ++v0) {
      T acc = T(0);
      for (int r = 0; r < R; ++r) acc += g[r] * tr[r * nap + v0];
      Gu[v0] += static_cast<double>(acc);
    }
#endif
  }
}

/// G[u] += sum_r gu[u][r] for a bias (vector partial sums and a fixed tree: a plain loop would be
/// R dependent scalar additions, which GCC may not reorder).
template <typename T, int R> GWFLOW_FORCEINLINE void bias_grad(double* G, int nu, const T* gu) {
  for (int u = 0; u < nu; ++u) G[u] += static_cast<double>(sum_over_rows<T, R>(gu + u * R));
}

/// gin[v][r] = sum_u W[u, v] gu[u][r] over the u with v < lim(u) (lim non-decreasing in u, so
/// those u are a suffix [first(v), nu)); gin [nv][R] is overwritten. Accumulates in registers.
template <typename T, int R, typename Lim>
inline void input_grad(const T* W, int ld, int nu, const T* gu, int nv, T* gin, Lim lim) {
  int first = 0;
  for (int v = 0; v < nv; ++v) {
    while (first < nu && lim(first) <= v) ++first;
    dot_rows<T, R>(T(0), W + v, ld, first, nu, gu, gin + v * R);
  }
}

/// The reverse of v' = s y + shift with s = softplus(us) + 1e-3 and lad += log s, for one
/// dimension (restrict-qualified parameters: no aliasing, so the loop vectorises).
template <typename T, int R>
GWFLOW_FORCEINLINE void affine_grad(const T* __restrict__ gv, const T* __restrict__ y, const T* __restrict__ s,
                                    const T* __restrict__ us, const T* __restrict__ g, T* __restrict__ gus,
                                    T* __restrict__ gsh, T* __restrict__ gy) {
  for (int r = 0; r < R; ++r) {
    const T gs = gv[r] * y[r] + g[r] / s[r];
    gus[r] = gs * softplus_grad(us[r]);
    gsh[r] = gv[r];
    gy[r] = gv[r] * s[r];
  }
}

/// Reverse pass of one tile after forward_tile: adds d(sum_r g_r lp_r)/d(packed parameters) to G
/// (packed layout) given g [R] (zero for rows that must not contribute), the forward part `fwd`
/// and the work part `work`.
template <typename T, int R>
inline void backward_tile(const FlowData<T>& d, const T* fwd, T* work, const TileScratch& ts, int hmax, const T* g,
                          double* G) {
  const int D = d.dim;
  T* gv = work + ts.gv;
  T* gy = work + ts.gy;
  T* gus = work + ts.gus;
  T* gsh = work + ts.gsh;
  T* gh = work + ts.gh;
  T* gt = work + ts.gt;
  T* tr = work + ts.tr;
  const T* z = fwd + ts.z;
  for (int k = 0; k < D; ++k) {
    for (int r = 0; r < R; ++r) gv[k * R + r] = -g[r] * z[k * R + r];
  }
  for (int l = d.n_layers - 1; l >= 0; --l) {
    const LayerLayout& L = d.layers[l];
    const int H = L.hidden;
    const int* ends = d.ints + L.ends;
    const int* deg = d.ints + L.degrees;
    LayerTile<T> t = layer_tile<T, R>(const_cast<T*>(fwd) + l * ts.layer_stride, D, hmax);
    // v' = s y + shift, lad += log s.
    for (int i = 0; i < D; ++i) {
      affine_grad<T, R>(gv + i * R, t.y + i * R, t.s + i * R, t.us + i * R, g, gus + i * R, gsh + i * R, gy + i * R);
    }
    // Final layer: rows 2i (scale) and 2i + 1 (shift) read hidden units v < ends[i].
    for (int i = 0; i < D; ++i) {
      for (int r = 0; r < R; ++r) {
        tr[(2 * i) * R + r] = gus[i * R + r];
        tr[(2 * i + 1) * R + r] = gsh[i * R + r];
      }
    }
    {
      T* go = gt;  // [2D][R] upstream of the final layer, in output order
      for (int k = 0; k < 2 * D * R; ++k) go[k] = tr[k];
      auto lim_out = [ends](int o) { return ends[o / 2]; };
      bias_grad<T, R>(G + L.bf, 2 * D, go);
      weight_grad<T, R>(G + L.wf, H, 2 * D, go, t.hs2, H, tr, lim_out);
      input_grad<T, R>(d.p + L.wf, H, 2 * D, go, H, gh, lim_out);
    }
    auto lim_hidden = [ends, deg](int u) { return ends[deg[u]]; };
    for (int b = 1; b >= 0; --b) {
      const T* rin = b == 0 ? t.rh0 : t.rh1;
      const T* ra = b == 0 ? t.ra0 : t.ra1;
      // out = in + W1 ra + b1 with ra = relu(W0 relu(in) + b0); gh is d/d out.
      bias_grad<T, R>(G + L.bb[b][1], H, gh);
      weight_grad<T, R>(G + L.wb[b][1], H, H, gh, ra, H, tr, lim_hidden);
      input_grad<T, R>(d.p + L.wb[b][1], H, H, gh, H, gt, lim_hidden);
      for (int k = 0; k < H * R; ++k) gt[k] = ra[k] > T(0) ? gt[k] : T(0);
      bias_grad<T, R>(G + L.bb[b][0], H, gt);
      weight_grad<T, R>(G + L.wb[b][0], H, H, gt, rin, H, tr, lim_hidden);
      // gh += relu'(in) * W0^T gt (the residual passes gh through).
      T* gi = tr;  // reuse: [H][R]
      input_grad<T, R>(d.p + L.wb[b][0], H, H, gt, H, gi, lim_hidden);
      for (int k = 0; k < H * R; ++k) gh[k] += rin[k] > T(0) ? gi[k] : T(0);
    }
    // hs0 = W0 y + b0 over inputs j < deg[u].
    auto lim_in = [deg](int u) { return deg[u]; };
    bias_grad<T, R>(G + L.b0, H, gh);
    weight_grad<T, R>(G + L.w0, D, H, gh, t.y, D, tr, lim_in);
    input_grad<T, R>(d.p + L.w0, D, H, gh, D, gt, lim_in);
    for (int k = 0; k < D * R; ++k) gy[k] += gt[k];
    // y = W vin + b (the log|det W| term is added on the host from the sum of g).
    auto lim_full = [D](int) { return D; };
    bias_grad<T, R>(G + L.b, D, gy);
    weight_grad<T, R>(G + L.w, D, D, gy, t.vin, D, tr, lim_full);
    input_grad<T, R>(d.p + L.w, D, D, gy, D, gv, lim_full);
  }
}

/// Inverse (sampling) of one tile: z rows [row0, row0 + R) -> x (written to xt [D][R]) and log p
/// (lp [R]). One network pass per MAF layer: dimension i needs only the hidden units of degree
/// <= i, and those of degree exactly i need only y[0 .. i), so each unit is computed once.
template <typename T, int R>
inline void inverse_tile(const FlowData<T>& d, T* scratch, const TileScratch& ts, int hmax, const T* zin, int64_t row0,
                         int64_t n, T* xt, T* lp) {
  const int D = d.dim;
  T* v = scratch + ts.z;
  T lad[R], sq[R];
  for (int r = 0; r < R; ++r) {
    lad[r] = T(0);
    sq[r] = T(0);
  }
  for (int k = 0; k < D; ++k) {
    T* vk = v + k * R;
    for (int r = 0; r < R; ++r) {
      const int64_t row = row0 + r < n ? row0 + r : row0;
      vk[r] = zin[row * D + k];
    }
    for (int r = 0; r < R; ++r) sq[r] += vk[r] * vk[r];
  }
  LayerTile<T> t = layer_tile<T, R>(scratch, D, hmax);
  for (int l = d.n_layers - 1; l >= 0; --l) {
    const LayerLayout& L = d.layers[l];
    const int* ends = d.ints + L.ends;
    for (int i = 0; i < D; ++i) {
      made_units<T, R>(d, L, i == 0 ? 0 : ends[i - 1], ends[i], t.y, t);
      T sh[R];
      made_output<T, R>(d, L, i, t, sh);
      const T* s = t.s + i * R;
      const T* vi = v + i * R;
      T* yi = t.y + i * R;
      for (int r = 0; r < R; ++r) {
        yi[r] = (vi[r] - sh[r]) / s[r];
        lad[r] -= vmath::log(s[r]);
      }
    }
    for (int c = 0; c < D; ++c) {
      const T b = d.p[L.b + c];
      for (int r = 0; r < R; ++r) t.vin[c * R + r] = t.y[c * R + r] - b;
    }
    for (int a = 0; a < D; ++a) dot_rows<T, R>(T(0), d.p + L.winv + a * D, 1, 0, D, t.vin, v + a * R);
    const T ld = T(L.logdet);
    for (int r = 0; r < R; ++r) lad[r] -= ld;
  }
  for (int k = 0; k < D; ++k) {
    const T lo = d.box[k], hi = d.box[D + k], lhw = d.box[2 * D + k];
    const T* vk = v + k * R;
    T* xk = xt + k * R;
    for (int r = 0; r < R; ++r) {
      const T a = vmath::abs(vk[r]);
      const T em = vmath::expm1(T(-2) * a);  // tanh a = -em / (2 + em), accurate for small a
      const T th = -em / (T(2) + em);
      const T tt = vmath::copysign(th, vk[r]);
      xk[r] = (tt * (hi - lo) + hi + lo) / T(2);
      lad[r] += T(2) * (T(kLn2) - a - vmath::log1p(em + T(1))) + lhw;
    }
  }
  const T norm = T(0.5 * D * kLog2Pi);
  for (int r = 0; r < R; ++r) lp[r] = T(-0.5) * sq[r] - norm - lad[r];
}

}  // namespace detail
}  // namespace GWFLOW_KERNEL_ISA_NS
}  // namespace gwflow::kernels
