// Overoptimization diagnostics: ensemble aggregation modes against the definitions, proxy-vs-gold
// divergence, length regression and the length-controlled reward, and Gao et al. scaling fits
// that recover planted coefficients; determinism across threads; errors.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

namespace oo = alignkit::overoptimization;
using alignkit::index_t;
using alignkit::view_of;

TEST_CASE_TEMPLATE("ensemble aggregation: mean, min, mean - k std, mean - k var", T, float, double) {
  constexpr index_t m = 3, n = 11;  // 11: not a multiple of the SIMD width
  std::vector<T> r(m * n);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < n; ++i) r[static_cast<std::size_t>(j * n + i)] = static_cast<T>(std::sin(1.0 + 3.0 * static_cast<double>(j) + 0.7 * static_cast<double>(i)));
  const auto rewards = alignkit::as_matrix(r, m, n);
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  for (auto mode : {oo::ensemble_mode::mean, oo::ensemble_mode::min, oo::ensemble_mode::mean_minus_std,
                    oo::ensemble_mode::mean_minus_var}) {
    std::vector<T> out(n), sigma(n);
    const auto res = oo::aggregate(rewards, view_of(out), {.mode = mode, .k = 0.5}, view_of(sigma));
    double mean_out = 0, mean_sigma = 0;
    for (index_t i = 0; i < n; ++i) {
      double mu = 0, lo = INFINITY, var = 0;
      for (index_t j = 0; j < m; ++j) {
        const double v = r[static_cast<std::size_t>(j * n + i)];
        mu += v / m;
        lo = std::min(lo, v);
      }
      for (index_t j = 0; j < m; ++j) var += std::pow(r[static_cast<std::size_t>(j * n + i)] - mu, 2) / m;
      const double want = mode == oo::ensemble_mode::mean  ? mu
                          : mode == oo::ensemble_mode::min ? lo
                          : mode == oo::ensemble_mode::mean_minus_std ? mu - 0.5 * std::sqrt(var)
                                                                      : mu - 0.5 * var;
      CHECK(out[static_cast<std::size_t>(i)] == doctest::Approx(want).epsilon(tol));
      CHECK(sigma[static_cast<std::size_t>(i)] == doctest::Approx(std::sqrt(var)).epsilon(tol));
      mean_out += want / n;
      mean_sigma += std::sqrt(var) / n;
    }
    CHECK(res.reward == doctest::Approx(mean_out).epsilon(tol));
    CHECK(res.uncertainty == doctest::Approx(mean_sigma).epsilon(tol));
  }
}

TEST_CASE("ensemble aggregation: exec::par on 2 threads is bitwise equal to exec::seq") {
  constexpr index_t m = 4, n = 70'001;
  std::vector<float> r(m * n);
  std::mt19937 g(3);
  std::normal_distribution<float> d(0, 1);
  for (auto& v : r) v = d(g);
  std::vector<float> a(n), b(n);
  const auto s = oo::aggregate(alignkit::exec::seq, alignkit::as_matrix(r, m, n), view_of(a), {.mode = oo::ensemble_mode::mean_minus_std});
  const auto p = oo::aggregate(alignkit::exec::par.with(2), alignkit::as_matrix(r, m, n), view_of(b),
                               {.mode = oo::ensemble_mode::mean_minus_std});
  CHECK(s.reward == p.reward);
  CHECK(s.uncertainty == p.uncertainty);
  CHECK(a == b);
}

TEST_CASE("proxy-vs-gold tracking finds the gold peak and the divergence") {
  std::vector<double> kl, proxy, gold;
  for (int t = 0; t <= 20; ++t) {
    const double d = 0.5 * t;
    kl.push_back(d * d);
    proxy.push_back(d);                  // the proxy keeps rising
    gold.push_back(d * (1.0 - 0.2 * d));  // gold peaks at d = 2.5
  }
  const auto r = oo::track(kl, proxy, gold);
  CHECK(r.peak == 5);
  CHECK(r.kl_at_peak == 6.25);
  CHECK(r.gold_at_peak == doctest::Approx(1.25));
  CHECK(r.gold_drop == doctest::Approx(1.25 - 10 * (1 - 2)));
  CHECK(r.proxy_gain == doctest::Approx(7.5));
  CHECK(r.diverged);
  const std::vector<double> rising{0, 1, 2};
  CHECK_FALSE(oo::track(rising, rising, rising).diverged);
  CHECK_FALSE(oo::track(kl, proxy, gold, 100.0).diverged);  // a drop within the tolerance
}

