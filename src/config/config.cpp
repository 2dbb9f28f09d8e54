#include "gwflow/config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "gwflow/errors.hpp"

namespace gwflow::config {
namespace {

std::string where(const toml::source_region& src) {
  std::ostringstream s;
  s << (src.path ? *src.path : std::string("<config>")) << ":" << src.begin.line << ":" << src.begin.column;
  return s.str();
}

/// Numbers as the user wrote them: 17 significant digits (the restart identity compares them).
std::string number_text(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

template <class T> constexpr bool is_number_v = std::is_same_v<T, int64_t> || std::is_same_v<T, double>;

/// `text` with control bytes shown as '?' (error messages echo it to a terminal).
std::string printable(std::string text) {
  for (char& ch : text) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  }
  return text;
}

/// Why `v` is outside `l`, or "" when it is inside.
std::string limit_violation(double v, const Limits& l) {
  if (l.min_open && l.max_open && !(v > l.min && v < l.max)) {
    return "must be in (" + number_text(l.min) + ", " + number_text(l.max) + ")";
  }
  if (l.min_open ? !(v > l.min) : v < l.min)
    return "must be " + std::string(l.min_open ? "> " : ">= ") + number_text(l.min);
  if (l.max_open ? !(v < l.max) : v > l.max)
    return "must be " + std::string(l.max_open ? "< " : "<= ") + number_text(l.max);
  return "";
}

/// The limits as the config reference states them: "in [1, 1024]", ">= 0", "in (0, 1)", ...
std::string limits_text(const Limits& l) {
  const bool has_min = std::isfinite(l.min), has_max = std::isfinite(l.max);
  if (has_min && has_max) {
    return std::string("in ") + (l.min_open ? "(" : "[") + number_text(l.min) + ", " + number_text(l.max) +
           (l.max_open ? ")" : "]");
  }
  if (has_min) return (l.min_open ? "> " : ">= ") + number_text(l.min);
  if (has_max) return (l.max_open ? "< " : "<= ") + number_text(l.max);
  return "";
}

/// Reads one key's TOML node into its member; every error names the key and the node's place.
class FieldReader {
 public:
  FieldReader(const toml::node& node, std::string key, const Limits& limits, unsigned flags)
      : node_(node), key_(std::move(key)), limits_(limits), flags_(flags) {}

  void read(int64_t& out) const {
    if (!node_.is_integer()) fail(node_, "must be an integer");
    out = node_.as_integer()->get();
    check_limits(node_, static_cast<double>(out));
  }
  void read(double& out) const {
    if (node_.is_integer()) {
      out = static_cast<double>(node_.as_integer()->get());
    } else if (node_.is_floating_point()) {
      out = node_.as_floating_point()->get();
    } else {
      fail(node_, "must be a number");
    }
    if (!std::isfinite(out)) fail(node_, "must be a finite number");
    check_limits(node_, out);
  }
  void read(bool& out) const {
    if (!node_.is_boolean()) fail(node_, "must be true or false");
    out = node_.as_boolean()->get();
  }
  void read(std::string& out) const {
    if (!node_.is_string()) fail(node_, "must be a string");
    out = node_.as_string()->get();
    if (out.empty() && !(flags_ & kMayBeEmpty)) fail(node_, "must not be empty");
  }
  template <class E, std::enable_if_t<is_choice<E>::value, int> = 0> void read(E& out) const {
    if (!node_.is_string()) fail(node_, "must be a string: " + choice_list<E>());
    const std::string text = node_.as_string()->get();
    const auto parsed = parse_choice<E>(text);
    if (!parsed) fail(node_, "is \"" + printable(text) + "\"; expected " + choice_list<E>());
    out = *parsed;
  }
  void read(DatasetRef& out) const {
    if (!node_.is_string()) fail(node_, "must be a string \"FILE.h5:/path\"");
    try {
      out = parse_dataset_ref(node_.as_string()->get(), key_);
    } catch (const ConfigError& e) {
      throw ConfigError(where(node_.source()) + ": " + e.what());
    }
  }
  /// An int (repeated model.n_layers times by validate()) or a non-empty list of ints.
  void read(std::vector<int64_t>& out) const {
    out.clear();
    if (node_.is_integer()) {
      out.push_back(node_.as_integer()->get());
    } else if (auto* arr = node_.as_array()) {
      for (auto& e : *arr) {
        if (!e.is_integer()) fail(e, "must be an integer or a list of integers");
        out.push_back(e.as_integer()->get());
      }
      if (out.empty()) fail(node_, "must not be an empty list");
    } else {
      fail(node_, "must be an integer or a list of integers");
    }
    for (int64_t v : out) {
      const std::string why = limit_violation(static_cast<double>(v), limits_);
      if (!why.empty()) fail(node_, "entries " + why);
    }
  }
  /// A list of distinct, non-empty, printable strings.
  void read(std::vector<std::string>& out) const {
    auto* arr = node_.as_array();
    if (!arr || arr->empty()) fail(node_, "must be a non-empty list of strings");
    out.clear();
    for (auto& e : *arr) {
      if (!e.is_string()) fail(e, "must be a list of strings");
      const std::string v = e.as_string()->get();
      bool printable = !v.empty() && v.size() <= 256;
      for (unsigned char c : v) printable = printable && c >= 0x20 && c != 0x7f;
      if (!printable) fail(e, "entries must be non-empty printable names (at most 256 bytes)");
      if (std::find(out.begin(), out.end(), v) != out.end()) fail(e, "has '" + v + "' twice");
      out.push_back(v);
    }
  }
  void read(std::optional<Box>& out) const {
    auto* arr = node_.as_array();
    const char* shape = "must be [[lo_1, ..., lo_D], [hi_1, ..., hi_D]]";
    if (!arr || arr->size() != 2) fail(node_, shape);
    Box box;
    for (int side = 0; side < 2; ++side) {
      auto* row = (*arr)[side].as_array();
      if (!row || row->empty()) fail(node_, shape);
      auto& dst = side == 0 ? box.low : box.high;
      for (auto& e : *row) {
        if (e.is_integer()) {
          dst.push_back(static_cast<double>(e.as_integer()->get()));
        } else if (e.is_floating_point()) {
          dst.push_back(e.as_floating_point()->get());
        } else {
          fail(e, shape);
        }
        if (!std::isfinite(dst.back())) fail(e, "bounds must be finite");
      }
    }
    if (box.low.size() != box.high.size()) fail(node_, "low and high must have the same length");
    for (size_t d = 0; d < box.low.size(); ++d) {
      if (!(box.high[d] > box.low[d])) fail(node_, "high must exceed low in dimension " + std::to_string(d));
    }
    out = box;
  }

