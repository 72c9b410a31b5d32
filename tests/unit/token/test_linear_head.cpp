// Chunked linear head: equal to the materialized computation (logits = hidden·Wᵀ, then
// token::logprob) on random shapes and tilings, gradients wrt hidden and weight by finite
// differences, both weight layouts, a custom GEMM hook, determinism across threads, errors.
#include <alignkit/token/linear_head.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include "finite_difference.hpp"
#include "naive_product.hpp"

namespace tk = alignkit::token;
namespace lh = alignkit::token::linear_head;
using alignkit::index_t;
using alignkit::matrix_view;
using alignkit::view_of;

namespace {

template <class T>
using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<double> random_values(std::size_t n, std::uint32_t seed, double scale) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

row_matrix<double> random_matrix(index_t r, index_t c, std::uint32_t seed, double scale) {
  const auto v = random_values(static_cast<std::size_t>(r * c), seed, scale);
  return Eigen::Map<const row_matrix<double>>(v.data(), r, c);
}

std::vector<std::int64_t> random_labels(index_t n, index_t vocab, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<std::int64_t> d(0, vocab - 1);
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = i % 5 == 3 ? -100 : d(g);
  return y;
}

struct head_values {
  std::vector<double> logp, entropy;
  row_matrix<double> grad_hidden, grad_weight;  // grad_weight as [V, H]
  tk::result sums;
};

// The materialized path: logits [N, V] = hidden·Wᵀ, token::logprob on them, then G·W and Gᵀ·hidden.
head_values materialized(const row_matrix<double>& hidden, const row_matrix<double>& w, const std::vector<std::int64_t>& y,
                         const std::vector<double>& a, const std::vector<double>& b, double tau) {
  const index_t n = hidden.rows(), v = w.rows();
  const row_matrix<double> logits = hidden * w.transpose();
  row_matrix<double> g(n, v);
  head_values r{std::vector<double>(static_cast<std::size_t>(n)), std::vector<double>(static_cast<std::size_t>(n)), {}, {}, {}};
  r.sums = tk::logprob(logits, y, {.temperature = tau}, tk::outputs<double>{view_of(r.logp), view_of(r.entropy), view_of(g)},
                       tk::upstream<double>{view_of(a), view_of(b)});
  r.grad_hidden = g * w;
  r.grad_weight = g.transpose() * hidden;
  return r;
}

void check_close(const auto& got, const auto& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (index_t i = 0; i < static_cast<index_t>(want.size()); ++i) {
    const double g = got.data()[i], w = want.data()[i];
    INFO("element ", i, ": got ", g, " want ", w);
    CHECK(std::abs(g - w) <= tol * (1 + std::abs(w)));
  }
}

}  // namespace

TEST_CASE("equal to the materialized computation on random shapes and tilings") {
  struct shape {
    index_t n, h, v, rows, vocab;
  };
  for (const shape s : {shape{1, 1, 1, 256, 0}, {1, 7, 50, 256, 0}, {13, 1, 29, 4, 8}, {9, 16, 103, 3, 10},
                        {32, 24, 257, 8, 64}, {17, 5, 40, 17, 40}, {6, 12, 33, 100, 1}}) {
    for (double tau : {1.0, 0.6}) {
      CAPTURE(s.n);
      CAPTURE(s.h);
      CAPTURE(s.v);
      CAPTURE(s.rows);
      CAPTURE(s.vocab);
      CAPTURE(tau);
      const auto seed = static_cast<std::uint32_t>(s.n * 1000 + s.h * 10 + s.v);
      const auto hidden = random_matrix(s.n, s.h, seed, 1.0);
      const auto w = random_matrix(s.v, s.h, seed + 1, 1.5);
      const auto y = random_labels(s.n, s.v, seed + 2);
      const auto a = random_values(static_cast<std::size_t>(s.n), seed + 3, 1.0);
      const auto b = random_values(static_cast<std::size_t>(s.n), seed + 4, 1.0);
      const auto want = materialized(hidden, w, y, a, b, tau);
      for (auto layout : {lh::layout::vocab_by_hidden, lh::layout::hidden_by_vocab}) {
        const bool by_vocab = layout == lh::layout::vocab_by_hidden;
        const row_matrix<double> weight = by_vocab ? w : row_matrix<double>(w.transpose());
        std::vector<double> logp(static_cast<std::size_t>(s.n)), ent(logp.size());
        row_matrix<double> gh(s.n, s.h), gw(weight.rows(), weight.cols());
        gh.setConstant(9);
        gw.setConstant(9);
        const lh::options opts{.temperature = tau, .weight_layout = layout, .chunk_rows = s.rows, .chunk_vocab = s.vocab};
        const auto got = lh::logprob(hidden, weight, y, opts,
                                     lh::outputs<double>{view_of(logp), view_of(ent), view_of(gh), view_of(gw)},
                                     tk::upstream<double>{view_of(a), view_of(b)});
        check_close(logp, want.logp, 1e-10);
        check_close(ent, want.entropy, 1e-10);
        check_close(gh, want.grad_hidden, 1e-10);
        if (by_vocab)
          check_close(gw, want.grad_weight, 1e-10);
        else
          check_close(row_matrix<double>(gw.transpose()), want.grad_weight, 1e-10);
        CHECK(got.tokens == want.sums.tokens);
        CHECK(got.logprobs_sum == doctest::Approx(want.sums.logprobs_sum).epsilon(1e-10));
        CHECK(got.entropy_sum == doctest::Approx(want.sums.entropy_sum).epsilon(1e-10));
      }
    }
  }
}

