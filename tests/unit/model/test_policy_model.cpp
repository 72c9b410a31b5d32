// policy_model, reference_model, logprob_gradient_sink: a user type with the members models the
// concepts; each missing or mistyped member breaks exactly the concept that needs it.
#include <alignkit/model/policy_model.hpp>

#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace user {

using tokens = std::vector<int>;

struct scorer {  // log-probs only
  alignkit::model::token_values token_logprobs(std::span<const std::string>, std::span<const tokens> ys) const {
    alignkit::model::token_values out;
    for (const auto& y : ys) out.push_back(std::vector<double>(y.size(), -1.0));
    return out;
  }
};

struct sampler : scorer {  // + sampling
  std::vector<tokens> sample(std::span<const std::string> prompts) { return std::vector<tokens>(prompts.size(), tokens{1}); }
};

struct learner : sampler {  // + gradients
  double received = 0;
  void accumulate_logprob_gradient(std::span<const std::string>, std::span<const tokens>,
                                   const alignkit::model::token_values& g) {
    for (double v : g.values) received += v;
  }
};

struct wrong_sample_type : scorer {
  std::vector<std::string> sample(std::span<const std::string> prompts) { return {prompts.begin(), prompts.end()}; }
};

}  // namespace user

namespace m = alignkit::model;
using P = std::string;
using Y = user::tokens;

static_assert(m::reference_model<user::scorer, P, Y>);
static_assert(!m::policy_model<user::scorer, P, Y>);
static_assert(m::policy_model<user::sampler, P, Y>);
static_assert(!m::trainable_policy<user::sampler, P, Y>);
static_assert(m::trainable_policy<user::learner, P, Y>);
static_assert(!m::policy_model<user::wrong_sample_type, P, Y>);
static_assert(!m::reference_model<user::scorer, int, Y>);  // prompts of another type

TEST_CASE("a user type's log-probs and gradients go through the concept's members") {
  user::learner model;
  const std::vector<P> prompts{"a", "b"};
  const std::vector<Y> responses{{1, 2, 3}, {4}};
  const m::token_values lp = model.token_logprobs(std::span<const P>(prompts), std::span<const Y>(responses));
  REQUIRE(lp.sequences() == 2);
  CHECK(lp.sum(0) == -3.0);
  auto g = lp.zeros_like();
  g[0][1] = 0.5;
  model.accumulate_logprob_gradient(prompts, responses, g);
  CHECK(model.received == 0.5);
  CHECK(model.sample(prompts).size() == 2);
}
