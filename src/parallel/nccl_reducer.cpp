// The NCCL gradient reducer. Host code only (g++ against nccl.h and the CUDA runtime); compiled
// to a stub that explains itself when gwflow is built without GWFLOW_ENABLE_NCCL.
#include "gwflow/errors.hpp"
#include "gwflow/parallel/gradient_reducer.hpp"

#ifdef GWFLOW_HAVE_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>
#ifdef GWFLOW_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif
#endif

namespace gwflow::parallel {

void gather_gradients(const std::vector<torch::Tensor>& params, torch::Tensor& flat);
void scatter_gradients(std::vector<torch::Tensor>& params, const torch::Tensor& flat);

#ifdef GWFLOW_HAVE_NCCL

struct NcclGradientReducer::State {
  ncclComm_t comm = nullptr;
};

namespace {
void nccl_check(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw SystemError(std::string("NCCL ") + what + " failed: " + ncclGetErrorString(r));
}
}  // namespace

bool nccl_built() { return true; }

NcclGradientReducer::NcclGradientReducer(const Communicator& comm, std::vector<torch::Tensor> params)
    : state_(std::make_unique<State>()), params_(std::move(params)) {
  if (params_.empty() || !params_[0].is_cuda()) {
    throw ConfigError("the NCCL reducer needs the parameters on a CUDA device (training.device = \"cuda\")");
  }
  // Rank 0 makes the unique id; MPI carries it to the others; every rank joins (collective).
  ncclUniqueId id;
  int ok = 1;
  if (comm.is_root()) ok = ncclGetUniqueId(&id) == ncclSuccess ? 1 : 0;
  comm.broadcast(ok);
  if (!ok) throw SystemError("NCCL ncclGetUniqueId failed");
  MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm.get());
  nccl_check(ncclCommInitRank(&state_->comm, comm.size(), id, comm.rank()), "ncclCommInitRank");
  int64_t n = 0;
  for (const auto& p : params_) n += p.numel();
  flat_ = torch::zeros({n}, params_[0].options());
}

NcclGradientReducer::~NcclGradientReducer() {
  if (state_ && state_->comm) ncclCommDestroy(state_->comm);
}

void NcclGradientReducer::allreduce() {
  torch::NoGradGuard no_grad;
  gather_gradients(params_, flat_);
  const ncclDataType_t type = flat_.scalar_type() == torch::kFloat64 ? ncclDouble : ncclFloat;
  // On LibTorch's current stream, after the kernels that produced the gradients and before those
  // that use them. A build against a CPU LibTorch (CI) has no c10_cuda: the default stream, which
  // is LibTorch's current stream unless an application changes it (gwflow does not).
#ifdef GWFLOW_TORCH_CUDA
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(flat_.device().index()).stream();
#else
  const cudaStream_t stream = nullptr;
#endif
  nccl_check(ncclAllReduce(flat_.data_ptr(), flat_.data_ptr(), static_cast<size_t>(flat_.numel()), type, ncclSum,
                           state_->comm, stream),
             "ncclAllReduce");
  // Waits, so that a failed collective surfaces here rather than in a later, unrelated call.
  if (cudaStreamSynchronize(stream) != cudaSuccess) throw SystemError("CUDA stream synchronisation failed");
  scatter_gradients(params_, flat_);
}

#else

struct NcclGradientReducer::State {};

bool nccl_built() { return false; }

NcclGradientReducer::NcclGradientReducer(const Communicator&, std::vector<torch::Tensor>) {
  throw ConfigError("this gwflow was built without NCCL (configure with -DGWFLOW_ENABLE_NCCL=ON)");
}

NcclGradientReducer::~NcclGradientReducer() = default;

void NcclGradientReducer::allreduce() {}

#endif

}  // namespace gwflow::parallel
