#pragma once
// Stop requests: SIGINT/SIGTERM/SIGUSR1 only set a flag; the commands agree on it across ranks in
// the allreduce each step already makes.
#include <csignal>

namespace gwflow::parallel {

/// Installs async-signal-safe handlers for SIGINT, SIGTERM and SIGUSR1 (restored on destruction).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  /// The signal this rank received (0 if none).
  static int local();
  /// For tests: behave as if `sig` had arrived.
  static void raise_for_test(int sig);
};

/// Fault injection for the signal tests: sleeps GWFLOW_TEST_STEP_DELAY_MS milliseconds (when set)
/// at the start of every training iteration and every sample/logprob block, so that a test can
/// send a signal in the middle of a step several seconds long. A no-op otherwise.
void test_step_delay();

}  // namespace gwflow::parallel
