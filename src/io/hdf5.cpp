#include "gwflow/io/hdf5.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <exception>

#include "gwflow/errors.hpp"

namespace gwflow::io {
namespace {

/// A failed system call, "file write failed: time = <date>\n, filename = ..., errno = 28, error
/// message = '...', ...", as "file write failed: No space left on device (errno 28)".
std::string readable(std::string msg) {
  const auto at = msg.find("errno = ");
  if (at != std::string::npos) {
    const int err = std::atoi(msg.c_str() + at + 8);
    const auto colon = msg.find(':');
    if (err > 0)
      msg = msg.substr(0, std::min(colon, at)) + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
  }
  for (char& ch : msg) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return msg;
}

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* err, void* data) {
  auto* stack = static_cast<std::vector<std::string>*>(data);
  if (err->desc && *err->desc) {
    std::string msg = readable(err->desc);
    if (std::find(stack->begin(), stack->end(), msg) == stack->end()) stack->push_back(std::move(msg));
  }
  return 0;
}

/// The whole error stack, innermost first, on one line.
std::string hdf5_message() {
  std::vector<std::string> stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &stack);
  H5Eclear2(H5E_DEFAULT);
  if (stack.empty()) return "HDF5 call failed";
  std::string msg;
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) msg += (msg.empty() ? "" : "; ") + *it;
  return msg;
}

Handle make_dxpl(bool parallel) {
  Handle dxpl(h5_check(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate"));
  if (parallel) h5_check(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
  return dxpl;
}

/// Selects rows [offset, offset + count) of a 1-D or 2-D file dataspace (none when count is 0)
/// and returns the matching memory dataspace.
Handle select_rows(const Handle& space, int rank, int64_t offset, int64_t count, hsize_t cols,
                   const std::string& where) {
  hsize_t start[2] = {static_cast<hsize_t>(offset), 0}, block[2] = {static_cast<hsize_t>(count), cols};
  if (count > 0) {
    h5_check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, block, nullptr), where);
  } else {
    h5_check(H5Sselect_none(space.get()), where);
  }
  Handle mem(h5_check(H5Screate_simple(rank, block, nullptr), where));
  if (count == 0) h5_check(H5Sselect_none(mem.get()), where);
  return mem;
}

hid_t memory_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
  case torch::kFloat64: return H5T_NATIVE_DOUBLE;
  case torch::kInt64: return H5T_NATIVE_INT64;
  default: return H5T_NATIVE_FLOAT;
  }
}

}  // namespace

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

hid_t h5_check(hid_t status, const std::string& context) {
  if (status < 0) throw IoError(context + ": " + hdf5_message());
  return status;
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() noexcept {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
  case H5I_FILE: H5Fclose(id_); break;
  case H5I_DATASET: H5Dclose(id_); break;
  case H5I_DATASPACE: H5Sclose(id_); break;
  case H5I_DATATYPE: H5Tclose(id_); break;
  case H5I_ATTR: H5Aclose(id_); break;
  case H5I_GROUP: H5Gclose(id_); break;
  case H5I_GENPROP_LST: H5Pclose(id_); break;
  default: break;
  }
  id_ = H5I_INVALID_HID;
}

