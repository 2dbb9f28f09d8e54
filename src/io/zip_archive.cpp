#include "gwflow/io/zip_archive.hpp"

#include <array>

#include "gwflow/errors.hpp"

namespace gwflow::io {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kDataDescriptorSig = 0x08074b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;

void put(std::vector<char>& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

uint32_t crc32(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// ---------------------------------------------------------------------------------------------
// Reader. PyTorch stores every record uncompressed and puts the sizes in data descriptors, so the
// central directory is the authority for sizes and CRCs.

ZipReader::ZipReader(std::string label, const std::vector<char>& bytes) : label_(std::move(label)), bytes_(bytes) {
  parse();
}

const ZipReader::Entry* ZipReader::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

void ZipReader::fail(const std::string& what) const { throw IoError(label_ + ": " + what); }

bool ZipReader::fits(uint64_t offset, uint64_t length) const {
  return offset <= bytes_.size() && length <= bytes_.size() - offset;
}

uint64_t ZipReader::le(uint64_t offset, int n) const {
  if (!fits(offset, static_cast<uint64_t>(n))) fail("truncated zip archive");
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes_[offset + i]);
  return v;
}

void ZipReader::parse() {
  const uint64_t size = bytes_.size();
  if (size < 22) fail("not a zip archive (too short: " + std::to_string(size) + " bytes)");
  // The end-of-central-directory record is the last 22 bytes plus an optional comment.
  uint64_t end = 0;
  bool found = false;
  const uint64_t lowest = size >= 22 + 0xFFFF ? size - 22 - 0xFFFF : 0;
  for (uint64_t p = size - 22;; --p) {
    if (le(p, 4) == kEndSig && p + 22 + le(p + 20, 2) <= size) {
      end = p;
      found = true;
      break;
    }
    if (p == lowest) break;
  }
  if (!found) fail("not a zip archive, or a truncated one (no end-of-central-directory record)");
  if (le(end + 4, 2) != 0 || le(end + 6, 2) != 0) fail("multi-disk zip archives are not supported");
  uint64_t count = le(end + 10, 2), cd_size = le(end + 12, 4), cd_offset = le(end + 16, 4);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    if (end < 20 || le(end - 20, 4) != kZip64LocatorSig) fail("ZIP64 archive without its locator record");
    const uint64_t z = le(end - 20 + 8, 8);
    if (!fits(z, 56) || le(z, 4) != kZip64EndSig) fail("bad ZIP64 end-of-central-directory record");
    count = le(z + 32, 8);
    cd_size = le(z + 40, 8);
    cd_offset = le(z + 48, 8);
  }
  if (!fits(cd_offset, cd_size)) fail("truncated zip archive (central directory out of the file)");
  const uint64_t cd_end = cd_offset + cd_size;
  uint64_t p = cd_offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (p + 46 > cd_end || le(p, 4) != kCentralHeaderSig) fail("corrupt zip central directory");
    const uint64_t flags = le(p + 8, 2), method = le(p + 10, 2), crc = le(p + 16, 4);
    uint64_t compressed = le(p + 20, 4), uncompressed = le(p + 24, 4), local = le(p + 42, 4);
    const uint64_t name_len = le(p + 28, 2), extra_len = le(p + 30, 2), comment_len = le(p + 32, 2);
    if (p + 46 + name_len + extra_len + comment_len > cd_end) fail("corrupt zip central directory");
    Entry e;
    e.name.assign(bytes_.data() + p + 46, name_len);
    read_zip64_extra(p + 46 + name_len, extra_len, uncompressed, compressed, local);
    p += 46 + name_len + extra_len + comment_len;
    if (flags & 1) fail("zip record '" + e.name + "' is encrypted");
    if (method != 0) {
      fail("zip record '" + e.name + "' is compressed (method " + std::to_string(method) +
           "); PyTorch archives store records uncompressed");
    }
    if (compressed != uncompressed) fail("zip record '" + e.name + "' has inconsistent sizes");
    if (!fits(local, 30) || le(local, 4) != kLocalHeaderSig) {
      fail("zip record '" + e.name + "': missing or corrupt local header");
    }
    const uint64_t local_name_len = le(local + 26, 2), local_extra_len = le(local + 28, 2);
    if (!fits(local + 30, local_name_len) || std::string_view(bytes_.data() + local + 30, local_name_len) != e.name) {
      fail("zip record '" + e.name + "': local header does not match the central directory");
    }
    e.offset = local + 30 + local_name_len + local_extra_len;
    e.size = uncompressed;
    if (!fits(e.offset, e.size) || e.offset + e.size > cd_offset) {
      fail("truncated zip archive (record '" + e.name + "' runs past the data)");
    }
    if (crc32(bytes_.data() + e.offset, e.size) != crc)
      fail("zip record '" + e.name + "' is corrupt (CRC-32 mismatch)");
    if (!by_name_.emplace(e.name, entries_.size()).second) fail("duplicate zip record '" + e.name + "'");
    entries_.push_back(std::move(e));
  }
}

