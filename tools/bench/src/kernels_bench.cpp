// Benchmark: the fused Kokkos kernels against LibTorch on one core, one thread, for the
// seed-tutorial architecture (D=2, 3 x MAF(5), batch 10 000) and a bank-scale one (D=6, hidden
// [100, 100, 60], batch 15 000), float32 and float64: log_prob rows/s, sample + log_prob rows/s
// and a forward-KL training step (forward, backward, Adam, repack) in ms, with the achieved
// GFLOP/s of the useful work (2 flops per multiply-add of the masked matrix products; a training
// step counts 3 passes) and the kokkos/torch speed ratio, for every instruction-set variant of the
// kernels that this CPU runs (or the one --isa names), all in one run against the same LibTorch
// figures, with the share of the variant's FMA peak on one core (peak = 2 FMA pipes x lanes x 2
// flops x the clock, from /proc/cpuinfo or --ghz; SSE4.2 has no FMA: a multiply and an add pipe).
// Usage: gwflow_bench_kernels [--quick] [--only seed|bank] [--dtype float32|float64] [--isa NAME]
//                             [--ghz GHZ]
#include <torch/optim/adam.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gwflow/flow/flow.hpp"
#include "gwflow/kernels/isa.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/parallel/environment.hpp"
#include "gwflow/train/fused_adam.hpp"

namespace {

/// Best of `reps` timings (after one warm-up call), in seconds.
double best_seconds(const std::function<void()>& f, int reps) {
  f();
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

struct Row {
  std::string what;
  double torch_s, kokkos_s;
  double flops;  // per call
  double rows;   // per call (0: report ms)
};

/// The clock in GHz: the first "cpu MHz" of /proc/cpuinfo (0 when unknown).
double cpu_ghz() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return std::stod(line.substr(colon + 1)) / 1000;
    }
  }
  return 0;
}

/// One core's peak GFLOP/s for the variant's vectors of `bytes_per_value` values: two vector pipes,
/// each a fused multiply-add (or, without FMA, a multiply and an add) per cycle.
double peak_gflops(const gwflow::kernels::IsaKernels& v, int bytes_per_value, double ghz) {
  const double lanes = static_cast<double>(v.vector_bytes) / bytes_per_value;
  return 2 * 2 * lanes * ghz;
}

void print(const Row& r, double peak) {
  const double gk = r.flops / r.kokkos_s * 1e-9;
  char pct[32] = "";
  if (peak > 0) std::snprintf(pct, sizeof pct, " %3.0f%% peak", 100 * gk / peak);
  if (r.rows > 0) {
    std::printf("  %-18s torch %9.3g rows/s %6.2f GFLOP/s | kokkos %9.3g rows/s %6.2f GFLOP/s%s | x%.2f\n",
                r.what.c_str(), r.rows / r.torch_s, r.flops / r.torch_s * 1e-9, r.rows / r.kokkos_s, gk, pct,
                r.torch_s / r.kokkos_s);
  } else {
    std::printf("  %-18s torch %9.3f ms     %6.2f GFLOP/s | kokkos %9.3f ms     %6.2f GFLOP/s%s | x%.2f\n",
                r.what.c_str(), r.torch_s * 1e3, r.flops / r.torch_s * 1e-9, r.kokkos_s * 1e3, gk, pct,
                r.torch_s / r.kokkos_s);
  }
}

}  // namespace

