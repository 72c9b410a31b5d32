// Reward-model ensembles: the loss equals the mean of the per-head Bradley–Terry losses,
// gradients by finite differences, the three aggregations, head-major layouts, determinism
// across threads and the documented errors.
#include <alignkit/alignkit.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "finite_difference.hpp"

namespace ens = alignkit::reward_ensemble;
namespace bt = alignkit::bradley_terry;
using alignkit::as_matrix;
using alignkit::index_t;
using vec = std::vector<double>;

namespace {

vec random_vector(std::size_t n, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0, 2);
  vec v(n);
  for (auto& x : v) x = d(g);
  return v;
}

vec column(const vec& m, std::size_t k, std::size_t j) {
  vec c;
  for (std::size_t i = j; i < m.size(); i += k) c.push_back(m[i]);
  return c;
}

double naive_score(const vec& m, std::size_t k, std::size_t i, const ens::options& o) {
  const auto first = m.begin() + static_cast<std::ptrdiff_t>(i * k), last = first + static_cast<std::ptrdiff_t>(k);
  if (o.aggregate == ens::aggregation::min) return *std::min_element(first, last);
  double mean = 0, var = 0;
  for (auto it = first; it != last; ++it) mean += *it / static_cast<double>(k);
  for (auto it = first; it != last; ++it) var += (*it - mean) * (*it - mean) / static_cast<double>(k);
  return o.aggregate == ens::aggregation::mean ? mean : mean - o.std_coefficient * std::sqrt(var);
}

}  // namespace

TEST_CASE("the loss is the mean of the heads' Bradley-Terry losses; gradients by finite differences") {
  const std::size_t n = 9, k = 4;
  const vec c = random_vector(n * k, 1), r = random_vector(n * k, 2);
  const ens::options o{.center_rewards_coefficient = 0.01};
  vec gc(n * k), gr(n * k);
  const auto res = ens::loss(as_matrix(c, n, k), as_matrix(r, n, k), o,
                             ens::outputs<double>{as_matrix(gc, n, k), as_matrix(gr, n, k)});
  double want = 0, head_acc = 0;
  for (std::size_t j = 0; j < k; ++j) {
    const auto h = bt::loss(column(c, k, j), column(r, k, j), {.center_rewards_coefficient = 0.01});
    want += h.loss / k;
    head_acc += h.accuracy / k;
  }
  CHECK(res.loss == doctest::Approx(want).epsilon(1e-14));
  CHECK(res.head_accuracy == doctest::Approx(head_acc).epsilon(1e-15));
  CHECK(res.pairs == 9);
  CHECK(res.heads == 4);
  auto f = [&](const vec& cc, const vec& rr) { return ens::loss(as_matrix(cc, n, k), as_matrix(rr, n, k), o).loss; };
  alignkit_test::check_gradient([&](const vec& x) { return f(x, r); }, c, gc);
  alignkit_test::check_gradient([&](const vec& x) { return f(c, x); }, r, gr);
}

TEST_CASE("aggregated scores, accuracy and margin for mean, min and mean - k*std") {
  const std::size_t n = 8, k = 3;
  const vec c = random_vector(n * k, 3), r = random_vector(n * k, 4);
  for (auto agg : {ens::aggregation::mean, ens::aggregation::min, ens::aggregation::mean_minus_std}) {
    const ens::options o{.aggregate = agg, .std_coefficient = 0.5};
    vec sc(n), sr(n);
    const auto res = ens::loss(as_matrix(c, n, k), as_matrix(r, n, k), o, ens::outputs<double>{{}, {}, alignkit::view_of(sc), alignkit::view_of(sr)});
    double acc = 0, margin = 0;
    for (std::size_t i = 0; i < n; ++i) {
      CHECK(sc[i] == doctest::Approx(naive_score(c, k, i, o)).epsilon(1e-14));
      CHECK(sr[i] == doctest::Approx(naive_score(r, k, i, o)).epsilon(1e-14));
      acc += sc[i] > sr[i];
      margin += sc[i] - sr[i];
    }
    CHECK(res.accuracy == acc / n);
    CHECK(res.margin == doctest::Approx(margin / n).epsilon(1e-13));
    const auto s = ens::scores(as_matrix(c, n, k), o);
    CHECK(s == sc);
  }
}

