// Masked whitening: both conventions against their formulas, mean-only and zero_masked modes,
// matrix and vector layouts, shards through a reducer, determinism across threads, errors.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "shard_group.hpp"

namespace wh = alignkit::whitening;
using alignkit::as_matrix;
using alignkit::index_t;

namespace {

struct batch {
  index_t rows, cols;
  std::vector<double> x;
  std::vector<int> mask;
};

batch random_batch(index_t rows, index_t cols, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(3.0, 2.0);
  std::bernoulli_distribution keep(0.7);
  batch b{rows, cols, std::vector<double>(static_cast<std::size_t>(rows * cols)),
          std::vector<int>(static_cast<std::size_t>(rows * cols))};
  for (std::size_t i = 0; i < b.x.size(); ++i) {
    b.x[i] = d(g);
    b.mask[i] = keep(g);
  }
  return b;
}

// The formulas of the header, written the direct way.
std::vector<double> reference(const batch& b, wh::convention style, bool divide) {
  double s = 0, sum = 0;
  for (std::size_t i = 0; i < b.x.size(); ++i) {
    s += b.mask[i];
    sum += b.x[i] * b.mask[i];
  }
  const bool verl = style == wh::convention::verl;
  const double mean = verl ? sum / (s + 1e-8) : sum / s;
  double css = 0;
  for (std::size_t i = 0; i < b.x.size(); ++i) css += (b.x[i] - mean) * (b.x[i] - mean) * b.mask[i];
  const double var = verl ? css / (s + 1e-8) * s / (s - 1) : css / s;
  const double scale = !divide ? 1.0 : verl ? 1 / std::sqrt(var + 1e-8) : 1 / std::sqrt(std::max(var, 1e-8));
  std::vector<double> out(b.x.size());
  for (std::size_t i = 0; i < b.x.size(); ++i) out[i] = (b.x[i] - mean) * scale;
  return out;
}

}  // namespace

TEST_CASE("both conventions match their formulas at every position") {
  const auto b = random_batch(7, 13, 1);
  for (auto style : {wh::convention::verl, wh::convention::openrlhf}) {
    for (bool divide : {true, false}) {
      CAPTURE(divide);
      std::vector<double> out(b.x.size());
      const auto mom = wh::whiten(as_matrix(b.x, 7, 13), as_matrix(b.mask, 7, 13), as_matrix(out, 7, 13),
                                  {.style = style, .divide_by_std = divide});
      const auto want = reference(b, style, divide);
      for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == doctest::Approx(want[i]).epsilon(1e-13));
      double s = 0;
      for (int m : b.mask) s += m;
      CHECK(mom.valid_tokens == s);
      // The same batch as one packed vector gives the same values.
      std::vector<double> flat(b.x.size());
      wh::whiten(b.x, b.mask, flat, {.style = style, .divide_by_std = divide});
      for (std::size_t i = 0; i < out.size(); ++i) CHECK(flat[i] == doctest::Approx(out[i]).epsilon(1e-13));
    }
  }
}

TEST_CASE_TEMPLATE("in place, zero_masked, and float input", T, float, double) {
  const auto b = random_batch(5, 9, 2);
  std::vector<T> x(b.x.begin(), b.x.end());
  wh::whiten(x, b.mask, x, {.zero_masked = true});
  const auto want = reference(b, wh::convention::verl, true);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (b.mask[i])
      CHECK(x[i] == doctest::Approx(want[i]).epsilon(std::is_same_v<T, float> ? 1e-5 : 1e-13));
    else
      CHECK(x[i] == T(0));
  }
}

TEST_CASE("equal values: zero variance gives a finite shift, scaled by 1/sqrt(1e-8)") {
  const std::vector<double> x(6, 2.5);
  const std::vector<int> mask{1, 1, 1, 0, 1, 1};
  std::vector<double> out(6);
  const auto mom = wh::whiten(x, mask, out);
  CHECK(mom.variance == doctest::Approx(0.0));
  const double mean = 5 * 2.5 / (5 + 1e-8);
  for (double o : out) CHECK(o == doctest::Approx((2.5 - mean) * 1e4).epsilon(1e-6));
  wh::whiten(x, mask, out, {.style = wh::convention::openrlhf});
  for (double o : out) CHECK(o == 0.0);
}

