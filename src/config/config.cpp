#include "gwflow/config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "gwflow/errors.hpp"

namespace gwflow::config {
namespace {

// Upper bounds that catch typos before they become a 24 GB allocation or 10 000 threads.
constexpr int64_t kMaxWidth = 65536, kMaxLayers = 1024, kMaxThreads = 4096;
constexpr int64_t kMaxRows = int64_t{1} << 50, kMaxBlock = int64_t{1} << 26;

std::string where(const toml::source_region& src) {
  std::ostringstream s;
  s << (src.path ? *src.path : std::string("<config>")) << ":" << src.begin.line << ":" << src.begin.column;
  return s.str();
}

/// Reads one TOML table key by key; keys never read are reported by finish().
class Section {
 public:
  Section(const toml::table* table, std::string name) : table_(table), name_(std::move(name)) {}

  bool has(const std::string& key) const { return table_ && table_->contains(key); }

  void read(const std::string& key, int64_t& out, int64_t min_value,
            int64_t max_value = std::numeric_limits<int64_t>::max()) {
    if (auto* n = node(key)) {
      if (!n->is_integer()) fail(key, *n, "must be an integer");
      out = n->as_integer()->get();
      if (out < min_value) fail(key, *n, "must be >= " + std::to_string(min_value));
      if (out > max_value) fail(key, *n, "must be <= " + std::to_string(max_value));
    }
  }
  void read(const std::string& key, double& out) {
    if (auto* n = node(key)) {
      if (n->is_integer()) {
        out = static_cast<double>(n->as_integer()->get());
      } else if (n->is_floating_point()) {
        out = n->as_floating_point()->get();
      } else {
        fail(key, *n, "must be a number");
      }
      if (!std::isfinite(out)) fail(key, *n, "must be a finite number");
    }
  }
  void read(const std::string& key, bool& out) {
    if (auto* n = node(key)) {
      if (!n->is_boolean()) fail(key, *n, "must be true or false");
      out = n->as_boolean()->get();
    }
  }
  void read(const std::string& key, std::string& out, const std::set<std::string>& allowed = {}) {
    if (auto* n = node(key)) {
      if (!n->is_string()) fail(key, *n, "must be a string");
      out = n->as_string()->get();
      if (out.empty() && allowed.empty() && !may_be_empty_.count(key)) fail(key, *n, "must not be empty");
      if (!allowed.empty() && !allowed.count(out)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "\"" : ", \"") + a + "\"";
        fail(key, *n, "is \"" + out + "\"; expected one of " + list);
      }
    }
  }
  void read(const std::string& key, DatasetRef& out) {
    if (auto* n = node(key)) {
      if (!n->is_string()) fail(key, *n, "must be a string \"FILE.h5:/path\"");
      try {
        out = parse_dataset_ref(n->as_string()->get(), qualified(key));
      } catch (const ConfigError& e) {
        throw ConfigError(where(n->source()) + ": " + e.what());
      }
    }
  }
  /// An int (repeated `n` times later) or a list of ints.
  void read(const std::string& key, std::vector<int64_t>& out) {
    if (auto* n = node(key)) {
      out.clear();
      if (n->is_integer()) {
        out.push_back(n->as_integer()->get());
      } else if (auto* arr = n->as_array()) {
        for (auto& e : *arr) {
          if (!e.is_integer()) fail(key, e, "must be an integer or a list of integers");
          out.push_back(e.as_integer()->get());
        }
        if (out.empty()) fail(key, *n, "must not be an empty list");
      } else {
        fail(key, *n, "must be an integer or a list of integers");
      }
      for (int64_t v : out) {
        if (v < 1) fail(key, *n, "widths must be >= 1");
        if (v > kMaxWidth) fail(key, *n, "widths must be <= " + std::to_string(kMaxWidth));
      }
    }
  }
  /// A list of distinct, non-empty, printable strings.
  void read(const std::string& key, std::vector<std::string>& out) {
    if (auto* n = node(key)) {
      auto* arr = n->as_array();
      if (!arr || arr->empty()) fail(key, *n, "must be a non-empty list of strings");
      out.clear();
      for (auto& e : *arr) {
        if (!e.is_string()) fail(key, e, "must be a list of strings");
        const std::string v = e.as_string()->get();
        bool printable = !v.empty() && v.size() <= 256;
        for (unsigned char c : v) printable = printable && c >= 0x20 && c != 0x7f;
        if (!printable) fail(key, e, "entries must be non-empty printable names (at most 256 bytes)");
        if (std::find(out.begin(), out.end(), v) != out.end()) fail(key, e, "has '" + v + "' twice");
        out.push_back(v);
      }
    }
  }
  void read(const std::string& key, std::optional<Box>& out) {
    if (auto* n = node(key)) {
      auto* arr = n->as_array();
      const char* shape = "must be [[lo_1, ..., lo_D], [hi_1, ..., hi_D]]";
      if (!arr || arr->size() != 2) fail(key, *n, shape);
      Box box;
      for (int side = 0; side < 2; ++side) {
        auto* row = (*arr)[side].as_array();
        if (!row || row->empty()) fail(key, *n, shape);
        auto& dst = side == 0 ? box.low : box.high;
        for (auto& e : *row) {
          if (e.is_integer()) {
            dst.push_back(static_cast<double>(e.as_integer()->get()));
          } else if (e.is_floating_point()) {
            dst.push_back(e.as_floating_point()->get());
          } else {
            fail(key, e, shape);
          }
          if (!std::isfinite(dst.back())) fail(key, e, "bounds must be finite");
        }
      }
      if (box.low.size() != box.high.size()) fail(key, *n, "low and high must have the same length");
      for (size_t d = 0; d < box.low.size(); ++d) {
        if (!(box.high[d] > box.low[d])) fail(key, *n, "high must exceed low in dimension " + std::to_string(d));
      }
      out = box;
    }
  }

