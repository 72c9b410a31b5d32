/// @file reward_ensemble.hpp
/// @brief Reward-model ensembles of K heads: the Bradley–Terry loss of every head in one call,
/// and the conservative ensemble score (mean, min, or mean − k·std over the heads).
///
/// Rewards are [N, K] matrices (pair or item i, head j); a head-major buffer is the strided view
/// with strides {1, N}. With z_ij = r_c,ij − r_r,ij − m_i (optional margin as bradley_terry):
///   loss = (1/K) Σ_j [ Σ_i softplus(−z_ij) / D + c·Σ_i (r_c,ij + r_r,ij)² / D ]
///        (each head is an independent Bradley–Terry model trained on the same pairs)
///   score(r_i·) = mean_j r_ij                         (mean)
///               = min_j r_ij                          (min: worst-case optimization, WCO)
///               = mean_j r_ij − k·std_j r_ij          (uncertainty-weighted, std over heads, ddof 0)
///   accuracy = mean_i 1[score(r_c,i·) > score(r_r,i·)],  margin = mean_i (score_c − score_r)
/// Paper: Coste et al. 2023, "Reward Model Ensembles Help Mitigate Overoptimization"
/// (arXiv:2310.02743); Eisenstein et al. 2023 (arXiv:2312.09244). The per-head loss is
/// bradley_terry's kernel (parity with OpenRLHF `PairWiseLoss`).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <vector>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/tensor.hpp"
#include "bradley_terry.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace reward_ensemble {

/// How the K head rewards of an item are combined into one score.
enum class aggregation { mean, min, mean_minus_std };

/// Hyperparameters.
struct options {
  aggregation aggregate = aggregation::mean;
  double std_coefficient = 1.0;             ///< k ≥ 0 of mean − k·std
  double center_rewards_coefficient = 0.0;  ///< c ≥ 0, as bradley_terry
  std::optional<double> total_pairs;        ///< D; default: the number of pairs of this call
  bool check_finite = false;                ///< raise domain_error.201 on a non-finite input
};

/// What a trainer logs.
struct result {
  double loss = 0;           ///< mean over heads of each head's Bradley–Terry loss
  double accuracy = 0;       ///< of the aggregated scores
  double head_accuracy = 0;  ///< mean over heads of each head's accuracy
  double margin = 0;         ///< mean (score_c − score_r)
  index_t pairs = 0;         ///< N
  index_t heads = 0;         ///< K
};

/// Optional outputs (a default-constructed view is not written).
template <class T>
struct outputs {
  matrix_view<T> grad_chosen;     ///< ∂loss/∂r_c [N, K]
  matrix_view<T> grad_rejected;   ///< ∂loss/∂r_r [N, K]
  vector_view<T> chosen_scores;   ///< score(r_c,i·) [N]
  vector_view<T> rejected_scores; ///< score(r_r,i·) [N]
};

namespace detail {

inline constexpr const char* fn = "reward_ensemble::loss";

/// Column j of a rank-2 view as a rank-1 view.
template <class View>
auto column(const View& v, index_t j) {
  using E = typename View::element_type;
  return strided_view<E, 1, typename View::accessor_type>(v.data_handle() + j * v.stride(1), {v.extent(0)},
                                                          {v.stride(0)}, v.accessor());
}

/// The aggregated score of row i (K head rewards), in double.
template <class View>
double score_row(const View& v, index_t i, const options& o) {
  const index_t k = v.extent(1);
  if (o.aggregate == aggregation::min) {
    double m = static_cast<double>(v(i, 0));
    for (index_t j = 1; j < k; ++j) m = std::min(m, static_cast<double>(v(i, j)));
    return m;
  }
  double sum = 0;
  for (index_t j = 0; j < k; ++j) sum += static_cast<double>(v(i, j));
  const double mean = sum / static_cast<double>(k);
  if (o.aggregate == aggregation::mean) return mean;
  double sq = 0;
  for (index_t j = 0; j < k; ++j) sq += (static_cast<double>(v(i, j)) - mean) * (static_cast<double>(v(i, j)) - mean);
  return mean - o.std_coefficient * std::sqrt(sq / static_cast<double>(k));
}

template <class View>
void check_matrix(const char* f, const char* name, const View& v) {
  require_rank<2, View>();
  alignkit::detail::check_not_empty(f, name, v.extent(0));
  alignkit::detail::check_not_empty(f, name, v.extent(1));
}

/// [domain_error.201] every element of the rank-2 view must be finite.
template <class View>
void check_finite(const char* name, const View& v) {
  for (index_t i = 0; i < v.extent(0); ++i)
    for (index_t j = 0; j < v.extent(1); ++j)
      if (const auto x = static_cast<double>(v(i, j)); !std::isfinite(x))
        alignkit::detail::raise<domain_error>(201, fn, ": ", name, "[", i, ", ", j, "] is ", x, ", expected a finite value");
}

inline void check_options(const char* f, const options& o) {
  alignkit::detail::check_range(f, "std_coefficient", o.std_coefficient, 0.0, HUGE_VAL);
}

}  // namespace detail

