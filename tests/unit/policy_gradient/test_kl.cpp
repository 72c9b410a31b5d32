// KL estimators, gradient modes, placements and controllers: values and gradients against the
// formulas and finite differences, the documented unbiasedness table checked by exact
// expectations over a small categorical policy, padded = packed, exec::par = exec::seq,
// KL-shaped rewards, controllers and the documented errors.
#include <alignkit/alignkit.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "finite_difference.hpp"

namespace kl = alignkit::kl;
using alignkit::as_matrix;
using alignkit::index_t;

namespace {

constexpr kl::estimator all_estimators[] = {kl::estimator::k1, kl::estimator::abs, kl::estimator::k2, kl::estimator::k3};
constexpr kl::gradient_mode all_modes[] = {kl::gradient_mode::plain, kl::gradient_mode::straight_through,
                                           kl::gradient_mode::importance_weighted};

double estimate(kl::estimator e, double x) {
  switch (e) {
    case kl::estimator::k1: return x;
    case kl::estimator::abs: return std::abs(x);
    case kl::estimator::k2: return 0.5 * x * x;
    case kl::estimator::k3: {
      const double k = std::clamp(-x, -20.0, 20.0);
      return std::clamp(std::exp(k) - k - 1, -10.0, 10.0);
    }
  }
  return 0;
}

// The term whose gradient the mode uses: ρ·k for importance_weighted, k otherwise.
double term(kl::estimator e, kl::gradient_mode m, double lp, double ref, double old) {
  const double k = estimate(e, lp - ref);
  return m == kl::gradient_mode::importance_weighted ? std::exp(std::clamp(lp - old, -20.0, 20.0)) * k : k;
}

std::vector<double> random_vector(std::size_t n, std::uint32_t seed, double scale) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

}  // namespace

TEST_CASE("penalty values and gradients for every estimator and gradient mode") {
  const index_t B = 3, T = 7;
  const auto lp = random_vector(B * T, 1, 1.0), ref = random_vector(B * T, 2, 1.0), old = random_vector(B * T, 3, 0.3);
  for (auto e : all_estimators) {
    for (auto m : all_modes) {
      CAPTURE(static_cast<int>(e));
      CAPTURE(static_cast<int>(m));
      std::vector<double> kld(lp.size()), grad(lp.size());
      const auto r = kl::penalty(as_matrix(lp, B, T), as_matrix(ref, B, T), {e, m},
                                 kl::penalty_outputs<double>{as_matrix(kld, B, T), as_matrix(grad, B, T)},
                                 as_matrix(old, B, T));
      auto total = [&](const std::vector<double>& x) {
        double s = 0;
        for (std::size_t i = 0; i < x.size(); ++i) s += term(e, m, x[i], ref[i], old[i]);
        return s;
      };
      CHECK(r.sum == doctest::Approx(total(lp)).epsilon(1e-13));
      for (std::size_t i = 0; i < lp.size(); ++i) CHECK(kld[i] == doctest::Approx(term(e, m, lp[i], ref[i], old[i])).epsilon(1e-14));
      if (m == kl::gradient_mode::straight_through) {
        for (std::size_t i = 0; i < lp.size(); ++i) CHECK(grad[i] == doctest::Approx(lp[i] - ref[i]).epsilon(1e-15));
      } else {
        alignkit_test::check_gradient(total, lp, grad);
      }
    }
  }
}