  /// Throws for the first key that was never read.
  void finish() const {
    if (!table_) return;
    for (auto&& [k, v] : *table_) {
      if (!read_.count(std::string(k.str()))) {
        // A key added by --set has no place in the file: name the --set argument instead.
        throw ConfigError(where(k.source().path ? k.source() : v.source()) + ": unknown key '" +
                          qualified(std::string(k.str())) + "'");
      }
    }
  }

  [[noreturn]] void fail(const std::string& key, const toml::node& n, const std::string& msg) const {
    throw ConfigError(where(n.source()) + ": " + qualified(key) + " " + msg);
  }
  std::string qualified(const std::string& key) const { return name_ + "." + key; }
  /// String keys that may be given as "" (all others, paths above all, must not be empty).
  void allow_empty(const std::string& key) { may_be_empty_.insert(key); }

 private:
  const toml::node* node(const std::string& key) {
    read_.insert(key);
    return table_ ? table_->get(key) : nullptr;
  }
  const toml::table* table_;
  std::string name_;
  std::set<std::string> read_;
  std::set<std::string> may_be_empty_;
};

void apply_override(toml::table& root, const std::string& arg) {
  const auto eq = arg.find('=');
  const std::string what = "--set " + arg;
  if (eq == std::string::npos) throw ConfigError(what + ": expected section.key=VALUE");
  const std::string path = arg.substr(0, eq), value = arg.substr(eq + 1);
  const auto dot = path.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == path.size() || path.find('.', dot + 1) != std::string::npos) {
    throw ConfigError(what + ": expected section.key=VALUE");
  }
  const std::string section = path.substr(0, dot), key = path.substr(dot + 1);
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value, what);
  } catch (const toml::parse_error&) {
    // Shells strip quotes: --set output.dir="runs/a" arrives as output.dir=runs/a.
    std::string quoted = "\"";
    for (char ch : value) {
      if (ch == '"' || ch == '\\') quoted += '\\';
      quoted += ch;
    }
    try {
      parsed = toml::parse("v = " + quoted + "\"", what);
    } catch (const toml::parse_error& e) {
      throw ConfigError(what + ": " + std::string(e.description()));
    }
  }
  auto* sec = root.get(section);
  if (!sec) {
    root.insert_or_assign(section, toml::table{});
    sec = root.get(section);
  }
  if (!sec->is_table()) throw ConfigError(what + ": '" + section + "' is not a section");
  sec->as_table()->insert_or_assign(key, std::move(*parsed.get("v")));
}

void check_dtype_backend(Section& s, std::string& dtype, std::string& backend, std::string& device) {
  s.read("dtype", dtype, {"float32", "float64"});
  s.read("backend", backend, {"torch", "kokkos"});
  s.read("device", device, {"cpu", "cuda"});
}

}  // namespace

