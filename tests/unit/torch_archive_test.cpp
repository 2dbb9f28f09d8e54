// The reader of mbank's original weights files (torch.save of an OrderedDict): same tensors as the
// plain-dict fixtures, fixture log densities, and an IoError naming the file for every damaged or
// foreign archive (never a crash). Hand-made archives come from a tiny STORED zip writer below.
#include <torch/serialize.h>

#include <fstream>
#include <set>

#include "gwflow/errors.hpp"
#include "gwflow/flow/flow.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/torch_archive.hpp"
#include "gwflow/io/weights.hpp"
#include "gwflow/io/zip_archive.hpp"
#include "test_util.hpp"

namespace gwflow::io {
namespace {

const std::vector<std::string> kModels = {"std_D3_L2_H10-5", "std_D2_L3_H5", "std_D1_L1_H1"};

flow::NamedTensors plain_dict(const std::string& model) {
  auto value = torch::pickle_load(read_file(test::data_path(model + ".weights-dict.pt")));
  flow::NamedTensors out;
  for (const auto& e : value.toGenericDict()) out.emplace_back(e.key().toStringRef(), e.value().toTensor());
  return out;
}

void expect_same(const flow::NamedTensors& got, const flow::NamedTensors& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first) << "entry " << i;
    EXPECT_EQ(got[i].second.scalar_type(), want[i].second.scalar_type()) << want[i].first;
    EXPECT_EQ(got[i].second.sizes(), want[i].second.sizes()) << want[i].first;
    EXPECT_TRUE(got[i].second.is_contiguous()) << want[i].first;
    // Bit-equal: compare the raw bytes, so that NaN payloads and -0.0 count too.
    auto a = got[i].second.contiguous(), b = want[i].second.contiguous();
    ASSERT_EQ(a.nbytes(), b.nbytes());
    EXPECT_EQ(std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()), 0) << want[i].first;
  }
}

// --- a minimal zip writer (STORED entries) and the pieces of a torch.save pickle -------------

