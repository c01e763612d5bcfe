#include "litestage/kernels/sync.hpp"

#include <torch/cuda.h>

namespace litestage {

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? -1 : device.index());
}

}  // namespace litestage
