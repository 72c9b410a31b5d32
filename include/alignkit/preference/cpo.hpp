/// @file cpo.hpp
/// @brief Reference-free pairwise objectives: CPO, SimPO and the odds-ratio term of ORPO, fused
/// forward and backward.
///
/// Inputs per pair i: policy log-probs of the chosen and rejected response, x_c and x_r (sums for
/// CPO's sigmoid and hinge; per-token means for SimPO, IPO and ORPO, as TRL computes them: see
/// `sequence_logprobs` in core/sequences.hpp). With h = x_c − x_r and ε = label_smoothing:
///   sigmoid  −(1−ε)·log σ(βh) − ε·log σ(−βh)                   CPO arXiv:2401.08417
///   hinge    max(0, 1 − βh)
///   ipo      (h − 1/(2β))²
///   simpo    sigmoid on h − γ/β (target reward margin γ)         SimPO arXiv:2405.14734
///   orpo     −β·log σ(o),  o = h − (log(1 − e^{x_c}) − log(1 − e^{x_r}))   ORPO arXiv:2403.07691
///            (the odds-ratio term; ORPO's loss is NLL(chosen) + mean of this, and x < 0)
///   loss = Σ ℓ_i / D;  rewards β·x_c, β·x_r; accuracy mean 1[β·x_c > β·x_r]; margin their mean difference.
/// The SFT term of CPO (cpo_alpha·NLL) and of ORPO is a token-level mean of the chosen
/// log-probs; add it from core/sequences.hpp. log(1 − e^x) uses expm1 near 0 and log1p below −log 2.
/// Parity: TRL `CPOTrainer.cpo_loss` (sigmoid, hinge, ipo, simpo) and `ORPOTrainer.odds_ratio_loss`.
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <tuple>
#include <vector>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/tensor.hpp"
#include "detail/dpo_terms.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace cpo {

/// The loss types of TRL's CPOTrainer, and ORPO's odds-ratio term.
enum class loss_type { sigmoid, hinge, ipo, simpo, orpo };

/// Hyperparameters; the defaults are TRL's `CPOConfig` (ORPOConfig also has β = 0.1).
struct options {
  double beta = 0.1;                    ///< β > 0 (ORPO: λ)
  loss_type loss = loss_type::sigmoid;
  double label_smoothing = 0.0;         ///< ε in [0, 0.5] (sigmoid, simpo)
  double simpo_gamma = 0.5;             ///< γ ≥ 0, the target reward margin of simpo
  std::optional<double> total_pairs;    ///< D; default: the number of pairs of this call
  bool check_finite = false;            ///< raise domain_error.201 on a non-finite input
};

/// What a trainer logs.
struct result {
  double loss = 0;            ///< Σ ℓ / D
  double chosen_reward = 0;   ///< mean β·x_c
  double rejected_reward = 0; ///< mean β·x_r
  double accuracy = 0;        ///< mean 1[β·x_c > β·x_r]
  double margin = 0;          ///< mean β·(x_c − x_r)
  double log_odds_ratio = 0;  ///< orpo: mean log σ(o) (TRL `log_odds_ratio`), else 0
  double log_odds = 0;        ///< orpo: mean o (TRL `log_odds_chosen`), else 0
  index_t pairs = 0;          ///< N
};

/// Optional outputs (a default-constructed view is not written).
template <class T>
struct outputs {
  vector_view<T> losses;            ///< ℓ_i
  vector_view<T> grad_chosen;       ///< ∂loss/∂x_c
  vector_view<T> grad_rejected;     ///< ∂loss/∂x_r
  vector_view<T> chosen_rewards;    ///< β·x_c
  vector_view<T> rejected_rewards;  ///< β·x_r
};

