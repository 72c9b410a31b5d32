// From token log-probabilities to the objectives' inputs: per-sequence sums (core
// reduce_sequences / expand_sequence_grad) end to end from logits with finite differences, and
// the [B, T] per-token view of a padded batch.
#include <alignkit/core/sequences.hpp>
#include <alignkit/token/logprob.hpp>
#include <alignkit/token/sequence_logprobs.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "finite_difference.hpp"

namespace tk = alignkit::token;
using alignkit::index_t;
using alignkit::matrix_view;
using alignkit::view_of;

namespace {

std::vector<double> random_values(std::size_t n, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0, 2);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

}  // namespace

TEST_CASE("packed: completion sums from logits and gradients back to the logits") {
  // Three sequences of 4, 0 and 5 tokens; the first two tokens of each are prompt (ignored).
  const index_t v = 7;
  const std::vector<std::int64_t> offsets{0, 4, 4, 9};
  const std::vector<std::int64_t> labels{-100, -100, 3, 6, -100, -100, 0, 2, 5};
  const std::size_t n = labels.size();
  const auto logits = random_values(n * static_cast<std::size_t>(v), 1);
  const std::vector<double> w{0.5, 2.0, -1.5};  // L = Σ_b w_b·S_b
  auto sequence_logps = [&](const std::vector<double>& l) {
    std::vector<double> logp(n), s(3);
    tk::logprob(matrix_view<const double>(l.data(), {static_cast<index_t>(n), v}), labels, {},
                tk::outputs<double>{view_of(logp)});
    alignkit::reduce_sequences(logp, offsets, alignkit::sequence_outputs<double>{view_of(s)});
    return s;
  };
  const auto s = sequence_logps(logits);
  std::vector<double> logp(n);
  tk::logprob(matrix_view<const double>(logits.data(), {static_cast<index_t>(n), v}), labels, {}, tk::outputs<double>{view_of(logp)});
  CHECK(s[0] == doctest::Approx(logp[2] + logp[3]).epsilon(1e-15));
  CHECK(s[1] == 0.0);
  CHECK(s[2] == doctest::Approx(logp[6] + logp[7] + logp[8]).epsilon(1e-15));

  std::vector<double> d_logp(n, -1.0), grad(logits.size());
  alignkit::expand_sequence_grad(w, offsets, alignkit::sequence_reduction::sum, d_logp);
  CHECK(d_logp == std::vector<double>{0.5, 0.5, 0.5, 0.5, -1.5, -1.5, -1.5, -1.5, -1.5});
  tk::logprob(matrix_view<const double>(logits.data(), {static_cast<index_t>(n), v}), labels, {},
              tk::outputs<double>{{}, {}, {grad.data(), {static_cast<index_t>(n), v}}}, tk::upstream<double>{view_of(d_logp)});
  alignkit_test::check_gradient(
      [&](const std::vector<double>& l) {
        const auto sl = sequence_logps(l);
        return w[0] * sl[0] + w[1] * sl[1] + w[2] * sl[2];
      },
      logits, grad);
}

TEST_CASE("per_token views a padded batch's token values as [B, T]") {
  const index_t b = 3, t = 4;
  const auto logp = random_values(static_cast<std::size_t>(b * t), 2);
  const auto per_token = tk::per_token(view_of(logp), b, t);
  CHECK(per_token.extent(0) == b);
  CHECK(per_token.extent(1) == t);
  for (index_t i = 0; i < b; ++i)
    for (index_t j = 0; j < t; ++j) CHECK(per_token(i, j) == logp[static_cast<std::size_t>(i * t + j)]);
  // A strided per-token vector (every other element) gives a strided [B, T] view.
  std::vector<double> interleaved(2 * logp.size());
  for (std::size_t i = 0; i < logp.size(); ++i) interleaved[2 * i] = logp[i];
  const auto strided = tk::per_token(alignkit::vector_view<const double>(interleaved.data(), {b * t}, {2}), b, t);
  CHECK(strided(2, 3) == logp[11]);
  CHECK(strided(1, 0) == logp[4]);
  CHECK_THROWS_WITH_AS(tk::per_token(view_of(logp), 2, 5),
                       "[alignkit.shape_error.101] token::per_token: token_values has 12 elements, batch·length has 10",
                       alignkit::shape_error);
}
