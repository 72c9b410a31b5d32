/// @file logistic.hpp
/// @brief softplus and sigmoid at x and −x from one exp, one log1p and one division, for the
/// preference losses that need both sides of the logistic (label smoothing, EXO, NCA, APO).
#pragma once

#include "../../core/config.hpp"
#include "../../core/numerics.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

/// softplus(±x) and σ(±x); each finite for any finite x.
template <class V>
struct logistic_t {
  V softplus_pos;  ///< softplus(x) = −log σ(−x)
  V softplus_neg;  ///< softplus(−x) = −log σ(x)
  V sigmoid_pos;   ///< σ(x)
  V sigmoid_neg;   ///< σ(−x) = 1 − σ(x), without cancellation
};

template <class V>
logistic_t<V> logistic(const V& x) {
  const V e = exp_(-abs_(x));
  const V l = log1p_unit_(e);
  const V r = V(1) / (V(1) + e);
  const auto pos = x >= V(0);
  return {max_(x, V(0)) + l, max_(-x, V(0)) + l, select_(pos, r, e * r), select_(pos, e * r, r)};
}

}  // namespace detail

ALIGNKIT_END_NAMESPACE
