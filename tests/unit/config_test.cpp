// Config: defaults, types, unknown keys, --set overrides, positions in error messages.
#include <fstream>

#include "gwflow/config/config.hpp"
#include "gwflow/errors.hpp"
#include "test_files.hpp"

namespace gwflow::config {
namespace {

std::string write_config(const std::string& text) {
  static int counter = 0;
  const auto path = test::scratch_dir("cfg" + std::to_string(counter++)) + "/c.toml";
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    load_config(write_config(text), sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string error_of_path(const std::string& path) {
  try {
    load_config(path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsAndValues) {
  auto c = load_config(write_config("[data]\ntrain = \"d.h5:/x\"\n[model]\nn_layers = 2\nhidden_features = [10, 5]\n"
                                    "[training]\nlearning_rate = 1\niterations = 7\n"));
  EXPECT_EQ(c.data.train.file, "d.h5");
  EXPECT_EQ(c.data.train.path, "/x");
  EXPECT_EQ(c.model.hidden_features, (std::vector<int64_t>{10, 5}));
  EXPECT_EQ(c.training.iterations, 7);
  EXPECT_DOUBLE_EQ(c.training.learning_rate, 1.0);
  EXPECT_EQ(c.training.batch_size, 10000);
  EXPECT_EQ(c.model.dtype, Dtype::kFloat32);
  auto d = load_config(write_config("[model]\nn_layers = 4\nhidden_features = 8\n"));
  EXPECT_EQ(d.model.hidden_features, (std::vector<int64_t>(4, 8)));
}

TEST(Config, OverridesTakeTomlValuesAndBareStrings) {
  const auto path = write_config("[model]\nn_layers = 2\n");
  auto c = load_config(path, {"training.iterations=200", "model.hidden_features=[10,5]", "output.dir=runs/a",
                              "output.dir=\"runs/b\"", "model.dtype=float64", "data.train=x.h5:/pts"});
  EXPECT_EQ(c.training.iterations, 200);
  EXPECT_EQ(c.model.hidden_features, (std::vector<int64_t>{10, 5}));
  EXPECT_EQ(c.output.dir, "runs/b");
  EXPECT_EQ(c.model.dtype, Dtype::kFloat64);
  EXPECT_EQ(c.data.train.str(), "x.h5:/pts");
}

TEST(Config, ErrorsNameKeyAndPosition) {
  auto e = error_of("[training]\niterations = \"many\"\n");
  EXPECT_NE(e.find("c.toml:2:14"), std::string::npos) << e;
  EXPECT_NE(e.find("training.iterations"), std::string::npos) << e;

  e = error_of("[training]\nlearning_rat = 0.1\n");
  EXPECT_NE(e.find("unknown key 'training.learning_rat'"), std::string::npos) << e;
  EXPECT_NE(e.find(":2:1"), std::string::npos) << e;

  e = error_of("[trainig]\n");
  EXPECT_NE(e.find("unknown section 'trainig'"), std::string::npos) << e;

  e = error_of("[model]\nn_layers = 3\nhidden_features = [1, 2]\n");
  EXPECT_NE(e.find("model.n_layers"), std::string::npos) << e;

  e = error_of("[model]\ndtype = \"float16\"\n");
  EXPECT_NE(e.find("model.dtype"), std::string::npos) << e;

  e = error_of("[training]\nloss = \"kl\"\n");
  EXPECT_NE(e.find("c.toml:2:8: training.loss is \"kl\"; expected \"forward_KL\", \"ll_mse\" or \"weighted_ll_mse\""),
            std::string::npos)
      << e;
  e = error_of("", {"training.reducer=gloo"});
  EXPECT_NE(e.find("training.reducer is \"gloo\""), std::string::npos) << e;

  e = error_of("[data]\ntrain = \"nocolon.h5\"\n");
  EXPECT_NE(e.find("data.train"), std::string::npos) << e;

  e = error_of("[data]\nboundaries = [[0, 0], [1]]\n");
  EXPECT_NE(e.find("data.boundaries"), std::string::npos) << e;

  e = error_of("", {"training.iterations=abc"});
  EXPECT_NE(e.find("--set training.iterations=abc"), std::string::npos) << e;

  e = error_of("", {"training.batch_size=-3"});
  EXPECT_NE(e.find("training.batch_size"), std::string::npos) << e;

  e = error_of("", {"nodot=3"});
  EXPECT_NE(e.find("--set nodot=3"), std::string::npos) << e;

  e = error_of("[training\n");
  EXPECT_NE(e.find("c.toml:1"), std::string::npos) << e;

  EXPECT_THROW(load_config("/nonexistent/dir/x.toml"), ConfigError);
}

TEST(Config, RejectsEmptyPathsNonFiniteNumbersAndAbsurdSizes) {
  // An empty output.dir once wrote weights.zip into "/".
  for (const char* set : {"output.dir=\"\"", "sample.out=\"\"", "logprob.out=\"\"", "sample.weights=\"\""}) {
    const auto e = error_of("", {set});
    EXPECT_NE(e.find("must not be empty"), std::string::npos) << set << ": " << e;
  }
  EXPECT_EQ(error_of("", {"model.init=\"\""}), "");  // "" = random initialisation
  for (const char* set : {"training.learning_rate=inf", "training.min_lr=nan", "training.min_delta=-inf"}) {
    const auto e = error_of("", {set});
    EXPECT_NE(e.find("must be a finite number"), std::string::npos) << set << ": " << e;
  }
  auto e = error_of("[data]\nboundaries = [[-inf, 0], [1, 1]]\n");
  EXPECT_NE(e.find("data.boundaries bounds must be finite"), std::string::npos) << e;
  for (const char* set :
       {"model.n_layers=100000000", "model.hidden_features=1000000000", "training.threads=100000",
        "sample.n=9223372036854775807", "sample.block_size=9223372036854775807", "logprob.block_size=1000000000"}) {
    const auto e = error_of("", {set});
    EXPECT_NE(e.find("must be <="), std::string::npos) << set << ": " << e;
  }
  // A key or section that only --set brings is named by its --set argument, not "<config>:0:0".
  e = error_of("", {"training.learnin_rate=0.1"});
  EXPECT_NE(e.find("--set training.learnin_rate=0.1"), std::string::npos) << e;
  e = error_of("", {"foo.bar=1"});
  EXPECT_NE(e.find("--set foo.bar=1"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown section 'foo'"), std::string::npos) << e;
  // A directory as the config file.
  e = error_of_path(test::scratch_dir("cfgdir"));
  EXPECT_NE(e.find("is a directory"), std::string::npos) << e;
}

TEST(Config, ColumnsAreDistinctPrintableNames) {
  EXPECT_EQ(load_config(write_config("[data]\ncolumns = [\"M\", \"q\", \"s1z\"]\n")).data.columns,
            (std::vector<std::string>{"M", "q", "s1z"}));
  EXPECT_TRUE(load_config(write_config("")).data.columns.empty());
  for (const char* bad : {"columns = []", "columns = \"M\"", "columns = [1, 2]", "columns = [\"a\", \"a\"]",
                          "columns = [\"\"]", "columns = [\"a\\u001b[2J\"]"}) {
    const auto e = error_of(std::string("[data]\n") + bad + "\n");
    EXPECT_NE(e.find("data.columns"), std::string::npos) << bad << ": " << e;
    EXPECT_EQ(e.find('\x1b'), std::string::npos) << bad << ": the error echoes a control byte";
  }
}

TEST(Config, ResolvedTomlReloadsToTheSameValues) {
  auto c = load_config(write_config("[data]\ntrain = \"d.h5:/x\"\nboundaries = [[0, 1], [2, 3]]\n"),
                       {"model.hidden_features=[3,4,5]"});
  c.data.columns = {"M", "q"};
  auto again = load_config(write_config(to_toml(c)));
  EXPECT_EQ(again.data.columns, c.data.columns);
  EXPECT_EQ(again.model.hidden_features, c.model.hidden_features);
  EXPECT_EQ(again.data.boundaries->high, c.data.boundaries->high);
  EXPECT_EQ(again.data.train.str(), "d.h5:/x");
}

// ---- the schema: every visitor sees every field ----

int count_fields() {
  int n = 0;
  const Config defaults;
  for_each_field(defaults, [&](const char*, const char*, const auto&, const Limits&, unsigned, const char*) { ++n; });
  return n;
}

TEST(ConfigSchema, ResolvedTomlHoldsEveryFieldAndReloadsToItself) {
  // Every optional field set, so none is left out of the resolved config.
  const auto c = load_config(write_config("[data]\ntrain = \"d.h5:/x\"\nweights = \"d.h5:/w\"\n"
                                          "validation = \"v.h5:/x\"\nvalidation_weights = \"v.h5:/w\"\n"
                                          "boundaries = [[0, 1], [2, 3]]\ncolumns = [\"a\", \"b\"]\n"
                                          "[sample]\nboundaries = [[0], [1]]\n[logprob]\ninput = \"p.h5:/x\"\n"),
                             {"model.init=w.zip", "training.loss=ll_mse", "model.constant=true",
                              "training.lr_scheduler=plateau", "sample.dtype=float64", "logprob.backend=torch"});
  const std::string text = to_toml(c);
  int keys = 0;
  for_each_field(c, [&](const char* section, const char* key, const auto&, const Limits&, unsigned, const char*) {
    const auto at = text.find("[" + std::string(section) + "]");
    ASSERT_NE(at, std::string::npos) << section;
    const auto next = text.find("\n[", at + 1);
    const auto body = text.substr(at, next == std::string::npos ? std::string::npos : next - at);
    EXPECT_NE(body.find("\n" + std::string(key) + " = "), std::string::npos) << section << "." << key << "\n" << text;
    ++keys;
  });
  EXPECT_EQ(keys, count_fields());
  EXPECT_EQ(to_toml(load_config(write_config(text))), text);
}

TEST(ConfigSchema, RestartIdentityIsTheFlaggedFieldsAndFollowsTheirValues) {
  // The keys a restart must keep, in declaration order (a pin: dropping a flag by mistake fails
  // here), each with a --set that changes it.
  const std::vector<std::pair<std::string, std::string>> flagged = {
      {"data.train", "data.train=e.h5:/x"},
      {"data.validation", "data.validation=v.h5:/x"},
      {"data.validation_fraction", "data.validation_fraction=0.2"},
      {"data.boundaries", "data.boundaries=[[0],[1]]"},
      {"model.hidden_features", "model.hidden_features=6"},
      {"model.constant", "model.constant=true"},
      {"model.dtype", "model.dtype=float64"},
      {"model.init", "model.init=w.zip"},
      {"training.loss", "training.loss=ll_mse"},
      {"training.batch_size", "training.batch_size=5"},
      {"training.learning_rate", "training.learning_rate=0.002"},
      {"training.validation_step", "training.validation_step=3"},
      {"training.validation_batch_size", "training.validation_batch_size=100"},
      {"training.seed", "training.seed=9"},
      {"training.backend", "training.backend=torch"},
      {"training.lr_scheduler", "training.lr_scheduler=plateau"},
      {"training.lr_factor", "training.lr_factor=0.3"},
      {"training.lr_patience", "training.lr_patience=2"},
      {"training.lr_threshold", "training.lr_threshold=0.1"},
      {"training.lr_cooldown", "training.lr_cooldown=1"},
      {"training.min_lr", "training.min_lr=1e-6"},
      {"training.early_stopping", "training.early_stopping=true"},
      {"training.patience", "training.patience=3"},
      {"training.min_delta", "training.min_delta=0.5"}};
  std::vector<std::string> expected, changes;
  for (const auto& [key, change] : flagged) {
    expected.push_back(key);
    changes.push_back(change);
  }
  const auto base = load_config(write_config("[data]\ntrain = \"d.h5:/x\"\n"));
  const auto id = restart_identity(base);
  std::vector<std::string> keys;
  for (const auto& [k, v] : id) keys.push_back(k);
  EXPECT_EQ(keys, expected);
  // Changing one identity key changes exactly its entry; a key outside it changes none.
  ASSERT_EQ(changes.size(), expected.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    std::vector<std::string> sets = {changes[i]};
    if (changes[i] == "training.loss=ll_mse") sets.push_back("model.constant=true");
    const auto other = restart_identity(load_config(write_config("[data]\ntrain = \"d.h5:/x\"\n"), sets));
    for (size_t j = 0; j < id.size(); ++j) {
      const bool changed = other[j].second != id[j].second;
      const bool expect = j == i || (changes[i] == "training.loss=ll_mse" && id[j].first == "model.constant");
      EXPECT_EQ(changed, expect) << changes[i] << " -> " << id[j].first;
    }
  }
  for (const char* outside : {"training.iterations=5", "training.threads=2", "output.dir=x", "sample.n=5"}) {
    EXPECT_EQ(restart_identity(load_config(write_config("[data]\ntrain = \"d.h5:/x\"\n"), {outside})), id) << outside;
  }
}

TEST(ConfigSchema, ReferenceTableHasOneRowPerFieldWithItsDefault) {
  const std::string table = reference_table();
  int rows = 0;
  for (size_t at = 0; (at = table.find("\n| `", at)) != std::string::npos; ++at) ++rows;
  EXPECT_EQ(rows, count_fields());
  EXPECT_NE(table.find("| `training.iterations` | `1000` |"), std::string::npos) << table;
  EXPECT_NE(table.find("| `model.dtype` | `\"float32\"` |"), std::string::npos) << table;
  EXPECT_NE(table.find("one of \"float32\" or \"float64\""), std::string::npos);
  EXPECT_NE(table.find("| `data.validation_fraction` | `0.1` |"), std::string::npos) << table;
  EXPECT_NE(table.find("in (0, 1)"), std::string::npos);
}

TEST(ConfigSchema, ValidateChecksFieldsAgainstEachOther) {
  auto e = error_of("", {"training.loss=weighted_ll_mse"});
  EXPECT_NE(e.find("set model.constant = true"), std::string::npos) << e;
  EXPECT_EQ(error_of("", {"training.loss=weighted_ll_mse", "model.constant=true"}), "");
  Config c;
  validate(c);
  EXPECT_EQ(c.model.hidden_features, std::vector<int64_t>(3, 5));
  c.model.n_layers = 2;
  EXPECT_THROW(validate(c), ConfigError);
}

}  // namespace
}  // namespace gwflow::config