namespace detail {

inline constexpr const char* fn = "cpo::loss";

template <class V>
V expm1_(const V& x) {
  if constexpr (alignkit::detail::is_scalar_v<V>) return std::expm1(x); else return xsimd::expm1(x);
}

/// log(1 − e^x) for x < 0 and its derivative −e^x/(1 − e^x) = 1 − 1/(1 − e^x).
template <class T, class V>
std::array<V, 2> log1mexp(const V& x) {
  using namespace alignkit::detail;
  const V one_minus = -expm1_(x);  // 1 − e^x without cancellation near 0
  const V value = select_(x > V(static_cast<T>(-0.6931471805599453)), log_(one_minus), log1p_(-exp_(x)));
  return {value, V(1) - V(1) / one_minus};
}

template <class T, class Exec, class C, class R>
result run(const Exec& policy, const C& c, const R& r, const options& o, const outputs<T>& out) {
  using namespace alignkit::detail;
  using namespace alignkit::detail::dpo_terms;
  require_rank<1, C>();
  require_rank<1, R>();
  const index_t n = c.extent(0);
  check_same_size(fn, "policy_rejected", r.extent(0), "policy_chosen", n);
  check_not_empty(fn, "policy_chosen", n);
  const std::array<std::pair<const char*, const vector_view<T>*>, 5> views{
      {{"losses", &out.losses}, {"grad_chosen", &out.grad_chosen}, {"grad_rejected", &out.grad_rejected},
       {"chosen_rewards", &out.chosen_rewards}, {"rejected_rewards", &out.rejected_rewards}}};
  for (const auto& [label, v] : views)
    if (v->data_handle()) check_same_size(fn, label, v->extent(0), "policy_chosen", n);
  check_range(fn, "beta", o.beta, 0.0, HUGE_VAL, true);
  check_range(fn, "label_smoothing", o.label_smoothing, 0.0, 0.5);
  check_range(fn, "simpo_gamma", o.simpo_gamma, 0.0, HUGE_VAL);
  const double denom = o.total_pairs.value_or(static_cast<double>(n));
  if (o.total_pairs) check_range(fn, "total_pairs", denom, 0.0, HUGE_VAL, true);
  if (o.check_finite) {
    check_finite(fn, "policy_chosen", c);
    check_finite(fn, "policy_rejected", r);
  }

  params<T> p{};
  p.beta = static_cast<T>(o.beta);
  p.eps = static_cast<T>(o.label_smoothing);
  p.half_inv_beta = static_cast<T>(1 / (2 * o.beta));
  const T shift = o.loss == loss_type::simpo ? static_cast<T>(o.simpo_gamma / o.beta) : T(0);
  const T inv_d = static_cast<T>(1.0 / denom);
  const std::tuple io{make_reader<T>(c),
                      make_reader<T>(r),
                      make_writer<T>(out.losses),
                      make_writer<T>(out.grad_chosen),
                      make_writer<T>(out.grad_rejected),
                      make_writer<T>(out.chosen_rewards),
                      make_writer<T>(out.rejected_rewards)};

  auto pass = [&](auto per_pair) {
    return map_reduce<T, 6>(policy, n, io, [&](index_t i, auto tag, const auto& rc, const auto& rr, const auto& w_loss,
                                               const auto& w_gc, const auto& w_gr, const auto& w_cr, const auto& w_rr) {
      using V = typename decltype(tag)::type;
      const V xc = rc.template load<V>(i), xr = rr.template load<V>(i);
      const auto [loss, dc, dr, ratio, odds] = per_pair(xc, xr);
      const V chosen = V(p.beta) * xc, rejected = V(p.beta) * xr;
      w_loss.store(i, loss);
      w_gc.store(i, dc * V(inv_d));
      w_gr.store(i, dr * V(inv_d));
      w_cr.store(i, chosen);
      w_rr.store(i, rejected);
      return std::array<V, 6>{loss, chosen, rejected, indicator_<V>(chosen > rejected), ratio, odds};
    });
  };
  auto on_h = [&](auto type) {
    return pass([&](const auto& xc, const auto& xr) {
      using V = std::remove_cvref_t<decltype(xc)>;
      const auto s = of_h<decltype(type)::value>(xc - xr - V(shift), p);
      return std::array<V, 5>{s.loss, s.dh, -s.dh, V(0), V(0)};
    });
  };
  using L = dpo::loss_type;
  alignkit::detail::sums<6> total;
  switch (o.loss) {
    case loss_type::sigmoid:
    case loss_type::simpo: total = on_h(std::integral_constant<L, L::sigmoid>{}); break;
    case loss_type::hinge: total = on_h(std::integral_constant<L, L::hinge>{}); break;
    case loss_type::ipo: total = on_h(std::integral_constant<L, L::ipo>{}); break;
    case loss_type::orpo:
      total = pass([&](const auto& xc, const auto& xr) {
        using V = std::remove_cvref_t<decltype(xc)>;
        const auto [lc, dlc] = log1mexp<T>(xc);
        const auto [lr, dlr] = log1mexp<T>(xr);
        const V odds = (xc - xr) - (lc - lr);
        const auto l = logistic(odds);  // ℓ = β·softplus(−o), ∂ℓ/∂o = −β·σ(−o)
        const V g = -V(p.beta) * l.sigmoid_neg;
        return std::array<V, 5>{V(p.beta) * l.softplus_neg, g * (V(1) - dlc), -g * (V(1) - dlr), -l.softplus_neg, odds};
      });
      break;
  }
  const auto nd = static_cast<double>(n);
  return {total[0] / denom, total[1] / nd,  total[2] / nd, total[3] / nd, (total[1] - total[2]) / nd,
          total[4] / nd,    total[5] / nd, n};
}

}  // namespace detail

