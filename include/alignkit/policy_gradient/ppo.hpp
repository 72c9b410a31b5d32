/// @file ppo.hpp
/// @brief PPO policy losses on token log-probs, fused forward and backward: the clipped
/// surrogate with dual clip, its sequence-level-ratio variant (GSPO), CISPO, truncated
/// importance-sampling correction and an entropy bonus, under every aggregation mode.
///
/// Per valid token, with advantage A, log-ratio d and ratio ρ = exp(d):
///   clip  (PPO, Schulman et al. 2017, arXiv:1707.06347; dual clip: Ye et al. 2020, arXiv:1912.09729)
///         d = clamp(logp − old, −20, 20)
///         L1 = −Aρ,  L2 = −A·clamp(ρ, 1 − ε_low, 1 + ε_high),  C1 = max(L1, L2)
///         pg = A < 0 ? min(C1, −A·c) : C1                              (c = clip_ratio_c > 1)
///   gspo  (Zheng et al. 2025, arXiv:2507.18071): one ratio per sequence,
///         d_b = min(Σ_t (logp − old)·m / max(n_b, 1), 10), ρ = exp(d_b), pg = max(L1, L2),
///         ∂pg/∂logp_t = ∂pg/∂ρ · ρ (the GSPO-token gradient, as verl; with the advantage
///         constant within a sequence it is the gradient of the sequence-ratio loss itself)
///   cispo (MiniMax-M1, arXiv:2506.13585): pg = −sg(clamp(ρ, 1 − ε_low, 1 + ε_high))·A·logp,
///         ∂pg/∂logp = −clamp(ρ, …)·A: the clipped ratio is a stop-gradient weight, no token is dropped
///   truncated IS (Yao et al. 2025, "Your efficient RL framework secretly brings you off-policy RL
///         training"; verl `tis_imp_ratio_cap`): with a behaviour (rollout engine) log-prob β,
///         pg ← pg · min(exp(clamp(old − β, −20, 20)), cap), a constant per-token factor
///   loss = agg(pg) − entropy_coeff·agg(H)    (agg: core/aggregation.hpp, weights w_b·m)
/// Metrics (verl masked means, Σ x·m / (Σ m + 1e-8)): clip fraction 1[L2 > L1]; lower clip
/// fraction 1[C1 > −A·c]·1[A < 0] (clip), 1[ρ < 1 − ε_low] (cispo), 0 (gspo); approx KL
/// mean(−d) (cispo and clip: clamped d; gspo: the raw per-token logp − old).
/// Parity: verl `compute_policy_loss_vanilla` + `agg_loss` (golden op `ppo_clip`);
/// `compute_policy_loss_gspo`; CISPO and TIS as in verl's policy-loss registry.
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <tuple>

#include "../core/aggregation.hpp"
#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/error.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/reducer.hpp"
#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace ppo {

/// Which per-token policy loss.
enum class objective { clip, gspo, cispo };

/// Hyperparameters; the defaults are verl's.
struct options {
  objective kind = objective::clip;
  double clip_ratio = 0.2;                     ///< ε ≥ 0, used where low/high are unset
  std::optional<double> clip_ratio_low;        ///< ε_low in [0, 1) (default ε)
  std::optional<double> clip_ratio_high;       ///< ε_high ≥ 0 (default ε; clip-higher: DAPO 0.28)
  double clip_ratio_c = 3.0;                   ///< dual-clip bound c > 1 (objective::clip)
  aggregation agg = aggregation::token_mean;   ///< loss_agg_mode
  global_denominators denominators;            ///< of the whole optimizer step (default: this call)
  double entropy_coeff = 0.0;                  ///< ≥ 0; used when an entropy view is given
  std::optional<double> tis_cap;               ///< truncated IS cap > 0; needs behaviour_log_prob
  bool check_finite = false;                   ///< raise domain_error.201 on a non-finite input
};

/// What a trainer logs. With a reducer, every field is the global value over all shards.
struct result {
  double loss = 0;            ///< pg_loss − entropy_coeff·entropy
  double pg_loss = 0;         ///< agg(pg)
  double entropy = 0;         ///< agg(H) (0 without an entropy view)
  double clipfrac = 0;        ///< masked mean of 1[L2 > L1]
  double clipfrac_lower = 0;  ///< masked mean of the lower clip (see the file comment)
  double approx_kl = 0;       ///< masked mean of −d
  double tokens = 0;          ///< Σ m
};

