// Temperature scaling: recovers the temperature that made synthetic logits overconfident, sits at
// a minimum of the NLL, reduces ECE, agrees between binary and two-class logits, is deterministic
// across threads, and raises the documented errors.
#include <alignkit/alignkit.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

namespace cal = alignkit::calibration;
using alignkit::index_t;

namespace {

// Labels drawn from softmax(z); the model reports t·z, i.e. temperature 1/t too low.
struct logit_set {
  std::vector<double> logits;
  std::vector<int> labels;
};

logit_set make(std::size_t n, std::size_t k, double t, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0, 1.5);
  logit_set s{std::vector<double>(n * k), std::vector<int>(n)};
  std::vector<double> p(k);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      const double z = d(g);
      p[j] = std::exp(z);
      s.logits[i * k + j] = t * z;
    }
    std::discrete_distribution<int> label(p.begin(), p.end());
    s.labels[i] = label(g);
  }
  return s;
}

double nll(const std::vector<double>& z, const std::vector<int>& y, std::size_t k, double temperature) {
  double total = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    double m = -INFINITY, s = 0;
    for (std::size_t j = 0; j < k; ++j) m = std::max(m, z[i * k + j] / temperature);
    for (std::size_t j = 0; j < k; ++j) s += std::exp(z[i * k + j] / temperature - m);
    total += m + std::log(s) - z[i * k + static_cast<std::size_t>(y[i])] / temperature;
  }
  return total / static_cast<double>(y.size());
}

}  // namespace

TEST_CASE("recovers a planted temperature and minimizes the NLL") {
  const std::size_t n = 20000, k = 5;
  const auto s = make(n, k, 3.0, 1);
  const auto r = cal::fit_temperature(alignkit::as_matrix(s.logits, n, k), s.labels);
  // The maximum-likelihood estimate of T has a standard error of order 1/sqrt(N) relative; 5 %
  // is several standard errors at N = 20000.
  CHECK(r.temperature == doctest::Approx(3.0).epsilon(0.05));
  CHECK(r.nll_before == doctest::Approx(nll(s.logits, s.labels, k, 1.0)).epsilon(1e-12));
  CHECK(r.nll_after == doctest::Approx(nll(s.logits, s.labels, k, r.temperature)).epsilon(1e-12));
  CHECK(r.nll_after < r.nll_before);
  CHECK(nll(s.logits, s.labels, k, r.temperature * (1 + 1e-4)) >= r.nll_after);
  CHECK(nll(s.logits, s.labels, k, r.temperature * (1 - 1e-4)) >= r.nll_after);
  CHECK(r.ece_after < 0.5 * r.ece_before);
  CHECK(r.iterations < 20);
  // ECE at T = 1 equals the equal-width ECE of the softmax probabilities.
  std::vector<double> probs(n * k);
  for (std::size_t i = 0; i < n; ++i) {
    double m = -INFINITY, tot = 0;
    for (std::size_t j = 0; j < k; ++j) m = std::max(m, s.logits[i * k + j]);
    for (std::size_t j = 0; j < k; ++j) tot += probs[i * k + j] = std::exp(s.logits[i * k + j] - m);
    for (std::size_t j = 0; j < k; ++j) probs[i * k + j] /= tot;
  }
  CHECK(r.ece_before == doctest::Approx(cal::evaluate(alignkit::as_matrix(probs, n, k), s.labels).ece).epsilon(1e-10));
}

TEST_CASE("binary logits are the two-class logits (0, z)") {
  const auto s = make(4000, 2, 2.0, 2);
  std::vector<double> z(4000), two(8000);
  for (std::size_t i = 0; i < 4000; ++i) {
    z[i] = s.logits[2 * i + 1] - s.logits[2 * i];
    two[2 * i + 1] = z[i];
  }
  const auto a = cal::fit_temperature(z, s.labels);
  const auto b = cal::fit_temperature(alignkit::as_matrix(two, 4000, 2), s.labels);
  CHECK(a.temperature == doctest::Approx(b.temperature).epsilon(1e-12));
  CHECK(a.ece_after == doctest::Approx(b.ece_after).epsilon(1e-12));
  CHECK(a.temperature == doctest::Approx(2.0).epsilon(0.1));
}

TEST_CASE("the search range bounds the temperature") {
  // Separable data: the NLL keeps falling as T → 0, so the lower bound is returned.
  const std::vector<double> z{5, -5, 3, -4};
  const std::vector<int> y{1, 0, 1, 0};
  CHECK(cal::fit_temperature(z, y, {.min_temperature = 0.05}).temperature == doctest::Approx(0.05));
  // Labels against the logits: the NLL falls as T → ∞.
  const std::vector<int> wrong{0, 1, 0, 1};
  CHECK(cal::fit_temperature(z, wrong, {.max_temperature = 50}).temperature == doctest::Approx(50));
}

TEST_CASE("exec::par on 2 threads is bitwise equal to exec::seq") {
  const auto s = make(50'000, 3, 2.5, 3);
  const auto m = alignkit::as_matrix(s.logits, 50'000, 3);
  const auto a = cal::fit_temperature(alignkit::exec::seq, m, s.labels);
  const auto b = cal::fit_temperature(alignkit::exec::par.with(2), m, s.labels);
  CHECK(a.temperature == b.temperature);
  CHECK(a.nll_after == b.nll_after);
  CHECK(a.ece_after == b.ece_after);
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<double> z{1, std::nan(""), 0.5};
  const std::vector<int> y{0, 1, 1};
  CHECK_THROWS_WITH_AS(cal::fit_temperature(z, y),
                       "[alignkit.domain_error.201] calibration::fit_temperature: logits[1] is nan, expected a finite value",
                       alignkit::domain_error);
  const std::vector<double> m{1, 2, 3, 4};
  CHECK_THROWS_WITH_AS(cal::fit_temperature(alignkit::as_matrix(m, 2, 2), std::vector<int>{0, 2}),
                       "[alignkit.domain_error.252] calibration::fit_temperature: labels[1] is 2, expected an integer in [0, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cal::fit_temperature(m, std::vector<int>{0, 1}),
                       "[alignkit.shape_error.101] calibration::fit_temperature: labels has 2 elements, logits has 4",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(cal::fit_temperature(m, std::vector<int>{0, 1, 1, 0}, {.min_temperature = 0}),
                       "[alignkit.domain_error.202] calibration::fit_temperature: min_temperature is 0, expected a value in (0, inf]",
                       alignkit::domain_error);
}
