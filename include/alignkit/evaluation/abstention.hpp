/// @file abstention.hpp
/// @brief Selective prediction: the risk–coverage curve, AURC and excess-AURC, the confidence
/// threshold that meets a target risk or coverage, and selective accuracy — whether "I don't
/// know" is said at the right times.
///
/// Samples i with confidence κ_i and loss ℓ_i (e.g. 1 − correct). Accepting κ ≥ τ gives
///   coverage(τ) = #{κ ≥ τ} / N,   risk(τ) = Σ_{κ ≥ τ} ℓ / #{κ ≥ τ}
/// Sorting by κ descending, with r_j the risk of the first j samples:
///   AURC = (1/N) Σ_{j=1}^{N} r_j,   oracle AURC = the same with the samples sorted by ℓ
///   ascending,   excess-AURC (E-AURC) = AURC − oracle AURC
/// Ties in κ are accepted or rejected together: each tied sample contributes the group's mean
/// loss, which is the expectation of AURC over random tie-breaking (so AURC does not depend on
/// input order). For 0/1 losses the oracle AURC tends to r + (1 − r)·ln(1 − r), r = overall risk.
/// Paper: Geifman, Uziel & El-Yaniv 2019, "Bias-Reduced Uncertainty Estimation for Deep Neural
/// Classifiers" (arXiv:1805.08206; AURC, E-AURC); El-Yaniv & Wiener 2010 (risk–coverage).
/// Parity: the discrete AURC of the authors' code (mean selective risk over the N coverages),
/// with tie groups averaged.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <vector>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/error.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace abstention {

/// The risk–coverage curve at every distinct confidence, from the highest threshold down.
struct curve {
  std::vector<double> threshold;  ///< τ (a confidence that occurs)
  std::vector<double> coverage;   ///< #{κ ≥ τ} / N
  std::vector<double> risk;       ///< mean loss over κ ≥ τ
};

/// AURC, its oracle and excess, and the curve.
struct report {
  double aurc = 0;
  double oracle_aurc = 0;
  double excess_aurc = 0;  ///< aurc − oracle_aurc ≥ 0
  double risk = 0;         ///< the risk at full coverage
  curve points;
};

/// An operating point on the curve.
struct operating_point {
  double threshold = std::numeric_limits<double>::infinity();  ///< accept κ ≥ threshold; +inf: accept nothing
  double coverage = 0;
  double risk = 0;
};

namespace detail {

/// Σ_j r_j / N over losses in acceptance order, tie groups [begin, end) given by `group_end`.
template <class GroupEnd>
double aurc_of(const std::vector<double>& loss, GroupEnd&& group_end) {
  const std::size_t n = loss.size();
  double prefix = 0, total = 0;
  for (std::size_t b = 0; b < n;) {
    const std::size_t e = group_end(b);
    double group = 0;
    for (std::size_t j = b; j < e; ++j) group += loss[j];
    const double mean = group / static_cast<double>(e - b);
    for (std::size_t j = b; j < e; ++j) {
      prefix += mean;
      total += prefix / static_cast<double>(j + 1);
    }
    b = e;
  }
  return total / static_cast<double>(n);
}

}  // namespace detail

/// Risk–coverage curve and AURC of confidences [N] and losses [N]. One sort (allocates 3N
/// values). Errors: shape_error.101 (lengths differ), shape_error.102 (N = 0), domain_error.201
/// (a non-finite confidence or loss).
template <tensor_like C, tensor_like L>
report risk_coverage(const C& confidence, const L& loss) {
  using namespace alignkit::detail;
  const char* fn = "abstention::risk_coverage";
  const auto c = view_of(confidence);
  const auto l = view_of(loss);
  require_rank<1, decltype(c)>();
  require_rank<1, decltype(l)>();
  const index_t n = c.extent(0);
  check_same_size(fn, "loss", l.extent(0), "confidence", n);
  check_not_empty(fn, "confidence", n);
  check_finite(fn, "confidence", c);
  check_finite(fn, "loss", l);
  const auto un = static_cast<std::size_t>(n);
  std::vector<std::size_t> order(un);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return static_cast<double>(c(static_cast<index_t>(a))) > static_cast<double>(c(static_cast<index_t>(b)));
  });
  std::vector<double> conf(un), sorted(un);
  for (std::size_t j = 0; j < un; ++j) {
    conf[j] = static_cast<double>(c(static_cast<index_t>(order[j])));
    sorted[j] = static_cast<double>(l(static_cast<index_t>(order[j])));
  }
  auto tie_end = [&](std::size_t b) {
    std::size_t e = b + 1;
    while (e < un && conf[e] == conf[b]) ++e;
    return e;
  };
  report r;
  double prefix = 0;
  for (std::size_t b = 0; b < un;) {
    const std::size_t e = tie_end(b);
    for (std::size_t j = b; j < e; ++j) prefix += sorted[j];
    r.points.threshold.push_back(conf[b]);
    r.points.coverage.push_back(static_cast<double>(e) / static_cast<double>(un));
    r.points.risk.push_back(prefix / static_cast<double>(e));
    b = e;
  }
  r.risk = r.points.risk.back();
  r.aurc = detail::aurc_of(sorted, tie_end);
  std::sort(sorted.begin(), sorted.end());
  r.oracle_aurc = detail::aurc_of(sorted, [](std::size_t b) { return b + 1; });
  r.excess_aurc = r.aurc - r.oracle_aurc;
  return r;
}

