/// @file sequence_logprobs.hpp
/// @brief From per-token log-probabilities to what the objectives take: per-sequence sums for
/// DPO / KTO / SimPO, per-token [B, T] views for PPO / GRPO, and the way back for gradients.
///
///   packed [N] + CSR offsets [B + 1]:  S_b = Σ_{t ∈ [o_b, o_{b+1})} logp_t
///   padded [B, T] + mask [B, T]:       S_b = Σ_t m_{b,t}·logp_{b,t}
///   backward:                          ∂L/∂logp_t = ∂L/∂S_b for t in sequence b (times m_{b,t} when padded)
/// Tokens whose label was the ignore index (the prompt, padding) already carry logp = 0 from
/// token::logprob, so packed sums over whole sequences give the completion log-probability.
/// Sums are taken in double, in token order. Parity: TRL `DPOTrainer.concatenated_forward`
/// (`(per_token_logps * loss_mask).sum(-1)`), OpenRLHF `Actor` sequence log-probs.
#pragma once

#include <algorithm>

#include "../core/check.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/sequences.hpp"
#include "../core/tensor.hpp"
#include "logprob.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace token {

namespace detail {

using namespace alignkit::detail;

inline constexpr const char* sums_fn = "token::sequence_sums";
inline constexpr const char* grads_fn = "token::sequence_grads";

/// Checks that `out` has one element per sequence and writes out(s) = f(s) for each of the b
/// sequences (of about `len` tokens), in parallel under the policy.
template <class Exec, class Out, class F>
void write_per_sequence(const Exec& policy, const char* fn, const char* name, const Out& out, index_t b, index_t len,
                        F&& f) {
  check_same_size(fn, name, out.extent(0), "sequences", b);
  for_each_row(policy, b, len, [&](index_t s) { out(s) = static_cast<typename Out::value_type>(f(s)); });
}

/// Checks CSR offsets over n tokens and returns the number of sequences B.
template <class O>
index_t sequence_count(const char* fn, const O& offsets, index_t n) {
  check_offsets(fn, offsets, n);
  return offsets.extent(0) - 1;
}

/// Checks that the mask is [b, len].
template <class M>
void check_mask(const char* fn, const M& mask, index_t b, index_t len) {
  check_extent(fn, "mask", 0, mask.extent(0), b);
  check_extent(fn, "mask", 1, mask.extent(1), len);
}

}  // namespace detail

/// Packed layout: writes S_b = Σ of `token_logprobs` [N] over sequence b of `offsets` [B + 1]
/// into `sums` [B]. Errors: shape_error.104 / domain_error.204 (bad offsets), shape_error.101
/// (sums does not have B elements).
template <exec::execution_policy Exec, vector_like LP, vector_like O, vector_like S>
void sequence_sums(const Exec& policy, const LP& token_logprobs, const O& offsets, S&& sums) {
  using namespace detail;
  const auto lp = view_of(token_logprobs);
  const auto off = view_of(offsets);
  const index_t b = sequence_count(sums_fn, off, lp.extent(0));
  write_per_sequence(policy, sums_fn, "sums", view_of(sums), b, lp.extent(0) / std::max<index_t>(1, b), [&](index_t s) {
    double acc = 0;
    for (auto t = static_cast<index_t>(off(s)); t < static_cast<index_t>(off(s + 1)); ++t) acc += static_cast<double>(lp(t));
    return acc;
  });
}

/// Padded layout: writes S_b = Σ_t m_{b,t}·logp_{b,t} of `token_logprobs` [B, T] and `mask`
/// [B, T] into `sums` [B]. Errors: shape_error.103 (mask is not [B, T]), shape_error.101
/// (sums does not have B elements).
template <exec::execution_policy Exec, matrix_like LP, matrix_like M, vector_like S>
void sequence_sums(const Exec& policy, const LP& token_logprobs, const M& mask, S&& sums) {
  using namespace detail;
  const auto lp = view_of(token_logprobs);
  const auto m = view_of(mask);
  const index_t b = lp.extent(0), t_len = lp.extent(1);
  check_mask(sums_fn, m, b, t_len);
  write_per_sequence(policy, sums_fn, "sums", view_of(sums), b, t_len, [&](index_t s) {
    double acc = 0;
    for (index_t t = 0; t < t_len; ++t)
      if (mask_valid(m(s, t))) acc += static_cast<double>(lp(s, t));
    return acc;
  });
}

