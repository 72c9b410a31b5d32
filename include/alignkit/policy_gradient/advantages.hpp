/// @file advantages.hpp
/// @brief Outcome advantages without a critic: group-relative estimators (GRPO, Dr.GRPO, RLOO,
/// REINFORCE++-baseline, OPO) and the token-level REINFORCE++ and ReMax.
///
/// Sequence score s_i (the sum of its token rewards over all T positions, mask not applied, or
/// given directly), length L_i = Σ_t m_{i,t}, group g of n sequences with mean μ_g:
///   grpo                   a_i = (s_i − μ_g) / (σ_g + ε), σ_g the unbiased std; without
///                          `norm_by_std` (Dr.GRPO) a_i = s_i − μ_g. A group of one has μ = 0, σ = 1.
///   rloo                   a_i = s_i·n/(n−1) − μ_g·n/(n−1) = s_i − mean of the others; n = 1: s_i
///   reinforce_pp_baseline  a_i = s_i − μ_g (μ = 0 for a group of one), then whitened over the
///                          valid tokens of the batch (verl whitening, masked positions 0)
///   opo                    a_i = s_i − Σ_j L_j s_j / Σ_j L_j (baseline 0 for a group of one, or
///                          when the group has no valid token)
/// Token outputs are a_i·m_{i,t}. Identical scores in a group give a_i = 0 (grpo: 0/ε).
///   reinforce_pp           c = 0; for t = T−1 … 0: c = r_t + γ·c, G_t = c, c = c·m_t;
///                          advantages = whiten(G, m)·m (verl), returns = G
///   remax                  R_t = Σ_{t'≥t} r_{t'}·m_{t'}, advantages = R_t − b_i·m_t (b: greedy score)
/// The score form with consecutive groups of a fixed size computes a_i = (s_i − μ_g)·c_g with
/// c_g = 1/(σ_g + ε) (grpo), n/(n−1) (rloo) or 1: equal to the above up to rounding.
/// Papers: GRPO, Shao et al. 2024 (arXiv:2402.03300); Dr.GRPO, Liu et al. 2025 (arXiv:2503.20783);
/// RLOO, Ahmadian et al. 2024 (arXiv:2402.14740); REINFORCE++, Hu 2025 (arXiv:2501.03262);
/// ReMax, Li et al. 2023 (arXiv:2310.10505); OPO, Hao et al. 2025 (arXiv:2505.23585).
/// Parity: verl `compute_grpo_outcome_advantage`, `compute_rloo_outcome_advantage`,
/// `compute_reinforce_plus_plus_outcome_advantage`,
/// `compute_reinforce_plus_plus_baseline_outcome_advantage`, `compute_remax_outcome_advantage`,
/// `compute_opo_outcome_advantage` (golden ops grpo_adv, rloo_adv, reinforce_pp_adv,
/// reinforce_pp_baseline_adv, remax_adv, opo_adv).
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../core/check.hpp"
#include "../core/error.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/reducer.hpp"
#include "../core/sequences.hpp"
#include "../core/tensor.hpp"
#include "detail/rows.hpp"
#include "whiten.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace advantages {

/// The group-relative estimators.
enum class estimator { grpo, rloo, reinforce_pp_baseline, opo };

/// Options of the group-relative estimators; the defaults are verl's GRPO.
struct options {
  estimator method = estimator::grpo;
  double epsilon = 1e-6;     ///< ε ≥ 0 added to the group std (grpo)
  bool norm_by_std = true;   ///< grpo: divide by σ + ε; false gives Dr.GRPO
};

/// Groups given by one integer id per sequence, in [0, count). Ids are global: under a reducer,
/// equal ids on different shards are one group.
template <class Ids>
struct group_ids {
  Ids ids;
  index_t count;
};

/// Consecutive groups of `size` sequences (B must be a multiple); each group lies within one
/// shard, so its statistics are not reduced.
struct group_size {
  index_t size;
};

/// Groups by id: `advantages::by_id(index, number_of_groups)`.
template <tensor_like I>
group_ids<view_t<const I>> by_id(const I& ids, index_t count) {
  return {view_of(ids), count};
}

