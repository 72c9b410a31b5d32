// PPO policy losses: clip (dual clip), GSPO, CISPO, truncated IS and entropy bonus against a
// direct implementation of the formulas in every aggregation mode, gradients by finite
// differences, padded = packed, micro-batches and shards = full batch, exec::par = exec::seq,
// all-masked batches, extreme log-ratios and the documented errors.
#include <alignkit/alignkit.hpp>

#include <algorithm>
#include <array>
#include <barrier>
#include <cmath>
#include <random>
#include <span>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "finite_difference.hpp"

namespace ppo = alignkit::ppo;
using alignkit::aggregation;
using alignkit::as_matrix;
using alignkit::index_t;

namespace {

constexpr aggregation all_modes[] = {aggregation::token_mean, aggregation::seq_mean_token_sum,
                                     aggregation::seq_mean_token_mean, aggregation::seq_mean_token_sum_norm};

struct batch {
  index_t B, T;
  std::vector<double> lp, old, adv, ent, beh;
  std::vector<int> mask;
};

batch random_batch(index_t B, index_t T, std::uint32_t seed, double spread = 0.3) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d;
  batch x{B, T, {}, {}, {}, {}, {}, {}};
  for (index_t i = 0; i < B * T; ++i) {
    const double o = -1.5 + 0.5 * d(g);
    x.old.push_back(o);
    x.lp.push_back(o + spread * d(g));
    x.adv.push_back(d(g));
    x.ent.push_back(std::abs(d(g)));
    x.beh.push_back(o + 0.3 * d(g));
    x.mask.push_back((i / T) % 5 == 3 ? 0 : (g() % 4 != 0));  // one row in five empty
  }
  return x;
}

// The loss written directly from the formulas, in double, with verl's agg_loss.
double reference_loss(const batch& x, const std::vector<double>& lp, const ppo::options& o, bool entropy, bool tis) {
  const double lo = 1 - o.clip_ratio_low.value_or(o.clip_ratio), hi = 1 + o.clip_ratio_high.value_or(o.clip_ratio);
  std::vector<double> pg(lp.size());
  for (index_t b = 0; b < x.B; ++b) {
    double seq = 0, n = 0;
    for (index_t t = 0; t < x.T; ++t) {
      const auto i = static_cast<std::size_t>(b * x.T + t);
      seq += x.mask[i] * (lp[i] - x.old[i]);
      n += x.mask[i];
    }
    seq /= std::max(n, 1.0);
    for (index_t t = 0; t < x.T; ++t) {
      const auto i = static_cast<std::size_t>(b * x.T + t);
      const double a = x.adv[i];
      const double d = o.kind == ppo::objective::gspo ? std::min(seq, 10.0) : std::clamp(lp[i] - x.old[i], -20.0, 20.0);
      const double r = std::exp(d);
      double v;
      if (o.kind == ppo::objective::cispo) {
        // stop-gradient weight: the ratio at the batch's own log-probs, whatever lp is
        const double r_sg = std::exp(std::clamp(x.lp[i] - x.old[i], -20.0, 20.0));
        v = -std::clamp(r_sg, lo, hi) * a * lp[i];
      } else {
        v = std::max(-a * r, -a * std::clamp(r, lo, hi));
        if (o.kind == ppo::objective::clip && a < 0) v = std::min(v, -a * o.clip_ratio_c);
      }
      if (tis) v *= std::min(std::exp(std::clamp(x.old[i] - x.beh[i], -20.0, 20.0)), *o.tis_cap);
      pg[i] = v;
    }
  }
  auto agg = [&](const std::vector<double>& v) {
    double total = 0, tokens = 0, seqs = 0, seq_sum = 0, seq_mean = 0;
    for (index_t b = 0; b < x.B; ++b) {
      double row = 0, n = 0;
      for (index_t t = 0; t < x.T; ++t) {
        const auto i = static_cast<std::size_t>(b * x.T + t);
        row += v[i] * x.mask[i];
        n += x.mask[i];
      }
      total += row;
      tokens += n;
      if (n > 0) {
        seqs += 1;
        seq_sum += row;
        seq_mean += row / (n + 1e-8);
      }
    }
    switch (o.agg) {
      case aggregation::token_mean: return total / tokens;
      case aggregation::seq_mean_token_sum: return seq_sum / seqs;
      case aggregation::seq_mean_token_mean: return seq_mean / seqs;
      case aggregation::seq_mean_token_sum_norm: return total / static_cast<double>(x.T);
    }
    return 0.0;
  };
  return agg(pg) - (entropy ? o.entropy_coeff * agg(x.ent) : 0.0);
}

