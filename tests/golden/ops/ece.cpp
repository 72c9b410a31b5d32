// Golden op ece: equal-width and adaptive ECE, MCE, reliability bins, ece_pos, scikit-learn
// Brier score and calibration_curve (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void ece(golden::case_context& c) {
  namespace cal = alignkit::calibration;
  const cal::options opts{.n_bins = static_cast<alignkit::index_t>(c.param("n_bins", 15))};
  const auto probs = c.input<T>("probs");
  const auto labels = c.input<int>("labels");
  const bool binary = c.text("task", "binary") == "binary";
  const auto& shape = c.shape("probs");
  const auto n = static_cast<alignkit::index_t>(shape[0]);
  const auto k = binary ? alignkit::index_t{1} : static_cast<alignkit::index_t>(shape[1]);
  const auto matrix = alignkit::matrix_view<const T>(probs.data(), {n, k});
  const auto r = binary ? cal::evaluate(probs, labels, opts) : cal::evaluate(matrix, labels, opts);
  c.check("ece", r.ece);
  c.check("mce", r.mce);
  c.check("ece_adaptive", binary ? cal::adaptive_ece(probs, labels, opts) : cal::adaptive_ece(matrix, labels, opts));
  std::vector<double> count, confidence, accuracy;
  for (const auto& b : r.reliability) {
    count.push_back(b.weight);
    confidence.push_back(b.confidence);
    accuracy.push_back(b.accuracy);
  }
  c.check("bin_count", count);
  c.check("bin_confidence", confidence);
  c.check("bin_accuracy", accuracy);
  if (!binary) return;
  c.check("ece_pos", r.ece_pos);
  c.check("brier", r.brier);
  if (c.has_output("calib_prob_true")) {
    const auto curve = cal::calibration_curve(r);
    c.check("calib_prob_true", curve.prob_true);
    c.check("calib_prob_pred", curve.prob_pred);
  }
}

}  // namespace

ALIGNKIT_GOLDEN_OP("ece", ece);
