// Golden op bt_loss: OpenRLHF PairWiseLoss (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void bt_loss(golden::case_context& c) {
  const auto rc = c.input<T>("r_chosen");
  const auto rr = c.input<T>("r_rejected");
  const auto n = rc.size();
  std::vector<T> losses(n), gc(n), gr(n);
  const alignkit::bradley_terry::outputs<T> out{alignkit::view_of(losses), alignkit::view_of(gc),
                                                alignkit::view_of(gr)};
  const auto r = c.has_input("margin")
                     ? alignkit::bradley_terry::loss(rc, rr, c.input<T>("margin"), {}, out)
                     : alignkit::bradley_terry::loss(rc, rr, {}, out);
  c.check("losses", losses);
  c.check("loss", r.loss);
  c.check("accuracy", r.accuracy);
  c.check_grad("loss", "r_chosen", gc);
  c.check_grad("loss", "r_rejected", gr);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("bt_loss", bt_loss);
