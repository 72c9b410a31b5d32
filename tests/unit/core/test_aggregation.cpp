// Aggregation weights: verl agg_loss for every mode, global denominators, the reducer, the
// all-masked convention and the mode names.
#include <alignkit/alignkit.hpp>

#include <random>
#include <vector>

#include <doctest/doctest.h>

using alignkit::aggregation;
using alignkit::index_t;

namespace {

// verl agg_loss written directly from its definition (OPS.md, ppo_clip).
double verl_agg(const std::vector<double>& x, const std::vector<int>& m, index_t B, index_t T, aggregation mode) {
  double total = 0, tokens = 0, seqs = 0, seq_sum = 0, seq_mean_sum = 0;
  for (index_t b = 0; b < B; ++b) {
    double row = 0, n = 0;
    for (index_t t = 0; t < T; ++t) {
      row += x[static_cast<std::size_t>(b * T + t)] * m[static_cast<std::size_t>(b * T + t)];
      n += m[static_cast<std::size_t>(b * T + t)];
    }
    total += row;
    tokens += n;
    if (n > 0) {
      seqs += 1;
      seq_sum += row;
      seq_mean_sum += row / (n + 1e-8);
    }
  }
  switch (mode) {
    case aggregation::token_mean: return total / tokens;
    case aggregation::seq_mean_token_sum: return seq_sum / seqs;
    case aggregation::seq_mean_token_mean: return seq_mean_sum / seqs;
    case aggregation::seq_mean_token_sum_norm: return total / static_cast<double>(T);
  }
  return 0;
}

double weighted_sum(const alignkit::token_weights& w, const std::vector<double>& x, const std::vector<int>& m, index_t B,
                    index_t T) {
  double s = 0;
  for (index_t b = 0; b < B; ++b) {
    double n = 0, row = 0;
    for (index_t t = 0; t < T; ++t) n += m[static_cast<std::size_t>(b * T + t)];
    for (index_t t = 0; t < T; ++t) row += m[static_cast<std::size_t>(b * T + t)] * x[static_cast<std::size_t>(b * T + t)];
    s += w.row(n) * row;
  }
  return s;
}

struct adding_reducer {  // stands in for a second shard whose counts are `other`
  std::vector<double> other;
  int calls = 0;
  void all_reduce_sum(std::span<double> v) {
    ++calls;
    for (std::size_t i = 0; i < v.size(); ++i) v[i] += other[i];
  }
};

constexpr aggregation all_modes[] = {aggregation::token_mean, aggregation::seq_mean_token_sum,
                                     aggregation::seq_mean_token_mean, aggregation::seq_mean_token_sum_norm};

}  // namespace

TEST_CASE("the weights reproduce verl agg_loss in every mode, empty rows included") {
  const index_t B = 6, T = 9;
  std::mt19937 g(3);
  std::normal_distribution<double> d;
  std::vector<double> x(B * T);
  std::vector<int> m(B * T);
  for (auto& v : x) v = d(g);
  for (index_t i = 0; i < B * T; ++i) m[static_cast<std::size_t>(i)] = (i / T == 2) ? 0 : (g() % 3 != 0);
  const auto mask = alignkit::as_matrix(m, B, T);
  const alignkit::detail::padded_layout rows{B, T};
  alignkit::local_reducer local;
  for (auto mode : all_modes) {
    CAPTURE(static_cast<int>(mode));
    const auto w = alignkit::detail::make_token_weights("test", alignkit::exec::seq, mode, {}, rows, mask, local);
    CHECK(weighted_sum(w, x, m, B, T) == doctest::Approx(verl_agg(x, m, B, T, mode)).epsilon(1e-14));
    CHECK(w.row(0) == 0.0);
  }
}

TEST_CASE("explicit denominators are used as given; missing ones are counted and reduced") {
  const index_t B = 2, T = 3;
  const std::vector<int> m{1, 1, 0, 0, 0, 0};
  const auto mask = alignkit::as_matrix(m, B, T);
  const alignkit::detail::padded_layout rows{B, T};
  adding_reducer other{{5, 2}};
  auto w = alignkit::detail::make_token_weights("test", alignkit::exec::seq, aggregation::token_mean, {}, rows, mask, other);
  CHECK(w.scale == 1.0 / 7);
  CHECK(other.calls == 1);
  w = alignkit::detail::make_token_weights("test", alignkit::exec::seq, aggregation::seq_mean_token_mean, {}, rows, mask,
                                           other);
  CHECK(w.scale == 1.0 / 3);
  CHECK(w.row(2) == doctest::Approx(1.0 / 3 / (2 + 1e-8)).epsilon(1e-15));
  w = alignkit::detail::make_token_weights("test", alignkit::exec::seq, aggregation::token_mean, {.tokens = 40.0}, rows,
                                           mask, other);
  CHECK(w.scale == 1.0 / 40);
  CHECK(other.calls == 2);  // nothing to count
  w = alignkit::detail::make_token_weights("test", alignkit::exec::seq, aggregation::seq_mean_token_sum_norm,
                                           {.horizon = 16.0}, rows, mask, other);
  CHECK(w.scale == 1.0 / 16);
  CHECK(w.row(1) == 1.0 / 16);
}

TEST_CASE("an all-masked batch has zero weights (verl: 0/0)") {
  const std::vector<int> m(12, 0);
  const alignkit::detail::padded_layout rows{3, 4};
  alignkit::local_reducer local;
  for (auto mode : {aggregation::token_mean, aggregation::seq_mean_token_sum, aggregation::seq_mean_token_mean}) {
    const auto w = alignkit::detail::make_token_weights("test", alignkit::exec::seq, mode, {}, rows,
                                                        alignkit::as_matrix(m, 3, 4), local);
    CHECK(w.scale == 0.0);
  }
}

TEST_CASE("mode names and bad denominators raise the documented errors") {
  CHECK(alignkit::parse_aggregation("seq-mean-token-sum-norm") == aggregation::seq_mean_token_sum_norm);
  CHECK_THROWS_WITH_AS(alignkit::parse_aggregation("token-sum"),
                       "[alignkit.domain_error.203] parse_aggregation: unknown aggregation mode 'token-sum', expected "
                       "token-mean, seq-mean-token-sum, seq-mean-token-mean or seq-mean-token-sum-norm",
                       alignkit::domain_error);
  const std::vector<int> m(4, 1);
  alignkit::local_reducer local;
  CHECK_THROWS_WITH_AS(alignkit::detail::make_token_weights("f", alignkit::exec::seq, aggregation::token_mean,
                                                            {.tokens = -1.0}, alignkit::detail::padded_layout{2, 2},
                                                            alignkit::as_matrix(m, 2, 2), local),
                       "[alignkit.domain_error.202] f: global_denominators.tokens is -1, expected a value in [0, inf)",
                       alignkit::domain_error);
}