TEST_CASE("the Eigen hook equals a naive product in every storage order, across its block edges") {
  // 4099 rows or columns of C: two blocks of eigen_gemm::panel = 4096.
  static_assert(lh::eigen_gemm::panel == 4096);
  const std::array<index_t, 3> shapes[] = {{5, 7, 3}, {1, 6, 4}, {4, 5, 1}, {3, 4, 0}, {4099, 3, 2}, {3, 4099, 2}};
  CHECK(test_support::check_against_naive_product(lh::eigen_gemm{}, shapes) == 6 * 27 * 2);
}

TEST_CASE("gradients wrt hidden and weight match finite differences") {
  const index_t n = 4, h = 3, v = 11;
  const auto hidden0 = random_matrix(n, h, 51, 1.0);
  const auto w0 = random_matrix(v, h, 52, 1.0);
  const auto y = random_labels(n, v, 53);
  const auto a = random_values(static_cast<std::size_t>(n), 54, 1.0), b = random_values(static_cast<std::size_t>(n), 55, 1.0);
  const lh::options opts{.temperature = 0.9, .chunk_rows = 3, .chunk_vocab = 4};
  row_matrix<double> gh(n, h), gw(v, h);
  lh::logprob(hidden0, w0, y, opts, lh::outputs<double>{{}, {}, view_of(gh), view_of(gw)}, tk::upstream<double>{view_of(a), view_of(b)});
  auto objective = [&](const row_matrix<double>& hidden, const row_matrix<double>& w) {
    std::vector<double> logp(static_cast<std::size_t>(n)), ent(logp.size());
    lh::logprob(hidden, w, y, opts, lh::outputs<double>{view_of(logp), view_of(ent)});
    double s = 0;
    for (std::size_t i = 0; i < logp.size(); ++i) s += a[i] * logp[i] + b[i] * ent[i];
    return s;
  };
  auto as_vector = [](const row_matrix<double>& m) { return std::vector<double>(m.data(), m.data() + m.size()); };
  auto as_matrix = [](const std::vector<double>& x, index_t r, index_t c) {
    return row_matrix<double>(Eigen::Map<const row_matrix<double>>(x.data(), r, c));
  };
  alignkit_test::check_gradient([&](const std::vector<double>& x) { return objective(as_matrix(x, n, h), w0); },
                                as_vector(hidden0), as_vector(gh));
  alignkit_test::check_gradient([&](const std::vector<double>& x) { return objective(hidden0, as_matrix(x, v, h)); },
                                as_vector(w0), as_vector(gw));
}

