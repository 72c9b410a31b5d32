/// @file overoptimization.hpp
/// @brief Reward overoptimization diagnostics: reward-model ensemble aggregation with
/// uncertainty, proxy-vs-gold tracking (the divergence point), length diagnostics, and the
/// Gao et al. scaling-law fits.
///
/// Ensemble of M reward models, rewards R [M, N]; per sample μ = mean_m R, σ² = mean_m (R − μ)²:
///   mean: μ;  min (worst case): min_m R;  mean_minus_std: μ − k·σ;  mean_minus_var: μ − k·σ²
/// Proxy vs gold over a run (series indexed by step, with KL): the gold peak p = argmax gold; the
/// run has diverged when gold has fallen by more than `tolerance` since p while proxy still rose.
/// Length: least squares r = a + b·len; Pearson ρ(r, len); length-controlled reward
///   r̃ = r − b·(len − mean len)
/// Scaling laws with d = sqrt(KL) (rewards relative to the initial policy, so gold(0) = 0):
///   best-of-n: gold(d) = d(α − β·d),   RL: gold(d) = d(α − β·log d)
/// fitted by least squares without intercept; the gold peak is at d* = α/(2β) (best-of-n) and
/// d* = exp(α/β − 1) (RL).
/// Papers: Gao, Schulman & Hilton 2022, "Scaling Laws for Reward Model Overoptimization"
/// (arXiv:2210.10760); Coste et al. 2023, "Reward Model Ensembles Help Mitigate
/// Overoptimization" (arXiv:2310.02743; worst-case and uncertainty-weighted ensembles);
/// Singhal et al. 2023, "A Long Way to Go: Investigating Length Correlations in RLHF"
/// (arXiv:2310.03716). Parity: the formulas of those papers (σ is the population deviation).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <tuple>
#include <type_traits>
#include <vector>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/error.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace overoptimization {

/// How an ensemble's rewards become one reward.
enum class ensemble_mode { mean, min, mean_minus_std, mean_minus_var };

/// Ensemble options.
struct ensemble_options {
  ensemble_mode mode = ensemble_mode::mean;
  double k = 1.0;  ///< the coefficient of σ or σ² (≥ 0)
};

/// Batch means of the aggregated reward and of the uncertainty σ.
struct ensemble_result {
  double reward = 0;       ///< mean over samples of the aggregated reward
  double uncertainty = 0;  ///< mean over samples of σ
};

/// Aggregates rewards [M, N] into `reward` [N] and, if given, σ into `uncertainty` [N], in one
/// vectorized pass over the samples. Errors: shape_error.101 (an output of another length),
/// shape_error.102 (M = 0 or N = 0), domain_error.202 (k < 0).
template <exec::execution_policy Exec, tensor_like R, class T = alignkit::detail::compute_t<R>>
ensemble_result aggregate(const Exec& policy, const R& rewards, vector_view<T> reward, const ensemble_options& opts = {},
                          vector_view<T> uncertainty = {}) {
  using namespace alignkit::detail;
  const char* fn = "overoptimization::aggregate";
  const auto x = view_of(rewards);
  require_rank<2, decltype(x)>();
  const index_t m = x.extent(0), n = x.extent(1);
  check_not_empty(fn, "rewards (models)", m);
  check_not_empty(fn, "rewards (samples)", n);
  check_same_size(fn, "reward", reward.extent(0), "rewards (samples)", n);
  if (uncertainty.data_handle()) check_same_size(fn, "uncertainty", uncertainty.extent(0), "rewards (samples)", n);
  check_range(fn, "k", opts.k, 0.0, HUGE_VAL);
  const auto k = static_cast<T>(opts.k);
  const T inv_m = T(1) / static_cast<T>(m);
  const auto mode = opts.mode;
  const std::tuple io{make_writer<T>(reward), make_writer<T>(uncertainty)};
  const auto s = map_reduce<T, 2>(policy, n, io, [&](index_t i, auto tag, const auto& w_reward, const auto& w_sigma) {
    using V = typename decltype(tag)::type;
    V sum(T(0)), lo(std::numeric_limits<T>::infinity());
    for (index_t j = 0; j < m; ++j) {
      const V v = make_reader<T>(x.row(j)).template load<V>(i);
      sum += v;
      lo = min_(lo, v);
    }
    const V mu = sum * inv_m;
    V var(T(0));
    for (index_t j = 0; j < m; ++j) {
      const V d = make_reader<T>(x.row(j)).template load<V>(i) - mu;
      var += d * d;
    }
    var *= inv_m;
    V sigma;
    if constexpr (std::is_arithmetic_v<V>) sigma = std::sqrt(var); else sigma = xsimd::sqrt(var);
    const V out = mode == ensemble_mode::mean             ? mu
                  : mode == ensemble_mode::min            ? lo
                  : mode == ensemble_mode::mean_minus_std ? V(mu - k * sigma)
                                                          : V(mu - k * var);
    w_reward.store(i, out);
    w_sigma.store(i, sigma);
    return std::array<V, 2>{out, sigma};
  });
  const auto nd = static_cast<double>(n);
  return {s[0] / nd, s[1] / nd};
}

