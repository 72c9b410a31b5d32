// Per-sequence sums, means and counts of per-token values in the padded and packed layouts,
// their backward, the length-normalized DPO built on them, determinism and the errors.
#include <alignkit/alignkit.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "finite_difference.hpp"

using alignkit::as_matrix;
using alignkit::index_t;
using alignkit::sequence_outputs;
using alignkit::sequence_reduction;
using alignkit::view_of;
using vec = std::vector<double>;

namespace {

struct ragged {
  std::size_t b = 5, t = 7;
  vec padded;                       // [B, T]
  std::vector<std::uint8_t> mask;   // [B, T]
  vec packed;                       // the valid tokens, sequence after sequence
  std::vector<std::int64_t> offsets;  // [B + 1]
};

ragged make_ragged(std::uint32_t seed) {
  ragged r;
  std::mt19937 g(seed);
  std::normal_distribution<double> d(-2, 1);
  const std::vector<std::size_t> lengths{7, 0, 3, 1, 5};  // a full row and an empty row
  r.padded.assign(r.b * r.t, 0.0);
  r.mask.assign(r.b * r.t, 0);
  r.offsets.push_back(0);
  for (std::size_t i = 0; i < r.b; ++i) {
    for (std::size_t j = 0; j < r.t; ++j) {
      r.padded[i * r.t + j] = d(g);  // padding holds garbage that must be ignored
      if (j < lengths[i]) {
        r.mask[i * r.t + j] = 1;
        r.packed.push_back(r.padded[i * r.t + j]);
      }
    }
    r.offsets.push_back(static_cast<std::int64_t>(r.packed.size()));
  }
  return r;
}

}  // namespace

TEST_CASE("padded and packed layouts give the same sums, means and counts") {
  const auto r = make_ragged(1);
  vec sums(r.b), means(r.b), counts(r.b), psums(r.b), pmeans(r.b), pcounts(r.b);
  alignkit::reduce_sequences(as_matrix(r.padded, 5, 7), as_matrix(r.mask, 5, 7),
                             sequence_outputs<double>{view_of(sums), view_of(means), view_of(counts)});
  alignkit::reduce_sequences(r.packed, r.offsets, sequence_outputs<double>{view_of(psums), view_of(pmeans), view_of(pcounts)});
  for (std::size_t i = 0; i < r.b; ++i) {
    double s = 0, n = 0;
    for (std::size_t j = 0; j < r.t; ++j)
      if (r.mask[i * r.t + j]) {
        s += r.padded[i * r.t + j];
        n += 1;
      }
    CHECK(sums[i] == doctest::Approx(s).epsilon(1e-15));
    CHECK(counts[i] == n);
    CHECK(means[i] == doctest::Approx(n > 0 ? s / n : 0.0).epsilon(1e-15));
    CHECK(psums[i] == sums[i]);
    CHECK(pmeans[i] == means[i]);
    CHECK(pcounts[i] == counts[i]);
  }
  CHECK(counts[1] == 0);
  CHECK(means[1] == 0);  // an empty sequence has mean 0
  // A floating-point mask works the same.
  const vec fmask(r.mask.begin(), r.mask.end());
  vec fsums(r.b);
  alignkit::reduce_sequences(as_matrix(r.padded, 5, 7), as_matrix(fmask, 5, 7), sequence_outputs<double>{view_of(fsums)});
  CHECK(fsums == sums);
}

TEST_CASE("the backward matches finite differences in both layouts") {
  const auto r = make_ragged(2);
  const vec w{0.5, -1.0, 2.0, 0.25, -0.75};  // ∂loss/∂(per-sequence value)
  for (auto red : {sequence_reduction::sum, sequence_reduction::mean}) {
    auto loss_padded = [&](const vec& x) {
      vec s(r.b), m(r.b);
      alignkit::reduce_sequences(as_matrix(x, 5, 7), as_matrix(r.mask, 5, 7), sequence_outputs<double>{view_of(s), view_of(m)});
      double l = 0;
      for (std::size_t i = 0; i < r.b; ++i) l += w[i] * (red == sequence_reduction::sum ? s[i] : m[i]);
      return l;
    };
    vec g(r.b * r.t, -9.0);
    alignkit::expand_sequence_grad(w, as_matrix(r.mask, 5, 7), red, as_matrix(g, 5, 7));
    alignkit_test::check_gradient(loss_padded, r.padded, g);
    auto loss_packed = [&](const vec& x) {
      vec s(r.b), m(r.b);
      alignkit::reduce_sequences(x, r.offsets, sequence_outputs<double>{view_of(s), view_of(m)});
      double l = 0;
      for (std::size_t i = 0; i < r.b; ++i) l += w[i] * (red == sequence_reduction::sum ? s[i] : m[i]);
      return l;
    };
    vec gp(r.packed.size(), -9.0);
    alignkit::expand_sequence_grad(w, r.offsets, red, gp);
    alignkit_test::check_gradient(loss_packed, r.packed, gp);
  }
}

