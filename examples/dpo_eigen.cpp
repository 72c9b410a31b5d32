// DPO on Eigen arrays: take gradient steps on per-pair policy log-probs (standing in for a
// model's parameters) and watch the loss fall and the reward accuracy rise. The same call
// writes the gradients into Eigen arrays, zero-copy.
#include <alignkit/adapters/eigen.hpp>
#include <alignkit/alignkit.hpp>

#include <Eigen/Core>
#include <cstdio>

namespace dpo = alignkit::dpo;

int main() {
  const int n = 256;
  // Summed log-probs of chosen and rejected responses under the frozen reference model.
  const Eigen::ArrayXf ref_chosen = Eigen::ArrayXf::Random(n) * 20.0f - 60.0f;
  const Eigen::ArrayXf ref_rejected = Eigen::ArrayXf::Random(n) * 20.0f - 60.0f;
  Eigen::ArrayXf chosen = ref_chosen, rejected = ref_rejected;  // the policy starts at the reference
  Eigen::ArrayXf grad_chosen(n), grad_rejected(n);

  const dpo::options opts{.beta = 0.1, .label_smoothing = 0.05};  // cDPO
  const dpo::outputs<float> out{.grad_policy_chosen = alignkit::view_of(grad_chosen),
                                .grad_policy_rejected = alignkit::view_of(grad_rejected)};
  dpo::result first{}, last{};
  for (int step = 0; step < 40; ++step) {
    last = dpo::loss(chosen, rejected, ref_chosen, ref_rejected, opts, out);
    if (step == 0) first = last;
    const float lr = static_cast<float>(n);  // the loss is a mean over pairs
    chosen -= lr * grad_chosen;
    rejected -= lr * grad_rejected;
    if (step % 10 == 0)
      std::printf("step %2d  loss %.4f  accuracy %.2f  margin %.3f  chosen reward %.3f\n", step, last.loss,
                  last.accuracy, last.margin, last.chosen_reward);
  }
  // Other variants are one option away, e.g. IPO or a weighted sigmoid + NCA mixture.
  const dpo::weighted_loss mix[] = {{dpo::loss_type::sigmoid, 1.0}, {dpo::loss_type::nca_pair, 0.5}};
  const auto ipo = dpo::loss(chosen, rejected, ref_chosen, ref_rejected, {.loss = dpo::loss_type::ipo});
  const auto mixed = dpo::loss(chosen, rejected, ref_chosen, ref_rejected, {.combination = mix});
  std::printf("final: loss %.4f accuracy %.2f  (ipo %.4f, sigmoid + 0.5 nca %.4f)\n", last.loss, last.accuracy,
              ipo.loss, mixed.loss);
  return last.loss < first.loss && last.accuracy > 0.99 ? 0 : 1;
}