DatasetRef parse_dataset_ref(const std::string& text, const std::string& what) {
  const auto colon = text.rfind(":/");
  if (colon == std::string::npos || colon == 0) {
    throw ConfigError(what + " = \"" + text + "\": expected \"FILE.h5:/path/in/file\"");
  }
  return {text.substr(0, colon), text.substr(colon + 1)};
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw ConfigError(path + ": is a directory, not a config file");
    if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
      throw ConfigError(path + ": is not a regular file");
    std::ifstream probe(path);
    if (!probe) throw ConfigError(path + ": cannot open the config file");
  }
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw ConfigError(where(e.source()) + ": " + std::string(e.description()));
  }
  for (const auto& o : overrides) apply_override(root, o);

  static const std::set<std::string> kSections = {"data", "model", "training", "output", "sample", "logprob"};
  for (auto&& [k, v] : root) {
    const std::string name(k.str());
    if (!kSections.count(name)) {
      const auto* first = v.is_table() && !v.as_table()->empty() ? &v.as_table()->begin()->second : nullptr;
      const auto& src = k.source().path || !first ? k.source() : first->source();
      throw ConfigError(where(src) + ": unknown section '" + name + "'");
    }
    if (!v.is_table()) throw ConfigError(where(v.source()) + ": '" + name + "' must be a [section]");
  }
  auto table = [&](const char* name) { return root.get_as<toml::table>(name); };

  Config c;
  c.source = path;
  {
    Section s(table("data"), "data");
    s.read("train", c.data.train);
    s.read("weights", c.data.weights);
    s.read("validation", c.data.validation);
    s.read("validation_weights", c.data.validation_weights);
    s.read("validation_fraction", c.data.validation_fraction);
    s.read("boundaries", c.data.boundaries);
    s.read("columns", c.data.columns);
    if (!(c.data.validation_fraction > 0 && c.data.validation_fraction < 1)) {
      throw ConfigError("data.validation_fraction must be in (0, 1)");
    }
    s.finish();
  }
  {
    Section s(table("model"), "model");
    s.read("n_layers", c.model.n_layers, 1, kMaxLayers);
    bool hidden_given = s.has("hidden_features");
    s.read("hidden_features", c.model.hidden_features);
    s.read("constant", c.model.constant);
    s.read("dtype", c.model.dtype, {"float32", "float64"});
    s.allow_empty("init");  // "" = random initialisation
    s.read("init", c.model.init);
    s.finish();
    auto& h = c.model.hidden_features;
    if (h.size() == 1) {
      h.assign(c.model.n_layers, h[0]);
    } else if (static_cast<int64_t>(h.size()) != c.model.n_layers) {
      throw ConfigError(std::string(hidden_given ? "" : "default ") + "model.hidden_features has " +
                        std::to_string(h.size()) + " widths but model.n_layers = " + std::to_string(c.model.n_layers));
    }
  }
  {
    Section s(table("training"), "training");
    s.read("loss", c.training.loss, {"forward_KL", "ll_mse", "weighted_ll_mse"});
    s.read("iterations", c.training.iterations, 0);
    s.read("batch_size", c.training.batch_size, 0);
    s.read("learning_rate", c.training.learning_rate);
    s.read("validation_step", c.training.validation_step, 1);
    s.read("seed", c.training.seed, 0);
    s.read("backend", c.training.backend, {"torch", "kokkos"});
    s.read("checkpoint_every", c.training.checkpoint_every, 0);
    s.read("restart", c.training.restart, {"off", "auto"});
    s.read("device", c.training.device, {"cpu", "cuda"});
    s.read("reducer", c.training.reducer, {"auto", "mpi", "nccl"});
    s.read("threads", c.training.threads, 0, kMaxThreads);
    s.read("lr_scheduler", c.training.lr_scheduler, {"none", "plateau"});
    s.read("lr_factor", c.training.lr_factor);
    s.read("lr_patience", c.training.lr_patience, 0);
    s.read("lr_threshold", c.training.lr_threshold);
    s.read("lr_cooldown", c.training.lr_cooldown, 0);
    s.read("min_lr", c.training.min_lr);
    s.read("early_stopping", c.training.early_stopping);
    s.read("patience", c.training.patience, 1);
    s.read("min_delta", c.training.min_delta);
    if (!(c.training.lr_factor > 0 && c.training.lr_factor < 1))
      throw ConfigError("training.lr_factor must be in (0, 1)");
    if (!(c.training.learning_rate > 0)) throw ConfigError("training.learning_rate must be > 0");
    s.finish();
  }
  {
    Section s(table("output"), "output");
    s.read("dir", c.output.dir);
    s.finish();
  }
  {
    Section s(table("sample"), "sample");
    s.read("weights", c.sample.weights);
    s.read("n", c.sample.n, 0, kMaxRows);
    s.read("seed", c.sample.seed, 0);
    s.read("out", c.sample.out);
    s.read("boundaries", c.sample.boundaries);
    s.read("block_size", c.sample.block_size, 1, kMaxBlock);
    s.read("max_candidates", c.sample.max_candidates, 0);
    check_dtype_backend(s, c.sample.dtype, c.sample.backend, c.sample.device);
    s.finish();
  }
  {
    Section s(table("logprob"), "logprob");
    s.read("weights", c.logprob.weights);
    s.read("input", c.logprob.input);
    s.read("out", c.logprob.out);
    s.read("noise", c.logprob.noise);
    s.read("block_size", c.logprob.block_size, 1, kMaxBlock);
    check_dtype_backend(s, c.logprob.dtype, c.logprob.backend, c.logprob.device);
    s.finish();
  }
  return c;
}