int main(int argc, char** argv) {
  gwflow::parallel::Environment env(&argc, &argv, 1);
  torch::set_num_threads(1);
  bool quick = false;
  std::string only, only_dtype, isa;
  double ghz = cpu_ghz();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--dtype" && i + 1 < argc) {
      only_dtype = argv[++i];
    } else if (a == "--isa" && i + 1 < argc) {
      isa = argv[++i];
    } else if (a == "--ghz" && i + 1 < argc) {
      ghz = std::stod(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: gwflow_bench_kernels [--quick] [--only seed|bank] [--dtype float32|float64] [--isa NAME] "
                   "[--ghz GHZ]\n");
      return 2;
    }
  }
  std::vector<const gwflow::kernels::IsaKernels*> variants;
  try {
    if (!isa.empty()) {
      variants.push_back(&gwflow::kernels::select_variant(isa));
    } else {
      for (const auto* v : gwflow::kernels::compiled_variants()) {
        if (gwflow::kernels::cpu_runs(*v)) variants.push_back(v);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gwflow_bench_kernels: error: %s\n", e.what());
    return 2;
  }
  struct Case {
    const char* name;
    gwflow::flow::Architecture arch;
    int64_t batch;
  } cases[] = {{"seed architecture D=2 [5,5,5]", {2, {5, 5, 5}, false}, 10000},
               {"bank-scale D=6 [100,100,60]", {6, {100, 100, 60}, false}, 15000}};
  std::printf("gwflow kernel benchmark: 1 thread, best of several runs%s; clock %.2f GHz; variants:",
              quick ? " (quick)" : "", ghz);
  for (const auto* v : variants) std::printf(" %s", gwflow::kernels::describe(*v).c_str());
  std::printf("\n");
  for (const auto& c : cases) {
    if (!only.empty() && std::string(c.name).rfind(only, 0) != 0) continue;
    for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
      if (!only_dtype.empty() && only_dtype != (dtype == torch::kFloat32 ? "float32" : "float64")) continue;
      torch::manual_seed(0);
      gwflow::flow::Flow f(c.arch, dtype);
      f->box()->set_box(torch::full({c.arch.dim}, -5.0), torch::full({c.arch.dim}, 5.0));
      const int64_t n = c.batch;
      auto x = (4.0 * torch::tanh(torch::randn({n, c.arch.dim}, torch::kFloat64))).to(dtype);
      auto z = torch::randn({n, c.arch.dim}, dtype);
      const int reps = quick ? 2 : (c.arch.dim > 2 ? 5 : 20);
      const int bytes = dtype == torch::kFloat32 ? 4 : 8;
      // LibTorch, once for every variant.
      double torch_lp, torch_sample, torch_step_s;
      {
        torch::NoGradGuard g;
        torch_lp = best_seconds([&] { f->log_prob(x); }, reps);
        torch_sample = best_seconds([&] { f->sample_and_log_prob_from_noise(z); }, quick ? 1 : std::max(2, reps / 4));
      }
      auto params = f->parameters();
      torch::optim::Adam adam(params, torch::optim::AdamOptions(1e-4));
      auto torch_step = [&] {
        adam.zero_grad();
        auto l = f->log_prob(x);
        (-l.masked_select(torch::isfinite(l)).mean()).backward();
        adam.step();
      };
      torch_step_s = best_seconds(torch_step, std::max(2, reps / 2));
      const double t_adam = best_seconds([&] { adam.step(); }, reps);
      for (const auto* v : variants) {
        gwflow::kernels::select_variant(v->name);
        gwflow::kernels::KernelFlow k(*f);
        const double macs = static_cast<double>(k.forward_macs());
        const double peak = peak_gflops(*v, bytes, ghz);
        std::printf("%s, %s, batch %lld (%.0f multiply-adds per row and pass), variant %s, peak %.1f GFLOP/s:\n",
                    c.name, dtype == torch::kFloat32 ? "float32" : "float64", static_cast<long long>(n), macs,
                    gwflow::kernels::describe(*v).c_str(), peak);
        Row lp{"log_prob", torch_lp, 0, 2 * macs * n, static_cast<double>(n)};
        {
          torch::NoGradGuard g;
          lp.kokkos_s = best_seconds([&] { k.log_prob(x); }, reps);
        }
        print(lp, peak);
        Row s{"sample + log_prob", torch_sample, 0, 2 * macs * n, static_cast<double>(n)};
        {
          torch::NoGradGuard g;
          s.kokkos_s = best_seconds([&] { k.sample_and_log_prob_from_noise(z); }, reps);
        }
        print(s, peak);
        // A forward-KL step on the whole batch: -mean log p, backward, Adam (and the repack).
        double loss_value = 0;
        auto kokkos_step = [&] {  // as the trainer for forward_KL on the kernels: no autograd
          for (auto& p : params) p.mutable_grad() = torch::Tensor();
          auto pass = k.log_prob_and_sum_gradient(x);
          const auto& l = pass.log_prob;
          auto kept = (-l).masked_select(torch::isfinite(l));
          const double rows = static_cast<double>(kept.numel());
          loss_value = kept.sum().item<double>() / rows;
          pass.flat.mul_(-1.0 / rows);
          const auto& kp = k.parameters();
          for (size_t i = 0; i < kp.size(); ++i) kp[i].mutable_grad() = pass.parameters[i];
          gwflow::train::fused_adam_step(adam);
          k.update();
        };
        Row t{"training step", torch_step_s, 0, 6 * macs * n, 0};
        t.kokkos_s = best_seconds(kokkos_step, std::max(2, reps / 2));
        print(t, peak);
        if (!std::isfinite(loss_value)) std::printf("  (non-finite loss!)\n");
        // Where the kokkos step's time goes.
        auto gl = torch::full({n}, -1.0 / static_cast<double>(n), dtype);
        const double t_fused = best_seconds([&] { k.log_prob_and_sum_gradient(x); }, reps);
        const double t_grad = best_seconds([&] { k.parameter_gradient(x, gl); }, reps);
        const double t_fadam = best_seconds([&] { gwflow::train::fused_adam_step(adam); }, reps);
        const double t_update = best_seconds([&] { k.update(); }, reps);
        std::printf("  kokkos step parts: fused log_prob + gradient pass %.3f ms (two-pass gradient %.3f ms), "
                    "fused Adam %.3f ms (LibTorch's %.3f ms), repack %.3f ms\n",
                    t_fused * 1e3, t_grad * 1e3, t_fadam * 1e3, t_adam * 1e3, t_update * 1e3);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
