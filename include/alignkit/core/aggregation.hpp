/// @file aggregation.hpp
/// @brief The aggregation modes shared by every token-level loss, the explicit global
/// denominators that make micro-batches and data-parallel shards add up to the full batch, and
/// the per-token weights that give a loss and its gradient in the same fused pass.
///
/// With per-token values x, mask m, n_b = Σ_t m_{b,t} valid tokens in sequence b, and the
/// denominators D_tok (valid tokens), D_seq (non-empty sequences) and H (horizon):
///   token_mean              Σ x·m / D_tok
///   seq_mean_token_sum      Σ_b Σ_t x·m / D_seq
///   seq_mean_token_mean     Σ_b [Σ_t x·m / (n_b + 1e-8)] / D_seq
///   seq_mean_token_sum_norm Σ x·m / H      (H: a constant horizon, by default the padded T)
/// Each is loss = Σ_{b,t} w_b·m_{b,t}·x_{b,t} with a row weight w_b that depends only on n_b
/// (`token_weights`), so a kernel writes ∂loss/∂x = w_b·m·∂x/∂θ while it sums the loss.
/// With the defaults (every denominator counted over this call, one process) the modes are
/// verl `agg_loss` exactly: no epsilon in token_mean, +1e-8 per sequence in
/// seq_mean_token_mean, H = mask.shape[-1] in seq_mean_token_sum_norm. Where verl divides 0 by
/// 0 (every token masked) the weight is 0: loss 0, gradient 0.
/// Give `global_denominators` — the values of the whole optimizer step (as NeMo RL's
/// `global_valid_toks` / `global_valid_seqs`) — and every micro-batch or shard contributes
/// exactly its share: the sum of their losses and their gradients is the full-batch loss and
/// gradient. Without them a `reducer` sums the counts over data-parallel shards.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include "check.hpp"
#include "config.hpp"
#include "elementwise.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "reducer.hpp"
#include "sequences.hpp"
#include "tensor.hpp"
#include "view.hpp"

ALIGNKIT_BEGIN_NAMESPACE

/// How token-level values are reduced to a scalar loss.
enum class aggregation { token_mean, seq_mean_token_sum, seq_mean_token_mean, seq_mean_token_sum_norm };

/// Denominators of the whole optimizer step; an unset field means "count it over this call"
/// (summed over shards by the call's reducer). Values must be finite and ≥ 0 (domain_error.202).
struct global_denominators {
  std::optional<double> tokens;     ///< D_tok: Σ m over the step (token_mean)
  std::optional<double> sequences;  ///< D_seq: non-empty sequences over the step (seq_mean_*)
  std::optional<double> horizon;    ///< H of seq_mean_token_sum_norm (default: padded T, or the
                                    ///< longest sequence of a packed batch)
};

/// Parses verl's names ("token-mean", "seq-mean-token-sum", …); [domain_error.203] otherwise.
inline aggregation parse_aggregation(std::string_view name) {
  if (name == "token-mean") return aggregation::token_mean;
  if (name == "seq-mean-token-sum") return aggregation::seq_mean_token_sum;
  if (name == "seq-mean-token-mean") return aggregation::seq_mean_token_mean;
  if (name == "seq-mean-token-sum-norm") return aggregation::seq_mean_token_sum_norm;
  detail::raise<domain_error>(203, "parse_aggregation: unknown aggregation mode '", name,
                              "', expected token-mean, seq-mean-token-sum, seq-mean-token-mean "
                              "or seq-mean-token-sum-norm");
}

/// The per-token weights of an aggregation: loss = Σ_{b,t} row(n_b)·m_{b,t}·x_{b,t}.
struct token_weights {
  aggregation mode = aggregation::token_mean;
  double scale = 0;  ///< 1/D (D_tok, D_seq or H); 0 when D = 0

  /// w_b for a sequence with n_b valid tokens (0 for an empty sequence).
  double row(double n_b) const noexcept {
    if (n_b == 0) return 0;
    return mode == aggregation::seq_mean_token_mean ? scale / (n_b + 1e-8) : scale;
  }
  /// Whether row() depends on n_b (then a kernel counts each row's mask first).
  bool needs_row_counts() const noexcept { return mode == aggregation::seq_mean_token_mean; }
};

/// Marks the token arguments of a call as packed: `ppo::loss(packed(offsets), …)`.
template <class Offsets>
struct packed {
  explicit packed(const Offsets& o) noexcept : offsets(o) {}
  const Offsets& offsets;  ///< B + 1 CSR offsets (any rank-1 tensor of integers)
};

