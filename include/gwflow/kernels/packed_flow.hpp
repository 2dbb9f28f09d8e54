#pragma once
// PackedFlow: one flat, read-only copy of a standard model's parameters laid out for the fused
// kernels (masks applied, hidden units sorted by MADE degree so that every mask is
// block-triangular and the zero blocks are skipped, W^{-1} and log|det W| precomputed), and the
// per-row kernels that use it: forward (log_prob, z) and inverse (sampling). No torch here.
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <vector>

namespace gwflow::kernels {

/// Compile-time bounds of the per-row scratch space (checked when packing).
inline constexpr int kMaxDim = 32;
inline constexpr int kMaxHidden = 256;

/// Where each layer's parameters start in the flat array (all row-major).
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

/// Host-side builder input: the parameters of one layer as plain row-major arrays (masks already
/// applied, original MADE unit order) and the hidden degrees.
struct LayerParams {
  std::vector<double> w, b, w0, b0, wb[2][2], bb[2][2], wf, bf;
  std::vector<int64_t> degrees;
};

template <typename T> class PackedFlow {
 public:
  using Space = Kokkos::DefaultHostExecutionSpace;
  /// `low`, `high` [D]; `layers` in forward order. Throws std::invalid_argument if D or a width
  /// exceeds kMaxDim / kMaxHidden or a linear layer is singular.
  PackedFlow(int dim, const std::vector<double>& low, const std::vector<double>& high,
             const std::vector<LayerParams>& layers);

  int dim() const { return dim_; }
  int n_layers() const { return static_cast<int>(layout_.size()); }

  /// log p(x) for rows x [n, D] (row-major); z [n, D] too when `z` is not null. Rows outside
  /// the box get -inf (NaN for rows with NaN) and NaN noise.
  void log_prob(const T* x, int64_t n, T* log_prob, T* z) const;
  /// x = inverse(z) [n, D] and its log density (finite for finite z: stable tanh term).
  void sample(const T* z, int64_t n, T* x, T* log_prob) const;

  // Device-visible data (public for the functors).
  int dim_ = 0;
  Kokkos::View<T*, Kokkos::HostSpace> p_;       // every parameter
  Kokkos::View<int*, Kokkos::HostSpace> ints_;  // degree ranges and degrees
  Kokkos::View<LayerLayout*, Kokkos::HostSpace> layers_;
  Kokkos::View<T*, Kokkos::HostSpace> low_, high_;
  std::vector<LayerLayout> layout_;
};

extern template class PackedFlow<float>;
extern template class PackedFlow<double>;

}  // namespace gwflow::kernels
