/// @file temperature_scaling.hpp
/// @brief Temperature scaling: the one-parameter post-hoc calibration of Guo et al. 2017.
///
/// With logits z_i ∈ R^K, labels y_i and inverse temperature s = 1/T:
///   NLL(s)   = mean_i [ logsumexp(s·z_i) − s·z_{i,y_i} ]          (convex in s)
///   NLL'(s)  = mean_i [ E_{p_s}[z_i] − z_{i,y_i} ],  NLL''(s) = mean_i Var_{p_s}[z_i] ≥ 0
/// NLL' is increasing, so the minimizer is its root: safeguarded Newton inside a bisection
/// bracket on [1/max_temperature, 1/min_temperature] (the bound is returned when the root lies
/// outside, e.g. T → 0 on separable data). Binary logits [N] are the two-class logits (0, z).
/// The ECE before (T = 1) and after uses the equal-width top-label bins of calibration.hpp.
/// Paper: Guo et al. 2017, "On Calibration of Modern Neural Networks" (arXiv:1706.04599).
/// Parity: the NLL is the cross-entropy of PyTorch `F.cross_entropy(z / T, y)` (the reference
/// implementation gpleiss/temperature_scaling fits it with LBFGS; we solve the same 1-D problem
/// to a tolerance).
#pragma once

#include <cmath>
#include <span>
#include <vector>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/error.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/tensor.hpp"
#include "calibration.hpp"
#include "detail/binning.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace calibration {

/// Search range and stopping rule of the fit.
struct temperature_options {
  double min_temperature = 1e-2;  ///< T is searched in [min, max]
  double max_temperature = 1e2;
  double tolerance = 1e-10;       ///< stop when the step in s = 1/T is below tolerance·s
  int max_iterations = 100;
  index_t n_bins = default_bins;  ///< bins of the reported ECE
};

/// The fitted temperature and what it changed.
struct temperature_result {
  double temperature = 1;
  double nll_before = 0, nll_after = 0;  ///< mean NLL at T = 1 and at the fit
  double ece_before = 0, ece_after = 0;  ///< top-label ECE at T = 1 and at the fit
  int iterations = 0;
};

namespace detail {

/// Logit k of row i: a [N, K] view, or the two-class logits (0, z_i) of a [N] view.
template <class V>
struct logit_rows {
  V v;
  index_t classes() const {
    if constexpr (V::rank() == 2) return v.extent(1); else return 2;
  }
  double operator()(index_t i, index_t k) const {
    if constexpr (V::rank() == 2) return static_cast<double>(v(i, k)); else return k == 0 ? 0.0 : static_cast<double>(v(i));
  }
};

/// Per-row statistics at inverse temperature s: max, first argmax, Σ e^{s(z−m)}, and the first
/// two moments of z − m under softmax(s·z).
struct softmax_moments {
  double max, sum, mean, var;
  index_t argmax;
};

template <class Z>
softmax_moments moments(const Z& z, index_t i, double s) {
  const index_t k = z.classes();
  softmax_moments r{z(i, 0), 0, 0, 0, 0};
  for (index_t j = 1; j < k; ++j) {
    const double v = z(i, j);
    if (v > r.max) {
      r.max = v;
      r.argmax = j;
    }
  }
  double s1 = 0, s2 = 0;
  for (index_t j = 0; j < k; ++j) {
    const double d = z(i, j) - r.max, e = std::exp(s * d);
    r.sum += e;
    s1 += e * d;
    s2 += e * d * d;
  }
  r.mean = s1 / r.sum;
  r.var = std::max(0.0, s2 / r.sum - r.mean * r.mean);
  return r;
}

}  // namespace detail

