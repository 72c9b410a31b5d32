// KTO: values against the naive formula, gradients by finite differences, the reference point
// from the KL set (local, through a reducer, and given), empty sides, extreme inputs,
// determinism across threads and the documented errors.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <random>
#include <span>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include "finite_difference.hpp"

namespace kto = alignkit::kto;
using alignkit::view_of;
using vec = std::vector<double>;

namespace {

vec random_vector(std::size_t n, std::uint32_t seed, double mean = -40, double scale = 5) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(mean, scale);
  vec v(n);
  for (auto& x : v) x = d(g);
  return v;
}

double sg(double x) { return 1 / (1 + std::exp(-x)); }

double naive_loss(const vec& pc, const vec& pr, const vec& rc, const vec& rr, double z, const kto::options& o) {
  double s = 0;
  const bool apo = o.loss == kto::loss_type::apo_zero_unpaired;
  for (std::size_t i = 0; i < pc.size(); ++i) {
    const double c = pc[i] - rc[i];
    s += o.desirable_weight * (1 - sg(o.beta * (apo ? c : c - z)));
  }
  for (std::size_t i = 0; i < pr.size(); ++i) {
    const double r = pr[i] - rr[i];
    s += o.undesirable_weight * (apo ? sg(o.beta * r) : 1 - sg(o.beta * (z - r)));
  }
  return s / static_cast<double>(pc.size() + pr.size());
}

double naive_z(const vec& pk, const vec& rk) {
  double s = 0;
  for (std::size_t i = 0; i < pk.size(); ++i) s += pk[i] - rk[i];
  return std::max(0.0, s / static_cast<double>(pk.size()));
}

/// Stands in for a second data-parallel shard: adds that shard's KL sum and count.
struct two_shards {
  double other_sum, other_count;
  int calls = 0;
  void all_reduce_sum(std::span<double> v) {
    ++calls;
    v[0] += other_sum;
    v[1] += other_count;
  }
};

}  // namespace

TEST_CASE("both loss types against the naive formula, gradients by finite differences") {
  const vec pc = random_vector(7, 1), rc = random_vector(7, 2), pr = random_vector(11, 3), rr = random_vector(11, 4);
  const vec pk = random_vector(9, 5, -35), rk = random_vector(9, 6, -41);
  for (auto type : {kto::loss_type::kto, kto::loss_type::apo_zero_unpaired}) {
    for (bool kl : {true, false}) {
      CAPTURE(static_cast<int>(type));
      CAPTURE(kl);
      const kto::options o{.beta = 0.3, .desirable_weight = 1.33, .undesirable_weight = 0.7, .loss = type, .calculate_kl = kl};
      const auto e = kto::evaluate(pc, pr, rc, rr, pk, rk, o);
      const double z = kl ? naive_z(pk, rk) : 0.0;
      if (kl) CHECK(z > 0);  // the KL set is drawn so that the clamp is not active
      CHECK(e.metrics.kl == doctest::Approx(z).epsilon(1e-14));
      CHECK(e.metrics.loss == doctest::Approx(naive_loss(pc, pr, rc, rr, z, o)).epsilon(1e-13));
      alignkit_test::check_gradient([&](const vec& x) { return naive_loss(x, pr, rc, rr, z, o); }, pc, e.grad_policy_chosen);
      alignkit_test::check_gradient([&](const vec& x) { return naive_loss(pc, x, rc, rr, z, o); }, pr, e.grad_policy_rejected);
      alignkit_test::check_gradient([&](const vec& x) { return naive_loss(pc, pr, x, rr, z, o); }, rc, e.grad_ref_chosen);
      alignkit_test::check_gradient([&](const vec& x) { return naive_loss(pc, pr, rc, x, z, o); }, rr, e.grad_ref_rejected);
      double cr = 0;
      for (std::size_t i = 0; i < pc.size(); ++i) {
        CHECK(e.chosen_rewards[i] == o.beta * (pc[i] - rc[i]));
        cr += e.chosen_rewards[i];
      }
      CHECK(e.metrics.chosen_reward == doctest::Approx(cr / 7).epsilon(1e-14));
      CHECK(e.metrics.margin == doctest::Approx(e.metrics.chosen_reward - e.metrics.rejected_reward));
    }
  }
}

