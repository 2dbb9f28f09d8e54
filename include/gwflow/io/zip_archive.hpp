#pragma once
// The zip container of PyTorch archives (PKWARE APPNOTE), both ways, with STORED records only:
// a strict reader that checks every record's CRC-32 and bounds, and a writer that lays records
// out as PyTorch's PyTorchStreamWriter (miniz) does: 64-byte aligned data, data descriptors,
// ZIP64 end records. Byte strings only; nothing here knows about tensors.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gwflow::io {

/// CRC-32 (ISO-HDLC, the zip polynomial) of `n` bytes.
uint32_t crc32(const void* data, size_t n);

/// A parsed zip archive over bytes the caller keeps alive. The constructor checks the whole file:
/// end records (ZIP64 included), central directory, local headers, that each record is STORED,
/// unencrypted, inside the file and before the central directory, unique, and that its CRC-32
/// matches. Any failure is IoError("<label>: <what>").
class ZipReader {
 public:
  struct Entry {
    std::string name;
    uint64_t offset = 0;  ///< of the record's data in the file
    uint64_t size = 0;
  };

  ZipReader(std::string label, const std::vector<char>& bytes);

  const std::vector<Entry>& entries() const { return entries_; }
  /// The record called `name`, or nullptr.
  const Entry* find(const std::string& name) const;
  std::string_view contents(const Entry& e) const { return {bytes_.data() + e.offset, static_cast<size_t>(e.size)}; }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  bool fits(uint64_t offset, uint64_t length) const;
  uint64_t le(uint64_t offset, int n) const;
  void parse();
  void read_zip64_extra(uint64_t p, uint64_t len, uint64_t& uncompressed, uint64_t& compressed, uint64_t& local) const;

  std::string label_;
  const std::vector<char>& bytes_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> by_name_;
};

/// Builds a zip archive in memory, record by record, as PyTorch writes one: each local header
/// padded with an "FB" extra field so that the data starts on a 64-byte boundary, flags 0x0808
/// (data descriptor, UTF-8 names), zero timestamps, then the central directory, a ZIP64 end
/// record, its locator and the classic end record. IoError past 4 GiB (weights are kilobytes).
class ZipWriter {
 public:
  static constexpr uint64_t kAlignment = 64;

  void add(const std::string& name, std::string_view data);
  /// The finished archive; the writer is spent afterwards.
  std::vector<char> finish();

 private:
  struct Record {
    std::string name;
    uint64_t header_offset;
    uint64_t size;
    uint32_t crc;
  };
  std::vector<char> out_;
  std::vector<Record> records_;
  bool finished_ = false;
};

}  // namespace gwflow::io
