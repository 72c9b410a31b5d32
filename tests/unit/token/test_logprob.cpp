// Fused token log-probabilities and entropy: values against a direct evaluation, gradients for
// arbitrary upstream gradients by finite differences, ignore_index, temperature, extreme
// logits, storage layouts and half precision, determinism across threads, and the errors.
#include <alignkit/adapters/eigen.hpp>
#include <alignkit/token/logprob.hpp>

#include <cmath>
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

std::vector<double> random_logits(std::size_t n, std::uint32_t seed, double scale) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

std::vector<std::int64_t> random_labels(std::size_t n, index_t vocab, std::uint32_t seed, bool with_ignored) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<std::int64_t> d(0, vocab - 1);
  std::vector<std::int64_t> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = with_ignored && i % 4 == 1 ? -100 : d(g);
  return y;
}

struct direct {
  std::vector<double> logp, entropy;
};

// logp and H row by row, straight from the definitions (z = l/τ).
direct evaluate_directly(const std::vector<double>& l, const std::vector<std::int64_t>& y, index_t v, double tau) {
  const std::size_t n = y.size(), vv = static_cast<std::size_t>(v);
  direct d{std::vector<double>(n), std::vector<double>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    if (y[i] == -100) continue;
    double m = -INFINITY;
    for (std::size_t j = 0; j < vv; ++j) m = std::max(m, l[i * vv + j] / tau);
    double s = 0;
    for (std::size_t j = 0; j < vv; ++j) s += std::exp(l[i * vv + j] / tau - m);
    const double lse = m + std::log(s);
    double mean = 0;
    for (std::size_t j = 0; j < vv; ++j) mean += std::exp(l[i * vv + j] / tau - lse) * (l[i * vv + j] / tau);
    d.logp[i] = l[i * vv + static_cast<std::size_t>(y[i])] / tau - lse;
    d.entropy[i] = lse - mean;
  }
  return d;
}

matrix_view<const double> as_matrix(const std::vector<double>& x, index_t n, index_t v) { return {x.data(), {n, v}}; }

}  // namespace

TEST_CASE("values and gradients against the definitions and finite differences") {
  for (index_t v : {1, 3, 17, 64, 203}) {  // below, at and off multiples of every SIMD width
    for (double tau : {1.0, 0.7}) {
      CAPTURE(v);
      CAPTURE(tau);
      const std::size_t n = 6;
      const auto l = random_logits(n * static_cast<std::size_t>(v), static_cast<std::uint32_t>(v), 3.0);
      const auto y = random_labels(n, v, 11, true);
      const auto a = random_logits(n, 12, 1.0), b = random_logits(n, 13, 1.0);
      std::vector<double> logp(n), ent(n), grad(l.size(), 7.0);
      const auto r = tk::logprob(as_matrix(l, n, v), y, {.temperature = tau},
                                 tk::outputs<double>{view_of(logp), view_of(ent), {grad.data(), {6, v}}},
                                 tk::upstream<double>{view_of(a), view_of(b)});
      const auto want = evaluate_directly(l, y, v, tau);
      double lsum = 0, hsum = 0;
      for (std::size_t i = 0; i < n; ++i) {
        CHECK(logp[i] == doctest::Approx(want.logp[i]).epsilon(1e-13));
        CHECK(ent[i] == doctest::Approx(want.entropy[i]).epsilon(1e-12));
        lsum += want.logp[i];
        hsum += want.entropy[i];
      }
      CHECK(r.tokens == 4);
      CHECK(r.logprobs_sum == doctest::Approx(lsum).epsilon(1e-13));
      CHECK(r.entropy_sum == doctest::Approx(hsum).epsilon(1e-12));
      alignkit_test::check_gradient(
          [&](const std::vector<double>& x) {
            const auto d = evaluate_directly(x, y, v, tau);
            double s = 0;
            for (std::size_t i = 0; i < n; ++i) s += a[i] * d.logp[i] + b[i] * d.entropy[i];
            return s;
          },
          l, grad, 1e-5, 1e-7);  // central differences of a sum of |logp| ~ 50 carry ~1e-8 noise
      for (std::size_t j = 0; j < static_cast<std::size_t>(v); ++j) CHECK(grad[static_cast<std::size_t>(v) + j] == 0.0);
    }
  }
}

