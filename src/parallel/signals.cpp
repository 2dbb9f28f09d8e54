#include "gwflow/parallel/signals.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

namespace gwflow::parallel {
namespace {

volatile std::sig_atomic_t g_signal = 0;
struct sigaction g_old[3];
constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGUSR1};

extern "C" void on_stop_signal(int sig) { g_signal = sig; }

}  // namespace

StopSignals::StopSignals() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &g_old[i]);
}

StopSignals::~StopSignals() {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &g_old[i], nullptr);
}

int StopSignals::local() { return g_signal; }

void StopSignals::raise_for_test(int sig) { g_signal = sig; }

void test_step_delay() {
  static const long ms = [] {
    const char* v = std::getenv("GWFLOW_TEST_STEP_DELAY_MS");
    return v ? std::max(0L, std::strtol(v, nullptr, 10)) : 0L;
  }();
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace gwflow::parallel
