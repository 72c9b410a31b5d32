// Agreement: Fleiss' kappa (count table and raw labels with missing ratings) against Fleiss' 1971
// worked example and the row-wise definition, Cohen's kappa conventions, per-item agreement,
// filtering, majority and soft labels, determinism across threads, and the documented errors.
#include <alignkit/adapters/eigen.hpp>
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace ag = alignkit::agreement;
using alignkit::index_t;

namespace {

// Fleiss 1971 / the usual textbook example: 10 items, 14 raters, 5 categories; κ = 0.210.
const std::vector<int> fleiss_table{0, 0, 0, 0, 14, 0, 2, 6, 4, 2, 0, 0, 3, 5, 6, 0, 3, 9, 2, 0, 2, 2, 8, 1, 1,
                                    7, 7, 0, 0, 0, 3, 2, 6, 3, 0, 2, 5, 3, 2, 2, 6, 5, 2, 1, 0, 0, 2, 2, 3, 7};

// statsmodels' row-wise form, written out.
double rowwise_fleiss(const std::vector<int>& t, std::size_t items, std::size_t k, bool randolph = false) {
  double n = 0, p_mean = 0, pe = 0;
  for (std::size_t j = 0; j < k; ++j) n += t[j];
  std::vector<double> col(k, 0.0);
  for (std::size_t i = 0; i < items; ++i) {
    double sq = 0;
    for (std::size_t j = 0; j < k; ++j) {
      sq += static_cast<double>(t[i * k + j]) * t[i * k + j];
      col[j] += t[i * k + j];
    }
    p_mean += (sq - n) / (n * (n - 1)) / static_cast<double>(items);
  }
  for (double c : col) pe += (c / (n * static_cast<double>(items))) * (c / (n * static_cast<double>(items)));
  if (randolph) pe = 1.0 / static_cast<double>(k);
  return (p_mean - pe) / (1 - pe);
}

// Raw labels [items, raters] whose counts are the table above.
std::vector<int> labels_of(const std::vector<int>& t, std::size_t items, std::size_t k, std::size_t raters) {
  std::vector<int> y;
  for (std::size_t i = 0; i < items; ++i)
    for (std::size_t j = 0; j < k; ++j)
      for (int c = 0; c < t[i * k + j]; ++c) y.push_back(static_cast<int>(j));
  REQUIRE(y.size() == items * raters);
  return y;
}

}  // namespace

TEST_CASE("Fleiss' kappa reproduces the worked example and the row-wise definition") {
  const auto r = ag::fleiss_kappa(alignkit::as_matrix(fleiss_table, 10, 5));
  CHECK(r.kappa == doctest::Approx(0.210).epsilon(2e-3));
  CHECK(r.kappa == doctest::Approx(rowwise_fleiss(fleiss_table, 10, 5)).epsilon(1e-14));
  CHECK(r.observed == doctest::Approx(0.378).epsilon(1e-3));
  CHECK(r.expected == doctest::Approx(0.213).epsilon(2e-3));
  CHECK(r.items == 10);
  const auto rand = ag::fleiss_kappa(alignkit::as_matrix(fleiss_table, 10, 5), ag::chance::randolph);
  CHECK(rand.kappa == doctest::Approx(rowwise_fleiss(fleiss_table, 10, 5, true)).epsilon(1e-14));
  CHECK(rand.expected == 0.2);
  // The same counts as float, double and a column-major Eigen matrix.
  const std::vector<double> td(fleiss_table.begin(), fleiss_table.end());
  const std::vector<float> tf(fleiss_table.begin(), fleiss_table.end());
  CHECK(ag::fleiss_kappa(alignkit::as_matrix(td, 10, 5)).kappa == r.kappa);
  CHECK(ag::fleiss_kappa(alignkit::as_matrix(tf, 10, 5)).kappa == r.kappa);
  Eigen::MatrixXi e(10, 5);
  for (index_t i = 0; i < 10; ++i)
    for (index_t j = 0; j < 5; ++j) e(i, j) = fleiss_table[static_cast<std::size_t>(5 * i + j)];
  CHECK(ag::fleiss_kappa(e).kappa == r.kappa);
}