uint32_t crc32(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char ch : s) {
    c ^= ch;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::vector<char> make_zip(const std::vector<std::pair<std::string, std::string>>& entries, int method = 0) {
  std::string out, central;
  for (const auto& [name, data] : entries) {
    const uint64_t offset = out.size();
    put(out, 0x04034b50, 4);
    put(out, 20, 2);
    put(out, 0, 2);
    put(out, method, 2);
    put(out, 0, 4);
    put(out, crc32(data), 4);
    put(out, data.size(), 4);
    put(out, data.size(), 4);
    put(out, name.size(), 2);
    put(out, 0, 2);
    out += name + data;
    put(central, 0x02014b50, 4);
    put(central, 20, 2);
    put(central, 20, 2);
    put(central, 0, 2);
    put(central, method, 2);
    put(central, 0, 4);
    put(central, crc32(data), 4);
    put(central, data.size(), 4);
    put(central, data.size(), 4);
    put(central, name.size(), 2);
    put(central, 0, 2 + 2 + 2 + 2 + 4);
    put(central, offset, 4);
    central += name;
  }
  const uint64_t cd_offset = out.size();
  out += central;
  put(out, 0x06054b50, 4);
  put(out, 0, 4);
  put(out, entries.size(), 2);
  put(out, entries.size(), 2);
  put(out, central.size(), 4);
  put(out, cd_offset, 4);
  put(out, 0, 2);
  return std::vector<char>(out.begin(), out.end());
}

std::string unicode(const std::string& s) {
  std::string out = "X";
  put(out, s.size(), 4);
  return out + s;
}

// _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False,
// OrderedDict()) exactly as torch.save writes it (without memo opcodes).
std::string tensor_pickle(const std::string& type, const std::string& key, int numel, int offset,
                          const std::vector<int>& size, const std::vector<int>& stride) {
  std::string p = "ctorch._utils\n_rebuild_tensor_v2\n((" + unicode("storage") + "ctorch\n" + type + "\n" +
                  unicode(key) + unicode("cpu") + "K" + std::string(1, static_cast<char>(numel)) + "tQ";
  p += "K" + std::string(1, static_cast<char>(offset));
  p += "(";
  for (int s : size) p += "K" + std::string(1, static_cast<char>(s));
  p += "t(";
  for (int s : stride) p += "K" + std::string(1, static_cast<char>(s));
  p += "t\x89"
       "ccollections\nOrderedDict\n)Rt"
       "R";
  return p;
}

std::string state_dict_pickle(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string p = "\x80\x02"
                  "ccollections\nOrderedDict\n)R(";
  for (const auto& [name, tensor] : items) p += unicode(name) + tensor;
  return p + "u.";
}

std::string float_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::string write_bytes(const std::string& dir, const std::string& name, const std::vector<char>& bytes) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

/// read_torch_state_dict_archive must throw IoError whose message starts with `path`.
void expect_io_error(const std::string& path, const std::vector<char>& bytes, const std::string& needle = "") {
  try {
    read_torch_state_dict_archive(path, bytes);
    ADD_FAILURE() << "no error for " << path << " (" << needle << ")";
  } catch (const IoError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << "expected '" << needle << "' in: " << what;
  }
}

/// Where an entry's data lies in an archive and where its CRC is in the central directory.
struct EntrySpot {
  size_t data = 0, size = 0, central_crc = 0;
};

EntrySpot find_entry(const std::vector<char>& z, const std::string& name) {
  auto u = [&](size_t p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(z[p + i]);
    return v;
  };
  for (size_t p = 0; p + 46 < z.size(); ++p) {
    if (u(p, 4) != 0x02014b50 || std::string(&z[p + 46], u(p + 28, 2)) != name) continue;
    const size_t local = u(p + 42, 4);
    return {local + 30 + u(local + 26, 2) + u(local + 28, 2), static_cast<size_t>(u(p + 24, 4)), p + 16};
  }
  ADD_FAILURE() << "no entry " << name;
  return {};
}

void fix_crc(std::vector<char>& z, const EntrySpot& e) {
  const uint32_t crc = crc32(std::string(&z[e.data], e.size));
  for (int i = 0; i < 4; ++i) z[e.central_crc + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
}

// --- the mbank fixtures -------------------------------------------------------------------------

class TorchArchive : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchArchive, OrderedDictFileHoldsTheDictFilesTensors) {
  const std::string path = test::data_path(GetParam() + ".weights.zip");
  const auto want = plain_dict(GetParam());
  expect_same(read_torch_state_dict_archive(path, read_file(path)), want);
  expect_same(read_weights(path, ""), want);
  // Python's plain-dict files are in the same subset.
  const std::string dict_path = test::data_path(GetParam() + ".weights-dict.pt");
  expect_same(read_torch_state_dict_archive(dict_path, read_file(dict_path)), want);
}

TEST_P(TorchArchive, FlowFromTheOrderedDictFileReproducesTheFixture) {
  auto value = torch::pickle_load(read_file(test::data_path(GetParam() + ".fixture.pt")));
  std::map<std::string, torch::Tensor> fx;
  for (const auto& e : value.toGenericDict()) fx[e.key().toStringRef()] = e.value().toTensor();
  auto f = flow::flow_from_state(read_weights(test::data_path(GetParam() + ".weights.zip"), ""), torch::kFloat32);
  torch::NoGradGuard g;
  EXPECT_LT(test::max_rel_error(f->log_prob(fx["x"]), fx["log_prob32"]), 1e-5);
}

TEST_P(TorchArchive, EveryTruncationIsAnIoErrorNamingTheFile) {
  const std::string path = test::data_path(GetParam() + ".weights.zip");
  const auto bytes = read_file(path);
  // Every cut for the small model, a spread of cuts (dense near both ends) for the others.
  const size_t step = GetParam() == "std_D1_L1_H1" ? 1 : 37;
  std::vector<size_t> cuts;
  for (size_t n = 0; n < bytes.size(); n += step) cuts.push_back(n);
  for (size_t k = 1; k <= 200 && k <= bytes.size(); ++k) cuts.push_back(bytes.size() - k);
  for (size_t n : cuts) {
    expect_io_error(path, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
  }
}

TEST_P(TorchArchive, CorruptedPickleByteIsAnIoError) {
  const std::string path = test::data_path(GetParam() + ".weights.zip");
  auto bytes = read_file(path);
  const std::string prefix = GetParam() + ".weights";
  const auto pkl = find_entry(bytes, prefix + "/data.pkl");
  bytes[pkl.data + pkl.size / 2] ^= 0x5A;
  expect_io_error(path, bytes, "CRC-32 mismatch");
}

INSTANTIATE_TEST_SUITE_P(Models, TorchArchive, ::testing::ValuesIn(kModels), [](const auto& info) {
  std::string n = info.param;
  for (auto& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return n;
});

TEST(TorchArchiveFuzz, AnyPickleByteChangedWithAValidCrcNeverCrashes) {
  // Past the CRC, the unpickler itself sees every damaged byte: each change either still reads
  // (e.g. a different key) or is an IoError naming the file; nothing else may escape or crash.
  const std::string path = test::data_path("std_D1_L1_H1.weights.zip");
  const auto original = read_file(path);
  const auto pkl = find_entry(original, "std_D1_L1_H1.weights/data.pkl");
  const unsigned char values[] = {0x00, 0xFF, 0x01, 0x80, 0x7F, 0x28, 0x71};
  int errors = 0;
  for (size_t i = 0; i < pkl.size; ++i) {
    auto bytes = original;
    char& b = bytes[pkl.data + i];
    b = static_cast<char>(values[i % 7] == static_cast<unsigned char>(b) ? ~values[i % 7] : values[i % 7]);
    fix_crc(bytes, pkl);
    try {
      read_torch_state_dict_archive(path, bytes);
    } catch (const IoError& e) {
      ++errors;
      ASSERT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    }
  }
  EXPECT_GT(errors, 100);
}

// --- the writer: torch.save's bytes ------------------------------------------------------------

int64_t infer_architecture_dim(const flow::NamedTensors& state) { return flow::infer_architecture(state).dim; }

/// The records of a zip, in file order, with their contents (through the strict reader).
std::vector<std::pair<std::string, std::string>> records(const std::string& label, const std::vector<char>& zip) {
  const ZipReader reader(label, zip);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : reader.entries()) out.emplace_back(e.name, std::string(reader.contents(e)));
  return out;
}

TEST_P(TorchArchive, WriterReproducesTorchSaveOfMbanksStateDictByteForByte) {
  // The fixtures are mbank's own torch.save(flow.state_dict()) (torch 1.13): an OrderedDict with
  // `_metadata` over storages 0..n-1, each NaiveLinear weight column-major. gwflow's writer, given
  // the same values in mbank's layout and the module list of that architecture, must write the
  // same pickle and the same storage bytes.
  const std::string path = test::data_path(GetParam() + ".weights.zip");
  const auto original = read_file(path);
  const auto state = read_torch_state_dict_archive(path, original);
  const std::string name = GetParam() + ".weights";
  const auto written = write_torch_state_dict_archive(name, as_mbank_layout(state),
                                                      flow::torch_module_names(flow::infer_architecture(state)));
  std::map<std::string, std::string> want;
  for (auto& [n, data] : records(path, original)) want[n] = data;
  int compared = 0;
  for (const auto& [n, data] : records("written", written)) {
    if (n == name + "/data.pkl" || n.rfind(name + "/data/", 0) == 0 || n == name + "/version") {
      ASSERT_TRUE(want.count(n)) << n;
      EXPECT_TRUE(data == want[n]) << n << " differs from torch.save's";
      ++compared;
    }
  }
  EXPECT_EQ(compared, static_cast<int>(state.size()) + 2);
  expect_same(read_torch_state_dict_archive("written", written), state);
  // Without mbank's layout the NaiveLinear weights (D > 1) would be written row-major: the check
  // above can fail.
  if (infer_architecture_dim(state) > 1) {
    const auto row_major =
        write_torch_state_dict_archive(name, state, flow::torch_module_names(flow::infer_architecture(state)));
    EXPECT_NE(records("row-major", row_major)[0].second, want[name + "/data.pkl"]);
  }
}

TEST(TorchArchiveWriter, LaysOutRecordsAsTorch2Does) {
  // torch 2.x: data.pkl, .format_version, .storage_alignment, byteorder, data/<k>, version,
  // .data/serialization_id; every record's data 64-byte aligned; deterministic bytes.
  torch::manual_seed(3);
  flow::Flow f(flow::Architecture{3, {4, 2}, true}, torch::kFloat32);
  const auto state = f->state_dict();
  const auto modules = flow::torch_module_names(f->architecture());
  const auto zip = write_torch_state_dict_archive("w", state, modules);
  EXPECT_EQ(zip, write_torch_state_dict_archive("w", state, modules));
  const ZipReader reader("w.zip", zip);
  std::vector<std::string> names;
  for (const auto& e : reader.entries()) {
    names.push_back(e.name);
    EXPECT_EQ(e.offset % 64, 0u) << e.name;
  }
  std::vector<std::string> want = {"w/data.pkl", "w/.format_version", "w/.storage_alignment", "w/byteorder"};
  for (size_t i = 0; i < state.size(); ++i) want.push_back("w/data/" + std::to_string(i));
  want.push_back("w/version");
  want.push_back("w/.data/serialization_id");
  EXPECT_EQ(names, want);
  EXPECT_EQ(reader.contents(*reader.find("w/byteorder")), "little");
  EXPECT_EQ(reader.contents(*reader.find("w/.format_version")), "1");
  EXPECT_EQ(reader.contents(*reader.find("w/version")), "3\n");
  const auto id = reader.contents(*reader.find("w/.data/serialization_id"));
  EXPECT_EQ(id.size(), 40u);
  EXPECT_EQ(id.find_first_not_of("0123456789"), std::string_view::npos);
  expect_same(read_torch_state_dict_archive("w.zip", zip), state);
}

/// The globals a protocol-2 pickle names, by walking every opcode the writer may emit; an opcode
/// outside that set fails the test (so a new construct must be added here, and checked).
std::vector<std::string> pickle_globals(const std::string& p) {
  std::vector<std::string> out;
  size_t i = 0;
  auto le = [&](size_t at, int n) {
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(p.at(at + k));
    return v;
  };
  while (i < p.size()) {
    const auto op = static_cast<unsigned char>(p[i++]);
    switch (op) {
    case 0x80: i += 1; break;  // PROTO
    case 'c': {                // GLOBAL
      const size_t a = p.find('\n', i), b = p.find('\n', a + 1);
      out.push_back(p.substr(i, a - i) + "." + p.substr(a + 1, b - a - 1));
      i = b + 1;
      break;
    }
    case 'X': i += 4 + le(i, 4); break;  // BINUNICODE
    case 'q':
    case 'h':
    case 'K': i += 1; break;  // BINPUT BINGET BININT1
    case 'r':
    case 'j':
    case 'J': i += 4; break;              // LONG_BINPUT LONG_BINGET BININT
    case 'M': i += 2; break;              // BININT2
    case 0x8a: i += 1 + le(i, 1); break;  // LONG1
    case '(':
    case ')':
    case 't':
    case 0x85:
    case 0x86:
    case 0x87:
    case 'Q':
    case 'R':
    case 'u':
    case 's':
    case '}':
    case 'b':
    case 0x89: break;
    case '.': EXPECT_EQ(i, p.size()) << "bytes after STOP"; return out;
    default:
      ADD_FAILURE() << "opcode 0x" << std::hex << static_cast<int>(op) << " at " << std::dec << i - 1;
      return out;
    }
  }
  ADD_FAILURE() << "no STOP";
  return out;
}

TEST(TorchArchiveWriter, UsesOnlyGlobalsOnTorchsWeightsOnlyAllowlist) {
  // torch.load(weights_only=True) (the default since torch 2.6) refuses any other global. The
  // allowlist below is the subset of torch 2.15's torch._weights_only_unpickler._get_allowed_globals()
  // that a dict of tensors can need; the interop test loads the files with the real torch.
  const std::set<std::string> allowed = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                         "torch.FloatStorage",      "torch.DoubleStorage",
                                         "torch.HalfStorage",       "torch.BFloat16Storage",
                                         "torch.LongStorage",       "torch.IntStorage",
                                         "torch.ShortStorage",      "torch.CharStorage",
                                         "torch.ByteStorage"};
  flow::Flow f(flow::Architecture{2, {3, 3}, true}, torch::kFloat64);
  auto state = f->state_dict();
  state.emplace_back("extra_int32", torch::arange(5, torch::kInt32));
  state.emplace_back("extra_half", torch::ones({2, 2}, torch::kFloat16));
  state.emplace_back("extra_u8", torch::ones({3}, torch::kUInt8));
  const auto zip = write_torch_state_dict_archive("w", state, flow::torch_module_names(f->architecture()));
  const ZipReader reader("w.zip", zip);
  const auto globals = pickle_globals(std::string(reader.contents(*reader.find("w/data.pkl"))));
  EXPECT_GE(globals.size(), 6u);
  for (const auto& g : globals) EXPECT_TRUE(allowed.count(g)) << g << " is not on torch's weights_only allowlist";
  expect_same(read_torch_state_dict_archive("w.zip", zip), state);
}

TEST(TorchArchiveWriter, LargeIntegersAndManyTensorsUseTheLongOpcodes) {
  // More than 256 memo entries (LONG_BINPUT/LONG_BINGET) and sizes past 255 and 65535.
  flow::NamedTensors state;
  for (int i = 0; i < 120; ++i) state.emplace_back("t" + std::to_string(i), torch::full({2}, i, torch::kFloat32));
  state.emplace_back("big", torch::zeros({70000}, torch::kFloat32));
  state.emplace_back("scalar", torch::tensor(2.5, torch::kFloat64));
  state.emplace_back("empty", torch::zeros({0, 3}, torch::kFloat32));
  const auto zip = write_torch_state_dict_archive("w", state, {"", "a"});
  expect_same(read_torch_state_dict_archive("w.zip", zip), state);
}

TEST(TorchArchiveFormat, ReadsGwflow01WeightsFiles) {
  // gwflow 0.1 wrote weights with LibTorch's pickle_save (a dict wrapped in
  // torch.jit._pickle.restore_type_tag, and a .data/version record); users' runs keep loading.
  const auto dir = test::scratch_dir("torch_archive_own");
  torch::manual_seed(3);
  flow::Flow f(flow::Architecture{3, {4, 2}, true}, torch::kFloat64);
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : f->state_dict()) dict.insert(name, t.detach().clone());
  const auto bytes = torch::pickle_save(c10::IValue(dict));
  expect_same(read_torch_state_dict_archive("old.zip", bytes), f->state_dict());
}

