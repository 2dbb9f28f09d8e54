#include "gwflow/parallel/communicator.hpp"

#include "gwflow/errors.hpp"

#include <chrono>
#include <thread>

#include <limits>
#include <stdexcept>

namespace gwflow::parallel {
namespace {

// MPI counts are int: send large buffers in pieces.
template <typename T> void chunked_allreduce(T* data, int64_t count, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  constexpr int64_t kMax = std::numeric_limits<int>::max() / 2;
  for (int64_t off = 0; off < count; off += kMax) {
    const int n = static_cast<int>(std::min(kMax, count - off));
    MPI_Allreduce(MPI_IN_PLACE, data + off, n, type, op, comm);
  }
}

}  // namespace

Communicator::Communicator(MPI_Comm parent) {
  if (MPI_Comm_dup(parent, &comm_) != MPI_SUCCESS) throw SystemError("MPI_Comm_dup failed");
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

Communicator::~Communicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void Communicator::sum(double* d, int64_t n) const { chunked_allreduce(d, n, MPI_DOUBLE, MPI_SUM, comm_); }
void Communicator::sum(float* d, int64_t n) const { chunked_allreduce(d, n, MPI_FLOAT, MPI_SUM, comm_); }
void Communicator::sum(int64_t* d, int64_t n) const { chunked_allreduce(d, n, MPI_INT64_T, MPI_SUM, comm_); }
double Communicator::sum(double v) const {
  sum(&v, 1);
  return v;
}
int64_t Communicator::sum(int64_t v) const {
  sum(&v, 1);
  return v;
}
void Communicator::min(double* d, int64_t n) const { chunked_allreduce(d, n, MPI_DOUBLE, MPI_MIN, comm_); }
void Communicator::max(double* d, int64_t n) const { chunked_allreduce(d, n, MPI_DOUBLE, MPI_MAX, comm_); }
int Communicator::max(int v) const {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, comm_);
  return v;
}

int64_t Communicator::exclusive_prefix_sum(int64_t v) const {
  int64_t out = 0;
  MPI_Exscan(&v, &out, 1, MPI_INT64_T, MPI_SUM, comm_);
  return rank_ == 0 ? 0 : out;
}

void Communicator::broadcast(double* d, int64_t n) const { MPI_Bcast(d, static_cast<int>(n), MPI_DOUBLE, 0, comm_); }
void Communicator::broadcast(int& v) const { MPI_Bcast(&v, 1, MPI_INT, 0, comm_); }
void Communicator::broadcast(std::string& text) const {
  int n = static_cast<int>(text.size());
  broadcast(n);
  text.resize(static_cast<size_t>(n));
  if (n > 0) MPI_Bcast(text.data(), n, MPI_CHAR, 0, comm_);
}
std::vector<std::vector<uint8_t>> Communicator::gather_bytes(const std::vector<uint8_t>& mine) const {
  int n = static_cast<int>(mine.size());
  std::vector<int> sizes(is_root() ? size_ : 0), offsets(is_root() ? size_ : 0);
  MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, comm_);
  std::vector<uint8_t> all;
  if (is_root()) {
    int total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[r] = total;
      total += sizes[r];
    }
    all.resize(total);
  }
  MPI_Gatherv(mine.data(), n, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE, 0, comm_);
  std::vector<std::vector<uint8_t>> out;
  for (int r = 0; is_root() && r < size_; ++r) {
    out.emplace_back(all.begin() + offsets[r], all.begin() + offsets[r] + sizes[r]);
  }
  return out;
}

void Communicator::barrier() const { MPI_Barrier(comm_); }

bool Communicator::barrier_within(double seconds) const {
  MPI_Request req;
  MPI_Ibarrier(comm_, &req);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int done = 0;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done != 0;
}

std::string Communicator::processor_name() {
  char host[MPI_MAX_PROCESSOR_NAME] = {0};
  int len = 0;
  MPI_Get_processor_name(host, &len);
  return std::string(host, static_cast<size_t>(len));
}

}  // namespace gwflow::parallel
