// Golden op dpo: TRL DPOTrainer.dpo_loss (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void dpo(golden::case_context& c) {
  namespace dpo = alignkit::dpo;
  const auto pc = c.input<T>("policy_chosen_logps"), pr = c.input<T>("policy_rejected_logps");
  const auto rc = c.input<T>("ref_chosen_logps"), rr = c.input<T>("ref_rejected_logps");
  const dpo::options opts{.beta = c.param("beta", 0.1),
                          .loss = dpo::parse_loss_type(c.text("loss_type", "sigmoid")),
                          .label_smoothing = c.param("label_smoothing", 0.0),
                          .reference_free = c.flag("reference_free", false),
                          .divergence = dpo::parse_f_divergence(c.text("f_divergence_type", "reverse_kl")),
                          .discopop_tau = c.param("discopop_tau", 0.05)};
  const auto e = dpo::evaluate(pc, pr, rc, rr, opts);
  c.check("losses", e.losses);
  c.check("loss", e.metrics.loss);
  c.check("chosen_rewards", e.chosen_rewards);
  c.check("rejected_rewards", e.rejected_rewards);
  c.check_grad("loss", "policy_chosen_logps", e.grad_policy_chosen);
  c.check_grad("loss", "policy_rejected_logps", e.grad_policy_rejected);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("dpo", dpo);
