/// @file dpo_terms.hpp
/// @brief The per-pair DPO loss terms and their derivatives, written once for scalars and
/// xsimd batches. Each term maps the (possibly token-normalized) log-ratios (a, b) of a pair to
/// its loss ℓ and ∂ℓ/∂a, ∂ℓ/∂b; preference/dpo.hpp documents the formulas.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

#include "../../core/config.hpp"
#include "../../core/numerics.hpp"
#include "logistic.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace dpo {

/// The DPO loss types: every type of TRL's `DPOTrainer` (names as there; `aot_unpaired` is
/// TRL's `aot_pair`). See the header comment of preference/dpo.hpp for each formula.
enum class loss_type {
  sigmoid,
  robust,
  hinge,
  ipo,
  exo_pair,
  nca_pair,
  sppo_hard,
  aot,
  aot_unpaired,
  apo_zero,
  apo_down,
  discopop,
  bco_pair,
  sigmoid_norm,
};

/// The f-divergence that regularizes the policy (f-DPO, arXiv:2309.16240).
enum class f_divergence { reverse_kl, forward_kl, js, alpha };

}  // namespace dpo

namespace detail::dpo_terms {

using dpo::f_divergence;
using dpo::loss_type;

/// Types whose loss is a function of h = a − b (or of its f-divergence form).
constexpr bool uses_h(loss_type t) noexcept {
  return t == loss_type::sigmoid || t == loss_type::sigmoid_norm || t == loss_type::robust ||
         t == loss_type::hinge || t == loss_type::ipo || t == loss_type::exo_pair || t == loss_type::discopop;
}

/// Types that subtract the reference log-probs even when `reference_free` is set (as TRL).
constexpr bool always_uses_reference(loss_type t) noexcept {
  return t == loss_type::nca_pair || t == loss_type::sppo_hard || t == loss_type::bco_pair ||
         t == loss_type::aot || t == loss_type::aot_unpaired;
}

/// Types computed on sorted batches rather than per pair.
constexpr bool is_sorted_type(loss_type t) noexcept { return t == loss_type::aot || t == loss_type::aot_unpaired; }

/// Per-call constants in the compute type, derived once from the options.
template <class T>
struct params {
  T beta, eps, half_inv_beta, robust_scale, exo_log_keep, exo_log_flip, tau, inv_tau, alpha, inv_alpha, exp_cap,
      bco_delta;
};

/// Cap on the exponent of the alpha divergence. TRL caps it at log(max T), where h² (ipo) and
/// the gradient e^{−αa}·∂ℓ/∂h overflow; capping at ½·log(max T) + min(log α, ½·log(α/2)) − 1
/// keeps h, h² and the gradient finite (capped lanes get a zero gradient, as TRL's clamp).
template <class T>
T exp_cap(double alpha) {
  const double half_log_max = 0.5 * std::log(static_cast<double>(std::numeric_limits<T>::max()));
  return static_cast<T>(half_log_max + std::min(std::log(alpha), 0.5 * std::log(alpha / 2)) - 1);
}

template <class V>
struct value {
  V loss, da, db;  ///< ℓ, ∂ℓ/∂a, ∂ℓ/∂b
};

template <class V>
struct scalar_value {
  V loss, dh;  ///< ℓ(h), ∂ℓ/∂h
};

/// −(1−ε)·log σ(βh) − ε·log σ(−βh) (sigmoid / cDPO, and the AOT losses on δ).
template <class V, class T>
scalar_value<V> smoothed_sigmoid(const V& h, const params<T>& p) {
  const auto l = logistic(V(p.beta) * h);
  const V keep = V(T(1) - p.eps), flip = V(p.eps);
  return {keep * l.softplus_neg + flip * l.softplus_pos,
          V(p.beta) * (flip * l.sigmoid_pos - keep * l.sigmoid_neg)};
}

/// ℓ(h) and ∂ℓ/∂h of the types written in h.
template <loss_type L, class V, class T>
scalar_value<V> of_h(const V& h, const params<T>& p) {
  const V beta(p.beta);
  if constexpr (L == loss_type::sigmoid || L == loss_type::sigmoid_norm) {
    return smoothed_sigmoid(h, p);
  } else if constexpr (L == loss_type::robust) {
    const auto l = logistic(beta * h);
    const V keep = V(T(1) - p.eps), flip = V(p.eps), s = V(p.robust_scale);
    return {(keep * l.softplus_neg - flip * l.softplus_pos) * s, -beta * (keep * l.sigmoid_neg + flip * l.sigmoid_pos) * s};
  } else if constexpr (L == loss_type::hinge) {
    const V t = V(1) - beta * h;
    return {max_(t, V(0)), select_(t > V(0), -beta, V(0))};
  } else if constexpr (L == loss_type::ipo) {
    const V d = h - V(p.half_inv_beta);
    return {d * d, V(2) * d};
  } else if constexpr (L == loss_type::exo_pair) {
    const V z = beta * h;
    const auto l = logistic(z);
    const V keep(p.exo_log_keep), flip(p.exo_log_flip);
    return {l.sigmoid_pos * (-l.softplus_neg - keep) + l.sigmoid_neg * (-l.softplus_pos - flip),
            beta * l.sigmoid_pos * l.sigmoid_neg * (z - (keep - flip))};
  } else {
    static_assert(L == loss_type::discopop);
    const V z = beta * h;
    const auto l = logistic(z);
    const auto m = logistic(z * V(p.inv_tau));  // μ = m.sigmoid_pos, 1 − μ = m.sigmoid_neg
    const V e = exp_(-z - m.softplus_neg);       // e^{−z}·μ, finite where the product is
    const V dmu = m.sigmoid_pos * m.sigmoid_neg * V(p.inv_tau);
    return {l.softplus_neg * m.sigmoid_neg + e,
            beta * (-l.sigmoid_neg * m.sigmoid_neg - l.softplus_neg * dmu + e * (m.sigmoid_neg * V(p.inv_tau) - V(1)))};
  }
}

/// ℓ(a, b) with ∂ℓ/∂a and ∂ℓ/∂b for loss type L under f-divergence F.
template <loss_type L, f_divergence F, class V, class T>
value<V> term(const V& a, const V& b, const params<T>& p) {
  const V beta(p.beta);
  if constexpr (uses_h(L)) {
    V h, dha, dhb;
    if constexpr (F == f_divergence::reverse_kl) {
      h = a - b;
      dha = V(1);
      dhb = V(-1);
    } else if constexpr (F == f_divergence::js) {
      const auto la = logistic(a), lb = logistic(b);
      h = (a - b) - (la.softplus_pos - lb.softplus_pos);
      dha = la.sigmoid_neg;
      dhb = -lb.sigmoid_neg;
    } else {  // alpha (forward KL is α = 1): h = (e^{−αb} − e^{−αa})/α with TRL's capped exp
      const V cap(p.exp_cap), xa = -V(p.alpha) * a, xb = -V(p.alpha) * b;
      const V ea = exp_(min_(xa, cap)), eb = exp_(min_(xb, cap));
      h = (eb - ea) * V(p.inv_alpha);
      dha = select_(xa <= cap, ea, V(0));
      dhb = select_(xb <= cap, -eb, V(0));
    }
    const auto s = of_h<L>(h, p);
    return {s.loss, s.dh * dha, s.dh * dhb};
  } else if constexpr (L == loss_type::nca_pair) {
    const auto la = logistic(beta * a), lb = logistic(beta * b);
    const V half(T(0.5));
    return {la.softplus_neg + half * la.softplus_pos + half * lb.softplus_pos,
            beta * (half * la.sigmoid_pos - la.sigmoid_neg), beta * half * lb.sigmoid_pos};
  } else if constexpr (L == loss_type::sppo_hard) {
    const V da = a - V(p.half_inv_beta), db = b + V(p.half_inv_beta);
    return {da * da + db * db, V(2) * da, V(2) * db};
  } else if constexpr (L == loss_type::apo_zero) {
    const V sa = sigmoid(beta * a), sna = sigmoid(-beta * a), sb = sigmoid(beta * b), snb = sigmoid(-beta * b);
    return {sna + sb, -beta * sa * sna, beta * sb * snb};
  } else if constexpr (L == loss_type::apo_down) {
    const V sa = sigmoid(beta * a), sna = sigmoid(-beta * a);
    const V d = beta * (a - b), sd = sigmoid(d), snd = sigmoid(-d);
    const V gd = beta * sd * snd;
    return {sa + snd, beta * sa * sna - gd, gd};
  } else {
    static_assert(L == loss_type::bco_pair, "aot types are computed on sorted batches");
    const V delta(p.bco_delta);
    const auto lc = logistic(beta * a - delta), lr = logistic(beta * b - delta);
    return {lc.softplus_neg + lr.softplus_pos, -beta * lc.sigmoid_neg, beta * lr.sigmoid_pos};
  }
}

/// The same with the loss type chosen at run time (used by weighted combinations, where the
/// switch runs once per SIMD batch, not per lane). Sorted types never reach here.
template <f_divergence F, class V, class T>
value<V> term(loss_type t, const V& a, const V& b, const params<T>& p) {
  switch (t) {
    case loss_type::sigmoid: return term<loss_type::sigmoid, F>(a, b, p);
    case loss_type::robust: return term<loss_type::robust, F>(a, b, p);
    case loss_type::hinge: return term<loss_type::hinge, F>(a, b, p);
    case loss_type::ipo: return term<loss_type::ipo, F>(a, b, p);
    case loss_type::exo_pair: return term<loss_type::exo_pair, F>(a, b, p);
    case loss_type::nca_pair: return term<loss_type::nca_pair, F>(a, b, p);
    case loss_type::sppo_hard: return term<loss_type::sppo_hard, F>(a, b, p);
    case loss_type::apo_zero: return term<loss_type::apo_zero, F>(a, b, p);
    case loss_type::apo_down: return term<loss_type::apo_down, F>(a, b, p);
    case loss_type::discopop: return term<loss_type::discopop, F>(a, b, p);
    case loss_type::bco_pair: return term<loss_type::bco_pair, F>(a, b, p);
    case loss_type::sigmoid_norm: return term<loss_type::sigmoid_norm, F>(a, b, p);
    case loss_type::aot:
    case loss_type::aot_unpaired: break;
  }
  ALIGNKIT_ASSERT(false);
  return {V(0), V(0), V(0)};
}

}  // namespace detail::dpo_terms

ALIGNKIT_END_NAMESPACE