TEST_CASE_TEMPLATE("head-major buffers as strided views give the same result", T, float, double) {
  const std::size_t n = 5, k = 3;
  const vec cd = random_vector(n * k, 5), rd = random_vector(n * k, 6);
  const std::vector<T> c(cd.begin(), cd.end()), r(rd.begin(), rd.end());
  std::vector<T> ch(n * k), rh(n * k);  // head-major copies: element (i, j) at j·n + i
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      ch[j * n + i] = c[i * k + j];
      rh[j * n + i] = r[i * k + j];
    }
  const auto N = static_cast<index_t>(n), K = static_cast<index_t>(k);
  const alignkit::matrix_view<const T> vc(ch.data(), {N, K}, {1, N}), vr(rh.data(), {N, K}, {1, N});
  const auto want = ens::loss(as_matrix(c, N, K), as_matrix(r, N, K), {.aggregate = ens::aggregation::min});
  const auto got = ens::loss(vc, vr, {.aggregate = ens::aggregation::min});
  CHECK(got.loss == doctest::Approx(want.loss).epsilon(1e-12));
  CHECK(got.accuracy == want.accuracy);
}

TEST_CASE("exec::par on 2 threads is bitwise equal to exec::seq") {
  const std::size_t n = 40'000, k = 3;
  const vec cd = random_vector(n * k, 7), rd = random_vector(n * k, 8);
  const std::vector<float> c(cd.begin(), cd.end()), r(rd.begin(), rd.end());
  std::vector<float> g1(n * k), g2(n * k), s1(n), s2(n);
  const ens::options o{.aggregate = ens::aggregation::mean_minus_std};
  const auto a = ens::loss(alignkit::exec::seq, as_matrix(c, n, k), as_matrix(r, n, k), o,
                           ens::outputs<float>{as_matrix(g1, n, k), {}, alignkit::view_of(s1)});
  const auto b = ens::loss(alignkit::exec::par.with(2), as_matrix(c, n, k), as_matrix(r, n, k), o,
                           ens::outputs<float>{as_matrix(g2, n, k), {}, alignkit::view_of(s2)});
  CHECK(a.loss == b.loss);
  CHECK(a.accuracy == b.accuracy);
  CHECK(a.margin == b.margin);
  CHECK(g1 == g2);
  CHECK(s1 == s2);
}

TEST_CASE("bad input raises the documented errors") {
  const vec c(6, 1.0), r(6, 0.0), empty;
  CHECK_THROWS_WITH_AS(ens::loss(as_matrix(c, 3, 2), as_matrix(r, 2, 3)),
                       "[alignkit.shape_error.103] reward_ensemble::loss: r_rejected has extent 2 in dimension 0, expected 3",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(ens::loss(as_matrix(empty, 0, 2), as_matrix(empty, 0, 2)),
                       "[alignkit.shape_error.102] reward_ensemble::loss: r_chosen is empty; at least one element is required",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(ens::loss(as_matrix(c, 3, 2), as_matrix(r, 3, 2), {.std_coefficient = -1}),
                       "[alignkit.domain_error.202] reward_ensemble::loss: std_coefficient is -1, expected a value in [0, inf]",
                       alignkit::domain_error);
  vec bad = r;
  bad[3] = NAN;
  CHECK_THROWS_WITH_AS(ens::loss(as_matrix(c, 3, 2), as_matrix(bad, 3, 2), {.check_finite = true}),
                       "[alignkit.domain_error.201] reward_ensemble::loss: r_rejected[1, 1] is nan, expected a finite value",
                       alignkit::domain_error);
  vec short_scores(2);
  CHECK_THROWS_WITH_AS(ens::score(alignkit::exec::seq, as_matrix(c, 3, 2), short_scores),
                       "[alignkit.shape_error.101] reward_ensemble::score: scores has 2 elements, rewards has 3",
                       alignkit::shape_error);
}
