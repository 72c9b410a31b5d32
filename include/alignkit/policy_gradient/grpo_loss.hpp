/// @file grpo_loss.hpp
/// @brief The GRPO policy loss with the KL term in the loss, fused forward and backward, with
/// TRL's three normalisations (grpo, bnpo, dr_grpo), token- or sequence-level importance
/// weights, clip-higher and the two-sided delta bound.
///
/// Per valid token of sequence i, with log-probs π, old, ref and the sequence advantage A_i:
///   w = exp(π − old)                                   (importance_level::token)
///   w = exp(Σ_t (π − old)·m / max(n_i, 1))             (importance_level::sequence, GSPO)
///   c2 = clamp(w, 1 − ε_low, 1 + ε_high),  c1 = delta ? min(w, delta) : w
///   kl = exp(ref − π) − (ref − π) − 1                  (k3, not clamped)
///   ℓ = −min(c1·A_i, c2·A_i) + β·kl
///   grpo:    loss = Σ_i [Σ_t ℓ·m / max(n_i, 1)] / S     (S = B: every row counts, empty ones too)
///   bnpo:    loss = Σ ℓ·m / max(Σ m, 1)
///   dr_grpo: loss = Σ ℓ·m / (S·L)                      (L = max_completion_length)
///   ∂loss/∂π_t = W_i·m_t·(−∂min/∂w·w + β·(1 − exp(ref − π)))   (W_i: the row weight above;
///   the same formula for both importance levels because A and w are constant within a row)
/// There is no clamp on π − old or ref − π (TRL parity): ratios beyond exp's range overflow.
/// Papers: GRPO, Shao et al. 2024 (arXiv:2402.03300); Dr. GRPO, Liu et al. 2025
/// (arXiv:2503.20783); clip-higher, DAPO, Yu et al. 2025 (arXiv:2503.14476); delta, two-sided
/// clipping, INTELLECT-2 report, Prime Intellect 2025 (arXiv:2505.07291); GSPO, Zheng et al. 2025
/// (arXiv:2507.18071). Parity: TRL `GRPOTrainer._compute_loss` (golden op `grpo_loss`).
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <span>
#include <tuple>

#include "../core/aggregation.hpp"
#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/reducer.hpp"
#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace grpo {

/// TRL's normalisations of the summed token losses.
enum class loss_type { grpo, bnpo, dr_grpo };
/// One importance weight per token or per sequence.
enum class importance_level { token, sequence };

/// Hyperparameters; the defaults are TRL's (loss_type: the paper's grpo).
struct options {
  loss_type type = loss_type::grpo;
  double beta = 0.0;                                  ///< KL coefficient β ≥ 0
  double epsilon_low = 0.2;                           ///< ε_low in [0, 1)
  std::optional<double> epsilon_high;                 ///< ε_high ≥ 0 (default ε_low)
  std::optional<double> delta;                        ///< upper bound of w in the unclipped term (> 0)
  importance_level level = importance_level::token;
  std::optional<double> max_completion_length;        ///< L of dr_grpo (default: padded T) > 0
  global_denominators denominators;  ///< sequences (S of grpo and dr_grpo) and tokens (bnpo) of the step
  bool check_finite = false;         ///< raise domain_error.201 on a non-finite input
};

/// What a trainer logs (TRL's names). With a reducer, the global values over all shards.
struct result {
  double loss = 0;
  double mean_kl = 0;            ///< Σ kl·m / Σ m (0 when β = 0 or no token is valid)
  double clip_ratio_low = 0;     ///< share of tokens with w < 1 − ε_low and A < 0
  double clip_ratio_high = 0;    ///< share of tokens with w > 1 + ε_high and A > 0
  double clip_ratio_region = 0;  ///< either of the two
  double tokens = 0;             ///< Σ m
};

/// Optional outputs: rank 2 for padded calls, rank 1 for packed calls.
template <class T, std::size_t Rank = 2>
struct outputs {
  strided_view<T, Rank> grad_logps;    ///< ∂loss/∂π (0 at masked tokens)
  strided_view<T, Rank> per_token_kl;  ///< kl at every position, masked ones included (0 when β = 0)
};

