// A stand-alone check of the portable kernel variant, built by tests/isa/run_aarch64_tests.sh with
// a cross compiler for a non-x86 target (aarch64) together with src/kernels/tile_kernels.cpp alone,
// and run there under qemu-user: the variant table, vmath against libm, and log p of a one-layer
// D = 1 flow, written out by hand, against its closed form.
#include <cmath>
#include <cstdio>
#include <vector>

#include "gwflow/kernels/simd_math.hpp"
#include "gwflow/kernels/tile_layout.hpp"

namespace gwflow::kernels {
const IsaKernels& isa_kernels_portable();
}

using namespace gwflow::kernels;

int main() {
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
    failures += ok ? 0 : 1;
  };
  const IsaKernels& v = isa_kernels_portable();
  std::printf("variant %s (%s), %d-byte vectors, %d accumulators\n", v.name, v.target, v.vector_bytes,
              v.max_accumulators);
  check(v.f32.log_prob && v.f64.gradient && v.vector_bytes == 16, "the portable variant's table");

  double worst = 0;
  for (double x = -30; x <= 30; x += 0.0137) {
    worst = std::fmax(worst, std::fabs(vmath::exp(x) - std::exp(x)) / std::exp(x));
    worst = std::fmax(worst, std::fabs(vmath::log1p(std::fabs(x)) - std::log1p(std::fabs(x))) /
                                 std::log1p(std::fabs(x) + 1e-300));
  }
  check(worst < 4e-16, "vmath exp and log1p (double) within 2 ulp of libm");

  // D = 1, one layer, H = 1 hidden unit of degree 0 (it reads no input: MADE's first output is
  // unconditional), all MADE weights 0: z = s (w v + b) + c with s = softplus(a) + 1e-3 and v =
  // atanh(t) of the tanh box; log p = log N(z) + log|w| + log s + log|dv/dx|.
  const double w = 1.7, b = -0.3, a = 0.4, c = 0.25, lo = -2, hi = 3;
  LayerLayout L;
  L.hidden = 1;
  std::vector<double> p;
  auto put = [&](std::vector<double> vals) {
    const int64_t off = static_cast<int64_t>(p.size());
    p.insert(p.end(), vals.begin(), vals.end());
    return off;
  };
  L.w = put({w});
  L.b = put({b});
  L.winv = put({1 / w});
  L.w0 = put({0});
  L.b0 = put({0});
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      L.wb[i][j] = put({0});
      L.bb[i][j] = put({0});
    }
  }
  L.wf = put({0, 0});
  L.bf = put({a, c});
  L.logdet = std::log(w);
  L.ends = 0;
  L.degrees = 2;
  const std::vector<int> ints{1, 1, 0};  // ends[0..1] = 1, degree of unit 0 = 0
  const std::vector<double> box{lo, hi, std::log((hi - lo) / 2)};
  const int R = v.tile_rows_small[1], D = 1, H = 1;
  TileScratch ts;
  ts.layer_stride = static_cast<int64_t>(4 * D + 5 * H) * R;
  ts.z = ts.layer_stride;
  ts.lp = ts.z + D * R;
  ts.fwd_size = ts.lp + R;
  const int64_t wide = 64 * R;
  ts.gv = 0, ts.gy = D * R, ts.gus = 2 * D * R, ts.gsh = 3 * D * R, ts.g = 4 * D * R;
  ts.gh = ts.g + R, ts.gt = ts.gh + wide, ts.tr = ts.gt + wide;
  ts.work_size = ts.tr + wide;
  TileJob<double> job;
  job.d = FlowData<double>{p.data(), ints.data(), &L, box.data(), D, 1};
  job.ts = ts;
  job.hmax = H;
  job.rows = R;
  std::vector<double> x{-1.5, 0.0, 0.7, 2.9, 5.0}, lp(x.size());
  job.n = static_cast<int64_t>(x.size());
  job.in = x.data();
  job.lp = lp.data();
  std::vector<double> slot(static_cast<size_t>(ts.fwd_size + ts.work_size));
  v.f64.log_prob(job, slot.data(), 0);
  double err = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    const double t = (2 * x[i] - hi - lo) / (hi - lo), vv = std::atanh(t);
    const double s = std::log1p(std::exp(a)) + 1e-3, z = s * (w * vv + b) + c;
    const double want = -0.5 * z * z - 0.5 * std::log(2 * M_PI) + std::log(w) + std::log(s) - std::log1p(-t * t) -
                        std::log((hi - lo) / 2);
    err = std::fmax(err, std::fabs(lp[i] - want) / std::fmax(1.0, std::fabs(want)));
  }
  check(err < 1e-13, "log p of a D = 1 flow against its closed form");
  check(std::isinf(lp[4]) && lp[4] < 0, "a point outside the box has log p = -inf");
  return failures == 0 ? 0 : 1;
}
