// A GEMM hook `gemm(a, b, c, accumulate)` against a naive product, with A, B and C stored
// row-major, column-major or with no unit stride; used by the tests of every GEMM hook.
#pragma once

#include <algorithm>
#include <cmath>
#include <array>
#include <random>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include <alignkit/core/view.hpp>

namespace test_support {

using alignkit::index_t;
using alignkit::matrix_view;

enum class order { row_major, col_major, strided };
inline constexpr order orders[] = {order::row_major, order::col_major, order::strided};

// A [r, c] matrix stored in the given order inside a buffer (strided: every other element of a
// row-major array with doubled row pitch, so neither stride is 1).
template <class T>
struct stored_matrix {
  std::vector<T> buf;
  matrix_view<T> view;
  stored_matrix(index_t r, index_t c, order o, std::mt19937& g) : buf(static_cast<std::size_t>(4 * r * c + 4)) {
    std::normal_distribution<double> d(0, 1);
    for (auto& x : buf) x = static_cast<T>(d(g));
    if (o == order::row_major) view = {buf.data(), {r, c}};
    if (o == order::col_major) view = {buf.data(), {r, c}, {1, r}};
    if (o == order::strided) view = {buf.data(), {r, c}, {4 * c, 2}};
  }
};

// Largest |C − (accumulate ? C₀ : 0) − A·B| of one call of `gemm` on random [m, k]·[k, n] operands.
template <class T, class Gemm>
double max_error_of_product(const Gemm& gemm, index_t m, index_t n, index_t k, order oa, order ob, order oc,
                            bool accumulate, std::mt19937& g) {
  stored_matrix<T> a(m, k, oa, g), b(k, n, ob, g), c(m, n, oc, g);
  std::vector<double> want(static_cast<std::size_t>(m * n));
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) {
      double s = accumulate ? static_cast<double>(c.view(i, j)) : 0.0;
      for (index_t p = 0; p < k; ++p) s += static_cast<double>(a.view(i, p)) * b.view(p, j);
      want[static_cast<std::size_t>(i * n + j)] = s;
    }
  gemm(matrix_view<const T>(a.view), matrix_view<const T>(b.view), c.view, accumulate);
  double err = 0;
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j)
      err = std::max(err, std::abs(c.view(i, j) - want[static_cast<std::size_t>(i * n + j)]));
  return err;
}

// Checks `gemm` against the naive product for each [m, n, k] shape, in every storage order of A,
// B and C, with and without accumulation, in double and float; returns the number of products.
template <class Gemm>
int check_against_naive_product(const Gemm& gemm, std::span<const std::array<index_t, 3>> shapes) {
  std::mt19937 g(7);
  int products = 0;
  for (const auto& shape : shapes)
    for (order oa : orders)
      for (order ob : orders)
        for (order oc : orders)
          for (bool acc : {false, true}) {
            const index_t m = shape[0], n = shape[1], k = shape[2];
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            CAPTURE(static_cast<int>(oa));
            CAPTURE(static_cast<int>(ob));
            CAPTURE(static_cast<int>(oc));
            CAPTURE(acc);
            CHECK(max_error_of_product<double>(gemm, m, n, k, oa, ob, oc, acc, g) < 1e-12);
            CHECK(max_error_of_product<float>(gemm, m, n, k, oa, ob, oc, acc, g) < 1e-4);
            ++products;
          }
  return products;
}

}  // namespace test_support
