// Stable softplus, log-sigmoid, sigmoid (scalar and SIMD forms agree), logsumexp, and the
// blockwise-summing map_reduce driver and its reader of 1-byte masks.
#include <alignkit/alignkit.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
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

TEST_CASE_TEMPLATE("log1p_unit_ is within 2 ulp of log1p on [0, 1], scalar and batch", T, float, double) {
  using B = xsimd::batch<T>;
  const double bound = 2 * static_cast<double>(std::numeric_limits<T>::epsilon());
  std::vector<T> es{T(0), T(1), T(1e-30), T(1e-8), T(0.5)};
  for (int i = 1; i < 4096; ++i) es.push_back(static_cast<T>(i / 4096.0 + 1e-5 * i));
  for (const T e : es) {
    if (e > T(1)) continue;
    const long double ref = std::log1p(static_cast<long double>(e));
    const double scale = std::max(static_cast<double>(ref), std::numeric_limits<double>::min());
    const T scalar = alignkit::detail::log1p_unit_(e);
    const T lane = alignkit::detail::log1p_unit_(B(e)).get(0);
    CHECK(std::abs(static_cast<double>(static_cast<long double>(scalar) - ref)) <= bound * scale);
    CHECK(std::abs(static_cast<double>(static_cast<long double>(lane) - ref)) <= bound * scale);
  }
}

TEST_CASE("logsumexp is stable for huge and constant rows") {
  std::vector<double> big{1e4, 1e4 - 1, -1e4};
  CHECK(alignkit::logsumexp(3, [&](index_t j) { return big[static_cast<std::size_t>(j)]; }) ==
        doctest::Approx(1e4 + std::log1p(std::exp(-1.0))));
  CHECK(alignkit::logsumexp(4, [](index_t) { return 2.0; }) == doctest::Approx(2.0 + std::log(4.0)));
  CHECK(std::isinf(alignkit::logsumexp(0, [](index_t) { return 0.0; })));
}

namespace {

/// The documented bound of map_reduce's blockwise sums, as a fraction of Σ|x|.
template <class T>
double sum_error_bound(index_t n) {
  const double u_t = std::numeric_limits<T>::epsilon() / 2, u_d = std::numeric_limits<double>::epsilon() / 2;
  const auto w = static_cast<double>(alignkit::detail::batch_t<T>::size);
  return static_cast<double>(alignkit::detail::sum_block - 1) * u_t +
         (static_cast<double>(n) / static_cast<double>(alignkit::detail::sum_block) + 2 * w) * u_d;
}

template <class T>
auto sum_of(const std::vector<T>& x, const auto& policy) {
  const std::tuple io{alignkit::detail::make_reader<T>(alignkit::view_of(x))};
  return alignkit::detail::map_reduce<T, 1>(policy, static_cast<index_t>(x.size()), io, [&](index_t i, auto tag,
                                                                                            const auto& rd) {
    using V = typename decltype(tag)::type;
    return std::array<V, 1>{rd.template load<V>(i)};
  })[0];
}

}  // namespace

TEST_CASE("map_reduce sums 4M copies of float(0.1) within its bound and matches across policies") {
  const index_t n = 4 * 1024 * 1024 + 3;
  const std::vector<float> x(static_cast<std::size_t>(n), 0.1f);
  const double s = sum_of(x, alignkit::exec::seq);
  const double exact = static_cast<double>(0.1f) * static_cast<double>(n);
  CHECK(std::abs(s - exact) <= sum_error_bound<float>(n) * exact);
  CHECK(std::abs(s - exact) <= 1e-6 * exact);  // a float running sum would stall near 2^21
  CHECK(sum_of(x, alignkit::exec::par.with(2)) == s);
}

TEST_CASE_TEMPLATE("map_reduce sums 2^24 mixed-sign values within its bound against a double reference", T, float,
                   double) {
  const index_t n = index_t{1} << 24;
  std::vector<T> x(static_cast<std::size_t>(n));
  std::uint64_t state = 12345;
  for (auto& v : x) {  // splitmix-like LCG: uniform in [-1, 3)
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<T>(-1.0 + 4.0 * static_cast<double>(state >> 11) * 0x1.0p-53);
  }
  double exact = 0, abs_sum = 0;  // reference: double running sum (error ≤ n·2^-53·Σ|x| ≈ 2e-9 Σ|x|)
  for (T v : x) {
    exact += static_cast<double>(v);
    abs_sum += std::abs(static_cast<double>(v));
  }
  const double s = sum_of(x, alignkit::exec::seq);
  const double reference_error = static_cast<double>(n) * std::numeric_limits<double>::epsilon() * abs_sum;
  CHECK(std::abs(s - exact) <= sum_error_bound<T>(n) * abs_sum + reference_error);
  CHECK(sum_of(x, alignkit::exec::par.with(2)) == s);
}

TEST_CASE_TEMPLATE("reader widens contiguous and strided 1-byte masks like the scalar path", T, float, double) {
  using B = alignkit::detail::batch_t<T>;
  constexpr auto w = static_cast<index_t>(B::size);
  std::vector<std::uint8_t> u(static_cast<std::size_t>(4 * w));
  std::vector<signed char> s(u.size());
  for (std::size_t k = 0; k < u.size(); ++k) {
    u[k] = static_cast<std::uint8_t>((k * 37) % 256);
    s[k] = static_cast<signed char>(static_cast<int>(k * 37 % 256) - 128);
  }
  bool flags[64];
  for (std::size_t k = 0; k < 64; ++k) flags[k] = k % 3 == 0;
  auto check_view = [&](const auto& view, index_t n) {
    const auto rd = alignkit::detail::make_reader<T>(view);
    for (index_t i = 0; i + w <= n; i += w) {
      alignas(64) T lanes[B::size];
      rd.template load<B>(i).store_aligned(lanes);
      for (index_t k = 0; k < w; ++k) CHECK(lanes[k] == rd.template load<T>(i + k));
    }
  };
  const auto n = static_cast<index_t>(u.size());
  check_view(alignkit::vector_view<const std::uint8_t>(u.data(), n), n);
  check_view(alignkit::vector_view<const signed char>(s.data(), n), n);
  check_view(alignkit::vector_view<const bool>(flags, 64), 64);
  check_view(alignkit::vector_view<const std::uint8_t>(u.data(), {n / 2}, {2}), n / 2);  // strided
}

