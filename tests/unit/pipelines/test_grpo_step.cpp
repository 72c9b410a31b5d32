// GRPO / RLVR step on the toy world (user types): groups of G samples, group-relative
// advantages from a verifiable reward, the GRPO loss gradient handed to the policy, and with KL
// in the reward the policy converges to the closed-form optimum π* ∝ π_ref·exp(r/β).
#include <alignkit/pipelines/grpo_step.hpp>

#include <cmath>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "../../../examples/rlhf_demo/toy_world.hpp"

namespace pl = alignkit::pipelines;

namespace {

struct verifier {  // RLVR: 1 if the correct answer is present and X is absent, else 0
  std::vector<double> score(std::span<const int> x, std::span<const toy::response> ys) const {
    std::vector<double> s;
    for (std::size_t i = 0; i < ys.size(); ++i) {
      const auto f = toy::features(x[i], ys[i]);
      s.push_back(f(0) > 0 && f(2) == 0 ? 1.0 : 0.0);
    }
    return s;
  }
};

}  // namespace

TEST_CASE("groups of G samples per prompt, advantages relative to the group, gradient to the policy") {
  const toy::tabular_policy reference(2, 1.0, 1);
  toy::tabular_policy policy(2, 1.0, 2);
  const std::vector<int> prompts{0, 1};
  const pl::grpo_rlvr_options opts{.group_size = 6};
  auto [r, m] = pl::grpo_rollout(policy, reference, verifier{}, std::span<const int>(prompts), opts);
  REQUIRE(r.prompts == std::vector<int>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1});
  std::vector<double> expected(r.scores.size());
  alignkit::advantages::group_relative(r.scores, alignkit::advantages::group_size{6}, {}, expected);
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(r.sequence_advantages[i] == doctest::Approx(expected[i]));
  double mean = 0;
  for (double s : r.scores) mean += s / 12;
  CHECK(m.score == doctest::Approx(mean));
  const auto u = pl::grpo_update(policy, r, opts);
  CHECK(u.tokens == static_cast<double>(r.logprobs.values.size()));
}

TEST_CASE("RLVR: a verifiable reward raises the pass rate") {
  const toy::tabular_policy reference(2, 1.0, 3);
  toy::tabular_policy policy = reference;
  const std::vector<int> prompts{0, 1, 0, 1};
  const pl::grpo_rlvr_options opts{.group_size = 16};
  const double start = pl::grpo_rollout(policy, reference, verifier{}, std::span<const int>(prompts), opts).second.score;
  double end = 0;
  for (int it = 0; it < 40; ++it) {
    end = pl::grpo_step(policy, reference, verifier{}, std::span<const int>(prompts), opts).sampled.score;
    policy.apply(0.05);
  }
  CAPTURE(start);
  CHECK(end > start + 0.3);
}

TEST_CASE("closed-form optimum: GRPO with KL in the reward reaches π* ∝ π_ref·exp(r/β)") {
  const double beta = 1.0;
  const toy::tabular_policy reference(1, 1.0, 11);
  toy::tabular_policy policy = reference;
  policy.reseed(6);
  const std::vector<int> prompts(8, 0);
  const pl::grpo_rlvr_options opts{.group_size = 16, .kl_in_reward = beta};
  const auto star = toy::optimum(reference, 0, toy::gold_total, beta);
  const double kl_start = toy::kl(policy.distribution(0), star);
  for (int it = 0; it < 200; ++it) {
    pl::grpo_step(policy, reference, toy::gold_reward_model{}, std::span<const int>(prompts), opts);
    policy.apply(0.05);
  }
  const double kl_end = toy::kl(policy.distribution(0), star);
  CAPTURE(kl_start);
  CAPTURE(kl_end);
  CHECK(kl_start > 1.0);
  CHECK(kl_end < 0.03);
}