/// Sequential overload.
template <alignkit::detail::data_argument R, class T = alignkit::detail::compute_t<R>>
ensemble_result aggregate(const R& rewards, vector_view<T> reward, const ensemble_options& opts = {},
                          vector_view<T> uncertainty = {}) {
  return aggregate(exec::seq, rewards, reward, opts, uncertainty);
}

/// Where a run's gold reward peaked, and whether the proxy kept rising past it.
struct divergence {
  index_t peak = 0;        ///< index of the gold maximum (the first one)
  double kl_at_peak = 0;
  double gold_at_peak = 0;
  double gold_drop = 0;    ///< gold at peak − gold at the end
  double proxy_gain = 0;   ///< proxy at the end − proxy at peak
  bool diverged = false;   ///< gold_drop > tolerance and proxy_gain > 0
};

/// Tracks proxy and gold rewards against KL over a run (series [S], e.g. per step or per n of
/// best-of-n). Errors: shape_error.101 (lengths differ), shape_error.102 (S = 0),
/// domain_error.201 (a non-finite value), domain_error.202 (tolerance < 0).
template <tensor_like K, tensor_like P, tensor_like G>
divergence track(const K& kl, const P& proxy, const G& gold, double tolerance = 0.0) {
  using namespace alignkit::detail;
  const char* fn = "overoptimization::track";
  const auto kv = view_of(kl);
  const auto pv = view_of(proxy);
  const auto gv = view_of(gold);
  const index_t s = kv.extent(0);
  check_same_size(fn, "proxy", pv.extent(0), "kl", s);
  check_same_size(fn, "gold", gv.extent(0), "kl", s);
  check_not_empty(fn, "kl", s);
  check_finite(fn, "kl", kv);
  check_finite(fn, "proxy", pv);
  check_finite(fn, "gold", gv);
  check_range(fn, "tolerance", tolerance, 0.0, HUGE_VAL);
  divergence d;
  for (index_t i = 1; i < s; ++i)
    if (static_cast<double>(gv(i)) > static_cast<double>(gv(d.peak))) d.peak = i;
  d.kl_at_peak = static_cast<double>(kv(d.peak));
  d.gold_at_peak = static_cast<double>(gv(d.peak));
  d.gold_drop = d.gold_at_peak - static_cast<double>(gv(s - 1));
  d.proxy_gain = static_cast<double>(pv(s - 1)) - static_cast<double>(pv(d.peak));
  d.diverged = d.gold_drop > tolerance && d.proxy_gain > 0;
  return d;
}

/// The linear length regression of rewards.
struct length_fit {
  double slope = 0;        ///< b: reward per unit of length
  double intercept = 0;    ///< a
  double correlation = 0;  ///< Pearson ρ(reward, length); 0 when either is constant
  double r_squared = 0;    ///< ρ²
};

/// Fits r = a + b·len over rewards [N] and lengths [N] (two vectorized passes: means, then
/// centered moments) and writes the length-controlled reward r − b·(len − mean len) into
/// `controlled` [N] when given (a third pass). Errors: shape_error.101, shape_error.102.
template <exec::execution_policy Exec, tensor_like Rw, tensor_like Ln, class T = alignkit::detail::compute_t<Rw>>
length_fit length_regression(const Exec& policy, const Rw& rewards, const Ln& lengths, vector_view<T> controlled = {}) {
  using namespace alignkit::detail;
  const char* fn = "overoptimization::length_regression";
  const auto r = view_of(rewards);
  const auto l = view_of(lengths);
  require_rank<1, decltype(r)>();
  require_rank<1, decltype(l)>();
  const index_t n = r.extent(0);
  check_same_size(fn, "lengths", l.extent(0), "rewards", n);
  check_not_empty(fn, "rewards", n);
  if (controlled.data_handle()) check_same_size(fn, "controlled", controlled.extent(0), "rewards", n);
  using A = double;  // lengths can be large integers: moments in double
  const std::tuple in{make_reader<A>(r), make_reader<A>(l)};
  const auto nd = static_cast<double>(n);
  const auto means = map_reduce<A, 2>(policy, n, in, [&](index_t i, auto tag, const auto& rr, const auto& rl) {
    using V = typename decltype(tag)::type;
    return std::array<V, 2>{rr.template load<V>(i), rl.template load<V>(i)};
  });
  const double mr = means[0] / nd, ml = means[1] / nd;
  const auto mom = map_reduce<A, 3>(policy, n, in, [&](index_t i, auto tag, const auto& rr, const auto& rl) {
    using V = typename decltype(tag)::type;
    const V dr = rr.template load<V>(i) - V(mr), dl = rl.template load<V>(i) - V(ml);
    return std::array<V, 3>{dl * dl, dl * dr, dr * dr};
  });
  length_fit f;
  f.slope = mom[0] > 0 ? mom[1] / mom[0] : 0.0;
  f.intercept = mr - f.slope * ml;
  f.correlation = (mom[0] > 0 && mom[2] > 0) ? mom[1] / std::sqrt(mom[0] * mom[2]) : 0.0;
  f.r_squared = f.correlation * f.correlation;
  if (controlled.data_handle()) {
    const auto b = static_cast<T>(f.slope), mlt = static_cast<T>(ml);
    const std::tuple io{make_reader<T>(r), make_reader<T>(l), make_writer<T>(controlled)};
    map_reduce<T, 1>(policy, n, io, [&](index_t i, auto tag, const auto& rt, const auto& lt, const auto& w) {
      using V = typename decltype(tag)::type;
      w.store(i, V(rt.template load<V>(i) - b * (lt.template load<V>(i) - V(mlt))));
      return std::array<V, 1>{V(T(0))};
    });
  }
  return f;
}

