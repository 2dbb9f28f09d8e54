#include "gwflow/io/torch_archive.hpp"

#include <c10/util/Exception.h>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "gwflow/errors.hpp"

namespace gwflow::io {
namespace {

// ---------------------------------------------------------------------------------------------
// Zip container (PKWARE APPNOTE): end of central directory (+ ZIP64 records, which PyTorch always
// writes), central directory, local headers. PyTorch stores every record uncompressed, pads local
// headers to 64-byte alignment with an extra field, and puts the sizes in data descriptors, so the
// central directory is the authority for sizes and CRCs.

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;

uint32_t crc32(const unsigned char* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

struct ZipEntry {
  std::string name;
  uint64_t offset = 0;  ///< of the entry's data in the file
  uint64_t size = 0;
};

class ZipArchive {
 public:
  ZipArchive(const std::string& path, const std::vector<char>& bytes) : path_(path), bytes_(bytes) { parse(); }

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
  }
  std::string_view contents(const ZipEntry& e) const {
    return std::string_view(bytes_.data() + e.offset, static_cast<size_t>(e.size));
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw IoError(path_ + ": " + what); }
  bool fits(uint64_t offset, uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }
  uint64_t le(uint64_t offset, int n) const {  // caller checked fits(offset, n)
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes_[offset + i]);
    return v;
  }

  void parse() {
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
      ZipEntry e;
      e.name.assign(bytes_.data() + p + 46, name_len);
      read_zip64_extra(p + 46 + name_len, extra_len, uncompressed, compressed, local);
      p += 46 + name_len + extra_len + comment_len;
      if (flags & 1) fail("zip entry '" + e.name + "' is encrypted");
      if (method != 0) {
        fail("zip entry '" + e.name + "' is compressed (method " + std::to_string(method) +
             "); PyTorch archives store entries uncompressed");
      }
      if (compressed != uncompressed) fail("zip entry '" + e.name + "' has inconsistent sizes");
      if (!fits(local, 30) || le(local, 4) != kLocalHeaderSig) {
        fail("zip entry '" + e.name + "': missing or corrupt local header");
      }
      const uint64_t local_name_len = le(local + 26, 2), local_extra_len = le(local + 28, 2);
      if (!fits(local + 30, local_name_len) || std::string_view(bytes_.data() + local + 30, local_name_len) != e.name) {
        fail("zip entry '" + e.name + "': local header does not match the central directory");
      }
      e.offset = local + 30 + local_name_len + local_extra_len;
      e.size = uncompressed;
      if (!fits(e.offset, e.size) || e.offset + e.size > cd_offset) {
        fail("truncated zip archive (entry '" + e.name + "' runs past the data)");
      }
      if (crc32(reinterpret_cast<const unsigned char*>(bytes_.data() + e.offset), e.size) != crc) {
        fail("zip entry '" + e.name + "' is corrupt (CRC-32 mismatch)");
      }
      if (!by_name_.emplace(e.name, entries_.size()).second) fail("duplicate zip entry '" + e.name + "'");
      entries_.push_back(std::move(e));
    }
  }

  // ZIP64 extended information (header 0x0001): the saturated 32-bit fields, in this order.
  void read_zip64_extra(uint64_t p, uint64_t len, uint64_t& uncompressed, uint64_t& compressed, uint64_t& local) const {
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
      fail("ZIP64 entry without its extended information");
    }
  }

  const std::string& path_;
  const std::vector<char>& bytes_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t> by_name_;
};

// ---------------------------------------------------------------------------------------------
// Pickle subset: what torch.save (protocol 2) emits for a dict or OrderedDict of tensors, plus the
// protocol-4 framing opcodes. Objects live in an arena owned by the unpickler and refer to each
// other by raw pointer, so cycles or deep nesting in a hostile file cannot leak or overflow the
// stack, and nothing is ever evaluated recursively.

enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor };

