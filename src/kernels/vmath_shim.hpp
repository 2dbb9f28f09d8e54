#pragma once
#include <Kokkos_Core.hpp>
#include <cmath>
namespace gwflow::kernels::vmath {
template <typename T> inline T exp(T x) { return std::exp(x); }
template <typename T> inline T expm1(T x) { return std::expm1(x); }
template <typename T> inline T log(T x) { return std::log(x); }
template <typename T> inline T log1p(T x) { return std::log1p(x); }
}
