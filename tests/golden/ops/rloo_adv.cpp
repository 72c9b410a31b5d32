// Golden op rloo_adv: verl compute_rloo_outcome_advantage (OPS.md).
#include "group_relative.hpp"

namespace {

template <class T>
void rloo_adv(golden::case_context& c) {
  golden::check_group_relative<T>(c, {.method = alignkit::advantages::estimator::rloo});
}

}  // namespace

ALIGNKIT_GOLDEN_OP("rloo_adv", rloo_adv);
