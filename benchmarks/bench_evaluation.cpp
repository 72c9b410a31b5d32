// evaluation/: expected calibration error (binary and top-label multiclass, 15 equal-width bins)
// and Fleiss' kappa at the sizes of ../shared/peers/README.md (ece_binary, ece_multiclass,
// fleiss_kappa), each beside a raw scalar loop and the STREAM triad at the same working-set size.
#include <array>

#include <alignkit/evaluation/agreement.hpp>
#include <alignkit/evaluation/calibration.hpp>

#include "bench_support.hpp"

namespace bench {
namespace {

constexpr int bins = 15;

// Bin k = min(floor(15·conf), 14); ECE = Σ_b |Σ correct_b − Σ conf_b| / n.
template <class T>
struct binned {
  std::array<double, bins> conf{}, acc{};
  void add(T c, bool correct) {
    const int k = std::min(static_cast<int>(c * T(bins)), bins - 1);
    conf[k] += c;
    acc[k] += correct;
  }
  double ece(double n) const {
    double e = 0;
    for (int k = 0; k < bins; ++k) e += std::abs(acc[k] - conf[k]);
    return e / n;
  }
};

// ece_binary: 4,194,304 confidences + 1-byte correctness (slightly over-confident).
constexpr index_t samples = 4194304;
template <class T>
struct ece_binary_data {
  std::vector<T> conf = uniform<T>(samples, 0, 1, 51);
  std::vector<std::uint8_t> correct = [this] {
    rng g(52);
    std::vector<std::uint8_t> c(conf.size());
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = g.uniform() < std::pow(double(conf[i]), 1.3);
    return c;
  }();
  static work counted() { return {(sizeof(T) + 1.0) * samples, samples}; }
};

// ece_multiclass: [262,144, 100] probabilities (rows = softmax(3·N(0, 1))), int64 labels
// (the arg-max for ~70 % of rows); confidence = row max, correct = (arg-max == label).
constexpr index_t rows = 262144, classes = 100;
template <class T>
struct ece_multiclass_data {
  std::vector<T> probs = [] {
    auto p = normal<T>(rows * classes, 0, 3, 53);
    for (index_t r = 0; r < rows; ++r) {
      T* x = p.data() + r * classes;
      const T m = *std::max_element(x, x + classes);
      T s = 0;
      for (index_t k = 0; k < classes; ++k) s += x[k] = std::exp(x[k] - m);
      for (index_t k = 0; k < classes; ++k) x[k] /= s;
    }
    return p;
  }();
  std::vector<std::int64_t> labels = [this] {
    rng g(54);
    std::vector<std::int64_t> y(rows);
    for (index_t r = 0; r < rows; ++r) {
      const T* x = probs.data() + r * classes;
      y[r] = g.uniform() < 0.7 ? std::max_element(x, x + classes) - x : g.integer(0, classes - 1);
    }
    return y;
  }();
  static work counted() { return {(sizeof(T) * classes + 8.0) * rows, double(rows) * classes}; }
};

// fleiss_kappa: [1,000,000, 5] int32 category counts, 7 raters per item (60 % vote the truth).
// T is the type the statistic is computed in; the bytes are the same for float and double.
constexpr index_t items = 1000000, categories = 5, raters = 7;
template <class T>
struct fleiss_data {
  std::vector<std::int32_t> counts = [] {
    rng g(55);
    std::vector<std::int32_t> c(items * categories);
    for (index_t i = 0; i < items; ++i) {
      const index_t truth = g.integer(0, categories - 1);
      for (index_t k = 0; k < raters; ++k) ++c[i * categories + (g.uniform() < 0.6 ? truth : g.integer(0, categories - 1))];
    }
    return c;
  }();
  static work counted() { return {4.0 * items * categories, items}; }
};

const bool registered = [] {
  // The peer's computation: confidences binned as given with their correctness (alignkit also
  // sums the Brier score and the reliability bins in the same pass).
  add_workload<ece_binary_data>(
      "ece_binary",
      []<class T>(const auto& policy, ece_binary_data<T>& d) {
        benchmark::DoNotOptimize(alignkit::calibration::evaluate_confidences(policy, d.conf, d.correct).ece);
      },
      []<class T>(ece_binary_data<T>& d) {
    binned<T> b;
    for (index_t i = 0; i < samples; ++i) b.add(d.conf[i], d.correct[i]);
    benchmark::DoNotOptimize(b.ece(samples));
  });

  add_workload<ece_multiclass_data>(
      "ece_multiclass",
      []<class T>(const auto& policy, ece_multiclass_data<T>& d) {
        const alignkit::matrix_view<const T> p(d.probs.data(), {rows, classes});
        benchmark::DoNotOptimize(alignkit::calibration::evaluate(policy, p, d.labels).ece);
      },
      []<class T>(ece_multiclass_data<T>& d) {
    binned<T> b;
    for (index_t r = 0; r < rows; ++r) {
      const T* x = d.probs.data() + r * classes;
      index_t arg = 0;
      for (index_t k = 1; k < classes; ++k)
        if (x[k] > x[arg]) arg = k;
      b.add(x[arg], arg == d.labels[r]);
    }
    benchmark::DoNotOptimize(b.ece(rows));
  });

  // alignkit computes kappa in double from any count type: the float and double rows are the
  // same computation.
  add_workload<fleiss_data>(
      "fleiss_kappa",
      []<class T>(const auto& policy, fleiss_data<T>& d) {
        const alignkit::matrix_view<const std::int32_t> table(d.counts.data(), {items, categories});
        benchmark::DoNotOptimize(alignkit::agreement::fleiss_kappa(policy, table));
      },
      []<class T>(fleiss_data<T>& d) {
    std::array<double, categories> col{};
    double agree = 0;
    for (index_t i = 0; i < items; ++i) {
      T sq = 0;
      for (index_t k = 0; k < categories; ++k) {
        const T c = T(d.counts[i * categories + k]);
        col[k] += c;
        sq += c * c;
      }
      agree += (sq - T(raters)) / T(raters * (raters - 1));
    }
    double pe = 0;
    for (double c : col) pe += (c / (items * raters)) * (c / (items * raters));
    const double p_bar = agree / items;
    benchmark::DoNotOptimize((p_bar - pe) / (1 - pe));
  });
  return true;
}();

}  // namespace
}  // namespace bench
