// A reward model that scores but cannot receive gradients is not a trainable_reward_model: the
// reward-model step rejects it and the diagnostic names the concept.
// expected-error: m\.accumulate_score_gradient\(prompts, responses, d_scores\).* (is|would be) invalid
#include <alignkit/pipelines/reward_model_step.hpp>

#include <span>
#include <vector>

struct scores_only {
  std::vector<double> score(std::span<const int>, std::span<const int> ys) const {
    return std::vector<double>(ys.size(), 0.0);
  }
};

int main() {
  scores_only rm;
  alignkit::pipelines::preference_batch<int, int> batch;
  batch.push_back(0, 1, 2);
  return static_cast<int>(alignkit::pipelines::reward_model_step(rm, batch).loss);
}