struct run_result {
  ppo::result r;
  std::vector<double> grad, grad_entropy;
};

run_result run(const batch& x, const ppo::options& o, bool entropy, bool tis) {
  run_result out{{}, std::vector<double>(x.lp.size()), std::vector<double>(x.lp.size())};
  const ppo::optional_inputs<double> extra{entropy ? as_matrix(x.ent, x.B, x.T) : alignkit::matrix_view<const double>{},
                                           tis ? as_matrix(x.beh, x.B, x.T) : alignkit::matrix_view<const double>{}};
  out.r = ppo::loss(as_matrix(x.lp, x.B, x.T), as_matrix(x.old, x.B, x.T), as_matrix(x.adv, x.B, x.T),
                    as_matrix(x.mask, x.B, x.T), o,
                    ppo::outputs<double>{as_matrix(out.grad, x.B, x.T), as_matrix(out.grad_entropy, x.B, x.T)}, extra);
  return out;
}

}  // namespace

TEST_CASE("every objective and aggregation mode against the formulas and finite differences") {
  for (auto kind : {ppo::objective::clip, ppo::objective::gspo, ppo::objective::cispo}) {
    auto x = random_batch(6, 13, 1);
    // GSPO's per-token (GSPO-token) gradient is the gradient of the sequence-ratio loss when
    // the advantage is constant within a sequence, as in GRPO.
    if (kind == ppo::objective::gspo)
      for (std::size_t i = 0; i < x.adv.size(); ++i) x.adv[i] = x.adv[i - i % static_cast<std::size_t>(x.T)];
    for (auto mode : all_modes) {
      for (int variant = 0; variant < 2; ++variant) {
        const bool extras = variant == 1;  // entropy bonus + truncated IS + clip-higher
        const bool tis = extras && kind != ppo::objective::gspo;  // a per-token factor breaks GSPO-token = GSPO
        CAPTURE(static_cast<int>(kind));
        CAPTURE(static_cast<int>(mode));
        CAPTURE(extras);
        ppo::options o{.kind = kind, .clip_ratio = 0.1, .clip_ratio_c = 1.5, .agg = mode};
        if (extras) {
          o.clip_ratio_high = 0.28;
          o.entropy_coeff = 0.01;
          if (tis) o.tis_cap = 1.1;
        }
        const auto got = run(x, o, extras, tis);
        CHECK(got.r.loss == doctest::Approx(reference_loss(x, x.lp, o, extras, tis)).epsilon(1e-12));
        alignkit_test::check_gradient([&](const std::vector<double>& lp) { return reference_loss(x, lp, o, extras, tis); },
                                      x.lp, got.grad);
        if (extras) {
          auto with_entropy = [&](const std::vector<double>& h) {
            batch y = x;
            y.ent = h;
            return reference_loss(y, x.lp, o, true, tis);
          };
          alignkit_test::check_gradient(with_entropy, x.ent, got.grad_entropy);
        }
      }
    }
  }
}

TEST_CASE("metrics are verl masked means") {
  const auto x = random_batch(5, 11, 2, 0.5);
  const ppo::options o{.clip_ratio = 0.2, .clip_ratio_c = 1.5};
  const auto got = run(x, o, false, false);
  double clip = 0, lower = 0, kl = 0, n = 0;
  for (std::size_t i = 0; i < x.lp.size(); ++i) {
    if (!x.mask[i]) continue;
    const double d = x.lp[i] - x.old[i], r = std::exp(d), a = x.adv[i];
    const double l1 = -a * r, l2 = -a * std::clamp(r, 0.8, 1.2);
    clip += l2 > l1;
    lower += a < 0 && std::max(l1, l2) > -a * 1.5;
    kl += -d;
    n += 1;
  }
  CHECK(got.r.clipfrac == doctest::Approx(clip / (n + 1e-8)).epsilon(1e-15));
  CHECK(got.r.clipfrac_lower == doctest::Approx(lower / (n + 1e-8)).epsilon(1e-15));
  CHECK(got.r.approx_kl == doctest::Approx(kl / (n + 1e-8)).epsilon(1e-13));
  CHECK(got.r.tokens == n);
  CHECK(clip > 0);
  CHECK(lower > 0);
}

