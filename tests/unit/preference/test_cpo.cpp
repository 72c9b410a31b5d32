// CPO, SimPO and ORPO's odds-ratio term: values against the naive formulas, gradients by finite
// differences, extreme inputs, determinism across threads and the documented errors.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "finite_difference.hpp"

namespace cpo = alignkit::cpo;
using cpo::loss_type;
using vec = std::vector<double>;

namespace {

vec random_logps(std::size_t n, std::uint32_t seed, double mean, double scale) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(mean, scale);
  vec v(n);
  for (auto& x : v) x = -std::abs(d(g));  // log-probs are negative
  return v;
}

double ls(double x) { return -std::log1p(std::exp(-x)); }

double naive_loss(const vec& c, const vec& r, const cpo::options& o) {
  double s = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double h = c[i] - r[i], b = o.beta, e = o.label_smoothing;
    switch (o.loss) {
      case loss_type::sigmoid: s += -(1 - e) * ls(b * h) - e * ls(-b * h); break;
      case loss_type::simpo: {
        const double z = b * (h - o.simpo_gamma / b);
        s += -(1 - e) * ls(z) - e * ls(-z);
        break;
      }
      case loss_type::hinge: s += std::max(0.0, 1 - b * h); break;
      case loss_type::ipo: s += std::pow(h - 1 / (2 * b), 2); break;
      case loss_type::orpo: {
        const double odds = h - (std::log(1 - std::exp(c[i])) - std::log(1 - std::exp(r[i])));
        s += -b * ls(odds);
        break;
      }
    }
  }
  return s / static_cast<double>(c.size());
}

const std::vector<loss_type> all_types{loss_type::sigmoid, loss_type::hinge, loss_type::ipo, loss_type::simpo,
                                       loss_type::orpo};

}  // namespace

TEST_CASE("every loss type against the naive formula, gradients by finite differences") {
  const std::size_t n = 13;
  const vec c = random_logps(n, 1, 0.8, 0.6), r = random_logps(n, 2, 1.2, 0.6);
  for (auto type : all_types) {
    for (double eps : {0.0, 0.15}) {
      CAPTURE(static_cast<int>(type));
      const cpo::options o{.beta = 2.0, .loss = type, .label_smoothing = eps, .simpo_gamma = 0.7};
      const auto e = cpo::evaluate(c, r, o);
      CHECK(e.metrics.loss == doctest::Approx(naive_loss(c, r, o)).epsilon(1e-12));
      alignkit_test::check_gradient([&](const vec& x) { return naive_loss(x, r, o); }, c, e.grad_chosen);
      alignkit_test::check_gradient([&](const vec& x) { return naive_loss(c, x, o); }, r, e.grad_rejected);
      double acc = 0, margin = 0;
      for (std::size_t i = 0; i < n; ++i) {
        CHECK(e.chosen_rewards[i] == o.beta * c[i]);
        acc += e.chosen_rewards[i] > e.rejected_rewards[i];
        margin += e.chosen_rewards[i] - e.rejected_rewards[i];
      }
      CHECK(e.metrics.accuracy == acc / n);
      CHECK(e.metrics.margin == doctest::Approx(margin / n).epsilon(1e-13));
    }
  }
}

TEST_CASE("orpo logs TRL's log-odds metrics; log(1 - e^x) is accurate near 0 and far below") {
  const vec c{-1e-9, -0.3, -40.0, -500.0}, r{-2.0, -1e-7, -0.7, -0.5};
  const auto e = cpo::evaluate(c, r, {.loss = loss_type::orpo});
  double ratio = 0, odds = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double l1 = c[i] > -0.5 ? std::log(-std::expm1(c[i])) : std::log1p(-std::exp(c[i]));
    const double l2 = r[i] > -0.5 ? std::log(-std::expm1(r[i])) : std::log1p(-std::exp(r[i]));
    const double o = c[i] - r[i] - (l1 - l2);
    CHECK(e.losses[i] == doctest::Approx(-0.1 * ls(o)).epsilon(1e-12));
    CHECK(std::isfinite(e.grad_chosen[i]));
    ratio += ls(o);
    odds += o;
  }
  CHECK(e.metrics.log_odds_ratio == doctest::Approx(ratio / 4).epsilon(1e-12));
  CHECK(e.metrics.log_odds == doctest::Approx(odds / 4).epsilon(1e-12));
}

TEST_CASE_TEMPLATE("log-prob differences of 500 and beta from 0.01 to 1 stay finite", T, float, double) {
  const std::vector<T> c{-500, -0.001f, -250, -1}, r{-0.001f, -500, -1, -250};
  for (auto type : all_types) {
    for (double beta : {0.01, 0.1, 1.0}) {
      const auto e = cpo::evaluate(c, r, {.beta = beta, .loss = type, .label_smoothing = 0.1});
      CHECK(std::isfinite(e.metrics.loss));
      for (std::size_t i = 0; i < c.size(); ++i) {
        CHECK(std::isfinite(e.losses[i]));
        CHECK(std::isfinite(e.grad_chosen[i]));
        CHECK(std::isfinite(e.grad_rejected[i]));
      }
    }
  }
}

TEST_CASE("exec::par on 2 threads is bitwise equal to exec::seq") {
  const std::size_t n = 70'001;
  const vec cd = random_logps(n, 3, 1, 1), rd = random_logps(n, 4, 1, 1);
  const std::vector<float> c(cd.begin(), cd.end()), r(rd.begin(), rd.end());
  for (auto type : all_types) {
    std::vector<float> l1(n), l2(n), g1(n), g2(n);
    const auto s = cpo::loss(alignkit::exec::seq, c, r, {.loss = type}, cpo::outputs<float>{alignkit::view_of(l1), alignkit::view_of(g1)});
    const auto p = cpo::loss(alignkit::exec::par.with(2), c, r, {.loss = type},
                             cpo::outputs<float>{alignkit::view_of(l2), alignkit::view_of(g2)});
    CHECK(s.loss == p.loss);
    CHECK(s.log_odds == p.log_odds);
    CHECK(l1 == l2);
    CHECK(g1 == g2);
  }
}

TEST_CASE("bad input raises the documented errors") {
  const vec c(4, -1.0), r3(3, -2.0), r4(4, -2.0), empty;
  CHECK_THROWS_WITH_AS(cpo::loss(c, r3), "[alignkit.shape_error.101] cpo::loss: policy_rejected has 3 elements, policy_chosen has 4",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(cpo::loss(empty, empty),
                       "[alignkit.shape_error.102] cpo::loss: policy_chosen is empty; at least one element is required",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(cpo::loss(c, r4, {.beta = 0}), "[alignkit.domain_error.202] cpo::loss: beta is 0, expected a value in (0, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cpo::loss(c, r4, {.label_smoothing = 0.75}),
                       "[alignkit.domain_error.202] cpo::loss: label_smoothing is 0.75, expected a value in [0, 0.5]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(cpo::loss(c, r4, {.loss = loss_type::simpo, .simpo_gamma = -1}),
                       "[alignkit.domain_error.202] cpo::loss: simpo_gamma is -1, expected a value in [0, inf]",
                       alignkit::domain_error);
}
