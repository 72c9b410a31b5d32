// Golden op grpo_adv: verl compute_grpo_outcome_advantage (OPS.md).
#include "group_relative.hpp"

namespace {

template <class T>
void grpo_adv(golden::case_context& c) {
  golden::check_group_relative<T>(c, {.method = alignkit::advantages::estimator::grpo,
                        .epsilon = c.param("epsilon", 1e-6),
                        .norm_by_std = c.flag("norm_adv_by_std_in_grpo", true)});
}

}  // namespace

ALIGNKIT_GOLDEN_OP("grpo_adv", grpo_adv);
