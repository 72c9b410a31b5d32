// ensemble_reward_model: members' scores aggregated by reward_ensemble::score (mean, min,
// mean − k·std), usable wherever a reward model is; errors for no members or short score lists.
#include <alignkit/pipelines/ensemble_reward_model.hpp>

#include <span>
#include <vector>

#include <doctest/doctest.h>

namespace pl = alignkit::pipelines;
using Y = std::vector<int>;

namespace {

struct length_rm {  // score = w · length
  double w = 1;
  std::vector<double> score(std::span<const int>, std::span<const Y> ys) const {
    std::vector<double> s;
    for (const auto& y : ys) s.push_back(w * static_cast<double>(y.size()));
    return s;
  }
};

struct short_rm {
  std::vector<double> score(std::span<const int>, std::span<const Y>) const { return {1.0}; }
};

}  // namespace

static_assert(alignkit::model::reward_model<pl::ensemble_reward_model<std::vector<length_rm>>, int, Y>);

TEST_CASE("mean, min and mean − k·std of the members' scores") {
  const std::vector<length_rm> members{{1.0}, {3.0}};
  const std::vector<int> prompts{0, 0};
  const std::vector<Y> ys{{1}, {1, 1}};
  const std::span<const int> x(prompts);
  const std::span<const Y> y(ys);
  using alignkit::reward_ensemble::aggregation;
  CHECK(pl::ensemble_reward_model(members).score(x, y) == std::vector<double>{2.0, 4.0});
  CHECK(pl::ensemble_reward_model(members, {.aggregate = aggregation::min}).score(x, y) == std::vector<double>{1.0, 2.0});
  const auto lcb =
      pl::ensemble_reward_model(members, {.aggregate = aggregation::mean_minus_std, .std_coefficient = 0.5}).score(x, y);
  CHECK(lcb[0] == doctest::Approx(2.0 - 0.5 * 1.0));
  CHECK(lcb[1] == doctest::Approx(4.0 - 0.5 * 2.0));
}

TEST_CASE("errors: no members; a member with the wrong number of scores") {
  using ensemble = pl::ensemble_reward_model<std::vector<length_rm>>;
  const std::vector<length_rm> none;
  CHECK_THROWS_WITH_AS(ensemble{none},
                       "[alignkit.shape_error.102] pipelines::ensemble_reward_model: members is empty; at least one "
                       "element is required",
                       alignkit::shape_error);
  const std::vector<short_rm> bad{{}};
  const std::vector<int> prompts{0, 0};
  const std::vector<Y> ys{{1}, {2}};
  CHECK_THROWS_WITH_AS(pl::ensemble_reward_model(bad).score(std::span<const int>(prompts), std::span<const Y>(ys)),
                       "[alignkit.shape_error.101] pipelines::ensemble_reward_model: member scores has 1 elements, "
                       "responses has 2",
                       alignkit::shape_error);
}
