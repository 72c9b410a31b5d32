// Train the output head of a toy language model with DPO, without ever storing [tokens, vocab]
// logits: token log-probs come from the chunked linear head, per-sequence sums feed the
// sigmoid DPO loss (a Bradley-Terry loss on the implicit rewards β·(log π − log π_ref)), and
// its gradients flow back through the sequence sums into the head's weight.
#include <alignkit/core/sequences.hpp>
#include <alignkit/preference/bradley_terry.hpp>
#include <alignkit/token/linear_head.hpp>

#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace tk = alignkit::token;
namespace lh = alignkit::token::linear_head;
using alignkit::view_of;
using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr int pairs = 8, prompt = 3, completion = 5, length = prompt + completion, vocab = 200, width = 16;
constexpr double beta = 0.1, learning_rate = 2.0;

struct batch {
  matrix hidden;                      // [pairs·length, width], frozen features of each position
  std::vector<std::int64_t> labels;   // next tokens; the prompt's are ignored
  std::vector<std::int64_t> offsets;  // packed sequences
};

batch sample(std::mt19937& rng) {
  std::normal_distribution<double> feature(0, 1);
  std::uniform_int_distribution<std::int64_t> token(0, vocab - 1);
  batch b{matrix(pairs * length, width), {}, {0}};
  for (auto& x : b.hidden.reshaped()) x = feature(rng);
  for (int s = 0; s < pairs; ++s) {
    for (int t = 0; t < length; ++t) b.labels.push_back(t < prompt ? -100 : token(rng));
    b.offsets.push_back(b.offsets.back() + length);
  }
  return b;
}

// Per-sequence completion log-probs under weight w; with d_sums, also adds ∂L/∂w into grad.
std::vector<double> sequence_logps(const batch& b, const matrix& w, const std::vector<double>* d_sums = nullptr,
                                   matrix* grad = nullptr) {
  std::vector<double> token_logps(b.labels.size()), sums(pairs);
  const lh::options opts{.chunk_rows = 32, .chunk_vocab = 64};
  lh::logprob(b.hidden, w, b.labels, opts, lh::outputs<double>{view_of(token_logps)});
  alignkit::reduce_sequences(token_logps, b.offsets, alignkit::sequence_outputs<double>{view_of(sums)});
  if (d_sums) {
    std::vector<double> d_tokens(b.labels.size());
    alignkit::expand_sequence_grad(*d_sums, b.offsets, alignkit::sequence_reduction::sum, d_tokens);
    matrix g(w.rows(), w.cols());
    lh::logprob(b.hidden, w, b.labels, opts, lh::outputs<double>{{}, {}, {}, view_of(g)}, tk::upstream<double>{view_of(d_tokens)});
    *grad += g;
  }
  return sums;
}

int main() {
  std::mt19937 rng(7);
  const batch chosen = sample(rng), rejected = sample(rng);
  std::normal_distribution<double> init(0, 0.1);
  matrix w(vocab, width);
  for (auto& x : w.reshaped()) x = init(rng);
  const matrix w_ref = w;
  const auto ref_c = sequence_logps(chosen, w_ref), ref_r = sequence_logps(rejected, w_ref);
  double first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    const auto pi_c = sequence_logps(chosen, w), pi_r = sequence_logps(rejected, w);
    std::vector<double> r_c(pairs), r_r(pairs), g_c(pairs), g_r(pairs);
    for (int i = 0; i < pairs; ++i) {
      r_c[i] = beta * (pi_c[i] - ref_c[i]);
      r_r[i] = beta * (pi_r[i] - ref_r[i]);
    }
    const auto dpo = alignkit::bradley_terry::loss(r_c, r_r, {}, {{}, view_of(g_c), view_of(g_r)});
    for (int i = 0; i < pairs; ++i) {  // chain rule through r = β·(log π − log π_ref)
      g_c[i] *= beta;
      g_r[i] *= beta;
    }
    matrix grad = matrix::Zero(vocab, width);
    sequence_logps(chosen, w, &g_c, &grad);
    sequence_logps(rejected, w, &g_r, &grad);
    w -= learning_rate * grad;
    if (step == 0) first = dpo.loss;
    last = dpo.loss;
    if (step % 5 == 0) std::printf("step %2d  DPO loss %.4f  reward accuracy %.2f\n", step, dpo.loss, dpo.accuracy);
  }
  std::printf("DPO loss %.4f -> %.4f\n", first, last);
  return last < first ? 0 : 1;
}