// ZIP64 extended information (header 0x0001): the saturated 32-bit fields, in this order.
void ZipReader::read_zip64_extra(uint64_t p, uint64_t len, uint64_t& uncompressed, uint64_t& compressed,
                                 uint64_t& local) const {
  const uint64_t end = p + len;
  while (p + 4 <= end) {
    const uint64_t id = le(p, 2), n = le(p + 2, 2);
    if (p + 4 + n > end) fail("corrupt zip extra field");
    if (id == 0x0001) {
      uint64_t q = p + 4;
      for (uint64_t* field : {&uncompressed, &compressed, &local}) {
        if (*field != 0xFFFFFFFF) continue;
        if (q + 8 > p + 4 + n) fail("corrupt ZIP64 extra field");
        *field = le(q, 8);
        q += 8;
      }
    }
    p += 4 + n;
  }
  if (uncompressed == 0xFFFFFFFF || compressed == 0xFFFFFFFF || local == 0xFFFFFFFF) {
    fail("ZIP64 record without its extended information");
  }
}

// ---------------------------------------------------------------------------------------------
// Writer, mirroring caffe2::serialize::PyTorchStreamWriter on miniz.

void ZipWriter::add(const std::string& name, std::string_view data) {
  if (finished_) throw IoError("zip writer: add after finish");
  const uint64_t header = out_.size();
  if (name.size() > 0xFFFF || data.size() >= 0xFFFFFFFFu || header >= 0xFFFFFFFFu) {
    throw IoError("zip writer: record '" + name + "' does not fit a 32-bit zip");
  }
  // Pad with an "FB" extra field (always present, maybe empty) so that the data is aligned.
  const uint64_t start = header + 30 + name.size() + 4;
  const uint64_t padding = (kAlignment - start % kAlignment) % kAlignment;
  const uint32_t crc = crc32(data.data(), data.size());
  put(out_, kLocalHeaderSig, 4);
  put(out_, 0, 2);       // version needed (as PyTorch writes it)
  put(out_, 0x0808, 2);  // data descriptor follows; UTF-8 name
  put(out_, 0, 2);       // STORED
  put(out_, 0, 4);       // time, date
  put(out_, 0, 4);       // CRC, sizes: in the data descriptor
  put(out_, 0, 4);
  put(out_, 0, 4);
  put(out_, name.size(), 2);
  put(out_, 4 + padding, 2);
  out_.insert(out_.end(), name.begin(), name.end());
  out_.push_back('F');
  out_.push_back('B');
  put(out_, padding, 2);
  out_.insert(out_.end(), padding, 'Z');
  out_.insert(out_.end(), data.begin(), data.end());
  put(out_, kDataDescriptorSig, 4);
  put(out_, crc, 4);
  put(out_, data.size(), 4);
  put(out_, data.size(), 4);
  records_.push_back({name, header, data.size(), crc});
}

std::vector<char> ZipWriter::finish() {
  if (finished_) throw IoError("zip writer: finished twice");
  finished_ = true;
  const uint64_t cd_offset = out_.size();
  for (const auto& r : records_) {
    put(out_, kCentralHeaderSig, 4);
    put(out_, 0, 2);  // version made by
    put(out_, 0, 2);  // version needed
    put(out_, 0x0808, 2);
    put(out_, 0, 2);
    put(out_, 0, 4);
    put(out_, r.crc, 4);
    put(out_, r.size, 4);
    put(out_, r.size, 4);
    put(out_, r.name.size(), 2);
    put(out_, 0, 2);  // extra
    put(out_, 0, 2);  // comment
    put(out_, 0, 2);  // disk
    put(out_, 0, 2);  // internal attributes
    put(out_, 0, 4);  // external attributes
    put(out_, r.header_offset, 4);
    out_.insert(out_.end(), r.name.begin(), r.name.end());
  }
  const uint64_t cd_size = out_.size() - cd_offset, zip64_end = out_.size(), n = records_.size();
  if (n >= 0xFFFF || zip64_end >= 0xFFFFFFFFu) throw IoError("zip writer: archive does not fit a 32-bit zip");
  put(out_, kZip64EndSig, 4);
  put(out_, 44, 8);      // size of the rest of this record
  put(out_, 0x031e, 2);  // made by: UNIX, 3.0 (as miniz)
  put(out_, 0x2d, 2);    // needed: 4.5
  put(out_, 0, 4);
  put(out_, 0, 4);
  put(out_, n, 8);
  put(out_, n, 8);
  put(out_, cd_size, 8);
  put(out_, cd_offset, 8);
  put(out_, kZip64LocatorSig, 4);
  put(out_, 0, 4);
  put(out_, zip64_end, 8);
  put(out_, 1, 4);
  put(out_, kEndSig, 4);
  put(out_, 0, 2);
  put(out_, 0, 2);
  put(out_, n, 2);
  put(out_, n, 2);
  put(out_, cd_size, 4);
  put(out_, cd_offset, 4);
  put(out_, 0, 2);
  return std::move(out_);
}

}  // namespace gwflow::io