namespace detail {

inline constexpr const char* fn = "grpo::loss";

template <class T, class Exec, class Rows, class LP, class Old, class Ref, class Adv, class Mask, class R,
          std::size_t Rank>
result run(const Exec& policy, const Rows& rows, const LP& lp, const Old& old, const Ref& ref, const Adv& adv,
           const Mask& mask, const options& opts, const outputs<T, Rank>& out, R& reducer) {
  using namespace alignkit::detail;
  rows.check(fn, "per_token_logps", lp);
  rows.check(fn, "old_per_token_logps", old);
  rows.check(fn, "ref_per_token_logps", ref);
  check_same_size(fn, "advantages", adv.extent(0), "the number of sequences", rows.rows());
  if (out.grad_logps.data_handle()) rows.check(fn, "grad_logps", out.grad_logps);
  if (out.per_token_kl.data_handle()) rows.check(fn, "per_token_kl", out.per_token_kl);
  check_range(fn, "beta", opts.beta, 0.0, HUGE_VAL);
  check_range(fn, "epsilon_low", opts.epsilon_low, 0.0, 1.0, false, true);
  const double eps_high = opts.epsilon_high.value_or(opts.epsilon_low);
  check_range(fn, "epsilon_high", eps_high, 0.0, HUGE_VAL);
  if (opts.delta) check_range(fn, "delta", *opts.delta, 0.0, HUGE_VAL, true);
  const double horizon = opts.max_completion_length.value_or(static_cast<double>(rows.horizon()));
  check_range(fn, "max_completion_length", horizon, 0.0, HUGE_VAL, true);
  for (auto [name, value] : {std::pair{"global_denominators.tokens", opts.denominators.tokens},
                             std::pair{"global_denominators.sequences", opts.denominators.sequences}})
    if (value) check_range(fn, name, *value, 0.0, HUGE_VAL, false, true);
  if (opts.check_finite) {
    check_finite(fn, "advantages", adv);
    for (index_t b = 0; b < rows.rows(); ++b) {
      check_finite(fn, "per_token_logps", rows.row(lp, b));
      check_finite(fn, "old_per_token_logps", rows.row(old, b));
      check_finite(fn, "ref_per_token_logps", rows.row(ref, b));
    }
  }

  // Denominators: S (sequences, all rows) and Σ m, summed over shards unless given.
  double sequences = opts.denominators.sequences.value_or(0), tokens = opts.denominators.tokens.value_or(0);
  const bool count_tokens = opts.type == loss_type::bnpo && !opts.denominators.tokens;
  const bool count_sequences = opts.type != loss_type::bnpo && !opts.denominators.sequences;
  if (count_tokens || count_sequences) {
    std::array<double, 2> counts{static_cast<double>(rows.rows()), 0.0};
    if (count_tokens)
      counts[1] = sum_over_rows<1>(policy, rows, [&](index_t b) { return sums<1>{{count_valid(rows.row(mask, b))}}; })[0];
    reducer.all_reduce_sum(std::span<double>(counts));
    if (count_sequences) sequences = counts[0];
    if (count_tokens) tokens = counts[1];
  }
  auto inverse = [](double d) { return d > 0 ? 1.0 / d : 0.0; };
  const double scale = opts.type == loss_type::grpo   ? inverse(sequences)
                       : opts.type == loss_type::bnpo ? inverse(std::max(tokens, 1.0))
                                                      : inverse(sequences * horizon);
  const bool per_row_count = opts.type == loss_type::grpo || opts.level == importance_level::sequence;
  const bool sequence_level = opts.level == importance_level::sequence;
  const bool has_delta = opts.delta.has_value();
  const T lo = static_cast<T>(1.0 - opts.epsilon_low), hi = static_cast<T>(1.0 + eps_high);
  const T delta = static_cast<T>(opts.delta.value_or(0.0)), beta = static_cast<T>(opts.beta);
  const bool with_kl = opts.beta != 0;

  // Per row: [Σ W·ℓ·m, Σ kl·m, Σ low·m, Σ high·m, Σ region·m, Σ m].
  auto s = sum_over_rows<6>(policy, rows, [&](index_t b) {
    const auto m_row = rows.row(mask, b);
    const auto lp_row = rows.row(lp, b);
    const auto old_row = rows.row(old, b);
    const double n_b = per_row_count ? count_valid(m_row) : 0.0;
    double seq_log_ratio = 0;
    if (sequence_level) {
      for (index_t t = 0; t < m_row.extent(0); ++t)
        if (mask_valid(m_row(t))) seq_log_ratio += static_cast<double>(lp_row(t)) - static_cast<double>(old_row(t));
      seq_log_ratio /= std::max(n_b, 1.0);
    }
    const double w_b = opts.type == loss_type::grpo ? scale / std::max(n_b, 1.0) : scale;
    const T w_row = static_cast<T>(w_b), a_b = static_cast<T>(adv(b));
    const T seq_ratio = static_cast<T>(std::exp(seq_log_ratio));
    const std::tuple io{make_reader<T>(lp_row),         make_reader<T>(old_row),
                        make_reader<T>(rows.row(ref, b)), make_reader<T>(m_row),
                        make_writer<T>(rows.row(out.grad_logps, b)), make_writer<T>(rows.row(out.per_token_kl, b))};
    auto row = map_reduce<T, 6>(exec::seq, m_row.extent(0), io, [&](index_t i, auto tag, const auto& r_lp,
                                                                     const auto& r_old, const auto& r_ref,
                                                                     const auto& r_m, const auto& w_grad,
                                                                     const auto& w_kl) {
      using V = typename decltype(tag)::type;
      const auto valid = r_m.template load<V>(i) != V(0);
      const V x = r_lp.template load<V>(i), a(a_b), zero(0);
      const V w = sequence_level ? V(seq_ratio) : exp_(x - r_old.template load<V>(i));
      const V c2 = min_(max_(w, V(lo)), V(hi));
      const V dc2 = indicator_<V>((w >= V(lo)) & (w <= V(hi)));
      const V c1 = has_delta ? min_(w, V(delta)) : w;
      const V dc1 = has_delta ? indicator_<V>(w <= V(delta)) : V(1);
      const V p1 = c1 * a, p2 = c2 * a;
      const auto first = p1 <= p2;
      V loss = -select_(first, p1, p2);
      V grad = -select_(first, dc1, dc2) * a * w;
      V kl = zero;
      if (with_kl) {
        const V d = r_ref.template load<V>(i) - x;
        const V e = exp_(d);
        kl = e - d - V(1);
        loss = loss + V(beta) * kl;
        grad = grad + V(beta) * (V(1) - e);
      }
      w_kl.store(i, kl);
      w_grad.store(i, select_(valid, V(w_row) * grad, zero));
      const V low = indicator_<V>((w < V(lo)) & (a < zero)), high = indicator_<V>((w > V(hi)) & (a > zero));
      return std::array<V, 6>{select_(valid, loss, zero), select_(valid, kl, zero), select_(valid, low, zero),
                              select_(valid, high, zero), select_(valid, max_(low, high), zero),
                              select_(valid, V(1), zero)};
    });
    row.value[0] *= w_b;
    return row;
  });
  reducer.all_reduce_sum(std::span<double>(s.value));
  const double valid = std::max(s[5], 1.0);
  return {s[0], s[1] / valid, s[2] / valid, s[3] / valid, s[4] / valid, s[5]};
}

}  // namespace detail