TEST_CASE("Fleiss' kappa from raw labels: equal to the table without missing ratings, Gwet's form with them") {
  const auto y = labels_of(fleiss_table, 10, 5, 14);
  const auto table = ag::fleiss_kappa(alignkit::as_matrix(fleiss_table, 10, 5));
  const auto raw = ag::fleiss_kappa_from_labels(alignkit::as_matrix(y, 10, 14), 5);
  CHECK(raw.kappa == doctest::Approx(table.kappa).epsilon(1e-14));
  CHECK(ag::fleiss_kappa_from_labels(alignkit::as_matrix(y, 10, 14), 5, ag::chance::randolph).kappa ==
        doctest::Approx(ag::fleiss_kappa(alignkit::as_matrix(fleiss_table, 10, 5), ag::chance::randolph).kappa).epsilon(1e-14));
  // Missing ratings (−1 and NaN): 4 items, 3 raters, 2 categories.
  const double nan = std::nan("");
  const std::vector<double> m{0, 0, 1,     // r = 3: pairs agreeing 2/6
                              1, 1, -1,    // r = 2: 2/2
                              0, nan, -1,  // r = 1: only in π
                              -1, -1, -1};  // no rating: dropped
  const auto got = ag::fleiss_kappa_from_labels(alignkit::as_matrix(m, 4, 3), 2);
  const double pa = (2.0 / 6 + 1.0) / 2;
  const double pi0 = (2.0 / 3 + 0 + 1) / 3, pi1 = (1.0 / 3 + 1 + 0) / 3;
  const double pe = pi0 * pi0 + pi1 * pi1;
  CHECK(got.items == 2);
  CHECK(got.observed == doctest::Approx(pa).epsilon(1e-15));
  CHECK(got.expected == doctest::Approx(pe).epsilon(1e-15));
  CHECK(got.kappa == doctest::Approx((pa - pe) / (1 - pe)).epsilon(1e-14));
}

TEST_CASE("Fleiss' kappa is NaN when every rating falls in one category") {
  const std::vector<int> t{3, 0, 3, 0};
  CHECK(std::isnan(ag::fleiss_kappa(alignkit::as_matrix(t, 2, 2)).kappa));
}

TEST_CASE("Fleiss' kappa: exec::par on 2 threads is bitwise equal to exec::seq") {
  std::mt19937 g(1);
  std::uniform_int_distribution<int> d(0, 4);
  const std::size_t items = 100'003;
  std::vector<std::int32_t> t(items * 5, 0);
  for (std::size_t i = 0; i < items; ++i)
    for (int r = 0; r < 7; ++r) t[i * 5 + static_cast<std::size_t>(d(g))] += 1;
  const auto view = alignkit::as_matrix(t, static_cast<index_t>(items), 5);
  const auto s = ag::fleiss_kappa(alignkit::exec::seq, view);
  const auto p = ag::fleiss_kappa(alignkit::exec::par.with(2), view);
  CHECK(s.kappa == p.kappa);
  CHECK(s.kappa == doctest::Approx(rowwise_fleiss(std::vector<int>(t.begin(), t.end()), items, 5)).epsilon(1e-12));
  CHECK(std::abs(s.kappa) < 0.01);  // independent uniform raters
}

// A random count table [items, k] with `raters` ratings per item.
template <class C>
std::vector<C> random_table(std::size_t items, std::size_t k, int raters, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<std::size_t> d(0, k - 1);
  std::vector<C> t(items * k, 0);
  for (std::size_t i = 0; i < items; ++i)
    for (int r = 0; r < raters; ++r) t[i * k + d(g)] += 1;
  return t;
}