TEST_CASE("padded and packed layouts give the same loss and gradient") {
  const auto x = random_batch(5, 8, 3);
  // Packed: the valid prefix of each row (trailing padding removed), mask kept for interior zeros.
  std::vector<double> lp, old, adv;
  std::vector<int> mask, offsets{0};
  for (index_t b = 0; b < x.B; ++b) {
    index_t len = x.T;
    while (len > 0 && !x.mask[static_cast<std::size_t>(b * x.T + len - 1)]) --len;
    for (index_t t = 0; t < len; ++t) {
      const auto i = static_cast<std::size_t>(b * x.T + t);
      lp.push_back(x.lp[i]);
      old.push_back(x.old[i]);
      adv.push_back(x.adv[i]);
      mask.push_back(x.mask[i]);
    }
    offsets.push_back(static_cast<int>(lp.size()));
  }
  for (auto kind : {ppo::objective::clip, ppo::objective::gspo}) {
    for (auto mode : all_modes) {
      CAPTURE(static_cast<int>(mode));
      const ppo::options o{.kind = kind, .agg = mode, .denominators = {.horizon = static_cast<double>(x.T)}};
      const auto padded = run(x, o, false, false);
      std::vector<double> grad(lp.size());
      const auto r = ppo::loss(alignkit::packed(offsets), lp, old, adv, mask, o,
                               ppo::outputs<double, 1>{alignkit::view_of(grad)});
      CHECK(r.loss == doctest::Approx(padded.r.loss).epsilon(1e-15));
      CHECK(r.clipfrac == padded.r.clipfrac);
      std::size_t k = 0;
      for (index_t b = 0; b < x.B; ++b)
        for (int i = offsets[static_cast<std::size_t>(b)]; i < offsets[static_cast<std::size_t>(b) + 1]; ++i)
          CHECK(grad[k++] == padded.grad[static_cast<std::size_t>(b * x.T + (i - offsets[static_cast<std::size_t>(b)]))]);
    }
  }
}

TEST_CASE("micro-batches with global denominators sum to the full-batch loss and gradient") {
  const auto x = random_batch(12, 10, 4);
  double tokens = 0, seqs = 0;
  for (index_t b = 0; b < x.B; ++b) {
    double n = 0;
    for (index_t t = 0; t < x.T; ++t) n += x.mask[static_cast<std::size_t>(b * x.T + t)];
    tokens += n;
    seqs += n > 0;
  }
  for (auto mode : all_modes) {
    CAPTURE(static_cast<int>(mode));
    const ppo::options full_opts{.agg = mode};
    const auto full = run(x, full_opts, false, false);
    const ppo::options opts{.agg = mode, .denominators = {tokens, seqs, static_cast<double>(x.T)}};
    double loss = 0;
    std::vector<double> grad(x.lp.size());
    for (index_t b0 = 0; b0 < x.B; b0 += 5) {  // micro-batches of 5, 5 and 2 rows
      const index_t rows = std::min<index_t>(5, x.B - b0);
      auto part = [&](const auto& v) { return alignkit::matrix_view<const std::remove_cvref_t<decltype(v[0])>>(v.data() + b0 * x.T, {rows, x.T}); };
      loss += ppo::loss(part(x.lp), part(x.old), part(x.adv), part(x.mask), opts,
                        ppo::outputs<double>{alignkit::matrix_view<double>(grad.data() + b0 * x.T, {rows, x.T})})
                  .loss;
    }
    CHECK(loss == doctest::Approx(full.r.loss).epsilon(1e-14));
    CHECK(grad == full.grad);
  }
}