 private:
  void check_limits(const toml::node& n, double v) const {
    const std::string why = limit_violation(v, limits_);
    if (!why.empty()) fail(n, why);
  }
  [[noreturn]] void fail(const toml::node& n, const std::string& msg) const {
    throw ConfigError(where(n.source()) + ": " + key_ + " " + msg);
  }
  const toml::node& node_;
  std::string key_;
  Limits limits_;
  unsigned flags_;
};

// ---- writing: one TOML value per member type; a member left unset is left out ----

template <class T> std::optional<toml::array> as_array(const std::vector<T>& values) {
  if (values.empty()) return std::nullopt;
  toml::array a;
  for (const auto& v : values) a.push_back(v);
  return a;
}

std::optional<toml::array> as_array(const std::optional<Box>& box) {
  if (!box) return std::nullopt;
  toml::array a;
  a.push_back(*as_array(box->low));
  a.push_back(*as_array(box->high));
  return a;
}

/// Inserts `member` under `key`, unless it is unset (an empty dataset reference is not a valid
/// "FILE:/path", so it is left out rather than written as "").
template <class T> void insert_value(toml::table& table, const char* key, const T& member) {
  if constexpr (is_choice<T>::value) {
    table.insert(key, std::string(name_of(member)));
  } else if constexpr (std::is_same_v<T, DatasetRef>) {
    if (!member.empty()) table.insert(key, member.str());
  } else if constexpr (std::is_same_v<T, std::optional<Box>> || std::is_same_v<T, std::vector<int64_t>> ||
                       std::is_same_v<T, std::vector<std::string>>) {
    if (auto a = as_array(member)) table.insert(key, std::move(*a));
  } else {
    table.insert(key, member);
  }
}

// ---- the config reference: defaults as a user would write them ----

/// The shortest decimal text that reads back as `v`.
std::string shortest_number(double v) {
  for (int digits = 1; digits < 17; ++digits) {
    std::ostringstream s;
    s.precision(digits);
    s << v;
    if (std::stod(s.str()) == v) return s.str();
  }
  return number_text(v);
}

/// A default value in TOML syntax, or "" when the field is unset by default.
template <class T> std::string default_text(const T& member) {
  if constexpr (is_choice<T>::value) {
    return std::string("\"") + name_of(member) + "\"";
  } else if constexpr (std::is_same_v<T, DatasetRef>) {
    return member.empty() ? "" : "\"" + member.str() + "\"";
  } else if constexpr (std::is_same_v<T, bool>) {
    return member ? "true" : "false";
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return std::to_string(member);
  } else if constexpr (std::is_same_v<T, double>) {
    return shortest_number(member);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "\"" + member + "\"";
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    std::string s;
    for (auto v : member) s += (s.empty() ? "" : ", ") + std::to_string(v);
    return member.size() == 1 ? s : "[" + s + "]";
  } else if constexpr (std::is_same_v<T, std::optional<Box>>) {
    return member ? "(a box)" : "";
  } else {
    static_assert(std::is_same_v<T, std::vector<std::string>>, "a member type without a default text");
    return member.empty() ? "" : "(a list)";
  }
}

// ---- the restart identity: one canonical text per member type ----

template <class T> std::string identity_text(const T& member) {
  if constexpr (is_choice<T>::value) {
    return name_of(member);
  } else if constexpr (std::is_same_v<T, DatasetRef>) {
    return member.empty() ? "" : member.str();
  } else if constexpr (std::is_same_v<T, bool>) {
    return member ? "true" : "false";
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return std::to_string(member);
  } else if constexpr (std::is_same_v<T, double>) {
    return number_text(member);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return member;
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    std::string s;
    for (auto v : member) s += std::to_string(v) + ",";
    return s;
  } else if constexpr (std::is_same_v<T, std::optional<Box>>) {
    std::string s;
    if (member) {
      for (double v : member->low) s += number_text(v) + ",";
      for (double v : member->high) s += number_text(v) + ",";
    }
    return s;
  } else {
    static_assert(std::is_same_v<T, std::vector<std::string>>, "a member type without an identity text");
    std::string s;
    for (const auto& v : member) s += v + ",";
    return s;
  }
}

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

toml::table parse_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ConfigError(path + ": is a directory, not a config file");
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw ConfigError(path + ": is not a regular file");
  if (!std::ifstream(path)) throw ConfigError(path + ": cannot open the config file");
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw ConfigError(where(e.source()) + ": " + std::string(e.description()));
  }
}

