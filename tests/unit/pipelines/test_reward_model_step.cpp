// Reward-model step on the toy world's linear reward model (a user type): hard labels equal
// the Bradley–Terry kernel, soft-label gradients match finite differences of the mixed loss,
// training on pairs sampled from a Bradley–Terry model recovers its weights, ensembles step
// every member, and bad batches raise the documented errors.
#include <alignkit/pipelines/reward_model_step.hpp>

#include <cmath>
#include <random>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "../../../examples/rlhf_demo/toy_world.hpp"

namespace pl = alignkit::pipelines;
using batch_t = pl::preference_batch<int, toy::response>;

namespace {

// Pairs of random responses labeled by a Bradley–Terry model of the gold reward.
batch_t sampled_pairs(std::size_t n, std::uint64_t seed, bool soft) {
  std::mt19937_64 g(seed);
  const auto& all = toy::all_responses();
  std::uniform_int_distribution<std::size_t> pick(0, all.size() - 1);
  std::uniform_real_distribution<double> u(0, 1);
  batch_t b;
  for (std::size_t i = 0; i < n; ++i) {
    const int x = static_cast<int>(i % 4);
    const auto& a = all[pick(g)];
    const auto& c = all[pick(g)];
    const double p = 1 / (1 + std::exp(-(toy::gold(x, a).total() - toy::gold(x, c).total())));
    if (soft) b.push_back(x, a, c, p);
    else if (u(g) < p) b.push_back(x, a, c);
    else b.push_back(x, c, a);
  }
  return b;
}

Eigen::VectorXd gold_weights() {
  Eigen::VectorXd w(toy::n_features);
  w << 2.0, -1.0, -3.0, 0.5, -1.0, -0.5, -1.0;
  return w;
}

}  // namespace

TEST_CASE("the gold reward is the linear model with the gold weights") {
  const toy::linear_reward_model rm(gold_weights());
  for (int x = 0; x < 4; ++x)
    for (const auto& y : toy::all_responses()) {
      const std::vector<int> p{x};
      const std::vector<toy::response> ys{y};
      CHECK(rm.score(p, ys)[0] == doctest::Approx(toy::gold(x, y).total()));
    }
}

TEST_CASE("hard labels: the step's loss and metrics are the Bradley–Terry kernel's") {
  const auto b = sampled_pairs(64, 1, false);
  toy::linear_reward_model rm(Eigen::VectorXd::LinSpaced(toy::n_features, -1.0, 1.0));
  const auto s = pl::score_pairs(rm, b);
  const auto expected = alignkit::bradley_terry::loss(s.chosen, s.rejected);
  const auto got = pl::reward_model_step(rm, b);
  CHECK(got.loss == doctest::Approx(expected.loss).epsilon(1e-14));
  CHECK(got.accuracy == expected.accuracy);
  CHECK(got.margin == doctest::Approx(expected.margin));
  CHECK(got.pairs == 64);
}

TEST_CASE("soft labels: loss is the label cross-entropy and the gradient matches finite differences") {
  const auto b = sampled_pairs(40, 2, true);
  const Eigen::VectorXd w0 = Eigen::VectorXd::LinSpaced(toy::n_features, 0.5, -0.5);
  const auto loss_at = [&](const Eigen::VectorXd& w) {
    toy::linear_reward_model rm(w);
    const auto s = pl::score_pairs(rm, b);
    double l = 0;
    for (std::size_t i = 0; i < s.chosen.size(); ++i) {
      const double z = s.chosen[i] - s.rejected[i];
      l += b.labels[i] * std::log1p(std::exp(-z)) + (1 - b.labels[i]) * std::log1p(std::exp(z));
    }
    return l / static_cast<double>(s.chosen.size());
  };
  toy::linear_reward_model rm(w0);
  const auto r = pl::reward_model_step(rm, b);
  CHECK(r.loss == doctest::Approx(loss_at(w0)).epsilon(1e-13));
  // The gradient the model accumulated: recover it from one plain SGD step of size 1.
  rm.apply(1.0);
  const Eigen::VectorXd grad = w0 - rm.weights();
  for (Eigen::Index k = 0; k < toy::n_features; ++k) {
    Eigen::VectorXd hi = w0, lo = w0;
    hi(k) += 1e-6;
    lo(k) -= 1e-6;
    CHECK(grad(k) == doctest::Approx((loss_at(hi) - loss_at(lo)) / 2e-6).epsilon(1e-6));
  }
}

TEST_CASE("training on Bradley–Terry samples of the gold reward recovers the gold weights") {
  const auto b = sampled_pairs(4000, 3, false);
  toy::linear_reward_model rm;
  alignkit::bradley_terry::result r{};
  for (int it = 0; it < 300; ++it) {
    r = pl::reward_model_step(rm, b);
    rm.apply(2.0);
  }
  CHECK(r.accuracy > 0.75);
  CHECK((rm.weights() - gold_weights()).norm() < 0.25 * gold_weights().norm());
}

TEST_CASE("an ensemble steps every member and reports their mean metrics") {
  const auto b = sampled_pairs(32, 4, false);
  std::vector<toy::linear_reward_model> members{toy::linear_reward_model(gold_weights()), toy::linear_reward_model()};
  const auto r0 = pl::reward_model_step(members[0], b);
  const auto r1 = pl::reward_model_step(members[1], b);
  members[0].apply(0.0);
  members[1].apply(0.0);
  const auto r = pl::reward_ensemble_step(members, b);
  CHECK(r.loss == doctest::Approx((r0.loss + r1.loss) / 2));
  CHECK(r.accuracy == doctest::Approx((r0.accuracy + r1.accuracy) / 2));
  std::vector<toy::linear_reward_model> none;
  CHECK_THROWS_WITH_AS(pl::reward_ensemble_step(none, b),
                       "[alignkit.shape_error.102] pipelines::reward_ensemble_step: members is empty; at least one "
                       "element is required",
                       alignkit::shape_error);
}

TEST_CASE("bad batches raise the documented errors") {
  toy::linear_reward_model rm;
  batch_t b;
  CHECK_THROWS_WITH_AS(pl::reward_model_step(rm, b),
                       "[alignkit.shape_error.102] pipelines::reward_model_step: prompts is empty; at least one "
                       "element is required",
                       alignkit::shape_error);
  b.push_back(0, {1}, {2});
  b.rejected.push_back({3});
  CHECK_THROWS_WITH_AS(pl::reward_model_step(rm, b),
                       "[alignkit.shape_error.101] pipelines::reward_model_step: rejected has 2 elements, prompts has 1",
                       alignkit::shape_error);
  b.rejected.pop_back();
  b.labels = {1.5};
  CHECK_THROWS_WITH_AS(pl::reward_model_step(rm, b),
                       "[alignkit.domain_error.260] pipelines::reward_model_step: labels[0] is 1.5, expected a "
                       "probability in [0, 1]",
                       alignkit::domain_error);
}
