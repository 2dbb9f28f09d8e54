#pragma once
// mbank's dataset text files: np.savetxt rows [x (D), metric (D*D, optional), log_pdf (1)].
#include <torch/types.h>

#include <cstdint>
#include <istream>
#include <string>

namespace gwflow::io {

/// One parsed mbank dataset with its NaN rows removed; every tensor is float64.
struct MbankDataset {
  int64_t dim = 0;
  bool has_metric = false;    ///< the rows hold the D x D metric between x and log_pdf
  int64_t columns = 0;        ///< per row: D + 1, or D + D*D + 1 with the metric
  int64_t rows_read = 0;      ///< data rows in the file
  int64_t rows_with_nan = 0;  ///< of those, dropped because they hold a NaN
  torch::Tensor x;            ///< [N, D]
  torch::Tensor metric;       ///< [N, D, D] (row-major, as the file stores it); undefined without metric
  torch::Tensor log_pdf;      ///< [N]
  /// mbank's variable format from a header comment "# variable format: Mq_s1z_s2z" (as
  /// mbank_generate_flow_dataset writes it), or "" when the file has none.
  std::string variable_format;
  /// The layout in words, e.g. "x (3), metric (3x3), log_pdf: 13 columns".
  std::string layout() const;
};

/// Parses mbank dataset text from `in` (`path` names it in messages) for dimension `dim` >= 1.
/// Blank lines and comments ('#' to the end of the line, as np.loadtxt) are skipped; columns are
/// separated by blanks. The first data row decides the layout from its column count; rows holding
/// a NaN are dropped and counted (inf is kept). IoError "<path>:<line>: ..." for a malformed
/// number, a row with another column count than the first, or a column count that is neither
/// D + 1 nor D + D*D + 1; IoError "<path>: ..." when no row is left.
MbankDataset parse_mbank_dataset(std::istream& in, const std::string& path, int64_t dim);

/// Opens `path` and parses it as above (IoError naming it when it cannot be read).
MbankDataset read_mbank_dataset(const std::string& path, int64_t dim);

}  // namespace gwflow::io
