// Golden op reinforce_pp_baseline_adv: verl compute_reinforce_plus_plus_baseline_outcome_advantage (OPS.md).
#include "group_relative.hpp"

namespace {

template <class T>
void reinforce_pp_baseline_adv(golden::case_context& c) {
  golden::check_group_relative<T>(c, {.method = alignkit::advantages::estimator::reinforce_pp_baseline});
}

}  // namespace

ALIGNKIT_GOLDEN_OP("reinforce_pp_baseline_adv", reinforce_pp_baseline_adv);
