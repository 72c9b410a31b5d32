// Calibration report: a classifier whose logits are three times too large (overconfident) is
// evaluated on held-out data; temperature scaling is fitted on a calibration split, and the
// ECE before and after and the reliability table of the test split are printed.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

struct split {
  std::vector<double> logits;  // [n, k] row-major
  std::vector<int> labels;
};

// Labels are drawn from softmax(z); the model reports 3·z.
split make_split(std::size_t n, std::size_t k, std::mt19937& g) {
  std::normal_distribution<double> d(0, 1.2);
  split s{std::vector<double>(n * k), std::vector<int>(n)};
  std::vector<double> p(k);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      const double z = d(g);
      p[j] = std::exp(z);
      s.logits[i * k + j] = 3.0 * z;
    }
    std::discrete_distribution<int> label(p.begin(), p.end());
    s.labels[i] = label(g);
  }
  return s;
}

std::vector<double> softmax_rows(const std::vector<double>& logits, std::size_t k, double temperature) {
  std::vector<double> p(logits.size());
  for (std::size_t i = 0; i < logits.size(); i += k) {
    double m = logits[i], total = 0;
    for (std::size_t j = 1; j < k; ++j) m = std::max(m, logits[i + j]);
    for (std::size_t j = 0; j < k; ++j) total += p[i + j] = std::exp((logits[i + j] - m) / temperature);
    for (std::size_t j = 0; j < k; ++j) p[i + j] /= total;
  }
  return p;
}

}  // namespace

int main() {
  namespace cal = alignkit::calibration;
  constexpr std::size_t k = 5, n_fit = 5000, n_test = 5000;
  std::mt19937 g(42);
  const split fit = make_split(n_fit, k, g), test = make_split(n_test, k, g);

  const auto t = cal::fit_temperature(alignkit::as_matrix(fit.logits, n_fit, k), fit.labels);
  std::printf("fitted temperature %.3f (planted 3), NLL %.4f -> %.4f on the calibration split\n", t.temperature, t.nll_before,
              t.nll_after);

  const cal::options opts{.n_bins = 10};
  const auto test_rows = static_cast<alignkit::index_t>(n_test);
  const auto before_p = softmax_rows(test.logits, k, 1.0), after_p = softmax_rows(test.logits, k, t.temperature);
  const auto before = cal::evaluate(alignkit::as_matrix(before_p, test_rows, k), test.labels, opts);
  const auto after = cal::evaluate(alignkit::as_matrix(after_p, test_rows, k), test.labels, opts);
  std::printf("test split: ECE %.4f -> %.4f, MCE %.4f -> %.4f, Brier %.4f -> %.4f, adaptive ECE %.4f -> %.4f\n", before.ece,
              after.ece, before.mce, after.mce, before.brier, after.brier,
              cal::adaptive_ece(alignkit::as_matrix(before_p, test_rows, k), test.labels, opts),
              cal::adaptive_ece(alignkit::as_matrix(after_p, test_rows, k), test.labels, opts));

  std::printf("\nreliability after scaling (95%% Wilson interval of the accuracy)\n");
  std::printf("  bin          count   confidence  accuracy  interval\n");
  for (std::size_t b = 0; b < after.reliability.size(); ++b) {
    const auto& r = after.reliability[b];
    std::printf("  (%.1f, %.1f]  %6.0f   %.3f       %.3f     [%.3f, %.3f]\n", 0.1 * static_cast<double>(b),
                0.1 * static_cast<double>(b + 1), r.weight, r.confidence, r.accuracy, r.accuracy_lower, r.accuracy_upper);
  }
  return after.ece < before.ece ? 0 : 1;
}
