// GRPO loss: every loss type, importance level, delta and β against the formulas, gradients
// by finite differences, packed = padded, micro-batches = full batch, exec::par = exec::seq,
// empty rows, TRL's overflow, and the documented errors.
#include <alignkit/alignkit.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "finite_difference.hpp"

namespace grpo = alignkit::grpo;
using alignkit::as_matrix;
using alignkit::index_t;

namespace {

struct batch {
  index_t B, T;
  std::vector<double> lp, old, ref, adv;
  std::vector<int> mask;
};

batch random_batch(index_t B, index_t T, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d;
  batch x{B, T, {}, {}, {}, {}, {}};
  for (index_t i = 0; i < B * T; ++i) {
    const double o = -1.0 + 0.5 * d(g);
    x.old.push_back(o);
    x.lp.push_back(o + 0.3 * d(g));
    x.ref.push_back(o + 0.5 * d(g));
    x.mask.push_back((i / T) == 1 ? 0 : (g() % 4 != 0));  // row 1 is empty
  }
  for (index_t b = 0; b < B; ++b) x.adv.push_back(d(g));
  return x;
}

// TRL's _compute_loss written from OPS.md.
double reference_loss(const batch& x, const std::vector<double>& lp, const grpo::options& o) {
  const double lo = 1 - o.epsilon_low, hi = 1 + o.epsilon_high.value_or(o.epsilon_low);
  double total = 0, tokens = 0, grpo_sum = 0;
  for (index_t b = 0; b < x.B; ++b) {
    double seq = 0, n = 0, row = 0;
    for (index_t t = 0; t < x.T; ++t) {
      const auto i = static_cast<std::size_t>(b * x.T + t);
      seq += (lp[i] - x.old[i]) * x.mask[i];
      n += x.mask[i];
    }
    for (index_t t = 0; t < x.T; ++t) {
      const auto i = static_cast<std::size_t>(b * x.T + t);
      const double w = o.level == grpo::importance_level::sequence ? std::exp(seq / std::max(n, 1.0)) : std::exp(lp[i] - x.old[i]);
      const double c2 = std::clamp(w, lo, hi), c1 = o.delta ? std::min(w, *o.delta) : w;
      const double a = x.adv[static_cast<std::size_t>(b)];
      const double d = x.ref[i] - lp[i];
      row += x.mask[i] * (-std::min(c1 * a, c2 * a) + o.beta * (std::exp(d) - d - 1));
    }
    total += row;
    tokens += n;
    grpo_sum += row / std::max(n, 1.0);
  }
  switch (o.type) {
    case grpo::loss_type::grpo: return grpo_sum / static_cast<double>(x.B);
    case grpo::loss_type::bnpo: return total / std::max(tokens, 1.0);
    case grpo::loss_type::dr_grpo: return total / (static_cast<double>(x.B) * o.max_completion_length.value_or(static_cast<double>(x.T)));
  }
  return 0;
}

grpo::result run(const batch& x, const grpo::options& o, std::vector<double>& grad, std::vector<double>& kl) {
  grad.assign(x.lp.size(), -1);
  kl.assign(x.lp.size(), -1);
  return grpo::loss(as_matrix(x.lp, x.B, x.T), as_matrix(x.old, x.B, x.T), as_matrix(x.ref, x.B, x.T), x.adv,
                    as_matrix(x.mask, x.B, x.T), o, grpo::outputs<double>{as_matrix(grad, x.B, x.T), as_matrix(kl, x.B, x.T)});
}

constexpr grpo::loss_type all_types[] = {grpo::loss_type::grpo, grpo::loss_type::bnpo, grpo::loss_type::dr_grpo};

}  // namespace

TEST_CASE("every loss type, importance level, delta and beta against the formulas and finite differences") {
  const auto x = random_batch(5, 8, 1);
  for (auto type : all_types) {
    for (auto level : {grpo::importance_level::token, grpo::importance_level::sequence}) {
      for (double beta : {0.0, 0.04}) {
        for (bool with_delta : {false, true}) {
          CAPTURE(static_cast<int>(type));
          CAPTURE(static_cast<int>(level));
          CAPTURE(beta);
          CAPTURE(with_delta);
          grpo::options o{.type = type, .beta = beta, .epsilon_low = 0.1, .epsilon_high = 0.15, .level = level,
                          .max_completion_length = 11.0};
          if (with_delta) o.delta = 1.05;
          std::vector<double> grad, kl;
          const auto r = run(x, o, grad, kl);
          CHECK(r.loss == doctest::Approx(reference_loss(x, x.lp, o)).epsilon(1e-13));
          alignkit_test::check_gradient([&](const std::vector<double>& lp) { return reference_loss(x, lp, o); }, x.lp, grad);
          for (std::size_t i = 0; i < kl.size(); ++i) {
            const double d = x.ref[i] - x.lp[i];
            CHECK(kl[i] == doctest::Approx(beta != 0 ? std::exp(d) - d - 1 : 0.0).epsilon(1e-14));
          }
        }
      }
    }
  }
}

TEST_CASE("clip metrics follow TRL") {
  const auto x = random_batch(6, 9, 2);
  std::vector<double> grad, kl;
  const auto r = run(x, {.beta = 0.1, .epsilon_low = 0.1, .epsilon_high = 0.1}, grad, kl);
  double low = 0, high = 0, n = 0, kl_sum = 0;
  for (index_t b = 0; b < x.B; ++b)
    for (index_t t = 0; t < x.T; ++t) {
      const auto i = static_cast<std::size_t>(b * x.T + t);
      if (!x.mask[i]) continue;
      const double w = std::exp(x.lp[i] - x.old[i]), a = x.adv[static_cast<std::size_t>(b)];
      low += w < 0.9 && a < 0;
      high += w > 1.1 && a > 0;
      kl_sum += kl[i];
      n += 1;
    }
  CHECK(r.clip_ratio_low == doctest::Approx(low / n).epsilon(1e-15));
  CHECK(r.clip_ratio_high == doctest::Approx(high / n).epsilon(1e-15));
  CHECK(r.clip_ratio_region == doctest::Approx((low + high) / n).epsilon(1e-15));
  CHECK(r.mean_kl == doctest::Approx(kl_sum / n).epsilon(1e-14));
  CHECK(low + high > 0);
}

