/// @file gae.hpp
/// @brief Generalized advantage estimation: advantages and returns in one reverse scan per
/// sequence, on padded `[B, T]` + mask or packed tokens + CSR offsets, with optional whitening.
///
/// For each sequence, t = T−1 … 0, carries g (running advantage) and nv (next value) start at 0:
///   δ_t = r_t + γ·nv − V_t,   g = δ_t + γλ·g,   A_t = g,   R_t = A_t + V_t
/// Masked tokens (m_t = 0) are handled in one of two ways:
///   masking::skip  (verl)      the carries pass through unchanged: a masked token neither updates
///                              g and nv nor consumes a discount step; A_t is the carried g and
///                              R_t = A_t + V_t with the raw V_t.
///   masking::zero  (OpenRLHF)  r and V are zeroed first (r' = m·r, V' = m·V) and every position
///                              discounts: nv = V'_{t+1}; R_t = A_t + V'_t.
/// Optional whitening of the advantages over the whole batch (whiten.hpp), global through a
/// reducer; the returns always use the raw advantages.
/// Paper: Schulman et al. 2015, "High-Dimensional Continuous Control Using Generalized Advantage
/// Estimation" (arXiv:1506.02438), eq. 16.
/// Parity: verl `compute_gae_advantage_return` + `masked_whiten` (golden op `gae`); OpenRLHF
/// `get_advantages_and_returns` + its advantage normalisation (golden op `gae_openrlhf`).
#pragma once

#include <optional>
#include <vector>

#include "../core/check.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/reducer.hpp"
#include "../core/sequences.hpp"
#include "../core/tensor.hpp"
#include "detail/rows.hpp"
#include "whiten.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace gae {

/// How masked tokens enter the recursion.
enum class masking {
  skip,  ///< verl: carries pass through masked tokens
  zero   ///< OpenRLHF: masked rewards and values are zeroed, and discounting continues
};

/// Hyperparameters; the defaults are the common PPO-RLHF ones.
struct options {
  double gamma = 1.0;  ///< discount γ ∈ [0, 1]
  double lam = 0.95;   ///< GAE λ ∈ [0, 1]
  masking masked = masking::skip;
  /// Whiten the advantages over the batch after the scan (verl: `{}`; OpenRLHF:
  /// `{.style = whitening::convention::openrlhf}`); unset leaves them raw.
  std::optional<whitening::options> whiten;
};

/// Batch statistics of one call.
struct result {
  double valid_tokens = 0;                       ///< Σm of this call (not reduced)
  std::optional<whitening::moments> whitening;  ///< the global moments, when whitened
};

/// Optional outputs shaped like the rewards (a default-constructed view is not written);
/// Rank 2 for padded batches, 1 for packed tokens.
template <class T, std::size_t Rank = 2>
struct outputs {
  strided_view<T, Rank> advantages;  ///< A (whitened when options::whiten is set)
  strided_view<T, Rank> returns;     ///< R = A_raw + V (V' under masking::zero)
};

}  // namespace gae

namespace detail {

/// One sequence, verl convention; returns {Σm, ΣA·m} of the raw advantages.
template <class R, class V, class M, class A, class G>
sums<2> gae_row_skip(const R& r, const V& v, const M& m, const A& adv, const G& ret, double gamma, double gl) {
  const bool write_a = adv.data_handle() != nullptr, write_r = ret.data_handle() != nullptr;
  using EA = typename A::element_type;
  using ER = typename G::element_type;
  double nv = 0, g = 0;
  sums<2> s;
  for (index_t t = r.extent(0); t-- > 0;) {
    const double vt = static_cast<double>(v(t));
    if (mask_valid(m(t))) {
      g = (static_cast<double>(r(t)) + gamma * nv - vt) + gl * g;
      nv = vt;
      s.value[0] += 1;
      s.value[1] += g;
    }
    if (write_a) adv(t) = static_cast<EA>(g);
    if (write_r) ret(t) = static_cast<ER>(g + vt);
  }
  return s;
}

/// One sequence, OpenRLHF convention; returns {Σm, ΣA·m} of the raw advantages.
template <class R, class V, class M, class A, class G>
sums<2> gae_row_zero(const R& r, const V& v, const M& m, const A& adv, const G& ret, double gamma, double gl) {
  const bool write_a = adv.data_handle() != nullptr, write_r = ret.data_handle() != nullptr;
  using EA = typename A::element_type;
  using ER = typename G::element_type;
  double nv = 0, g = 0;
  sums<2> s;
  for (index_t t = r.extent(0); t-- > 0;) {
    const bool valid = mask_valid(m(t));
    const double vt = valid ? static_cast<double>(v(t)) : 0.0;
    const double rt = valid ? static_cast<double>(r(t)) : 0.0;
    g = (rt + gamma * nv - vt) + gl * g;
    nv = vt;
    if (valid) {
      s.value[0] += 1;
      s.value[1] += g;
    }
    if (write_a) adv(t) = static_cast<EA>(g);
    if (write_r) ret(t) = static_cast<ER>(g + vt);
  }
  return s;
}

/// Checks the arguments, runs the scan over all rows of the layout, then the optional whitening
/// of the advantages.
template <class Exec, class Layout, class RV, class VV, class MV, class OV, class Reducer>
gae::result gae_run(const Exec& policy, const Layout& layout, const RV& rv, const VV& vv, const MV& mv,
                    const OV& adv, const OV& ret, const gae::options& opts, Reducer& reducer, std::string_view fn) {
  check_same_shape(fn, "values", vv, "rewards", rv);
  check_same_shape(fn, "mask", mv, "rewards", rv);
  const bool write_a = adv.data_handle() != nullptr, write_r = ret.data_handle() != nullptr;
  if (write_a) check_same_shape(fn, "advantages", adv, "rewards", rv);
  if (write_r) check_same_shape(fn, "returns", ret, "rewards", rv);
  layout.check(fn, rv);
  check_range(fn, "gamma", opts.gamma, 0.0, 1.0);
  check_range(fn, "lam", opts.lam, 0.0, 1.0);
  const double gl = opts.gamma * opts.lam;
  const bool skip = opts.masked == gae::masking::skip;
  const auto rr = layout(rv);
  const auto vr = layout(vv);
  const auto mr = layout(mv);
  const auto ar = layout(adv);
  const auto gr = layout(ret);
  const auto first = for_rows<2>(policy, layout.count(rv), [&](index_t b) {
    const auto a = row_or_null(ar, write_a, b);
    const auto g = row_or_null(gr, write_r, b);
    return skip ? gae_row_skip(rr(b), vr(b), mr(b), a, g, opts.gamma, gl)
                : gae_row_zero(rr(b), vr(b), mr(b), a, g, opts.gamma, gl);
  });
  gae::result res{first[0], std::nullopt};
  if (opts.whiten && write_a) {
    res.whitening = finish_moments(policy, ar, mr, first, *opts.whiten, reducer, fn);
    apply_whitening(policy, ar, mr, ar, *res.whitening, opts.whiten->zero_masked);
  }
  return res;
}

}  // namespace detail

