#pragma once
// Communicator: an owned duplicate of an MPI communicator with the few collectives gwflow uses.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gwflow::parallel {

/// Owns an MPI_Comm_dup of `parent` (freed in the destructor). Every method marked
/// "collective" must be called by all ranks in the same order.
class Communicator {
 public:
  /// Collective over `parent`.
  explicit Communicator(MPI_Comm parent = MPI_COMM_WORLD);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  MPI_Comm get() const { return comm_; }

  /// Collective: in-place elementwise sums.
  void sum(double* data, int64_t count) const;
  void sum(float* data, int64_t count) const;
  void sum(int64_t* data, int64_t count) const;
  double sum(double v) const;
  int64_t sum(int64_t v) const;
  /// Collective: in-place elementwise min / max.
  void min(double* data, int64_t count) const;
  void max(double* data, int64_t count) const;
  int max(int v) const;
  /// Collective: exclusive prefix sum (0 on rank 0).
  int64_t exclusive_prefix_sum(int64_t v) const;
  /// Collective: broadcast from rank 0.
  void broadcast(double* data, int64_t count) const;
  void broadcast(int& v) const;
  /// Every rank receives rank 0's `text`.
  void broadcast(std::string& text) const;
  /// Collective: rank 0 receives every rank's bytes (in rank order); other ranks get {}.
  std::vector<std::vector<uint8_t>> gather_bytes(const std::vector<uint8_t>& mine) const;
  /// Collective.
  void barrier() const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace gwflow::parallel