TEST_CASE("the clamps of k3 stop its gradient; straight-through names parse") {
  const std::vector<double> lp{-30, 30, -2.0, 0.0}, ref{0, 0, 0, 0};
  std::vector<double> kld(4), grad(4);
  kl::penalty(lp, ref, kl::parse_penalty("low_var_kl"), kl::penalty_outputs<double, 1>{alignkit::view_of(kld), alignkit::view_of(grad)});
  CHECK(kld[0] == 10.0);  // exp(20) − 21, clamped to 10
  CHECK(grad[0] == 0.0);
  CHECK(kld[1] == 10.0);  // k clamped to −20: e^−20 + 19, clamped to 10
  CHECK(grad[1] == 0.0);
  CHECK(kld[2] == doctest::Approx(std::exp(2.0) - 3));  // inside both clamps
  CHECK(grad[2] == doctest::Approx(1 - std::exp(2.0)));
  CHECK(kld[3] == 0.0);
  CHECK(grad[3] == 0.0);
  CHECK(kl::parse_penalty("k3+").mode == kl::gradient_mode::straight_through);
  CHECK(kl::parse_penalty("mse").est == kl::estimator::k2);
  CHECK_THROWS_WITH_AS(kl::parse_penalty("k4"),
                       "[alignkit.domain_error.231] kl::parse_penalty: unknown KL penalty 'k4', expected kl, k1, abs, mse, "
                       "k2, low_var_kl or k3, optionally followed by '+'",
                       alignkit::domain_error);
}

TEST_CASE("the unbiasedness table holds for exact expectations over a categorical policy") {
  // π = softmax(θ) over 6 tokens, sampled from π_old; the expected surrogate gradient
  // Σ_y π_old(y)·g(y)·∇θ log π(y) against ∇θ KL(π‖π_ref) = Σ_y π(y)(log π − log π_ref)(y)·∇θ log π(y).
  const std::size_t V = 6;
  const std::vector<double> theta{0.3, -0.5, 1.1, 0.0, -1.2, 0.4}, theta_ref{0.1, 0.2, 0.3, -0.4, 0.5, -0.6},
      theta_old{0.2, -0.3, 0.8, 0.1, -1.0, 0.2};
  auto log_softmax = [&](const std::vector<double>& t) {
    double z = 0;
    for (double v : t) z += std::exp(v);
    std::vector<double> out;
    for (double v : t) out.push_back(v - std::log(z));
    return out;
  };
  const auto lp = log_softmax(theta), ref = log_softmax(theta_ref), old_off = log_softmax(theta_old);
  std::vector<double> true_grad(V, 0.0);
  for (std::size_t y = 0; y < V; ++y)
    for (std::size_t j = 0; j < V; ++j)
      true_grad[j] += std::exp(lp[y]) * (lp[y] - ref[y]) * ((y == j) - std::exp(lp[j]));
  for (bool on_policy : {true, false}) {
    const auto& old = on_policy ? lp : old_off;
    for (auto e : all_estimators) {
      for (auto m : all_modes) {
        CAPTURE(on_policy);
        CAPTURE(static_cast<int>(e));
        CAPTURE(static_cast<int>(m));
        std::vector<double> g(V);
        kl::penalty(lp, ref, {e, m}, kl::penalty_outputs<double, 1>{{}, alignkit::view_of(g)}, alignkit::view_of(old));
        std::vector<double> expected(V, 0.0);
        for (std::size_t y = 0; y < V; ++y)
          for (std::size_t j = 0; j < V; ++j) expected[j] += std::exp(old[y]) * g[y] * ((y == j) - std::exp(lp[j]));
        double err = 0;
        for (std::size_t j = 0; j < V; ++j) err = std::max(err, std::abs(expected[j] - true_grad[j]));
        CHECK((err < 1e-12) == kl::unbiased(e, m, kl::placement::loss, on_policy));
      }
    }
  }
  // In the reward the value itself is the estimate: E_π[k] = KL(π‖π_ref) for k1 and k3 only.
  double true_kl = 0;
  for (std::size_t y = 0; y < V; ++y) true_kl += std::exp(lp[y]) * (lp[y] - ref[y]);
  for (auto e : all_estimators) {
    double expected = 0;
    for (std::size_t y = 0; y < V; ++y) expected += std::exp(lp[y]) * estimate(e, lp[y] - ref[y]);
    CHECK((std::abs(expected - true_kl) < 1e-12) == kl::unbiased(e, kl::gradient_mode::plain, kl::placement::reward, true));
  }
}