File::File(const std::string& path, Mode mode, const parallel::Communicator* comm)
    : path_(path), comm_(comm && comm->size() > 1 ? comm : nullptr) {
  silence_hdf5_errors();
  Handle fapl(h5_check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  if (comm_) h5_check(H5Pset_fapl_mpio(fapl.get(), comm_->get(), MPI_INFO_NULL), path + ": H5Pset_fapl_mpio");
  // No sieve buffer: raw data goes to the file system in the H5Dwrite that writes it, so that a
  // failed write (a full disk) fails that call, before /progress claims the rows.
  h5_check(H5Pset_sieve_buf_size(fapl.get(), 0), path + ": H5Pset_sieve_buf_size");
  hid_t id = H5I_INVALID_HID;
  if (mode == Mode::kInMemory) {
    // The core driver without a backing store: the file lives in memory until image() is taken.
    h5_check(H5Pset_fapl_core(fapl.get(), 1 << 20, 0), path + ": H5Pset_fapl_core");
    id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
    if (id < 0) throw IoError(path + ": cannot create the file in memory (" + hdf5_message() + ")");
  } else if (mode == Mode::kCreate) {
    id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
    if (id < 0) throw IoError(path + ": cannot create the file (" + hdf5_message() + ")");
  } else {
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
      std::fclose(f);
    } else {
      throw IoError(path + ": no such file (or not readable)");
    }
#if H5_VERSION_GE(1, 12, 0)
    if (H5Fis_accessible(path.c_str(), fapl.get()) <= 0) {
#else
    if (H5Fis_hdf5(path.c_str()) <= 0) {
#endif
      H5Eclear2(H5E_DEFAULT);
      throw IoError(path + ": not an HDF5 file");
    }
    id = H5Fopen(path.c_str(), mode == Mode::kRead ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl.get());
    if (id < 0) throw IoError(path + ": cannot open (" + hdf5_message() + ")");
  }
  handle_ = Handle(id);
}

File::~File() {
  if (comm_ && std::uncaught_exceptions() > 0) handle_.release();
}

bool File::has(const std::string& dataset) const {
  // Check every component of the path so that missing groups are not an error.
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dataset.find('/', pos + 1);
    partial = dataset.substr(0, pos);
    if (partial.empty() || partial == "/") continue;
    htri_t e = H5Lexists(handle_.get(), partial.c_str(), H5P_DEFAULT);
    if (e <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
  }
  return true;
}

Handle File::open_dataset(const std::string& dataset) const {
  if (!has(dataset)) throw IoError(where(dataset) + ": no such dataset");
  hid_t id = H5Dopen2(handle_.get(), dataset.c_str(), H5P_DEFAULT);
  if (id < 0) throw IoError(where(dataset) + ": cannot open the dataset (" + hdf5_message() + ")");
  return Handle(id);
}

std::vector<int64_t> File::dims(const std::string& dataset) const {
  Handle d = open_dataset(dataset);
  Handle space(h5_check(H5Dget_space(d.get()), where(dataset)));
  const int rank = static_cast<int>(h5_check(H5Sget_simple_extent_ndims(space.get()), "H5Sget_simple_extent_ndims"));
  std::vector<hsize_t> h(std::max(rank, 0));
  h5_check(H5Sget_simple_extent_dims(space.get(), h.data(), nullptr), "H5Sget_simple_extent_dims");
  return std::vector<int64_t>(h.begin(), h.end());
}

torch::Tensor File::read_rows(const std::string& dataset, int64_t offset, int64_t count) const {
  Handle d = open_dataset(dataset);
  Handle space(h5_check(H5Dget_space(d.get()), where(dataset)));
  const int rank = static_cast<int>(h5_check(H5Sget_simple_extent_ndims(space.get()), "H5Sget_simple_extent_ndims"));
  if (rank != 1 && rank != 2) throw IoError(where(dataset) + ": expected a 1-D or 2-D dataset");
  Handle type(h5_check(H5Dget_type(d.get()), where(dataset)));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw IoError(where(dataset) + ": not a numeric dataset");
  hsize_t dims[2] = {0, 1};
  h5_check(H5Sget_simple_extent_dims(space.get(), dims, nullptr), "H5Sget_simple_extent_dims");
  if (offset < 0 || count < 0 || static_cast<hsize_t>(offset + count) > dims[0]) {
    throw IoError(where(dataset) + ": rows [" + std::to_string(offset) + ", " + std::to_string(offset + count) +
                  ") are outside its " + std::to_string(dims[0]) + " rows");
  }
  const int64_t cols = rank == 2 ? static_cast<int64_t>(dims[1]) : 1;
  auto out = rank == 2 ? torch::empty({count, cols}, torch::kFloat64) : torch::empty({count}, torch::kFloat64);
  Handle mem = select_rows(space, rank, offset, count, dims[1], where(dataset));
  Handle dxpl = make_dxpl(parallel());
  h5_check(H5Dread(d.get(), H5T_NATIVE_DOUBLE, mem.get(), space.get(), dxpl.get(), out.data_ptr<double>()),
           where(dataset) + ": read failed");
  return out;
}

void File::create_dataset(const std::string& dataset, const std::vector<int64_t>& dims, torch::Dtype dtype,
                          bool contiguous) {
  std::vector<hsize_t> h(dims.begin(), dims.end());
  Handle space(h5_check(H5Screate_simple(static_cast<int>(h.size()), h.data(), nullptr), where(dataset)));
  Handle dcpl(h5_check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
  std::vector<hsize_t> chunk(h);
  const hsize_t row_bytes = 8 * (h.size() == 2 ? std::max<hsize_t>(h[1], 1) : 1);
  chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(h[0], (1u << 20) / row_bytes));
  if (contiguous) {
    h5_check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), where(dataset));
    h5_check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), where(dataset));
    h5_check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), where(dataset));
  } else if (h[0] > 0) {
    h5_check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), where(dataset));
  }
  Handle lcpl(h5_check(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate"));
  h5_check(H5Pset_create_intermediate_group(lcpl.get(), 1), "H5Pset_create_intermediate_group");
  const hid_t file_type =
      dtype == torch::kFloat64 ? H5T_IEEE_F64LE : (dtype == torch::kInt64 ? H5T_STD_I64LE : H5T_IEEE_F32LE);
  Handle d(
      h5_check(H5Dcreate2(handle_.get(), dataset.c_str(), file_type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
               where(dataset) + ": cannot create the dataset"));
}

void File::write_rows(const std::string& dataset, int64_t offset, const torch::Tensor& rows) {
  Handle d = open_dataset(dataset);
  Handle space(h5_check(H5Dget_space(d.get()), where(dataset)));
  const int rank = static_cast<int>(h5_check(H5Sget_simple_extent_ndims(space.get()), "H5Sget_simple_extent_ndims"));
  hsize_t dims[2] = {0, 1};
  h5_check(H5Sget_simple_extent_dims(space.get(), dims, nullptr), "H5Sget_simple_extent_dims");
  auto data = rows.detach().cpu().contiguous();
  if (data.scalar_type() != torch::kFloat64 && data.scalar_type() != torch::kFloat32 &&
      data.scalar_type() != torch::kInt64) {
    data = data.to(torch::kFloat64);
  }
  const auto count = static_cast<hsize_t>(data.size(0));
  if ((count > 0 && offset + count > dims[0]) || data.dim() != rank ||
      (rank == 2 && static_cast<hsize_t>(data.size(1)) != dims[1])) {
    throw IoError(where(dataset) + ": write of rows outside the dataset or of the wrong shape");
  }
  Handle mem = select_rows(space, rank, offset, static_cast<int64_t>(count), dims[1], where(dataset));
  Handle dxpl = make_dxpl(parallel());
  h5_check(H5Dwrite(d.get(), memory_type(data), mem.get(), space.get(), dxpl.get(), data.data_ptr()),
           where(dataset) + ": write failed");
}

namespace {

struct TypePair {
  hid_t file, memory;
};

TypePair h5_types(torch::Dtype dtype) {
  switch (dtype) {
  case torch::kFloat32: return {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT};
  case torch::kFloat64: return {H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE};
  case torch::kInt64: return {H5T_STD_I64LE, H5T_NATIVE_INT64};
  case torch::kUInt8: return {H5T_STD_U8LE, H5T_NATIVE_UINT8};
  default: throw IoError("unsupported tensor type for HDF5");
  }
}

}  // namespace

void File::write_tensor(const std::string& dataset, const torch::Tensor& t) {
  auto data = t.detach().cpu().contiguous();
  if (data.dim() == 0) data = data.reshape({1});
  const auto types = h5_types(data.scalar_type());
  std::vector<hsize_t> dims(data.sizes().begin(), data.sizes().end());
  Handle space(h5_check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where(dataset)));
  Handle lcpl(h5_check(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate"));
  h5_check(H5Pset_create_intermediate_group(lcpl.get(), 1), "H5Pset_create_intermediate_group");
  Handle d(h5_check(
      H5Dcreate2(handle_.get(), dataset.c_str(), types.file, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
      where(dataset) + ": cannot create the dataset"));
  if (data.numel() > 0) {
    h5_check(H5Dwrite(d.get(), types.memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data_ptr()),
             where(dataset) + ": write failed");
  }
}

torch::Tensor File::read_tensor(const std::string& dataset) const {
  Handle d = open_dataset(dataset);
  Handle space(h5_check(H5Dget_space(d.get()), where(dataset)));
  const int rank = static_cast<int>(h5_check(H5Sget_simple_extent_ndims(space.get()), "H5Sget_simple_extent_ndims"));
  std::vector<hsize_t> h(std::max(rank, 0));
  h5_check(H5Sget_simple_extent_dims(space.get(), h.data(), nullptr), "H5Sget_simple_extent_dims");
  Handle type(h5_check(H5Dget_type(d.get()), where(dataset)));
  torch::Dtype dtype;
  const size_t size = H5Tget_size(type.get());
  switch (H5Tget_class(type.get())) {
  case H5T_FLOAT: dtype = size == 4 ? torch::kFloat32 : torch::kFloat64; break;
  case H5T_INTEGER: dtype = size == 1 ? torch::kUInt8 : torch::kInt64; break;
  default: throw IoError(where(dataset) + ": not a numeric dataset");
  }
  std::vector<int64_t> sizes(h.begin(), h.end());
  auto out = torch::empty(sizes, dtype);
  if (out.numel() > 0) {
    h5_check(H5Dread(d.get(), h5_types(dtype).memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data_ptr()),
             where(dataset) + ": read failed");
  }
  return out;
}

void File::write_vector(const std::string& dataset, const std::vector<double>& values) {
  create_dataset(dataset, {static_cast<int64_t>(values.size())}, torch::kFloat64);
  if (values.empty()) return;
  auto t = torch::from_blob(const_cast<double*>(values.data()), {static_cast<int64_t>(values.size())}, torch::kFloat64);
  write_rows(dataset, 0, t);
}

Handle File::attribute_target(const std::string& object) const {
  hid_t id = H5Oopen(handle_.get(), object.c_str(), H5P_DEFAULT);
  return Handle(h5_check(id, where(object) + ": cannot open for attributes"));
}

Handle utf8_string_type() {
  Handle type(h5_check(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  h5_check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  h5_check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}

void File::put_attribute(const std::string& object, const std::string& name, hid_t file_type, hid_t mem_type,
                         int64_t count, const void* data) {
  const std::string what = where(object) + ": attribute " + name;
  Handle obj = attribute_target(object);
  const hsize_t n = count < 0 ? 1 : static_cast<hsize_t>(count);
  Handle space(h5_check(count < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), what));
  if (h5_check(H5Aexists(obj.get(), name.c_str()), what) > 0) h5_check(H5Adelete(obj.get(), name.c_str()), what);
  Handle attr(h5_check(H5Acreate2(obj.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), what));
  if (n > 0) h5_check(H5Awrite(attr.get(), mem_type, data), what);
}

std::vector<std::string> File::attribute_names(const std::string& object) const {
  const std::string what = where(object) + ": attribute names";
  Handle obj = attribute_target(object);
  H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
  h5_check(H5Oget_info3(obj.get(), &info, H5O_INFO_NUM_ATTRS), what);
#else
  h5_check(H5Oget_info2(obj.get(), &info, H5O_INFO_NUM_ATTRS), what);
#endif
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const ssize_t size =
        h5_check(H5Aget_name_by_idx(obj.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT), what);
    std::string name(static_cast<size_t>(size) + 1, '\0');
    h5_check(H5Aget_name_by_idx(obj.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT),
             what);
    name.resize(static_cast<size_t>(size));
    names.push_back(std::move(name));
  }
  return names;
}

bool File::has_attribute(const std::string& object, const std::string& name) const {
  Handle obj = attribute_target(object);
  return h5_check(H5Aexists(obj.get(), name.c_str()), where(object) + ": attribute " + name) > 0;
}

std::string File::read_string_attribute(const std::string& object, const std::string& name) const {
  Handle obj = attribute_target(object);
  Handle attr(h5_check(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), where(object) + ": attribute " + name));
  Handle type(h5_check(H5Aget_type(attr.get()), where(object) + ": attribute " + name));
  if (H5Tget_class(type.get()) != H5T_STRING) throw IoError(where(object) + ": attribute " + name + " is not a string");
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle space(h5_check(H5Aget_space(attr.get()), where(object) + ": attribute " + name));
    if (H5Sget_simple_extent_npoints(space.get()) != 1) {
      throw IoError(where(object) + ": attribute " + name + " is not a single string");
    }
    Handle mem(h5_check(H5Tcopy(H5T_C_S1), "H5Tcopy"));
    h5_check(H5Tset_size(mem.get(), H5T_VARIABLE), "H5Tset_size");
    h5_check(H5Tset_cset(mem.get(), H5Tget_cset(type.get())), "H5Tset_cset");
    char* text = nullptr;
    h5_check(H5Aread(attr.get(), mem.get(), &text), where(object) + ": attribute " + name);
    std::string s = text ? text : "";
    H5free_memory(text);
    return s;
  }
  // Fixed-length (files written by gwflow 0.1).
  std::string s(H5Tget_size(type.get()), '\0');
  h5_check(H5Aread(attr.get(), type.get(), s.data()), where(object) + ": attribute " + name);
  return s.substr(0, s.find('\0'));
}

double File::read_double_attribute(const std::string& object, const std::string& name) const {
  Handle obj = attribute_target(object);
  Handle attr(h5_check(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), where(object) + ": attribute " + name));
  double v = 0;
  h5_check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v), where(object) + ": attribute " + name);
  return v;
}

void File::flush() { h5_check(H5Fflush(handle_.get(), H5F_SCOPE_GLOBAL), path_ + ": flush failed"); }

std::vector<char> File::image() {
  h5_check(H5Fflush(handle_.get(), H5F_SCOPE_GLOBAL), path_ + ": flush failed");
  const ssize_t n = H5Fget_file_image(handle_.get(), nullptr, 0);
  h5_check(n < 0 ? -1 : 0, path_ + ": H5Fget_file_image");
  std::vector<char> bytes(static_cast<size_t>(n));
  h5_check(H5Fget_file_image(handle_.get(), bytes.data(), bytes.size()) < 0 ? -1 : 0, path_ + ": H5Fget_file_image");
  return bytes;
}

void File::close() {
  if (handle_.get() < 0) return;
  // Flush first: a failed flush (a full disk) is reported as such, not as a failed close.
  h5_check(H5Fflush(handle_.get(), H5F_SCOPE_GLOBAL), path_ + ": flush failed");
  const hid_t id = handle_.get();
  handle_.release();
  h5_check(H5Fclose(id), path_ + ": close failed");
}

}  // namespace gwflow::io