TEST(TorchArchiveFormat, RecordsOutsideTorchSavesSetAreRefused) {
  const std::string pkl = state_dict_pickle({{"a", tensor_pickle("FloatStorage", "0", 2, 0, {2}, {1})}});
  const std::string data = float_bytes({1, 2});
  auto with = [&](const std::string& name, const std::string& value) {
    return make_zip({{"w/data.pkl", pkl}, {"w/data/0", data}, {name, value}});
  };
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"w/.format_version", "1"},
                                                        {"w/.storage_alignment", "64"},
                                                        {"w/byteorder", "little"},
                                                        {"w/version", "3\n"},
                                                        {"w/.data/serialization_id", "0123"},
                                                        {"w/.data/version", "6"}}) {
    EXPECT_EQ(read_torch_state_dict_archive("ok.zip", with(name, value)).size(), 1u) << name;
  }
  expect_io_error("extra.zip", with("w/code/model.py", "x"), "unexpected record 'w/code/model.py'");
  expect_io_error("outside.zip", with("v/data/1", "x"), "not in the archive's folder 'w/'");
  expect_io_error("format.zip", with("w/.format_version", "2"), "'w/.format_version' holds '2', expected 1");
  expect_io_error("version.zip", with("w/version", "99\n"), "expected 1 to 10");
  expect_io_error("big.zip", with("w/byteorder", "big"), "only little-endian");
}