/// What a trainer logs.
struct result {
  index_t groups = 0;            ///< groups with at least one sequence (after reduction)
  index_t singleton_groups = 0;  ///< groups of one sequence
  std::optional<whitening::moments> whitening;  ///< reinforce_pp_baseline: the global moments
};

/// Optional outputs of the token-level estimators (reinforce_pp, remax), shaped like the
/// rewards: Rank 2 for padded `[B, T]`, 1 for packed tokens `[N]`.
template <class T, std::size_t Rank = 2>
struct outputs {
  strided_view<T, Rank> advantages;
  strided_view<T, Rank> returns;
};

}  // namespace advantages

namespace detail {

template <class Ids>
index_t group_count(const advantages::group_ids<Ids>& g, index_t n, std::string_view fn) {
  check_same_size(fn, "group ids", g.ids.extent(0), "sequences", n);
  for (index_t i = 0; i < n; ++i) {
    const auto id = g.ids(i);
    if (id < 0 || static_cast<index_t>(id) >= g.count)
      raise<domain_error>(221, fn, ": group id [", i, "] is ", static_cast<long long>(id),
                          ", expected a value in [0, ", g.count, ")");
  }
  return g.count;
}
inline index_t group_count(const advantages::group_size& g, index_t n, std::string_view fn) {
  check_range(fn, "group size", static_cast<double>(g.size), 1.0, HUGE_VAL);
  if (n % g.size != 0)
    raise<shape_error>(120, fn, ": ", n, " sequences do not divide into groups of ", g.size);
  return n / g.size;
}
template <class Ids>
index_t group_of(const advantages::group_ids<Ids>& g, index_t i) {
  return static_cast<index_t>(g.ids(i));
}
inline index_t group_of(const advantages::group_size& g, index_t i) { return i / g.size; }
template <class Ids>
constexpr bool global_groups(const advantages::group_ids<Ids>&) {
  return true;
}
constexpr bool global_groups(const advantages::group_size&) { return false; }

/// Turns scores s (in place) into per-sequence advantages before any whitening, from the group
/// statistics (n, Σs, ΣL, ΣL·s, and Σ(s − μ)² for grpo; L_i = length(i)), reduced when the
/// groups are global. Scratch: 5 doubles per group.
template <class Groups, class Length, class Reducer>
advantages::result group_relative_scores(std::vector<double>& s, const Length& length, const Groups& groups,
                                         const advantages::options& opts, Reducer& reducer, std::string_view fn) {
  using advantages::estimator;
  check_range(fn, "epsilon", opts.epsilon, 0.0, HUGE_VAL);
  const auto n = static_cast<index_t>(s.size());
  const index_t count = group_count(groups, n, fn);
  const auto at = [](index_t g, int k) { return static_cast<std::size_t>(4 * g + k); };
  std::vector<double> st(static_cast<std::size_t>(4 * count));
  for (index_t i = 0; i < n; ++i) {
    const index_t g = group_of(groups, i);
    const double si = s[static_cast<std::size_t>(i)], li = length(i);
    st[at(g, 0)] += 1;
    st[at(g, 1)] += si;
    st[at(g, 2)] += li;
    st[at(g, 3)] += li * si;
  }
  if (global_groups(groups)) reducer.all_reduce_sum(std::span<double>(st));
  auto mean = [&](index_t g) { return st[at(g, 0)] > 1 ? st[at(g, 1)] / st[at(g, 0)] : 0.0; };
  std::vector<double> sd;
  const bool divide = opts.method == estimator::grpo && opts.norm_by_std;
  if (divide) {
    sd.assign(static_cast<std::size_t>(count), 0.0);
    for (index_t i = 0; i < n; ++i) {
      const index_t g = group_of(groups, i);
      const double d = s[static_cast<std::size_t>(i)] - mean(g);
      sd[static_cast<std::size_t>(g)] += d * d;
    }
    if (global_groups(groups)) reducer.all_reduce_sum(std::span<double>(sd));
    for (index_t g = 0; g < count; ++g) {
      const double k = st[at(g, 0)];
      auto& v = sd[static_cast<std::size_t>(g)];
      v = k > 1 ? std::sqrt(v / (k - 1)) : 1.0;
    }
  }
  for (index_t i = 0; i < n; ++i) {
    const index_t g = group_of(groups, i);
    const double k = st[at(g, 0)];
    double& x = s[static_cast<std::size_t>(i)];
    switch (opts.method) {
      case estimator::grpo:
        x = divide ? (x - mean(g)) / (sd[static_cast<std::size_t>(g)] + opts.epsilon) : x - mean(g);
        break;
      case estimator::rloo:
        if (k > 1) x = x * k / (k - 1) - mean(g) * k / (k - 1);
        break;
      case estimator::reinforce_pp_baseline:
        x -= mean(g);
        break;
      case estimator::opo:
        if (k > 1 && st[at(g, 2)] > 0) x -= st[at(g, 3)] / st[at(g, 2)];
        break;
    }
  }
  advantages::result res;
  for (index_t g = 0; g < count; ++g) {
    res.groups += st[at(g, 0)] > 0;
    res.singleton_groups += st[at(g, 0)] == 1;
  }
  return res;
}

/// Σ_k f(x[k]) over n contiguous elements, in double, through 8 lane sums (k mod 8) added
/// pairwise, then the tail: a fixed order that compilers vectorize on any SIMD width.
template <class E, class F>
double lane_sum(const E* x, index_t n, F f) {
  constexpr index_t W = 8;
  const index_t full = n / W * W;
  double acc[W] = {};
  for (index_t k = 0; k < full; k += W)
    for (index_t j = 0; j < W; ++j) acc[j] += f(static_cast<double>(x[k + j]));
  double s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  for (index_t k = full; k < n; ++k) s += f(static_cast<double>(x[k]));
  return s;
}

/// Score form with consecutive groups of `size` on contiguous `scores` and `out`: one pass over
/// memory, each group (held in cache) read for its mean μ, then for Σ(s − μ)² (grpo), then written
/// as a_i = (s_i − μ)·c with c = 1/(σ + ε) (grpo), n/(n − 1) (rloo) or 1, which is the general
/// path's formula up to the rounding of its sums and of c. Work items are whole groups (about
/// `policy.chunk` scores each), so the output does not depend on the policy. No scratch.
template <class Exec, class S, class O>
advantages::result group_relative_fixed(const Exec& policy, const S* scores, O* out, index_t count, index_t size,
                                        const advantages::options& opts) {
  using advantages::estimator;
  constexpr index_t Q = 8;  // groups whose statistics are finished together (one sqrt/div batch)
  const bool divide = opts.method == estimator::grpo && opts.norm_by_std;
  const double k = static_cast<double>(size);
  const double rloo = size > 1 ? k / (k - 1) : 1.0;
  const index_t per_chunk = std::max<index_t>(1, policy.chunk / size);
  for_each_chunk(policy, chunk_count(count, per_chunk), [&](index_t c) {
    const index_t last = std::min(count, (c + 1) * per_chunk);
    for (index_t q0 = c * per_chunk; q0 < last; q0 += Q) {
      const index_t nq = std::min(Q, last - q0);
      const S* x = scores + q0 * size;
      double mean[Q] = {}, scale[Q], var[Q] = {};
      if (size > 1)
        for (index_t q = 0; q < nq; ++q) mean[q] = lane_sum(x + q * size, size, [](double v) { return v; }) / k;
      if (divide) {
        if (size > 1)
          for (index_t q = 0; q < nq; ++q) {
            const double m = mean[q];
            var[q] = lane_sum(x + q * size, size, [m](double v) { return (v - m) * (v - m); });
          }
        for (index_t q = 0; q < Q; ++q)
          scale[q] = 1.0 / ((size > 1 ? std::sqrt(var[q] / (k - 1)) : 1.0) + opts.epsilon);
      } else {
        for (index_t q = 0; q < Q; ++q) scale[q] = opts.method == estimator::rloo ? rloo : 1.0;
      }
      O* y = out + q0 * size;
      for (index_t q = 0; q < nq; ++q)
        for (index_t j = 0; j < size; ++j)
          y[q * size + j] = static_cast<O>((static_cast<double>(x[q * size + j]) - mean[q]) * scale[q]);
    }
  });
  return {count, size == 1 ? count : 0, std::nullopt};
}

/// Group-relative advantages of token rewards in either layout, written as a_i·m into `out`.
template <class Exec, class Rows, class RV, class MV, class OV, class Groups, class Reducer>
advantages::result group_relative_run(const Exec& policy, const Rows& rows, const RV& rv, const MV& mv,
                                      const OV& ov, const Groups& groups, const advantages::options& opts,
                                      Reducer& reducer, std::string_view fn) {
  rows.check(fn, "mask", mv);
  rows.check(fn, "out", ov);
  const auto rr = bind_rows(rows, rv);
  const auto mr = bind_rows(rows, mv);
  const auto orows = bind_rows(rows, ov);
  const index_t b = rows.rows();
  std::vector<double> s(static_cast<std::size_t>(b)), len(static_cast<std::size_t>(b));
  for_rows<0>(policy, b, [&](index_t i) {
    const auto r = rr(i);
    const auto m = mr(i);
    double si = 0, li = 0;
    for (index_t t = 0; t < r.extent(0); ++t) {
      si += static_cast<double>(r(t));
      li += mask_valid(m(t));
    }
    s[static_cast<std::size_t>(i)] = si;
    len[static_cast<std::size_t>(i)] = li;
    return sums<0>{};
  });
  auto res = group_relative_scores(
      s, [&](index_t i) { return len[static_cast<std::size_t>(i)]; }, groups, opts, reducer, fn);
  using E = typename OV::element_type;
  for_rows<0>(policy, b, [&](index_t i) {
    const auto m = mr(i);
    const auto o = orows(i);
    const auto a = static_cast<E>(s[static_cast<std::size_t>(i)]);
    for (index_t t = 0; t < m.extent(0); ++t) o(t) = mask_valid(m(t)) ? a : E(0);
    return sums<0>{};
  });
  if (opts.method == advantages::estimator::reinforce_pp_baseline)
    res.whitening = whiten_rows(policy, orows, mr, orows, whitening::options{.zero_masked = true}, reducer, fn);
  return res;
}

/// REINFORCE++ in either layout.
template <class Exec, class Rows, class RV, class MV, class OV, class Reducer>
whitening::moments reinforce_pp_run(const Exec& policy, const Rows& rows, const RV& rv, const MV& mv,
                                    const OV& adv, const OV& ret, double gamma, Reducer& reducer,
                                    std::string_view fn) {
  rows.check(fn, "mask", mv);
  const bool write_a = adv.data_handle() != nullptr, write_r = ret.data_handle() != nullptr;
  if (write_a) rows.check(fn, "advantages", adv);
  if (write_r) rows.check(fn, "returns", ret);
  check_range(fn, "gamma", gamma, 0.0, 1.0);
  const auto rr = bind_rows(rows, rv);
  const auto mr = bind_rows(rows, mv);
  const auto ar = bind_rows(rows, adv);
  const auto gr = bind_rows(rows, ret);
  using E = typename OV::element_type;
  const auto first = for_rows<2>(policy, rows.rows(), [&](index_t i) {
    const auto r = rr(i);
    const auto m = mr(i);
    const auto a = ar(i);
    const auto g = gr(i);
    double c = 0;
    sums<2> s;
    for (index_t t = r.extent(0); t-- > 0;) {
      c = static_cast<double>(r(t)) + gamma * c;
      if (write_a) a(t) = static_cast<E>(c);
      if (write_r) g(t) = static_cast<E>(c);
      if (mask_valid(m(t))) {
        s.value[0] += 1;
        s.value[1] += c;
      } else {
        c = 0;
      }
    }
    return s;
  });
  if (!write_a) return {};
  const whitening::options w{.zero_masked = true};
  const auto mom = finish_moments(policy, ar, mr, first, w, reducer, fn);
  apply_whitening(policy, ar, mr, ar, mom, true);
  return mom;
}

/// ReMax in either layout.
template <class Exec, class Rows, class RV, class BV, class MV, class OV>
void remax_run(const Exec& policy, const Rows& rows, const RV& rv, const BV& bv, const MV& mv, const OV& adv,
               const OV& ret, std::string_view fn) {
  rows.check(fn, "mask", mv);
  const bool write_a = adv.data_handle() != nullptr, write_r = ret.data_handle() != nullptr;
  if (write_a) rows.check(fn, "advantages", adv);
  if (write_r) rows.check(fn, "returns", ret);
  check_same_size(fn, "baselines", bv.extent(0), "sequences", rows.rows());
  const auto rr = bind_rows(rows, rv);
  const auto mr = bind_rows(rows, mv);
  const auto ar = bind_rows(rows, adv);
  const auto gr = bind_rows(rows, ret);
  using E = typename OV::element_type;
  for_rows<0>(policy, rows.rows(), [&](index_t i) {
    const auto r = rr(i);
    const auto m = mr(i);
    const auto a = ar(i);
    const auto g = gr(i);
    const double base = static_cast<double>(bv(i));
    double c = 0;
    for (index_t t = r.extent(0); t-- > 0;) {
      const bool valid = mask_valid(m(t));
      if (valid) c += static_cast<double>(r(t));
      if (write_r) g(t) = static_cast<E>(c);
      if (write_a) a(t) = static_cast<E>(valid ? c - base : c);
    }
    return sums<0>{};
  });
}

}  // namespace detail