struct Object {
  Kind kind = Kind::kNone;
  bool ordered = false;                                  ///< kDict: a collections.OrderedDict
  int64_t integer = 0;                                   ///< kBool, kInt
  double real = 0;                                       ///< kFloat
  std::string text;                                      ///< kString; kGlobal "module name"; kStorage its record key
  std::vector<Object*> items;                            ///< kTuple, kList
  std::vector<std::pair<Object*, Object*>> entries;      ///< kDict, in insertion order
  std::unique_ptr<std::map<std::string, size_t>> index;  ///< kDict: key -> entry
  torch::Tensor tensor;                                  ///< kStorage (flat), kTensor
};

struct StorageType {
  const char* global;
  torch::Dtype dtype;
};

constexpr StorageType kStorageTypes[] = {
    {"torch FloatStorage", torch::kFloat32}, {"torch DoubleStorage", torch::kFloat64},
    {"torch HalfStorage", torch::kFloat16},  {"torch BFloat16Storage", torch::kBFloat16},
    {"torch LongStorage", torch::kInt64},    {"torch IntStorage", torch::kInt32},
    {"torch ShortStorage", torch::kInt16},   {"torch CharStorage", torch::kInt8},
    {"torch ByteStorage", torch::kUInt8},
};

constexpr const char* kOrderedDict = "collections OrderedDict";
constexpr const char* kRebuildTensorV2 = "torch._utils _rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils _rebuild_parameter";
constexpr const char* kRestoreTypeTag = "torch.jit._pickle restore_type_tag";  // LibTorch's pickle_save

const StorageType* storage_type(const std::string& global) {
  for (const auto& s : kStorageTypes) {
    if (global == s.global) return &s;
  }
  return nullptr;
}

std::string pretty_global(std::string g) {
  const auto space = g.find(' ');
  if (space != std::string::npos) g[space] = '.';
  return g;
}

class Unpickler {
 public:
  Unpickler(const std::string& path, const ZipArchive& zip, const std::string& prefix, std::string_view pickle)
      : path_(path), zip_(zip), prefix_(prefix), data_(pickle) {}