TEST(Weights, ErrorsNameTheConfigKeyAndTheFile) {
  const auto dir = test::scratch_dir("weights_key");
  for (const std::string key : {"model.init", "sample.weights"}) {
    try {
      read_weights(dir + "/missing.zip", key);
      FAIL();
    } catch (const IoError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(key + " = " + dir + "/missing.zip: ", 0), 0u) << e.what();
    }
  }
  // One flipped bit in a tensor record is a CRC error naming the key and the file.
  torch::manual_seed(4);
  flow::Flow f(flow::Architecture{2, {3}, false}, torch::kFloat32);
  const std::string path = dir + "/w.zip";
  write_weights(path, f->state_dict());
  auto bytes = read_file(path);
  const auto spot = find_entry(bytes, "w/data/3");
  bytes[spot.data + 1] ^= 0x04;
  const std::string flipped = write_bytes(dir, "flipped.zip", bytes);
  try {
    read_weights(flipped, "logprob.weights");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()),
              "logprob.weights = " + flipped + ": zip record 'w/data/3' is corrupt (CRC-32 mismatch)");
  }
}

// --- hand-made archives ------------------------------------------------------------------------

TEST(TorchArchiveFormat, RebuildsOffsetsAndStridesAsContiguousTensors) {
  // One storage [0..5] shared by a transposed 2x2 view at offset 1 and a 1-D slice [4, 5].
  const std::string pkl = state_dict_pickle({{"t", tensor_pickle("FloatStorage", "0", 6, 1, {2, 2}, {1, 2})},
                                             {"s", tensor_pickle("FloatStorage", "0", 6, 4, {2}, {1})},
                                             {"d", tensor_pickle("DoubleStorage", "1", 1, 0, {}, {})},
                                             {"l", tensor_pickle("LongStorage", "2", 2, 0, {2}, {1})}});
  const int64_t longs[2] = {-3, 1LL << 40};
  const double one_third = 1.0 / 3;
  const auto zip = make_zip({{"w/data.pkl", pkl},
                             {"w/data/0", float_bytes({0, 1, 2, 3, 4, 5})},
                             {"w/data/1", std::string(reinterpret_cast<const char*>(&one_third), 8)},
                             {"w/data/2", std::string(reinterpret_cast<const char*>(longs), 16)},
                             {"w/byteorder", "little"}});
  const auto out = read_torch_state_dict_archive("hand.zip", zip);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].first, "t");
  EXPECT_TRUE(torch::equal(out[0].second, torch::tensor({{1.f, 3.f}, {2.f, 4.f}})));
  EXPECT_TRUE(out[0].second.is_contiguous());
  EXPECT_EQ(out[1].first, "s");
  EXPECT_TRUE(torch::equal(out[1].second, torch::tensor({4.f, 5.f})));
  EXPECT_EQ(out[2].second.dim(), 0);
  EXPECT_EQ(out[2].second.scalar_type(), torch::kFloat64);
  EXPECT_EQ(out[2].second.item<double>(), one_third);
  EXPECT_EQ(out[3].second.scalar_type(), torch::kInt64);
  EXPECT_EQ(out[3].second[1].item<int64_t>(), 1LL << 40);
  EXPECT_EQ(out[3].second[0].item<int64_t>(), -3);
  // The views do not share memory with each other.
  EXPECT_NE(out[0].second.data_ptr(), out[1].second.data_ptr());
}