TEST_CASE_TEMPLATE("float and double agree; int32 and int64 labels", T, float, double) {
  const index_t n = 9, v = 1000;
  const auto ld = random_logits(static_cast<std::size_t>(n * v), 21, 4.0);
  const std::vector<T> l(ld.begin(), ld.end());
  const std::vector<double> l_rounded(l.begin(), l.end());
  const auto y64 = random_labels(static_cast<std::size_t>(n), v, 22, false);
  const std::vector<std::int32_t> y32(y64.begin(), y64.end());
  const auto want = evaluate_directly(l_rounded, y64, v, 1.0);
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
  const matrix_view<const T> lv(l.data(), {n, v});
  const auto e64 = tk::evaluate(lv, y64);
  const auto e32 = tk::evaluate(lv, y32);
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    CHECK(e64.logprobs[i] == doctest::Approx(want.logp[i]).epsilon(tol));
    CHECK(e64.entropy[i] == doctest::Approx(want.entropy[i]).epsilon(tol));
    CHECK(e32.logprobs[i] == e64.logprobs[i]);
  }
}

TEST_CASE("logits of magnitude 1e4 and constant rows stay finite and exact") {
  // Row 0: one dominant logit; row 1: two tied maxima; row 2: constant.
  const std::vector<double> l{1e4, -1e4, 0, 5e3, 1e4, 1e4, -1e4, 0, 7.25, 7.25, 7.25, 7.25};
  const std::vector<std::int64_t> y{0, 1, 2};
  for (bool as_float : {false, true}) {
    CAPTURE(as_float);
    std::vector<double> logp(3), ent(3), g(12);
    if (as_float) {
      const std::vector<float> lf(l.begin(), l.end());
      std::vector<float> lpf(3), ef(3), gf(12), ones(3, 1.0f);
      tk::logprob(matrix_view<const float>(lf.data(), {3, 4}), y, {},
                  tk::outputs<float>{view_of(lpf), view_of(ef), {gf.data(), {3, 4}}}, tk::upstream<float>{{}, view_of(ones)});
      logp.assign(lpf.begin(), lpf.end());
      ent.assign(ef.begin(), ef.end());
      g.assign(gf.begin(), gf.end());
    } else {
      const std::vector<double> ones(3, 1.0);
      tk::logprob(as_matrix(l, 3, 4), y, {}, tk::outputs<double>{view_of(logp), view_of(ent), {g.data(), {3, 4}}},
                  tk::upstream<double>{{}, view_of(ones)});
    }
    CHECK(logp[0] == 0.0);
    CHECK(ent[0] == 0.0);
    CHECK(logp[1] == doctest::Approx(-std::log(2.0)).epsilon(1e-7));
    CHECK(ent[1] == doctest::Approx(std::log(2.0)).epsilon(1e-7));
    CHECK(logp[2] == doctest::Approx(-std::log(4.0)).epsilon(1e-7));
    CHECK(ent[2] == doctest::Approx(std::log(4.0)).epsilon(1e-7));
    for (double x : g) CHECK(x == doctest::Approx(0.0).epsilon(1e-7));  // entropy is flat at these points
  }
}

