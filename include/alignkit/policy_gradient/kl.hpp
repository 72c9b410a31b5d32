/// @file kl.hpp
/// @brief KL regularisation toward a reference policy as four independent choices: the
/// estimator, the gradient mode, the placement (in the reward or in the loss) and the
/// controller of the coefficient β.
///
/// Estimators of KL(π‖π_ref) per sampled token, x = logp − ref_logp (Schulman 2020, "Approximating
/// KL divergence", http://joschu.net/blog/kl-approx.html):
///   k1 (verl "kl")          x                                      ∂/∂logp = 1
///   abs                     |x|                                    sign(x) (0 at 0)
///   k2 (verl "mse")         ½x²                                    x
///   k3 (verl "low_var_kl")  clamp(e^k − k − 1, −10, 10), k = clamp(−x, −20, 20)
///                                                                  1 − e^k (0 where a clamp is active)
/// Gradient modes, for the loss placement:
///   plain               ∂k/∂logp
///   straight_through    value k, gradient x: the k2 gradient (verl "k3+", "k1+", …)
///   importance_weighted value ρ·k, gradient ∂(ρ·k)/∂logp = ρ·(k + ∂k/∂logp), ρ = exp(clamp(logp −
///                       old_logp, −20, 20)) (TRL `use_bias_correction_kl`; Zhang et al. 2025,
///                       arXiv:2505.17508)
/// Which combinations give an unbiased per-token gradient of KL(π‖π_ref)? (y ~ π_old; on-policy
/// when π_old = π; `unbiased()` answers it in code). ∇KL(π‖π_ref) = E_π[x·∇logp]:
///   reward, k1 or k3        unbiased: E_π[k1] = E_π[k3] = KL, the policy gradient carries it
///                           (InstructGPT, verl use_kl_in_reward); k2 and abs are biased values
///   loss, plain k1          biased: E_π[∇logp] = 0, the term does nothing in expectation
///   loss, plain k2          unbiased on-policy: ∇½x² = x·∇logp
///   loss, plain k3          biased: E_π[(1 − π_ref/π)∇logp] = ∇KL(π_ref‖π), the reverse KL
///                           (verl issue 2953, TRL issue 4967, OpenRLHF issue 1309)
///   loss, straight_through  unbiased on-policy for every estimator (the k2 gradient)
///   loss, importance_wtd    unbiased for k1 and k3 even off-policy: E_π_old[ρ·k] = E_π[k] = KL
/// (All of these are per-token; the sequence-level KL gradient adds future-token terms that
/// token-level implementations drop as well.) The k3 clamps and the ρ clamp bias extreme tokens.
/// Placement in the reward (`token_rewards`): r_{b,t} = score_b·1[t = last valid token of b]
/// − β·k_{b,t}·m_{b,t} (verl `apply_kl_penalty`; Ziegler et al. 2019, arXiv:1909.08593).
/// Placement in the loss (`loss`): β·agg(k) with any aggregation mode (verl use_kl_loss).
/// Controllers (Ziegler et al. 2019): fixed β, or adaptive β ← β·(1 + clip(KL/target − 1,
/// −0.2, 0.2)·n_steps/horizon).
/// Parity: verl `kl_penalty` (golden op `kl_penalty`), `apply_kl_penalty`,
/// `AdaptiveKLController` / `FixedKLController` (golden op `kl_controller`).
#pragma once

#include <array>
#include <cmath>
#include <span>
#include <string_view>
#include <tuple>
#include <type_traits>

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