TEST(TorchArchiveFormat, DamagedOrForeignArchivesAreIoErrorsNamingTheFile) {
  const auto dir = test::scratch_dir("torch_archive");
  const std::string good_pkl = state_dict_pickle({{"a", tensor_pickle("FloatStorage", "0", 2, 0, {2}, {1})}});
  const std::string data = float_bytes({1, 2});
  auto with_pickle = [&](const std::string& pkl) { return make_zip({{"w/data.pkl", pkl}, {"w/data/0", data}}); };
  ASSERT_EQ(read_torch_state_dict_archive("ok.zip", with_pickle(good_pkl)).size(), 1u);

  std::vector<char> text = {'n', 'o', 't', ' ', 'a', ' ', 'z', 'i', 'p'};
  expect_io_error("plain.txt", text, "no zip header");
  std::vector<char> long_text(5000, 'x');
  long_text[0] = 'P';
  long_text[1] = 'K';
  expect_io_error("long.txt", long_text, "no end-of-central-directory record");
  expect_io_error("short.txt", {'P', 'K', 3, 4}, "not a zip archive (too short");
  expect_io_error("nopkl.zip", make_zip({{"w/data/0", data}}), "no w/data.pkl record");
  expect_io_error("flat.zip", make_zip({{"data.pkl", good_pkl}}), "not inside a folder");
  expect_io_error("empty.zip", make_zip({}), "empty zip archive");
  expect_io_error("deflated.zip", make_zip({{"w/data.pkl", good_pkl}, {"w/data/0", data}}, 8), "compressed");
  expect_io_error("nostorage.zip", make_zip({{"w/data.pkl", good_pkl}}), "missing storage record 'w/data/0'");
  expect_io_error("short.zip", make_zip({{"w/data.pkl", good_pkl}, {"w/data/0", data.substr(0, 6)}}),
                  "holds 6 bytes, expected 2 x 4");
  expect_io_error("bigendian.zip", make_zip({{"w/data.pkl", good_pkl}, {"w/data/0", data}, {"w/byteorder", "big"}}),
                  "only little-endian");
  // The pickle itself.
  expect_io_error("global.zip",
                  with_pickle("\x80\x02"
                              "cos\nsystem\n."),
                  "unsupported global 'os.system'");
  expect_io_error("opcode.zip",
                  with_pickle("\x80\x02"
                              "I1\n."),
                  "unsupported pickle opcode 0x49");
  expect_io_error("proto.zip",
                  with_pickle("\x80\x05"
                              "}."),
                  "unsupported pickle protocol 5");
  expect_io_error("nostop.zip", with_pickle(good_pkl.substr(0, good_pkl.size() - 1)), "truncated pickle");
  expect_io_error("trailing.zip", with_pickle(good_pkl + "N"), "bytes after the pickle's STOP");
  expect_io_error("underflow.zip",
                  with_pickle("\x80\x02"
                              "R."),
                  "stack underflow");
  expect_io_error("memo.zip",
                  with_pickle("\x80\x02"
                              "h\x07."),
                  "memo entry 7");
  expect_io_error("notdict.zip",
                  with_pickle("\x80\x02"
                              "]."),
                  "does not hold a dict of tensors");
  expect_io_error("emptydict.zip",
                  with_pickle("\x80\x02"
                              "}."),
                  "empty dict");
  expect_io_error("notensor.zip",
                  with_pickle("\x80\x02"
                              "}" +
                              unicode("a") + "K\x01s."),
                  "'a' is not a tensor");
  expect_io_error("huge.zip", with_pickle("\x80\x02\x8a\x09" + std::string(9, '\x01') + "."), "64 bits");
  expect_io_error("outside.zip",
                  with_pickle(state_dict_pickle({{"a", tensor_pickle("FloatStorage", "0", 2, 1, {2}, {1})}})),
                  "past the end of its storage");
  expect_io_error("stride.zip",
                  with_pickle(state_dict_pickle({{"a", tensor_pickle("FloatStorage", "0", 2, 0, {2, 2}, {1, 0})}})),
                  "more elements than its storage");
  expect_io_error("mixed.zip",
                  with_pickle(state_dict_pickle({{"a", tensor_pickle("FloatStorage", "0", 2, 0, {2}, {1})},
                                                 {"b", tensor_pickle("LongStorage", "0", 1, 0, {1}, {1})}})),
                  "two different types or sizes");

  // Through read_weights, from files: a zip without data.pkl and a non-zip both name the file.
  const std::string nopkl = write_bytes(dir, "nopkl.zip", make_zip({{"w/data/0", data}}));
  EXPECT_THROW(read_weights(nopkl, ""), IoError);
  const std::string junk = write_bytes(dir, "junk.zip", text);
  try {
    read_weights(junk, "");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(junk, 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace gwflow::io
