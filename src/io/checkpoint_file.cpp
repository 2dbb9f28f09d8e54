#include "gwflow/io/checkpoint_file.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/hdf5.hpp"
#include "gwflow/io/sha256.hpp"

namespace gwflow::io {
namespace {

constexpr const char* kFormat = "gwflow-checkpoint-1";
int g_writes = 0;

int64_t iteration_of(const std::string& file_name) {
  static const std::regex re(R"(checkpoint-(\d{1,18})\.h5)");  // 18 digits: no int64 overflow
  std::smatch m;
  return std::regex_match(file_name, m, re) ? std::stoll(m[1]) : -1;
}

/// SHA-256 over everything a checkpoint holds (names, dtypes, shapes, bytes, attributes): a flipped
/// byte anywhere in the data makes the checkpoint unusable rather than silently wrong.
std::string content_digest(const CheckpointContent& c) {
  std::string bytes;
  for (const auto& [name, t] : c.tensors) {
    const auto h = t.detach().to(torch::kCPU).contiguous();
    bytes += name + '\0' + std::string(c10::toString(h.scalar_type())) + '\0';
    for (int64_t d : h.sizes()) bytes += std::to_string(d) + ',';
    bytes.append(static_cast<const char*>(h.data_ptr()), h.numel() * h.element_size());
  }
  for (const auto& [k, v] : c.text) bytes += "text:" + k + '\0' + v + '\0';
  for (const auto& [k, v] : c.numbers) {
    bytes += "number:" + k + '\0';
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return sha256_hex(bytes.data(), bytes.size());
}

}  // namespace

std::string checkpoint_path(const std::string& dir, int64_t iteration) {
  return dir + "/checkpoint-" + std::to_string(iteration) + ".h5";
}

void write_checkpoint_file(const std::string& path, const CheckpointContent& c) {
  ++g_writes;
  const char* fault = std::getenv("GWFLOW_TEST_KILL_IN_CHECKPOINT");
  const bool kill_now = fault && std::atoi(fault) == g_writes;
  // Built in memory, then written in one go (partial name, fsync, rename): a failed write (a full
  // disk) is a plain system-call error, the partial file is removed, older checkpoints stay.
  std::vector<char> bytes;
  {
    File f(path, File::Mode::kInMemory);
    std::string order;
    for (const auto& [name, t] : c.tensors) {
      if (name.find('/') != std::string::npos) throw IoError(path + ": tensor name '" + name + "' contains '/'");
      f.write_tensor("/tensors/" + name, t);
      order += name + "\n";
    }
    f.write_attribute("/", "tensor_order", order);
    for (const auto& [k, v] : c.text) f.write_attribute("/", "text:" + k, v);
    for (const auto& [k, v] : c.numbers) f.write_attribute("/", "number:" + k, v);
    f.write_attribute("/", "sha256", content_digest(c));
    f.write_attribute("/", "format", std::string(kFormat));
    bytes = f.image();
  }
  if (kill_now) {  // fault injection: die half-way through writing the partial file
    std::ofstream(partial_path(path), std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
    std::raise(SIGKILL);
  }
  write_file_atomic(path, bytes);
}

CheckpointContent read_checkpoint_file(const std::string& path) {
  CheckpointContent c;
  try {
    File f(path, File::Mode::kRead);
    std::string format;
    try {
      format = f.read_string_attribute("/", "format");
    } catch (const IoError&) {
      throw IoError(path + ": not a complete gwflow checkpoint (no format mark)");
    }
    if (format != kFormat) throw IoError(path + ": not a gwflow checkpoint (format '" + format + "')");
    std::istringstream order(f.read_string_attribute("/", "tensor_order"));
    for (std::string name; std::getline(order, name);) {
      if (!name.empty()) c.tensors.emplace_back(name, f.read_tensor("/tensors/" + name));
    }
    for (const std::string& n : f.attribute_names("/")) {
      if (n.rfind("text:", 0) == 0) c.text[n.substr(5)] = f.read_string_attribute("/", n);
      if (n.rfind("number:", 0) == 0) c.numbers[n.substr(7)] = f.read_double_attribute("/", n);
    }
    // Checkpoints written before the checksum existed have none; every newer one is verified.
    std::string stored;
    try {
      stored = f.read_string_attribute("/", "sha256");
    } catch (const IoError&) {
    }
    if (!stored.empty() && stored != content_digest(c)) {
      throw IoError(path + ": corrupt checkpoint (its contents do not match the stored SHA-256)");
    }
  } catch (const IoError& e) {
    const std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    throw IoError(path + ": corrupt checkpoint (" + what + ")");
  }
  return c;
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const int64_t it = iteration_of(e.path().filename().string());
    if (it >= 0) found.emplace_back(it, e.path().string());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

void prune_checkpoints(const std::string& dir, size_t keep) {
  auto all = list_checkpoints(dir);
  std::error_code ec;
  for (size_t i = keep; i < all.size(); ++i) std::filesystem::remove(all[i], ec);
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.rfind("checkpoint-", 0) == 0 && name.size() > 8 && name.substr(name.size() - 8) == ".partial") {
      std::filesystem::remove(e.path(), ec);
    }
  }
}

}  // namespace gwflow::io
