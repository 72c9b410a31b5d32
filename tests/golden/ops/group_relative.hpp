// Shared body of the group-relative golden ops (grpo_adv, rloo_adv, reinforce_pp_baseline_adv,
// opo_adv): token rewards, response mask and integer group ids in, advantages = returns out.
#pragma once

#include <alignkit/alignkit.hpp>

#include <algorithm>

#include "../golden.hpp"

namespace golden {

template <class T>
void check_group_relative(case_context& c, const alignkit::advantages::options& opts) {
  const auto& shape = c.shape("token_level_rewards");
  const auto b = shape[0], t = shape[1];
  const auto r = c.input<T>("token_level_rewards");
  const auto m = c.input<int>("response_mask");
  const auto ids = c.input<std::int64_t>("index");
  const auto groups = ids.empty() ? 0 : *std::max_element(ids.begin(), ids.end()) + 1;
  std::vector<T> out(r.size());
  alignkit::advantages::group_relative(alignkit::as_matrix(r, b, t), alignkit::as_matrix(m, b, t),
                                       alignkit::advantages::by_id(ids, groups), opts,
                                       alignkit::as_matrix(out, b, t));
  c.check("advantages", out);
  c.check("returns", out);
}

}  // namespace golden