TEST_CASE("KL in the loss: every aggregation, finite differences, packed = padded, par = seq") {
  const index_t B = 5, T = 9;
  const auto lp = random_vector(B * T, 4, 1.0), ref = random_vector(B * T, 5, 1.0);
  std::vector<int> mask(B * T);
  for (index_t i = 0; i < B * T; ++i) mask[static_cast<std::size_t>(i)] = (i / T) == 2 ? 0 : (i * 7 % 5 != 0);
  std::vector<int> offsets;
  for (index_t b = 0; b <= B; ++b) offsets.push_back(static_cast<int>(b * T));
  for (auto agg : {alignkit::aggregation::token_mean, alignkit::aggregation::seq_mean_token_mean,
                   alignkit::aggregation::seq_mean_token_sum, alignkit::aggregation::seq_mean_token_sum_norm}) {
    CAPTURE(static_cast<int>(agg));
    const kl::loss_options o{.beta = 0.1, .kind = {kl::estimator::k3, kl::gradient_mode::plain}, .agg = agg};
    std::vector<double> grad(lp.size());
    const auto r = kl::loss(as_matrix(lp, B, T), as_matrix(ref, B, T), as_matrix(mask, B, T), o,
                            kl::loss_outputs<double>{as_matrix(grad, B, T)});
    auto reference = [&](const std::vector<double>& x) {
      double total = 0, tokens = 0, seqs = 0, seq_mean = 0;
      for (index_t b = 0; b < B; ++b) {
        double row = 0, n = 0;
        for (index_t t = 0; t < T; ++t) {
          const auto i = static_cast<std::size_t>(b * T + t);
          row += mask[i] * estimate(kl::estimator::k3, x[i] - ref[i]);
          n += mask[i];
        }
        total += row;
        tokens += n;
        seqs += n > 0;
        if (n > 0) seq_mean += row / (n + 1e-8);
      }
      switch (agg) {
        case alignkit::aggregation::token_mean: return 0.1 * total / tokens;
        case alignkit::aggregation::seq_mean_token_sum: return 0.1 * total / seqs;
        case alignkit::aggregation::seq_mean_token_mean: return 0.1 * seq_mean / seqs;
        case alignkit::aggregation::seq_mean_token_sum_norm: return 0.1 * total / static_cast<double>(T);
      }
      return 0.0;
    };
    CHECK(r.loss == doctest::Approx(reference(lp)).epsilon(1e-13));
    CHECK(r.kl == doctest::Approx(reference(lp) / 0.1).epsilon(1e-13));
    alignkit_test::check_gradient(reference, lp, grad);
    std::vector<double> g_packed(lp.size()), g_par(lp.size());
    const auto p = kl::loss(alignkit::packed(offsets), lp, ref, mask, o, kl::loss_outputs<double, 1>{alignkit::view_of(g_packed)});
    CHECK(p.loss == r.loss);
    CHECK(g_packed == grad);
    const auto q = kl::loss(alignkit::exec::par.with(2), as_matrix(lp, B, T), as_matrix(ref, B, T), as_matrix(mask, B, T), o,
                            kl::loss_outputs<double>{as_matrix(g_par, B, T)});
    CHECK(q.loss == r.loss);
    CHECK(g_par == grad);
  }
}