/// Optional outputs (a default-constructed view is not written). Rank 2 for padded `[B, T]`
/// calls, rank 1 for packed calls.
template <class T, std::size_t Rank = 2>
struct outputs {
  strided_view<T, Rank> grad_log_prob;  ///< ∂loss/∂logp (0 at masked tokens)
  strided_view<T, Rank> grad_entropy;   ///< ∂loss/∂H = −entropy_coeff·w_b·m
};

/// Optional per-token inputs, laid out like log_prob.
template <class T, std::size_t Rank = 2>
struct optional_inputs {
  strided_view<const T, Rank> entropy;             ///< H, for the entropy bonus
  strided_view<const T, Rank> behaviour_log_prob;  ///< β, for truncated IS (with options::tis_cap)
};

namespace detail {

inline constexpr const char* fn = "ppo::loss";

struct clip_bounds {
  double low, high, dual;
};

inline clip_bounds validate(const options& o) {
  using alignkit::detail::check_range;
  check_range(fn, "clip_ratio", o.clip_ratio, 0.0, HUGE_VAL);
  const double low = o.clip_ratio_low.value_or(o.clip_ratio);
  const double high = o.clip_ratio_high.value_or(o.clip_ratio);
  check_range(fn, "clip_ratio_low", low, 0.0, 1.0, false, true);
  check_range(fn, "clip_ratio_high", high, 0.0, HUGE_VAL);
  if (o.kind == objective::clip) check_range(fn, "clip_ratio_c", o.clip_ratio_c, 1.0, HUGE_VAL, true);
  check_range(fn, "entropy_coeff", o.entropy_coeff, 0.0, HUGE_VAL);
  if (o.tis_cap) check_range(fn, "tis_cap", *o.tis_cap, 0.0, HUGE_VAL, true);
  return {1.0 - low, 1.0 + high, o.clip_ratio_c};
}

template <class V>
V clamp_(const V& x, const V& lo, const V& hi) {
  using namespace alignkit::detail;
  return min_(max_(x, lo), hi);
}

template <class T, class Exec, class Rows, class LP, class Old, class Adv, class Mask, class R, std::size_t Rank>
result run(const Exec& policy, const Rows& rows, const LP& lp, const Old& old, const Adv& adv, const Mask& mask,
           const options& opts, const outputs<T, Rank>& out, const optional_inputs<T, Rank>& extra, R& reducer) {
  using namespace alignkit::detail;
  rows.check(fn, "log_prob", lp);
  rows.check(fn, "old_log_prob", old);
  rows.check(fn, "advantages", adv);
  const bool has_entropy = extra.entropy.data_handle() != nullptr;
  const bool has_behaviour = extra.behaviour_log_prob.data_handle() != nullptr;
  if (has_entropy) rows.check(fn, "entropy", extra.entropy);
  if (has_behaviour) rows.check(fn, "behaviour_log_prob", extra.behaviour_log_prob);
  if (out.grad_log_prob.data_handle()) rows.check(fn, "grad_log_prob", out.grad_log_prob);
  if (out.grad_entropy.data_handle()) rows.check(fn, "grad_entropy", out.grad_entropy);
  const clip_bounds bounds = validate(opts);
  if (opts.tis_cap.has_value() != has_behaviour)
    raise<domain_error>(230, fn, ": tis_cap is ", opts.tis_cap ? "set" : "unset", " but behaviour_log_prob is ",
                        has_behaviour ? "given" : "not given", "; truncated IS needs both");
  if (opts.check_finite) {
    for (index_t b = 0; b < rows.rows(); ++b) {
      check_finite(fn, "log_prob", rows.row(lp, b));
      check_finite(fn, "old_log_prob", rows.row(old, b));
      check_finite(fn, "advantages", rows.row(adv, b));
    }
  }
  const token_weights weights = make_token_weights(fn, policy, opts.agg, opts.denominators, rows, mask, reducer);
  const T lo = static_cast<T>(bounds.low), hi = static_cast<T>(bounds.high), dual_c = static_cast<T>(bounds.dual);
  const T cap = static_cast<T>(opts.tis_cap.value_or(0.0));
  const double ent_coeff = has_entropy ? opts.entropy_coeff : 0.0;

  // Per row: [Σ w·pg·m, Σ clipped·m, Σ −d·m, Σ lower·m, Σ m, Σ w·H·m].
  auto row_sums = [&](index_t b, auto kind) {
    constexpr objective K = decltype(kind)::value;
    const auto m_row = rows.row(mask, b);
    const auto lp_row = rows.row(lp, b);
    const auto old_row = rows.row(old, b);
    const double n_b = (weights.needs_row_counts() || K == objective::gspo) ? count_valid(m_row) : 1.0;
    double seq_log_ratio = 0;
    if constexpr (K == objective::gspo) {
      for (index_t t = 0; t < m_row.extent(0); ++t)
        if (mask_valid(m_row(t))) seq_log_ratio += static_cast<double>(lp_row(t)) - static_cast<double>(old_row(t));
      seq_log_ratio /= std::max(n_b, 1.0);
    }
    const double w_b = weights.row(n_b);
    const T w = static_cast<T>(w_b), w_ent = static_cast<T>(-ent_coeff * w_b);
    const T gspo_d = static_cast<T>(std::min(seq_log_ratio, 10.0));
    const T gspo_pass = seq_log_ratio <= 10.0 ? T(1) : T(0);
    const std::tuple io{make_reader<T>(lp_row),
                        make_reader<T>(old_row),
                        make_reader<T>(rows.row(adv, b)),
                        make_reader<T>(m_row),
                        make_reader<T>(rows.row(extra.entropy, b)),
                        make_reader<T>(rows.row(extra.behaviour_log_prob, b)),
                        make_writer<T>(rows.row(out.grad_log_prob, b)),
                        make_writer<T>(rows.row(out.grad_entropy, b))};
    const auto s = map_reduce<T, 6>(exec::seq, m_row.extent(0), io, [&](index_t i, auto tag, const auto& r_lp,
                                                                         const auto& r_old, const auto& r_adv,
                                                                         const auto& r_m, const auto& r_h,
                                                                         const auto& r_beh, const auto& w_grad,
                                                                         const auto& w_gent) {
      using V = typename decltype(tag)::type;
      const auto valid = r_m.template load<V>(i) != V(0);
      const V x = r_lp.template load<V>(i), a = r_adv.template load<V>(i);
      const V raw = x - r_old.template load<V>(i);
      V d, pass;  // log-ratio and ∂d/∂logp
      if constexpr (K == objective::gspo) {
        d = V(gspo_d);
        pass = V(gspo_pass);
      } else {
        d = clamp_(raw, V(-20), V(20));
        pass = indicator_<V>(abs_(raw) <= V(20));
      }
      const V rho = exp_(d);
      const V rho_c = clamp_(rho, V(lo), V(hi));
      V pg, dpg, clipped, lower;
      if constexpr (K == objective::cispo) {
        pg = -rho_c * a * x;
        dpg = -rho_c * a;
        clipped = indicator_<V>(rho > V(hi));
        lower = indicator_<V>(rho < V(lo));
      } else {
        const V l1 = -a * rho, l2 = -a * rho_c;
        const auto clip_active = l2 > l1;
        const V c1 = select_(clip_active, l2, l1);  // ∂l1/∂d = l1; ∂l2/∂d = l1 inside the clamp, else 0
        const V dc1 = select_(clip_active, l1 * indicator_<V>((rho >= V(lo)) & (rho <= V(hi))), l1);
        clipped = indicator_<V>(clip_active);
        if constexpr (K == objective::clip) {
          const V l3 = -a * V(dual_c);
          const auto dual = (a < V(0)) & (c1 > l3);
          pg = select_(dual, l3, c1);
          dpg = select_(dual, V(0), dc1) * pass;
          lower = indicator_<V>(dual);
        } else {
          pg = c1;
          dpg = dc1 * pass;
          lower = V(0);
        }
      }
      if (has_behaviour) {
        const V tis = min_(exp_(clamp_(r_old.template load<V>(i) - r_beh.template load<V>(i), V(-20), V(20))), V(cap));
        pg = pg * tis;
        dpg = dpg * tis;
      }
      const V zero(0);
      w_grad.store(i, select_(valid, V(w) * dpg, zero));
      V h = zero;
      if (has_entropy) {
        h = r_h.template load<V>(i);
        w_gent.store(i, select_(valid, V(w_ent), zero));
      } else {
        w_gent.store(i, zero);
      }
      const V neg_kl = K == objective::gspo ? -raw : -d;
      return std::array<V, 6>{select_(valid, pg, zero), select_(valid, clipped, zero), select_(valid, neg_kl, zero),
                              select_(valid, lower, zero), select_(valid, V(1), zero), select_(valid, h, zero)};
    });
    sums<6> r = s;
    r.value[0] *= w_b;
    r.value[5] *= w_b;
    return r;
  };
  auto total = [&](auto kind) {
    return sum_over_rows<6>(policy, rows, [&](index_t b) { return row_sums(b, kind); });
  };
  sums<6> s;
  switch (opts.kind) {
    case objective::clip: s = total(std::integral_constant<objective, objective::clip>{}); break;
    case objective::gspo: s = total(std::integral_constant<objective, objective::gspo>{}); break;
    case objective::cispo: s = total(std::integral_constant<objective, objective::cispo>{}); break;
  }
  reducer.all_reduce_sum(std::span<double>(s.value));
  result res;
  res.pg_loss = s[0];
  res.entropy = s[5];
  res.loss = s[0] - ent_coeff * s[5];
  res.clipfrac = masked_mean(s[1], s[4]);
  res.approx_kl = masked_mean(s[2], s[4]);
  res.clipfrac_lower = masked_mean(s[3], s[4]);
  res.tokens = s[4];
  return res;
}

}  // namespace detail