std::string to_toml(const Config& c) {
  auto box = [](const std::optional<Box>& b) {
    toml::array a;
    if (b) {
      toml::array lo, hi;
      for (double v : b->low) lo.push_back(v);
      for (double v : b->high) hi.push_back(v);
      a.push_back(std::move(lo));
      a.push_back(std::move(hi));
    }
    return a;
  };
  toml::array hidden;
  for (auto h : c.model.hidden_features) hidden.push_back(h);
  toml::table data{{"validation_fraction", c.data.validation_fraction}};
  // Unset dataset keys are left out (an empty string is not a valid "FILE:/path").
  if (!c.data.train.empty()) data.insert("train", c.data.train.str());
  if (!c.data.weights.empty()) data.insert("weights", c.data.weights.str());
  if (!c.data.validation.empty()) data.insert("validation", c.data.validation.str());
  if (!c.data.validation_weights.empty()) data.insert("validation_weights", c.data.validation_weights.str());
  if (c.data.boundaries) data.insert("boundaries", box(c.data.boundaries));
  if (!c.data.columns.empty()) {
    toml::array columns;
    for (const auto& name : c.data.columns) columns.push_back(name);
    data.insert("columns", std::move(columns));
  }
  toml::table sample{{"weights", c.sample.weights},
                     {"n", c.sample.n},
                     {"seed", c.sample.seed},
                     {"out", c.sample.out},
                     {"dtype", c.sample.dtype},
                     {"backend", c.sample.backend},
                     {"device", c.sample.device},
                     {"block_size", c.sample.block_size},
                     {"max_candidates", c.sample.max_candidates}};
  if (c.sample.boundaries) sample.insert("boundaries", box(c.sample.boundaries));
  toml::table logprob{{"weights", c.logprob.weights}, {"out", c.logprob.out},
                      {"noise", c.logprob.noise},     {"dtype", c.logprob.dtype},
                      {"backend", c.logprob.backend}, {"block_size", c.logprob.block_size},
                      {"device", c.logprob.device}};
  if (!c.logprob.input.empty()) logprob.insert("input", c.logprob.input.str());
  toml::table root{{"data", data},
                   {"model", toml::table{{"n_layers", c.model.n_layers},
                                         {"hidden_features", hidden},
                                         {"constant", c.model.constant},
                                         {"dtype", c.model.dtype},
                                         {"init", c.model.init}}},
                   {"training", toml::table{{"loss", c.training.loss},
                                            {"iterations", c.training.iterations},
                                            {"batch_size", c.training.batch_size},
                                            {"learning_rate", c.training.learning_rate},
                                            {"validation_step", c.training.validation_step},
                                            {"seed", c.training.seed},
                                            {"backend", c.training.backend},
                                            {"checkpoint_every", c.training.checkpoint_every},
                                            {"restart", c.training.restart},
                                            {"device", c.training.device},
                                            {"reducer", c.training.reducer},
                                            {"threads", c.training.threads},
                                            {"lr_scheduler", c.training.lr_scheduler},
                                            {"lr_factor", c.training.lr_factor},
                                            {"lr_patience", c.training.lr_patience},
                                            {"lr_threshold", c.training.lr_threshold},
                                            {"lr_cooldown", c.training.lr_cooldown},
                                            {"min_lr", c.training.min_lr},
                                            {"early_stopping", c.training.early_stopping},
                                            {"patience", c.training.patience},
                                            {"min_delta", c.training.min_delta}}},
                   {"output", toml::table{{"dir", c.output.dir}}},
                   {"sample", sample},
                   {"logprob", logprob}};
  std::ostringstream s;
  s << root << "\n";
  return s.str();
}

}  // namespace gwflow::config
