// io/hdf5: the checked wrapper (rows, attributes, errors).
#include "gwflow/errors.hpp"
#include "gwflow/io/hdf5.hpp"
#include "test_util.hpp"

namespace gwflow {
namespace {

TEST(Hdf5, RowsRoundTripAndErrorsNameTheFile) {
  const auto dir = test::scratch_dir("h5");
  const std::string path = dir + "/a.h5";
  {
    io::File f(path, io::File::Mode::kCreate);
    f.create_dataset("/g/x", {5, 3}, torch::kFloat32);
    f.write_rows("/g/x", 1, torch::arange(12, torch::kFloat64).view({4, 3}));
    f.write_attribute("/", "note", std::string("hello"));
    f.close();
  }
  io::File f(path, io::File::Mode::kRead);
  EXPECT_EQ(f.dims("/g/x"), (std::vector<int64_t>{5, 3}));
  auto rows = f.read_rows("/g/x", 2, 2);
  EXPECT_TRUE(torch::equal(rows, torch::arange(3, 9, torch::kFloat64).view({2, 3})));
  EXPECT_EQ(f.read_string_attribute("/", "note"), "hello");
  try {
    f.dims("/nope");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("a.h5:/nope"), std::string::npos) << e.what();
  }
  EXPECT_THROW(f.read_rows("/g/x", 4, 2), IoError);
  EXPECT_THROW(io::File(dir + "/missing.h5", io::File::Mode::kRead), IoError);
}

TEST(Hdf5, OneAttributeWriterForEveryTypeAndTheirNames) {
  const auto dir = test::scratch_dir("h5attr");
  io::File f(dir + "/a.h5", io::File::Mode::kCreate);
  f.write_attribute("/", "s", "text");
  f.write_attribute("/", "s", std::string("rewritten"));  // replaces
  f.write_attribute("/", "d", 2.5);
  f.write_attribute("/", "i", int64_t{7});
  f.write_attribute("/", "list", std::vector<std::string>{"a", "b"});
  f.write_attribute("/", "empty", std::vector<std::string>{});
  EXPECT_EQ(f.read_string_attribute("/", "s"), "rewritten");
  EXPECT_EQ(f.read_double_attribute("/", "d"), 2.5);
  EXPECT_EQ(f.read_double_attribute("/", "i"), 7.0);
  EXPECT_EQ(f.attribute_names("/"), (std::vector<std::string>{"d", "empty", "i", "list", "s"}));
  EXPECT_TRUE(f.has_attribute("/", "list"));
  EXPECT_FALSE(f.has_attribute("/", "nope"));
}

TEST(Hdf5, ErrorsCarryTheWholeStackOnOneLine) {
  const auto dir = test::scratch_dir("h5err");
  io::File f(dir + "/a.h5", io::File::Mode::kCreate);
  try {
    f.write_attribute("/no/such/group", "x", 1.0);
    FAIL() << "no error";
  } catch (const IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("a.h5:/no/such/group"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    // More than one level of HDF5's stack: the API call's and the reason below it.
    EXPECT_NE(what.find("; "), std::string::npos) << what;
  }
  try {
    (void)f.attribute_names("/missing");
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("a.h5:/missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gwflow
