/// @file numerics.hpp
/// @brief Stable elementwise functions for scalars and xsimd batches: softplus, log-sigmoid,
/// sigmoid, and a stable log-sum-exp over a row.
///
/// Each function is written once for `V` = float, double or `xsimd::batch<float|double>`; the
/// batch form uses xsimd's vectorized exp (and log1p_unit_, a series for log(1 + e) on [0, 1]), so
/// kernels never depend on the caller's fast-math flags. Forms (all finite for any finite x):
///   softplus(x)    = max(x, 0) + log1p(exp(-|x|))                 (= log(1 + e^x))
///   log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|))                 (= -softplus(-x))
///   sigmoid(x)     = x >= 0 ? 1/(1+e) : e/(1+e),  e = exp(-|x|)   (no overflow, no 0·inf)
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "config.hpp"

// The functions below are forced inline into kernel loops: called out of line once per batch,
// they made every live vector register (all caller-saved) spill and reload around the call.
#ifndef ALIGNKIT_INLINE
#if defined(__GNUC__) || defined(__clang__)
#define ALIGNKIT_INLINE [[gnu::always_inline]] inline
#else
#define ALIGNKIT_INLINE inline
#endif
#endif

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

template <class V>
inline constexpr bool is_scalar_v = std::is_arithmetic_v<V>;

/// The element type of V (V itself for scalars).
template <class V>
struct scalar_of {
  using type = V;
};
template <class T, class A>
struct scalar_of<xsimd::batch<T, A>> {
  using type = T;
};

/// log1p and log of a batch by xsimd; of a scalar by the same xsimd code on a broadcast batch, so
/// that an element gives the same bits in a scalar tail as in a batch lane (the C library's
/// functions round differently in the last bit for some arguments). A chunk's results then do
/// not depend on where the chunk boundaries fall. exp_ (after fma_) does the same.
template <class V>
ALIGNKIT_INLINE V log1p_(const V& x) {
  if constexpr (is_scalar_v<V>) return xsimd::log1p(xsimd::batch<V>(x)).get(0); else return xsimd::log1p(x);
}
template <class V>
ALIGNKIT_INLINE V log_(const V& x) {
  if constexpr (is_scalar_v<V>) return xsimd::log(xsimd::batch<V>(x)).get(0); else return xsimd::log(x);
}
template <class V>
ALIGNKIT_INLINE V abs_(const V& x) {
  if constexpr (is_scalar_v<V>) return std::abs(x); else return xsimd::abs(x);
}
template <class V>
ALIGNKIT_INLINE V max_(const V& a, const V& b) {
  if constexpr (is_scalar_v<V>) return a < b ? b : a; else return xsimd::max(a, b);
}
template <class V>
ALIGNKIT_INLINE V min_(const V& a, const V& b) {
  if constexpr (is_scalar_v<V>) return b < a ? b : a; else return xsimd::min(a, b);
}
/// a·b + c rounded once where the target has FMA instructions, after the product and after the
/// sum otherwise, on batches and scalars alike: a scalar tail matches the batch lanes bit for bit
/// whatever the compiler's contraction setting. (xsimd 8's AVX-512 batches have no fma kernel:
/// its generic a·b + c is fused only under contraction, which the library's target turns off, so
/// AVX-512 batches take the instruction directly.)
template <class V>
ALIGNKIT_INLINE V fma_(const V& a, const V& b, const V& c) {
  if constexpr (!is_scalar_v<V>) {
#if XSIMD_WITH_AVX512F
    using T = typename V::value_type;
    if constexpr (std::is_base_of_v<xsimd::avx512f, typename V::arch_type> && std::is_same_v<T, float>)
      return V(_mm512_fmadd_ps(a, b, c));
    else if constexpr (std::is_base_of_v<xsimd::avx512f, typename V::arch_type> && std::is_same_v<T, double>)
      return V(_mm512_fmadd_pd(a, b, c));
    else
      return xsimd::fma(a, b, c);
#else
    return xsimd::fma(a, b, c);
#endif
  } else {
#if defined(__FMA__)
    return std::fma(a, b, c);
#else
    const V ab = a * b;
    return ab + c;
#endif
  }
}
/// e^x of a float batch with every a·b + c through fma_ (xsimd's float exp rounds them twice, as
/// separate instructions, on AVX-512 without contraction). The Cephes expf scheme that
/// xsimd's float exp also follows: k = round(x·log2 e); r = x − k·ln 2 with ln 2 split in two
/// (Cody–Waite, exact k·ln2_hi); e^r ≈ 1 + r + r²·P(r), P Cephes' degree-5 minimax fit on
/// |r| ≤ ln 2 / 2; e^x = e^r·2^k through the exponent bits. Within 1.01 ulp of e^x on normal
/// results (measured against double exp on every 5th float in [−87.3, 88.3]); like xsimd's:
/// 0 below −87.3365 (no subnormal results), +∞ above 88.3763, NaN for NaN.
template <class B>
ALIGNKIT_INLINE B exp_float_(const B& x) {
  using I = xsimd::as_integer_t<B>;
  const B k = xsimd::nearbyint(x * B(1.44269504088896341f));
  B r = fma_(k, B(-0.693359375f), x);
  r = fma_(k, B(2.12194440e-4f), r);
  B p = fma_(B(1.9875691500e-4f), r, B(1.3981999507e-3f));
  p = fma_(p, r, B(8.3334519073e-3f));
  p = fma_(p, r, B(4.1665795894e-2f));
  p = fma_(p, r, B(1.6666665459e-1f));
  p = fma_(p, r, B(5.0000001201e-1f));
  const B e = (fma_(p, r * r, r) + B(1.0f)) * xsimd::bitwise_cast<B>((xsimd::to_int(k) + I(127)) << 23);
  return xsimd::select(x < B(-87.3365478515625f), B(0.0f),
                       xsimd::select(x > B(88.3762626647949f), B(std::numeric_limits<float>::infinity()), e));
}