/// Every section and key of `root` must be in the schema.
void reject_unknown(const toml::table& root, const Config& schema) {
  std::map<std::string, std::set<std::string>> known;
  for_each_field(schema, [&](const char* section, const char* key, const auto&, const Limits&, unsigned, const char*) {
    known[section].insert(key);
  });
  for (auto&& [k, v] : root) {
    const std::string name(k.str());
    const auto section = known.find(name);
    if (section == known.end()) {
      const auto* first = v.is_table() && !v.as_table()->empty() ? &v.as_table()->begin()->second : nullptr;
      const auto& src = k.source().path || !first ? k.source() : first->source();
      throw ConfigError(where(src) + ": unknown section '" + name + "'");
    }
    if (!v.is_table()) throw ConfigError(where(v.source()) + ": '" + name + "' must be a [section]");
    for (auto&& [key, value] : *v.as_table()) {
      if (!section->second.count(std::string(key.str()))) {
        // A key added by --set has no place in the file: name the --set argument instead.
        throw ConfigError(where(key.source().path ? key.source() : value.source()) + ": unknown key '" + name + "." +
                          std::string(key.str()) + "'");
      }
    }
  }
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
  toml::table root = parse_config_file(path);
  for (const auto& o : overrides) apply_override(root, o);
  Config c;
  c.source = path;
  reject_unknown(root, c);
  for_each_field(
      c, [&](const char* section, const char* key, auto& member, const Limits& limits, unsigned flags, const char*) {
        const auto* table = root.get_as<toml::table>(section);
        if (const toml::node* node = table ? table->get(key) : nullptr) {
          FieldReader(*node, std::string(section) + "." + key, limits, flags).read(member);
        }
      });
  validate(c);
  return c;
}

void validate(Config& c) {
  auto& h = c.model.hidden_features;
  if (h.size() == 1) {
    h.assign(static_cast<size_t>(c.model.n_layers), h[0]);
  } else if (static_cast<int64_t>(h.size()) != c.model.n_layers) {
    throw ConfigError("model.hidden_features has " + std::to_string(h.size()) +
                      " widths but model.n_layers = " + std::to_string(c.model.n_layers));
  }
  if (is_regression(c.training.loss) && !c.model.constant) {
    throw ConfigError("training.loss = \"" + std::string(name_of(c.training.loss)) +
                      "\" fits log_prob + C to data.weights: set model.constant = true");
  }
}

std::string to_toml(const Config& c) {
  toml::table root;
  Config::sections(c, [&](const char* section, const auto&) { root.insert(section, toml::table{}); });
  for_each_field(c, [&](const char* section, const char* key, const auto& member, const Limits&, unsigned,
                        const char*) { insert_value(*root.get_as<toml::table>(section), key, member); });
  std::ostringstream s;
  s << root << "\n";
  return s.str();
}

std::vector<std::pair<std::string, std::string>> restart_identity(const Config& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for_each_field(
      c, [&](const char* section, const char* key, const auto& member, const Limits&, unsigned flags, const char*) {
        if (flags & kIdentity) out.emplace_back(std::string(section) + "." + key, identity_text(member));
      });
  return out;
}

std::string reference_table() {
  const Config defaults;
  std::ostringstream s;
  s << "| key | default | meaning |\n| --- | --- | --- |\n";
  for_each_field(defaults, [&](const char* section, const char* key, const auto& member, const Limits& limits,
                               unsigned flags, const char* doc) {
    using T = std::decay_t<decltype(member)>;
    const std::string shown = default_text(member);
    const std::string value = shown.empty() ? "*unset*" : "`" + shown + "`";
    std::string meaning = doc;
    if constexpr (is_choice<T>::value) meaning += "; one of " + choice_list<T>();
    if (const std::string range = limits_text(limits); !range.empty()) meaning += "; " + range;
    if (flags & kIdentity) meaning += " *(restart identity)*";
    s << "| `" << section << "." << key << "` | " << value << " | " << meaning << " |\n";
  });
  return s.str();
}

}  // namespace gwflow::config
