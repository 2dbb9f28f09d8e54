// Benchmark: the fused Kokkos kernels vs LibTorch for log_prob and sampling (per-rank, one
// thread), on the seed-tutorial architecture (D=2, 3 x MAF(5)) and a bank-sized one
// (D=6, hidden [100, 100, 60]). Usage: gwflow_bench_kernels [rows]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "gwflow/flow/flow.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/parallel/environment.hpp"

namespace {

double seconds(const std::function<void()>& f, int reps) {
  f();  // warm up
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}

}  // namespace

int main(int argc, char** argv) {
  gwflow::parallel::Environment env(&argc, &argv, 1);
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 65536;
  struct Case {
    const char* name;
    gwflow::flow::Architecture arch;
  } cases[] = {{"seed tutorial D=2 [5,5,5]", {2, {5, 5, 5}, false}},
               {"bank D=6 [100,100,60]", {6, {100, 100, 60}, false}}};
  torch::NoGradGuard no_grad;
  for (const auto& c : cases) {
    for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
      torch::manual_seed(0);
      gwflow::flow::Flow f(c.arch, dtype);
      f->box()->set_box(torch::full({c.arch.dim}, -5.0), torch::full({c.arch.dim}, 5.0));
      gwflow::kernels::KernelFlow k(*f);
      auto x = torch::randn({n, c.arch.dim}, dtype);
      const int reps = c.arch.dim > 2 ? 2 : 5;
      const double t_lp = seconds([&] { f->log_prob(x); }, reps);
      const double k_lp = seconds([&] { k.log_prob(x); }, reps);
      const double t_s = seconds([&] { f->sample_and_log_prob_from_noise(x); }, reps);
      const double k_s = seconds([&] { k.sample_and_log_prob_from_noise(x); }, reps);
      std::printf("%-28s %s  log_prob: torch %.3g rows/s, kokkos %.3g rows/s (x%.1f);  sampling: torch %.3g rows/s, "
                  "kokkos %.3g rows/s (x%.1f)\n",
                  c.name, dtype == torch::kFloat32 ? "float32" : "float64", n / t_lp, n / k_lp, t_lp / k_lp, n / t_s,
                  n / k_s, t_s / k_s);
    }
  }
  return 0;
}
