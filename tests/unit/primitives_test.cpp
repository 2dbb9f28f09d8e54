// Small building blocks: Philox known answers, SHA-256 vectors, sharding arithmetic, HDF5 I/O.
#include "gwflow/app/seed_tutorial_data.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/hdf5.hpp"
#include "gwflow/io/sha256.hpp"
#include "gwflow/kernels/philox.hpp"
#include "gwflow/parallel/sharding.hpp"
#include "gwflow/train/history.hpp"
#include "test_util.hpp"

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

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(io::sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(io::sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(io::sha256_hex(two_blocks.data(), two_blocks.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sharding, RowsAndBatchSharesCoverEverythingOnce) {
  for (int size : {1, 2, 3, 7}) {
    for (int64_t n : {1, 10, 90000, 100003}) {
      if (n < size) continue;
      int64_t next = 0, batch_total = 0;
      for (int r = 0; r < size; ++r) {
        auto s = parallel::shard_rows(n, r, size);
        EXPECT_EQ(s.offset, next);
        next += s.count;
        batch_total += parallel::batch_share(std::min<int64_t>(n, 10000), n, s);
      }
      EXPECT_EQ(next, n);
      EXPECT_EQ(batch_total, std::min<int64_t>(n, 10000));
    }
  }
}

TEST(Hdf5, RowsRoundTripAndErrorsNameTheFile) {
  const auto dir = test::scratch_dir("h5");
  const std::string path = dir + "/a.h5";
  {
    io::File f(path, io::File::Mode::kCreate);
    f.create_dataset("/g/x", {5, 3}, torch::kFloat32);
    f.write_rows("/g/x", 1, torch::arange(12, torch::kFloat64).view({4, 3}));
    f.write_attribute("/", "note", std::string("hello"));
    f.close();
  }
  io::File f(path, io::File::Mode::kRead);
  EXPECT_EQ(f.dims("/g/x"), (std::vector<int64_t>{5, 3}));
  auto rows = f.read_rows("/g/x", 2, 2);
  EXPECT_TRUE(torch::equal(rows, torch::arange(3, 9, torch::kFloat64).view({2, 3})));
  EXPECT_EQ(f.read_string_attribute("/", "note"), "hello");
  try {
    f.dims("/nope");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("a.h5:/nope"), std::string::npos) << e.what();
  }
  EXPECT_THROW(f.read_rows("/g/x", 4, 2), IoError);
  EXPECT_THROW(io::File(dir + "/missing.h5", io::File::Mode::kRead), IoError);
}

TEST(History, SaveAndLoad) {
  const auto dir = test::scratch_dir("hist");
  train::History h;
  h.validation_step = 20;
  h.train_loss = {3, 2, 1};
  h.validation_loss = {2.5};
  h.valmetric_value = {-2.8};
  h.validation_iteration = {0};
  h.valmetric_mean = -2.83;
  h.valmetric_std = 0.01;
  train::save_history(h, dir + "/h.h5");
  auto back = train::load_history(dir + "/h.h5");
  EXPECT_EQ(back.train_loss, h.train_loss);
  EXPECT_EQ(back.validation_step, 20);
  EXPECT_EQ(back.validation_metric, h.validation_metric);
  EXPECT_DOUBLE_EQ(back.valmetric_mean, -2.83);
}

TEST(SeedTutorialData, RowsAreExponentialAndNormal) {
  double m0 = 0, m1 = 0, v1 = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double r[2];
    app::seed_tutorial_row(3, i, r);
    ASSERT_GT(r[0], 0);
    m0 += r[0];
    m1 += r[1];
    v1 += r[1] * r[1];
  }
  EXPECT_NEAR(m0 / n, 1.0, 0.02);
  EXPECT_NEAR(m1 / n, 0.0, 0.02);
  EXPECT_NEAR(v1 / n, 1.0, 0.02);
}

}  // namespace
}  // namespace gwflow