/// Writes the aggregated score of every row of `rewards` [N, K] into `scores` [N].
/// Errors: shape_error.101 (scores has the wrong length), shape_error.102 (N = 0 or K = 0),
/// domain_error.202 (k < 0).
template <exec::execution_policy Exec, class R, class S>
void score(const Exec& policy, const R& rewards, S&& scores, const options& opts = {}) {
  const auto v = view_of(rewards);
  const auto out = view_of(scores);
  detail::check_matrix("reward_ensemble::score", "rewards", v);
  alignkit::detail::check_same_size("reward_ensemble::score", "scores", out.extent(0), "rewards", v.extent(0));
  detail::check_options("reward_ensemble::score", opts);
  const index_t n = v.extent(0);
  alignkit::detail::for_each_chunk(policy, alignkit::detail::chunk_count(n, policy.chunk), [&](index_t c) {
    for (index_t i = c * policy.chunk; i < std::min(n, (c + 1) * policy.chunk); ++i)
      out(i) = static_cast<typename decltype(out)::value_type>(detail::score_row(v, i, opts));
  });
}

/// Allocating form of `score`.
template <alignkit::detail::data_argument R, class T = alignkit::detail::compute_t<R>>
std::vector<T> scores(const R& rewards, const options& opts = {}) {
  std::vector<T> out(static_cast<std::size_t>(view_of(rewards).extent(0)));
  score(exec::seq, rewards, out, opts);
  return out;
}

/// The Bradley–Terry loss of every head in one call (bradley_terry's fused kernel per head),
/// plus the accuracy and margin of the aggregated scores. Errors: shape_error.102 (N = 0 or
/// K = 0), shape_error.103 (extents differ), domain_error.201 (non-finite input under
/// check_finite), domain_error.202 (k < 0, c < 0, total_pairs ≤ 0).
template <exec::execution_policy Exec, class C, class R, class T = alignkit::detail::compute_t<C>>
result loss(const Exec& policy, const C& r_chosen, const R& r_rejected, const options& opts = {},
            const outputs<T>& out = {}) {
  using namespace alignkit::detail;
  const auto c = view_of(r_chosen);
  const auto r = view_of(r_rejected);
  detail::check_matrix(detail::fn, "r_chosen", c);
  require_rank<2, decltype(r)>();
  const index_t n = c.extent(0), k = c.extent(1);
  for (std::size_t d = 0; d < 2; ++d) {
    check_extent(detail::fn, "r_rejected", d, r.extent(d), c.extent(d));
    if (out.grad_chosen.data_handle()) check_extent(detail::fn, "grad_chosen", d, out.grad_chosen.extent(d), c.extent(d));
    if (out.grad_rejected.data_handle())
      check_extent(detail::fn, "grad_rejected", d, out.grad_rejected.extent(d), c.extent(d));
  }
  if (out.chosen_scores.data_handle()) check_same_size(detail::fn, "chosen_scores", out.chosen_scores.extent(0), "r_chosen", n);
  if (out.rejected_scores.data_handle())
    check_same_size(detail::fn, "rejected_scores", out.rejected_scores.extent(0), "r_chosen", n);
  detail::check_options(detail::fn, opts);
  const double denom = opts.total_pairs.value_or(static_cast<double>(n));
  check_range(detail::fn, "total_pairs", denom, 0.0, HUGE_VAL, true);
  check_range(detail::fn, "center_rewards_coefficient", opts.center_rewards_coefficient, 0.0, HUGE_VAL);
  if (opts.check_finite) {
    detail::check_finite("r_chosen", c);
    detail::check_finite("r_rejected", r);
  }

  result res{0, 0, 0, 0, n, k};
  const bradley_terry::options head{.center_rewards_coefficient = opts.center_rewards_coefficient,
                                    .total_pairs = denom * static_cast<double>(k)};
  for (index_t j = 0; j < k; ++j) {
    const bradley_terry::outputs<T> head_out{
        {},
        out.grad_chosen.data_handle() ? detail::column(out.grad_chosen, j) : vector_view<T>{},
        out.grad_rejected.data_handle() ? detail::column(out.grad_rejected, j) : vector_view<T>{}};
    const auto h = bradley_terry::loss(policy, detail::column(c, j), detail::column(r, j), head, head_out);
    res.loss += h.loss;
    res.head_accuracy += h.accuracy / static_cast<double>(k);
  }
  const auto agg = chunked_sum<sums<2>>(policy, n, [&](index_t begin, index_t end) {
    sums<2> s;
    for (index_t i = begin; i < end; ++i) {
      const double sc = detail::score_row(c, i, opts), sr = detail::score_row(r, i, opts);
      if (out.chosen_scores.data_handle()) out.chosen_scores(i) = static_cast<T>(sc);
      if (out.rejected_scores.data_handle()) out.rejected_scores(i) = static_cast<T>(sr);
      s.value[0] += sc > sr ? 1.0 : 0.0;
      s.value[1] += sc - sr;
    }
    return s;
  });
  res.accuracy = agg[0] / static_cast<double>(n);
  res.margin = agg[1] / static_cast<double>(n);
  return res;
}

/// Sequential overload.
template <alignkit::detail::data_argument C, class R, class T = alignkit::detail::compute_t<C>>
result loss(const C& r_chosen, const R& r_rejected, const options& opts = {}, const outputs<T>& out = {}) {
  return loss(exec::seq, r_chosen, r_rejected, opts, out);
}

}  // namespace reward_ensemble

ALIGNKIT_END_NAMESPACE