TEST_CASE("length-normalized DPO from token log-probs: sigmoid_norm on sums equals sigmoid on means") {
  const auto chosen = make_ragged(3), rejected = make_ragged(4), ref_c = make_ragged(5), ref_r = make_ragged(6);
  auto reduce = [](const ragged& r) {
    vec s(r.b), m(r.b), n(r.b);
    alignkit::reduce_sequences(r.packed, r.offsets, sequence_outputs<double>{view_of(s), view_of(m), view_of(n)});
    return std::array<vec, 3>{s, m, n};
  };
  const auto pc = reduce(chosen), pr = reduce(rejected), rc = reduce(ref_c), rr = reduce(ref_r);
  namespace dpo = alignkit::dpo;
  const auto norm = dpo::evaluate(pc[0], pr[0], rc[0], rr[0], {.loss = dpo::loss_type::sigmoid_norm},
                                  dpo::pair_inputs<double>{{}, view_of(pc[2]), view_of(pr[2])});
  const auto means = dpo::evaluate(pc[1], pr[1], rc[1], rr[1], {.loss = dpo::loss_type::sigmoid});
  CHECK(norm.metrics.loss == doctest::Approx(means.metrics.loss).epsilon(1e-14));
  // Per-token gradients: through the sums with sigmoid_norm, or through the means with sigmoid.
  vec g_sum(chosen.packed.size()), g_mean(chosen.packed.size());
  alignkit::expand_sequence_grad(norm.grad_policy_chosen, chosen.offsets, sequence_reduction::sum, g_sum);
  alignkit::expand_sequence_grad(means.grad_policy_chosen, chosen.offsets, sequence_reduction::mean, g_mean);
  for (std::size_t i = 0; i < g_sum.size(); ++i) CHECK(g_sum[i] == doctest::Approx(g_mean[i]).epsilon(1e-14));
}

TEST_CASE("exec::par on 2 threads equals exec::seq") {
  const std::size_t b = 3000, t = 33;
  vec x(b * t);
  std::vector<std::uint8_t> m(b * t);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = std::sin(static_cast<double>(i));
    m[i] = (i * 7) % 5 != 0;
  }
  vec s1(b), s2(b), g1(b * t), g2(b * t);
  alignkit::reduce_sequences(alignkit::exec::seq, as_matrix(x, b, t), as_matrix(m, b, t), sequence_outputs<double>{view_of(s1)});
  alignkit::reduce_sequences(alignkit::exec::par.with(2), as_matrix(x, b, t), as_matrix(m, b, t), sequence_outputs<double>{view_of(s2)});
  CHECK(s1 == s2);
  alignkit::expand_sequence_grad(alignkit::exec::seq, s1, as_matrix(m, b, t), sequence_reduction::mean, as_matrix(g1, b, t));
  alignkit::expand_sequence_grad(alignkit::exec::par.with(2), s1, as_matrix(m, b, t), sequence_reduction::mean, as_matrix(g2, b, t));
  CHECK(g1 == g2);
}

TEST_CASE("bad input raises the documented errors") {
  const vec x(6, 1.0), out2(2);
  const std::vector<std::uint8_t> m(6, 1);
  vec out3(3);
  CHECK_THROWS_WITH_AS(alignkit::reduce_sequences(as_matrix(x, 3, 2), as_matrix(m, 2, 3), sequence_outputs<double>{view_of(out3)}),
                       "[alignkit.shape_error.103] reduce_sequences: mask has extent 2 in dimension 0, expected 3",
                       alignkit::shape_error);
  vec short_out(2);
  CHECK_THROWS_WITH_AS(alignkit::reduce_sequences(as_matrix(x, 3, 2), as_matrix(m, 3, 2), sequence_outputs<double>{{}, view_of(short_out)}),
                       "[alignkit.shape_error.101] reduce_sequences: means has 2 elements, sequences has 3",
                       alignkit::shape_error);
  const std::vector<std::int64_t> bad_end{0, 2, 5}, decreasing{0, 4, 3, 6}, empty;
  CHECK_THROWS_WITH_AS(alignkit::reduce_sequences(x, bad_end, sequence_outputs<double>{}),
                       "[alignkit.domain_error.204] reduce_sequences: offsets end at 5, expected the token count 6",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(alignkit::reduce_sequences(x, decreasing, sequence_outputs<double>{}),
                       "[alignkit.domain_error.204] reduce_sequences: offsets[2] is 3, less than offsets[1] = 4; offsets "
                       "must be non-decreasing",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(alignkit::reduce_sequences(x, empty, sequence_outputs<double>{}),
                       "[alignkit.shape_error.104] reduce_sequences: offsets is empty; expected B + 1 entries starting at 0",
                       alignkit::shape_error);
  vec g(6);
  CHECK_THROWS_WITH_AS(alignkit::expand_sequence_grad(out2, as_matrix(m, 3, 2), sequence_reduction::sum, as_matrix(g, 3, 2)),
                       "[alignkit.shape_error.101] expand_sequence_grad: seq_grad has 2 elements, mask rows has 3",
                       alignkit::shape_error);
}