namespace {

// Two data-parallel ranks as two threads: an all-reduce that sums both ranks' values.
struct two_rank_group {
  std::barrier<> sync{2};
  std::array<std::vector<double>, 2> slot;
};
struct rank_reducer {
  two_rank_group* group;
  std::size_t rank;
  void all_reduce_sum(std::span<double> v) {
    group->slot[rank].assign(v.begin(), v.end());
    group->sync.arrive_and_wait();
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = group->slot[0][i] + group->slot[1][i];
    group->sync.arrive_and_wait();
  }
};

}  // namespace

TEST_CASE("data-parallel shards through a reducer give the single-process metrics and gradient") {
  const auto x = random_batch(10, 7, 5, 0.5);
  for (auto mode : all_modes) {
    CAPTURE(static_cast<int>(mode));
    const ppo::options o{.clip_ratio_c = 2.0, .agg = mode};
    const auto full = run(x, o, false, false);
    std::vector<double> grad(x.lp.size());
    auto shard = [&](index_t b0, index_t rows, auto& reducer) {
      auto part = [&](const auto& v) { return alignkit::matrix_view<const std::remove_cvref_t<decltype(v[0])>>(v.data() + b0 * x.T, {rows, x.T}); };
      return ppo::loss(part(x.lp), part(x.old), part(x.adv), part(x.mask), o,
                       ppo::outputs<double>{alignkit::matrix_view<double>(grad.data() + b0 * x.T, {rows, x.T})}, {}, reducer);
    };
    two_rank_group group;
    rank_reducer red0{&group, 0}, red1{&group, 1};
    ppo::result r0, r1;
    std::thread rank1([&] { r1 = shard(4, 6, red1); });
    r0 = shard(0, 4, red0);
    rank1.join();
    CHECK(r0.loss == doctest::Approx(full.r.loss).epsilon(1e-14));
    CHECK(r1.loss == doctest::Approx(full.r.loss).epsilon(1e-14));
    CHECK(r0.clipfrac == doctest::Approx(full.r.clipfrac).epsilon(1e-14));
    CHECK(r1.approx_kl == doctest::Approx(full.r.approx_kl).epsilon(1e-14));
    CHECK(grad == full.grad);
  }
}

TEST_CASE("exec::par on 2 threads is bitwise equal to exec::seq") {
  const index_t B = 16, T = 3001;
  const auto xd = random_batch(B, T, 6);
  const std::vector<float> lp(xd.lp.begin(), xd.lp.end()), old(xd.old.begin(), xd.old.end()),
      adv(xd.adv.begin(), xd.adv.end());
  for (auto kind : {ppo::objective::clip, ppo::objective::gspo, ppo::objective::cispo}) {
    for (auto mode : all_modes) {
      CAPTURE(static_cast<int>(kind));
      CAPTURE(static_cast<int>(mode));
      const ppo::options o{.kind = kind, .agg = mode};
      std::vector<float> g1(lp.size()), g2(lp.size());
      auto go = [&](const auto& policy, std::vector<float>& g) {
        return ppo::loss(policy, as_matrix(lp, B, T), as_matrix(old, B, T), as_matrix(adv, B, T), as_matrix(xd.mask, B, T), o,
                         ppo::outputs<float>{as_matrix(g, B, T)});
      };
      const auto s = go(alignkit::exec::seq, g1);
      const auto p = go(alignkit::exec::parallel_policy{2, 4096}.with(2), g2);
      const auto p_small = go(alignkit::exec::par.with(2), g2);
      CHECK(s.loss == p_small.loss);
      CHECK(s.clipfrac == p_small.clipfrac);
      CHECK(s.approx_kl == p_small.approx_kl);
      CHECK(g1 == g2);
      CHECK(std::isfinite(p.loss));
    }
  }
}