TEST_CASE("column-major, strided and half-precision logits") {
  const index_t n = 5, v = 37;
  const auto ld = random_logits(static_cast<std::size_t>(n * v), 31, 2.0);
  const auto y = random_labels(static_cast<std::size_t>(n), v, 32, false);
  const auto want = tk::evaluate(as_matrix(ld, n, v), y);
  Eigen::MatrixXd col_major(n, v);  // column-major: row stride 1
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < v; ++j) col_major(i, j) = ld[static_cast<std::size_t>(i * v + j)];
  std::vector<double> g_col(static_cast<std::size_t>(n * v)), g_row(g_col.size());
  const std::vector<double> d(static_cast<std::size_t>(n), 1.0);
  const auto got = tk::evaluate(col_major, y);
  Eigen::MatrixXd g_eigen(n, v);
  tk::logprob(col_major, y, {}, tk::outputs<double>{{}, {}, view_of(g_eigen)}, tk::upstream<double>{view_of(d), view_of(d)});
  tk::logprob(as_matrix(ld, n, v), y, {}, tk::outputs<double>{{}, {}, {g_row.data(), {n, v}}},
              tk::upstream<double>{view_of(d), view_of(d)});
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    CHECK(got.logprobs[i] == doctest::Approx(want.logprobs[i]).epsilon(1e-14));
    CHECK(got.entropy[i] == doctest::Approx(want.entropy[i]).epsilon(1e-14));
  }
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < v; ++j) CHECK(g_eigen(i, j) == doctest::Approx(g_row[static_cast<std::size_t>(i * v + j)]).epsilon(1e-14));

  Eigen::Matrix<Eigen::half, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> h(n, v);
  Eigen::Matrix<Eigen::bfloat16, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> bf(n, v);
  std::vector<double> h_vals, b_vals;
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < v; ++j) {
      h(i, j) = Eigen::half(static_cast<float>(ld[static_cast<std::size_t>(i * v + j)]));
      bf(i, j) = Eigen::bfloat16(static_cast<float>(ld[static_cast<std::size_t>(i * v + j)]));
      h_vals.push_back(static_cast<double>(static_cast<float>(h(i, j))));
      b_vals.push_back(static_cast<double>(static_cast<float>(bf(i, j))));
    }
  const auto eh = tk::evaluate(h, y);
  const auto eb = tk::evaluate(bf, y);
  static_assert(std::is_same_v<decltype(eh.logprobs)::value_type, float>);
  const auto wh = evaluate_directly(h_vals, y, v, 1.0), wb = evaluate_directly(b_vals, y, v, 1.0);
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    CHECK(eh.logprobs[i] == doctest::Approx(wh.logp[i]).epsilon(2e-6));
    CHECK(eb.entropy[i] == doctest::Approx(wb.entropy[i]).epsilon(2e-6));
  }
  // Gradients from half logits: bitwise those from the same values stored as float.
  const std::vector<float> h_as_float(h_vals.begin(), h_vals.end()), df(static_cast<std::size_t>(n), 0.5f);
  std::vector<float> g_half(h_as_float.size()), g_float(h_as_float.size());
  tk::logprob(h, y, {}, tk::outputs<float>{{}, {}, {g_half.data(), {n, v}}}, tk::upstream<float>{view_of(df), view_of(df)});
  tk::logprob(matrix_view<const float>(h_as_float.data(), {n, v}), y, {}, tk::outputs<float>{{}, {}, {g_float.data(), {n, v}}},
              tk::upstream<float>{view_of(df), view_of(df)});
  CHECK(g_half == g_float);
}

