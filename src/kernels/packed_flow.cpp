#include "gwflow/kernels/packed_flow.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "gwflow/kernels/isa.hpp"

namespace gwflow::kernels {
namespace {

/// A tile's forward intermediates must fit in this many bytes for the variant's large tiles.
constexpr int64_t kLargeTileBytes = int64_t(256) << 10;

TileScratch make_tile_scratch(int D, int hmax, int n_layers, int R) {
  TileScratch t;
  t.layer_stride = static_cast<int64_t>(4 * D + 5 * hmax) * R;
  t.z = t.layer_stride * std::max(1, n_layers);
  t.lp = t.z + D * R;
  t.fwd_size = t.lp + R;
  // gh, gt [wide][R] and the transposition buffer tr [R][wide], wide rounded up for weight_grad.
  const int64_t wide = (std::max(hmax, 2 * D) + 63) / 64 * 64 * R;
  int64_t off = 0;
  for (int64_t* slot : {&t.gv, &t.gy, &t.gus, &t.gsh}) {
    *slot = off;
    off += D * R;
  }
  t.g = off;
  off += R;
  for (int64_t* slot : {&t.gh, &t.gt, &t.tr}) {
    *slot = off;
    off += wide;
  }
  t.work_size = off;
  return t;
}

/// Inverse and log|det| of a D x D row-major matrix by Gauss-Jordan with partial pivoting.
double invert(int d, const double* a, std::vector<double>& inv) {
  std::vector<double> m(a, a + static_cast<size_t>(d) * d);
  inv.assign(static_cast<size_t>(d) * d, 0.0);
  for (int i = 0; i < d; ++i) inv[i * d + i] = 1.0;
  double logdet = 0;
  for (int c = 0; c < d; ++c) {
    int piv = c;
    for (int r = c + 1; r < d; ++r) {
      if (std::abs(m[r * d + c]) > std::abs(m[piv * d + c])) piv = r;
    }
    if (m[piv * d + c] == 0.0 || !std::isfinite(m[piv * d + c]))
      throw std::invalid_argument("a NaiveLinear weight matrix is singular or not finite");
    if (piv != c) {
      for (int k = 0; k < d; ++k) {
        std::swap(m[piv * d + k], m[c * d + k]);
        std::swap(inv[piv * d + k], inv[c * d + k]);
      }
    }
    const double p = m[c * d + c];
    logdet += std::log(std::abs(p));
    for (int k = 0; k < d; ++k) {
      m[c * d + k] /= p;
      inv[c * d + k] /= p;
    }
    for (int r = 0; r < d; ++r) {
      if (r == c) continue;
      const double f = m[r * d + c];
      if (f == 0.0) continue;
      for (int k = 0; k < d; ++k) {
        m[r * d + k] -= f * m[c * d + k];
        inv[r * d + k] -= f * inv[c * d + k];
      }
    }
  }
  return logdet;
}

template <typename T> FlowData<T> flow_data(const PackedFlow<T>& f) {
  return FlowData<T>{f.p_.data(), f.ints_.data(), f.layers_.data(), f.box_.data(), f.dim_, f.n_layers()};
}

template <typename T> const TileOps<T>& ops_of(const IsaKernels& v) {
  if constexpr (sizeof(T) == 4) {
    return v.f32;
  } else {
    return v.f64;
  }
}

}  // namespace

template <typename T>
PackedFlow<T>::PackedFlow(int dim, const std::vector<double>& low, const std::vector<double>& high,
                          const std::vector<std::vector<int64_t>>& degrees)
    : dim_(dim), isa_(&selected_variant()), ops_(&ops_of<T>(*isa_)) {
  if (dim < 1 || dim > kMaxDim)
    throw std::invalid_argument("D = " + std::to_string(dim) + " exceeds the kernels' limit");
  const int D = dim;
  std::vector<int> ints;
  int64_t packed = 0, canon = 0;
  auto put = [&](int64_t count, const std::vector<int64_t>& src) {  // src: canonical index per slot
    const int64_t off = packed;
    gather_.insert(gather_.end(), src.begin(), src.end());
    packed += count;
    return off;
  };
  auto identity = [&](int64_t count) {
    std::vector<int64_t> src(count);
    std::iota(src.begin(), src.end(), canon);
    canon += count;
    return src;
  };
  for (const auto& deg : degrees) {
    const int H = static_cast<int>(deg.size());
    if (H < 1 || H > kMaxHidden)
      throw std::invalid_argument("hidden width " + std::to_string(H) + " exceeds the kernels' limit");
    max_hidden_ = std::max(max_hidden_, H);
    canonical_offset_.push_back(canon);
    // Sort hidden units by degree (stable): masks become block-triangular.
    std::vector<int> perm(H);
    std::iota(perm.begin(), perm.end(), 0);
    std::stable_sort(perm.begin(), perm.end(), [&](int a, int b) { return deg[a] < deg[b]; });
    LayerLayout L;
    L.hidden = H;
    L.w = put(D * D, identity(D * D));
    L.b = put(D, identity(D));
    L.winv = put(D * D, std::vector<int64_t>(D * D, -1));
    // Canonical blocks: w0 [H, D], b0 [H], blocks' (w [H, H], b [H]) x 4, wf [2D, H], bf [2D].
    const int64_t c_w0 = canon, c_b0 = c_w0 + H * D;
    std::vector<int64_t> src(static_cast<size_t>(H) * D);
    for (int u = 0; u < H; ++u) {
      for (int j = 0; j < D; ++j) src[u * D + j] = c_w0 + perm[u] * D + j;
    }
    L.w0 = put(H * D, src);
    src.assign(H, 0);
    for (int u = 0; u < H; ++u) src[u] = c_b0 + perm[u];
    L.b0 = put(H, src);
    int64_t c = c_b0 + H;
    for (int b = 0; b < 2; ++b) {
      for (int j = 0; j < 2; ++j) {
        src.assign(static_cast<size_t>(H) * H, 0);
        for (int u = 0; u < H; ++u) {
          for (int v = 0; v < H; ++v) src[u * H + v] = c + perm[u] * H + perm[v];
        }
        L.wb[b][j] = put(H * H, src);
        c += H * H;
        src.assign(H, 0);
        for (int u = 0; u < H; ++u) src[u] = c + perm[u];
        L.bb[b][j] = put(H, src);
        c += H;
      }
    }
    src.assign(static_cast<size_t>(2) * D * H, 0);
    for (int o = 0; o < 2 * D; ++o) {
      for (int v = 0; v < H; ++v) src[o * H + v] = c + o * H + perm[v];
    }
    L.wf = put(2 * D * H, src);
    c += 2 * D * H;
    src.resize(2 * D);
    std::iota(src.begin(), src.end(), c);
    L.bf = put(2 * D, src);
    canon = c + 2 * D;
    L.ends = static_cast<int64_t>(ints.size());
    for (int dd = 0; dd <= D; ++dd) {
      ints.push_back(static_cast<int>(std::count_if(deg.begin(), deg.end(), [dd](int64_t g) { return g <= dd; })));
    }
    L.degrees = static_cast<int64_t>(ints.size());
    for (int u = 0; u < H; ++u) ints.push_back(static_cast<int>(deg[perm[u]]));
    // Multiply-adds of one row's forward pass: W, the masked MADE products, the final layer.
    macs_ += D * D;
    for (int u = 0; u < H; ++u) {
      const int du = static_cast<int>(deg[perm[u]]);
      macs_ += du + 4 * ints[L.ends + du];
    }
    for (int i = 0; i < D; ++i) macs_ += 2 * ints[L.ends + i];
    layout_.push_back(L);
  }
  canonical_offset_.push_back(canon);
  winv_.resize(layout_.size());
  p_ = Kokkos::View<T*, Memory>("gwflow::kernels::params", packed);
  ints_ = Kokkos::View<int*, Memory>("gwflow::kernels::ints", std::max<size_t>(ints.size(), 1));
  for (size_t i = 0; i < ints.size(); ++i) ints_(i) = ints[i];
  layers_ = Kokkos::View<LayerLayout*, Memory>("gwflow::kernels::layers", layout_.size());
  box_ = Kokkos::View<T*, Memory>("gwflow::kernels::box", 3 * D);
  for (int k = 0; k < D; ++k) {
    box_(k) = static_cast<T>(low[k]);
    box_(D + k) = static_cast<T>(high[k]);
    box_(2 * D + k) = static_cast<T>(std::log(0.5 * (high[k] - low[k])));
  }
  const int t = sizeof(T) == 4 ? 0 : 1;
  const int large = isa_->tile_rows_large[t];
  const TileScratch big = make_tile_scratch(D, max_hidden_, n_layers(), large);
  tile_rows_ = big.fwd_size * static_cast<int64_t>(sizeof(T)) <= kLargeTileBytes ? large : isa_->tile_rows_small[t];
  tile_scratch_ = tile_rows_ == large ? big : make_tile_scratch(D, max_hidden_, n_layers(), tile_rows_);
}

template <typename T> int64_t PackedFlow<T>::saved_size(int64_t n) const {
  return (n + tile_rows_ - 1) / tile_rows_ * tile_scratch_.fwd_size;
}

template <typename T> void PackedFlow<T>::set_parameters(const double* canonical) {
  for (size_t i = 0; i < gather_.size(); ++i) p_(i) = gather_[i] >= 0 ? static_cast<T>(canonical[gather_[i]]) : T(0);
  const int D = dim_;
  for (size_t l = 0; l < layout_.size(); ++l) {
    LayerLayout& L = layout_[l];
    L.logdet = invert(D, canonical + canonical_offset_[l], winv_[l]);
    for (int i = 0; i < D * D; ++i) p_(L.winv + i) = static_cast<T>(winv_[l][i]);
    layers_(l) = L;
  }
}

template <typename T> void PackedFlow<T>::reserve_scratch(int slots) const {
  const int64_t need = slots * (tile_scratch_.fwd_size + tile_scratch_.work_size);
  if (scratch_.extent(0) < static_cast<size_t>(need))
    scratch_ = Kokkos::View<T*, Memory>("gwflow::kernels::scratch", need);
}

template <typename T> TileJob<T> PackedFlow<T>::job(int64_t n) const {
  TileJob<T> j;
  j.d = flow_data(*this);
  j.ts = tile_scratch_;
  j.hmax = max_hidden_;
  j.rows = tile_rows_;
  j.n = n;
  return j;
}

template <typename T>
template <typename F>
void PackedFlow<T>::for_each_tile(const char* label, int64_t n, const Token& token, F f) const {
  reserve_scratch(token.size());
  T* scratch = scratch_.data();
  const int64_t slot_size = tile_scratch_.fwd_size + tile_scratch_.work_size;
  Kokkos::parallel_for(label, Kokkos::RangePolicy<Space>(0, (n + tile_rows_ - 1) / tile_rows_),
                       [=](const int64_t tile) {
                         const int id = token.acquire();
                         f(scratch + id * slot_size, id, tile);
                         token.release(id);
                       });
  Space().fence();
}

template <typename T> void PackedFlow<T>::log_prob(const T* x, int64_t n, T* lp, T* z, T* saved) const {
  TileJob<T> j = job(n);
  j.in = x;
  j.lp = lp;
  j.out = z;
  j.saved = saved;
  const auto kernel = ops_->log_prob;
  for_each_tile("gwflow::kernels::log_prob", n, Token(), [=](T* slot, int, int64_t tile) { kernel(j, slot, tile); });
}

template <typename T> void PackedFlow<T>::sample(const T* z, int64_t n, T* x, T* lp) const {
  TileJob<T> j = job(n);
  j.in = z;
  j.lp = lp;
  j.out = x;
  const auto kernel = ops_->sample;
  for_each_tile("gwflow::kernels::sample", n, Token(), [=](T* slot, int, int64_t tile) { kernel(j, slot, tile); });
}

template <typename T>
void PackedFlow<T>::gradient(const T* x, const T* g, int64_t n, double* grad, const T* saved, T* lp) const {
  const Token token;
  const int slots = token.size();
  const int64_t np = static_cast<int64_t>(p_.extent(0));
  if (grads_.extent(0) < static_cast<size_t>(slots * (np + 1))) {
    grads_ = Kokkos::View<double*, Memory>("gwflow::kernels::grads", slots * (np + 1));
  } else {
    Kokkos::deep_copy(grads_, 0.0);
  }
  TileJob<T> j = job(n);
  j.in = x;
  j.g = g;
  j.lp = lp;
  j.saved_in = saved;
  j.np = np;
  const auto kernel = ops_->gradient;
  double* grads = grads_.data();
  for_each_tile("gwflow::kernels::gradient", n, token,
                [=](T* slot, int id, int64_t tile) { kernel(j, slot, grads + id * (np + 1), tile); });
  // Per-slot partial sums, added in slot order (deterministic for a given thread count).
  const int D = dim_;
  for (int s = 0; s < slots; ++s) {
    const double* G = grads_.data() + s * (np + 1);
    for (int64_t i = 0; i < np; ++i) {
      if (gather_[i] >= 0) grad[gather_[i]] += G[i];
    }
    // d log|det W| / dW = W^{-T}, once per row and layer.
    const double sum_g = G[np];
    for (size_t l = 0; l < layout_.size(); ++l) {
      double* gw = grad + canonical_offset_[l];
      for (int a = 0; a < D; ++a) {
        for (int c = 0; c < D; ++c) gw[a * D + c] += sum_g * winv_[l][c * D + a];
      }
    }
  }
}

template class PackedFlow<float>;
template class PackedFlow<double>;

}  // namespace gwflow::kernels
