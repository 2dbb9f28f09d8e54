#pragma once
// SHA-256 (FIPS 180-4) of byte strings and files, for provenance attributes.
#include <cstddef>
#include <string>

namespace gwflow::io {

/// Lower-case hex digest of `size` bytes at `data`.
std::string sha256_hex(const void* data, size_t size);
/// Lower-case hex digest of a file's content; IoError naming the file when unreadable.
std::string sha256_file(const std::string& path);

}  // namespace gwflow::io
