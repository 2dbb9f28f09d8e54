#pragma once
// Philox4x32-10 (Salmon et al., SC'11), a counter-based generator: the output is a pure function
// of (counter, key), so row i of any random dataset can be produced by any rank, in any order.
// Device-callable (no std:: containers, no allocation).
#include <Kokkos_Macros.hpp>

#include <cmath>
#include <cstdint>

namespace gwflow::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

/// One Philox4x32-10 block: 4 random 32-bit words for counter `ctr` and key (k0, k1).
KOKKOS_INLINE_FUNCTION Philox4x32 philox4x32_10(Philox4x32 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * ctr.v[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * ctr.v[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += kW0;
    k1 += kW1;
  }
  return ctr;
}

/// A uniform double in the open interval (0, 1) from two 32-bit words (53 random bits).
KOKKOS_INLINE_FUNCTION double uniform_open(uint32_t a, uint32_t b) {
  const uint64_t bits = ((static_cast<uint64_t>(a) << 32) | b) >> 11;
  return (static_cast<double>(bits) + 0.5) * (1.0 / 9007199254740992.0);
}

/// Random numbers for element (row, stream) under a 64-bit seed: each call of the block index
/// `j` gives 2 uniforms or 2 standard normals (Box-Muller), identical on every rank.
class RowRandom {
 public:
  KOKKOS_INLINE_FUNCTION RowRandom(uint64_t seed, uint64_t row)
      : k0_(static_cast<uint32_t>(seed)), k1_(static_cast<uint32_t>(seed >> 32)), row_(row) {}

  /// Two uniforms in (0, 1) from block j.
  KOKKOS_INLINE_FUNCTION void uniforms(uint32_t j, double& u1, double& u2) const {
    const Philox4x32 r =
        philox4x32_10(Philox4x32{{static_cast<uint32_t>(row_), static_cast<uint32_t>(row_ >> 32), j, 0u}}, k0_, k1_);
    u1 = uniform_open(r.v[0], r.v[1]);
    u2 = uniform_open(r.v[2], r.v[3]);
  }
  /// Two independent standard normals from block j.
  KOKKOS_INLINE_FUNCTION void normals(uint32_t j, double& n1, double& n2) const {
    double u1, u2;
    uniforms(j, u1, u2);
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double t = 6.283185307179586476925286766559 * u2;
    n1 = r * std::cos(t);
    n2 = r * std::sin(t);
  }

 private:
  uint32_t k0_, k1_;
  uint64_t row_;
};

}  // namespace gwflow::kernels
