// Golden op opo_adv: verl compute_opo_outcome_advantage (OPS.md).
#include "group_relative.hpp"

namespace {

template <class T>
void opo_adv(golden::case_context& c) {
  golden::check_group_relative<T>(c, {.method = alignkit::advantages::estimator::opo});
}

}  // namespace

ALIGNKIT_GOLDEN_OP("opo_adv", opo_adv);