TEST_CASE("all-masked batches give loss 0, gradient 0 and finite metrics; extreme log-ratios stay finite") {
  auto x = random_batch(3, 5, 7);
  std::fill(x.mask.begin(), x.mask.end(), 0);
  for (auto mode : all_modes) {
    const auto got = run(x, {.agg = mode}, true, false);
    CHECK(got.r.loss == 0.0);
    CHECK(got.r.clipfrac == 0.0);
    CHECK(got.r.approx_kl == 0.0);
    for (double g : got.grad) CHECK(g == 0.0);
  }
  auto y = random_batch(2, 4, 8);
  std::fill(y.mask.begin(), y.mask.end(), 1);
  y.lp = {500, -500, 1e4, -1e4, 30, -30, 0.1, 21};
  y.old = {0, 0, 0, 0, 0, 0, 0, 0};
  const auto got = run(y, {.clip_ratio_low = 0.2, .clip_ratio_high = 0.28}, false, false);
  CHECK(std::isfinite(got.r.loss));
  CHECK(got.grad[0] == 0.0);  // |d| > 20: the clamp stops the gradient
  CHECK(got.grad[7] == 0.0);
  CHECK(got.r.approx_kl == doctest::Approx(-(20 - 20 + 20 - 20 + 20 - 20 + 0.1 + 20) / (8 + 1e-8)));
}

TEST_CASE("bad input raises the documented errors") {
  const auto x = random_batch(2, 3, 9);
  const auto lp = as_matrix(x.lp, 2, 3), old = as_matrix(x.old, 2, 3), adv = as_matrix(x.adv, 2, 3);
  const auto mask = as_matrix(x.mask, 2, 3);
  const auto adv_t = alignkit::matrix_view<const double>(x.adv.data(), {3, 2});
  CHECK_THROWS_WITH_AS(ppo::loss(lp, old, adv_t, mask),
                       "[alignkit.shape_error.103] ppo::loss: advantages has extent 3 in dimension 0, expected 2",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(ppo::loss(lp, old, adv, mask, {.clip_ratio_c = 1.0}),
                       "[alignkit.domain_error.202] ppo::loss: clip_ratio_c is 1, expected a value in (1, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ppo::loss(lp, old, adv, mask, {.clip_ratio = -0.1}),
                       "[alignkit.domain_error.202] ppo::loss: clip_ratio is -0.10000000000000001, expected a value in [0, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ppo::loss(lp, old, adv, mask, {.clip_ratio_low = 1.0}),
                       "[alignkit.domain_error.202] ppo::loss: clip_ratio_low is 1, expected a value in [0, 1)",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ppo::loss(lp, old, adv, mask, {.clip_ratio_high = -0.5}),
                       "[alignkit.domain_error.202] ppo::loss: clip_ratio_high is -0.5, expected a value in [0, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ppo::loss(lp, old, adv, mask, {.tis_cap = 2.0}),
                       "[alignkit.domain_error.230] ppo::loss: tis_cap is set but behaviour_log_prob is not given; "
                       "truncated IS needs both",
                       alignkit::domain_error);
  std::vector<double> bad = x.lp;
  bad[4] = std::nan("");
  CHECK_THROWS_WITH_AS(ppo::loss(as_matrix(bad, 2, 3), old, adv, mask, {.check_finite = true}),
                       "[alignkit.domain_error.201] ppo::loss: log_prob[1] is nan, expected a finite value",
                       alignkit::domain_error);
  std::vector<double> packed_lp(5);
  const std::vector<int> offsets{0, 2, 6};
  const std::vector<int> packed_mask(6, 1);
  CHECK_THROWS_WITH_AS(ppo::loss(alignkit::packed(offsets), packed_lp, packed_lp, packed_lp, packed_mask),
                       "[alignkit.shape_error.101] ppo::loss: log_prob has 5 elements, the packed offsets' token count has 6",
                       alignkit::shape_error);
  const std::vector<int> bad_offsets{0, 4, 3};
  CHECK_THROWS_WITH_AS(ppo::loss(alignkit::packed(bad_offsets), packed_lp, packed_lp, packed_lp, packed_lp),
                       "[alignkit.domain_error.204] ppo::loss: offsets[2] is 3, less than offsets[1] = 4; offsets must be "
                       "non-decreasing",
                       alignkit::domain_error);
}
