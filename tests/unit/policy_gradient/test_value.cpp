// Clipped value loss: formula and finite differences in every aggregation mode, padded =
// packed, micro-batches = full batch, exec::par = exec::seq, all-masked batches, errors.
#include <alignkit/alignkit.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "finite_difference.hpp"

namespace value = alignkit::value;
using alignkit::aggregation;
using alignkit::as_matrix;
using alignkit::index_t;

namespace {

constexpr aggregation all_modes[] = {aggregation::token_mean, aggregation::seq_mean_token_sum,
                                     aggregation::seq_mean_token_mean, aggregation::seq_mean_token_sum_norm};

struct batch {
  index_t B, T;
  std::vector<double> v, old, ret;
  std::vector<int> mask;
};

batch random_batch(index_t B, index_t T, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d;
  batch x{B, T, {}, {}, {}, {}};
  for (index_t i = 0; i < B * T; ++i) {
    const double o = d(g);
    x.old.push_back(o);
    x.v.push_back(o + 0.4 * d(g));
    x.ret.push_back(d(g));
    x.mask.push_back((i / T) % 4 == 1 ? 0 : (g() % 3 != 0));
  }
  return x;
}

double reference_loss(const batch& x, const std::vector<double>& v, double c, aggregation mode) {
  double total = 0, tokens = 0, seqs = 0, seq_mean = 0;
  for (index_t b = 0; b < x.B; ++b) {
    double row = 0, n = 0;
    for (index_t t = 0; t < x.T; ++t) {
      const auto i = static_cast<std::size_t>(b * x.T + t);
      const double vc = std::clamp(v[i], x.old[i] - c, x.old[i] + c);
      row += x.mask[i] * 0.5 * std::max((v[i] - x.ret[i]) * (v[i] - x.ret[i]), (vc - x.ret[i]) * (vc - x.ret[i]));
      n += x.mask[i];
    }
    total += row;
    tokens += n;
    seqs += n > 0;
    if (n > 0) seq_mean += row / (n + 1e-8);
  }
  switch (mode) {
    case aggregation::token_mean: return total / tokens;
    case aggregation::seq_mean_token_sum: return total / seqs;
    case aggregation::seq_mean_token_mean: return seq_mean / seqs;
    case aggregation::seq_mean_token_sum_norm: return total / static_cast<double>(x.T);
  }
  return 0;
}

value::result run(const batch& x, const value::options& o, std::vector<double>& grad) {
  grad.assign(x.v.size(), -1.0);
  return value::loss(as_matrix(x.v, x.B, x.T), as_matrix(x.old, x.B, x.T), as_matrix(x.ret, x.B, x.T),
                     as_matrix(x.mask, x.B, x.T), o, value::outputs<double>{as_matrix(grad, x.B, x.T)});
}

}  // namespace

TEST_CASE("loss, clip fraction and gradient in every mode against the formula and finite differences") {
  const auto x = random_batch(6, 11, 1);
  for (auto mode : all_modes) {
    CAPTURE(static_cast<int>(mode));
    std::vector<double> grad;
    const auto r = run(x, {.cliprange_value = 0.2, .agg = mode}, grad);
    CHECK(r.loss == doctest::Approx(reference_loss(x, x.v, 0.2, mode)).epsilon(1e-13));
    alignkit_test::check_gradient([&](const std::vector<double>& v) { return reference_loss(x, v, 0.2, mode); }, x.v, grad);
    double clipped = 0, n = 0;
    for (std::size_t i = 0; i < x.v.size(); ++i) {
      if (!x.mask[i]) continue;
      const double vc = std::clamp(x.v[i], x.old[i] - 0.2, x.old[i] + 0.2);
      clipped += (vc - x.ret[i]) * (vc - x.ret[i]) > (x.v[i] - x.ret[i]) * (x.v[i] - x.ret[i]);
      n += 1;
    }
    CHECK(r.clipfrac == doctest::Approx(clipped / (n + 1e-8)).epsilon(1e-15));
    CHECK(clipped > 0);
    CHECK(r.tokens == n);
  }
}

