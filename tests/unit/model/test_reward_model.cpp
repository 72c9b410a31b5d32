// reward_model and score_gradient_sink concepts; reward_ensemble's mean − k·std and its errors.
#include <alignkit/model/reward_model.hpp>

#include <cmath>
#include <span>
#include <vector>

#include <doctest/doctest.h>

namespace user {

struct linear_rm {  // score = w · length
  double w = 1;
  std::vector<float> score(std::span<const int>, std::span<const std::vector<int>> ys) const {
    std::vector<float> s;
    for (const auto& y : ys) s.push_back(static_cast<float>(w * static_cast<double>(y.size())));
    return s;
  }
  void accumulate_score_gradient(std::span<const int>, std::span<const std::vector<int>>, std::span<const double>) {}
};

struct no_score {
  double score;
};

}  // namespace user

namespace m = alignkit::model;
using Y = std::vector<int>;

static_assert(m::reward_model<user::linear_rm, int, Y>);
static_assert(m::trainable_reward_model<user::linear_rm, int, Y>);
static_assert(!m::reward_model<user::no_score, int, Y>);
static_assert(m::reward_model<m::reward_ensemble<std::vector<user::linear_rm>>, int, Y>);

TEST_CASE("reward_ensemble returns the mean minus k population standard deviations") {
  std::vector<user::linear_rm> members{{1.0}, {3.0}};
  const std::vector<int> prompts{0, 0};
  const std::vector<Y> ys{{1}, {1, 1}};
  const auto mean = m::reward_ensemble(members).score(std::span<const int>(prompts), std::span<const Y>(ys));
  CHECK(mean == std::vector<double>{2.0, 4.0});
  const auto lcb = m::reward_ensemble(members, 0.5).score(std::span<const int>(prompts), std::span<const Y>(ys));
  CHECK(lcb[0] == doctest::Approx(2.0 - 0.5 * 1.0));
  CHECK(lcb[1] == doctest::Approx(4.0 - 0.5 * 2.0));
}

TEST_CASE("reward_ensemble rejects an empty range and a negative k") {
  std::vector<user::linear_rm> none, one{{1.0}};
  using ensemble = m::reward_ensemble<std::vector<user::linear_rm>>;
  CHECK_THROWS_WITH_AS(ensemble{none},
                       "[alignkit.shape_error.102] model::reward_ensemble: members is empty; at least one element is required",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS((ensemble{one, -1.0}),
                       "[alignkit.domain_error.202] model::reward_ensemble: k is -1, expected a value in [0, inf]",
                       alignkit::domain_error);
}
