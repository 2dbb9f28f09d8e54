#pragma once
// Precompiled-header set for gwflow_core: the LibTorch headers the flow, train and io modules use.
#include <torch/torch.h>
