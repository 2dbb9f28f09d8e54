#pragma once
// RAII HDF5 handles with checked calls. Every failure becomes an IoError carrying the file, the
// object and HDF5's own message; HDF5's automatic error printing is switched off.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <torch/types.h>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::io {

/// Turns off HDF5's stderr error dumps for this process (idempotent).
void silence_hdf5_errors();

/// Throws IoError("<context>: <HDF5's error stack>") when `status` < 0; returns it otherwise. The
/// stack is flattened to one line, innermost (most specific) message first; a failed system call
/// reads "<what>: <strerror> (errno N)".
hid_t h5_check(hid_t status, const std::string& context);

/// Owns one HDF5 identifier of any kind; closes it with the matching H5*close (nothrow).
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  void reset() noexcept;
  /// Gives up ownership without closing.
  void release() noexcept { id_ = H5I_INVALID_HID; }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// A new variable-length UTF-8 string type (h5py reads it as str; a fixed-length one as bytes).
Handle utf8_string_type();

/// The `format_version` attribute of gwflow's HDF5 outputs (sample, logprob and history files):
/// 1 = the layout README.md documents ("Outputs"), strings as variable-length UTF-8.
inline constexpr int64_t kOutputFormatVersion = 1;

/// An HDF5 file opened serially (comm == nullptr) or with MPI-IO over `comm` (collective open).
class File {
 public:
  /// kInMemory: a new file built in memory only (nothing touches the disk); image() gives its
  /// bytes, for small files that are then written in one go (checkpoints, history).
  enum class Mode { kRead, kReadWrite, kCreate /* truncates */, kInMemory };
  /// Collective over `comm` when given.
  File(const std::string& path, Mode mode, const parallel::Communicator* comm = nullptr);
  /// Closes the file, except for a parallel file while an exception unwinds: closing is
  /// collective, and the other ranks may never join (main then aborts the job).
  ~File();
  File(File&&) = default;
  const std::string& path() const { return path_; }
  hid_t id() const { return handle_.get(); }
  bool parallel() const { return comm_ != nullptr; }
  const parallel::Communicator* comm() const { return comm_; }
  bool has(const std::string& dataset) const;
  /// Dimensions of a dataset; IoError naming file:path when it does not exist.
  std::vector<int64_t> dims(const std::string& dataset) const;
  /// Reads rows [offset, offset + count) of a 1-D or 2-D numeric dataset as float64
  /// ([count] or [count, cols]). Collective when the file is parallel (count may be 0).
  torch::Tensor read_rows(const std::string& dataset, int64_t offset, int64_t count) const;
  /// Creates a float32/float64/int64 dataset of shape `dims` (collective when parallel).
  /// Chunked by default; `contiguous` = one contiguous extent allocated at creation and never
  /// filled, so that later writes touch only raw data, never the file's metadata (a process
  /// killed while writing cannot corrupt the file's structure).
  void create_dataset(const std::string& dataset, const std::vector<int64_t>& dims, torch::Dtype dtype,
                      bool contiguous = false);
  /// Writes `rows` ([count] or [count, cols]; float32/float64/int64, converted to the dataset's
  /// type) at row `offset`. Collective when parallel (every rank calls it, count may be 0).
  void write_rows(const std::string& dataset, int64_t offset, const torch::Tensor& rows);
  /// Writes a whole tensor (float32/float64/int64/uint8, any shape; 0-d as [1]) as a new
  /// contiguous dataset of the same type (serial files only).
  void write_tensor(const std::string& dataset, const torch::Tensor& t);
  /// Reads a whole float32/float64/int64/uint8 dataset into a tensor of that type.
  torch::Tensor read_tensor(const std::string& dataset) const;
  /// Writes a whole small 1-D float64 dataset (serial files only).
  void write_vector(const std::string& dataset, const std::vector<double>& values);
  /// (Re)writes an attribute on an object ("/" = the file): a string (variable-length UTF-8), a
  /// list of strings (a 1-D array of them; h5py: an array of str), a floating-point number
  /// (float64) or an integer (int64). Collective with the same value when parallel.
  template <class T> void write_attribute(const std::string& object, const std::string& name, const T& value) {
    if constexpr (std::is_convertible_v<const T&, std::string>) {
      const std::string text(value);
      const char* data = text.c_str();
      const Handle type = utf8_string_type();
      put_attribute(object, name, type.get(), type.get(), -1, &data);
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      std::vector<const char*> data;
      for (const auto& v : value) data.push_back(v.c_str());
      const Handle type = utf8_string_type();
      put_attribute(object, name, type.get(), type.get(), static_cast<int64_t>(data.size()), data.data());
    } else if constexpr (std::is_floating_point_v<T>) {
      const double data = value;
      put_attribute(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, &data);
    } else {
      static_assert(std::is_integral_v<T>, "write_attribute: a string, a list of strings or a number");
      const int64_t data = value;
      put_attribute(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, -1, &data);
    }
  }
  bool has_attribute(const std::string& object, const std::string& name) const;
  /// The names of an object's attributes, in name order.
  std::vector<std::string> attribute_names(const std::string& object) const;
  std::string read_string_attribute(const std::string& object, const std::string& name) const;
  double read_double_attribute(const std::string& object, const std::string& name) const;
  /// Flushes HDF5's buffers to the file system (collective when parallel).
  void flush();
  /// Flushes and closes (collective when parallel); errors are reported, unlike the destructor.
  void close();
  /// kInMemory files: the complete file's bytes (after a flush).
  std::vector<char> image();

 private:
  Handle open_dataset(const std::string& dataset) const;
  Handle attribute_target(const std::string& object) const;
  /// The one attribute writer: `count` < 0 is a scalar, else a 1-D array of `count` elements.
  void put_attribute(const std::string& object, const std::string& name, hid_t file_type, hid_t mem_type, int64_t count,
                     const void* data);
  std::string where(const std::string& dataset) const { return path_ + ":" + dataset; }
  std::string path_;
  const parallel::Communicator* comm_;
  Handle handle_;
};

}  // namespace gwflow::io
