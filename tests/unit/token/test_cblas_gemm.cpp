// The CBLAS GEMM hook: every storage order of A, B and C (row-major, column-major, no unit stride)
// against a naive product, with and without accumulation; the chunked linear head through it equal
// to the default Eigen hook; the documented error.
#include <alignkit/token/cblas_gemm.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "naive_product.hpp"

namespace lh = alignkit::token::linear_head;
using alignkit::index_t;
using alignkit::matrix_view;
using alignkit::view_of;

TEST_CASE("every storage order of A, B and C, with and without accumulation, equals a naive product") {
  const std::array<index_t, 3> shapes[] = {{5, 7, 3}, {1, 6, 4}, {6, 1, 4}, {4, 5, 1}, {1, 1, 1}, {17, 9, 33}, {3, 4, 0}};
  CHECK(test_support::check_against_naive_product(lh::cblas_gemm{}, shapes) == 7 * 27 * 2);
}

TEST_CASE("the chunked linear head through CBLAS equals it through the default Eigen hook") {
  std::mt19937 g(11);
  std::normal_distribution<double> d(0, 1);
  struct shape {
    index_t n, h, v, chunk_rows, chunk_vocab;
    lh::layout layout;
  };
  const shape shapes[] = {{23, 7, 50, 8, 16, lh::layout::vocab_by_hidden}, {23, 7, 50, 256, 0, lh::layout::hidden_by_vocab},
                          {1, 5, 13, 4, 5, lh::layout::vocab_by_hidden}, {9, 1, 11, 3, 4, lh::layout::hidden_by_vocab}};
  for (const auto& s : shapes) {
    CAPTURE(s.n);
    CAPTURE(s.h);
    CAPTURE(s.v);
    std::vector<double> hidden(static_cast<std::size_t>(s.n * s.h)), w(static_cast<std::size_t>(s.v * s.h));
    for (auto& x : hidden) x = d(g);
    for (auto& x : w) x = d(g);
    std::vector<std::int64_t> y(static_cast<std::size_t>(s.n));
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = i % 4 == 2 ? -100 : static_cast<std::int64_t>(g() % s.v);
    const std::vector<double> a(y.size(), 1.0), b(y.size(), 0.25);
    const bool by_vocab = s.layout == lh::layout::vocab_by_hidden;
    const matrix_view<const double> hv(hidden.data(), {s.n, s.h});
    const matrix_view<const double> wv(w.data(), by_vocab ? std::array<index_t, 2>{s.v, s.h} : std::array<index_t, 2>{s.h, s.v});
    const lh::options opts{.weight_layout = s.layout, .chunk_rows = s.chunk_rows, .chunk_vocab = s.chunk_vocab};
    const std::size_t nh = hidden.size(), nw = w.size();
    std::vector<double> lp[2], ent[2], gh[2], gw[2];
    for (int hook = 0; hook < 2; ++hook) {
      lp[hook].resize(y.size());
      ent[hook].resize(y.size());
      gh[hook].resize(nh);
      gw[hook].resize(nw);
      const lh::outputs<double> out{view_of(lp[hook]), view_of(ent[hook]), matrix_view<double>(gh[hook].data(), {s.n, s.h}),
                                    matrix_view<double>(gw[hook].data(), wv.extents())};
      const alignkit::token::upstream<double> up{view_of(a), view_of(b)};
      if (hook == 0)
        lh::logprob(hv, wv, y, opts, out, up);
      else
        lh::logprob(hv, wv, y, opts, out, up, lh::cblas_gemm{});
    }
    for (std::size_t i = 0; i < y.size(); ++i) {
      CHECK(lp[1][i] == doctest::Approx(lp[0][i]).epsilon(1e-12));
      CHECK(ent[1][i] == doctest::Approx(ent[0][i]).epsilon(1e-12));
    }
    for (std::size_t i = 0; i < nh; ++i) CHECK(gh[1][i] == doctest::Approx(gh[0][i]).epsilon(1e-12));
    for (std::size_t i = 0; i < nw; ++i) CHECK(gw[1][i] == doctest::Approx(gw[0][i]).epsilon(1e-12));
  }
}

TEST_CASE("a dimension beyond CBLAS's int range raises shape_error.141") {
  std::vector<double> buf(4, 1.0);
  const index_t big = index_t{std::numeric_limits<int>::max()} + 1;
  // [big, 1] views with unit strides: the call is rejected before any element is read.
  const matrix_view<const double> a(buf.data(), {big, 1}, {1, 1}), b(buf.data(), {1, 1});
  const matrix_view<double> c(buf.data(), {big, 1}, {1, 1});
  CHECK_THROWS_WITH_AS(lh::cblas_gemm{}(a, b, c, false),
                       "[alignkit.shape_error.141] token::linear_head::cblas_gemm: the dimension or leading dimension "
                       "2147483648 exceeds CBLAS's int range (2147483647)",
                       alignkit::shape_error);
}