/// Fits T on logits [N, K] (or binary logits [N]) and integer labels [N]; each NLL evaluation is
/// one pass (deterministic for any policy). Errors: shape_error.101 (lengths differ),
/// shape_error.102 (N = 0 or K = 0), domain_error.201 (a non-finite logit), domain_error.252 (a
/// label out of range), domain_error.202 (a bad option).
template <exec::execution_policy Exec, tensor_like Z, tensor_like L>
temperature_result fit_temperature(const Exec& policy, const Z& logits, const L& labels,
                                   const temperature_options& opts = {}) {
  using namespace alignkit::detail;
  const char* fn = "calibration::fit_temperature";
  check_range(fn, "min_temperature", opts.min_temperature, 0.0, HUGE_VAL, true);
  check_range(fn, "max_temperature", opts.max_temperature, opts.min_temperature, HUGE_VAL);
  check_range(fn, "tolerance", opts.tolerance, 0.0, HUGE_VAL, true);
  check_range(fn, "max_iterations", opts.max_iterations, 1.0, 1e9);
  check_range(fn, "n_bins", static_cast<double>(opts.n_bins), 1.0, 1e6);
  const auto zv = view_of(logits);
  const auto y = view_of(labels);
  require_rank<1, decltype(y)>();
  const calibration::detail::logit_rows<decltype(zv)> z{zv};
  const index_t n = zv.extent(0), k = z.classes();
  check_same_size(fn, "labels", y.extent(0), "logits", n);
  check_not_empty(fn, "logits", n);
  check_not_empty(fn, "logits (classes)", k);
  for (index_t i = 0; i < n; ++i) {
    for (index_t j = 0; j < k; ++j)
      if (!std::isfinite(z(i, j))) {
        if constexpr (decltype(zv)::rank() == 2)
          raise<domain_error>(201, fn, ": logits[", i, ", ", j, "] is ", z(i, j), ", expected a finite value");
        else
          raise<domain_error>(201, fn, ": logits[", i, "] is ", z(i, j), ", expected a finite value");
      }
    if (calibration::detail::label_at(y, i, k) < 0)
      raise<domain_error>(252, fn, ": labels[", i, "] is ", static_cast<double>(y(i)), ", expected an integer in [0, ", k - 1, "]");
  }
  const auto nd = static_cast<double>(n);
  // (NLL, NLL', NLL'') at s.
  auto evaluate_at = [&](double s) {
    const auto t = chunked_sum<sums<3>>(policy, n, [&](index_t b, index_t e) {
      sums<3> part;
      for (index_t i = b; i < e; ++i) {
        const auto m = calibration::detail::moments(z, i, s);
        const double zy = z(i, static_cast<index_t>(y(i)));
        part.value[0] += s * (m.max - zy) + std::log(m.sum);
        part.value[1] += m.max + m.mean - zy;
        part.value[2] += m.var;
      }
      return part;
    });
    return std::array<double, 3>{t[0] / nd, t[1] / nd, t[2] / nd};
  };
  auto ece_at = [&](double s) {
    const index_t nb = opts.n_bins;
    const std::vector<double> edges = bin_edges<double>(nb);
    std::vector<double> scratch, total(static_cast<std::size_t>(3 * nb), 0.0);
    binned_pass(policy, n, 3 * nb, scratch, total, [&](index_t i, double* acc) {
      const auto m = calibration::detail::moments(z, i, s);
      const double c = 1.0 / m.sum;  // softmax of the maximum: e^0 / Σ e^{s(z−m)}
      calibration::detail::add_to_bin(acc, bin_of(c, edges.data(), nb), 1.0, c,
                                      m.argmax == static_cast<index_t>(y(i)) ? 1.0 : 0.0);
      return true;
    });
    std::vector<bin> bins;
    return calibration::detail::summarize(total.data(), nb, nd, 0.0, bins);
  };

  temperature_result r;
  r.nll_before = evaluate_at(1.0)[0];
  r.ece_before = ece_at(1.0);
  double lo = 1.0 / opts.max_temperature, hi = 1.0 / opts.min_temperature;
  double s;
  if (evaluate_at(lo)[1] >= 0) {
    s = lo;
  } else if (evaluate_at(hi)[1] <= 0) {
    s = hi;
  } else {
    s = std::clamp(1.0, lo, hi);
    for (r.iterations = 1; r.iterations <= opts.max_iterations; ++r.iterations) {
      const auto d = evaluate_at(s);
      const double g = d[1], h = d[2];
      (g < 0 ? lo : hi) = s;
      double next = h > 0 ? s - g / h : lo;
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
      const bool done = std::abs(next - s) <= opts.tolerance * s || g == 0;
      s = next;
      if (done) break;
    }
  }
  r.temperature = 1.0 / s;
  r.nll_after = evaluate_at(s)[0];
  r.ece_after = ece_at(s);
  return r;
}

/// Sequential overload.
template <alignkit::detail::data_argument Z, tensor_like L>
temperature_result fit_temperature(const Z& logits, const L& labels, const temperature_options& opts = {}) {
  return fit_temperature(exec::seq, logits, labels, opts);
}

}  // namespace calibration

ALIGNKIT_END_NAMESPACE
