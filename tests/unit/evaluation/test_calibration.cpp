// Calibration: equal-width ECE against a direct implementation of the definition, bin edge
// conventions (0 → first bin, 1 → last bin), weights, streaming and sharded sums, adaptive and
// classwise ECE, Wilson intervals, determinism across threads, tensor types and the errors.
#include <alignkit/adapters/eigen.hpp>
#include <alignkit/alignkit.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

namespace cal = alignkit::calibration;
using alignkit::index_t;

namespace {

// Synthetic overconfident multiclass predictions: labels drawn from softmax(z), reported
// probabilities softmax(sharpness·z).
struct multiclass_set {
  std::vector<double> probs;
  std::vector<int> labels;
};

multiclass_set make_multiclass(std::size_t n, std::size_t k, std::uint32_t seed, double sharpness = 2.0) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0, 1.5);
  multiclass_set s{std::vector<double>(n * k), std::vector<int>(n)};
  std::vector<double> z(k), p(k);
  for (std::size_t i = 0; i < n; ++i) {
    for (auto& v : z) v = d(g);
    double m = *std::max_element(z.begin(), z.end()), tot = 0, sharp_tot = 0;
    for (std::size_t j = 0; j < k; ++j) {
      p[j] = std::exp(z[j] - m);
      tot += p[j];
      s.probs[i * k + j] = std::exp(sharpness * (z[j] - m));
      sharp_tot += s.probs[i * k + j];
    }
    for (std::size_t j = 0; j < k; ++j) s.probs[i * k + j] /= sharp_tot;
    std::discrete_distribution<int> label(p.begin(), p.end());
    s.labels[i] = label(g);
  }
  return s;
}

std::vector<double> uniform(std::size_t n, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<double> d(0, 1);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// The definition, written independently of the library: bin by comparing with every edge.
struct naive {
  std::vector<double> count, conf, acc;
  double ece = 0, mce = 0;
  naive(const std::vector<double>& c, const std::vector<double>& a, index_t nb)
      : count(static_cast<std::size_t>(nb)), conf(count), acc(count) {
    for (std::size_t i = 0; i < c.size(); ++i) {
      std::size_t b = 0;
      for (index_t e = 1; e < nb; ++e) b += c[i] > static_cast<double>(e) * (1.0 / static_cast<double>(nb));
      count[b] += 1;
      conf[b] += c[i];
      acc[b] += a[i];
    }
    for (std::size_t b = 0; b < count.size(); ++b) {
      if (count[b] == 0) continue;
      ece += std::abs(acc[b] - conf[b]) / static_cast<double>(c.size());
      conf[b] /= count[b];
      acc[b] /= count[b];
      mce = std::max(mce, std::abs(acc[b] - conf[b]));
    }
  }
};

void check_bins(const cal::report& r, const naive& want) {
  REQUIRE(r.reliability.size() == want.count.size());
  for (std::size_t b = 0; b < want.count.size(); ++b) {
    CHECK(r.reliability[b].weight == want.count[b]);
    CHECK(r.reliability[b].confidence == doctest::Approx(want.conf[b]).epsilon(1e-13));
    CHECK(r.reliability[b].accuracy == doctest::Approx(want.acc[b]).epsilon(1e-13));
  }
  CHECK(r.ece == doctest::Approx(want.ece).epsilon(1e-12));
  CHECK(r.mce == doctest::Approx(want.mce).epsilon(1e-12));
}

}  // namespace

TEST_CASE("binary ECE, MCE, ece_pos and Brier against the definition") {
  const std::size_t n = 1001;
  const auto p = uniform(n, 1);
  const auto u = uniform(n, 2);
  std::vector<int> y(n);
  std::vector<double> conf(n), correct(n), yd(n);
  double brier = 0;
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = u[i] < p[i] * p[i] ? 1 : 0;  // miscalibrated on purpose
    yd[i] = y[i];
    conf[i] = std::max(1.0 - p[i], p[i]);
    correct[i] = (p[i] > 1.0 - p[i]) == (y[i] == 1);
    brier += (y[i] - p[i]) * (y[i] - p[i]) / static_cast<double>(n);
  }
  for (index_t nb : {1, 7, 10, 15, 40}) {  // 40 bins: the gather path of the SIMD binning
    CAPTURE(nb);
    const auto r = cal::evaluate(p, y, {.n_bins = nb});
    check_bins(r, naive(conf, correct, nb));
    CHECK(r.ece_pos == doctest::Approx(naive(p, yd, nb).ece).epsilon(1e-12));
    CHECK(r.brier == doctest::Approx(brier).epsilon(1e-13));
    CHECK(r.samples == static_cast<index_t>(n));
    CHECK(r.weight == static_cast<double>(n));
  }
}

