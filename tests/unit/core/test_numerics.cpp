// Stable softplus, log-sigmoid, sigmoid (scalar and SIMD forms agree), logsumexp, and the
// compensated map_reduce driver.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

using alignkit::index_t;

TEST_CASE_TEMPLATE("softplus, log_sigmoid, sigmoid are finite and accurate at extremes", T, float, double) {
  for (T x : {T(-1e4), T(-500), T(-30), T(-1), T(0), T(1e-8), T(2), T(40), T(500), T(1e4)}) {
    const double xd = static_cast<double>(x);
    const double sp = xd > 0 ? xd + std::log1p(std::exp(-xd)) : std::log1p(std::exp(xd));
    const T got = alignkit::softplus(x);
    CHECK(std::isfinite(got));
    CHECK(std::abs(static_cast<double>(got) - sp) <= 4 * std::numeric_limits<T>::epsilon() * std::max(1.0, sp));
    CHECK(static_cast<double>(alignkit::log_sigmoid(x)) == doctest::Approx(-(sp - xd)).epsilon(1e-6));
    const T s = alignkit::sigmoid(x);
    CHECK(s >= T(0));
    CHECK(s <= T(1));
  }
  CHECK(alignkit::softplus(T(-500)) >= T(0));
  CHECK(alignkit::sigmoid(T(0)) == T(0.5));
}

TEST_CASE_TEMPLATE("batch and scalar forms agree lane by lane", T, float, double) {
  using B = xsimd::batch<T>;
  alignas(64) T in[B::size], sp[B::size], sg[B::size];
  for (std::size_t l = 0; l < B::size; ++l) in[l] = static_cast<T>(-40.0 + 13.7 * static_cast<double>(l));
  const B x = B::load_aligned(in);
  alignkit::softplus(x).store_aligned(sp);
  alignkit::sigmoid(x).store_aligned(sg);
  const auto both = alignkit::softplus_and_sigmoid(x);
  alignas(64) T sp2[B::size], sg2[B::size];
  both.softplus.store_aligned(sp2);
  both.sigmoid.store_aligned(sg2);
  for (std::size_t l = 0; l < B::size; ++l) {
    CHECK(sp[l] == doctest::Approx(alignkit::softplus(in[l])).epsilon(1e-6));
    CHECK(sg[l] == doctest::Approx(alignkit::sigmoid(in[l])).epsilon(1e-6));
    CHECK(sp2[l] == sp[l]);
    CHECK(sg2[l] == sg[l]);
  }
}

TEST_CASE("logsumexp is stable for huge and constant rows") {
  std::vector<double> big{1e4, 1e4 - 1, -1e4};
  CHECK(alignkit::logsumexp(3, [&](index_t j) { return big[static_cast<std::size_t>(j)]; }) ==
        doctest::Approx(1e4 + std::log1p(std::exp(-1.0))));
  CHECK(alignkit::logsumexp(4, [](index_t) { return 2.0; }) == doctest::Approx(2.0 + std::log(4.0)));
  CHECK(std::isinf(alignkit::logsumexp(0, [](index_t) { return 0.0; })));
}

TEST_CASE("map_reduce sums 4M float ones exactly and matches across policies") {
  const index_t n = 4 * 1024 * 1024 + 3;
  std::vector<float> x(static_cast<std::size_t>(n), 0.1f);
  const auto rd = alignkit::detail::make_reader<float>(alignkit::view_of(x));
  auto body = [&](index_t i, auto tag) {
    using V = typename decltype(tag)::type;
    return std::array<V, 1>{rd.template load<V>(i)};
  };
  const auto s = alignkit::detail::map_reduce<float, 1>(alignkit::exec::seq, n, body);
  // Exact sum of n copies of float(0.1): compensation keeps it to double rounding.
  CHECK(std::abs(s[0] - static_cast<double>(0.1f) * static_cast<double>(n)) < 1e-6);
  CHECK(alignkit::detail::map_reduce<float, 1>(alignkit::exec::par.with(2), n, body)[0] == s[0]);
}