/// Fused PPO policy loss over a padded `[B, T]` batch (every token argument a rank-2 tensor of
/// the same shape; mask nonzero = valid). Writes the requested gradients in one pass over the
/// tokens (plus one pass over the mask when a denominator must be counted, and a read of each
/// row before its pass for gspo and seq_mean_token_mean). The gradient is this call's share:
/// summed over micro-batches or shards with global denominators it is the full-batch gradient.
/// `reducer` sums the counts and the returned metrics over shards.
/// Errors: shape_error.103 (an argument's shape differs from the mask's), domain_error.201
/// (non-finite log_prob, old_log_prob or advantages under check_finite), domain_error.202
/// (clip_ratio < 0, clip_ratio_low ∉ [0, 1), clip_ratio_high < 0, clip_ratio_c ≤ 1,
/// entropy_coeff < 0, tis_cap ≤ 0, a negative global denominator), domain_error.230 (tis_cap
/// without behaviour_log_prob or the reverse).
template <exec::execution_policy Exec, matrix_like LP, class Old, class Adv, class Mask,
          class T = alignkit::detail::compute_t<LP>, reducer R = local_reducer>
result loss(const Exec& policy, const LP& log_prob, const Old& old_log_prob, const Adv& advantages, const Mask& mask,
            const options& opts = {}, const outputs<T, 2>& out = {}, const optional_inputs<T, 2>& extra = {},
            R&& reducer = R{}) {
  const auto m = view_of(mask);
  return detail::run<T>(policy, alignkit::detail::make_padded_layout(m), view_of(log_prob), view_of(old_log_prob),
                        view_of(advantages), m, opts, out, extra, reducer);
}