TEST_CASE("stated confidences: ECE, MCE, bins and Brier of (c, a) as given, against the definition") {
  const std::size_t n = 1001;
  const auto c = uniform(n, 3);
  const auto u = uniform(n, 4);
  std::vector<std::uint8_t> a(n);
  std::vector<double> ad(n);
  double brier = 0;
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = u[i] < std::pow(c[i], 1.3);  // over-confident on purpose
    ad[i] = a[i];
    brier += (ad[i] - c[i]) * (ad[i] - c[i]) / static_cast<double>(n);
  }
  for (index_t nb : {1, 7, 10, 15, 40}) {
    CAPTURE(nb);
    const auto r = cal::evaluate_confidences(c, a, {.n_bins = nb});
    check_bins(r, naive(c, ad, nb));
    CHECK(r.brier == doctest::Approx(brier).epsilon(1e-13));
    CHECK(std::isnan(r.ece_pos));
    CHECK(r.positive.empty());
    CHECK(r.samples == static_cast<index_t>(n));
    // Two batches of one accumulator: the same sums, added in another order.
    cal::accumulator acc({.n_bins = nb});
    const auto half = static_cast<std::ptrdiff_t>(n / 2);
    acc.add_confidences(std::vector<double>(c.begin(), c.begin() + half), std::vector<int>(a.begin(), a.begin() + half));
    acc.add_confidences(std::vector<double>(c.begin() + half, c.end()), std::vector<int>(a.begin() + half, a.end()));
    CHECK(acc.finish().ece == doctest::Approx(r.ece).epsilon(1e-13));
  }
}

TEST_CASE("top-label multiclass ECE: the first maximum wins ties") {
  const auto s = make_multiclass(500, 4, 3);
  std::vector<double> conf(500), correct(500);
  double brier = 0;
  for (std::size_t i = 0; i < 500; ++i) {
    const auto row = s.probs.begin() + static_cast<std::ptrdiff_t>(4 * i);
    const auto best = std::max_element(row, row + 4);
    conf[i] = *best;
    correct[i] = (best - row) == s.labels[i];
    for (int j = 0; j < 4; ++j) brier += std::pow(row[j] - (j == s.labels[i] ? 1.0 : 0.0), 2) / 500.0;
  }
  const auto r = cal::evaluate(alignkit::as_matrix(s.probs, 500, 4), s.labels, {.n_bins = 10});
  check_bins(r, naive(conf, correct, 10));
  CHECK(r.brier == doctest::Approx(brier).epsilon(1e-12));
  CHECK(std::isnan(r.ece_pos));
  CHECK(r.positive.empty());
  // Ties: [0.4, 0.4, 0.2] predicts class 0.
  const std::vector<double> tie{0.4, 0.4, 0.2, 0.4, 0.4, 0.2};
  const std::vector<int> labels{0, 1};
  const auto t = cal::evaluate(alignkit::as_matrix(tie, 2, 3), labels, {.n_bins = 10});
  CHECK(t.reliability[3].weight == 2);
  CHECK(t.reliability[3].accuracy == 0.5);
}

TEST_CASE_TEMPLATE("top-label multiclass ECE: the first maximum of long rows, across SIMD batches", T, float, double) {
  // 40 classes; each row holds its maximum 0.25 twice, at first < second, and 0.5/38 elsewhere.
  // Three rows each, labelled first, first, second: accuracy 2/3 (1/3 if a later maximum won).
  const index_t k = 40;
  const std::pair<index_t, index_t> at[] = {{0, 39}, {3, 4}, {15, 16}, {17, 33}, {31, 32}, {36, 38}, {38, 39}, {7, 24}};
  std::vector<T> p;
  std::vector<int> labels;
  for (const auto& [first, second] : at)
    for (int row = 0; row < 3; ++row) {
      for (index_t j = 0; j < k; ++j) p.push_back(j == first || j == second ? T(0.25) : T(0.5 / 38));
      labels.push_back(static_cast<int>(row < 2 ? first : second));
    }
  const auto r = cal::evaluate(alignkit::as_matrix(p, static_cast<index_t>(labels.size()), k), labels, {.n_bins = 10});
  CHECK(r.reliability[2].weight == static_cast<double>(labels.size()));
  CHECK(r.reliability[2].accuracy == doctest::Approx(2.0 / 3).epsilon(1e-15));
}

