/// @file cblas_gemm.hpp
/// @brief A GEMM hook for `token::linear_head` that calls CBLAS `sgemm` / `dgemm` (OpenBLAS, MKL,
/// BLIS, the reference BLAS): `linear_head::logprob(exec, hidden, weight, labels, opts, out, up,
/// linear_head::cblas_gemm{})`.
///
/// C = A·B (accumulate: C += A·B) becomes one `cblas_?gemm` call in C's own order (row-major when
/// C's columns are contiguous, column-major when its rows are): an operand stored in that order is
/// passed as is, one stored in the other order is passed transposed, with its leading dimension;
/// an operand with no unit stride (and a C with none) goes through a contiguous copy.
/// Needs <cblas.h> and a CBLAS to link (Debian: libblas-dev, or libopenblas-dev; the library
/// `libblas.so.3` points to is the one that runs); not part of alignkit.hpp.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <type_traits>
#include <vector>

#include "linear_head.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace token::linear_head {

namespace detail {

/// The leading dimension of v read in row-major order (unit stride along its columns), or 0
/// when v cannot be read so. A single row or column has no constraint on the other stride.
template <class T>
index_t row_major_ld(const matrix_view<T>& v) {
  const index_t r = v.extent(0), c = v.extent(1), min_ld = std::max<index_t>(c, 1);
  if (c > 1 && v.stride(1) != 1) return 0;
  const index_t ld = r <= 1 ? min_ld : v.stride(0);
  return ld >= min_ld ? ld : 0;
}

/// A row-major copy of v.
template <class T>
std::vector<std::remove_const_t<T>> contiguous_copy(const matrix_view<T>& v) {
  std::vector<std::remove_const_t<T>> buf(static_cast<std::size_t>(v.extent(0) * v.extent(1)));
  for (index_t i = 0; i < v.extent(0); ++i)
    for (index_t j = 0; j < v.extent(1); ++j) buf[static_cast<std::size_t>(i * v.extent(1) + j)] = v(i, j);
  return buf;
}

/// An operand of a row-major `cblas_?gemm` call.
template <class T>
struct blas_operand {
  const T* data;
  index_t ld;
  CBLAS_TRANSPOSE trans;
  std::vector<T> copy;  ///< holds the data when the view had no unit stride
};

template <class T>
blas_operand<T> as_row_major_operand(const matrix_view<const T>& v) {
  if (const index_t ld = row_major_ld(v)) return {v.data_handle(), ld, CblasNoTrans, {}};
  if (const index_t ld = row_major_ld(transposed(v))) return {v.data_handle(), ld, CblasTrans, {}};
  blas_operand<T> op{nullptr, std::max<index_t>(v.extent(1), 1), CblasNoTrans, contiguous_copy(v)};
  op.data = op.copy.data();
  return op;
}

inline int blas_int(index_t x) {
  if (x > INT_MAX)
    raise<shape_error>(141, "token::linear_head::cblas_gemm: the dimension or leading dimension ", x,
                       " exceeds CBLAS's int range (", INT_MAX, ")");
  return static_cast<int>(x);
}

inline void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float* a, int lda,
                      const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
inline void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const double* a, int lda,
                      const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace detail

/// The CBLAS GEMM hook (see gemm_hook in linear_head.hpp). Allocates only for an operand without
/// a unit stride. Errors: shape_error.141 (a dimension beyond CBLAS's int range).
struct cblas_gemm {
  template <class T>
    requires(std::same_as<T, float> || std::same_as<T, double>)
  void operator()(matrix_view<const T> a, matrix_view<const T> b, matrix_view<T> c, bool accumulate) const {
    const index_t m = c.extent(0), n = c.extent(1), k = a.extent(1);
    if (m == 0 || n == 0) return;
    const index_t ldc = detail::row_major_ld(c);
    if (ldc == 0) {
      // Column-major C: Cᵀ = Bᵀ·Aᵀ is row-major. Neither order: through a row-major buffer (holding
      // C's values only when they are accumulated into).
      if (detail::row_major_ld(detail::transposed(c)) != 0)
        return (*this)(detail::transposed(b), detail::transposed(a), detail::transposed(c), accumulate);
      auto buf = accumulate ? detail::contiguous_copy(c) : std::vector<T>(static_cast<std::size_t>(m * n));
      const matrix_view<T> tmp(buf.data(), {m, n});
      (*this)(a, b, tmp, accumulate);
      for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < n; ++j) c(i, j) = tmp(i, j);
      return;
    }
    const auto oa = detail::as_row_major_operand(a), ob = detail::as_row_major_operand(b);
    detail::gemm_call(oa.trans, ob.trans, detail::blas_int(m), detail::blas_int(n), detail::blas_int(k), oa.data,
                      detail::blas_int(oa.ld), ob.data, detail::blas_int(ob.ld), accumulate ? T(1) : T(0),
                      c.data_handle(), detail::blas_int(ldc));
  }
};

}  // namespace token::linear_head

ALIGNKIT_END_NAMESPACE