/// Packed layout, backward: writes ∂L/∂logp_t = `d_sums`[b] for every token t of sequence b into
/// `d_token_logprobs` [N] (the upstream `d_logprobs` of token::logprob). Errors as
/// sequence_sums, with shape_error.101 when d_sums does not have B elements.
template <exec::execution_policy Exec, vector_like D, vector_like O, vector_like G>
void sequence_grads(const Exec& policy, const D& d_sums, const O& offsets, G&& d_token_logprobs) {
  using namespace detail;
  const auto d = view_of(d_sums);
  const auto off = view_of(offsets);
  const auto g = view_of(d_token_logprobs);
  const index_t b = sequence_count(grads_fn, off, g.extent(0));
  check_same_size(grads_fn, "d_sums", d.extent(0), "sequences", b);
  for_each_row(policy, b, g.extent(0) / std::max<index_t>(1, b), [&](index_t s) {
    for (auto t = static_cast<index_t>(off(s)); t < static_cast<index_t>(off(s + 1)); ++t)
      g(t) = static_cast<typename decltype(g)::value_type>(d(s));
  });
}

/// Padded layout, backward: writes ∂L/∂logp_{b,t} = `d_sums`[b]·m_{b,t} into
/// `d_token_logprobs` [B, T]. Errors: shape_error.103 (mask or output is not [B, T]),
/// shape_error.101 (d_sums does not have B elements).
template <exec::execution_policy Exec, vector_like D, matrix_like M, matrix_like G>
void sequence_grads(const Exec& policy, const D& d_sums, const M& mask, G&& d_token_logprobs) {
  using namespace detail;
  const auto d = view_of(d_sums);
  const auto m = view_of(mask);
  const auto g = view_of(d_token_logprobs);
  const index_t b = g.extent(0), t_len = g.extent(1);
  check_mask(grads_fn, m, b, t_len);
  check_same_size(grads_fn, "d_sums", d.extent(0), "sequences", b);
  using V = typename decltype(g)::value_type;
  for_each_row(policy, b, t_len, [&](index_t s) {
    for (index_t t = 0; t < t_len; ++t) g(s, t) = mask_valid(m(s, t)) ? static_cast<V>(d(s)) : V(0);
  });
}

/// Sequential overloads.
template <class LP, class Layout, class S>
  requires alignkit::detail::data_argument<LP>
void sequence_sums(const LP& token_logprobs, const Layout& offsets_or_mask, S&& sums) {
  sequence_sums(exec::seq, token_logprobs, offsets_or_mask, sums);
}
template <class D, class Layout, class G>
  requires alignkit::detail::data_argument<D>
void sequence_grads(const D& d_sums, const Layout& offsets_or_mask, G&& d_token_logprobs) {
  sequence_grads(exec::seq, d_sums, offsets_or_mask, d_token_logprobs);
}

/// The per-token values of a padded batch, computed as N = B·T rows (row-major), viewed as the
/// [B, T] matrix that PPO / GRPO kernels take; zero-copy. Errors: shape_error.101 (the view
/// does not have B·T elements).
template <class T, class A>
matrix_view<T, A> per_token(const vector_view<T, A>& token_values, index_t batch, index_t length) {
  alignkit::detail::check_same_size("token::per_token", "token_values", token_values.extent(0), "batch·length",
                                    batch * length);
  const index_t s = token_values.stride(0);
  return {token_values.data_handle(), {batch, length}, {length * s, s}, token_values.accessor()};
}

}  // namespace token

ALIGNKIT_END_NAMESPACE