/// e^x: float batches by exp_float_, double batches by xsimd's exp; a scalar by the same code on
/// a broadcast batch (see log1p_).
template <class V>
ALIGNKIT_INLINE V exp_(const V& x) {
  if constexpr (is_scalar_v<V>) return exp_(xsimd::batch<V>(x)).get(0);
  else if constexpr (std::is_same_v<typename V::value_type, float>) return exp_float_(x);
  else return xsimd::exp(x);
}

/// log(1 + e) for 0 ≤ e ≤ 1 (the e = exp(−|x|) of the logistic functions below), from the series
///   log(1 + e) = 2·atanh(s) = 2·Σ_{k≥0} s^(2k+1)/(2k+1),   s = e/(2 + e) ∈ [0, 1/3],
/// truncated after K terms (7 for float, 16 for double): s² ≤ 1/9 puts the omitted tail below
/// 2^-25 (float) and 2^-55 (double) of the sum; within 2 ulp of log1p over [0, 1]. About twice as
/// fast in SIMD as the general log1p, which reduces its argument and handles special values this
/// domain never has. Scalars use the same series, so a lane's value does not depend on whether it
/// falls in a batch or in a scalar tail.
template <class V>
ALIGNKIT_INLINE V log1p_unit_(const V& e) {
  using T = typename scalar_of<V>::type;
  constexpr int K = sizeof(T) == 4 ? 7 : 16;
  const V s = e / (V(2) + e);
  const V z = s * s;
  V p(T(1) / T(2 * K - 1));
  for (int k = K - 2; k >= 0; --k) {
    const V c(T(1) / T(2 * k + 1));
    p = fma_(p, z, c);
  }
  return V(2) * s * p;
}
/// cond ? a : b, elementwise for batches.
template <class C, class V>
ALIGNKIT_INLINE V select_(const C& cond, const V& a, const V& b) {
  if constexpr (is_scalar_v<V>) return cond ? a : b; else return xsimd::select(cond, a, b);
}
/// 1.0 where cond holds, else 0.0.
template <class V, class C>
ALIGNKIT_INLINE V indicator_(const C& cond) {
  return select_(cond, V(1), V(0));
}

}  // namespace detail

/// softplus(x) = log(1 + e^x), stable for any finite x.
template <class V>
ALIGNKIT_INLINE V softplus(const V& x) {
  using namespace detail;
  return max_(x, V(0)) + log1p_unit_(exp_(-abs_(x)));
}

/// log σ(x), stable for any finite x (never log(sigmoid(x))).
template <class V>
ALIGNKIT_INLINE V log_sigmoid(const V& x) {
  using namespace detail;
  return min_(x, V(0)) - log1p_unit_(exp_(-abs_(x)));
}

/// σ(x) = 1/(1 + e^-x), stable for any finite x.
template <class V>
ALIGNKIT_INLINE V sigmoid(const V& x) {
  using namespace detail;
  const V e = exp_(-abs_(x));
  const V r = V(1) / (V(1) + e);
  return select_(x >= V(0), r, e * r);
}

/// softplus(x) and σ(x) sharing one exp and one log1p: d softplus(x)/dx = σ(x).
template <class V>
struct softplus_sigmoid_t {
  V softplus;
  V sigmoid;
};
template <class V>
ALIGNKIT_INLINE softplus_sigmoid_t<V> softplus_and_sigmoid(const V& x) {
  using namespace detail;
  const V e = exp_(-abs_(x));
  const V r = V(1) / (V(1) + e);
  return {max_(x, V(0)) + log1p_unit_(e), select_(x >= V(0), r, e * r)};
}

/// Stable log Σ_j exp(x_j) over n values read by `at(j)`; −inf for n = 0.
template <class Accum = double, class At>
Accum logsumexp(index_t n, At&& at) {
  if (n == 0) return -std::numeric_limits<Accum>::infinity();
  Accum m = static_cast<Accum>(at(0));
  for (index_t j = 1; j < n; ++j) m = std::max(m, static_cast<Accum>(at(j)));
  if (!std::isfinite(m)) return m;
  Accum s = 0;
  for (index_t j = 0; j < n; ++j) s += std::exp(static_cast<Accum>(at(j)) - m);
  return m + std::log(s);
}

ALIGNKIT_END_NAMESPACE