/// Sequential overload.
template <alignkit::detail::data_argument Rw, tensor_like Ln, class T = alignkit::detail::compute_t<Rw>>
length_fit length_regression(const Rw& rewards, const Ln& lengths, vector_view<T> controlled = {}) {
  return length_regression(exec::seq, rewards, lengths, controlled);
}

/// The functional form of a Gao et al. fit.
enum class scaling_form {
  best_of_n,  ///< gold(d) = d(α − β·d)
  rl          ///< gold(d) = d(α − β·log d)
};

/// Fitted coefficients.
struct scaling_fit {
  double alpha = 0, beta = 0;
  double r_squared = 0;  ///< 1 − SS_res / Σ gold² (uncentered: the form has no intercept)
  double d_peak = 0;     ///< d at the gold maximum (+inf when β ≤ 0)
  double kl_peak = 0;    ///< d_peak²
};

/// Least-squares fit of gold [S] against KL [S] (KL ≥ 0; gold relative to the initial policy).
/// Errors: shape_error.101, shape_error.102, domain_error.201 (non-finite), domain_error.259 (a
/// negative KL, or fewer than 2 points with KL > 0).
template <tensor_like K, tensor_like G>
scaling_fit fit_scaling_law(const K& kl, const G& gold, scaling_form form) {
  using namespace alignkit::detail;
  const char* fn = "overoptimization::fit_scaling_law";
  const auto kv = view_of(kl);
  const auto gv = view_of(gold);
  const index_t s = kv.extent(0);
  check_same_size(fn, "gold", gv.extent(0), "kl", s);
  check_not_empty(fn, "kl", s);
  check_finite(fn, "kl", kv);
  check_finite(fn, "gold", gv);
  // Features f1 = d, f2 = −d² (best-of-n) or −d·log d (RL); normal equations of the 2×2 system.
  double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0, gg = 0;
  index_t positive = 0;
  for (index_t i = 0; i < s; ++i) {
    const double k = static_cast<double>(kv(i)), g = static_cast<double>(gv(i));
    if (k < 0) raise<domain_error>(259, fn, ": kl[", i, "] is ", k, ", expected a value >= 0");
    gg += g * g;
    if (k == 0) continue;
    ++positive;
    const double d = std::sqrt(k);
    const double f2 = form == scaling_form::best_of_n ? -d * d : -d * std::log(d);
    a11 += d * d;
    a12 += d * f2;
    a22 += f2 * f2;
    b1 += d * g;
    b2 += f2 * g;
  }
  const double det = a11 * a22 - a12 * a12;
  if (positive < 2 || !(det > 1e-12 * a11 * a22))
    raise<domain_error>(259, fn, ": ", positive, " points with kl > 0 do not determine alpha and beta; expected at least 2 "
                        "distinct kl > 0");
  scaling_fit f;
  f.alpha = (b1 * a22 - b2 * a12) / det;
  f.beta = (a11 * b2 - a12 * b1) / det;
  double ss = 0;
  for (index_t i = 0; i < s; ++i) {
    const double d = std::sqrt(static_cast<double>(kv(i)));
    const double model = d == 0 ? 0.0 : d * (f.alpha - f.beta * (form == scaling_form::best_of_n ? d : std::log(d)));
    const double e = static_cast<double>(gv(i)) - model;
    ss += e * e;
  }
  f.r_squared = gg > 0 ? 1 - ss / gg : 1.0;
  if (f.beta > 0) {
    f.d_peak = form == scaling_form::best_of_n ? f.alpha / (2 * f.beta) : std::exp(f.alpha / f.beta - 1);
  } else {
    f.d_peak = std::numeric_limits<double>::infinity();
  }
  f.kl_peak = f.d_peak * f.d_peak;
  return f;
}

}  // namespace overoptimization

ALIGNKIT_END_NAMESPACE
