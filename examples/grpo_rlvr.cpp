// GRPO with verifiable rewards (RLVR) on std::vector: binary rewards of 2 prompts × 4 sampled
// completions become group-relative advantages, which feed the GRPO loss with the KL term in
// the loss. Prints the advantages, the loss, its metrics and the gradient for the trainer.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  namespace ak = alignkit;
  const ak::index_t B = 8, T = 6;  // 2 prompts × 4 completions, up to 6 response tokens each
  // 1 if the verifier accepted the completion's answer, else 0; the second prompt is solved by all.
  const std::vector<double> rewards{1, 0, 0, 1, 1, 1, 1, 1};
  const std::vector<int> lengths{6, 4, 5, 3, 6, 2, 4, 5};

  // Group-relative advantages: (r − group mean) / (group std + 1e-6); all-equal groups give 0.
  std::vector<double> adv(B);
  ak::advantages::group_relative(rewards, ak::advantages::group_size{4}, {}, adv);

  // Per-token log-probs of the sampled tokens under the current, rollout and reference policies.
  std::vector<double> logp(B * T), old_logp(B * T), ref_logp(B * T);
  std::vector<int> mask(B * T);
  for (ak::index_t i = 0; i < B * T; ++i) {
    const auto u = static_cast<std::size_t>(i);
    old_logp[u] = -1.0 - 0.1 * static_cast<double>(i % 7);
    logp[u] = old_logp[u] + 0.05 * std::sin(static_cast<double>(i));
    ref_logp[u] = old_logp[u] + 0.02 * std::cos(static_cast<double>(i));
    mask[u] = (i % T) < lengths[static_cast<std::size_t>(i / T)];
  }

  std::vector<double> grad(B * T);
  const ak::grpo::options opts{.type = ak::grpo::loss_type::grpo, .beta = 0.04, .epsilon_low = 0.2,
                               .epsilon_high = 0.28};
  const auto r = ak::grpo::loss(ak::as_matrix(logp, B, T), ak::as_matrix(old_logp, B, T),
                                ak::as_matrix(ref_logp, B, T), adv, ak::as_matrix(mask, B, T), opts,
                                ak::grpo::outputs<double>{ak::as_matrix(grad, B, T)});

  std::printf("advantages:");
  for (double a : adv) std::printf(" %+.3f", a);
  double norm = 0;
  for (double g : grad) norm += g * g;
  std::printf("\nloss %.6f  mean_kl %.6f  clip_ratio_region %.3f  |grad| %.6f\n", r.loss, r.mean_kl,
              r.clip_ratio_region, std::sqrt(norm));
  // The solved-by-all group carries no signal: its advantages are 0.
  for (ak::index_t i = 4; i < B; ++i)
    if (adv[static_cast<std::size_t>(i)] != 0.0) return 1;
  return std::isfinite(r.loss) ? 0 : 1;
}
