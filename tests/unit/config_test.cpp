// Config: defaults, types, unknown keys, --set overrides, positions in error messages.
#include <fstream>

#include "gwflow/config/config.hpp"
#include "gwflow/errors.hpp"
#include "test_util.hpp"

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
  EXPECT_EQ(c.model.dtype, "float32");
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
  EXPECT_EQ(c.model.dtype, "float64");
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

}  // namespace
}  // namespace gwflow::config
