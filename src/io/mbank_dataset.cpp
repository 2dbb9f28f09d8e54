#include "gwflow/io/mbank_dataset.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "gwflow/errors.hpp"

namespace gwflow::io {
namespace {

/// Parses one whole token as a float64 like Python's float(): an optional sign, decimal or
/// exponent notation, nan, inf, infinity. Overflow gives +-inf and underflow a subnormal or 0
/// (what np.loadtxt gives) instead of an error. False when the token is not a number.
bool parse_double(const char* begin, const char* end, double& out) {
  const char* p = begin;
  if (p != end && *p == '+' && p + 1 != end && p[1] != '-' && p[1] != '+') ++p;
  const auto [ptr, ec] = std::from_chars(p, end, out);
  if (ptr != end) return false;
  if (ec == std::errc::result_out_of_range) {
    out = std::strtod(std::string(begin, end).c_str(), nullptr);
    return true;
  }
  return ec == std::errc();
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

std::string MbankDataset::layout() const {
  const std::string d = std::to_string(dim);
  return "x (" + d + ")" + (has_metric ? ", metric (" + d + "x" + d + ")" : std::string()) +
         ", log_pdf: " + std::to_string(columns) + " columns";
}

MbankDataset parse_mbank_dataset(std::istream& in, const std::string& path, int64_t dim) {
  if (dim < 1 || dim > 4096) throw DomainError(path + ": the dimension must be in 1..4096, got " + std::to_string(dim));
  MbankDataset ds;
  ds.dim = dim;
  const int64_t plain = dim + 1, with_metric = dim + dim * dim + 1;
  std::vector<double> values, row;
  std::string text;
  int64_t line_no = 0, first_line = 0;
  while (std::getline(in, text)) {
    ++line_no;
    const auto hash = text.find('#');
    if (hash != std::string::npos && ds.variable_format.empty()) {
      // The header np.savetxt writes for mbank_generate_flow_dataset: "# variable format: FMT".
      static const std::string kKey = "variable format:";
      const auto at = text.find(kKey, hash);
      if (at != std::string::npos) {
        std::string v = text.substr(at + kKey.size());
        const auto b = v.find_first_not_of(" \t\r"), e = v.find_last_not_of(" \t\r");
        v = b == std::string::npos ? "" : v.substr(b, e - b + 1);
        bool printable = v.size() <= 256;
        for (unsigned char c : v) printable = printable && c >= 0x20 && c < 0x7f;
        if (printable) ds.variable_format = v;
      }
    }
    const char* p = text.data();
    const char* end = p + (hash == std::string::npos ? text.size() : hash);
    row.clear();
    while (true) {
      while (p != end && is_blank(*p)) ++p;
      if (p == end) break;
      const char* q = p;
      while (q != end && !is_blank(*q)) ++q;
      double v;
      if (!parse_double(p, q, v)) {
        std::string token(p, q);
        if (token.size() > 40) token = token.substr(0, 40) + "...";
        std::string shown;  // a binary file must not put control bytes (or a NUL) into the message
        for (char ch : token.substr(0, 40)) shown += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
        throw IoError(path + ":" + std::to_string(line_no) + ": column " + std::to_string(row.size() + 1) + ": '" +
                      shown + (token.size() > 40 ? "...'" : "'") + " is not a number");
      }
      row.push_back(v);
      p = q;
    }
    if (row.empty()) continue;  // blank or comment line
    const auto n = static_cast<int64_t>(row.size());
    if (ds.columns == 0) {
      if (n != plain && n != with_metric) {
        throw IoError(path + ":" + std::to_string(line_no) + ": " + std::to_string(n) + " columns, but --dim " +
                      std::to_string(dim) + " needs " + std::to_string(plain) + " (x, log_pdf) or " +
                      std::to_string(with_metric) + " (x, metric, log_pdf)");
      }
      ds.columns = n;
      ds.has_metric = n == with_metric;
      first_line = line_no;
    } else if (n != ds.columns) {
      throw IoError(path + ":" + std::to_string(line_no) + ": " + std::to_string(n) +
                    " columns, but the first data row (line " + std::to_string(first_line) + ") has " +
                    std::to_string(ds.columns));
    }
    ++ds.rows_read;
    bool has_nan = false;
    for (double v : row) has_nan = has_nan || std::isnan(v);
    if (has_nan) {
      ++ds.rows_with_nan;
      continue;
    }
    values.insert(values.end(), row.begin(), row.end());
  }
  if (in.bad()) throw IoError(path + ": read error after line " + std::to_string(line_no));
  if (ds.rows_read == 0) throw IoError(path + ": no data rows (only blank or '#' comment lines)");
  const int64_t n = ds.rows_read - ds.rows_with_nan;
  if (n == 0) throw IoError(path + ": every one of the " + std::to_string(ds.rows_read) + " data rows holds a NaN");
  auto all = torch::empty({n, ds.columns}, torch::kFloat64);
  std::memcpy(all.data_ptr<double>(), values.data(), values.size() * sizeof(double));
  ds.x = all.slice(1, 0, dim).contiguous();
  if (ds.has_metric) ds.metric = all.slice(1, dim, dim + dim * dim).reshape({n, dim, dim}).contiguous();
  ds.log_pdf = all.select(1, ds.columns - 1).contiguous();
  return ds;
}

MbankDataset read_mbank_dataset(const std::string& path, int64_t dim) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  return parse_mbank_dataset(in, path, dim);
}

}  // namespace gwflow::io
