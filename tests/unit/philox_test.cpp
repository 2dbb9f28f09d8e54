// kernels/philox: Random123 known answers and the normals drawn from it.
#include "gwflow/kernels/philox.hpp"
#include "test_files.hpp"

namespace gwflow {
namespace {

TEST(Philox, KnownAnswerVectorsOfRandom123) {
  // Random123 v1.14 tests/kat_vectors, "philox4x32 10" lines.
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  } kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const auto& k : kats) {
    auto r = kernels::philox4x32_10(kernels::Philox4x32{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}}, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.v[i], k.out[i]);
  }
}

TEST(Philox, NormalsHaveTheRightMoments) {
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double a, b;
    kernels::RowRandom(42, i).normals(0, a, b);
    s += a + b;
    s2 += a * a + b * b;
  }
  EXPECT_NEAR(s / (2 * n), 0.0, 0.01);
  EXPECT_NEAR(s2 / (2 * n), 1.0, 0.01);
}

}  // namespace
}  // namespace gwflow
