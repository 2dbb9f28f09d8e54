#pragma once
// Communicator: an owned duplicate of an MPI communicator with the few collectives gwflow uses.
#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
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
  /// Collective: sums every field of `fields`, a struct of `Element`s only (named counters, in
  /// place of index arrays), in one allreduce.
  template <class Element, class Fields> void sum_fields(Fields& fields) const {
    static_assert(std::is_trivially_copyable_v<Fields> && sizeof(Fields) % sizeof(Element) == 0,
                  "sum_fields: a struct of Element fields only");
    Element buffer[sizeof(Fields) / sizeof(Element)];
    std::memcpy(buffer, &fields, sizeof(Fields));
    sum(buffer, static_cast<int64_t>(sizeof(Fields) / sizeof(Element)));
    std::memcpy(&fields, buffer, sizeof(Fields));
  }
  /// Collective: in-place elementwise min / max.
  void min(double* data, int64_t count) const;
  void max(double* data, int64_t count) const;
  int max(int v) const;
  /// Collective attempt: true when every rank reached it within `seconds` (a non-blocking
  /// barrier, polled); false otherwise (used after an error, to learn whether all ranks failed).
  bool barrier_within(double seconds) const;
  /// This process's host name (MPI_Get_processor_name).
  static std::string processor_name();
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
