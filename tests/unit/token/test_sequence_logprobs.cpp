// Per-sequence sums and per-token views of token log-probabilities, packed and padded, with
// the backward broadcast, end to end from logits with finite differences, and the errors.
#include <alignkit/alignkit.hpp>

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
    tk::sequence_sums(logp, offsets, s);
    return s;
  };
  const auto s = sequence_logps(logits);
  std::vector<double> logp(n);
  tk::logprob(matrix_view<const double>(logits.data(), {static_cast<index_t>(n), v}), labels, {}, tk::outputs<double>{view_of(logp)});
  CHECK(s[0] == doctest::Approx(logp[2] + logp[3]).epsilon(1e-15));
  CHECK(s[1] == 0.0);
  CHECK(s[2] == doctest::Approx(logp[6] + logp[7] + logp[8]).epsilon(1e-15));

  std::vector<double> d_logp(n, -1.0), grad(logits.size());
  tk::sequence_grads(w, offsets, d_logp);
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

TEST_CASE("padded: masked sums, the [B, T] per-token view and the masked broadcast") {
  const index_t b = 3, t = 4;
  const auto logp = random_values(static_cast<std::size_t>(b * t), 2);
  const std::vector<std::uint8_t> mask{1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0};
  const auto per_token = tk::per_token(view_of(logp), b, t);
  CHECK(per_token(1, 2) == logp[6]);
  const matrix_view<const std::uint8_t> m(mask.data(), {b, t});
  std::vector<double> s(3);
  tk::sequence_sums(alignkit::exec::par.with(2), per_token, m, s);
  CHECK(s[0] == doctest::Approx(logp[0] + logp[1]).epsilon(1e-15));
  CHECK(s[1] == doctest::Approx(logp[4] + logp[5] + logp[6] + logp[7]).epsilon(1e-15));
  CHECK(s[2] == 0.0);
  const std::vector<double> d{1.0, -2.0, 3.0};
  std::vector<double> g(static_cast<std::size_t>(b * t), 9.0);
  tk::sequence_grads(d, m, matrix_view<double>(g.data(), {b, t}));
  CHECK(g == std::vector<double>{1, 1, 0, 0, -2, -2, -2, -2, 0, 0, 0, 0});
  // A strided per-token vector (every other element) gives a strided [B, T] view.
  std::vector<double> interleaved(2 * logp.size());
  for (std::size_t i = 0; i < logp.size(); ++i) interleaved[2 * i] = logp[i];
  const auto strided = tk::per_token(alignkit::vector_view<const double>(interleaved.data(), {b * t}, {2}), b, t);
  CHECK(strided(2, 3) == logp[11]);
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<double> logp(5, -1.0);
  std::vector<double> s(2), s3(3);
  const std::vector<std::int64_t> offsets{0, 2, 5}, short_end{0, 2, 4};
  CHECK_THROWS_WITH_AS(tk::sequence_sums(logp, short_end, s),
                       "[alignkit.domain_error.204] token::sequence_sums: offsets end at 4, expected the token count 5",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(tk::sequence_sums(logp, offsets, s3),
                       "[alignkit.shape_error.101] token::sequence_sums: sums has 3 elements, sequences has 2", alignkit::shape_error);
  CHECK_THROWS_WITH_AS(tk::sequence_grads(s3, offsets, std::vector<double>(5)),
                       "[alignkit.shape_error.101] token::sequence_grads: d_sums has 3 elements, sequences has 2",
                       alignkit::shape_error);
  const std::vector<std::uint8_t> mask(6, 1);
  CHECK_THROWS_WITH_AS(tk::sequence_sums(matrix_view<const double>(logp.data(), {1, 5}), matrix_view<const std::uint8_t>(mask.data(), {1, 6}), s),
                       "[alignkit.shape_error.103] token::sequence_sums: mask has extent 6 in dimension 1, expected 5",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(tk::per_token(view_of(logp), 2, 3),
                       "[alignkit.shape_error.101] token::per_token: token_values has 5 elements, batch·length has 6",
                       alignkit::shape_error);
}
