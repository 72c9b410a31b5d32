/// @file dapo.hpp
/// @brief DAPO's batch tools: dynamic sampling (groups whose rewards are all equal carry no
/// group-relative signal), soft overlong punishment, and masking of truncated completions.
///
///   dynamic sampling   keep group g iff it has one member or min_g s ≠ max_g s (exact equality;
///                      such groups give every member a zero GRPO advantage)
///   overlong penalty   with L_exp = L_max − L_buffer and factor f:
///                        0                          |y| ≤ L_exp
///                        −f·(|y| − L_exp)/L_buffer   L_exp < |y| ≤ L_max
///                        −f                         |y| > L_max
///   truncation mask    m_{i,t} = 0 for every t of a truncated completion i
/// Paper: Yu et al. 2025, "DAPO: An Open-Source LLM Reinforcement Learning System at Scale"
/// (arXiv:2503.14476), §3.2 (dynamic sampling), §3.4 eq. 13 (soft overlong punishment) and
/// overlong filtering.
/// Parity: verl's DAPO recipe trainer (group filtering keeps groups whose metric has std > 0 or
/// one member; we compare exactly instead of a floating std) and verl `DAPORewardManager` (overlong
/// buffer reward min(−(|y| − L_exp)/L_buffer·f, 0), identical to the above for |y| ≤ L_max).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/check.hpp"
#include "../core/execution.hpp"
#include "../core/sequences.hpp"
#include "../core/tensor.hpp"
#include "advantages.hpp"
#include "detail/rows.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace dapo {

/// Soft overlong punishment settings (DAPO: L_max = 20480, L_buffer = 4096, factor 1).
struct overlong_options {
  double max_length = 20480;    ///< L_max > 0
  double buffer_length = 4096;  ///< L_buffer ∈ (0, L_max]
  double penalty_factor = 1.0;  ///< f ≥ 0
};

}  // namespace dapo

namespace detail {

inline void check_overlong(const char* fn, const dapo::overlong_options& o) {
  check_range(fn, "max_length", o.max_length, 0.0, HUGE_VAL, true);
  check_range(fn, "buffer_length", o.buffer_length, 0.0, o.max_length, true);
  check_range(fn, "penalty_factor", o.penalty_factor, 0.0, HUGE_VAL);
}

inline double overlong_penalty_of(double length, const dapo::overlong_options& o) {
  const double expected = o.max_length - o.buffer_length;
  if (length <= expected) return 0.0;
  if (length > o.max_length) return -o.penalty_factor;
  return -(length - expected) / o.buffer_length * o.penalty_factor;
}

}  // namespace detail

