/// @file sequences.hpp
/// @brief The two layouts of a ragged batch: padded `[B, T]` values with a mask, and packed
/// tokens `[N]` with CSR sequence offsets `[B + 1]` (as engines that remove padding use).
///
/// Masks may be bool, uint8 or floating point; a nonzero entry is a valid token. Offsets are
/// non-decreasing, start at 0 and end at N; sequence b owns tokens [offsets[b], offsets[b+1]).
///
/// `reduce_sequences` turns per-token values x (log-probs) into per-sequence
///   sum_b = Σ_t x_bt·m_bt,  count_b = Σ_t m_bt,  mean_b = sum_b / max(count_b, 1)
/// (the summed log-probs DPO and KTO take, and the per-token means of SimPO, IPO and ORPO;
/// an empty sequence has sum and mean 0). `expand_sequence_grad` is its backward: from g_b =
/// ∂loss/∂sum_b (or ∂loss/∂mean_b) it writes ∂loss/∂x_bt = g_b·m_bt (or g_b·m_bt / max(count_b, 1)),
/// 0 at padding. Each sequence is summed in double on one thread, so results do not depend on
/// the execution policy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "check.hpp"
#include "config.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "tensor.hpp"
#include "view.hpp"

ALIGNKIT_BEGIN_NAMESPACE

/// Reads mask element `x` (bool, integer or floating point) as 0 or 1.
template <class M>
constexpr bool mask_valid(const M& x) noexcept {
  return x != M(0);
}

/// Checks CSR offsets for N packed tokens: [shape_error.104] if empty, [domain_error.204] if
/// they do not start at 0, decrease, or do not end at N.
template <class Offsets>
void check_offsets(std::string_view fn, const Offsets& offsets, index_t n_tokens) {
  if (offsets.extent(0) == 0)
    detail::raise<shape_error>(104, fn, ": offsets is empty; expected B + 1 entries starting at 0");
  if (offsets(0) != 0)
    detail::raise<domain_error>(204, fn, ": offsets[0] is ", offsets(0), ", expected 0");
  for (index_t b = 1; b < offsets.extent(0); ++b)
    if (offsets(b) < offsets(b - 1))
      detail::raise<domain_error>(204, fn, ": offsets[", b, "] is ", offsets(b), ", less than offsets[",
                                  b - 1, "] = ", offsets(b - 1), "; offsets must be non-decreasing");
  const auto last = static_cast<index_t>(offsets(offsets.extent(0) - 1));
  if (last != n_tokens)
    detail::raise<domain_error>(204, fn, ": offsets end at ", last, ", expected the token count ",
                                n_tokens);
}

/// Which per-sequence value a gradient refers to.
enum class sequence_reduction { sum, mean };

/// Outputs of `reduce_sequences` (a default-constructed view is not written), each [B].
template <class T>
struct sequence_outputs {
  vector_view<T> sums;    ///< Σ_t x·m
  vector_view<T> means;   ///< sum / max(count, 1)
  vector_view<T> counts;  ///< Σ_t m, the valid-token count
};

namespace detail {

/// Runs f(b) for every sequence b in [0, B), in chunks of about `policy.chunk` tokens.
template <class Exec, class F>
void for_each_sequence(const Exec& policy, index_t n_seq, index_t tokens_per_seq, F&& f) {
  const index_t rows = std::max<index_t>(1, policy.chunk / std::max<index_t>(1, tokens_per_seq));
  for_each_chunk(policy, chunk_count(n_seq, rows), [&](index_t c) {
    for (index_t b = c * rows; b < std::min(n_seq, (c + 1) * rows); ++b) f(b);
  });
}

template <class T>
void check_sequence_outputs(std::string_view fn, const sequence_outputs<T>& out, index_t n_seq) {
  if (out.sums.data_handle()) check_same_size(fn, "sums", out.sums.extent(0), "sequences", n_seq);
  if (out.means.data_handle()) check_same_size(fn, "means", out.means.extent(0), "sequences", n_seq);
  if (out.counts.data_handle()) check_same_size(fn, "counts", out.counts.extent(0), "sequences", n_seq);
}

template <class T>
void store_sequence(const sequence_outputs<T>& out, index_t b, double sum, double count) {
  if (out.sums.data_handle()) out.sums(b) = static_cast<T>(sum);
  if (out.means.data_handle()) out.means(b) = static_cast<T>(sum / std::max(count, 1.0));
  if (out.counts.data_handle()) out.counts(b) = static_cast<T>(count);
}

inline constexpr const char* reduce_fn = "reduce_sequences";
inline constexpr const char* expand_fn = "expand_sequence_grad";

}  // namespace detail

/// Padded layout: per-sequence sums, means and counts of `values` [B, T] under `mask` [B, T].
/// Errors: shape_error.101 (an output is not [B]), shape_error.103 (mask extents differ).
template <exec::execution_policy Exec, matrix_like X, matrix_like M, class T = value_t<const X>>
void reduce_sequences(const Exec& policy, const X& values, const M& mask, const sequence_outputs<T>& out) {
  const auto x = view_of(values);
  const auto m = view_of(mask);
  detail::check_extent(detail::reduce_fn, "mask", 0, m.extent(0), x.extent(0));
  detail::check_extent(detail::reduce_fn, "mask", 1, m.extent(1), x.extent(1));
  detail::check_sequence_outputs(detail::reduce_fn, out, x.extent(0));
  detail::for_each_sequence(policy, x.extent(0), x.extent(1), [&](index_t b) {
    double sum = 0, count = 0;
    for (index_t t = 0; t < x.extent(1); ++t)
      if (mask_valid(m(b, t))) {
        sum += static_cast<double>(x(b, t));
        count += 1;
      }
    detail::store_sequence(out, b, sum, count);
  });
}

