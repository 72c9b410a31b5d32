// KTO step on the toy world (a user policy type): the loss and gradients are the KTO kernel's on
// the desirable/undesirable split with the shifted KL set, and training on gold-labeled unpaired
// data raises the gold reward.
#include <alignkit/pipelines/kto_step.hpp>

#include <algorithm>
#include <random>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "../../../examples/rlhf_demo/toy_world.hpp"
#include "recording_policy.hpp"

namespace pl = alignkit::pipelines;
using alignkit::model::token_values;

namespace {

double sum(const toy::tabular_policy& m, int x, const toy::response& y) {
  const std::vector<int> xs{x};
  const std::vector<toy::response> ys{y};
  return m.token_logprobs(xs, ys).sum(0);
}

double expected_gold(const toy::tabular_policy& pi, int x) {
  const auto p = pi.distribution(x);
  double g = 0;
  for (std::size_t i = 0; i < p.size(); ++i) g += p[i] * toy::gold(x, toy::all_responses()[i]).total();
  return g;
}

}  // namespace

TEST_CASE("the KTO kernel on the split batch with the shifted KL set; gradients per token") {
  const toy::tabular_policy reference(2, 1.0, 1);
  recording_policy policy(2, 1.0, 2);
  pl::unpaired_batch<int, toy::response> b;
  b.push_back(0, {0}, true);
  b.push_back(1, {4, 4}, false);
  b.push_back(1, {1, 5}, true);
  const alignkit::kto::options opts{.beta = 0.5};
  const auto r = pl::kto_step(policy, reference, b, opts);
  const std::vector<double> pc{sum(policy, 0, {0}), sum(policy, 1, {1, 5})}, pr{sum(policy, 1, {4, 4})};
  const std::vector<double> rc{sum(reference, 0, {0}), sum(reference, 1, {1, 5})}, rr{sum(reference, 1, {4, 4})};
  // KL set: (0, {4, 4}), (1, {1, 5}), (1, {0}).
  const std::vector<double> pk{sum(policy, 0, {4, 4}), sum(policy, 1, {1, 5}), sum(policy, 1, {0})};
  const std::vector<double> rk{sum(reference, 0, {4, 4}), sum(reference, 1, {1, 5}), sum(reference, 1, {0})};
  const auto e = alignkit::kto::evaluate(pc, pr, rc, rr, pk, rk, opts);
  CHECK(r.loss == doctest::Approx(e.metrics.loss).epsilon(1e-14));
  CHECK(r.kl == doctest::Approx(e.metrics.kl));
  REQUIRE(policy.received.size() == 2);
  for (double g : policy.received[0][1]) CHECK(g == doctest::Approx(e.grad_policy_chosen[1]));
  for (double g : policy.received[1][0]) CHECK(g == doctest::Approx(e.grad_policy_rejected[0]));
}

TEST_CASE("training on gold-labeled unpaired samples raises the gold reward") {
  const toy::tabular_policy reference(1, 1.0, 3);
  toy::tabular_policy policy = reference;
  toy::tabular_policy sampler = reference;
  const std::vector<int> prompts(400, 0);
  const auto ys = sampler.sample(prompts);
  std::vector<double> g;
  for (const auto& y : ys) g.push_back(toy::gold(0, y).total());
  std::vector<double> sorted = g;
  std::nth_element(sorted.begin(), sorted.begin() + 200, sorted.end());
  pl::unpaired_batch<int, toy::response> b;  // desirable: above the median gold reward
  for (std::size_t i = 0; i < ys.size(); ++i) b.push_back(0, ys[i], g[i] > sorted[200]);
  const double before = expected_gold(policy, 0);
  for (int it = 0; it < 100; ++it) {
    pl::kto_step(policy, reference, b, {.beta = 0.5});
    policy.apply(0.05);
  }
  CAPTURE(before);
  CHECK(expected_gold(policy, 0) > before + 1.0);
}

TEST_CASE("errors: empty and mismatched batches") {
  const toy::tabular_policy reference(1, 1.0, 1);
  toy::tabular_policy policy(1, 1.0, 1);
  pl::unpaired_batch<int, toy::response> b;
  CHECK_THROWS_WITH_AS(pl::kto_step(policy, reference, b),
                       "[alignkit.shape_error.102] pipelines::kto_step: prompts is empty; at least one element is required",
                       alignkit::shape_error);
  b.push_back(0, {1}, true);
  b.desirable.push_back(false);
  CHECK_THROWS_WITH_AS(pl::kto_step(policy, reference, b),
                       "[alignkit.shape_error.101] pipelines::kto_step: desirable has 2 elements, prompts has 1",
                       alignkit::shape_error);
}