TEST_CASE("KL-shaped token rewards: score at the last valid token minus β·KL, padded and packed") {
  const index_t B = 3, T = 5;
  const auto lp = random_vector(B * T, 6, 1.0), ref = random_vector(B * T, 7, 1.0);
  const std::vector<int> mask{1, 1, 0, 1, 0,   // interior zero; last valid token at t = 3
                              0, 0, 0, 0, 0,   // empty row: no score, no penalty
                              1, 1, 1, 1, 1};
  const std::vector<double> scores{2.0, 5.0, -1.0};
  std::vector<double> rewards(B * T, 99.0);
  const double beta = 0.05;
  const auto r = kl::token_rewards(scores, as_matrix(lp, B, T), as_matrix(ref, B, T), as_matrix(mask, B, T), beta,
                                   kl::estimator::k1, as_matrix(rewards, B, T));
  double mean_kl = 0;
  for (index_t b = 0; b < B; ++b) {
    double row = 0, n = 0;
    index_t last = -1;
    for (index_t t = 0; t < T; ++t) {
      const auto i = static_cast<std::size_t>(b * T + t);
      if (mask[i]) last = t;
      row += mask[i] * (lp[i] - ref[i]);
      n += mask[i];
    }
    mean_kl += row / (n + 1e-8);
    for (index_t t = 0; t < T; ++t) {
      const auto i = static_cast<std::size_t>(b * T + t);
      const double want = -beta * mask[i] * (lp[i] - ref[i]) + (t == last ? scores[static_cast<std::size_t>(b)] : 0.0);
      CHECK(rewards[i] == doctest::Approx(want).epsilon(1e-15));
    }
  }
  CHECK(r.mean_kl == doctest::Approx(mean_kl / B).epsilon(1e-14));
  // Packed: drop the empty row's tokens entirely.
  std::vector<double> plp, pref;
  std::vector<int> pmask;
  for (std::size_t i : {0, 1, 2, 3, 4, 10, 11, 12, 13, 14}) {
    plp.push_back(lp[i]);
    pref.push_back(ref[i]);
    pmask.push_back(mask[i]);
  }
  const std::vector<int> offsets{0, 5, 5, 10};
  std::vector<double> prewards(10);
  kl::token_rewards(alignkit::packed(offsets), scores, plp, pref, pmask, beta, kl::estimator::k1, prewards);
  for (std::size_t k = 0; k < 5; ++k) CHECK(prewards[k] == rewards[k]);
  for (std::size_t k = 5; k < 10; ++k) CHECK(prewards[k] == rewards[k + 5]);
}

TEST_CASE("controllers follow verl's update and validate their parameters") {
  kl::adaptive_kl_controller c(0.2, 6.0, 100.0);
  c.update(9.0, 10);  // e = clip(0.5, ±0.2) = 0.2
  CHECK(c.value == doctest::Approx(0.2 * (1 + 0.2 * 10 / 100.0)).epsilon(1e-15));
  const double before = c.value;
  c.update(5.7, 4);  // e = −0.05
  CHECK(c.value == doctest::Approx(before * (1 - 0.05 * 4 / 100.0)).epsilon(1e-14));
  kl::fixed_kl_controller f{0.3};
  f.update(100.0, 1000);
  CHECK(f.value == 0.3);
  CHECK_THROWS_WITH_AS(kl::adaptive_kl_controller(0.2, 0.0, 10.0),
                       "[alignkit.domain_error.202] kl::adaptive_kl_controller: target_kl is 0, expected a value in (0, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(kl::adaptive_kl_controller(0.2, 1.0, -1.0),
                       "[alignkit.domain_error.202] kl::adaptive_kl_controller: horizon is -1, expected a value in (0, inf]",
                       alignkit::domain_error);
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<double> a(6, 0.0), b(5, 0.0);
  const std::vector<int> mask(6, 1);
  CHECK_THROWS_WITH_AS(kl::penalty(as_matrix(a, 2, 3), as_matrix(a, 3, 2)),
                       "[alignkit.shape_error.103] kl::penalty: ref_logprob has extent 3 in dimension 0, expected 2",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(kl::penalty(a, a, {kl::estimator::k3, kl::gradient_mode::importance_weighted}),
                       "[alignkit.domain_error.232] kl::penalty: gradient_mode importance_weighted needs old_logprob",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(kl::loss(as_matrix(a, 2, 3), as_matrix(a, 2, 3), as_matrix(mask, 2, 3), {.beta = -1}),
                       "[alignkit.domain_error.202] kl::loss: beta is -1, expected a value in [0, inf]", alignkit::domain_error);
  std::vector<double> out(6);
  CHECK_THROWS_WITH_AS(kl::token_rewards(b, as_matrix(a, 2, 3), as_matrix(a, 2, 3), as_matrix(mask, 2, 3), 0.1,
                                         kl::estimator::k1, as_matrix(out, 2, 3)),
                       "[alignkit.shape_error.101] kl::token_rewards: scores has 5 elements, the number of sequences has 2",
                       alignkit::shape_error);
}