TEST_CASE("packed rows, micro-batches and exec::par agree with the padded full batch") {
  const auto x = random_batch(8, 9, 2);
  std::vector<int> offsets;
  for (index_t b = 0; b <= x.B; ++b) offsets.push_back(static_cast<int>(b * x.T));
  for (auto mode : all_modes) {
    CAPTURE(static_cast<int>(mode));
    std::vector<double> grad;
    const auto full = run(x, {.agg = mode}, grad);
    std::vector<double> g_packed(x.v.size());
    const auto p = value::loss(alignkit::packed(offsets), x.v, x.old, x.ret, x.mask, {.agg = mode},
                               value::outputs<double, 1>{alignkit::view_of(g_packed)});
    CHECK(p.loss == full.loss);
    CHECK(g_packed == grad);
    std::vector<double> g_par(x.v.size());
    const auto par = value::loss(alignkit::exec::par.with(2), as_matrix(x.v, x.B, x.T), as_matrix(x.old, x.B, x.T),
                                 as_matrix(x.ret, x.B, x.T), as_matrix(x.mask, x.B, x.T), {.agg = mode},
                                 value::outputs<double>{as_matrix(g_par, x.B, x.T)});
    CHECK(par.loss == full.loss);
    CHECK(g_par == grad);
    double tokens = 0, seqs = 0;
    for (index_t b = 0; b < x.B; ++b) {
      const double n = static_cast<double>(std::count(x.mask.begin() + b * x.T, x.mask.begin() + (b + 1) * x.T, 1));
      tokens += n;
      seqs += n > 0;
    }
    double parts = 0;
    std::vector<double> g_parts(x.v.size());
    for (index_t b0 = 0; b0 < x.B; b0 += 3) {
      const index_t rows = std::min<index_t>(3, x.B - b0);
      const auto off = b0 * x.T;
      parts += value::loss(alignkit::matrix_view<const double>(x.v.data() + off, {rows, x.T}),
                           alignkit::matrix_view<const double>(x.old.data() + off, {rows, x.T}),
                           alignkit::matrix_view<const double>(x.ret.data() + off, {rows, x.T}),
                           alignkit::matrix_view<const int>(x.mask.data() + off, {rows, x.T}),
                           {.agg = mode, .denominators = {tokens, seqs, static_cast<double>(x.T)}},
                           value::outputs<double>{alignkit::matrix_view<double>(g_parts.data() + off, {rows, x.T})})
                   .loss;
    }
    CHECK(parts == doctest::Approx(full.loss).epsilon(1e-14));
    CHECK(g_parts == grad);
  }
}

TEST_CASE("an all-masked batch has loss 0 and gradient 0") {
  auto x = random_batch(2, 5, 3);
  std::fill(x.mask.begin(), x.mask.end(), 0);
  for (auto mode : all_modes) {
    std::vector<double> grad;
    const auto r = run(x, {.agg = mode}, grad);
    CHECK(r.loss == 0.0);
    CHECK(r.clipfrac == 0.0);
    for (double g : grad) CHECK(g == 0.0);
  }
}

TEST_CASE("bad input raises the documented errors") {
  const auto x = random_batch(2, 3, 4);
  const auto v = as_matrix(x.v, 2, 3), old = as_matrix(x.old, 2, 3);
  const auto mask = as_matrix(x.mask, 2, 3);
  CHECK_THROWS_WITH_AS(value::loss(v, old, alignkit::matrix_view<const double>(x.ret.data(), {2, 2}), mask),
                       "[alignkit.shape_error.103] value::loss: returns has extent 2 in dimension 1, expected 3",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(value::loss(v, old, old, mask, {.cliprange_value = -1}),
                       "[alignkit.domain_error.202] value::loss: cliprange_value is -1, expected a value in [0, inf]",
                       alignkit::domain_error);
}
