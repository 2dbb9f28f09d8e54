#include "gwflow/kernels/packed_flow.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace gwflow::kernels {
namespace {

// Kokkos 3.x keeps its device-callable math in Kokkos::Experimental, Kokkos 4.x in Kokkos.
#if KOKKOS_VERSION >= 40000
namespace kmath = ::Kokkos;
#else
namespace kmath = ::Kokkos::Experimental;
#endif

template <typename T> KOKKOS_INLINE_FUNCTION T softplus(T u) { return u > T(20) ? u : kmath::log1p(kmath::exp(u)); }

template <typename T> KOKKOS_INLINE_FUNCTION T relu(T u) { return u > T(0) ? u : T(0); }

/// Inverse and log|det| of a D x D row-major matrix by Gauss-Jordan with partial pivoting.
double invert(int d, const std::vector<double>& a, std::vector<double>& inv) {
  std::vector<double> m(a);
  inv.assign(static_cast<size_t>(d) * d, 0.0);
  for (int i = 0; i < d; ++i) inv[i * d + i] = 1.0;
  double logdet = 0;
  for (int c = 0; c < d; ++c) {
    int piv = c;
    for (int r = c + 1; r < d; ++r) {
      if (std::abs(m[r * d + c]) > std::abs(m[piv * d + c])) piv = r;
    }
    if (m[piv * d + c] == 0.0) throw std::invalid_argument("a NaiveLinear weight matrix is singular");
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

template <typename T> struct Data {
  Kokkos::View<T*, Kokkos::HostSpace> p;
  Kokkos::View<int*, Kokkos::HostSpace> ints;
  Kokkos::View<LayerLayout*, Kokkos::HostSpace> layers;
  Kokkos::View<T*, Kokkos::HostSpace> low, high;
  int dim, n_layers;
};

/// The MADE layers for hidden units [u_begin, u_end) given inputs y[0 .. deg(u)): hidden values
/// at every stage (hs0, a0, hs1, a1, hs2), each unit reading only units of lower or equal degree.
template <typename T>
KOKKOS_INLINE_FUNCTION void made_units(const Data<T>& d, const LayerLayout& L, int u_begin, int u_end, const T* y,
                                       T* hs0, T* a0, T* hs1, T* a1, T* hs2) {
  const int D = d.dim, H = L.hidden;
  const int* ends = &d.ints(L.ends);
  const int* deg = &d.ints(L.degrees);
  for (int u = u_begin; u < u_end; ++u) {
    T acc = d.p(L.b0 + u);
    for (int j = 0; j < deg[u]; ++j) acc += d.p(L.w0 + u * D + j) * y[j];
    hs0[u] = acc;
  }
  T* in[2] = {hs0, hs1};
  T* mid[2] = {a0, a1};
  T* out[2] = {hs1, hs2};
  for (int b = 0; b < 2; ++b) {
    for (int u = u_begin; u < u_end; ++u) {
      const int lim = ends[deg[u]];
      T acc = d.p(L.bb[b][0] + u);
      for (int v = 0; v < lim; ++v) acc += d.p(L.wb[b][0] + u * H + v) * relu(in[b][v]);
      mid[b][u] = acc;
    }
    for (int u = u_begin; u < u_end; ++u) {
      const int lim = ends[deg[u]];
      T acc = d.p(L.bb[b][1] + u);
      for (int v = 0; v < lim; ++v) acc += d.p(L.wb[b][1] + u * H + v) * relu(mid[b][v]);
      out[b][u] = in[b][u] + acc;
    }
  }
}

/// Unconstrained scale and shift of dimension i from the final hidden values (units of degree <= i).
template <typename T>
KOKKOS_INLINE_FUNCTION void made_output(const Data<T>& d, const LayerLayout& L, int i, const T* hs2, T& scale,
                                        T& shift) {
  const int H = L.hidden;
  const int lim = d.ints(L.ends + i);
  T us = d.p(L.bf + 2 * i), sh = d.p(L.bf + 2 * i + 1);
  for (int v = 0; v < lim; ++v) {
    us += d.p(L.wf + (2 * i) * H + v) * hs2[v];
    sh += d.p(L.wf + (2 * i + 1) * H + v) * hs2[v];
  }
  scale = softplus(us) + T(1e-3);
  shift = sh;
}

template <typename T> struct ForwardFunctor {
  Data<T> d;
  const T* x;
  T* lp;
  T* z;
  KOKKOS_INLINE_FUNCTION void operator()(const int64_t row) const {
    const int D = d.dim;
    T v[kMaxDim], y[kMaxDim];
    T hs0[kMaxHidden], a0[kMaxHidden], hs1[kMaxHidden], a1[kMaxHidden], hs2[kMaxHidden];
    T lad = 0;
    bool nan_row = false, outside = false;
    for (int k = 0; k < D; ++k) {
      const T xv = x[row * D + k];
      if (xv != xv) nan_row = true;
      const T lo = d.low(k), hi = d.high(k);
      const T t = (T(2) * xv - hi - lo) / (hi - lo);
      if (!(kmath::fabs(t) < T(1))) {
        outside = true;
        continue;
      }
      v[k] = kmath::atanh(t);
      lad -= kmath::log1p(-t) + kmath::log1p(t) + kmath::log(T(0.5) * (hi - lo));
    }
    if (nan_row || outside) {
      lp[row] = nan_row ? static_cast<T>(NAN) : -static_cast<T>(INFINITY);
      if (z) {
        for (int k = 0; k < D; ++k) z[row * D + k] = static_cast<T>(NAN);
      }
      return;
    }
    for (int l = 0; l < d.n_layers; ++l) {
      const LayerLayout& L = d.layers(l);
      for (int r = 0; r < D; ++r) {
        T acc = d.p(L.b + r);
        for (int c = 0; c < D; ++c) acc += d.p(L.w + r * D + c) * v[c];
        y[r] = acc;
      }
      lad += T(L.logdet);
      made_units(d, L, 0, L.hidden, y, hs0, a0, hs1, a1, hs2);
      for (int i = 0; i < D; ++i) {
        T s, sh;
        made_output(d, L, i, hs2, s, sh);
        v[i] = s * y[i] + sh;
        lad += kmath::log(s);
      }
    }
    T sq = 0;
    for (int k = 0; k < D; ++k) sq += v[k] * v[k];
    lp[row] = T(-0.5) * sq - T(0.5 * D * 1.8378770664093454835606594728112) + lad;
    if (z) {
      for (int k = 0; k < D; ++k) z[row * D + k] = v[k];
    }
  }
};

template <typename T> struct InverseFunctor {
  Data<T> d;
  const T* z;
  T* x;
  T* lp;
  KOKKOS_INLINE_FUNCTION void operator()(const int64_t row) const {
    const int D = d.dim;
    T v[kMaxDim], y[kMaxDim];
    T hs0[kMaxHidden], a0[kMaxHidden], hs1[kMaxHidden], a1[kMaxHidden], hs2[kMaxHidden];
    T lad = 0, sq = 0;
    for (int k = 0; k < D; ++k) {
      v[k] = z[row * D + k];
      sq += v[k] * v[k];
    }
    for (int l = d.n_layers - 1; l >= 0; --l) {
      const LayerLayout& L = d.layers(l);
      const int* ends = &d.ints(L.ends);
      // MAF inverse: dimension i needs only the hidden units of degree <= i, and those of degree
      // exactly i need only y[0 .. i): each unit is computed once, one network pass in all.
      for (int i = 0; i < D; ++i) {
        made_units(d, L, i == 0 ? 0 : ends[i - 1], ends[i], y, hs0, a0, hs1, a1, hs2);
        T s, sh;
        made_output(d, L, i, hs2, s, sh);
        y[i] = (v[i] - sh) / s;
        lad -= kmath::log(s);
      }
      for (int r = 0; r < D; ++r) {
        T acc = 0;
        for (int c = 0; c < D; ++c) acc += d.p(L.winv + r * D + c) * (y[c] - d.p(L.b + c));
        v[r] = acc;
      }
      lad -= T(L.logdet);
    }
    for (int k = 0; k < D; ++k) {
      const T lo = d.low(k), hi = d.high(k);
      const T t = kmath::tanh(v[k]);
      x[row * D + k] = (t * (hi - lo) + hi + lo) / T(2);
      const T a = kmath::fabs(v[k]);
      lad += T(2) * (T(0.69314718055994530941723212145818) - a - softplus(T(-2) * a)) + kmath::log(T(0.5) * (hi - lo));
    }
    lp[row] = T(-0.5) * sq - T(0.5 * D * 1.8378770664093454835606594728112) - lad;
  }
};

}  // namespace

template <typename T>
PackedFlow<T>::PackedFlow(int dim, const std::vector<double>& low, const std::vector<double>& high,
                          const std::vector<LayerParams>& layers)
    : dim_(dim) {
  if (dim < 1 || dim > kMaxDim)
    throw std::invalid_argument("D = " + std::to_string(dim) + " exceeds the kernels' limit");
  std::vector<double> flat;
  std::vector<int> ints;
  auto put = [&flat](const std::vector<double>& v) {
    const int64_t off = static_cast<int64_t>(flat.size());
    flat.insert(flat.end(), v.begin(), v.end());
    return off;
  };
  for (const auto& lp : layers) {
    const int H = static_cast<int>(lp.degrees.size());
    if (H > kMaxHidden)
      throw std::invalid_argument("hidden width " + std::to_string(H) + " exceeds the kernels' limit");
    // Sort hidden units by degree (stable): masks become block-triangular.
    std::vector<int> perm(H);
    std::iota(perm.begin(), perm.end(), 0);
    std::stable_sort(perm.begin(), perm.end(), [&](int a, int b) { return lp.degrees[a] < lp.degrees[b]; });
    LayerLayout L;
    L.hidden = H;
    std::vector<double> winv;
    L.logdet = invert(dim, lp.w, winv);
    L.w = put(lp.w);
    L.b = put(lp.b);
    L.winv = put(winv);
    std::vector<double> w0(static_cast<size_t>(H) * dim), b0(H);
    for (int u = 0; u < H; ++u) {
      b0[u] = lp.b0[perm[u]];
      for (int j = 0; j < dim; ++j) w0[u * dim + j] = lp.w0[perm[u] * dim + j];
    }
    L.w0 = put(w0);
    L.b0 = put(b0);
    for (int b = 0; b < 2; ++b) {
      for (int j = 0; j < 2; ++j) {
        std::vector<double> w(static_cast<size_t>(H) * H), bias(H);
        for (int u = 0; u < H; ++u) {
          bias[u] = lp.bb[b][j][perm[u]];
          for (int v = 0; v < H; ++v) w[u * H + v] = lp.wb[b][j][perm[u] * H + perm[v]];
        }
        L.wb[b][j] = put(w);
        L.bb[b][j] = put(bias);
      }
    }
    std::vector<double> wf(static_cast<size_t>(2) * dim * H);
    for (int o = 0; o < 2 * dim; ++o) {
      for (int v = 0; v < H; ++v) wf[o * H + v] = lp.wf[o * H + perm[v]];
    }
    L.wf = put(wf);
    L.bf = put(lp.bf);
    L.ends = static_cast<int64_t>(ints.size());
    for (int dd = 0; dd <= dim; ++dd) {
      ints.push_back(
          static_cast<int>(std::count_if(lp.degrees.begin(), lp.degrees.end(), [dd](int64_t g) { return g <= dd; })));
    }
    L.degrees = static_cast<int64_t>(ints.size());
    for (int u = 0; u < H; ++u) ints.push_back(static_cast<int>(lp.degrees[perm[u]]));
    layout_.push_back(L);
  }
  p_ = Kokkos::View<T*, Kokkos::HostSpace>("gwflow::kernels::params", flat.size());
  for (size_t i = 0; i < flat.size(); ++i) p_(i) = static_cast<T>(flat[i]);
  ints_ = Kokkos::View<int*, Kokkos::HostSpace>("gwflow::kernels::ints", std::max<size_t>(ints.size(), 1));
  for (size_t i = 0; i < ints.size(); ++i) ints_(i) = ints[i];
  layers_ = Kokkos::View<LayerLayout*, Kokkos::HostSpace>("gwflow::kernels::layers", layout_.size());
  for (size_t i = 0; i < layout_.size(); ++i) layers_(i) = layout_[i];
  low_ = Kokkos::View<T*, Kokkos::HostSpace>("gwflow::kernels::low", dim);
  high_ = Kokkos::View<T*, Kokkos::HostSpace>("gwflow::kernels::high", dim);
  for (int k = 0; k < dim; ++k) {
    low_(k) = static_cast<T>(low[k]);
    high_(k) = static_cast<T>(high[k]);
  }
}

template <typename T> void PackedFlow<T>::log_prob(const T* x, int64_t n, T* lp, T* z) const {
  ForwardFunctor<T> f{Data<T>{p_, ints_, layers_, low_, high_, dim_, n_layers()}, x, lp, z};
  Kokkos::parallel_for("gwflow::kernels::log_prob", Kokkos::RangePolicy<Space>(0, n), f);
  Space().fence();
}

template <typename T> void PackedFlow<T>::sample(const T* z, int64_t n, T* x, T* lp) const {
  InverseFunctor<T> f{Data<T>{p_, ints_, layers_, low_, high_, dim_, n_layers()}, z, x, lp};
  Kokkos::parallel_for("gwflow::kernels::sample", Kokkos::RangePolicy<Space>(0, n), f);
  Space().fence();
}

template class PackedFlow<float>;
template class PackedFlow<double>;

}  // namespace gwflow::kernels
