// DPO step driven by the toy world's tabular policy (a user type): the gradient handed to the
// policy is the kernel's per-sequence gradient on every token, soft labels mix both orders, and
// on preferences sampled from the Bradley–Terry model of r the policy moves to the closed-form
// optimum π* ∝ π_ref·exp(r/β) with implied reward β·log(π/π_ref) = r + c(x).
#include <alignkit/pipelines/dpo_step.hpp>

#include <cmath>
#include <random>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "../../../examples/rlhf_demo/toy_world.hpp"
#include "recording_policy.hpp"

namespace pl = alignkit::pipelines;
using batch_t = pl::preference_batch<int, toy::response>;
using alignkit::model::token_values;

namespace {

// Pairs of random responses per prompt; label = the fraction of `draws` Bradley–Terry samples
// of r that prefer the first (draws = 0: the exact probability).
batch_t bt_pairs(int prompts, std::size_t per_prompt, int draws, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  const auto& all = toy::all_responses();
  std::uniform_int_distribution<std::size_t> pick(0, all.size() - 1);
  batch_t b;
  for (int x = 0; x < prompts; ++x)
    for (std::size_t i = 0; i < per_prompt; ++i) {
      const std::size_t a = i % all.size(), c = pick(g);  // every response appears at least once
      if (a == c) continue;
      const double p = 1 / (1 + std::exp(-(toy::gold_total(x, all[a]) - toy::gold_total(x, all[c]))));
      double label = p;
      if (draws > 0) label = std::binomial_distribution<int>(draws, p)(g) / static_cast<double>(draws);
      b.push_back(x, all[a], all[c], label);
    }
  return b;
}

}  // namespace

TEST_CASE("hard labels: the DPO kernel's metrics, and its per-sequence gradient on every token") {
  const toy::tabular_policy reference(2, 1.0, 7);
  recording_policy policy(2, 1.0, 8);
  batch_t b;
  b.push_back(0, {1, 2}, {4});
  b.push_back(1, {1, 2, 3}, {5, 5});
  const alignkit::dpo::options opts{.beta = 0.5};
  const auto r = pl::dpo_step(policy, reference, b, opts);
  const std::span<const int> x(b.prompts);
  const auto sum = [&](const auto& m, const std::vector<toy::response>& ys) {
    const token_values t = m.token_logprobs(x, std::span<const toy::response>(ys));
    return std::vector<double>{t.sum(0), t.sum(1)};
  };
  const auto e = alignkit::dpo::evaluate(sum(policy, b.chosen), sum(policy, b.rejected), sum(reference, b.chosen),
                                         sum(reference, b.rejected), opts);
  CHECK(r.loss == doctest::Approx(e.metrics.loss).epsilon(1e-14));
  CHECK(r.accuracy == e.metrics.accuracy);
  CHECK(r.margin == doctest::Approx(e.metrics.margin));
  REQUIRE(policy.received.size() == 2);
  CHECK(policy.received[0].offsets == std::vector<alignkit::index_t>{0, 3, 6});  // 2 tokens + EOS; 3 tokens
  for (double v : policy.received[0][1]) CHECK(v == doctest::Approx(e.grad_policy_chosen[1]));
  for (double v : policy.received[1][0]) CHECK(v == doctest::Approx(e.grad_policy_rejected[0]));
}

TEST_CASE("soft labels: loss and gradients mix the two orders") {
  const toy::tabular_policy reference(1, 1.0, 1);
  recording_policy policy(1, 1.0, 2);
  batch_t b;
  b.push_back(0, {1}, {2, 3}, 0.7);
  b.push_back(0, {0, 4}, {5}, 0.2);
  const auto r = pl::dpo_step(policy, reference, b);
  const std::span<const int> x(b.prompts);
  const auto sum = [&](const auto& m, const std::vector<toy::response>& ys) {
    const token_values t = m.token_logprobs(x, std::span<const toy::response>(ys));
    return std::vector<double>{t.sum(0), t.sum(1)};
  };
  const auto fwd = alignkit::dpo::evaluate(sum(policy, b.chosen), sum(policy, b.rejected), sum(reference, b.chosen),
                                           sum(reference, b.rejected));
  const auto bwd = alignkit::dpo::evaluate(sum(policy, b.rejected), sum(policy, b.chosen), sum(reference, b.rejected),
                                           sum(reference, b.chosen));
  double loss = 0;
  for (std::size_t i = 0; i < 2; ++i) loss += b.labels[i] * fwd.losses[i] + (1 - b.labels[i]) * bwd.losses[i];
  CHECK(r.loss == doctest::Approx(loss / 2).epsilon(1e-13));
  const double g0 = 0.7 * fwd.grad_policy_chosen[0] + 0.3 * bwd.grad_policy_rejected[0];
  CHECK(policy.received[0][0][0] == doctest::Approx(g0));
}

TEST_CASE("mismatched policy and reference token counts are reported") {
  struct short_reference {  // forgets the end token
    token_values token_logprobs(std::span<const int>, std::span<const toy::response> ys) const {
      token_values t;
      for (const auto& y : ys) t.push_back(std::vector<double>(y.size(), -1.0));
      return t;
    }
  };
  toy::tabular_policy policy(1, 1.0, 3);
  batch_t b;
  b.push_back(0, {1, 2, 3}, {1});
  CHECK_THROWS_WITH_AS(pl::dpo_step(policy, short_reference{}, b),
                       "[alignkit.shape_error.160] pipelines::dpo_step: reference rejected log-probs has 1 tokens in "
                       "sequence 0, policy rejected log-probs has 2",
                       alignkit::shape_error);
}

TEST_CASE("closed-form optimum: DPO on Bradley–Terry samples of r reaches π* ∝ π_ref·exp(r/β)") {
  const double beta = 1.0;
  const toy::tabular_policy reference(1, 1.0, 11);
  toy::tabular_policy policy = reference;
  const auto b = bt_pairs(1, 2 * toy::all_responses().size(), 1000, 12);
  const auto star = toy::optimum(reference, 0, toy::gold_total, beta);
  const double kl_start = toy::kl(policy.distribution(0), star);
  for (int it = 0; it < 300; ++it) {
    pl::dpo_step(policy, reference, b, {.beta = beta});
    policy.apply(0.1);
  }
  const auto pi = policy.distribution(0);
  const double kl_end = toy::kl(pi, star);
  CAPTURE(kl_start);
  CHECK(kl_start > 1.0);
  CAPTURE(kl_end);
  CHECK(kl_end < 0.02);
  // Implied reward β·log(π/π_ref) − r is one constant for every response of the prompt.
  const auto ref = reference.distribution(0);
  std::vector<double> gap, r;
  for (std::size_t i = 0; i < pi.size(); ++i) {
    r.push_back(toy::gold_total(0, toy::all_responses()[i]));
    gap.push_back(beta * std::log(pi[i] / ref[i]) - r.back());
  }
  const auto stddev = [](const std::vector<double>& v) {
    double mean = 0, sq = 0;
    for (double x : v) mean += x / static_cast<double>(v.size());
    for (double x : v) sq += (x - mean) * (x - mean);
    return std::sqrt(sq / static_cast<double>(v.size()));
  };
  const double gap_std = stddev(gap);
  CAPTURE(gap_std);
  CHECK(gap_std < 0.1 * stddev(r));
}
