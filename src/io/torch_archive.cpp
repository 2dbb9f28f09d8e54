#include "gwflow/io/torch_archive.hpp"

#include <c10/util/Exception.h>
#include <torch/types.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "gwflow/errors.hpp"
#include "gwflow/io/sha256.hpp"
#include "gwflow/io/zip_archive.hpp"

namespace gwflow::io {
namespace {

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
  Unpickler(const std::string& path, const ZipReader& zip, const std::string& prefix, std::string_view pickle)
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
    const ZipReader::Entry* entry = zip_.find(record);
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
  const ZipReader& zip_;
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

// The records torch.save (1.6 to 2.x) writes beside data.pkl and data/<key>, and LibTorch's
// pickle_save (gwflow 0.1's weights files) its `.data/version`. `version` is the archive format
// (3 for torch.save since 1.6; readers accept 1 to 10); `.format_version` describes data.pkl's
// storage layout (1 since it appeared in torch 2.5).
void check_records(const std::string& label, const ZipReader& zip, const std::string& prefix) {
  const auto number = [&](const ZipReader::Entry& e, int64_t lo, int64_t hi) {
    const std::string v(zip.contents(e));
    std::string digits = v;
    while (!digits.empty() && (digits.back() == '\n' || digits.back() == '\r')) digits.pop_back();
    const bool ok = !digits.empty() && digits.size() <= 6 &&
                    digits.find_first_not_of("0123456789") == std::string::npos && std::stoll(digits) >= lo &&
                    std::stoll(digits) <= hi;
    if (!ok) {
      throw IoError(label + ": record '" + e.name + "' holds '" + v.substr(0, 16) + "', expected " +
                    std::to_string(lo) + (lo == hi ? "" : " to " + std::to_string(hi)));
    }
  };
  for (const auto& e : zip.entries()) {
    if (e.name.compare(0, prefix.size() + 1, prefix + "/") != 0) {
      throw IoError(label + ": record '" + e.name + "' is not in the archive's folder '" + prefix + "/'");
    }
    const std::string rel = e.name.substr(prefix.size() + 1);
    if (rel == "data.pkl" || rel == ".storage_alignment" || rel == ".data/serialization_id") continue;
    if (rel.compare(0, 5, "data/") == 0 && rel.size() > 5) continue;  // checked when the pickle uses it
    if (rel == "version" || rel == ".data/version") {
      number(e, 1, 10);
    } else if (rel == ".format_version") {
      number(e, 1, 1);
    } else if (rel == "byteorder") {
      if (zip.contents(e) != "little") {
        throw IoError(label + ": the archive's tensors are stored '" + std::string(zip.contents(e).substr(0, 16)) +
                      "'-endian; only little-endian archives are supported");
      }
    } else {
      throw IoError(label + ": unexpected record '" + e.name + "' (not written by torch.save)");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Pickler: the bytes Python's pickle (protocol 2, as torch.save calls it) writes for an
// OrderedDict of contiguous CPU tensors with a `_metadata` attribute. Python memoizes every
// object it writes, by identity, with BINPUT/LONG_BINPUT in order, and refers back with
// BINGET/LONG_BINGET; the objects written more than once here are the OrderedDict and
// _rebuild_tensor_v2 globals, each storage type, and the strings 'storage', 'cpu' and 'version'.

class Pickler {
 public:
  std::string take() { return std::move(out_); }

  void proto() { out_ += "\x80\x02"; }
  void stop() { out_ += '.'; }
  void op(char c) { out_ += c; }

  /// A global, written once and then fetched from the memo.
  void global(const std::string& module, const std::string& name) {
    const std::string key = "g" + module + " " + name;
    if (get(key)) return;
    out_ += 'c' + module + '\n' + name + '\n';
    put(key);
  }
  /// A string; `shared` strings are one Python object (written once, then fetched).
  void string(const std::string& s, bool shared = false) {
    if (shared && get("s" + s)) return;
    out_ += 'X';
    le(s.size(), 4);
    out_ += s;
    put(shared ? "s" + s : std::string());
  }
  void integer(int64_t v) {
    if (v >= 0 && v <= 0xFF) {
      out_ += 'K';
      le(static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v <= 0xFFFF) {
      out_ += 'M';
      le(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      le(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      // LONG1: the shortest little-endian two's complement (Python's encode_long).
      std::string bytes;
      int64_t x = v;
      do {
        bytes += static_cast<char>(x & 0xFF);
        x >>= 8;
      } while (!((x == 0 && !(bytes.back() & 0x80)) || (x == -1 && (bytes.back() & 0x80))));
      out_ += '\x8a';
      le(bytes.size(), 1);
      out_ += bytes;
    }
  }
  /// A tuple of integers: EMPTY_TUPLE, TUPLE1-3 or MARK...TUPLE; non-empty ones are memoized.
  void int_tuple(const std::vector<int64_t>& v) {
    if (v.empty()) {
      out_ += ')';
      return;
    }
    if (v.size() > 3) out_ += '(';
    for (int64_t x : v) integer(x);
    out_ += v.size() == 1 ? '\x85' : v.size() == 2 ? '\x86' : v.size() == 3 ? '\x87' : 't';
    memoize();
  }
  /// `OrderedDict()`: the global, an empty argument tuple, REDUCE, memoized.
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    out_ += ")R";
    memoize();
  }
  void memoize() { put(std::string()); }

 private:
  bool get(const std::string& key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) return false;
    if (it->second < 256) {
      out_ += 'h';
      le(it->second, 1);
    } else {
      out_ += 'j';
      le(it->second, 4);
    }
    return true;
  }
  void put(const std::string& key) {  // memoizes the object just written; named when shared
    const uint64_t index = next_++;
    if (index < 256) {
      out_ += 'q';
      le(index, 1);
    } else {
      out_ += 'r';
      le(index, 4);
    }
    if (!key.empty()) memo_.emplace(key, index);
  }
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xFF);
  }

  std::string out_;
  std::unordered_map<std::string, uint64_t> memo_;
  uint64_t next_ = 0;
};

const char* storage_name(torch::Dtype dtype) {
  for (const auto& s : kStorageTypes) {
    if (s.dtype == dtype) return std::strchr(s.global, ' ') + 1;
  }
  return nullptr;
}

// Python's pickle writes a dict's items MARK ... SETITEMS in batches of 1000, and a batch of one
// item as a bare SETITEM.
template <typename Item>
void set_items(Pickler& p, const std::vector<Item>& items, const std::function<void(const Item&)>& save) {
  for (size_t begin = 0; begin < items.size(); begin += 1000) {
    const size_t end = std::min(items.size(), begin + 1000);
    if (end - begin > 1) p.op('(');
    for (size_t i = begin; i < end; ++i) save(items[i]);
    p.op(end - begin > 1 ? 'u' : 's');
  }
}

/// The serialization id PyTorch writes: 40 decimal digits. PyTorch draws them at random; gwflow
/// derives them from the archive's content, so that the same weights give the same file.
std::string serialization_id(const std::string& pickle, const std::vector<std::string>& storages) {
  std::string all = pickle;
  for (const auto& s : storages) all += s;
  const std::string hex = sha256_hex(all.data(), all.size());
  char id[41];
  std::snprintf(id, sizeof id, "%020llu%020llu", std::stoull(hex.substr(0, 16), nullptr, 16),
                std::stoull(hex.substr(16, 16), nullptr, 16));
  return id;
}

}  // namespace

flow::NamedTensors read_torch_state_dict_archive(const std::string& label, const std::vector<char>& bytes) {
  if (!host_is_little_endian()) throw IoError(label + ": reading PyTorch archives needs a little-endian host");
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K') {
    throw IoError(label + ": not a PyTorch weights archive (no zip header)");
  }
  const ZipReader zip(label, bytes);
  // Every record sits under one top-level folder (PyTorch's archive name: the file's stem).
  if (zip.entries().empty()) throw IoError(label + ": empty zip archive (not a PyTorch archive)");
  const std::string& first = zip.entries().front().name;
  const auto slash = first.find('/');
  if (slash == std::string::npos || slash == 0) {
    throw IoError(label + ": not a PyTorch archive (record '" + first + "' is not inside a folder)");
  }
  const std::string prefix = first.substr(0, slash);
  const ZipReader::Entry* pkl = zip.find(prefix + "/data.pkl");
  if (!pkl) throw IoError(label + ": not a PyTorch archive (no " + prefix + "/data.pkl record)");
  check_records(label, zip, prefix);
  Unpickler unpickler(label, zip, prefix, zip.contents(*pkl));
  const Object* root = unpickler.run();
  if (root->kind != Kind::kDict) throw IoError(label + ": the archive does not hold a dict of tensors");
  if (root->entries.empty()) throw IoError(label + ": the archive holds an empty dict (no tensors)");
  flow::NamedTensors out;
  for (const auto& [key, value] : root->entries) {
    if (key->kind != Kind::kString) throw IoError(label + ": the archive's dict has a non-string key");
    if (value->kind != Kind::kTensor) {
      throw IoError(label + ": the archive's entry '" + key->text + "' is not a tensor");
    }
    out.emplace_back(key->text, value->tensor);
  }
  return out;
}

std::vector<char> write_torch_state_dict_archive(const std::string& archive_name, const flow::NamedTensors& state,
                                                 const std::vector<std::string>& metadata_modules) {
  if (!host_is_little_endian()) throw IoError("writing PyTorch archives needs a little-endian host");
  if (archive_name.empty() || archive_name.find('/') != std::string::npos) {
    throw IoError("invalid PyTorch archive name '" + archive_name + "'");
  }
  Pickler p;
  std::vector<std::string> storages;
  p.proto();
  p.empty_ordered_dict();
  set_items<std::pair<std::string, torch::Tensor>>(p, state, [&](const std::pair<std::string, torch::Tensor>& item) {
    const auto& [name, tensor] = item;
    // Like torch.save, a dense tensor is written in its own memory order with its strides (e.g. a
    // column-major matrix keeps strides (1, rows)); anything else is made contiguous first.
    torch::Tensor t = tensor.detach().to(torch::kCPU);
    if (!t.is_non_overlapping_and_dense()) t = t.contiguous();
    const char* type = storage_name(t.scalar_type());
    if (!type)
      throw IoError("cannot save '" + name + "': unsupported dtype " + std::string(c10::toString(t.scalar_type())));
    p.string(name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op('(');
    // The persistent id ('storage', type, key, location, numel), then BINPERSID.
    p.op('(');
    p.string("storage", true);
    p.global("torch", type);
    p.string(std::to_string(storages.size()));
    p.string("cpu", true);
    p.integer(t.numel());
    p.op('t');
    p.memoize();
    p.op('Q');
    p.integer(0);  // storage offset
    p.int_tuple(t.sizes().vec());
    p.int_tuple(t.strides().vec());
    p.op('\x89');            // requires_grad = False
    p.empty_ordered_dict();  // backward hooks
    p.op('t');
    p.memoize();
    p.op('R');
    p.memoize();
    // Dense with non-negative strides: its numel elements start at data_ptr.
    storages.emplace_back(static_cast<const char*>(t.data_ptr()), t.nbytes());
  });
  if (!metadata_modules.empty()) {
    // BUILD with the state {'_metadata': OrderedDict((module, {'version': 1}), ...)}.
    p.op('}');
    p.memoize();
    p.string("_metadata");
    p.empty_ordered_dict();
    set_items<std::string>(p, metadata_modules, [&](const std::string& module) {
      p.string(module);
      p.op('}');
      p.memoize();
      p.string("version", true);
      p.integer(1);
      p.op('s');
    });
    p.op('s');
    p.op('b');
  }
  p.stop();
  const std::string pickle = p.take();
  ZipWriter zip;
  const std::string dir = archive_name + "/";
  zip.add(dir + "data.pkl", pickle);
  zip.add(dir + ".format_version", "1");
  zip.add(dir + ".storage_alignment", "64");
  zip.add(dir + "byteorder", "little");
  for (size_t i = 0; i < storages.size(); ++i) zip.add(dir + "data/" + std::to_string(i), storages[i]);
  zip.add(dir + "version", "3\n");
  zip.add(dir + ".data/serialization_id", serialization_id(pickle, storages));
  return zip.finish();
}

}  // namespace gwflow::io
