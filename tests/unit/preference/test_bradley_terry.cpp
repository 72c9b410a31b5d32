// Bradley–Terry loss: values, gradients by finite differences, every tensor type, half
// precision, micro-batch denominators, determinism across threads, and the documented errors.
#include <alignkit/adapters/eigen.hpp>
#include <alignkit/adapters/xtensor.hpp>
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>
#include <xtensor/xtensor.hpp>

#include "finite_difference.hpp"
#include "test_types.hpp"

namespace bt = alignkit::bradley_terry;
using alignkit::index_t;
using alignkit::view_of;

namespace {

double reference_loss(const std::vector<double>& c, const std::vector<double>& r, const std::vector<double>& m,
                      double center) {
  double s = 0, sq = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double z = c[i] - r[i] - (m.empty() ? 0.0 : m[i]);
    s += z > 0 ? std::log1p(std::exp(-z)) : -z + std::log1p(std::exp(z));
    sq += (c[i] + r[i]) * (c[i] + r[i]);
  }
  return (s + center * sq) / static_cast<double>(c.size());
}

std::vector<double> random_vector(std::size_t n, std::uint32_t seed, double scale = 2.0) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

}  // namespace

TEST_CASE("loss, accuracy, margin and gradients against the formula and finite differences") {
  const std::size_t n = 37;  // not a multiple of any SIMD width: exercises the scalar tail
  const auto c = random_vector(n, 1), r = random_vector(n, 2), m = random_vector(n, 3, 0.5);
  for (double center : {0.0, 0.01}) {
    for (bool with_margin : {false, true}) {
      CAPTURE(center);
      CAPTURE(with_margin);
      std::vector<double> losses(n), gc(n), gr(n);
      const bt::options opts{.center_rewards_coefficient = center};
      const bt::outputs<double> out{view_of(losses), view_of(gc), view_of(gr)};
      const auto res = with_margin ? bt::loss(c, r, m, opts, out) : bt::loss(c, r, opts, out);
      const std::vector<double> no_margin;
      const auto& mm = with_margin ? m : no_margin;
      CHECK(res.loss == doctest::Approx(reference_loss(c, r, mm, center)).epsilon(1e-13));
      double acc = 0, margin = 0;
      for (std::size_t i = 0; i < n; ++i) {
        acc += c[i] > r[i];
        margin += c[i] - r[i];
      }
      CHECK(res.accuracy == doctest::Approx(acc / n).epsilon(1e-15));
      CHECK(res.margin == doctest::Approx(margin / n).epsilon(1e-13));
      CHECK(res.pairs == static_cast<index_t>(n));
      alignkit_test::check_gradient([&](const std::vector<double>& x) { return reference_loss(x, r, mm, center); }, c, gc);
      alignkit_test::check_gradient([&](const std::vector<double>& x) { return reference_loss(c, x, mm, center); }, r, gr);
    }
  }
}

TEST_CASE("extreme reward differences stay finite") {
  const std::vector<double> c{-1e4, 1e4, -500, 500, 0};
  const std::vector<double> r{1e4, -1e4, 0, 0, 0};
  const auto e = bt::evaluate(c, r);
  CHECK(e.losses[0] == 2e4);
  CHECK(e.losses[1] == 0.0);
  CHECK(e.losses[2] == 500.0);
  CHECK(e.losses[3] == doctest::Approx(7.1245764067412855e-218));
  CHECK(e.losses[4] == doctest::Approx(std::log(2.0)));
  for (double g : e.grad_chosen) CHECK(std::isfinite(g));
  CHECK(e.grad_chosen[0] == doctest::Approx(-0.2));
  const std::vector<float> cf{-1e4f, 1e4f}, rf{1e4f, -1e4f};
  const auto ef = bt::evaluate(cf, rf);
  CHECK(ef.losses[0] == 2e4f);
  CHECK(ef.metrics.loss == doctest::Approx(1e4));
}

TEST_CASE_TEMPLATE("the same result on every tensor type", T, float, double) {
  const std::vector<double> cd{0.5, -1.0, 2.0, 0.25, 3.0}, rd{0.0, 1.0, -1.0, 0.25, 2.5};
  const auto want = bt::loss(cd, rd);
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-15;
  std::vector<T> c(cd.begin(), cd.end()), r(rd.begin(), rd.end());
  auto same = [&](const bt::result& got) {
    CHECK(got.loss == doctest::Approx(want.loss).epsilon(tol));
    CHECK(got.accuracy == want.accuracy);
  };
  same(bt::loss(c, r));
  same(bt::loss(std::span<const T>(c), std::span<const T>(r)));
  Eigen::Array<T, Eigen::Dynamic, 1> ec = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(c.data(), 5);
  Eigen::Matrix<T, Eigen::Dynamic, 1> er = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(r.data(), 5);
  same(bt::loss(ec, er));
  std::vector<T> interleaved;
  for (std::size_t i = 0; i < 5; ++i) interleaved.insert(interleaved.end(), {c[i], r[i]});
  Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>, 0, Eigen::InnerStride<2>> mc(interleaved.data(), 5),
      mr(interleaved.data() + 1, 5);
  same(bt::loss(mc, mr));
  xt::xtensor<T, 1> xc = xt::xtensor<T, 1>::from_shape({5}), xr = xt::xtensor<T, 1>::from_shape({5});
  std::copy(c.begin(), c.end(), xc.begin());
  std::copy(r.begin(), r.end(), xr.begin());
  same(bt::loss(xc, xr));
  same(bt::loss(alignkit::vector_view<const T>(interleaved.data(), {5}, {2}),
                alignkit::vector_view<const T>(interleaved.data() + 1, {5}, {2})));
  // Outputs into strided views (every other element of a buffer).
  std::vector<T> grads(10, T(-7));
  bt::loss(c, r, {}, bt::outputs<T>{{}, alignkit::vector_view<T>(grads.data(), {5}, {2}), {}});
  const auto full = bt::evaluate(cd, rd);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(grads[2 * i] == doctest::Approx(full.grad_chosen[i]).epsilon(tol));
    CHECK(grads[2 * i + 1] == T(-7));
  }
}