/// Fused reference-free pairwise loss over N pairs: writes the requested `out` views in one pass
/// and returns the loss and metrics. Errors: shape_error.101 (lengths differ), shape_error.102
/// (N = 0), domain_error.201 (non-finite input under check_finite), domain_error.202 (β ≤ 0,
/// ε ∉ [0, 0.5], γ < 0, total_pairs ≤ 0).
template <exec::execution_policy Exec, class C, class R, class T = alignkit::detail::compute_t<C>>
result loss(const Exec& policy, const C& policy_chosen, const R& policy_rejected, const options& opts = {},
            const outputs<T>& out = {}) {
  return detail::run<T>(policy, view_of(policy_chosen), view_of(policy_rejected), opts, out);
}

/// Sequential overload.
template <alignkit::detail::data_argument C, class R, class T = alignkit::detail::compute_t<C>>
result loss(const C& policy_chosen, const R& policy_rejected, const options& opts = {}, const outputs<T>& out = {}) {
  return loss(exec::seq, policy_chosen, policy_rejected, opts, out);
}

/// Result plus owned per-pair outputs, for callers that do not bring buffers.
template <class T>
struct evaluation {
  result metrics;
  std::vector<T> losses, grad_chosen, grad_rejected, chosen_rewards, rejected_rewards;
};

/// Allocating convenience form: computes every output into new vectors.
template <alignkit::detail::data_argument C, class R, class T = alignkit::detail::compute_t<C>>
evaluation<T> evaluate(const C& policy_chosen, const R& policy_rejected, const options& opts = {}) {
  const auto n = static_cast<std::size_t>(view_of(policy_chosen).extent(0));
  evaluation<T> e{{}, std::vector<T>(n), std::vector<T>(n), std::vector<T>(n), std::vector<T>(n), std::vector<T>(n)};
  e.metrics = loss(policy_chosen, policy_rejected, opts,
                   outputs<T>{view_of(e.losses), view_of(e.grad_chosen), view_of(e.grad_rejected),
                              view_of(e.chosen_rewards), view_of(e.rejected_rewards)});
  return e;
}

}  // namespace cpo

ALIGNKIT_END_NAMESPACE