namespace dapo {

/// What dynamic sampling found in a batch.
struct sampling_report {
  index_t groups = 0;           ///< groups with at least one member
  index_t constant_groups = 0;  ///< groups of two or more with all rewards equal (dropped)
  index_t kept_sequences = 0;   ///< sequences whose group is kept
};

/// Dynamic sampling on the local batch: writes keep[i] = 1 if sequence i's group is kept, else 0
/// (groups: `advantages::group_ids` or `advantages::group_size`; each group must lie in this
/// batch). Scratch: 3 doubles per group.
/// Errors: shape_error.101 (keep or group ids not B long), shape_error.120, domain_error.202,
/// domain_error.221 (as in advantages::group_relative).
template <vector_like S, class Groups, class Keep>
sampling_report filter_groups(const S& scores, const Groups& groups, Keep&& keep) {
  constexpr const char* fn = "dapo::filter_groups";
  using namespace alignkit::detail;
  const auto sv = view_of(scores);
  const auto kv = view_of(keep);
  const index_t n = sv.extent(0);
  check_same_size(fn, "keep", kv.extent(0), "scores", n);
  const index_t count = group_count(groups, n, fn);
  std::vector<double> members(static_cast<std::size_t>(count)), lo(members.size(), HUGE_VAL),
      hi(members.size(), -HUGE_VAL);
  for (index_t i = 0; i < n; ++i) {
    const auto g = static_cast<std::size_t>(group_of(groups, i));
    const double s = static_cast<double>(sv(i));
    members[g] += 1;
    lo[g] = std::min(lo[g], s);
    hi[g] = std::max(hi[g], s);
  }
  sampling_report rep;
  for (std::size_t g = 0; g < members.size(); ++g) {
    rep.groups += members[g] > 0;
    rep.constant_groups += members[g] > 1 && lo[g] == hi[g];
  }
  using E = typename decltype(kv)::element_type;
  for (index_t i = 0; i < n; ++i) {
    const auto g = static_cast<std::size_t>(group_of(groups, i));
    const bool kept = members[g] == 1 || lo[g] != hi[g];
    kv(i) = static_cast<E>(kept);
    rep.kept_sequences += kept;
  }
  return rep;
}

/// The soft overlong penalty of one completion of `length` tokens (≤ 0).
/// Errors: domain_error.202 (max_length ≤ 0, buffer_length outside (0, max_length],
/// penalty_factor < 0).
inline double overlong_penalty(double length, const overlong_options& opts = {}) {
  alignkit::detail::check_overlong("dapo::overlong_penalty", opts);
  return alignkit::detail::overlong_penalty_of(length, opts);
}

/// Adds the soft overlong penalty to each sequence's score in place: scores[i] +=
/// penalty(lengths[i]). Returns the number of penalized sequences.
/// Errors: shape_error.101 (lengths and scores differ in size), domain_error.202 as above.
template <vector_like L, class S>
index_t penalize_overlong(const L& lengths, S&& scores, const overlong_options& opts = {}) {
  constexpr const char* fn = "dapo::penalize_overlong";
  const auto lv = view_of(lengths);
  const auto sv = view_of(scores);
  alignkit::detail::check_same_size(fn, "scores", sv.extent(0), "lengths", lv.extent(0));
  alignkit::detail::check_overlong(fn, opts);
  using E = typename decltype(sv)::element_type;
  index_t penalized = 0;
  for (index_t i = 0; i < lv.extent(0); ++i) {
    const double p = alignkit::detail::overlong_penalty_of(static_cast<double>(lv(i)), opts);
    sv(i) = static_cast<E>(static_cast<double>(sv(i)) + p);
    penalized += p < 0;
  }
  return penalized;
}

/// Overlong filtering: zeroes the `[B, T]` mask rows of truncated completions (truncated[i]
/// nonzero) in place, so they contribute no loss. Rows run in parallel under `exec::par`.
/// Returns the number of truncated sequences. Errors: shape_error.101 (truncated not B long).
template <exec::execution_policy Exec, class M, vector_like Tr>
index_t mask_truncated(const Exec& policy, M&& mask, const Tr& truncated) {
  const auto mv = view_of(mask);
  const auto tv = view_of(truncated);
  require_rank<2, decltype(mv)>();
  alignkit::detail::check_same_size("dapo::mask_truncated", "truncated", tv.extent(0), "mask rows", mv.extent(0));
  using E = typename decltype(mv)::element_type;
  const auto s = alignkit::detail::for_rows<1>(policy, mv.extent(0), [&](index_t b) {
    alignkit::detail::sums<1> r;
    if (mask_valid(tv(b))) {
      const auto row = mv.row(b);
      for (index_t t = 0; t < row.extent(0); ++t) row(t) = E(0);
      r.value[0] = 1;
    }
    return r;
  });
  return static_cast<index_t>(s[0]);
}

/// Sequential overload.
template <alignkit::detail::data_argument M, vector_like Tr>
index_t mask_truncated(M&& mask, const Tr& truncated) {
  return mask_truncated(exec::seq, mask, truncated);
}

}  // namespace dapo

ALIGNKIT_END_NAMESPACE
