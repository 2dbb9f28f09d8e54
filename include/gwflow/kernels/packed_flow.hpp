#pragma once
// PackedFlow: one flat, read-only copy of a standard model's parameters laid out for the fused
// kernels (hidden units sorted by MADE degree so that every mask is block-triangular and the zero
// blocks are skipped, W^{-1} and log|det W| precomputed), and the kernels that use it: forward
// (log_prob, z), inverse (sampling) and the parameter gradient of sum_r g_r log p(x_r). The kernels
// carry tiles of rows through the whole flow, vectorised across the rows of a tile. No torch here.
//
// Parameters come in and gradients go out in the "canonical" layout: per layer, in forward order,
// the row-major arrays w [D,D], b [D], w0 [H,D], b0 [H], then for blocks 0 and 1 the two linear
// layers' w [H,H], b [H], then wf [2D,H], bf [2D] (the unmasked MADE weights; the kernels never read
// the masked entries and give them zero gradient).
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <vector>

#include "gwflow/kernels/tile_layout.hpp"

namespace gwflow::kernels {

template <typename T> class PackedFlow {
 public:
  using Space = Kokkos::DefaultHostExecutionSpace;
  using Memory = Kokkos::HostSpace;
  using Token = Kokkos::Experimental::UniqueToken<Space>;
  /// Structure only: `low`, `high` [D] of the box, the MADE hidden degrees of every layer (forward
  /// order). Parameters must be set with set_parameters() before use. Throws std::invalid_argument
  /// if D or a width exceeds kMaxDim / kMaxHidden. The kernels are those of the instruction-set
  /// variant selected now (kernels/isa.hpp), kept for the flow's lifetime.
  PackedFlow(int dim, const std::vector<double>& low, const std::vector<double>& high,
             const std::vector<std::vector<int64_t>>& degrees);

  int dim() const { return dim_; }
  int n_layers() const { return static_cast<int>(layout_.size()); }
  /// Length of the canonical parameter (and gradient) vector.
  int64_t n_parameters() const { return static_cast<int64_t>(canonical_offset_.back()); }
  /// Packs the canonical parameter vector (throws std::invalid_argument on a singular W).
  void set_parameters(const double* canonical);

  /// log p(x) for rows x [n, D] (row-major); z [n, D] too when `z` is not null. Rows outside
  /// the box get -inf (NaN for rows with NaN) and NaN noise. With `saved` (saved_size(n) values)
  /// every intermediate is kept there for gradient().
  void log_prob(const T* x, int64_t n, T* log_prob, T* z, T* saved = nullptr) const;
  int64_t saved_size(int64_t n) const;
  /// x = inverse(z) [n, D] and its log density (finite for finite z: stable tanh term).
  void sample(const T* z, int64_t n, T* x, T* log_prob) const;
  /// Adds d(sum_r g_r log p(x_r)) / d(parameters) to `grad` (canonical layout, n_parameters()
  /// values). Rows whose log_prob is not finite contribute nothing. With `saved` (filled by
  /// log_prob for the same x and parameters) the forward pass is not repeated. A null `g` means
  /// g_r = 1; with `lp` the pass also writes log p (forward and reverse fused, one pass).
  void gradient(const T* x, const T* g, int64_t n, double* grad, const T* saved = nullptr, T* lp = nullptr) const;

  /// Multiply-adds of the masked matrix products per row (forward pass), for flop counts.
  int64_t forward_macs() const { return macs_; }
  /// The instruction-set variant of the kernels.
  const IsaKernels& variant() const { return *isa_; }

  // Device-visible data (public for the functors).
  int dim_ = 0;
  int max_hidden_ = 1;
  Kokkos::View<T*, Memory> p_;       // every parameter, packed
  Kokkos::View<int*, Memory> ints_;  // degree ranges and degrees
  Kokkos::View<LayerLayout*, Memory> layers_;
  Kokkos::View<T*, Memory> box_;  // low [D], high [D], log((high - low) / 2) [D]
  std::vector<LayerLayout> layout_;

 private:
  void reserve_scratch(int slots) const;
  TileJob<T> job(int64_t n) const;
  /// Runs f(slot scratch, slot id, tile) over the tiles of an n-row batch in parallel, each call
  /// holding one of the token's slots, and waits for them.
  template <typename F> void for_each_tile(const char* label, int64_t n, const Token& token, F f) const;
  std::vector<int64_t> gather_;            // packed position -> canonical index (-1: derived)
  std::vector<int64_t> canonical_offset_;  // start of each layer in the canonical vector (+ end)
  std::vector<std::vector<double>> winv_;  // W^{-1} per layer (double, for the log|det W| gradient)
  int64_t macs_ = 0;
  const IsaKernels* isa_ = nullptr;
  const TileOps<T>* ops_ = nullptr;
  int tile_rows_ = 0;  // the variant's large tile for small networks, its small tile otherwise
  TileScratch tile_scratch_;
  mutable Kokkos::View<T*, Memory> scratch_;     // per slot
  mutable Kokkos::View<double*, Memory> grads_;  // per slot: packed gradient + sum of g
};

extern template class PackedFlow<float>;
extern template class PackedFlow<double>;

}  // namespace gwflow::kernels
