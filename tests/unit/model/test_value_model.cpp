// value_model and value_gradient_sink: a user critic models them; a missing member does not.
#include <alignkit/model/value_model.hpp>

#include <span>
#include <vector>

#include <doctest/doctest.h>

namespace user {

struct critic {
  double last_sum = 0;
  alignkit::model::token_values values(std::span<const int>, std::span<const std::vector<int>> ys) const {
    alignkit::model::token_values v;
    for (const auto& y : ys) v.push_back(std::vector<double>(y.size(), 0.25));
    return v;
  }
  void accumulate_value_gradient(std::span<const int>, std::span<const std::vector<int>>,
                                 const alignkit::model::token_values& g) {
    for (double x : g.values) last_sum += x;
  }
};

struct values_only {
  alignkit::model::token_values values(std::span<const int>, std::span<const std::vector<int>>) const { return {}; }
};

}  // namespace user

namespace m = alignkit::model;
using Y = std::vector<int>;

static_assert(m::trainable_value_model<user::critic, int, Y>);
static_assert(m::value_model<user::values_only, int, Y>);
static_assert(!m::value_gradient_sink<user::values_only, int, Y>);

TEST_CASE("a critic returns one value per token and receives per-token gradients") {
  user::critic c;
  const std::vector<int> prompts{0};
  const std::vector<Y> ys{{1, 2, 3}};
  const m::token_values v = c.values(std::span<const int>(prompts), std::span<const Y>(ys));
  CHECK(v.length(0) == 3);
  c.accumulate_value_gradient(prompts, ys, v);
  CHECK(c.last_sum == 0.75);
}