TEST_CASE("float inputs, a custom GEMM hook and exec::par") {
  const index_t n = 40, h = 8, v = 75;
  const row_matrix<float> hidden = random_matrix(n, h, 61, 1.0).cast<float>();
  const row_matrix<float> w = random_matrix(v, h, 62, 1.0).cast<float>();
  const auto y = random_labels(n, v, 63);
  const std::vector<float> a(static_cast<std::size_t>(n), 1.0f), b(static_cast<std::size_t>(n), -0.5f);
  const auto want = materialized(hidden.cast<double>(), w.cast<double>(), y, std::vector<double>(a.begin(), a.end()),
                                 std::vector<double>(b.begin(), b.end()), 1.0);
  // A naive GEMM standing in for a custom backend; it counts its calls.
  struct naive_gemm {
    int* calls;
    void operator()(matrix_view<const float> x, matrix_view<const float> z, matrix_view<float> c, bool accumulate) const {
      ++*calls;
      for (index_t i = 0; i < c.extent(0); ++i)
        for (index_t j = 0; j < c.extent(1); ++j) {
          double s = accumulate ? c(i, j) : 0.0;
          for (index_t k = 0; k < x.extent(1); ++k) s += static_cast<double>(x(i, k)) * z(k, j);
          c(i, j) = static_cast<float>(s);
        }
    }
  };
  int calls = 0;
  const lh::options opts{.chunk_rows = 16, .chunk_vocab = 32};  // 3 row blocks × 3 vocabulary chunks
  std::vector<float> lp_custom(static_cast<std::size_t>(n)), lp_seq(lp_custom.size()), lp_par(lp_custom.size());
  row_matrix<float> gh_custom(n, h), gh_seq(n, h), gh_par(n, h), gw_seq(v, h), gw_par(v, h);
  const tk::upstream<float> up{view_of(a), view_of(b)};
  lh::logprob(hidden, w, y, opts, lh::outputs<float>{view_of(lp_custom), {}, view_of(gh_custom)}, up, naive_gemm{&calls});
  CHECK(calls == 3 * (3 + 3 + 3));  // forward tiles, recomputed tiles, grad_hidden products
  const auto s = lh::logprob(alignkit::exec::seq, hidden, w, y, opts,
                             lh::outputs<float>{view_of(lp_seq), {}, view_of(gh_seq), view_of(gw_seq)}, up);
  const auto p = lh::logprob(alignkit::exec::par.with(2), hidden, w, y, opts,
                             lh::outputs<float>{view_of(lp_par), {}, view_of(gh_par), view_of(gw_par)}, up);
  CHECK(s.logprobs_sum == p.logprobs_sum);
  CHECK(s.entropy_sum == p.entropy_sum);
  CHECK(lp_seq == lp_par);
  CHECK(gh_seq == gh_par);
  CHECK(gw_seq == gw_par);
  check_close(lp_seq, want.logp, 2e-6);
  check_close(lp_custom, want.logp, 2e-6);
  check_close(gh_custom, row_matrix<float>(want.grad_hidden.cast<float>()), 2e-6);
  check_close(gh_seq, row_matrix<float>(want.grad_hidden.cast<float>()), 2e-6);
  check_close(gw_seq, row_matrix<float>(want.grad_weight.cast<float>()), 2e-6);
}

TEST_CASE("bad input raises the documented errors") {
  const row_matrix<double> hidden = random_matrix(3, 4, 71, 1.0), w = random_matrix(6, 5, 72, 1.0), good = random_matrix(6, 4, 73, 1.0);
  const std::vector<std::int64_t> y{0, 5, -100}, out_of_range{0, 6, 1};
  CHECK_THROWS_WITH_AS(lh::logprob(hidden, w, y),
                       "[alignkit.shape_error.140] token::linear_head::logprob: weight is [6, 5] with layout [V, H], hidden "
                       "is [3, 4]; the hidden sizes 5 and 4 differ",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(lh::logprob(hidden, good, y, {.weight_layout = lh::layout::hidden_by_vocab}),
                       "[alignkit.shape_error.140] token::linear_head::logprob: weight is [6, 4] with layout [H, V], hidden "
                       "is [3, 4]; the hidden sizes 6 and 4 differ",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(lh::logprob(hidden, good, out_of_range),
                       "[alignkit.domain_error.240] token::linear_head::logprob: labels[1] is 6, expected a class index in "
                       "[0, 6) or the ignore_index -100",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(lh::logprob(hidden, good, y, {.temperature = -1}),
                       "[alignkit.domain_error.202] token::linear_head::logprob: temperature is -1, expected a value in (0, inf)",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(lh::logprob(hidden, good, y, {.chunk_rows = 0}),
                       "[alignkit.domain_error.202] token::linear_head::logprob: chunk_rows is 0, expected a value in [1, inf]",
                       alignkit::domain_error);
  row_matrix<double> gw(4, 6);
  CHECK_THROWS_WITH_AS(lh::logprob(hidden, good, y, {}, lh::outputs<double>{{}, {}, {}, view_of(gw)}),
                       "[alignkit.shape_error.103] token::linear_head::logprob: grad_weight has extent 4 in dimension 0, "
                       "expected 6",
                       alignkit::shape_error);
}