/// As above over a packed batch: every token argument is rank-1 `[N]`, sequences given by
/// CSR offsets (errors as above, plus shape_error.101 for a length other than N and
/// shape_error.104 / domain_error.204 for bad offsets).
template <exec::execution_policy Exec, class Offsets, vector_like LP, class Old, class Adv, class Mask,
          class T = alignkit::detail::compute_t<LP>, reducer R = local_reducer>
result loss(const Exec& policy, const packed<Offsets>& layout, const LP& log_prob, const Old& old_log_prob,
            const Adv& advantages, const Mask& mask, const options& opts = {}, const outputs<T, 1>& out = {},
            const optional_inputs<T, 1>& extra = {}, R&& reducer = R{}) {
  const auto m = view_of(mask);
  return detail::run<T>(policy, alignkit::detail::make_packed_layout(detail::fn, layout, m), view_of(log_prob),
                        view_of(old_log_prob), view_of(advantages), m, opts, out, extra, reducer);
}

/// Sequential overloads.
template <alignkit::detail::data_argument LP, class Old, class Adv, class Mask,
          class T = alignkit::detail::compute_t<LP>, reducer R = local_reducer>
  requires matrix_like<LP>
result loss(const LP& log_prob, const Old& old_log_prob, const Adv& advantages, const Mask& mask,
            const options& opts = {}, const outputs<T, 2>& out = {}, const optional_inputs<T, 2>& extra = {},
            R&& reducer = R{}) {
  return loss(exec::seq, log_prob, old_log_prob, advantages, mask, opts, out, extra, reducer);
}
template <class Offsets, vector_like LP, class Old, class Adv, class Mask, class T = alignkit::detail::compute_t<LP>,
          reducer R = local_reducer>
result loss(const packed<Offsets>& layout, const LP& log_prob, const Old& old_log_prob, const Adv& advantages,
            const Mask& mask, const options& opts = {}, const outputs<T, 1>& out = {},
            const optional_inputs<T, 1>& extra = {}, R&& reducer = R{}) {
  return loss(exec::seq, layout, log_prob, old_log_prob, advantages, mask, opts, out, extra, reducer);
}

}  // namespace ppo

ALIGNKIT_END_NAMESPACE