namespace gae {

/// GAE on a padded batch: `rewards`, `values`, `mask` are `[B, T]`; writes the requested outputs
/// (`[B, T]`) in one reverse pass per row, rows in parallel under `exec::par` (bitwise equal to
/// `exec::seq`). Whitening adds two passes over the advantages; its moments go through `reducer`.
/// Masked positions are written too (see the masking modes).
/// Errors: shape_error.103 (an input or output shaped unlike `rewards`), domain_error.202 (γ or
/// λ outside [0, 1]), domain_error.220 (whitening with too few valid tokens).
template <exec::execution_policy Exec, matrix_like Rw, matrix_like V, matrix_like M,
          class T = alignkit::detail::compute_t<Rw>, reducer Red = local_reducer>
result compute(const Exec& policy, const Rw& rewards, const V& values, const M& mask, const options& opts = {},
               const outputs<T, 2>& out = {}, Red&& reducer = {}) {
  return alignkit::detail::gae_run(policy, alignkit::detail::padded_split{}, view_of(rewards), view_of(values),
                                   view_of(mask), out.advantages, out.returns, opts, reducer, "gae::compute");
}

/// GAE on packed tokens: `rewards`, `values`, `mask` are `[N]`, sequence b owns tokens
/// [offsets[b], offsets[b+1]); outputs are `[N]`. Gives exactly (bitwise) the padded result on
/// the valid tokens of the same sequences.
/// Errors: shape_error.101 (an input or output with a length unlike `rewards`), shape_error.104
/// and domain_error.204 (bad offsets), domain_error.202, domain_error.220 as above.
template <exec::execution_policy Exec, vector_like Rw, vector_like V, vector_like M, vector_like O,
          class T = alignkit::detail::compute_t<Rw>, reducer Red = local_reducer>
result compute(const Exec& policy, const Rw& rewards, const V& values, const M& mask, const O& offsets,
               const options& opts = {}, const outputs<T, 1>& out = {}, Red&& reducer = {}) {
  const auto ov = view_of(offsets);
  return alignkit::detail::gae_run(policy, alignkit::detail::packed_split<decltype(ov)>{ov}, view_of(rewards),
                                   view_of(values), view_of(mask), out.advantages, out.returns, opts, reducer,
                                   "gae::compute");
}

/// Sequential overloads.
template <alignkit::detail::data_argument Rw, matrix_like V, matrix_like M, class T = alignkit::detail::compute_t<Rw>,
          reducer Red = local_reducer>
result compute(const Rw& rewards, const V& values, const M& mask, const options& opts = {},
               const outputs<T, 2>& out = {}, Red&& reducer = {}) {
  return compute(exec::seq, rewards, values, mask, opts, out, reducer);
}
template <alignkit::detail::data_argument Rw, vector_like V, vector_like M, vector_like O,
          class T = alignkit::detail::compute_t<Rw>, reducer Red = local_reducer>
result compute(const Rw& rewards, const V& values, const M& mask, const O& offsets, const options& opts = {},
               const outputs<T, 1>& out = {}, Red&& reducer = {}) {
  return compute(exec::seq, rewards, values, mask, offsets, opts, out, reducer);
}

/// Result plus owned `[B, T]` outputs (row-major), for callers that do not bring buffers.
template <class T>
struct evaluation {
  result metrics;
  std::vector<T> advantages, returns;
};

/// Allocating convenience form on a padded batch.
template <matrix_like Rw, matrix_like V, matrix_like M, class T = alignkit::detail::compute_t<Rw>>
evaluation<T> evaluate(const Rw& rewards, const V& values, const M& mask, const options& opts = {}) {
  const auto rv = view_of(rewards);
  const index_t b = rv.extent(0), t = rv.extent(1);
  evaluation<T> e{{}, std::vector<T>(static_cast<std::size_t>(b * t)), std::vector<T>(static_cast<std::size_t>(b * t))};
  e.metrics = compute(rewards, values, mask, opts,
                      outputs<T, 2>{matrix_view<T>(e.advantages.data(), {b, t}), matrix_view<T>(e.returns.data(), {b, t})});
  return e;
}

}  // namespace gae

ALIGNKIT_END_NAMESPACE
