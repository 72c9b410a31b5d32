// Abstention: risk–coverage curve and AURC on a hand-computed example, tie handling, the 0/1
// oracle limit r + (1 − r) ln(1 − r), operating points, selective accuracy across threads, errors.
#include <alignkit/alignkit.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

namespace ab = alignkit::abstention;
using alignkit::index_t;

TEST_CASE("curve, AURC and excess-AURC of a hand-computed example") {
  const std::vector<double> conf{0.6, 0.9, 0.7, 0.8}, loss{1, 0, 0, 1};
  // Accepting by confidence: losses 0, 1, 0, 1 → risks 0, 1/2, 1/3, 1/2.
  const auto r = ab::risk_coverage(conf, loss);
  CHECK(r.aurc == doctest::Approx((0 + 0.5 + 1.0 / 3 + 0.5) / 4).epsilon(1e-15));
  // Oracle order 0, 0, 1, 1 → risks 0, 0, 1/3, 1/2.
  CHECK(r.oracle_aurc == doctest::Approx((1.0 / 3 + 0.5) / 4).epsilon(1e-15));
  CHECK(r.excess_aurc == doctest::Approx(0.125).epsilon(1e-14));
  CHECK(r.risk == 0.5);
  CHECK(r.points.threshold == std::vector<double>{0.9, 0.8, 0.7, 0.6});
  CHECK(r.points.coverage == std::vector<double>{0.25, 0.5, 0.75, 1.0});
  CHECK(r.points.risk[2] == doctest::Approx(1.0 / 3));
  const auto p = ab::threshold_for_risk(r.points, 0.4);
  CHECK(p.threshold == 0.7);
  CHECK(p.coverage == 0.75);
  CHECK(ab::threshold_for_risk(r.points, -1).coverage == 0.0);
  CHECK(std::isinf(ab::threshold_for_risk(r.points, -1).threshold));
  const auto q = ab::threshold_for_coverage(r.points, 0.6);
  CHECK(q.threshold == 0.7);
  CHECK(q.risk == doctest::Approx(1.0 / 3));
  CHECK(ab::threshold_for_coverage(r.points, 0.0).threshold == 0.9);
}

TEST_CASE("ties are accepted together and AURC does not depend on input order") {
  const std::vector<double> conf(6, 0.5), loss{1, 0, 0, 1, 1, 0};
  const auto r = ab::risk_coverage(conf, loss);
  CHECK(r.aurc == doctest::Approx(0.5).epsilon(1e-15));  // every prefix has the group mean risk
  CHECK(r.points.threshold.size() == 1);
  std::vector<double> c2{0.9, 0.5, 0.5, 0.1}, l2{0, 1, 0, 1};
  const double a = ab::risk_coverage(c2, l2).aurc;
  std::swap(l2[1], l2[2]);
  CHECK(ab::risk_coverage(c2, l2).aurc == a);
}

TEST_CASE("the oracle AURC of 0/1 losses approaches r + (1 - r) ln(1 - r)") {
  std::mt19937 g(4);
  std::uniform_real_distribution<double> u(0, 1);
  const std::size_t n = 200'000;
  std::vector<double> conf(n), loss(n);
  for (std::size_t i = 0; i < n; ++i) {
    conf[i] = u(g);
    loss[i] = u(g) < 0.2 ? 1.0 : 0.0;
  }
  const auto r = ab::risk_coverage(conf, loss);
  CHECK(r.oracle_aurc == doctest::Approx(r.risk + (1 - r.risk) * std::log(1 - r.risk)).epsilon(1e-3));
  CHECK(r.aurc == doctest::Approx(r.risk).epsilon(0.02));  // uninformative confidence: AURC ≈ risk
  CHECK(r.excess_aurc > 0);
}

TEST_CASE("selective accuracy: one pass, exec::par bitwise equal to exec::seq") {
  const std::vector<float> conf{0.9f, 0.4f, 0.75f, 0.2f, 0.8f};
  const std::vector<int> correct{1, 1, 0, 0, 1};
  const auto s = ab::selective_accuracy(conf, correct, 0.75);
  CHECK(s.accepted == 3);
  CHECK(s.coverage == doctest::Approx(0.6));
  CHECK(s.accuracy == doctest::Approx(2.0 / 3));
  CHECK(std::isnan(ab::selective_accuracy(conf, correct, 0.95).accuracy));
  std::mt19937 g(5);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> c(100'003), y(100'003);
  for (std::size_t i = 0; i < c.size(); ++i) {
    c[i] = u(g);
    y[i] = u(g) < c[i] ? 1.f : 0.f;
  }
  const auto a = ab::selective_accuracy(alignkit::exec::seq, c, y, 0.5);
  const auto b = ab::selective_accuracy(alignkit::exec::par.with(2), c, y, 0.5);
  CHECK(a.accuracy == b.accuracy);
  CHECK(a.accepted == b.accepted);
  CHECK(a.accuracy == doctest::Approx(0.75).epsilon(0.02));
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<double> c{0.5, std::nan("")}, l{0, 1}, l3{0, 1, 1};
  CHECK_THROWS_WITH_AS(ab::risk_coverage(c, l),
                       "[alignkit.domain_error.201] abstention::risk_coverage: confidence[1] is nan, expected a finite value",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ab::risk_coverage(l, l3), "[alignkit.shape_error.101] abstention::risk_coverage: loss has 3 elements, confidence has 2",
                       alignkit::shape_error);
  const auto r = ab::risk_coverage(l, l);
  CHECK_THROWS_WITH_AS(ab::threshold_for_coverage(r.points, 1.5),
                       "[alignkit.domain_error.202] abstention::threshold_for_coverage: target is 1.5, expected a value in [0, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ab::selective_accuracy(std::vector<double>{}, std::vector<double>{}, 0.5),
                       "[alignkit.shape_error.102] abstention::selective_accuracy: confidence is empty; at least one element is "
                       "required",
                       alignkit::shape_error);
}
