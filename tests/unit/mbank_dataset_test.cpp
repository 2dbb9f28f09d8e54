// mbank dataset text files (np.savetxt rows [x, metric?, log_pdf]): both layouts, comments, NaN
// rows, and errors that name the line.
#include <fstream>
#include <limits>
#include <sstream>

#include "gwflow/errors.hpp"
#include "gwflow/io/mbank_dataset.hpp"
#include "test_util.hpp"

namespace gwflow::io {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

MbankDataset parse(const std::string& text, int64_t dim) {
  std::istringstream in(text);
  return parse_mbank_dataset(in, "bank.txt", dim);
}

/// Parsing must fail with an IoError whose message starts with `prefix` and contains `needle`.
void expect_error(const std::string& text, int64_t dim, const std::string& prefix, const std::string& needle) {
  try {
    parse(text, dim);
    ADD_FAILURE() << "no error for: " << text;
  } catch (const IoError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(prefix, 0), 0u) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << "expected '" << needle << "' in: " << what;
  }
}

TEST(MbankDataset, PlainLayoutWithCommentsAndBlankLines) {
  const auto ds = parse("# x0 x1 log_pdf\n"
                        "1.000000000000000000e+00 2.000000000000000000e+00 -3.500000000000000000e+00\n"
                        "\n"
                        "  # another comment\n"
                        "\t4 5e-1 +6   # trailing comment\n"
                        "-7.25 inf -inf\r\n",
                        2);
  EXPECT_FALSE(ds.has_metric);
  EXPECT_EQ(ds.columns, 3);
  EXPECT_EQ(ds.rows_read, 3);
  EXPECT_EQ(ds.rows_with_nan, 0);
  EXPECT_EQ(ds.layout(), "x (2), log_pdf: 3 columns");
  EXPECT_FALSE(ds.metric.defined());
  EXPECT_EQ(ds.x.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::equal(ds.x, torch::tensor({{1.0, 2.0}, {4.0, 0.5}, {-7.25, kInf}}, torch::kFloat64)));
  EXPECT_TRUE(torch::equal(ds.log_pdf, torch::tensor({-3.5, 6.0, -kInf}, torch::kFloat64)));
}

TEST(MbankDataset, VariableFormatComesFromMbanksHeader) {
  // mbank_generate_flow_dataset: np.savetxt(..., header='variable format: FMT\ntheta (D,) | ...').
  const auto ds = parse("# variable format: Mq_s1z_s2z\n# theta (2,) | log_pdf (1,) \n1 2 3\n", 2);
  EXPECT_EQ(ds.variable_format, "Mq_s1z_s2z");
  EXPECT_EQ(parse("# x0 x1 log_pdf\n1 2 3\n", 2).variable_format, "");
  EXPECT_EQ(parse("# variable format: bad\x1b[2J\n1 2 3\n", 2).variable_format, "");  // not printable: dropped
}

TEST(MbankDataset, MetricLayoutIsRecognisedFromTheColumnCount) {
  // D = 2: x (2), metric (4, row-major), log_pdf (1).
  const auto ds = parse("1 2  10 11 12 13  -1\n"
                        "3 4  20 21 22 23  -2\n",
                        2);
  EXPECT_TRUE(ds.has_metric);
  EXPECT_EQ(ds.columns, 7);
  EXPECT_EQ(ds.layout(), "x (2), metric (2x2), log_pdf: 7 columns");
  EXPECT_TRUE(torch::equal(ds.x, torch::tensor({{1.0, 2.0}, {3.0, 4.0}}, torch::kFloat64)));
  ASSERT_EQ(ds.metric.sizes(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(ds.metric[0][0][1].item<double>(), 11);
  EXPECT_EQ(ds.metric[1][1][0].item<double>(), 22);
  EXPECT_TRUE(torch::equal(ds.log_pdf, torch::tensor({-1.0, -2.0}, torch::kFloat64)));
  // D = 1: 2 columns are (x, log_pdf), 3 columns (x, metric, log_pdf).
  EXPECT_FALSE(parse("0.5 -1\n", 1).has_metric);
  EXPECT_TRUE(parse("0.5 4 -1\n", 1).has_metric);
}

TEST(MbankDataset, RowsWithNanAreDroppedAndCounted) {
  const auto ds = parse("1 2 3\n"
                        "nan 2 3\n"
                        "4 5 6\n"
                        "7 8 NaN\n",
                        2);
  EXPECT_EQ(ds.rows_read, 4);
  EXPECT_EQ(ds.rows_with_nan, 2);
  EXPECT_TRUE(torch::equal(ds.x, torch::tensor({{1.0, 2.0}, {4.0, 5.0}}, torch::kFloat64)));
  expect_error("# only NaN\nnan 1 2\n", 2, "bank.txt: ", "every one of the 1 data rows holds a NaN");
}

TEST(MbankDataset, NumbersParseExactlyLikeSavetxtWroteThem) {
  const double values[] = {0.1, -1.0 / 3, 6.02214076e23, 4.9e-324, 1.7976931348623157e308};
  std::ostringstream text;
  text.precision(18);
  text << std::scientific;
  for (double v : values) text << v << " " << v << "\n";
  const auto ds = parse(text.str(), 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ds.x[i][0].item<double>(), values[i]);
  EXPECT_EQ(parse("1e999 0\n", 1).x[0][0].item<double>(), kInf);  // as Python's float()
}

TEST(MbankDataset, ErrorsNameTheLine) {
  expect_error("1 2 3\n# c\n4 x5 6\n", 2, "bank.txt:3: ", "column 2: 'x5' is not a number");
  expect_error("1 2 3\n4 5 6 7\n", 2, "bank.txt:2: ", "4 columns, but the first data row (line 1) has 3");
  expect_error("# header\n1 2 3 4\n", 2, "bank.txt:2: ", "needs 3 (x, log_pdf) or 7 (x, metric, log_pdf)");
  expect_error("1,2,3\n", 2, "bank.txt:1: ", "'1,2,3' is not a number");
  expect_error("1 2 --3\n", 2, "bank.txt:1: ", "'--3'");
  expect_error("1 2 +\n", 2, "bank.txt:1: ", "'+'");
  expect_error("# nothing\n\n", 2, "bank.txt: ", "no data rows");
  expect_error("", 2, "bank.txt: ", "no data rows");
  EXPECT_THROW(parse("1 2\n", 0), DomainError);
}

TEST(MbankDataset, ReadsAFileAndNamesAMissingOne) {
  const auto dir = test::scratch_dir("mbank_dataset");
  std::ofstream(dir + "/d.txt") << "# x0 log_pdf\n1 2\n3 4\n";
  EXPECT_EQ(read_mbank_dataset(dir + "/d.txt", 1).x.size(0), 2);
  try {
    read_mbank_dataset(dir + "/none.txt", 1);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir + "/none.txt: ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace gwflow::io