  /// Runs the pickle to its STOP and returns the one object it built.
  Object* run() {
    while (true) {
      op_pos_ = pos_;
      const auto op = static_cast<unsigned char>(read(1)[0]);
      switch (op) {
      case 0x80: {  // PROTO
        const auto v = static_cast<unsigned char>(read(1)[0]);
        if (v < 2 || v > 4) fail("unsupported pickle protocol " + std::to_string(v) + " (expected 2 to 4)");
        break;
      }
      case 0x95: read(8); break;                         // FRAME: a length hint only
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '.': return stop();                           // STOP
      case '0':                                          // POP
        if (!marks_.empty() && marks_.back() == stack_.size()) {
          marks_.pop_back();
        } else {
          pop();
        }
        break;
      case '1': pop_mark(); break;  // POP_MARK
      case 'N': push(make(Kind::kNone)); break;
      case 0x88: push(make_int(Kind::kBool, 1)); break;                                // NEWTRUE
      case 0x89: push(make_int(Kind::kBool, 0)); break;                                // NEWFALSE
      case 'J': push(make_int(Kind::kInt, static_cast<int32_t>(le(read(4))))); break;  // BININT
      case 'K': push(make_int(Kind::kInt, static_cast<int64_t>(le(read(1))))); break;  // BININT1
      case 'M': push(make_int(Kind::kInt, static_cast<int64_t>(le(read(2))))); break;  // BININT2
      case 0x8a: push(make_int(Kind::kInt, long_integer(le(read(1))))); break;         // LONG1
      case 0x8b: push(make_int(Kind::kInt, long_integer(le(read(4))))); break;         // LONG4
      case 'G': {                                                                      // BINFLOAT
        const auto b = read(8);
        uint64_t bits = 0;
        for (char c : b) bits = (bits << 8) | static_cast<unsigned char>(c);  // big-endian
        Object* o = make(Kind::kFloat);
        std::memcpy(&o->real, &bits, 8);
        push(o);
        break;
      }
      case 'X': push(make_string(read(checked_length(le(read(4)))))); break;   // BINUNICODE
      case 0x8c: push(make_string(read(le(read(1))))); break;                  // SHORT_BINUNICODE
      case 0x8d: push(make_string(read(checked_length(le(read(8)))))); break;  // BINUNICODE8
      case 'c': {                                                              // GLOBAL
        std::string module = line(), name = line();
        push(make_global(module + " " + name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Object* name = pop();
        Object* module = pop();
        if (module->kind != Kind::kString || name->kind != Kind::kString) fail("STACK_GLOBAL needs two strings");
        push(make_global(module->text + " " + name->text));
        break;
      }
      case ')': push(make(Kind::kTuple)); break;  // EMPTY_TUPLE
      case 't': push(make_sequence(Kind::kTuple, pop_mark())); break;
      case 0x85: tuple_of(1); break;                                  // TUPLE1
      case 0x86: tuple_of(2); break;                                  // TUPLE2
      case 0x87: tuple_of(3); break;                                  // TUPLE3
      case ']': push(make(Kind::kList)); break;                       // EMPTY_LIST
      case 'l': push(make_sequence(Kind::kList, pop_mark())); break;  // LIST
      case 'a': {                                                     // APPEND
        Object* v = pop();
        append(top(), {v});
        break;
      }
      case 'e': {  // APPENDS
        auto items = pop_mark();
        append(top(), items);
        break;
      }
      case '}': push(make(Kind::kDict)); break;  // EMPTY_DICT
      case 'd': {                                // DICT
        auto items = pop_mark();
        Object* d = make(Kind::kDict);
        set_items(d, items);
        push(d);
        break;
      }
      case 's': {  // SETITEM
        Object* v = pop();
        Object* k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        set_items(top(), items);
        break;
      }
      case 'q': memo_put(le(read(1))); break;    // BINPUT
      case 'r': memo_put(le(read(4))); break;    // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
      case 'h': memo_get(le(read(1))); break;    // BINGET
      case 'j': memo_get(le(read(4))); break;    // LONG_BINGET
      case 'Q': {                                // BINPERSID
        Object* pid = pop();
        push(persistent_load(pid));
        break;
      }
      case 'R': {  // REDUCE
        Object* args = pop();
        Object* callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD
        Object* state = pop();
        Object* target = top();
        // torch.save of a state dict sets its `_metadata` attribute (a dict of per-module
        // versions) this way; it carries no tensor, so it is checked for type and dropped.
        if (target->kind != Kind::kDict || !target->ordered || state->kind != Kind::kDict) {
          fail("BUILD is only supported on an OrderedDict with a dict state");
        }
        break;
      }
      default: {
        static const char* hex = "0123456789abcdef";
        fail(std::string("unsupported pickle opcode 0x") + hex[op >> 4] + hex[op & 15]);
      }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(path_ + ": " + prefix_ + "/data.pkl, byte " + std::to_string(op_pos_) + ": " + what);
  }

  std::string_view read(uint64_t n) {
    if (n > data_.size() - pos_) fail("truncated pickle");
    auto s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  static uint64_t le(std::string_view b) {
    uint64_t v = 0;
    for (size_t i = b.size(); i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[i]);
    return v;
  }
  uint64_t checked_length(uint64_t n) const {
    if (n > data_.size() - pos_) fail("truncated pickle (string of " + std::to_string(n) + " bytes)");
    return n;
  }
  std::string line() {
    const auto nl = data_.find('\n', pos_);
    if (nl == std::string_view::npos) fail("truncated pickle (GLOBAL without newline)");
    std::string s(data_.substr(pos_, nl - pos_));
    pos_ = nl + 1;
    return s;
  }
  // LONG1/LONG4 after their length: a little-endian two's complement integer of that many bytes.
  int64_t long_integer(uint64_t n) {
    if (n > 8) fail("integer of " + std::to_string(n) + " bytes does not fit in 64 bits");
    if (n == 0) return 0;
    const auto b = read(n);
    uint64_t v = le(b);
    if (n < 8 && (static_cast<unsigned char>(b[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);
    return static_cast<int64_t>(v);
  }

  Object* make(Kind kind) {
    arena_.push_back(std::make_unique<Object>());
    arena_.back()->kind = kind;
    if (kind == Kind::kDict) arena_.back()->index = std::make_unique<std::map<std::string, size_t>>();
    return arena_.back().get();
  }
  Object* make_int(Kind kind, int64_t v) {
    Object* o = make(kind);
    o->integer = v;
    return o;
  }
  Object* make_string(std::string_view s) {
    Object* o = make(Kind::kString);
    o->text = s;
    return o;
  }
  Object* make_global(const std::string& name) {
    if (name != kOrderedDict && name != kRebuildTensorV2 && name != kRebuildParameter && name != kRestoreTypeTag &&
        !storage_type(name)) {
      fail("unsupported global '" + pretty_global(name) + "' (not a dict of tensors written by torch.save)");
    }
    Object* o = make(Kind::kGlobal);
    o->text = name;
    return o;
  }
  Object* make_sequence(Kind kind, std::vector<Object*> items) {
    Object* o = make(kind);
    o->items = std::move(items);
    return o;
  }
  void tuple_of(size_t n) {
    std::vector<Object*> items(n);
    for (size_t i = n; i-- > 0;) items[i] = pop();
    push(make_sequence(Kind::kTuple, std::move(items)));
  }

  size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Object* o) { stack_.push_back(o); }
  Object* pop() {
    if (stack_.size() <= fence()) fail("pickle stack underflow");
    Object* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Object* top() const {
    if (stack_.size() <= fence()) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<Object*> pop_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void memo_put(uint64_t key) { memo_[key] = top(); }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo entry " + std::to_string(key) + " used before it was defined");
    push(it->second);
  }

  void append(Object* list, const std::vector<Object*>& items) {
    if (list->kind != Kind::kList) fail("APPEND to something that is not a list");
    list->items.insert(list->items.end(), items.begin(), items.end());
  }
  static std::string dict_key(const Object* k) {
    switch (k->kind) {
    case Kind::kString: return "s" + k->text;
    case Kind::kInt:
    case Kind::kBool: return "i" + std::to_string(k->integer);  // True == 1 as in Python
    case Kind::kNone: return "n";
    default: return "";
    }
  }
  void set_items(Object* dict, const std::vector<Object*>& items) {
    if (dict->kind != Kind::kDict) fail("SETITEM on something that is not a dict");
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
    for (size_t i = 0; i < items.size(); i += 2) {
      const std::string key = dict_key(items[i]);
      if (key.empty()) fail("unsupported dict key type");
      auto [it, inserted] = dict->index->emplace(key, dict->entries.size());
      if (inserted) {
        dict->entries.emplace_back(items[i], items[i + 1]);
      } else {
        dict->entries[it->second].second = items[i + 1];  // Python keeps the first position
      }
    }
  }

  Object* stop() {
    Object* result = pop();
    if (!stack_.empty() || !marks_.empty()) fail("pickle ends with values left on its stack");
    if (pos_ != data_.size()) fail("bytes after the pickle's STOP");
    return result;
  }

  static int64_t int_of(const Object* o, bool& ok) {
    ok = ok && o->kind == Kind::kInt;
    return o->integer;
  }

  // ('storage', storage_type, key, location, numel): the record <prefix>/data/<key>, read once.
  Object* persistent_load(const Object* pid) {
    const auto& a = pid->items;
    if (pid->kind != Kind::kTuple || a.size() != 5 || a[0]->kind != Kind::kString || a[0]->text != "storage" ||
        a[1]->kind != Kind::kGlobal || a[2]->kind != Kind::kString || a[3]->kind != Kind::kString ||
        a[4]->kind != Kind::kInt) {
      fail("unsupported persistent id (expected ('storage', type, key, location, numel))");
    }
    const StorageType* type = storage_type(a[1]->text);
    if (!type) fail("persistent id with '" + pretty_global(a[1]->text) + "' instead of a storage type");
    const std::string& key = a[2]->text;
    const int64_t numel = a[4]->integer;
    if (numel < 0) fail("storage '" + key + "' has a negative size");
    auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      Object* s = cached->second;
      if (s->tensor.scalar_type() != type->dtype || s->tensor.numel() != numel) {
        fail("storage '" + key + "' is used with two different types or sizes");
      }
      return s;
    }
    const std::string record = prefix_ + "/data/" + key;
    const ZipEntry* entry = zip_.find(record);
    if (!entry) fail("missing storage record '" + record + "'");
    const auto item = static_cast<uint64_t>(c10::elementSize(type->dtype));
    if (entry->size % item != 0 || entry->size / item != static_cast<uint64_t>(numel)) {
      fail("storage record '" + record + "' holds " + std::to_string(entry->size) + " bytes, expected " +
           std::to_string(numel) + " x " + std::to_string(item));
    }
    Object* s = make(Kind::kStorage);
    s->text = key;
    s->tensor = torch::empty({numel}, torch::TensorOptions().dtype(type->dtype));
    if (numel > 0) std::memcpy(s->tensor.data_ptr(), zip_.contents(*entry).data(), entry->size);
    storages_.emplace(key, s);
    return s;
  }

  Object* reduce(const Object* callable, const Object* args) {
    if (callable->kind != Kind::kGlobal) fail("REDUCE of something that is not a known global");
    if (args->kind != Kind::kTuple) fail("REDUCE without an argument tuple");
    const auto& a = args->items;
    if (callable->text == kOrderedDict) {
      if (!a.empty()) fail("OrderedDict(...) with arguments is not supported");
      Object* d = make(Kind::kDict);
      d->ordered = true;
      return d;
    }
    if (callable->text == kRebuildTensorV2) return rebuild_tensor(a);
    if (callable->text == kRebuildParameter) {
      // _rebuild_parameter(data, requires_grad, backward_hooks): the tensor itself here.
      if (a.size() != 3 || a[0]->kind != Kind::kTensor || a[1]->kind != Kind::kBool || a[2]->kind != Kind::kDict) {
        fail("unexpected arguments to torch._utils._rebuild_parameter");
      }
      return a[0];
    }
    if (callable->text == kRestoreTypeTag) {
      // restore_type_tag(value, "Dict[str, Tensor]"): the value itself.
      if (a.size() != 2 || a[1]->kind != Kind::kString) fail("unexpected arguments to restore_type_tag");
      return a[0];
    }
    fail("'" + pretty_global(callable->text) + "' cannot be called");
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  Object* rebuild_tensor(const std::vector<Object*>& a) {
    if (a.size() != 6 && a.size() != 7) fail("_rebuild_tensor_v2 with " + std::to_string(a.size()) + " arguments");
    if (a[0]->kind != Kind::kStorage || a[1]->kind != Kind::kInt || a[2]->kind != Kind::kTuple ||
        a[3]->kind != Kind::kTuple || a[4]->kind != Kind::kBool || a[5]->kind != Kind::kDict ||
        (a.size() == 7 && a[6]->kind != Kind::kNone && a[6]->kind != Kind::kDict)) {
      fail("unexpected argument types to _rebuild_tensor_v2");
    }
    const torch::Tensor& storage = a[0]->tensor;
    const int64_t storage_numel = storage.numel(), offset = a[1]->integer;
    const auto& size_items = a[2]->items;
    const auto& stride_items = a[3]->items;
    if (size_items.size() != stride_items.size()) fail("tensor size and stride have different lengths");
    if (size_items.size() > 64) fail("tensor with more than 64 dimensions");
    std::vector<int64_t> size, stride;
    bool ok = true;
    for (size_t d = 0; d < size_items.size(); ++d) {
      size.push_back(int_of(size_items[d], ok));
      stride.push_back(int_of(stride_items[d], ok));
    }
    if (!ok) fail("tensor size or stride is not a tuple of integers");
    // Every element the view touches must lie inside the storage; the view may not have more
    // elements than its storage (no expanded tensors), which bounds what is allocated.
    int64_t numel = 1;
    for (size_t d = 0; d < size.size(); ++d) {
      if (size[d] < 0 || stride[d] < 0) fail("tensor with a negative size or stride");
      if (size[d] == 0) numel = 0;
    }
    if (offset < 0 || offset > storage_numel) fail("tensor storage offset out of its storage");
    if (numel != 0) {
      int64_t last = offset;
      for (size_t d = 0; d < size.size(); ++d) {
        if (numel > storage_numel / size[d]) fail("tensor has more elements than its storage");
        numel *= size[d];
        if (size[d] > 1 && stride[d] > (storage_numel - last) / (size[d] - 1)) {
          fail("tensor extends past the end of its storage");
        }
        last += (size[d] - 1) * stride[d];
      }
      if (last >= storage_numel) fail("tensor extends past the end of its storage");
    }
    Object* t = make(Kind::kTensor);
    try {
      t->tensor = numel == 0 ? torch::empty(size, storage.options())
                             : storage.as_strided(size, stride, offset).clone(at::MemoryFormat::Contiguous);
    } catch (const c10::Error& e) {
      const std::string what = e.what_without_backtrace();
      fail("cannot rebuild a tensor (" + what.substr(0, what.find('\n')) + ")");
    }
    return t;
  }

  const std::string& path_;
  const ZipArchive& zip_;
  const std::string& prefix_;
  std::string_view data_;
  size_t pos_ = 0, op_pos_ = 0;
  std::vector<std::unique_ptr<Object>> arena_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Object*> memo_;
  std::unordered_map<std::string, Object*> storages_;
};

bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

}  // namespace

flow::NamedTensors read_torch_state_dict_archive(const std::string& path, const std::vector<char>& bytes) {
  if (!host_is_little_endian()) throw IoError(path + ": reading PyTorch archives needs a little-endian host");
  const ZipArchive zip(path, bytes);
  // Every record sits under one top-level folder named after the file (PyTorch's archive name).
  if (zip.entries().empty()) throw IoError(path + ": empty zip archive (not a PyTorch archive)");
  const std::string& first = zip.entries().front().name;
  const auto slash = first.find('/');
  if (slash == std::string::npos || slash == 0) {
    throw IoError(path + ": not a PyTorch archive (record '" + first + "' is not inside a folder)");
  }
  const std::string prefix = first.substr(0, slash);
  const ZipEntry* pkl = zip.find(prefix + "/data.pkl");
  if (!pkl) throw IoError(path + ": not a PyTorch archive (no " + prefix + "/data.pkl record)");
  // Since torch 2.1 archives name their byte order; older ones are little-endian.
  if (const ZipEntry* order = zip.find(prefix + "/byteorder")) {
    const auto v = zip.contents(*order);
    if (v != "little") {
      throw IoError(path + ": the archive's tensors are stored '" + std::string(v.substr(0, 16)) +
                    "'-endian; only little-endian archives are supported");
    }
  }
  Unpickler unpickler(path, zip, prefix, zip.contents(*pkl));
  const Object* root = unpickler.run();
  if (root->kind != Kind::kDict) throw IoError(path + ": the archive does not hold a dict of tensors");
  if (root->entries.empty()) throw IoError(path + ": the archive holds an empty dict (no tensors)");
  flow::NamedTensors out;
  for (const auto& [key, value] : root->entries) {
    if (key->kind != Kind::kString) throw IoError(path + ": the archive's dict has a non-string key");
    if (value->kind != Kind::kTensor) {
      throw IoError(path + ": the archive's entry '" + key->text + "' is not a tensor");
    }
    out.emplace_back(key->text, value->tensor);
  }
  return out;
}

}  // namespace gwflow::io