TEST_CASE("packed = padded, micro-batches with global denominators = full batch, exec::par = exec::seq") {
  const auto x = random_batch(9, 7, 3);
  std::vector<int> offsets;
  for (index_t b = 0; b <= x.B; ++b) offsets.push_back(static_cast<int>(b * x.T));
  double tokens = 0;
  for (int m : x.mask) tokens += m;
  for (auto type : all_types) {
    for (auto level : {grpo::importance_level::token, grpo::importance_level::sequence}) {
      CAPTURE(static_cast<int>(type));
      const grpo::options o{.type = type, .beta = 0.04, .level = level};
      std::vector<double> grad, kl;
      const auto full = run(x, o, grad, kl);
      std::vector<double> g_packed(x.lp.size());
      const auto p = grpo::loss(alignkit::packed(offsets), x.lp, x.old, x.ref, x.adv, x.mask, o,
                                grpo::outputs<double, 1>{alignkit::view_of(g_packed)});
      CHECK(p.loss == full.loss);
      CHECK(g_packed == grad);
      std::vector<double> g_par(x.lp.size());
      const auto q = grpo::loss(alignkit::exec::par.with(2), as_matrix(x.lp, x.B, x.T), as_matrix(x.old, x.B, x.T),
                                as_matrix(x.ref, x.B, x.T), x.adv, as_matrix(x.mask, x.B, x.T), o,
                                grpo::outputs<double>{as_matrix(g_par, x.B, x.T)});
      CHECK(q.loss == full.loss);
      CHECK(g_par == grad);
      grpo::options micro = o;
      micro.denominators = {.tokens = tokens, .sequences = static_cast<double>(x.B)};
      micro.max_completion_length = static_cast<double>(x.T);
      double parts = 0;
      std::vector<double> g_parts(x.lp.size());
      for (index_t b0 = 0; b0 < x.B; b0 += 4) {
        const index_t rows = std::min<index_t>(4, x.B - b0);
        const auto off = b0 * x.T;
        parts += grpo::loss(alignkit::matrix_view<const double>(x.lp.data() + off, {rows, x.T}),
                            alignkit::matrix_view<const double>(x.old.data() + off, {rows, x.T}),
                            alignkit::matrix_view<const double>(x.ref.data() + off, {rows, x.T}),
                            std::span(x.adv).subspan(static_cast<std::size_t>(b0), static_cast<std::size_t>(rows)),
                            alignkit::matrix_view<const int>(x.mask.data() + off, {rows, x.T}), micro,
                            grpo::outputs<double>{alignkit::matrix_view<double>(g_parts.data() + off, {rows, x.T})})
                     .loss;
      }
      CHECK(parts == doctest::Approx(full.loss).epsilon(1e-14));
      CHECK(g_parts == grad);
    }
  }
}

TEST_CASE("all-masked batches give loss 0 and gradient 0; TRL's unclamped exp overflows in float") {
  auto x = random_batch(3, 4, 4);
  std::fill(x.mask.begin(), x.mask.end(), 0);
  for (auto type : all_types) {
    std::vector<double> grad, kl;
    const auto r = run(x, {.type = type, .beta = 0.1}, grad, kl);
    CHECK(r.loss == 0.0);
    CHECK(r.mean_kl == 0.0);
    for (double g : grad) CHECK(g == 0.0);
  }
  const std::vector<float> lp{-500.0f, -1.0f}, ref{0.0f, -1.0f}, adv{1.0f};
  const std::vector<int> mask{1, 1};
  const auto r = grpo::loss(as_matrix(lp, 1, 2), as_matrix(lp, 1, 2), as_matrix(ref, 1, 2), adv, as_matrix(mask, 1, 2),
                            {.beta = 0.04});
  CHECK(std::isinf(r.loss));  // exp(500) is beyond float; double gives 1.4e217 (golden case)
}

TEST_CASE("bad input raises the documented errors") {
  const auto x = random_batch(2, 3, 5);
  const auto lp = as_matrix(x.lp, 2, 3), old = as_matrix(x.old, 2, 3);
  const auto mask = as_matrix(x.mask, 2, 3);
  const std::vector<double> adv3(3, 1.0);
  CHECK_THROWS_WITH_AS(grpo::loss(lp, old, old, adv3, mask),
                       "[alignkit.shape_error.101] grpo::loss: advantages has 3 elements, the number of sequences has 2",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(grpo::loss(lp, old, old, x.adv, mask, {.epsilon_low = 1.0}),
                       "[alignkit.domain_error.202] grpo::loss: epsilon_low is 1, expected a value in [0, 1)", alignkit::domain_error);
  CHECK_THROWS_WITH_AS(grpo::loss(lp, old, old, x.adv, mask, {.delta = 0.0}),
                       "[alignkit.domain_error.202] grpo::loss: delta is 0, expected a value in (0, inf]", alignkit::domain_error);
  CHECK_THROWS_WITH_AS(grpo::loss(lp, old, old, x.adv, mask, {.beta = -0.1}),
                       "[alignkit.domain_error.202] grpo::loss: beta is -0.10000000000000001, expected a value in [0, inf]",
                       alignkit::domain_error);
}