/// The highest-coverage point whose risk is at most `target` (threshold +inf and coverage 0
/// when none is). Errors: domain_error.202 (target not finite).
inline operating_point threshold_for_risk(const curve& points, double target) {
  alignkit::detail::check_range("abstention::threshold_for_risk", "target", target, -HUGE_VAL, HUGE_VAL, true, true);
  operating_point p;
  for (std::size_t j = 0; j < points.risk.size(); ++j)
    if (points.risk[j] <= target) p = {points.threshold[j], points.coverage[j], points.risk[j]};
  return p;
}

/// The highest threshold whose coverage is at least `target` ∈ [0, 1].
/// Errors: domain_error.202 (target outside [0, 1]).
inline operating_point threshold_for_coverage(const curve& points, double target) {
  alignkit::detail::check_range("abstention::threshold_for_coverage", "target", target, 0.0, 1.0);
  for (std::size_t j = 0; j < points.coverage.size(); ++j)
    if (points.coverage[j] >= target) return {points.threshold[j], points.coverage[j], points.risk[j]};
  return {points.threshold.back(), points.coverage.back(), points.risk.back()};
}

/// Accuracy among accepted samples and the coverage.
struct selective_result {
  double accuracy = std::numeric_limits<double>::quiet_NaN();  ///< NaN when nothing is accepted
  double coverage = 0;
  index_t accepted = 0;
};

/// Selective accuracy at `threshold`: accept κ ≥ threshold; `correct` [N] is 0/1 (or any score
/// whose mean is wanted). One fused vectorized pass. Errors: shape_error.101, shape_error.102.
template <exec::execution_policy Exec, tensor_like C, tensor_like Y>
selective_result selective_accuracy(const Exec& policy, const C& confidence, const Y& correct, double threshold) {
  using namespace alignkit::detail;
  const char* fn = "abstention::selective_accuracy";
  const auto c = view_of(confidence);
  const auto y = view_of(correct);
  require_rank<1, decltype(c)>();
  require_rank<1, decltype(y)>();
  const index_t n = c.extent(0);
  check_same_size(fn, "correct", y.extent(0), "confidence", n);
  check_not_empty(fn, "confidence", n);
  using T = compute_t<C>;
  const auto tau = static_cast<T>(threshold);
  const std::tuple io{make_reader<T>(c), make_reader<T>(y)};
  const auto s = map_reduce<T, 2>(policy, n, io, [&](index_t i, auto tag, const auto& rc, const auto& ry) {
    using V = typename decltype(tag)::type;
    const V take = indicator_<V>(rc.template load<V>(i) >= V(tau));
    return std::array<V, 2>{take, take * ry.template load<V>(i)};
  });
  selective_result r;
  r.accepted = static_cast<index_t>(s[0]);
  r.coverage = s[0] / static_cast<double>(n);
  if (s[0] > 0) r.accuracy = s[1] / s[0];
  return r;
}

/// Sequential overload.
template <alignkit::detail::data_argument C, tensor_like Y>
selective_result selective_accuracy(const C& confidence, const Y& correct, double threshold) {
  return selective_accuracy(exec::seq, confidence, correct, threshold);
}

}  // namespace abstention

ALIGNKIT_END_NAMESPACE