namespace kl {

/// Per-token estimator of KL(π‖π_ref).
enum class estimator { k1, abs, k2, k3 };
/// How the gradient of a KL loss term is formed.
enum class gradient_mode { plain, straight_through, importance_weighted };
/// Where the KL term enters.
enum class placement { reward, loss };

/// An estimator and a gradient mode, as parsed from a verl name.
struct penalty_kind {
  estimator est = estimator::k3;
  gradient_mode mode = gradient_mode::plain;
};

/// Parses verl's names: kl|k1, abs, mse|k2, low_var_kl|k3, each optionally suffixed with "+"
/// (straight-through). [domain_error.231] otherwise.
inline penalty_kind parse_penalty(std::string_view name) {
  const bool straight = !name.empty() && name.back() == '+';
  const std::string_view base = straight ? name.substr(0, name.size() - 1) : name;
  const gradient_mode mode = straight ? gradient_mode::straight_through : gradient_mode::plain;
  if (base == "kl" || base == "k1") return {estimator::k1, mode};
  if (base == "abs") return {estimator::abs, mode};
  if (base == "mse" || base == "k2") return {estimator::k2, mode};
  if (base == "low_var_kl" || base == "k3") return {estimator::k3, mode};
  detail::raise<domain_error>(231, "kl::parse_penalty: unknown KL penalty '", name,
                              "', expected kl, k1, abs, mse, k2, low_var_kl or k3, optionally followed by '+'");
}

/// Whether the combination gives an unbiased per-token gradient of KL(π‖π_ref) (see the file
/// comment; `on_policy`: the tokens were sampled from the current π).
constexpr bool unbiased(estimator e, gradient_mode m, placement p, bool on_policy) noexcept {
  const bool unbiased_value = e == estimator::k1 || e == estimator::k3;
  if (p == placement::reward) return unbiased_value;
  switch (m) {
    case gradient_mode::plain: return e == estimator::k2 && on_policy;
    case gradient_mode::straight_through: return on_policy;
    case gradient_mode::importance_weighted: return unbiased_value;
  }
  return false;
}

namespace detail {

using alignkit::detail::abs_;
using alignkit::detail::exp_;
using alignkit::detail::indicator_;
using alignkit::detail::max_;
using alignkit::detail::min_;
using alignkit::detail::select_;

template <class V>
struct value_grad {
  V value, grad;  ///< the per-token term and its derivative w.r.t. logp
};

/// Estimator E at x = logp − ref_logp, and d/dlogp.
template <estimator E, class V>
value_grad<V> estimate(const V& x) {
  if constexpr (E == estimator::k1) {
    return {x, V(1)};
  } else if constexpr (E == estimator::abs) {
    return {abs_(x), indicator_<V>(x > V(0)) - indicator_<V>(x < V(0))};
  } else if constexpr (E == estimator::k2) {
    return {V(0.5) * x * x, x};
  } else {
    const V k = min_(max_(-x, V(-20)), V(20));
    const V e = exp_(k);
    const V raw = e - k - V(1);
    const V value = min_(max_(raw, V(-10)), V(10));
    return {value, select_((abs_(x) <= V(20)) & (raw <= V(10)) & (raw >= V(-10)), V(1) - e, V(0))};
  }
}

/// The term and its gradient under gradient mode M; `log_ratio` = logp − old_logp (only read
/// by importance_weighted).
template <estimator E, gradient_mode M, class V>
value_grad<V> term(const V& x, const V& log_ratio) {
  const auto k = estimate<E>(x);
  if constexpr (M == gradient_mode::plain) {
    return k;
  } else if constexpr (M == gradient_mode::straight_through) {
    return {k.value, x};
  } else {
    const V rho = exp_(min_(max_(log_ratio, V(-20)), V(20)));
    const V pass = indicator_<V>(abs_(log_ratio) <= V(20));
    return {rho * k.value, rho * (k.grad + pass * k.value)};
  }
}

/// Calls f(integral_constant<estimator>, integral_constant<gradient_mode>) for the runtime pair.
template <class F>
decltype(auto) dispatch(penalty_kind kind, F&& f) {
  auto with_mode = [&](auto e) -> decltype(auto) {
    switch (kind.mode) {
      case gradient_mode::straight_through:
        return f(e, std::integral_constant<gradient_mode, gradient_mode::straight_through>{});
      case gradient_mode::importance_weighted:
        return f(e, std::integral_constant<gradient_mode, gradient_mode::importance_weighted>{});
      default: return f(e, std::integral_constant<gradient_mode, gradient_mode::plain>{});
    }
  };
  switch (kind.est) {
    case estimator::k1: return with_mode(std::integral_constant<estimator, estimator::k1>{});
    case estimator::abs: return with_mode(std::integral_constant<estimator, estimator::abs>{});
    case estimator::k2: return with_mode(std::integral_constant<estimator, estimator::k2>{});
    default: return with_mode(std::integral_constant<estimator, estimator::k3>{});
  }
}

/// A rank-1 view as a one-row rank-2 view, so that every kernel here walks rows.
template <class View>
auto as_rows(const View& v) {
  if constexpr (View::rank() == 2) {
    return v;
  } else {
    return strided_view<typename View::element_type, 2, typename View::accessor_type>(
        v.data_handle(), {1, v.extent(0)}, {0, v.stride(0)}, v.accessor());
  }
}

/// [domain_error.232] importance_weighted needs old_logprob.
inline void check_old(std::string_view fn, gradient_mode m, bool has_old) {
  if (m == gradient_mode::importance_weighted && !has_old)
    alignkit::detail::raise<domain_error>(232, fn, ": gradient_mode importance_weighted needs old_logprob");
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Elementwise estimator values and gradients.

/// Sum of the per-token terms (no mask): what `penalty` returns.
struct penalty_result {
  double sum = 0;  ///< Σ k over every element
};

/// Optional outputs of `penalty`, shaped like logprob.
template <class T, std::size_t Rank = 2>
struct penalty_outputs {
  strided_view<T, Rank> kld;   ///< per-token term (ρ·k under importance_weighted)
  strided_view<T, Rank> grad;  ///< its derivative w.r.t. logprob under the gradient mode
};

namespace detail {

template <class T, class Exec, class LP, class Ref, class Old, std::size_t Rank>
penalty_result run_penalty(const Exec& policy, const LP& lp, const Ref& ref, const Old& old, penalty_kind kind,
                           const penalty_outputs<T, Rank>& out) {
  using namespace alignkit::detail;
  constexpr const char* fn = "kl::penalty";
  const auto lp2 = as_rows(lp);
  const auto ref2 = as_rows(ref);
  const auto old2 = as_rows(old);
  const padded_layout rows{lp2.extent(0), lp2.extent(1)};
  rows.check(fn, "ref_logprob", ref2);
  const bool has_old = old.data_handle() != nullptr;
  if (has_old) rows.check(fn, "old_logprob", old2);
  check_old(fn, kind.mode, has_old);
  const auto kld2 = as_rows(out.kld);
  const auto grad2 = as_rows(out.grad);
  if (out.kld.data_handle()) rows.check(fn, "kld", kld2);
  if (out.grad.data_handle()) rows.check(fn, "grad", grad2);
  const auto s = dispatch(kind, [&](auto e, auto m) {
    constexpr estimator E = decltype(e)::value;
    constexpr gradient_mode M = decltype(m)::value;
    return sum_over_rows<1>(policy, rows, [&](index_t b) {
      const std::tuple io{make_reader<T>(lp2.row(b)), make_reader<T>(ref2.row(b)), make_reader<T>(old2.row(b)),
                          make_writer<T>(kld2.row(b)), make_writer<T>(grad2.row(b))};
      return map_reduce<T, 1>(exec::seq, rows.n_cols, io, [&](index_t i, auto tag, const auto& r_lp, const auto& r_ref,
                                                              const auto& r_old, const auto& w_kld, const auto& w_grad) {
        using V = typename decltype(tag)::type;
        const V x = r_lp.template load<V>(i);
        const V lr = M == gradient_mode::importance_weighted ? x - r_old.template load<V>(i) : V(0);
        const auto t = term<E, M>(x - r_ref.template load<V>(i), lr);
        w_kld.store(i, t.value);
        w_grad.store(i, t.grad);
        return std::array<V, 1>{t.value};
      });
    });
  });
  return {s[0]};
}

}  // namespace detail

/// Per-token KL terms and their gradients w.r.t. logprob, elementwise over `[B, T]` or `[N]`
/// (no mask: every element counts), in one pass. `old_logprob` is read only by
/// importance_weighted. Errors: shape_error.103 (shapes differ), domain_error.232
/// (importance_weighted without old_logprob).
template <exec::execution_policy Exec, tensor_like LP, class Ref, class T = alignkit::detail::compute_t<LP>,
          std::size_t Rank = view_t<const LP>::rank()>
penalty_result penalty(const Exec& policy, const LP& logprob, const Ref& ref_logprob, penalty_kind kind = {},
                       const penalty_outputs<T, Rank>& out = {}, strided_view<const T, Rank> old_logprob = {}) {
  return detail::run_penalty<T>(policy, view_of(logprob), view_of(ref_logprob), old_logprob, kind, out);
}
/// Sequential overload.
template <alignkit::detail::data_argument LP, class Ref, class T = alignkit::detail::compute_t<LP>,
          std::size_t Rank = view_t<const LP>::rank()>
penalty_result penalty(const LP& logprob, const Ref& ref_logprob, penalty_kind kind = {},
                       const penalty_outputs<T, Rank>& out = {}, strided_view<const T, Rank> old_logprob = {}) {
  return penalty(exec::seq, logprob, ref_logprob, kind, out, old_logprob);
}

// ---------------------------------------------------------------------------------------------
// Placement in the loss.

/// Hyperparameters of the KL loss term β·agg(k) (verl use_kl_loss: kl_loss_coef 0.001,
/// kl_loss_type low_var_kl).
struct loss_options {
  double beta = 0.001;                        ///< β ≥ 0
  penalty_kind kind = {};                     ///< estimator and gradient mode
  aggregation agg = aggregation::token_mean;  ///< loss_agg_mode
  global_denominators denominators;           ///< of the whole optimizer step (default: this call)
};

/// What a trainer logs. With a reducer, the global values over all shards.
struct loss_result {
  double loss = 0;    ///< β·agg(k)
  double kl = 0;      ///< agg(k)
  double tokens = 0;  ///< Σ m
};

/// Optional outputs of `loss`: rank 2 for padded calls, rank 1 for packed calls.
template <class T, std::size_t Rank = 2>
struct loss_outputs {
  strided_view<T, Rank> grad_logprob;  ///< ∂loss/∂logprob (0 at masked tokens)
};

namespace detail {

inline constexpr const char* loss_fn = "kl::loss";

template <class T, class Exec, class Rows, class LP, class Ref, class Mask, class Old, class R, std::size_t Rank>
loss_result run_loss(const Exec& policy, const Rows& rows, const LP& lp, const Ref& ref, const Mask& mask,
                     const Old& old, const loss_options& opts, const loss_outputs<T, Rank>& out, R& reducer) {
  using namespace alignkit::detail;
  rows.check(loss_fn, "logprob", lp);
  rows.check(loss_fn, "ref_logprob", ref);
  const bool has_old = old.data_handle() != nullptr;
  if (has_old) rows.check(loss_fn, "old_logprob", old);
  if (out.grad_logprob.data_handle()) rows.check(loss_fn, "grad_logprob", out.grad_logprob);
  check_range(loss_fn, "beta", opts.beta, 0.0, HUGE_VAL);
  check_old(loss_fn, opts.kind.mode, has_old);
  const token_weights weights = make_token_weights(loss_fn, policy, opts.agg, opts.denominators, rows, mask, reducer);
  auto s = dispatch(opts.kind, [&](auto e, auto m) {
    constexpr estimator E = decltype(e)::value;
    constexpr gradient_mode M = decltype(m)::value;
    return sum_over_rows<2>(policy, rows, [&](index_t b) {
      const auto m_row = rows.row(mask, b);
      const double w_b = weights.row(weights.needs_row_counts() ? count_valid(m_row) : 1.0);
      const T w = static_cast<T>(opts.beta * w_b);
      const std::tuple io{make_reader<T>(rows.row(lp, b)), make_reader<T>(rows.row(ref, b)),
                          make_reader<T>(rows.row(old, b)), make_reader<T>(m_row),
                          make_writer<T>(rows.row(out.grad_logprob, b))};
      auto row = map_reduce<T, 2>(exec::seq, m_row.extent(0), io, [&](index_t i, auto tag, const auto& r_lp,
                                                                       const auto& r_ref, const auto& r_old,
                                                                       const auto& r_m, const auto& w_grad) {
        using V = typename decltype(tag)::type;
        const auto valid = r_m.template load<V>(i) != V(0);
        const V x = r_lp.template load<V>(i);
        const V lr = M == gradient_mode::importance_weighted ? x - r_old.template load<V>(i) : V(0);
        const auto t = term<E, M>(x - r_ref.template load<V>(i), lr);
        const V zero(0);
        w_grad.store(i, select_(valid, V(w) * t.grad, zero));
        return std::array<V, 2>{select_(valid, t.value, zero), select_(valid, V(1), zero)};
      });
      row.value[0] *= w_b;
      return row;
    });
  });
  reducer.all_reduce_sum(std::span<double>(s.value));
  return {opts.beta * s[0], s[0], s[1]};
}

}  // namespace detail

/// KL in the loss: β·agg(k) over a padded `[B, T]` batch with its gradient w.r.t. logprob, one
/// fused pass (plus the mask pass of core/aggregation.hpp when a denominator must be counted).
/// `old_logprob` is needed by importance_weighted only. Errors: shape_error.103,
/// domain_error.202 (β < 0, a negative global denominator), domain_error.232.
template <exec::execution_policy Exec, matrix_like LP, class Ref, class Mask, class T = alignkit::detail::compute_t<LP>,
          reducer R = local_reducer>
loss_result loss(const Exec& policy, const LP& logprob, const Ref& ref_logprob, const Mask& mask,
                 const loss_options& opts = {}, const loss_outputs<T, 2>& out = {},
                 matrix_view<const T> old_logprob = {}, R&& reducer = R{}) {
  const auto m = view_of(mask);
  return detail::run_loss<T>(policy, alignkit::detail::make_padded_layout(m), view_of(logprob), view_of(ref_logprob), m,
                             old_logprob, opts, out, reducer);
}
/// As above over a packed batch (rank-1 `[N]` arguments and CSR offsets; adds
/// shape_error.101, shape_error.104, domain_error.204).
template <exec::execution_policy Exec, class Offsets, vector_like LP, class Ref, class Mask,
          class T = alignkit::detail::compute_t<LP>, reducer R = local_reducer>
loss_result loss(const Exec& policy, const packed<Offsets>& layout, const LP& logprob, const Ref& ref_logprob,
                 const Mask& mask, const loss_options& opts = {}, const loss_outputs<T, 1>& out = {},
                 vector_view<const T> old_logprob = {}, R&& reducer = R{}) {
  const auto m = view_of(mask);
  return detail::run_loss<T>(policy, alignkit::detail::make_packed_layout(detail::loss_fn, layout, m), view_of(logprob),
                             view_of(ref_logprob), m, old_logprob, opts, out, reducer);
}
/// Sequential overloads.
template <alignkit::detail::data_argument LP, class Ref, class Mask, class T = alignkit::detail::compute_t<LP>,
          reducer R = local_reducer>
  requires matrix_like<LP>
loss_result loss(const LP& logprob, const Ref& ref_logprob, const Mask& mask, const loss_options& opts = {},
                 const loss_outputs<T, 2>& out = {}, matrix_view<const T> old_logprob = {}, R&& reducer = R{}) {
  return loss(exec::seq, logprob, ref_logprob, mask, opts, out, old_logprob, reducer);
}
template <class Offsets, vector_like LP, class Ref, class Mask, class T = alignkit::detail::compute_t<LP>,
          reducer R = local_reducer>
loss_result loss(const packed<Offsets>& layout, const LP& logprob, const Ref& ref_logprob, const Mask& mask,
                 const loss_options& opts = {}, const loss_outputs<T, 1>& out = {},
                 vector_view<const T> old_logprob = {}, R&& reducer = R{}) {
  return loss(exec::seq, layout, logprob, ref_logprob, mask, opts, out, old_logprob, reducer);
}

// ---------------------------------------------------------------------------------------------
// Placement in the reward.

/// What `token_rewards` returns.
struct rewards_result {
  double mean_kl = 0;  ///< mean over sequences of Σ_t k·m / (Σ_t m + 1e-8) (verl `current_kl`)
};

namespace detail {

inline constexpr const char* rewards_fn = "kl::token_rewards";

template <class T, class Exec, class Rows, class Scores, class LP, class Ref, class Mask, class Out>
rewards_result run_rewards(const Exec& policy, const Rows& rows, const Scores& scores, const LP& lp, const Ref& ref,
                           const Mask& mask, double beta, estimator est, const Out& rewards) {
  using namespace alignkit::detail;
  check_same_size(rewards_fn, "scores", scores.extent(0), "the number of sequences", rows.rows());
  rows.check(rewards_fn, "logprob", lp);
  rows.check(rewards_fn, "ref_logprob", ref);
  rows.check(rewards_fn, "rewards", rewards);
  check_range(rewards_fn, "beta", beta, 0.0, HUGE_VAL);
  const T neg_beta = static_cast<T>(-beta);
  const auto s = dispatch({est, gradient_mode::plain}, [&](auto e, auto) {
    constexpr estimator E = decltype(e)::value;
    return sum_over_rows<1>(policy, rows, [&](index_t b) {
      const auto m_row = rows.row(mask, b);
      const auto out_row = rows.row(rewards, b);
      const std::tuple io{make_reader<T>(rows.row(lp, b)), make_reader<T>(rows.row(ref, b)), make_reader<T>(m_row),
                          make_writer<T>(out_row)};
      const auto row = map_reduce<T, 2>(exec::seq, m_row.extent(0), io, [&](index_t i, auto tag, const auto& r_lp,
                                                                             const auto& r_ref, const auto& r_m,
                                                                             const auto& w_out) {
        using V = typename decltype(tag)::type;
        const auto valid = r_m.template load<V>(i) != V(0);
        const V k = select_(valid, estimate<E>(r_lp.template load<V>(i) - r_ref.template load<V>(i)).value, V(0));
        w_out.store(i, V(neg_beta) * k);
        return std::array<V, 2>{k, select_(valid, V(1), V(0))};
      });
      for (index_t t = m_row.extent(0); t-- > 0;) {
        if (mask_valid(m_row(t))) {
          out_row(t) += static_cast<T>(scores(b));
          break;
        }
      }
      return sums<1>{{row[0] / (row[1] + 1e-8)}};
    });
  });
  return {rows.rows() > 0 ? s[0] / static_cast<double>(rows.rows()) : 0.0};
}

}  // namespace detail

/// KL-shaped token rewards over a padded `[B, T]` batch: rewards = −β·k·m, plus score_b at the
/// last valid token of each sequence (a sequence without a valid token receives no score).
/// `rewards` is a caller-provided `[B, T]` output; one pass over the tokens, then a backward
/// scan of each row's mask tail. Errors: shape_error.101 (scores not [B]), shape_error.103,
/// domain_error.202 (β < 0).
template <exec::execution_policy Exec, vector_like Scores, matrix_like LP, class Ref, class Mask, class Out>
rewards_result token_rewards(const Exec& policy, const Scores& scores, const LP& logprob, const Ref& ref_logprob,
                             const Mask& mask, double beta, estimator est, Out&& rewards) {
  const auto m = view_of(mask);
  const auto out = view_of(rewards);
  return detail::run_rewards<typename decltype(out)::value_type>(policy, alignkit::detail::make_padded_layout(m),
                                                                 view_of(scores), view_of(logprob),
                                                                 view_of(ref_logprob), m, beta, est, out);
}
/// As above over a packed batch (rank-1 `[N]` arguments and CSR offsets).
template <exec::execution_policy Exec, class Offsets, vector_like Scores, vector_like LP, class Ref, class Mask,
          class Out>
rewards_result token_rewards(const Exec& policy, const packed<Offsets>& layout, const Scores& scores,
                             const LP& logprob, const Ref& ref_logprob, const Mask& mask, double beta, estimator est,
                             Out&& rewards) {
  const auto m = view_of(mask);
  const auto out = view_of(rewards);
  return detail::run_rewards<typename decltype(out)::value_type>(
      policy, alignkit::detail::make_packed_layout(detail::rewards_fn, layout, m), view_of(scores), view_of(logprob),
      view_of(ref_logprob), m, beta, est, out);
}
/// Sequential overloads.
template <alignkit::detail::data_argument Scores, matrix_like LP, class Ref, class Mask, class Out>
rewards_result token_rewards(const Scores& scores, const LP& logprob, const Ref& ref_logprob, const Mask& mask,
                             double beta, estimator est, Out&& rewards) {
  return token_rewards(exec::seq, scores, logprob, ref_logprob, mask, beta, est, rewards);
}
template <class Offsets, vector_like Scores, vector_like LP, class Ref, class Mask, class Out>
rewards_result token_rewards(const packed<Offsets>& layout, const Scores& scores, const LP& logprob,
                             const Ref& ref_logprob, const Mask& mask, double beta, estimator est, Out&& rewards) {
  return token_rewards(exec::seq, layout, scores, logprob, ref_logprob, mask, beta, est, rewards);
}

// ---------------------------------------------------------------------------------------------
// Controllers of β.

/// A constant coefficient (verl FixedKLController).
struct fixed_kl_controller {
  double value = 0.001;  ///< β
  /// No-op: a fixed coefficient ignores the measured KL.
  void update(double /*current_kl*/, double /*n_steps*/) noexcept {}
};

/// Proportional controller toward a target KL (Ziegler et al. 2019, arXiv:1909.08593; verl
/// AdaptiveKLController): e = clip(KL/target − 1, −0.2, 0.2), β ← β·(1 + e·n_steps/horizon).
class adaptive_kl_controller {
 public:
  /// Errors: domain_error.202 (init_kl_coef < 0, target_kl ≤ 0, horizon ≤ 0).
  adaptive_kl_controller(double init_kl_coef, double target_kl, double horizon) : value(init_kl_coef), target_(target_kl), horizon_(horizon) {
    constexpr const char* fn = "kl::adaptive_kl_controller";
    alignkit::detail::check_range(fn, "init_kl_coef", init_kl_coef, 0.0, HUGE_VAL);
    alignkit::detail::check_range(fn, "target_kl", target_kl, 0.0, HUGE_VAL, true);
    alignkit::detail::check_range(fn, "horizon", horizon, 0.0, HUGE_VAL, true);
  }
  /// One update with the KL measured over `n_steps` samples.
  void update(double current_kl, double n_steps) noexcept {
    const double e = std::min(std::max(current_kl / target_ - 1.0, -0.2), 0.2);
    value *= 1.0 + e * n_steps / horizon_;
  }
  double value;  ///< β

 private:
  double target_, horizon_;
};

}  // namespace kl

ALIGNKIT_END_NAMESPACE
