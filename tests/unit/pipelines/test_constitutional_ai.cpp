// Constitutional AI: critique → revise over principles in order, (revised ≻ original) pairs,
// unchanged responses make no pair, and the pairs train a reward model (a user type) to dislike
// what the principle forbids.
#include <alignkit/pipelines/constitutional_ai.hpp>
#include <alignkit/pipelines/reward_model_step.hpp>

#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "../../../examples/rlhf_demo/toy_world.hpp"

namespace cai = alignkit::pipelines::constitutional_ai;
using alignkit::model::principle;

namespace {

// Critique: positions that break the principle; revision: replace them with the hedge token
// ("no-x") or with the correct answer ("answer-correctly").
struct token_reviser {
  int calls = 0;
  std::vector<std::size_t> critique(const int& x, const toy::response& y, const principle& p) {
    ++calls;
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < y.size(); ++i) {
      const bool wrong_answer = y[i] < 4 && y[i] != toy::correct_answer(x);
      if (p.name == "no-x" ? y[i] == toy::forbidden : wrong_answer) at.push_back(i);
    }
    return at;
  }
  toy::response revise(const int& x, toy::response y, const std::vector<std::size_t>& at, const principle& p) {
    for (auto i : at) y[i] = p.name == "no-x" ? toy::hedge : toy::correct_answer(x);
    return y;
  }
};

const std::vector<principle> constitution{
    {"no-x", "Which tokens are the forbidden token X?", "Replace every X by a hedge."},
    {"answer-correctly", "Which answers are wrong?", "Replace wrong answers by the correct one."}};

}  // namespace

TEST_CASE("principles apply in order; unchanged responses make no pair") {
  token_reviser r;
  const std::vector<int> prompts{1, 1, 2};
  const std::vector<toy::response> ys{{4, 0}, {1}, {4}};
  const auto out = cai::revise(r, std::span<const principle>(constitution), std::span<const int>(prompts),
                               std::span<const toy::response>(ys));
  CHECK(r.calls == 6);
  CHECK(out.unchanged == 1);
  REQUIRE(out.pairs.size() == 2);
  CHECK(out.pairs.chosen[0] == toy::response{toy::hedge, 1});
  CHECK(out.pairs.rejected[0] == toy::response{4, 0});
  CHECK(out.pairs.chosen[1] == toy::response{toy::hedge});
  CHECK(out.pairs.prompts[1] == 2);
}

TEST_CASE("revision pairs teach a reward model that the forbidden token is bad") {
  token_reviser r;
  std::vector<int> prompts;
  std::vector<toy::response> ys;
  for (const auto& y : toy::all_responses()) {
    prompts.push_back(0);
    ys.push_back(y);
  }
  const auto out = cai::revise(r, std::span<const principle>(constitution).first(1), std::span<const int>(prompts),
                               std::span<const toy::response>(ys));
  CHECK(out.pairs.size() + out.unchanged == static_cast<alignkit::index_t>(ys.size()));
  toy::linear_reward_model rm;
  for (int it = 0; it < 50; ++it) {
    alignkit::pipelines::reward_model_step(rm, out.pairs);
    rm.apply(1.0);
  }
  CHECK(rm.weights()(2) < -1.0);  // weight of the X count
}

TEST_CASE("errors: no principles, mismatched inputs") {
  token_reviser r;
  const std::vector<int> prompts{0};
  const std::vector<toy::response> ys{{1}, {2}};
  CHECK_THROWS_WITH_AS(cai::revise(r, std::span<const principle>(), std::span<const int>(prompts),
                                   std::span<const toy::response>(ys).first(1)),
                       "[alignkit.shape_error.102] pipelines::constitutional_ai::revise: principles is empty; at "
                       "least one element is required",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(cai::revise(r, std::span<const principle>(constitution), std::span<const int>(prompts),
                                   std::span<const toy::response>(ys)),
                       "[alignkit.shape_error.101] pipelines::constitutional_ai::revise: responses has 2 elements, "
                       "prompts has 1",
                       alignkit::shape_error);
}