TEST_CASE("the reference point: clamped at 0, global through the reducer, or given") {
  const vec pc{-10, -12}, rc{-11, -11}, pr{-9, -14, -13}, rr{-10, -12, -13};
  const vec pk{-20, -22}, rk{-21, -20};  // mean −0.5: clamped to 0
  const auto e = kto::evaluate(pc, pr, rc, rr, pk, rk);
  CHECK(e.metrics.kl == 0.0);
  CHECK(e.metrics.loss == doctest::Approx(naive_loss(pc, pr, rc, rr, 0, {})).epsilon(1e-14));
  // A second shard holding 3 KL samples with sum 7.5: z = (−1 + 7.5) / 5.
  two_shards red{7.5, 3};
  const auto g = kto::loss(pc, pr, rc, rr, pk, rk, {}, {}, red);
  CHECK(red.calls == 1);
  CHECK(g.kl == doctest::Approx(6.5 / 5).epsilon(1e-15));
  CHECK(g.loss == doctest::Approx(naive_loss(pc, pr, rc, rr, 6.5 / 5, {})).epsilon(1e-14));
  // The local set may be empty when another shard has samples.
  two_shards only_other{2.0, 4};
  const vec none;
  CHECK(kto::loss(pc, pr, rc, rr, none, none, {}, {}, only_other).kl == doctest::Approx(0.5));
  // The given-z variant equals the computed one.
  const auto at = kto::loss_at_reference_point(pc, pr, rc, rr, 6.5 / 5);
  CHECK(at.loss == doctest::Approx(g.loss).epsilon(1e-15));
  CHECK(at.kl == 6.5 / 5);
  CHECK(kto::reference_point(alignkit::exec::seq, pk, rk) == 0.0);
}

TEST_CASE("empty chosen or rejected sets") {
  const vec p = random_vector(5, 7), r = random_vector(5, 8), pk = random_vector(4, 9, -39), rk = random_vector(4, 10, -41), none;
  const auto only_chosen = kto::evaluate(p, none, r, none, pk, rk);
  CHECK(only_chosen.metrics.loss == doctest::Approx(naive_loss(p, none, r, none, naive_z(pk, rk), {})).epsilon(1e-14));
  CHECK(only_chosen.metrics.rejected_reward == 0.0);
  CHECK(only_chosen.grad_policy_rejected.empty());
  const auto only_rejected = kto::evaluate(none, p, none, r, pk, rk);
  CHECK(only_rejected.metrics.loss == doctest::Approx(naive_loss(none, p, none, r, naive_z(pk, rk), {})).epsilon(1e-14));
  CHECK(only_rejected.metrics.chosen == 0);
  CHECK(only_rejected.metrics.rejected == 5);
}

TEST_CASE_TEMPLATE("log-ratios of ±500 and beta from 0.01 to 1 stay finite", T, float, double) {
  const std::vector<T> pc{-500, 0, -1000}, rc{0, -500, -500}, pr{0, -500, -1}, rr{-500, 0, -501};
  const std::vector<T> pk{-100, 400}, rk{-600, -100};
  for (auto type : {kto::loss_type::kto, kto::loss_type::apo_zero_unpaired}) {
    for (double beta : {0.01, 0.1, 1.0}) {
      const auto e = kto::evaluate(pc, pr, rc, rr, pk, rk, {.beta = beta, .loss = type});
      CHECK(std::isfinite(e.metrics.loss));
      CHECK(e.metrics.kl == doctest::Approx(500));
      for (std::size_t i = 0; i < 3; ++i) {
        CHECK(std::isfinite(e.chosen_losses[i]));
        CHECK(std::isfinite(e.rejected_losses[i]));
        CHECK(std::isfinite(e.grad_policy_chosen[i]));
        CHECK(std::isfinite(e.grad_policy_rejected[i]));
      }
    }
  }
}

TEST_CASE("exec::par on 2 threads is bitwise equal to exec::seq") {
  const std::size_t n = 60'001;
  auto f = [](const vec& v) { return std::vector<float>(v.begin(), v.end()); };
  const auto pc = f(random_vector(n, 11)), rc = f(random_vector(n, 12)), pr = f(random_vector(n - 7, 13)),
             rr = f(random_vector(n - 7, 14)), pk = f(random_vector(n, 15, -39)), rk = f(random_vector(n, 16));
  std::vector<float> l1(n), l2(n), g1(n - 7), g2(n - 7);
  const auto s = kto::loss(alignkit::exec::seq, pc, pr, rc, rr, pk, rk, {}, kto::outputs<float>{view_of(l1), {}, {}, view_of(g1)});
  const auto p = kto::loss(alignkit::exec::par.with(2), pc, pr, rc, rr, pk, rk, {},
                           kto::outputs<float>{view_of(l2), {}, {}, view_of(g2)});
  CHECK(s.loss == p.loss);
  CHECK(s.kl == p.kl);
  CHECK(s.chosen_reward == p.chosen_reward);
  CHECK(l1 == l2);
  CHECK(g1 == g2);
}