TEST_CASE("Fleiss' kappa: the flat SIMD pass over int32 tables equals the row-wise pass bit for bit") {
  // int64 tables take the row-wise pass; both sum integers exactly. Sizes cover tables shorter
  // than one SIMD group, group remainders, several flushes, k above the SIMD limit (17) and
  // raters above it (600).
  for (std::size_t k : {1, 2, 3, 5, 7, 8, 13, 16, 17})
    for (std::size_t items : {1, 3, 37, 1000, 70'001})
      for (int raters : {2, 7, 600}) {
        CAPTURE(k);
        CAPTURE(items);
        CAPTURE(raters);
        const auto t32 = random_table<std::int32_t>(items, k, raters, static_cast<unsigned>(k * 31 + items));
        const std::vector<std::int64_t> t64(t32.begin(), t32.end());
        const auto n = static_cast<index_t>(items), kk = static_cast<index_t>(k);
        const auto a = ag::fleiss_kappa(alignkit::as_matrix(t32, n, kk));
        const auto b = ag::fleiss_kappa(alignkit::as_matrix(t64, n, kk));
        CHECK(a.observed == b.observed);
        CHECK(a.expected == b.expected);
        CHECK((a.kappa == b.kappa || (std::isnan(a.kappa) && std::isnan(b.kappa))));
        const auto p = ag::fleiss_kappa(alignkit::exec::par.with(2), alignkit::as_matrix(t32, n, kk));
        CHECK((a.kappa == p.kappa || (std::isnan(a.kappa) && std::isnan(p.kappa))));
      }
}

TEST_CASE("Fleiss' kappa: the flat SIMD pass finds a bad count or row total anywhere") {
  const std::size_t items = 5003, k = 5;
  for (std::size_t row : {std::size_t{1}, std::size_t{1234}, std::size_t{4999}, items - 1}) {
    CAPTURE(row);
    auto t = random_table<std::int32_t>(items, k, 7, 3);
    const auto n = static_cast<index_t>(items);
    const std::string at = "table[" + std::to_string(row);
    auto bad = t;  // a count above n, balanced by a negative one: the row total is still 7
    bad[row * k] = 8;
    bad[row * k + 1] = -1;
    for (std::size_t j = 2; j < k; ++j) bad[row * k + j] = 0;
    CHECK_THROWS_WITH_AS(ag::fleiss_kappa(alignkit::as_matrix(bad, n, 5)),
                         ("[alignkit.domain_error.255] agreement::fleiss_kappa: " + at +
                          ", 1] is -1, expected a count (an integer >= 0)").c_str(),
                         alignkit::domain_error);
    auto uneven = t;
    uneven[row * k + 2] += 1;
    CHECK_THROWS_WITH_AS(ag::fleiss_kappa(alignkit::exec::par.with(2), alignkit::as_matrix(uneven, n, 5)),
                         ("[alignkit.domain_error.256] agreement::fleiss_kappa: table row " + std::to_string(row) +
                          " has 8 ratings, row 0 has 7; every item needs the same number of raters").c_str(),
                         alignkit::domain_error);
  }
}

TEST_CASE("Cohen's kappa: the textbook 2x2 example, label positions, and the undefined case") {
  // 50 items: both yes 20, A yes B no 5, A no B yes 10, both no 15 → κ = 0.4.
  std::vector<int> a, b;
  auto push = [&](int x, int y, int times) {
    for (int t = 0; t < times; ++t) {
      a.push_back(x);
      b.push_back(y);
    }
  };
  push(1, 1, 20);
  push(1, 0, 5);
  push(0, 1, 10);
  push(0, 0, 15);
  CHECK(ag::cohen_kappa(a, b) == doctest::Approx(0.4).epsilon(1e-15));
  CHECK(ag::cohen_kappa(a, b, ag::weighting::linear) == doctest::Approx(0.4).epsilon(1e-15));  // K = 2: same weights
  // Weights use positions in the sorted label set, not the label values.
  const std::vector<int> y1{1, 5, 10, 10, 5, 1, 5}, y2{1, 10, 10, 5, 5, 5, 1};
  const std::vector<int> p1{0, 1, 2, 2, 1, 0, 1}, p2{0, 2, 2, 1, 1, 1, 0};
  for (auto w : {ag::weighting::none, ag::weighting::linear, ag::weighting::quadratic})
    CHECK(ag::cohen_kappa(y1, y2, w) == ag::cohen_kappa(p1, p2, w));
  // Quadratic weights from the confusion matrix written out: O = [[1,1,0],[1,1,1],[0,1,1]].
  double wo = 0, we = 0;
  const double o[3][3] = {{1, 1, 0}, {1, 1, 1}, {0, 1, 1}};
  const double rs[3] = {2, 3, 2}, cs[3] = {2, 3, 2};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      wo += (i - j) * (i - j) * o[i][j];
      we += (i - j) * (i - j) * cs[i] * rs[j] / 7;
    }
  CHECK(ag::cohen_kappa(p1, p2, ag::weighting::quadratic) == doctest::Approx(1 - wo / we).epsilon(1e-15));
  const std::vector<int> same(5, 3);
  CHECK(std::isnan(ag::cohen_kappa(same, same)));
}

TEST_CASE("per-item agreement, the curation filter, majority and soft labels") {
  const std::vector<int> y{0, 0, 0, 1,    // 3 of 4 agree: pairs 6/12
                           1, 1, 1, 1,    // unanimous
                           0, 1, -1, -1,  // 2 ratings, split
                           2, -1, -1, -1};  // 1 rating
  const auto m = alignkit::as_matrix(y, 4, 4);
  const auto p = ag::item_agreement(m, 3);
  CHECK(p[0] == doctest::Approx(0.5));
  CHECK(p[1] == 1.0);
  CHECK(p[2] == 0.0);
  CHECK(std::isnan(p[3]));
  CHECK(ag::filter_items(m, 3, 0.5) == std::vector<index_t>{0, 1});
  CHECK(ag::majority_labels(m, 3) == std::vector<index_t>{0, 1, 0, 2});  // a tie goes to the smaller class
  const auto soft = ag::soft_labels(m, 3);
  CHECK(soft == std::vector<double>{0.75, 0.25, 0, 0, 1, 0, 0.5, 0.5, 0, 0, 0, 1});
  std::vector<float> out(4);
  ag::item_agreement(m, 3, alignkit::view_of(out));
  CHECK(out[0] == 0.5f);
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<int> one_rater{1, 0, 0, 1};
  CHECK_THROWS_WITH_AS(ag::fleiss_kappa(alignkit::as_matrix(one_rater, 2, 2)),
                       "[alignkit.domain_error.257] agreement::fleiss_kappa: every item has 1 ratings, expected at least 2 raters "
                       "per item",
                       alignkit::domain_error);
  const std::vector<int> uneven{2, 1, 1, 1};
  CHECK_THROWS_WITH_AS(ag::fleiss_kappa(alignkit::as_matrix(uneven, 2, 2)),
                       "[alignkit.domain_error.256] agreement::fleiss_kappa: table row 1 has 2 ratings, row 0 has 3; every item "
                       "needs the same number of raters",
                       alignkit::domain_error);
  const std::vector<double> negative{2, 1, 4, -1}, fractional{2, 1, 2.5, 0.5};
  CHECK_THROWS_WITH_AS(ag::fleiss_kappa(alignkit::as_matrix(negative, 2, 2)),
                       "[alignkit.domain_error.255] agreement::fleiss_kappa: table[1, 1] is -1, expected a count (an integer >= 0)",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ag::fleiss_kappa(alignkit::as_matrix(fractional, 2, 2)),
                       "[alignkit.domain_error.255] agreement::fleiss_kappa: table[1, 0] is 2.5, expected a count (an integer >= 0)",
                       alignkit::domain_error);
  const std::vector<int> empty;
  CHECK_THROWS_WITH_AS(ag::fleiss_kappa(alignkit::as_matrix(empty, 0, 3)),
                       "[alignkit.shape_error.102] agreement::fleiss_kappa: table is empty; at least one element is required",
                       alignkit::shape_error);
  const std::vector<int> labels{0, 3, 1, 1};
  CHECK_THROWS_WITH_AS(ag::fleiss_kappa_from_labels(alignkit::as_matrix(labels, 2, 2), 3),
                       "[alignkit.domain_error.252] agreement::fleiss_kappa_from_labels: labels[0, 1] is 3, expected an integer in "
                       "[0, 2], or a negative value or NaN for a missing rating",
                       alignkit::domain_error);
  const std::vector<int> sparse{0, -1, -1, 1};
  CHECK_THROWS_WITH_AS(ag::fleiss_kappa_from_labels(alignkit::as_matrix(sparse, 2, 2), 2),
                       "[alignkit.domain_error.257] agreement::fleiss_kappa_from_labels: no item has 2 or more ratings, expected at "
                       "least 2 raters per item",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ag::cohen_kappa(std::vector<int>{0, 1}, std::vector<int>{0}),
                       "[alignkit.shape_error.101] agreement::cohen_kappa: y2 has 1 elements, y1 has 2", alignkit::shape_error);
  CHECK_THROWS_WITH_AS(ag::cohen_kappa(std::vector<double>{0, std::nan("")}, std::vector<double>{0, 1}),
                       "[alignkit.domain_error.201] agreement::cohen_kappa: y1[1] is nan, expected a finite value",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ag::majority_labels(alignkit::as_matrix(labels, 2, 2), 0),
                       "[alignkit.domain_error.202] agreement::majority_labels: n_categories is 0, expected a value in [1, 1000000000]",
                       alignkit::domain_error);
}