TEST_CASE("length regression and the length-controlled reward") {
  std::mt19937 g(7);
  std::normal_distribution<double> noise(0, 0.5);
  const std::size_t n = 1003;
  std::vector<double> len(n), reward(n);
  for (std::size_t i = 0; i < n; ++i) {
    len[i] = static_cast<double>(20 + (i * 37) % 400);
    reward[i] = 0.3 + 0.01 * len[i] + noise(g);
  }
  std::vector<double> controlled(n);
  const auto f = oo::length_regression(reward, len, view_of(controlled));
  // Ordinary least squares written out.
  double ml = 0, mr = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ml += len[i] / n;
    mr += reward[i] / n;
  }
  double sll = 0, slr = 0, srr = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sll += (len[i] - ml) * (len[i] - ml);
    slr += (len[i] - ml) * (reward[i] - mr);
    srr += (reward[i] - mr) * (reward[i] - mr);
  }
  CHECK(f.slope == doctest::Approx(slr / sll).epsilon(1e-12));
  CHECK(f.intercept == doctest::Approx(mr - slr / sll * ml).epsilon(1e-12));
  CHECK(f.correlation == doctest::Approx(slr / std::sqrt(sll * srr)).epsilon(1e-12));
  CHECK(f.slope == doctest::Approx(0.01).epsilon(0.05));
  // The controlled reward has no length trend left and keeps the mean.
  std::vector<double> none(n);
  const auto after = oo::length_regression(controlled, len, view_of(none));
  CHECK(std::abs(after.slope) < 1e-12);
  CHECK(std::abs(after.correlation) < 1e-10);
  CHECK(after.intercept == doctest::Approx(mr).epsilon(1e-12));
  // int lengths, float rewards, par = seq.
  const std::vector<int> ilen(len.begin(), len.end());
  const std::vector<float> freward(reward.begin(), reward.end());
  CHECK(oo::length_regression(alignkit::exec::par.with(2), freward, ilen).slope == oo::length_regression(freward, ilen).slope);
}

TEST_CASE("Gao et al. scaling laws recover planted coefficients") {
  std::vector<double> kl, bon, rl;
  for (int i = 0; i <= 30; ++i) {
    const double d = 0.25 * i;
    kl.push_back(d * d);
    bon.push_back(d * (1.2 - 0.15 * d));
    rl.push_back(i == 0 ? 0.0 : d * (0.9 - 0.3 * std::log(d)));
  }
  const auto b = oo::fit_scaling_law(kl, bon, oo::scaling_form::best_of_n);
  CHECK(b.alpha == doctest::Approx(1.2).epsilon(1e-12));
  CHECK(b.beta == doctest::Approx(0.15).epsilon(1e-12));
  CHECK(b.r_squared == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(b.d_peak == doctest::Approx(4.0).epsilon(1e-12));
  CHECK(b.kl_peak == doctest::Approx(16.0).epsilon(1e-12));
  const auto r = oo::fit_scaling_law(kl, rl, oo::scaling_form::rl);
  CHECK(r.alpha == doctest::Approx(0.9).epsilon(1e-12));
  CHECK(r.beta == doctest::Approx(0.3).epsilon(1e-12));
  CHECK(r.d_peak == doctest::Approx(std::exp(0.9 / 0.3 - 1)).epsilon(1e-12));
  // With noise, the estimates stay within a few standard errors.
  std::mt19937 g(9);
  std::normal_distribution<double> e(0, 0.01);
  for (auto& v : bon) v += e(g);
  const auto nb = oo::fit_scaling_law(kl, bon, oo::scaling_form::best_of_n);
  CHECK(nb.alpha == doctest::Approx(1.2).epsilon(0.02));
  CHECK(nb.beta == doctest::Approx(0.15).epsilon(0.05));
  CHECK(nb.r_squared > 0.99);
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<double> kl{0, 1, -1}, gold{0, 1, 2};
  CHECK_THROWS_WITH_AS(oo::fit_scaling_law(kl, gold, oo::scaling_form::rl),
                       "[alignkit.domain_error.259] overoptimization::fit_scaling_law: kl[2] is -1, expected a value >= 0",
                       alignkit::domain_error);
  const std::vector<double> one{0, 4, 0};
  CHECK_THROWS_WITH_AS(oo::fit_scaling_law(one, gold, oo::scaling_form::best_of_n),
                       "[alignkit.domain_error.259] overoptimization::fit_scaling_law: 1 points with kl > 0 do not determine alpha "
                       "and beta; expected at least 2 distinct kl > 0",
                       alignkit::domain_error);
  const std::vector<double> r{1, 2, 3, 4};
  std::vector<double> out(3);
  CHECK_THROWS_WITH_AS(oo::aggregate(alignkit::as_matrix(r, 2, 2), view_of(out)),
                       "[alignkit.shape_error.101] overoptimization::aggregate: reward has 3 elements, rewards (samples) has 2",
                       alignkit::shape_error);
  std::vector<double> out2(2);
  CHECK_THROWS_WITH_AS(oo::aggregate(alignkit::as_matrix(r, 2, 2), view_of(out2), {.k = -1}),
                       "[alignkit.domain_error.202] overoptimization::aggregate: k is -1, expected a value in [0, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(oo::track(kl, gold, std::vector<double>{1, 2}),
                       "[alignkit.shape_error.101] overoptimization::track: gold has 2 elements, kl has 3", alignkit::shape_error);
}