TEST_CASE("strided inputs and outputs give bitwise the results of contiguous ones") {
  const std::size_t n = 45;  // full batches of every instruction set, and a tail
  auto f = [](const vec& v) { return std::vector<float>(v.begin(), v.end()); };
  auto spread = [](const std::vector<float>& v) {
    std::vector<float> s(2 * v.size());
    for (std::size_t i = 0; i < v.size(); ++i) s[2 * i] = v[i];
    return s;
  };
  auto every_other = [](auto& s) {
    using T = std::remove_reference_t<decltype(s[0])>;
    return alignkit::vector_view<T>(s.data(), {static_cast<alignkit::index_t>(s.size() / 2)}, {2});
  };
  const auto pc = f(random_vector(n, 21)), rc = f(random_vector(n, 22)), pr = f(random_vector(n, 23)),
             rr = f(random_vector(n, 24)), pk = f(random_vector(n, 25, -39)), rk = f(random_vector(n, 26));
  const auto sc = spread(rc), sk = spread(rk);
  std::vector<std::vector<float>> unit(8, std::vector<float>(n)), strided(8, std::vector<float>(2 * n));
  const kto::outputs<float> out_unit{view_of(unit[0]), view_of(unit[1]), view_of(unit[2]), view_of(unit[3]),
                                     view_of(unit[4]), view_of(unit[5]), view_of(unit[6]), view_of(unit[7])};
  const kto::outputs<float> out_strided{every_other(strided[0]), every_other(strided[1]), every_other(strided[2]),
                                        every_other(strided[3]), every_other(strided[4]), every_other(strided[5]),
                                        every_other(strided[6]), every_other(strided[7])};
  const auto a = kto::loss(pc, pr, rc, rr, pk, rk, {}, out_unit);
  const auto b = kto::loss(pc, pr, every_other(sc), rr, pk, every_other(sk), {}, out_strided);
  CHECK(a.kl == b.kl);
  CHECK(a.loss == b.loss);
  CHECK(a.chosen_reward == b.chosen_reward);
  CHECK(a.rejected_reward == b.rejected_reward);
  for (std::size_t k = 0; k < 8; ++k)
    for (std::size_t i = 0; i < n; ++i) CHECK(unit[k][i] == strided[k][2 * i]);
}

TEST_CASE("bad input raises the documented errors") {
  const vec a(4, -1.0), b3(3, -2.0), b4(4, -2.0), none;
  CHECK_THROWS_WITH_AS(kto::loss(a, b4, b3, b4, a, a),
                       "[alignkit.shape_error.101] kto::loss: ref_chosen has 3 elements, policy_chosen has 4", alignkit::shape_error);
  CHECK_THROWS_WITH_AS(kto::loss(a, b4, a, b4, a, b3),
                       "[alignkit.shape_error.101] kto::loss: ref_KL has 3 elements, policy_KL has 4", alignkit::shape_error);
  CHECK_THROWS_WITH_AS(kto::loss(none, none, none, none, a, a),
                       "[alignkit.shape_error.102] kto::loss: policy_chosen + policy_rejected is empty; at least one element "
                       "is required",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(kto::loss(a, b4, a, b4, none, none),
                       "[alignkit.shape_error.111] kto::loss: the KL set is empty; the reference point needs at least one "
                       "policy_KL / ref_KL pair (or set calculate_kl = false, or pass the reference point)",
                       alignkit::shape_error);
  CHECK_NOTHROW(kto::loss(a, b4, a, b4, none, none, {.calculate_kl = false}));
  CHECK_THROWS_WITH_AS(kto::loss(a, b4, a, b4, a, a, {.beta = 0}),
                       "[alignkit.domain_error.202] kto::loss: beta is 0, expected a value in (0, inf]", alignkit::domain_error);
  CHECK_THROWS_WITH_AS(kto::loss(a, b4, a, b4, a, a, {.undesirable_weight = -1}),
                       "[alignkit.domain_error.202] kto::loss: undesirable_weight is -1, expected a value in [0, inf]",
                       alignkit::domain_error);
  vec bad = a;
  bad[1] = NAN;
  CHECK_THROWS_WITH_AS(kto::loss(a, b4, a, b4, bad, a, {.check_finite = true}),
                       "[alignkit.domain_error.201] kto::loss: policy_KL[1] is nan, expected a finite value", alignkit::domain_error);
  vec short_out(2);
  CHECK_THROWS_WITH_AS(kto::loss(a, b4, a, b4, a, a, {}, kto::outputs<double>{{}, view_of(short_out)}),
                       "[alignkit.shape_error.101] kto::loss: rejected_losses has 2 elements, policy_rejected has 4",
                       alignkit::shape_error);
}