TEST_CASE_TEMPLATE("confidence exactly 1 goes in the last bin and exactly 0 in the first", T, float, double) {
  const std::vector<T> p{T(0), T(1), T(0), T(1)};
  const std::vector<int> y{0, 1, 1, 0};
  for (index_t nb : {1, 10, 15}) {
    const auto r = cal::evaluate(p, y, {.n_bins = nb});
    const auto last = static_cast<std::size_t>(nb - 1);
    CHECK(r.reliability[last].weight == 4);  // top-label confidence max(1 − p, p) = 1
    CHECK(r.reliability[last].accuracy == 0.5);
    CHECK(r.positive[0].weight == (nb == 1 ? 4 : 2));  // positive-class confidence p = 0
    CHECK(r.positive[last].weight == (nb == 1 ? 4 : 2));
    CHECK(r.ece == doctest::Approx(0.5));
  }
  // Multiclass one-hot rows: confidence 1 → last bin; classwise p_k = 0 → first bin.
  const std::vector<T> onehot{T(1), T(0), T(0), T(0), T(1), T(0)};
  const std::vector<int> labels{0, 2};
  const auto m = cal::evaluate(alignkit::as_matrix(onehot, 2, 3), labels, {.n_bins = 10});
  CHECK(m.reliability[9].weight == 2);
  CHECK(m.ece == doctest::Approx(0.5));
  const auto cw = cal::classwise_ece(alignkit::as_matrix(onehot, 2, 3), labels, {.n_bins = 10});
  CHECK(cw.per_class[0] == 0.0);  // p_0 = (1, 0) vs (1, 0)
  CHECK(cw.per_class[1] == 0.5);  // p_1 = (0, 1) vs (0, 0): the 1 is wrong
  CHECK(cw.per_class[2] == 0.5);  // p_2 = (0, 0) vs (0, 1): the 0 in bin 0 misses a positive
}

TEST_CASE_TEMPLATE("values on a bin edge follow numpy's linspace edges in double and float", T, float, double) {
  // 0.3 < e_3 = 0.30000000000000004 (bin 2); 0.7 < e_7 = 0.7000000000000001 (bin 6); 0.2 = e_2 (bin 1).
  // Repeated 300 times so that both the SIMD blocks and the scalar tail see them.
  const std::vector<T> one{T(0.3), T(0.7), T(0.2), T(0.5)};
  const std::vector<int> one_y{1, 1, 0, 0};
  std::vector<T> p;
  std::vector<int> y;
  for (int r = 0; r < 300; ++r) {
    p.insert(p.end(), one.begin(), one.end());
    y.insert(y.end(), one_y.begin(), one_y.end());
  }
  for (index_t nb : {10, 40}) {
    CAPTURE(nb);
    // The definition: the number of edges i·(1/nb), rounded to T, strictly below the value.
    const auto bin = [&](T c) {
      std::size_t b = 0;
      for (index_t i = 1; i < nb; ++i) b += c > static_cast<T>(static_cast<double>(i) * (1.0 / static_cast<double>(nb)));
      return b;
    };
    const auto r = cal::evaluate(p, y, {.n_bins = nb});
    std::vector<double> pos(static_cast<std::size_t>(nb)), top(static_cast<std::size_t>(nb));
    for (T v : one) {
      pos[bin(v)] += 300;
      top[bin(std::max(v, T(1) - v))] += 300;
    }
    for (std::size_t b = 0; b < pos.size(); ++b) {
      CHECK(r.positive[b].weight == pos[b]);
      CHECK(r.reliability[b].weight == top[b]);
    }
    if (nb == 10) {
      CHECK(pos[2] == 300);  // 0.3
      CHECK(pos[1] == 300);  // 0.2
      CHECK(top[6] == 600);  // 0.7 and 1 − 0.3
    }
  }
}

TEST_CASE("sample weights: integer weights equal repeated samples") {
  const auto p = uniform(200, 4);
  const auto u = uniform(200, 5);
  std::vector<int> y(200);
  std::vector<double> w(200);
  std::vector<double> rp;
  std::vector<int> ry;
  for (std::size_t i = 0; i < 200; ++i) {
    y[i] = u[i] < p[i] ? 1 : 0;
    w[i] = static_cast<double>(i % 3);
    for (int r = 0; r < static_cast<int>(w[i]); ++r) {
      rp.push_back(p[i]);
      ry.push_back(y[i]);
    }
  }
  const auto weighted = cal::evaluate(p, y, w, {.n_bins = 10});
  const auto repeated = cal::evaluate(rp, ry, {.n_bins = 10});
  CHECK(weighted.ece == doctest::Approx(repeated.ece).epsilon(1e-13));
  CHECK(weighted.mce == doctest::Approx(repeated.mce).epsilon(1e-13));
  CHECK(weighted.ece_pos == doctest::Approx(repeated.ece_pos).epsilon(1e-13));
  CHECK(weighted.brier == doctest::Approx(repeated.brier).epsilon(1e-13));
  CHECK(weighted.weight == static_cast<double>(rp.size()));
  CHECK(weighted.samples == 200);
  for (std::size_t b = 0; b < 10; ++b) CHECK(weighted.reliability[b].weight == repeated.reliability[b].weight);
}

