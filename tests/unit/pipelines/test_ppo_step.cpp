// PPO-RLHF step on the toy world (user types for the policy, critic and reward): rollout
// quantities match the kernels, the adaptive controller moves β toward the target KL, and with
// KL in the reward the policy converges to the closed-form optimum π* ∝ π_ref·exp(r/β).
#include <alignkit/pipelines/ppo_step.hpp>

#include <cmath>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "../../../examples/rlhf_demo/toy_world.hpp"

namespace pl = alignkit::pipelines;

TEST_CASE("a rollout holds the policy's and reference's log-probs, KL-shaped GAE and the controller's update") {
  const toy::tabular_policy reference(2, 1.0, 1);
  toy::tabular_policy policy(2, 1.0, 2);
  toy::tabular_critic critic(2);
  alignkit::kl::fixed_kl_controller beta{0.1};
  const std::vector<int> prompts{0, 1, 0, 1};
  const pl::ppo_rlhf_options opts{.advantage = {.gamma = 1.0, .lam = 1.0}};
  auto [r, m] = pl::ppo_rollout(policy, reference, toy::gold_reward_model{}, critic, std::span<const int>(prompts), beta, opts);
  REQUIRE(r.responses.size() == 4);
  CHECK(r.logprobs.values == policy.token_logprobs(r.prompt_span(), r.response_span()).values);
  CHECK(m.kl_coef == 0.1);
  // γ = λ = 1 and V = 0: the advantage of a token is the return from it, the score minus the
  // KL penalties from that token on.
  for (alignkit::index_t b = 0; b < 4; ++b) {
    const auto lp = r.logprobs[b], ref = r.ref_logprobs[b];
    double ret = r.scores[static_cast<std::size_t>(b)];
    for (std::size_t t = lp.size(); t-- > 0;) {
      ret -= 0.1 * (lp[t] - ref[t]);
      CHECK(r.advantages[b][t] == doctest::Approx(ret));
      CHECK(r.returns[b][t] == doctest::Approx(ret));
    }
  }
  const auto u = pl::ppo_update(policy, critic, r, opts);
  CHECK(u.policy.approx_kl == doctest::Approx(0.0));  // first epoch: π = π_old
  CHECK(u.critic.tokens == static_cast<double>(r.logprobs.values.size()));
}

TEST_CASE("the adaptive controller raises β while the KL is above target") {
  const toy::tabular_policy reference(1, 1.0, 3);
  toy::tabular_policy policy(1, 3.0, 4);  // far from the reference
  toy::tabular_critic critic(1);
  alignkit::kl::adaptive_kl_controller beta(0.1, 0.01, 100.0);
  const std::vector<int> prompts(16, 0);
  for (int i = 0; i < 3; ++i) pl::ppo_step(policy, reference, toy::gold_reward_model{}, critic, std::span<const int>(prompts), beta);
  CHECK(beta.value > 0.1);
}

TEST_CASE("closed-form optimum: PPO with KL in the reward reaches π* ∝ π_ref·exp(r/β)") {
  const double beta = 1.0;
  const toy::tabular_policy reference(1, 1.0, 11);
  toy::tabular_policy policy = reference;
  policy.reseed(5);
  toy::tabular_critic critic(1);
  alignkit::kl::fixed_kl_controller coef{beta};
  const std::vector<int> prompts(128, 0);
  const pl::ppo_rlhf_options opts{.advantage = {.gamma = 1.0, .lam = 1.0, .whiten = alignkit::whitening::options{}}};
  const auto star = toy::optimum(reference, 0, toy::gold_total, beta);
  const double kl_start = toy::kl(policy.distribution(0), star);
  for (int it = 0; it < 150; ++it) {
    auto s = pl::ppo_step(policy, reference, toy::gold_reward_model{}, critic, std::span<const int>(prompts), coef, opts);
    policy.apply(0.05);
    critic.apply(0.5);
    pl::ppo_update(policy, critic, s.experience, opts);  // a second epoch on the same rollout
    policy.apply(0.05);
    critic.apply(0.5);
  }
  const double kl_end = toy::kl(policy.distribution(0), star);
  CAPTURE(kl_start);
  CAPTURE(kl_end);
  CHECK(kl_start > 1.0);
  CHECK(kl_end < 0.05);
}