TEST_CASE("shards reduced through a reducer equal the whole batch") {
  const auto b = random_batch(8, 11, 3);
  std::vector<double> full(b.x.size()), sharded(b.x.size());
  wh::whiten(as_matrix(b.x, 8, 11), as_matrix(b.mask, 8, 11), as_matrix(full, 8, 11));
  alignkit_test::shard_group group(2);
  group.run([&](int rank) {
    const std::size_t off = static_cast<std::size_t>(rank) * 4 * 11;
    const std::span<const double> x(b.x.data() + off, 44);
    const std::span<const int> m(b.mask.data() + off, 44);
    const std::span<double> o(sharded.data() + off, 44);
    wh::whiten(alignkit::exec::seq, as_matrix(x, 4, 11), as_matrix(m, 4, 11), as_matrix(o, 4, 11), {},
               group.member(rank));
  });
  for (std::size_t i = 0; i < full.size(); ++i) CHECK(sharded[i] == doctest::Approx(full[i]).epsilon(1e-14));
}

TEST_CASE("exec::par is bitwise equal to exec::seq") {
  const auto b = random_batch(64, 257, 4);
  std::vector<double> s(b.x.size()), p(b.x.size());
  const auto ms = wh::whiten(alignkit::exec::seq, as_matrix(b.x, 64, 257), as_matrix(b.mask, 64, 257),
                             as_matrix(s, 64, 257));
  const auto mp = wh::whiten(alignkit::exec::par.with(3), as_matrix(b.x, 64, 257), as_matrix(b.mask, 64, 257),
                             as_matrix(p, 64, 257));
  CHECK(ms.mean == mp.mean);
  CHECK(ms.scale == mp.scale);
  CHECK(s == p);
  std::vector<double> vs(b.x.size()), vp(b.x.size());
  wh::whiten(alignkit::exec::sequenced_policy{.chunk = 64}, b.x, b.mask, vs);
  wh::whiten(alignkit::exec::parallel_policy{.threads = 3, .chunk = 64}, b.x, b.mask, vp);
  CHECK(vs == vp);
}

TEST_CASE("errors") {
  const std::vector<double> x{1.0, 2.0, 3.0};
  std::vector<double> out(3);
  CHECK_THROWS_WITH_AS(wh::whiten(x, std::vector<int>{0, 1, 0}, out),
                       "[alignkit.domain_error.220] whitening::whiten: whitening needs at least 2 valid tokens "
                       "in the batch, the mask has 1",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(wh::whiten(x, std::vector<int>{0, 0, 0}, out, {.style = wh::convention::openrlhf}),
                       "[alignkit.domain_error.220] whitening::whiten: whitening needs at least 1 valid tokens "
                       "in the batch, the mask has 0",
                       alignkit::domain_error);
  wh::whiten(x, std::vector<int>{0, 1, 0}, out, {.style = wh::convention::openrlhf});
  CHECK(out == std::vector<double>{-1e4, 0.0, 1e4});
  CHECK_THROWS_WITH_AS(wh::whiten(x, std::vector<int>{1, 1}, out),
                       "[alignkit.shape_error.101] whitening::whiten: mask has 2 elements, x has 3",
                       alignkit::shape_error);
  const std::vector<double> m6(6, 1.0);
  std::vector<double> o6(6);
  CHECK_THROWS_WITH_AS(wh::whiten(as_matrix(m6, 2, 3), as_matrix(m6, 3, 2), as_matrix(o6, 2, 3)),
                       "[alignkit.shape_error.103] whitening::whiten: mask has extent 3 in dimension 0, expected 2",
                       alignkit::shape_error);
}