namespace advantages {

/// Group-relative advantages from token rewards on a padded batch: `token_rewards` and `mask`
/// are `[B, T]`, the groups are `group_ids` (over B) or `group_size`; writes a_i·m_{i,t} into
/// `out` `[B, T]` (verl's advantages and returns are both this tensor). Rows run in parallel
/// under `exec::par` (bitwise equal to `exec::seq`). Scratch: 2 doubles per sequence and 5 per
/// group.
/// Errors: shape_error.101 (group ids not B long), shape_error.103 (mask or out shaped unlike the
/// rewards), shape_error.120 (B not a multiple of the group size), domain_error.202 (ε < 0 or a
/// group size below 1), domain_error.220 (reinforce_pp_baseline with fewer than 2 valid tokens),
/// domain_error.221 (a group id outside [0, count)).
template <exec::execution_policy Exec, matrix_like Rw, matrix_like M, class Groups, class Out,
          reducer Red = local_reducer>
result group_relative(const Exec& policy, const Rw& token_rewards, const M& mask, const Groups& groups,
                      const options& opts, Out&& out, Red&& reducer = {}) {
  const auto rv = view_of(token_rewards);
  return alignkit::detail::group_relative_run(policy, alignkit::detail::make_padded_layout(rv), rv, view_of(mask),
                                              view_of(out), groups, opts, reducer, "advantages::group_relative");
}

/// As above on packed tokens, `group_relative(exec, packed{offsets}, token_rewards, mask, …)`:
/// `token_rewards`, `mask` and `out` are `[N]`, sequence b owns tokens [offsets[b], offsets[b+1])
/// and its score sums those tokens; bitwise equal to the padded result on the same tokens when
/// the padding holds zero rewards. Errors as above, with shape_error.101 for lengths and
/// shape_error.104 / domain_error.204 for bad offsets.
template <exec::execution_policy Exec, class Offsets, vector_like Rw, vector_like M, class Groups, class Out,
          reducer Red = local_reducer>
result group_relative(const Exec& policy, const packed<Offsets>& layout, const Rw& token_rewards, const M& mask,
                      const Groups& groups, const options& opts, Out&& out, Red&& reducer = {}) {
  constexpr const char* fn = "advantages::group_relative";
  const auto rv = view_of(token_rewards);
  return alignkit::detail::group_relative_run(policy, alignkit::detail::make_packed_layout(fn, layout, rv), rv,
                                              view_of(mask), view_of(out), groups, opts, reducer, fn);
}

/// Group-relative advantages from one score per sequence: `scores` and `out` are `[B]`; every
/// sequence counts as one token (L_i = 1), so opo's baseline is the group mean and
/// reinforce_pp_baseline whitens over the sequences. With `group_size` on contiguous `scores`
/// and `out`, one pass over whole groups in parallel under `exec::par` (bitwise equal to
/// `exec::seq`), no scratch, a_i computed as (s_i − μ)·(1/(σ + ε)); otherwise scratch of 1 double
/// per sequence and 5 per group. Errors as above (101 for out).
template <exec::execution_policy Exec, vector_like S, class Groups, class Out, reducer Red = local_reducer>
result group_relative(const Exec& policy, const S& scores, const Groups& groups, const options& opts, Out&& out,
                      Red&& reducer = {}) {
  constexpr const char* fn = "advantages::group_relative";
  using namespace alignkit::detail;
  const auto sv = view_of(scores);
  const auto ov = view_of(out);
  check_same_shape(fn, "out", ov, "scores", sv);
  const index_t b = sv.extent(0);
  using E = typename decltype(ov)::element_type;
  using SV = decltype(sv);
  using OV = decltype(ov);
  constexpr bool plain = std::is_same_v<Groups, group_size> &&
                         std::is_same_v<typename SV::accessor_type, default_accessor<typename SV::element_type>> &&
                         std::is_same_v<typename OV::accessor_type, default_accessor<E>>;
  result res;
  bool fixed = false;
  if constexpr (plain) {
    if (sv.stride(0) == 1 && ov.stride(0) == 1) {
      check_range(fn, "epsilon", opts.epsilon, 0.0, HUGE_VAL);
      const index_t count = group_count(groups, b, fn);
      res = group_relative_fixed(policy, sv.data_handle(), ov.data_handle(), count, groups.size, opts);
      fixed = true;
    }
  }
  if (!fixed) {
    std::vector<double> s(static_cast<std::size_t>(b));
    for (index_t i = 0; i < b; ++i) s[static_cast<std::size_t>(i)] = static_cast<double>(sv(i));
    res = group_relative_scores(s, [](index_t) { return 1.0; }, groups, opts, reducer, fn);
    for (index_t i = 0; i < b; ++i) ov(i) = static_cast<E>(s[static_cast<std::size_t>(i)]);
  }
  if (opts.method == estimator::reinforce_pp_baseline) {
    static constexpr int one = 1;
    const vector_view<const int> ones(&one, {b}, {0});
    const split_rows<decltype(ov)> orows{ov, policy.chunk};
    res.whitening = whiten_rows(policy, orows, split_rows<decltype(ones)>{ones, policy.chunk}, orows,
                                whitening::options{}, reducer, fn);
  }
  return res;
}

/// Sequential overloads.
template <alignkit::detail::data_argument Rw, matrix_like M, class Groups, class Out, reducer Red = local_reducer>
result group_relative(const Rw& token_rewards, const M& mask, const Groups& groups, const options& opts, Out&& out,
                      Red&& reducer = {}) {
  return group_relative(exec::seq, token_rewards, mask, groups, opts, out, reducer);
}
template <class Offsets, vector_like Rw, vector_like M, class Groups, class Out, reducer Red = local_reducer>
result group_relative(const packed<Offsets>& layout, const Rw& token_rewards, const M& mask, const Groups& groups,
                      const options& opts, Out&& out, Red&& reducer = {}) {
  return group_relative(exec::seq, layout, token_rewards, mask, groups, opts, out, reducer);
}
template <vector_like S, class Groups, class Out, reducer Red = local_reducer>
result group_relative(const S& scores, const Groups& groups, const options& opts, Out&& out, Red&& reducer = {}) {
  return group_relative(exec::seq, scores, groups, opts, out, reducer);
}

/// REINFORCE++ on a padded batch (`[B, T]`): discounted returns reset after each masked token,
/// whitened over the valid tokens of the batch (verl, moments through `reducer`), masked
/// advantages 0. Errors: shape_error.103, domain_error.202 (γ outside [0, 1]), domain_error.220
/// (fewer than 2 valid tokens in the batch, when advantages are requested).
template <exec::execution_policy Exec, matrix_like Rw, matrix_like M, class T = alignkit::detail::compute_t<Rw>,
          reducer Red = local_reducer>
whitening::moments reinforce_pp(const Exec& policy, const Rw& token_rewards, const M& mask, double gamma,
                                const outputs<T, 2>& out, Red&& reducer = {}) {
  const auto rv = view_of(token_rewards);
  return alignkit::detail::reinforce_pp_run(policy, alignkit::detail::make_padded_layout(rv), rv, view_of(mask),
                                            out.advantages, out.returns, gamma, reducer, "advantages::reinforce_pp");
}

/// REINFORCE++ on packed tokens `[N]`, `reinforce_pp(exec, packed{offsets}, …)`; bitwise equal to
/// the padded result. Errors: shape_error.101, shape_error.104, domain_error.204,
/// domain_error.202, domain_error.220.
template <exec::execution_policy Exec, class Offsets, vector_like Rw, vector_like M,
          class T = alignkit::detail::compute_t<Rw>, reducer Red = local_reducer>
whitening::moments reinforce_pp(const Exec& policy, const packed<Offsets>& layout, const Rw& token_rewards,
                                const M& mask, double gamma, const outputs<T, 1>& out, Red&& reducer = {}) {
  constexpr const char* fn = "advantages::reinforce_pp";
  const auto rv = view_of(token_rewards);
  return alignkit::detail::reinforce_pp_run(policy, alignkit::detail::make_packed_layout(fn, layout, rv), rv,
                                            view_of(mask), out.advantages, out.returns, gamma, reducer, fn);
}

/// ReMax on a padded batch: `token_rewards`, `mask` `[B, T]`, `baselines` `[B]` (the greedy
/// rollout's score). Errors: shape_error.101 (baselines not B long), shape_error.103.
template <exec::execution_policy Exec, matrix_like Rw, vector_like Bl, matrix_like M,
          class T = alignkit::detail::compute_t<Rw>>
void remax(const Exec& policy, const Rw& token_rewards, const Bl& baselines, const M& mask, const outputs<T, 2>& out) {
  const auto rv = view_of(token_rewards);
  alignkit::detail::remax_run(policy, alignkit::detail::make_padded_layout(rv), rv, view_of(baselines), view_of(mask),
                              out.advantages, out.returns, "advantages::remax");
}

/// ReMax on packed tokens `[N]`, `remax(exec, packed{offsets}, token_rewards, baselines, mask, …)`
/// with `baselines` `[B]`. Errors: shape_error.101, shape_error.104, domain_error.204.
template <exec::execution_policy Exec, class Offsets, vector_like Rw, vector_like Bl, vector_like M,
          class T = alignkit::detail::compute_t<Rw>>
void remax(const Exec& policy, const packed<Offsets>& layout, const Rw& token_rewards, const Bl& baselines,
           const M& mask, const outputs<T, 1>& out) {
  constexpr const char* fn = "advantages::remax";
  const auto rv = view_of(token_rewards);
  alignkit::detail::remax_run(policy, alignkit::detail::make_packed_layout(fn, layout, rv), rv, view_of(baselines),
                              view_of(mask), out.advantages, out.returns, fn);
}

/// Sequential overloads.
template <alignkit::detail::data_argument Rw, matrix_like M, class T = alignkit::detail::compute_t<Rw>,
          reducer Red = local_reducer>
whitening::moments reinforce_pp(const Rw& token_rewards, const M& mask, double gamma, const outputs<T, 2>& out,
                                Red&& reducer = {}) {
  return reinforce_pp(exec::seq, token_rewards, mask, gamma, out, reducer);
}
template <class Offsets, vector_like Rw, vector_like M, class T = alignkit::detail::compute_t<Rw>,
          reducer Red = local_reducer>
whitening::moments reinforce_pp(const packed<Offsets>& layout, const Rw& token_rewards, const M& mask, double gamma,
                                const outputs<T, 1>& out, Red&& reducer = {}) {
  return reinforce_pp(exec::seq, layout, token_rewards, mask, gamma, out, reducer);
}
template <alignkit::detail::data_argument Rw, vector_like Bl, matrix_like M, class T = alignkit::detail::compute_t<Rw>>
void remax(const Rw& token_rewards, const Bl& baselines, const M& mask, const outputs<T, 2>& out) {
  remax(exec::seq, token_rewards, baselines, mask, out);
}
template <class Offsets, vector_like Rw, vector_like Bl, vector_like M, class T = alignkit::detail::compute_t<Rw>>
void remax(const packed<Offsets>& layout, const Rw& token_rewards, const Bl& baselines, const M& mask,
           const outputs<T, 1>& out) {
  remax(exec::seq, layout, token_rewards, baselines, mask, out);
}

}  // namespace advantages

ALIGNKIT_END_NAMESPACE