TEST_CASE_TEMPLATE("map_reduce's unit-stride batch loop sums and stores what the stride-checked loop does", T, float,
                   double) {
  using alignkit::detail::make_reader;
  using alignkit::detail::make_writer;
  constexpr auto w = static_cast<index_t>(alignkit::detail::batch_t<T>::size);
  const index_t n = 3 * w + 5;  // n / w full batches (one more when w ≤ 5) and a tail
  std::vector<T> x(static_cast<std::size_t>(n)), spread(2 * x.size());
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = spread[2 * k] = static_cast<T>(std::sin(0.7 * static_cast<double>(k)));
  std::vector<T> y_unit(x.size()), y_strided(x.size());
  index_t unit_calls = 0;
  auto run = [&](const alignkit::vector_view<const T>& in, std::vector<T>& out) {
    const std::tuple io{make_reader<T>(in), make_writer<T>(alignkit::view_of(out))};
    CHECK(std::get<0>(io).contiguous() == (in.stride(0) == 1));
    CHECK(std::get<1>(io).contiguous());
    return alignkit::detail::map_reduce<T, 1>(alignkit::exec::seq, n, io, [&](index_t i, auto tag, const auto& rd,
                                                                              const auto& wr) {
      using V = typename decltype(tag)::type;
      // the unit-stride forms on full batches of the contiguous run only
      constexpr bool unit_form = std::is_same_v<std::remove_cvref_t<decltype(rd)>, decltype(std::get<0>(io).unit())>;
      if constexpr (!std::is_arithmetic_v<V>) unit_calls += unit_form ? 1 : 0;
      const V v = alignkit::softplus(rd.template load<V>(i));
      wr.store(i, v);
      return std::array<V, 1>{v};
    })[0];
  };
  const double unit = run(alignkit::view_of(std::as_const(x)), y_unit);
  CHECK(unit_calls == n / w);  // every full batch
  unit_calls = 0;
  const double strided = run(alignkit::vector_view<const T>(spread.data(), {n}, {2}), y_strided);
  CHECK(unit_calls == 0);
  CHECK(unit == strided);
  CHECK(y_unit == y_strided);
}

TEST_CASE_TEMPLATE("fma_ rounds a batch lane as it rounds the same scalar", T, float, double) {
  using B = alignkit::detail::batch_t<T>;
  // a² = 1 + 2^-(d−1) + 2^-(2d) needs more bits than T has: fused and unfused a·a − (1 + 2^-(d−1)) differ
  constexpr int d = (std::numeric_limits<T>::digits + 1) / 2;
  const T a = T(1) + std::ldexp(T(1), -d), c = -(T(1) + std::ldexp(T(1), 1 - d));
  alignas(64) T lanes[B::size];
  alignkit::detail::fma_(B(a), B(a), B(c)).store_aligned(lanes);
  const T scalar = alignkit::detail::fma_(a, a, c);
  for (std::size_t k = 0; k < B::size; ++k) CHECK(lanes[k] == scalar);
  // once rounded where the target has FMA instructions, twice otherwise
#if defined(__FMA__)
  CHECK(scalar == std::ldexp(T(1), -2 * d));
#else
  CHECK(scalar == (a * a) + c);
#endif
}

TEST_CASE("exp_ of float is within 1.01 ulp of exp in double and matches a batch lane bit for bit") {
  using B = alignkit::detail::batch_t<float>;
  double worst = 0;
  float worst_x = 0;
  const int n = 200000;
  for (int i = 0; i <= n; ++i) {
    const auto x = static_cast<float>(-87.33 + 175.7 * i / n);
    const float e = alignkit::detail::exp_(x);
    const double ref = std::exp(static_cast<double>(x));
    const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(ref)) - 23);
    if (std::abs(e - ref) / ulp > worst) {
      worst = std::abs(e - ref) / ulp;
      worst_x = x;
    }
  }
  // each lane of a batch of distinct arguments as its scalar
  for (int i = 0; i + static_cast<int>(B::size) <= 4096; i += static_cast<int>(B::size)) {
    alignas(64) float xs[B::size], lanes[B::size];
    for (std::size_t l = 0; l < B::size; ++l) xs[l] = static_cast<float>(-80.0 + 0.04 * (i + static_cast<int>(l)));
    alignkit::detail::exp_(B::load_aligned(xs)).store_aligned(lanes);
    for (std::size_t l = 0; l < B::size; ++l)
      if (lanes[l] != alignkit::detail::exp_(xs[l])) FAIL_CHECK("lane " << l << " and scalar differ at x = " << xs[l]);
  }
  CAPTURE(worst_x);
  CHECK(worst <= 1.01);
  CHECK(alignkit::detail::exp_(0.0f) == 1.0f);
  CHECK(alignkit::detail::exp_(-87.4f) == 0.0f);  // no subnormal results
  CHECK(alignkit::detail::exp_(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(std::isinf(alignkit::detail::exp_(88.4f)));
  CHECK(std::isinf(alignkit::detail::exp_(std::numeric_limits<float>::infinity())));
  CHECK(std::isnan(alignkit::detail::exp_(std::numeric_limits<float>::quiet_NaN())));
}
