// KTO on xtensor arrays: unpaired desirable and undesirable examples, with the reference
// point z estimated from a KL set of mismatched completions, then the same loss at a fixed z.
#include <alignkit/adapters/xtensor.hpp>
#include <alignkit/alignkit.hpp>

#include <cstdio>
#include <xtensor/xrandom.hpp>
#include <xtensor/xtensor.hpp>

namespace kto = alignkit::kto;

int main() {
  xt::random::seed(7);
  const std::size_t nc = 120, nr = 160, nk = 256;
  // Summed log-probs under the policy and the reference; the policy already prefers the
  // desirable examples a little.
  const xt::xtensor<double, 1> ref_chosen = xt::random::randn<double>({nc}, -50.0, 8.0);
  const xt::xtensor<double, 1> ref_rejected = xt::random::randn<double>({nr}, -50.0, 8.0);
  const xt::xtensor<double, 1> chosen = ref_chosen + xt::random::randn<double>({nc}, 1.0, 2.0);
  const xt::xtensor<double, 1> rejected = ref_rejected + xt::random::randn<double>({nr}, -1.0, 2.0);
  const xt::xtensor<double, 1> ref_kl = xt::random::randn<double>({nk}, -55.0, 8.0);
  const xt::xtensor<double, 1> policy_kl = ref_kl + xt::random::randn<double>({nk}, 0.5, 1.0);

  xt::xtensor<double, 1> grad_chosen = xt::zeros<double>({nc}), grad_rejected = xt::zeros<double>({nr});
  // TRL suggests w_d·Nc / (w_u·Nr) in [1, 4/3] when the classes are unbalanced.
  const kto::options opts{.beta = 0.1, .desirable_weight = 1.33};
  const kto::outputs<double> out{.grad_policy_chosen = alignkit::view_of(grad_chosen),
                                 .grad_policy_rejected = alignkit::view_of(grad_rejected)};
  const auto r = kto::loss(chosen, rejected, ref_chosen, ref_rejected, policy_kl, ref_kl, opts, out);
  std::printf("kto: loss %.5f  z (KL) %.4f  chosen reward %.4f  rejected reward %.4f  margin %.4f\n", r.loss, r.kl,
              r.chosen_reward, r.rejected_reward, r.margin);

  // The same loss at a given reference point (for example a running estimate kept by the trainer).
  const auto at = kto::loss_at_reference_point(chosen, rejected, ref_chosen, ref_rejected, r.kl, opts);
  std::printf("at z = %.4f: loss %.5f\n", at.kl, at.loss);
  // Desirable examples are pushed up, undesirable ones down.
  const bool signs_ok = xt::all(grad_chosen < 0.0) && xt::all(grad_rejected > 0.0);
  return r.kl > 0 && at.loss == r.loss && r.margin > 0 && signs_ok ? 0 : 1;
}