TEST_CASE("foreign tensor types via traits and ADL") {
  const test_types::traits_tensor c{{2.0, 0.5, 1.0}};
  const test_types::adl_tensor r{{1.0, 0, 1.5, 0, -1.0, 0}};
  const auto got = bt::loss(c, r);
  CHECK(got.loss == doctest::Approx(bt::loss(std::vector<double>{2.0, 0.5, 1.0}, std::vector<double>{1.0, 1.5, -1.0}).loss));
}

TEST_CASE("half and bfloat16 inputs are read as float with double accumulation") {
  const std::vector<float> cf{0.5f, -1.0f, 2.0f, 0.25f}, rf{0.0f, 1.0f, -1.0f, 0.75f};
  Eigen::Matrix<Eigen::half, Eigen::Dynamic, 1> ch(4), rh(4);
  Eigen::Matrix<Eigen::bfloat16, Eigen::Dynamic, 1> cb(4), rb(4);
  for (int i = 0; i < 4; ++i) {
    ch(i) = Eigen::half(cf[static_cast<std::size_t>(i)]);
    rh(i) = Eigen::half(rf[static_cast<std::size_t>(i)]);
    cb(i) = Eigen::bfloat16(cf[static_cast<std::size_t>(i)]);
    rb(i) = Eigen::bfloat16(rf[static_cast<std::size_t>(i)]);
  }
  const auto want = bt::loss(cf, rf);  // the values are exact in half and bfloat16
  std::vector<float> losses(4);
  const auto got = bt::loss(ch, rh, {}, bt::outputs<float>{view_of(losses)});
  CHECK(got.loss == doctest::Approx(want.loss).epsilon(1e-7));
  CHECK(bt::loss(cb, rb).loss == doctest::Approx(want.loss).epsilon(1e-7));
  CHECK(losses[2] == doctest::Approx(std::log1p(std::exp(-3.0))).epsilon(1e-6));
}

TEST_CASE("micro-batches with the global pair count add up to the full batch") {
  const std::size_t n = 1000;
  const auto c = random_vector(n, 4), r = random_vector(n, 5);
  std::vector<double> g_full(n), g_parts(n);
  const auto full = bt::loss(c, r, {}, bt::outputs<double>{{}, view_of(g_full)});
  double parts = 0;
  for (std::size_t b = 0; b < n; b += 300) {
    const std::size_t len = std::min<std::size_t>(300, n - b);
    const bt::options opts{.total_pairs = static_cast<double>(n)};
    parts += bt::loss(std::span(c).subspan(b, len), std::span(r).subspan(b, len), opts,
                      bt::outputs<double>{{}, alignkit::vector_view<double>(g_parts.data() + b, static_cast<index_t>(len))})
                 .loss;
  }
  CHECK(parts == doctest::Approx(full.loss).epsilon(1e-14));
  for (std::size_t i = 0; i < n; ++i) CHECK(g_parts[i] == g_full[i]);
}

TEST_CASE("exec::par on 2 threads is bitwise equal to exec::seq") {
  const std::size_t n = 300'007;
  const auto cd = random_vector(n, 6), rd = random_vector(n, 7);
  const std::vector<float> c(cd.begin(), cd.end()), r(rd.begin(), rd.end());
  std::vector<float> l1(n), l2(n), g1(n), g2(n);
  const auto s = bt::loss(alignkit::exec::seq, c, r, {}, bt::outputs<float>{view_of(l1), view_of(g1)});
  const auto p = bt::loss(alignkit::exec::par.with(2), c, r, {}, bt::outputs<float>{view_of(l2), view_of(g2)});
  CHECK(s.loss == p.loss);
  CHECK(s.accuracy == p.accuracy);
  CHECK(s.margin == p.margin);
  CHECK(l1 == l2);
  CHECK(g1 == g2);
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<double> c(8, 1.0), r7(7, 0.0), r8(8, 0.0), empty;
  CHECK_THROWS_WITH_AS(bt::loss(c, r7), "[alignkit.shape_error.101] bradley_terry::loss: r_rejected has 7 elements, r_chosen has 8",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(bt::loss(empty, empty),
                       "[alignkit.shape_error.102] bradley_terry::loss: r_chosen is empty; at least one element is required",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(bt::loss(c, r8, r7), "[alignkit.shape_error.101] bradley_terry::loss: margin has 7 elements, r_chosen has 8",
                       alignkit::shape_error);
  std::vector<double> bad = r8;
  bad[3] = std::nan("");
  CHECK_NOTHROW(bt::loss(c, bad));
  CHECK_THROWS_WITH_AS(bt::loss(c, bad, {.check_finite = true}),
                       "[alignkit.domain_error.201] bradley_terry::loss: r_rejected[3] is nan, expected a finite value",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(bt::loss(c, r8, {.center_rewards_coefficient = -1}),
                       "[alignkit.domain_error.202] bradley_terry::loss: center_rewards_coefficient is -1, expected a value in "
                       "[0, inf]",
                       alignkit::domain_error);
  std::vector<double> short_out(3);
  CHECK_THROWS_WITH_AS(bt::loss(c, r8, {}, bt::outputs<double>{view_of(short_out)}),
                       "[alignkit.shape_error.101] bradley_terry::loss: losses has 3 elements, r_chosen has 8",
                       alignkit::shape_error);
}
