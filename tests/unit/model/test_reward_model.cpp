// reward_model and score_gradient_sink concepts: a user reward model models them, a type
// without `score` does not.
#include <alignkit/model/reward_model.hpp>

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

TEST_CASE("scores are read through the concept's member") {
  user::linear_rm rm{2.0};
  const std::vector<int> prompts{0, 0};
  const std::vector<Y> ys{{1}, {1, 1}};
  CHECK(rm.score(std::span<const int>(prompts), std::span<const Y>(ys)) == std::vector<float>{2.0f, 4.0f});
}