/// Fused GRPO loss over a padded `[B, T]` batch (log-prob arguments rank 2 of the mask's shape,
/// advantages `[B]`): one pass over the tokens (plus a mask pass when bnpo counts its tokens,
/// and a read of each row's mask first for grpo and sequence-level weights). The gradient is
/// this call's share; `reducer` sums counts and metrics over shards.
/// Errors: shape_error.101 (advantages not [B]), shape_error.103 (a token argument's shape
/// differs from the mask's), domain_error.201 (non-finite input under check_finite),
/// domain_error.202 (β < 0, ε_low ∉ [0, 1), ε_high < 0, delta ≤ 0, max_completion_length ≤ 0,
/// a negative global denominator).
template <exec::execution_policy Exec, matrix_like LP, class Old, class Ref, vector_like Adv, class Mask,
          class T = alignkit::detail::compute_t<LP>, reducer R = local_reducer>
result loss(const Exec& policy, const LP& per_token_logps, const Old& old_per_token_logps, const Ref& ref_per_token_logps,
            const Adv& advantages, const Mask& mask, const options& opts = {}, const outputs<T, 2>& out = {},
            R&& reducer = R{}) {
  const auto m = view_of(mask);
  return detail::run<T>(policy, alignkit::detail::make_padded_layout(m), view_of(per_token_logps),
                        view_of(old_per_token_logps), view_of(ref_per_token_logps), view_of(advantages), m, opts, out,
                        reducer);
}
/// As above over a packed batch (rank-1 `[N]` token arguments and CSR offsets; adds
/// shape_error.104 and domain_error.204; L defaults to the longest sequence).
template <exec::execution_policy Exec, class Offsets, vector_like LP, class Old, class Ref, vector_like Adv, class Mask,
          class T = alignkit::detail::compute_t<LP>, reducer R = local_reducer>
result loss(const Exec& policy, const packed<Offsets>& layout, const LP& per_token_logps, const Old& old_per_token_logps,
            const Ref& ref_per_token_logps, const Adv& advantages, const Mask& mask, const options& opts = {},
            const outputs<T, 1>& out = {}, R&& reducer = R{}) {
  const auto m = view_of(mask);
  return detail::run<T>(policy, alignkit::detail::make_packed_layout(detail::fn, layout, m), view_of(per_token_logps),
                        view_of(old_per_token_logps), view_of(ref_per_token_logps), view_of(advantages), m, opts, out,
                        reducer);
}
/// Sequential overloads.
template <alignkit::detail::data_argument LP, class Old, class Ref, vector_like Adv, class Mask,
          class T = alignkit::detail::compute_t<LP>, reducer R = local_reducer>
  requires matrix_like<LP>
result loss(const LP& per_token_logps, const Old& old_per_token_logps, const Ref& ref_per_token_logps,
            const Adv& advantages, const Mask& mask, const options& opts = {}, const outputs<T, 2>& out = {},
            R&& reducer = R{}) {
  return loss(exec::seq, per_token_logps, old_per_token_logps, ref_per_token_logps, advantages, mask, opts, out, reducer);
}
template <class Offsets, vector_like LP, class Old, class Ref, vector_like Adv, class Mask,
          class T = alignkit::detail::compute_t<LP>, reducer R = local_reducer>
result loss(const packed<Offsets>& layout, const LP& per_token_logps, const Old& old_per_token_logps,
            const Ref& ref_per_token_logps, const Adv& advantages, const Mask& mask, const options& opts = {},
            const outputs<T, 1>& out = {}, R&& reducer = R{}) {
  return loss(exec::seq, layout, per_token_logps, old_per_token_logps, ref_per_token_logps, advantages, mask, opts, out,
              reducer);
}

}  // namespace grpo

ALIGNKIT_END_NAMESPACE