TEST_CASE("streaming batches and sharded sums equal one pass over the whole set") {
  const auto s = make_multiclass(3000, 5, 6);
  const auto whole = cal::evaluate(alignkit::as_matrix(s.probs, 3000, 5), s.labels);
  cal::accumulator streamed, shard_a, shard_b;
  for (index_t b = 0; b < 3000; b += 700) {
    const index_t len = std::min<index_t>(700, 3000 - b);
    const auto rows = alignkit::matrix_view<const double>(s.probs.data() + 5 * b, {len, 5});
    const auto labels = std::span<const int>(s.labels).subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(len));
    streamed.add(rows, labels);
    (b < 1400 ? shard_a : shard_b).add(rows, labels);
  }
  const auto r = streamed.finish();
  CHECK(r.ece == doctest::Approx(whole.ece).epsilon(1e-13));
  CHECK(r.brier == doctest::Approx(whole.brier).epsilon(1e-13));
  // A two-process all-reduce, simulated: each shard adds the other's sums.
  struct pair_reducer {
    std::span<const double> other;
    void all_reduce_sum(std::span<double> v) const {
      for (std::size_t k = 0; k < v.size(); ++k) v[k] += other[k];
    }
  };
  static_assert(alignkit::reducer<pair_reducer>);
  pair_reducer to_a{shard_b.state()}, to_b{shard_a.state()};
  const auto ra = shard_a.finish(to_a), rb = shard_b.finish(to_b);
  CHECK(ra.ece == doctest::Approx(whole.ece).epsilon(1e-13));
  CHECK(rb.ece == ra.ece);
  CHECK(ra.samples == 3000);
  for (std::size_t b = 0; b < ra.reliability.size(); ++b) CHECK(ra.reliability[b].weight == whole.reliability[b].weight);
  alignkit::local_reducer local;
  CHECK(streamed.finish(local).ece == r.ece);
  streamed.reset();
  CHECK_THROWS_AS(streamed.finish(), alignkit::shape_error);
}

TEST_CASE("adaptive ECE: stable sort and numpy array_split chunks") {
  // 7 samples, 3 bins: chunks of 3, 2, 2 after sorting by confidence.
  const std::vector<double> p{0.9, 0.6, 0.8, 0.55, 0.7, 0.95, 0.65};
  const std::vector<int> y{1, 0, 1, 1, 0, 1, 1};
  // Sorted (conf, correct): (.55,1) (.6,0) (.65,1) | (.7,0) (.8,1) | (.9,1) (.95,1)
  const double want = (std::abs(2 - (0.55 + 0.6 + 0.65)) + std::abs(1 - (0.7 + 0.8)) + std::abs(2 - (0.9 + 0.95))) / 7;
  CHECK(cal::adaptive_ece(p, y, {.n_bins = 3}) == doctest::Approx(want).epsilon(1e-15));
  // More bins than samples: empty chunks are skipped, every sample its own chunk.
  double per_sample = 0;
  for (std::size_t i = 0; i < 7; ++i) per_sample += std::abs((p[i] > 0.5) == (y[i] == 1) ? 1 - p[i] : -p[i]) / 7;
  CHECK(cal::adaptive_ece(p, y, {.n_bins = 20}) == doctest::Approx(per_sample).epsilon(1e-15));
}

TEST_CASE("classwise ECE is the mean of the per-class one-vs-rest ECE") {
  const auto s = make_multiclass(800, 3, 7);
  const auto r = cal::classwise_ece(alignkit::as_matrix(s.probs, 800, 3), s.labels, {.n_bins = 10});
  double mean = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    std::vector<double> c(800), a(800);
    for (std::size_t i = 0; i < 800; ++i) {
      c[i] = s.probs[3 * i + k];
      a[i] = s.labels[i] == static_cast<int>(k);
    }
    const double want = naive(c, a, 10).ece;
    CHECK(r.per_class[k] == doctest::Approx(want).epsilon(1e-12));
    mean += want / 3;
  }
  CHECK(r.ece == doctest::Approx(mean).epsilon(1e-12));
}