/// Packed layout: per-sequence sums, means and counts of `values` [N] split by CSR `offsets`
/// [B + 1]. Errors: shape_error.101 (an output is not [B]), shape_error.104 / domain_error.204
/// (bad offsets).
template <exec::execution_policy Exec, vector_like X, vector_like O, class T = value_t<const X>>
void reduce_sequences(const Exec& policy, const X& values, const O& offsets, const sequence_outputs<T>& out) {
  const auto x = view_of(values);
  const auto o = view_of(offsets);
  check_offsets(detail::reduce_fn, o, x.extent(0));
  const index_t n_seq = o.extent(0) - 1;
  detail::check_sequence_outputs(detail::reduce_fn, out, n_seq);
  detail::for_each_sequence(policy, n_seq, n_seq ? x.extent(0) / n_seq : 1, [&](index_t b) {
    double sum = 0;
    const auto begin = static_cast<index_t>(o(b)), end = static_cast<index_t>(o(b + 1));
    for (index_t t = begin; t < end; ++t) sum += static_cast<double>(x(t));
    detail::store_sequence(out, b, sum, static_cast<double>(end - begin));
  });
}

/// Sequential overload of both layouts.
template <class X, class MO, class T = value_t<const X>>
  requires(!exec::execution_policy<X>)
void reduce_sequences(const X& values, const MO& mask_or_offsets, const sequence_outputs<T>& out) {
  reduce_sequences(exec::seq, values, mask_or_offsets, out);
}

/// Padded layout backward: `grad` [B, T] = g_b·m_bt (sum) or g_b·m_bt / max(count_b, 1) (mean)
/// from `seq_grad` [B]. Errors: shape_error.101 (seq_grad is not [B]), shape_error.103 (mask or
/// grad extents differ).
template <exec::execution_policy Exec, vector_like G, matrix_like M, class Out>
void expand_sequence_grad(const Exec& policy, const G& seq_grad, const M& mask, sequence_reduction reduction,
                          Out&& grad) {
  const auto g = view_of(seq_grad);
  const auto m = view_of(mask);
  const auto out = view_of(grad);
  detail::check_same_size(detail::expand_fn, "seq_grad", g.extent(0), "mask rows", m.extent(0));
  detail::check_extent(detail::expand_fn, "grad", 0, out.extent(0), m.extent(0));
  detail::check_extent(detail::expand_fn, "grad", 1, out.extent(1), m.extent(1));
  using E = typename decltype(out)::value_type;
  detail::for_each_sequence(policy, m.extent(0), m.extent(1), [&](index_t b) {
    double scale = static_cast<double>(g(b));
    if (reduction == sequence_reduction::mean) {
      double count = 0;
      for (index_t t = 0; t < m.extent(1); ++t) count += mask_valid(m(b, t)) ? 1.0 : 0.0;
      scale /= std::max(count, 1.0);
    }
    for (index_t t = 0; t < m.extent(1); ++t) out(b, t) = static_cast<E>(mask_valid(m(b, t)) ? scale : 0.0);
  });
}

/// Packed layout backward: `grad` [N] = g_b (sum) or g_b / max(count_b, 1) (mean) on the tokens
/// of sequence b. Errors: shape_error.101 (seq_grad is not [B] or grad is not [N]),
/// shape_error.104 / domain_error.204 (bad offsets).
template <exec::execution_policy Exec, vector_like G, vector_like O, class Out>
void expand_sequence_grad(const Exec& policy, const G& seq_grad, const O& offsets, sequence_reduction reduction,
                          Out&& grad) {
  const auto g = view_of(seq_grad);
  const auto o = view_of(offsets);
  const auto out = view_of(grad);
  check_offsets(detail::expand_fn, o, out.extent(0));
  const index_t n_seq = o.extent(0) - 1;
  detail::check_same_size(detail::expand_fn, "seq_grad", g.extent(0), "sequences", n_seq);
  using E = typename decltype(out)::value_type;
  detail::for_each_sequence(policy, n_seq, n_seq ? out.extent(0) / n_seq : 1, [&](index_t b) {
    const auto begin = static_cast<index_t>(o(b)), end = static_cast<index_t>(o(b + 1));
    double scale = static_cast<double>(g(b));
    if (reduction == sequence_reduction::mean) scale /= std::max(static_cast<double>(end - begin), 1.0);
    for (index_t t = begin; t < end; ++t) out(t) = static_cast<E>(scale);
  });
}

/// Sequential overload of both layouts.
template <class G, class MO, class Out>
  requires(!exec::execution_policy<G>)
void expand_sequence_grad(const G& seq_grad, const MO& mask_or_offsets, sequence_reduction reduction, Out&& grad) {
  expand_sequence_grad(exec::seq, seq_grad, mask_or_offsets, reduction, grad);
}

ALIGNKIT_END_NAMESPACE
