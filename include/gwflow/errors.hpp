#pragma once
// Typed exceptions used across gwflow, one per thing the user must do: fix the config, fix the
// input, change the data or model, retry on a healthy node, or report a bug. `main` catches them
// once, prints one line and exits 1 (2 for usage errors). Standard-library exceptions are turned
// into these where they can arise (module borders), so none reaches main untyped.
#include <stdexcept>
#include <string>

namespace gwflow {

/// Base of every gwflow error; the message is what the user sees after "gwflow: error: ".
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A bad config file, key, value or command-line override (message names key and file:line:col).
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A file that cannot be read or written, or has the wrong layout (message names file and path).
class IoError : public Error {
 public:
  using Error::Error;
};

/// Data outside what the model can take (degenerate dimension, wrong D, ...).
class DomainError : public Error {
 public:
  using Error::Error;
};

/// Non-finite values where finite ones are required (NaN loss, singular weight matrix, ...).
class NumericsError : public Error {
 public:
  using Error::Error;
};

/// The machine or a system library failed (MPI, CUDA, NCCL): retry, or on another node.
class SystemError : public Error {
 public:
  using Error::Error;
};

/// A broken internal invariant: a bug in gwflow (report it).
class InternalError : public Error {
 public:
  using Error::Error;
};

/// A command-line usage error (exit code 2).
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace gwflow