namespace detail {

/// Rows of a padded `[B, T]` batch: sequence b is row b of every token argument.
struct padded_layout {
  index_t n_rows = 0, n_cols = 0;
  index_t rows() const noexcept { return n_rows; }
  index_t tokens() const noexcept { return n_rows * n_cols; }
  index_t horizon() const noexcept { return n_cols; }
  index_t length(index_t) const noexcept { return n_cols; }
  template <class View>
  auto row(const View& v, index_t b) const noexcept {
    return v.row(b);
  }
  /// [shape_error.103] `v` must be [B, T].
  template <class View>
  void check(std::string_view fn, std::string_view name, const View& v) const {
    static_assert(View::rank() == 2, "alignkit: padded token arguments are rank-2 [B, T] views");
    detail::check_extent(fn, name, 0, v.extent(0), n_rows);
    detail::check_extent(fn, name, 1, v.extent(1), n_cols);
  }
};

/// Rows of a packed batch: tokens `[N]` with CSR offsets `[B + 1]` (core/sequences.hpp).
template <class Offsets>
struct packed_layout {
  Offsets offsets;  ///< rank-1 view of B + 1 non-decreasing offsets from 0 to N
  index_t rows() const noexcept { return offsets.extent(0) - 1; }
  index_t tokens() const noexcept { return static_cast<index_t>(offsets(rows())); }
  index_t length(index_t b) const noexcept { return static_cast<index_t>(offsets(b + 1) - offsets(b)); }
  index_t horizon() const noexcept {
    index_t h = 0;
    for (index_t b = 0; b < rows(); ++b) h = std::max(h, length(b));
    return h;
  }
  template <class View>
  auto row(const View& v, index_t b) const noexcept {
    return v.subview(static_cast<index_t>(offsets(b)), length(b));
  }
  /// [shape_error.101] `v` must have N elements.
  template <class View>
  void check(std::string_view fn, std::string_view name, const View& v) const {
    static_assert(View::rank() == 1, "alignkit: packed token arguments are rank-1 [N] views");
    detail::check_same_size(fn, name, v.extent(0), "the packed offsets' token count", tokens());
  }
};

/// The rows of a packed call, after checking its offsets ([shape_error.104], [domain_error.204]).
template <class Offsets, class Mask>
auto make_packed_layout(std::string_view fn, const packed<Offsets>& p, const Mask& mask) {
  const auto off = view_of(p.offsets);
  check_offsets(fn, off, mask.extent(0));
  return packed_layout<decltype(off)>{off};
}

/// The rows of a padded call: the shape of the [B, T] mask.
template <class Mask>
padded_layout make_padded_layout(const Mask& mask) {
  static_assert(Mask::rank() == 2, "alignkit: padded token arguments are rank-2 [B, T] views");
  return {mask.extent(0), mask.extent(1)};
}

/// Number of valid tokens in a rank-1 mask row (a contiguous row is read through its pointer,
/// a loop the compiler vectorizes).
template <class Row>
double count_valid(const Row& m) noexcept {
  index_t n = 0;
  if constexpr (std::is_same_v<typename Row::accessor_type, default_accessor<typename Row::element_type>>) {
    if (m.stride(0) == 1) {
      const auto* p = m.data_handle();
      for (index_t t = 0; t < m.extent(0); ++t) n += mask_valid(p[t]) ? 1 : 0;
      return static_cast<double>(n);
    }
  }
  for (index_t t = 0; t < m.extent(0); ++t) n += mask_valid(m(t)) ? 1 : 0;
  return static_cast<double>(n);
}

/// Σ over rows of f(b) (a sums<K>): rows are cut into chunks of about `policy.chunk` tokens,
/// a count that depends only on the shape, and summed in row order, so the result is bitwise
/// identical under any policy.
template <std::size_t K, class Exec, class Rows, class F>
sums<K> sum_over_rows(const Exec& policy, const Rows& rows, F&& f) {
  const index_t b_count = rows.rows();
  const index_t mean_length = std::max<index_t>(1, rows.tokens() / std::max<index_t>(1, b_count));
  auto by_rows = policy;
  by_rows.chunk = std::max<index_t>(1, policy.chunk / mean_length);
  return chunked_sum<sums<K>>(by_rows, b_count, [&](index_t begin, index_t end) {
    sums<K> s;
    for (index_t b = begin; b < end; ++b) s += f(b);
    return s;
  });
}

/// The weights of `mode` for this call: every denominator the mode needs that is not given in
/// `global` is counted over the mask (one pass over the mask only) and summed by `reducer`.
/// Errors: [domain_error.202] for a negative or non-finite global denominator.
template <class Exec, class Rows, class Mask, class R>
token_weights make_token_weights(std::string_view fn, const Exec& policy, aggregation mode,
                                 const global_denominators& global, const Rows& rows, const Mask& mask,
                                 R& reducer) {
  for (auto [name, value] : {std::pair{"global_denominators.tokens", global.tokens},
                             std::pair{"global_denominators.sequences", global.sequences},
                             std::pair{"global_denominators.horizon", global.horizon}})
    if (value) check_range(fn, name, *value, 0.0, HUGE_VAL, false, true);
  double denominator = 0;
  if (mode == aggregation::seq_mean_token_sum_norm) {
    denominator = global.horizon.value_or(static_cast<double>(rows.horizon()));
  } else {
    const bool by_tokens = mode == aggregation::token_mean;
    const auto& given = by_tokens ? global.tokens : global.sequences;
    if (given) {
      denominator = *given;
    } else {
      const auto counts = sum_over_rows<2>(policy, rows, [&](index_t b) {
        const double n = count_valid(rows.row(mask, b));
        return sums<2>{{n, n > 0 ? 1.0 : 0.0}};
      });
      std::array<double, 2> global_counts = counts.value;
      reducer.all_reduce_sum(std::span<double>(global_counts));
      denominator = global_counts[by_tokens ? 0 : 1];
    }
  }
  return {mode, denominator > 0 ? 1.0 / denominator : 0.0};
}

/// verl's masked mean of a summed metric: Σ x·m / (Σ m + 1e-8).
inline double masked_mean(double sum, double valid) noexcept { return sum / (valid + 1e-8); }

}  // namespace detail

ALIGNKIT_END_NAMESPACE
