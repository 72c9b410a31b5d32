// Golden op reinforce_pp_adv: verl compute_reinforce_plus_plus_outcome_advantage (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void reinforce_pp_adv(golden::case_context& c) {
  const auto& shape = c.shape("token_level_rewards");
  const auto b = shape[0], t = shape[1];
  const auto r = c.input<T>("token_level_rewards");
  const auto m = c.input<int>("response_mask");
  std::vector<T> adv(r.size()), ret(r.size());
  alignkit::advantages::reinforce_pp(alignkit::as_matrix(r, b, t), alignkit::as_matrix(m, b, t), c.param("gamma", 1.0),
                                     alignkit::advantages::outputs<T>{alignkit::as_matrix(adv, b, t),
                                                                      alignkit::as_matrix(ret, b, t)});
  c.check("advantages", adv);
  c.check("returns", ret);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("reinforce_pp_adv", reinforce_pp_adv);