TEST_CASE("reliability bins carry Wilson score intervals") {
  // 5 correct of 10 at z = 1.96: the textbook interval (0.2366, 0.7634).
  std::vector<double> p(10, 0.75);
  std::vector<int> y{1, 1, 1, 1, 1, 0, 0, 0, 0, 0};
  const auto r = cal::evaluate(p, y, {.n_bins = 4, .wilson_z = 1.96});
  CHECK(r.reliability[2].accuracy == 0.5);
  CHECK(r.reliability[2].accuracy_lower == doctest::Approx(0.2366).epsilon(1e-3));
  CHECK(r.reliability[2].accuracy_upper == doctest::Approx(0.7634).epsilon(1e-3));
  CHECK(r.reliability[0].accuracy_upper == 0.0);  // empty bin
  // All correct: the interval reaches 1 and its lower end is n / (n + z²).
  std::fill(y.begin(), y.end(), 0);
  const auto all = cal::evaluate(std::vector<double>(10, 0.1), y, {.n_bins = 4});
  CHECK(all.reliability[3].accuracy == 1.0);
  CHECK(all.reliability[3].accuracy_upper == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(all.reliability[3].accuracy_lower == doctest::Approx(10 / (10 + 1.959963984540054 * 1.959963984540054)));
}

TEST_CASE("scikit-learn calibration_curve keeps the non-empty positive-class bins") {
  const std::vector<double> p{0.05, 0.15, 0.12, 0.95};
  const std::vector<int> y{0, 1, 0, 1};
  const auto c = cal::calibration_curve(cal::evaluate(p, y, {.n_bins = 5}));
  REQUIRE(c.prob_true.size() == 2);
  CHECK(c.prob_true[0] == doctest::Approx(1.0 / 3));
  CHECK(c.prob_pred[0] == doctest::Approx((0.05 + 0.15 + 0.12) / 3));
  CHECK(c.prob_true[1] == 1.0);
  CHECK(c.prob_pred[1] == 0.95);
}

TEST_CASE("exec::par on 2 threads is bitwise equal to exec::seq") {
  const std::size_t n = 300'007;
  const auto pd = uniform(n, 8), u = uniform(n, 9);
  std::vector<float> p(pd.begin(), pd.end());
  std::vector<int> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = u[i] < pd[i] ? 1 : 0;
  const auto s = cal::evaluate(alignkit::exec::seq, p, y);
  const auto q = cal::evaluate(alignkit::exec::par.with(2), p, y);
  CHECK(s.ece == q.ece);
  CHECK(s.ece_pos == q.ece_pos);
  CHECK(s.brier == q.brier);
  CHECK(s.mce == q.mce);
  for (std::size_t b = 0; b < s.reliability.size(); ++b) CHECK(s.reliability[b].confidence == q.reliability[b].confidence);
  const auto m = make_multiclass(40'000, 10, 10);
  const auto mat = alignkit::as_matrix(m.probs, 40'000, 10);
  const auto ms = cal::evaluate(alignkit::exec::seq, mat, m.labels);
  const auto mp = cal::evaluate(alignkit::exec::par.with(2), mat, m.labels);
  CHECK(ms.ece == mp.ece);
  CHECK(ms.brier == mp.brier);
  CHECK(cal::classwise_ece(alignkit::exec::seq, mat, m.labels).ece ==
        cal::classwise_ece(alignkit::exec::par.with(2), mat, m.labels).ece);
}

TEST_CASE_TEMPLATE("the same result on every tensor type", T, float, double) {
  const auto s = make_multiclass(64, 3, 11);
  const std::vector<T> pt(s.probs.begin(), s.probs.end());
  const auto want = cal::evaluate(alignkit::as_matrix(s.probs, 64, 3), s.labels);
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-15;
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> col_major(64, 3);  // column-major: row stride 1
  for (index_t i = 0; i < 64; ++i)
    for (index_t j = 0; j < 3; ++j) col_major(i, j) = pt[static_cast<std::size_t>(3 * i + j)];
  Eigen::VectorXi labels(64);
  for (index_t i = 0; i < 64; ++i) labels(i) = s.labels[static_cast<std::size_t>(i)];
  for (const auto& got : {cal::evaluate(alignkit::as_matrix(pt, 64, 3), s.labels), cal::evaluate(col_major, labels)}) {
    CHECK(got.ece == doctest::Approx(want.ece).epsilon(tol));
    CHECK(got.brier == doctest::Approx(want.brier).epsilon(tol));
  }
}

namespace {

// Binary probabilities in T with many exact 0, 1, 0.5, bin edges e_i = T(i/nb) and their
// neighbours, and labels drawn with P(y = 1) = p.
template <class T>
std::pair<std::vector<T>, std::vector<std::uint8_t>> edge_heavy_binary(std::size_t n, index_t nb, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> kind(0, 5);
  std::uniform_int_distribution<index_t> edge(0, nb);
  std::vector<T> p(n);
  std::vector<std::uint8_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    const T e = static_cast<T>(static_cast<double>(edge(g)) / static_cast<double>(nb));
    switch (kind(g)) {
      case 0: p[i] = e; break;
      case 1: p[i] = std::nextafter(e, T(0)); break;
      case 2: p[i] = std::min(std::nextafter(e, T(2)), T(1)); break;
      case 3: p[i] = static_cast<T>(u(g) < 0.5 ? 0.5 : (u(g) < 0.5 ? 0.0 : 1.0)); break;
      default: p[i] = static_cast<T>(u(g));
    }
    y[i] = u(g) < static_cast<double>(p[i]);
  }
  return {p, y};
}

}  // namespace

TEST_CASE_TEMPLATE("binary ECE: the unweighted vector path equals the weighted scatter path", T, float, double) {
  // Unit weights take the per-sample scatter; without weights, n_bins ≤ 32 takes the vector
  // path. Counts and correctness sums are exact in both; confidences differ by rounding only.
  for (index_t nb : {1, 2, 10, 15, 16, 31, 32, 33})
    for (std::size_t n : {1, 7, 255, 256, 1025, 5000, 16387, 40000}) {
      CAPTURE(nb);
      CAPTURE(n);
      const auto [p, y] = edge_heavy_binary<T>(n, nb, static_cast<std::uint32_t>(n + 100 * static_cast<std::size_t>(nb)));
      const std::vector<T> ones(n, T(1));
      cal::options o;
      o.n_bins = nb;
      const auto v = cal::evaluate(p, y, o);
      const auto s = cal::evaluate(p, y, ones, o);
      const auto par = cal::evaluate(alignkit::exec::parallel_policy{2, 1000}, p, y, o);
      const auto seq = cal::evaluate(alignkit::exec::sequenced_policy{1000}, p, y, o);
      for (auto bins : {&cal::report::reliability, &cal::report::positive}) {
        REQUIRE((v.*bins).size() == static_cast<std::size_t>(nb));
        for (std::size_t b = 0; b < (v.*bins).size(); ++b) {
          const cal::bin &bv = (v.*bins)[b], &bs = (s.*bins)[b];
          CHECK(bv.weight == bs.weight);
          CHECK(bv.accuracy == bs.accuracy);
          CHECK(bv.confidence == doctest::Approx(bs.confidence).epsilon(1e-7));
        }
      }
      CHECK(v.ece == doctest::Approx(s.ece).epsilon(1e-7));
      CHECK(v.ece_pos == doctest::Approx(s.ece_pos).epsilon(1e-7));
      CHECK(v.mce == doctest::Approx(s.mce).epsilon(1e-7));
      CHECK(v.brier == doctest::Approx(s.brier).epsilon(1e-6));
      CHECK(par.ece == seq.ece);  // bitwise, with many chunks
      CHECK(par.ece_pos == seq.ece_pos);
      CHECK(par.brier == seq.brier);
    }
}

TEST_CASE_TEMPLATE("stated confidences: bitwise the positive-class bins of the binary form, on every path", T, float, double) {
  // (c, a) are binned as the binary form bins (p, y): the same sums on the vector path (no
  // weights, n_bins <= 32), the scatter path (weights or more bins), in chunks and on 2 threads.
  const alignkit::exec::parallel_policy par{2, 1000};
  for (index_t nb : {1, 2, 15, 16, 32, 33})
    for (std::size_t n : {1, 255, 1025, 16387, 40000}) {
      CAPTURE(nb);
      CAPTURE(n);
      const auto [p, y] = edge_heavy_binary<T>(n, nb, static_cast<std::uint32_t>(7 * n + static_cast<std::size_t>(nb)));
      std::vector<T> w(n);
      for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<T>(static_cast<double>(i % 3) + 0.5);
      const cal::options o{.n_bins = nb};
      const std::pair<cal::report, cal::report> runs[] = {
          {cal::evaluate_confidences(p, y, o), cal::evaluate(p, y, o)},
          {cal::evaluate_confidences(p, y, w, o), cal::evaluate(p, y, w, o)},
          {cal::evaluate_confidences(par, p, y, o), cal::evaluate(par, p, y, o)}};
      for (const auto& [conf, binary] : runs) {
        REQUIRE(conf.reliability.size() == binary.positive.size());
        for (std::size_t b = 0; b < conf.reliability.size(); ++b) {
          CHECK(conf.reliability[b].weight == binary.positive[b].weight);
          CHECK(conf.reliability[b].confidence == binary.positive[b].confidence);
          CHECK(conf.reliability[b].accuracy == binary.positive[b].accuracy);
        }
        CHECK(conf.ece == binary.ece_pos);
        CHECK(conf.brier == binary.brier);
        CHECK(conf.weight == binary.weight);
      }
    }
}

TEST_CASE("stated confidences: errors name confidence and correct") {
  const std::vector<double> c{0.2, 1.5, 0.7};
  const std::vector<int> a{1, 0, 1}, bad{2, 0, 1};
  const std::vector<double> ok{0.2, 0.5, 0.7};
  CHECK_THROWS_WITH_AS(cal::evaluate_confidences(c, a),
                       "[alignkit.domain_error.250] calibration::accumulator::add_confidences: confidence[1] is 1.5, expected "
                       "a probability in [0, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::evaluate_confidences(ok, bad),
                       "[alignkit.domain_error.252] calibration::accumulator::add_confidences: correct[0] is 2, expected an "
                       "integer in [0, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::evaluate_confidences(ok, std::vector<int>{1, 0}),
                       "[alignkit.shape_error.101] calibration::accumulator::add_confidences: correct has 2 elements, "
                       "confidence has 3",
                       alignkit::shape_error);
  cal::accumulator acc;
  acc.add(ok, a);
  CHECK_THROWS_WITH_AS(acc.add_confidences(ok, a),
                       "[alignkit.shape_error.150] calibration::accumulator::add_confidences: a batch of stated confidences [N] "
                       "after batches of binary probabilities [N]",
                       alignkit::shape_error);
  CHECK(acc.finish().samples == 3);
}

TEST_CASE("binary ECE: the vector path reports the first bad sample anywhere") {
  for (std::size_t at : {std::size_t{3}, std::size_t{700}, std::size_t{20000}, std::size_t{20479}}) {
    CAPTURE(at);
    auto [p, y] = edge_heavy_binary<float>(20480, 15, 5);
    auto bad_p = p;
    bad_p[at] = 1.5f;
    CHECK_THROWS_WITH_AS(cal::evaluate(alignkit::exec::par.with(2), bad_p, y),
                         ("[alignkit.domain_error.250] calibration::accumulator::add: probs[" + std::to_string(at) +
                          "] is 1.5, expected a probability in [0, 1]").c_str(),
                         alignkit::domain_error);
    auto bad_y = y;
    bad_y[at] = 2;
    CHECK_THROWS_WITH_AS(cal::evaluate(p, bad_y),
                         ("[alignkit.domain_error.252] calibration::accumulator::add: labels[" + std::to_string(at) +
                          "] is 2, expected an integer in [0, 1]").c_str(),
                         alignkit::domain_error);
  }
}

TEST_CASE_TEMPLATE("binary ECE: the vector path rejects NaN and infinity inside a segment and keeps earlier sums", T, float, double) {
  // 20480 samples: whole 64-batch segments of the vector path. The segment is validated after
  // its pass; the first bad sample in input order is reported and nothing of the batch is kept.
  const auto [p, y] = edge_heavy_binary<T>(20480, 15, 7);
  const std::vector<T> ok_p(p.begin(), p.begin() + 2048);
  const std::vector<std::uint8_t> ok_y(y.begin(), y.begin() + 2048);
  for (std::size_t at : {std::size_t{1030}, std::size_t{9999}}) {
    CAPTURE(at);
    for (T bad : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(), T(-0.25)}) {
      CAPTURE(bad);
      auto bad_p = p;
      bad_p[at] = bad;
      bad_p[at + 5] = T(2);  // a second bad sample in the same segment is not the one reported
      cal::accumulator acc({.n_bins = 15});
      acc.add(ok_p, ok_y);
      const auto before = acc.finish();
      std::ostringstream value;
      value << std::setprecision(17) << static_cast<double>(bad);
      CHECK_THROWS_WITH_AS(acc.add(alignkit::exec::par.with(2), bad_p, y),
                           ("[alignkit.domain_error.250] calibration::accumulator::add: probs[" + std::to_string(at) +
                            "] is " + value.str() + ", expected a probability in [0, 1]").c_str(),
                           alignkit::domain_error);
      const auto after = acc.finish();
      CHECK(after.samples == 2048);
      CHECK(after.ece == before.ece);
      CHECK(after.ece_pos == before.ece_pos);
      CHECK(after.brier == before.brier);
    }
  }
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<double> p{0.2, 1.5, 0.7}, ok{0.2, 0.5, 0.7};
  const std::vector<int> y{0, 1, 1}, y2{0, 2, 1}, y_short{0, 1};
  const std::vector<double> w_bad{1, -1, 1};
  CHECK_THROWS_WITH_AS(cal::evaluate(p, y),
                       "[alignkit.domain_error.250] calibration::accumulator::add: probs[1] is 1.5, expected a probability in [0, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::evaluate(std::vector<double>{0.1, std::nan("")}, std::vector<int>{0, 1}),
                       "[alignkit.domain_error.250] calibration::accumulator::add: probs[1] is nan, expected a probability in [0, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::evaluate(ok, y2),
                       "[alignkit.domain_error.252] calibration::accumulator::add: labels[1] is 2, expected an integer in [0, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::evaluate(ok, y_short),
                       "[alignkit.shape_error.101] calibration::accumulator::add: labels has 2 elements, probs has 3",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(cal::evaluate(ok, y, w_bad),
                       "[alignkit.domain_error.253] calibration::accumulator::add: weights[1] is -1, expected a finite value >= 0",
                       alignkit::domain_error);
  // A weight is checked in the compute type: 1e300 is infinite for float probabilities.
  const std::vector<float> okf{0.2f, 0.5f, 0.7f};
  CHECK_THROWS_WITH_AS(cal::evaluate(okf, y, std::vector<double>{1, 1e300, 1}),
                       "[alignkit.domain_error.253] calibration::accumulator::add: weights[1] is 1.0000000000000001e+300, expected a "
                       "finite value >= 0",
                       alignkit::domain_error);
  const std::vector<float> rowsf{0.5f, 0.5f, 0.25f, 0.75f};
  CHECK_THROWS_AS(cal::evaluate(alignkit::as_matrix(rowsf, 2, 2), std::vector<int>{0, 1}, std::vector<double>{1e300, 1}),
                  alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::evaluate(ok, y, std::vector<double>(3, 0.0)),
                       "[alignkit.domain_error.254] calibration::accumulator::finish: the total sample weight is 0, expected a positive value",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::evaluate(std::vector<double>{}, std::vector<int>{}),
                       "[alignkit.shape_error.102] calibration::accumulator::finish: the set of added samples is empty; at least one "
                       "element is required",
                       alignkit::shape_error);
  const std::vector<double> rows{0.5, 0.4, 0.3, 0.7};  // row 0 sums to 0.9
  const std::vector<int> labels{0, 3};
  CHECK_THROWS_WITH_AS(cal::evaluate(alignkit::as_matrix(rows, 2, 2), labels),
                       "[alignkit.domain_error.251] calibration::accumulator::add: probs row 0 sums to 0.90000000000000002, expected 1 "
                       "within 0.0001",
                       alignkit::domain_error);
  const std::vector<double> good_rows{0.5, 0.5, 0.3, 0.7};
  CHECK_THROWS_WITH_AS(cal::evaluate(alignkit::as_matrix(good_rows, 2, 2), labels),
                       "[alignkit.domain_error.252] calibration::accumulator::add: labels[1] is 3, expected an integer in [0, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::classwise_ece(alignkit::as_matrix(rows, 2, 2), std::vector<int>{0, 1}),
                       "[alignkit.domain_error.251] calibration::classwise_ece: probs row 0 sums to 0.90000000000000002, expected 1 "
                       "within 0.0001",
                       alignkit::domain_error);
  cal::accumulator acc;
  acc.add(ok, y);
  CHECK_THROWS_WITH_AS(acc.add(alignkit::as_matrix(good_rows, 2, 2), std::vector<int>{0, 1}),
                       "[alignkit.shape_error.150] calibration::accumulator::add: a batch of multiclass probabilities [N, K] after "
                       "batches of binary probabilities [N]",
                       alignkit::shape_error);
  CHECK_THROWS_AS(acc.add(p, y), alignkit::domain_error);
  CHECK(acc.finish().samples == 3);  // a failed add leaves the accumulator unchanged
  CHECK_THROWS_WITH_AS(cal::calibration_curve(cal::evaluate(alignkit::as_matrix(good_rows, 2, 2), std::vector<int>{0, 1})),
                       "[alignkit.shape_error.151] calibration::calibration_curve: the report has no positive-class bins; it needs "
                       "binary probabilities of rank 1",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(cal::accumulator({.n_bins = 0}),
                       "[alignkit.domain_error.202] calibration::accumulator: n_bins is 0, expected a value in [1, 1000000]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::adaptive_ece(p, y),
                       "[alignkit.domain_error.250] calibration::adaptive_ece: probs[1] is 1.5, expected a probability in [0, 1]",
                       alignkit::domain_error);
}
