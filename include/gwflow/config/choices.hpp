#pragma once
// The closed sets of values that config keys take (docs/config.md): enums and their TOML names,
// declared once here. A value is parsed into its enum when the config is read and printed back
// by name, so no command compares strings.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>

namespace gwflow::config {

enum class Dtype { kFloat32, kFloat64 };
enum class Backend { kKokkos, kTorch };
enum class Device { kCpu, kCuda };
enum class Loss { kForwardKL, kLlMse, kWeightedLlMse };
enum class Restart { kOff, kAuto };
enum class Reducer { kAuto, kMpi, kNccl };
enum class LrScheduler { kNone, kPlateau };

/// Choices<E>::names[i] is the TOML name of the enumerator with value i.
template <class E> struct Choices;
template <> struct Choices<Dtype> { static constexpr std::array<const char*, 2> names{"float32", "float64"}; };
template <> struct Choices<Backend> { static constexpr std::array<const char*, 2> names{"kokkos", "torch"}; };
template <> struct Choices<Device> { static constexpr std::array<const char*, 2> names{"cpu", "cuda"}; };
template <> struct Choices<Loss> {
  static constexpr std::array<const char*, 3> names{"forward_KL", "ll_mse", "weighted_ll_mse"};
};
template <> struct Choices<Restart> { static constexpr std::array<const char*, 2> names{"off", "auto"}; };
template <> struct Choices<Reducer> { static constexpr std::array<const char*, 3> names{"auto", "mpi", "nccl"}; };
template <> struct Choices<LrScheduler> { static constexpr std::array<const char*, 2> names{"none", "plateau"}; };

/// True for the enums above.
template <class E, class = void> struct is_choice : std::false_type {};
template <class E> struct is_choice<E, std::void_t<decltype(Choices<E>::names)>> : std::true_type {};

template <class E> const char* name_of(E value) { return Choices<E>::names[static_cast<std::size_t>(value)]; }

template <class E> std::optional<E> parse_choice(const std::string& text) {
  for (std::size_t i = 0; i < Choices<E>::names.size(); ++i) {
    if (text == Choices<E>::names[i]) return static_cast<E>(i);
  }
  return std::nullopt;
}

/// "\"a\", \"b\" or \"c\"": the names, for error messages and the config reference.
template <class E> std::string choice_list() {
  std::string out;
  const auto& names = Choices<E>::names;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += std::string("\"") + names[i] + "\"";
  }
  return out;
}

/// True for the losses that fit a target log density (they need data.weights and model.constant).
inline bool is_regression(Loss loss) { return loss != Loss::kForwardKL; }

}  // namespace gwflow::config
