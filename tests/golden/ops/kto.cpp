// Golden op kto: TRL KTOTrainer.kto_loss (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void kto(golden::case_context& c) {
  namespace kto = alignkit::kto;
  const auto pc = c.input<T>("policy_chosen_logps"), pr = c.input<T>("policy_rejected_logps");
  const auto rc = c.input<T>("ref_chosen_logps"), rr = c.input<T>("ref_rejected_logps");
  const auto pk = c.input<T>("policy_KL_logps"), rk = c.input<T>("ref_KL_logps");
  const std::string type = c.text("loss_type", "kto");
  const kto::options opts{.beta = c.param("beta", 0.1),
                          .desirable_weight = c.param("desirable_weight", 1.0),
                          .undesirable_weight = c.param("undesirable_weight", 1.0),
                          .loss = type == "kto" ? kto::loss_type::kto : kto::loss_type::apo_zero_unpaired,
                          .calculate_kl = c.flag("calculate_KL", true)};
  if (type != "kto" && type != "apo_zero_unpaired") c.fail("unknown loss_type " + type);
  // Chosen losses first, then rejected, in one buffer (two views of it).
  std::vector<T> losses(pc.size() + pr.size()), gc(pc.size()), gr(pr.size()), cr(pc.size()), rj(pr.size());
  const auto nc = static_cast<alignkit::index_t>(pc.size()), nr = static_cast<alignkit::index_t>(pr.size());
  const kto::outputs<T> out{alignkit::vector_view<T>(losses.data(), nc), alignkit::vector_view<T>(losses.data() + nc, nr),
                            alignkit::view_of(gc), alignkit::view_of(gr), {}, {}, alignkit::view_of(cr),
                            alignkit::view_of(rj)};
  const auto r = kto::loss(pc, pr, rc, rr, pk, rk, opts, out);
  c.check("losses", losses);
  c.check("loss", r.loss);
  c.check("chosen_rewards", cr);
  c.check("rejected_rewards", rj);
  c.check("kl", r.kl);
  c.check_grad("loss", "policy_chosen_logps", gc);
  c.check_grad("loss", "policy_rejected_logps", gr);
  c.check_grad("loss", "policy_KL_logps", std::vector<T>(pk.size(), T(0)));  // z is detached
}

}  // namespace

ALIGNKIT_GOLDEN_OP("kto", kto);
