/// @file value.hpp
/// @brief Clipped value (critic) loss of PPO, fused forward and backward, under every
/// aggregation mode.
///
/// Per valid token, with prediction v, the rollout's value estimate v_old, return R and clip c:
///   v_c = clamp(v, v_old − c, v_old + c)
///   l1 = (v − R)²,  l2 = (v_c − R)²
///   loss = ½·agg(max(l1, l2))                          (agg: core/aggregation.hpp)
///   ∂loss/∂v = w_b·(v − R) where l1 ≥ l2, else 0 (the clipped branch is constant in v)
///   clip fraction = masked mean of 1[l2 > l1] (verl: Σ x·m / (Σ m + 1e-8))
/// Paper: PPO value clipping as in the OpenAI baselines implementation (Schulman et al. 2017,
/// arXiv:1707.06347; discussed in Engstrom et al. 2020, arXiv:2005.12729).
/// Parity: verl `compute_value_loss` + `agg_loss` (golden op `value_loss`).
#pragma once

#include <array>
#include <cmath>
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

namespace value {

/// Hyperparameters; the defaults are verl's.
struct options {
  double cliprange_value = 0.5;               ///< c ≥ 0
  aggregation agg = aggregation::token_mean;  ///< loss_agg_mode
  global_denominators denominators;           ///< of the whole optimizer step (default: this call)
  bool check_finite = false;                  ///< raise domain_error.201 on a non-finite input
};

/// What a trainer logs. With a reducer, every field is the global value over all shards.
struct result {
  double loss = 0;      ///< ½·agg(max(l1, l2))
  double clipfrac = 0;  ///< masked mean of 1[l2 > l1]
  double tokens = 0;    ///< Σ m
};

/// Optional outputs: rank 2 for padded `[B, T]` calls, rank 1 for packed calls.
template <class T, std::size_t Rank = 2>
struct outputs {
  strided_view<T, Rank> grad_vpreds;  ///< ∂loss/∂v (0 at masked tokens)
};

namespace detail {

inline constexpr const char* fn = "value::loss";

template <class T, class Exec, class Rows, class VP, class VO, class Ret, class Mask, class R, std::size_t Rank>
result run(const Exec& policy, const Rows& rows, const VP& vpreds, const VO& values, const Ret& returns,
           const Mask& mask, const options& opts, const outputs<T, Rank>& out, R& reducer) {
  using namespace alignkit::detail;
  rows.check(fn, "vpreds", vpreds);
  rows.check(fn, "values", values);
  rows.check(fn, "returns", returns);
  if (out.grad_vpreds.data_handle()) rows.check(fn, "grad_vpreds", out.grad_vpreds);
  check_range(fn, "cliprange_value", opts.cliprange_value, 0.0, HUGE_VAL);
  if (opts.check_finite) {
    for (index_t b = 0; b < rows.rows(); ++b) {
      check_finite(fn, "vpreds", rows.row(vpreds, b));
      check_finite(fn, "values", rows.row(values, b));
      check_finite(fn, "returns", rows.row(returns, b));
    }
  }
  const token_weights weights = make_token_weights(fn, policy, opts.agg, opts.denominators, rows, mask, reducer);
  const T c = static_cast<T>(opts.cliprange_value);

  // Per row: [Σ w·½max(l1, l2)·m, Σ 1[l2 > l1]·m, Σ m].
  auto s = sum_over_rows<3>(policy, rows, [&](index_t b) {
    const auto m_row = rows.row(mask, b);
    const double w_b = weights.row(weights.needs_row_counts() ? count_valid(m_row) : 1.0);
    const T w = static_cast<T>(w_b);
    const std::tuple io{make_reader<T>(rows.row(vpreds, b)), make_reader<T>(rows.row(values, b)),
                        make_reader<T>(rows.row(returns, b)), make_reader<T>(m_row),
                        make_writer<T>(rows.row(out.grad_vpreds, b))};
    auto row = map_reduce<T, 3>(exec::seq, m_row.extent(0), io, [&](index_t i, auto tag, const auto& r_v,
                                                                     const auto& r_old, const auto& r_ret,
                                                                     const auto& r_m, const auto& w_grad) {
      using V = typename decltype(tag)::type;
      const auto valid = r_m.template load<V>(i) != V(0);
      const V v = r_v.template load<V>(i), old = r_old.template load<V>(i), ret = r_ret.template load<V>(i);
      const V vc = max_(min_(v, old + V(c)), old - V(c));
      const V e1 = v - ret, e2 = vc - ret;
      const V l1 = e1 * e1, l2 = e2 * e2;
      const auto clipped = l2 > l1;
      const V zero(0);
      w_grad.store(i, select_(valid, select_(clipped, zero, V(w) * e1), zero));
      return std::array<V, 3>{select_(valid, V(0.5) * max_(l1, l2), zero),
                              select_(valid, indicator_<V>(clipped), zero), select_(valid, V(1), zero)};
    });
    row.value[0] *= w_b;
    return row;
  });
  reducer.all_reduce_sum(std::span<double>(s.value));
  return {s[0], masked_mean(s[1], s[2]), s[2]};
}

}  // namespace detail

/// Fused clipped value loss over a padded `[B, T]` batch (every token argument rank 2 of the
/// mask's shape). One pass over the tokens (plus one over the mask when a denominator must be
/// counted, and a read of each row's mask first for seq_mean_token_mean). The gradient is this
/// call's share; `reducer` sums counts and metrics over shards.
/// Errors: shape_error.103 (an argument's shape differs from the mask's), domain_error.201
/// (non-finite input under check_finite), domain_error.202 (cliprange_value < 0, a negative
/// global denominator).
template <exec::execution_policy Exec, matrix_like VP, class VO, class Ret, class Mask,
          class T = alignkit::detail::compute_t<VP>, reducer R = local_reducer>
result loss(const Exec& policy, const VP& vpreds, const VO& values, const Ret& returns, const Mask& mask,
            const options& opts = {}, const outputs<T, 2>& out = {}, R&& reducer = R{}) {
  const auto m = view_of(mask);
  return detail::run<T>(policy, alignkit::detail::make_padded_layout(m), view_of(vpreds), view_of(values),
                        view_of(returns), m, opts, out, reducer);
}

/// As above over a packed batch: rank-1 `[N]` token arguments and CSR offsets (errors as
/// above, plus shape_error.101, shape_error.104 and domain_error.204).
template <exec::execution_policy Exec, class Offsets, vector_like VP, class VO, class Ret, class Mask,
          class T = alignkit::detail::compute_t<VP>, reducer R = local_reducer>
result loss(const Exec& policy, const packed<Offsets>& layout, const VP& vpreds, const VO& values, const Ret& returns,
            const Mask& mask, const options& opts = {}, const outputs<T, 1>& out = {}, R&& reducer = R{}) {
  const auto m = view_of(mask);
  return detail::run<T>(policy, alignkit::detail::make_packed_layout(detail::fn, layout, m), view_of(vpreds),
                        view_of(values), view_of(returns), m, opts, out, reducer);
}

/// Sequential overloads.
template <alignkit::detail::data_argument VP, class VO, class Ret, class Mask,
          class T = alignkit::detail::compute_t<VP>, reducer R = local_reducer>
  requires matrix_like<VP>
result loss(const VP& vpreds, const VO& values, const Ret& returns, const Mask& mask, const options& opts = {},
            const outputs<T, 2>& out = {}, R&& reducer = R{}) {
  return loss(exec::seq, vpreds, values, returns, mask, opts, out, reducer);
}
template <class Offsets, vector_like VP, class VO, class Ret, class Mask, class T = alignkit::detail::compute_t<VP>,
          reducer R = local_reducer>
result loss(const packed<Offsets>& layout, const VP& vpreds, const VO& values, const Ret& returns, const Mask& mask,
            const options& opts = {}, const outputs<T, 1>& out = {}, R&& reducer = R{}) {
  return loss(exec::seq, layout, vpreds, values, returns, mask, opts, out, reducer);
}

}  // namespace value

ALIGNKIT_END_NAMESPACE