TEST_CASE("exec::par on 2 threads is bitwise equal to exec::seq") {
  const index_t n = 301, v = 1001;
  const auto ld = random_logits(static_cast<std::size_t>(n * v), 41, 3.0);
  const std::vector<float> l(ld.begin(), ld.end());
  const auto y = random_labels(static_cast<std::size_t>(n), v, 42, true);
  const auto ad = random_logits(static_cast<std::size_t>(n), 43, 1.0);
  const std::vector<float> a(ad.begin(), ad.end());
  std::vector<float> lp1(static_cast<std::size_t>(n)), lp2(lp1.size()), g1(l.size()), g2(l.size());
  const matrix_view<const float> lv(l.data(), {n, v});
  const auto s = tk::logprob(alignkit::exec::seq, lv, y, {}, tk::outputs<float>{view_of(lp1), {}, {g1.data(), {n, v}}},
                             tk::upstream<float>{view_of(a), view_of(a)});
  const auto p = tk::logprob(alignkit::exec::par.with(2), lv, y, {}, tk::outputs<float>{view_of(lp2), {}, {g2.data(), {n, v}}},
                             tk::upstream<float>{view_of(a), view_of(a)});
  CHECK(s.logprobs_sum == p.logprobs_sum);
  CHECK(s.entropy_sum == p.entropy_sum);
  CHECK(s.tokens == p.tokens);
  CHECK(lp1 == lp2);
  CHECK(g1 == g2);
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<double> l(12, 0.5);
  const auto lv = as_matrix(l, 3, 4);
  const std::vector<std::int64_t> y{0, 3, -100}, y2{0, 1}, bad{0, 4, 1}, negative{0, -1, 1};
  CHECK_THROWS_WITH_AS(tk::logprob(lv, y2), "[alignkit.shape_error.101] token::logprob: labels has 2 elements, logits rows has 3",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(tk::logprob(lv, bad),
                       "[alignkit.domain_error.240] token::logprob: labels[1] is 4, expected a class index in [0, 4) or the "
                       "ignore_index -100",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(tk::logprob(lv, negative),
                       "[alignkit.domain_error.240] token::logprob: labels[1] is -1, expected a class index in [0, 4) or the "
                       "ignore_index -100",
                       alignkit::domain_error);
  CHECK_NOTHROW(tk::logprob(lv, negative, {.ignore_index = -1}));
  CHECK_THROWS_WITH_AS(tk::logprob(lv, y, {.temperature = 0}),
                       "[alignkit.domain_error.202] token::logprob: temperature is 0, expected a value in (0, inf)",
                       alignkit::domain_error);
  std::vector<double> g(8), d(2);
  CHECK_THROWS_WITH_AS(tk::logprob(lv, y, {}, tk::outputs<double>{{}, {}, {g.data(), {2, 4}}}),
                       "[alignkit.shape_error.103] token::logprob: grad_logits has extent 2 in dimension 0, expected 3",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(tk::logprob(lv, y, {}, {}, tk::upstream<double>{view_of(d)}),
                       "[alignkit.shape_error.101] token::logprob: d_logprobs has 2 elements, logits rows has 3",
                       alignkit::shape_error);
  // The gradient written over the logits themselves, or over a shifted window of them.
  std::vector<double> shared(16, 0.5);
  const std::vector<double> ones(3, 1.0);
  const alignkit::matrix_view<const double> in(shared.data(), {3, 4});
  for (std::size_t shift : {0, 4}) {
    CAPTURE(shift);
    const tk::outputs<double> over{{}, {}, {shared.data() + shift, {3, 4}}};
    CHECK_THROWS_WITH_AS(tk::logprob(in, y, {}, over, tk::upstream<double>{view_of(ones)}),
                         "[alignkit.shape_error.142] token::logprob: grad_logits overlaps logits in memory",
                         alignkit::shape_error);
  }
  // Adjacent but disjoint: the gradient right after the logits.
  std::vector<double> side(24, 0.5);
  const tk::outputs<double> after{{}, {}, {side.data() + 12, {3, 4}}};
  CHECK_NOTHROW(tk::logprob(alignkit::matrix_view<const double>(side.data(), {3, 4}), y, {}, after,
                            tk::upstream<double>{view_of(ones)}));
}

TEST_CASE("a backward from saved row statistics matches the fused call and reads each row once") {
  const index_t n = 7, v = 301;
  const auto ld = random_logits(static_cast<std::size_t>(n * v), 51, 3.0);
  const std::vector<float> l(ld.begin(), ld.end());
  const auto y = random_labels(static_cast<std::size_t>(n), v, 52, true);
  const auto ad = random_logits(static_cast<std::size_t>(n), 53, 1.0);
  const std::vector<float> a(ad.begin(), ad.end()), b(static_cast<std::size_t>(n), 0.25f);
  const matrix_view<const float> lv(l.data(), {n, v});
  const tk::options opts{.temperature = 1.3};
  // Forward only, saving the statistics; later, the backward with upstream gradients.
  std::vector<tk::softmax_stats> stats(static_cast<std::size_t>(n));
  std::vector<float> lp_forward(static_cast<std::size_t>(n)), g_saved(l.size()), g_fused(l.size());
  const auto fwd = tk::logprob(lv, y, opts, tk::outputs<float>{view_of(lp_forward), {}, {}, stats});
  const auto bwd = tk::logprob(alignkit::exec::par.with(2), lv, y, opts, tk::outputs<float>{{}, {}, {g_saved.data(), {n, v}}},
                               tk::upstream<float>{view_of(a), view_of(b)}, stats);
  const auto fused = tk::logprob(lv, y, opts, tk::outputs<float>{{}, {}, {g_fused.data(), {n, v}}},
                                 tk::upstream<float>{view_of(a), view_of(b)});
  // The fused call takes its statistics from a max pass and an exp pass, the forward-only call
  // from the online pass: equal up to float rounding.
  double g_max = 0;
  for (float x : g_fused) g_max = std::max(g_max, std::abs(double(x)));
  for (std::size_t j = 0; j < l.size(); ++j) CHECK(g_saved[j] == doctest::Approx(g_fused[j]).epsilon(1e-6).scale(g_max));
  CHECK(bwd.logprobs_sum == fwd.logprobs_sum);
  CHECK(fused.logprobs_sum == doctest::Approx(fwd.logprobs_sum).epsilon(1e-6));
  CHECK(fused.entropy_sum == doctest::Approx(fwd.entropy_sum).epsilon(1e-6));
  std::vector<tk::softmax_stats> short_stats(3);
  CHECK_THROWS_WITH_AS(tk::logprob(lv, y, opts, {}, {}, short_stats),
                       "[alignkit.shape_error.101] token::logprob: saved has 3 elements, logits rows has 7", alignkit::shape_error);
  CHECK_THROWS_WITH_AS(tk::logprob(lv, y, opts, tk::outputs<float>{{}, {}, {}, short_stats}),
                       "[alignkit.shape_error.101] token::logprob: stats has 3 elements, logits rows has 7", alignkit::shape_error);
}
