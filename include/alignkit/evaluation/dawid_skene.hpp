/// @file dawid_skene.hpp
/// @brief Dawid–Skene EM: per-annotator confusion matrices, class priors and item posteriors
/// from noisy labels with missing ratings.
///
/// Model: item i has a true class t_i ~ π; annotator a reports l with P(l | t_i = k) = θ^a_kl.
/// EM from the majority-vote soft labels T_ik (items without a rating: uniform):
///   M-step  π_k = (Σ_i T_ik + α) / (N + Kα),
///           θ^a_kl = (α + Σ_{i rated l by a} T_ik) / (Kα + Σ_{i rated by a} T_ik)
///   E-step  T_ik ∝ π_k Π_{a rated i} θ^a_{k, l_ia}  (in log space)
///   log-likelihood = Σ_i log Σ_k π_k Π_a θ^a_{k, l_ia}; stop when its change is below
///   tolerance·|log-likelihood|. α (smoothing) is a Dirichlet pseudo-count; α = 0 is plain EM.
/// Paper: Dawid & Skene 1979, "Maximum Likelihood Estimation of Observer Error-Rates Using the EM
/// Algorithm" (JRSS C 28(1)). Parity: the original algorithm as in the `crowd-kit` DawidSkene
/// aggregator (majority-vote initialisation, soft E-step).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/check.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "agreement.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace agreement {

/// Stopping rule and smoothing of the EM.
struct dawid_skene_options {
  int max_iterations = 100;
  double tolerance = 1e-10;  ///< relative change of the log-likelihood
  double smoothing = 0.01;   ///< α ≥ 0, added to every confusion cell and prior count
};

/// The fitted model.
struct dawid_skene_result {
  index_t items = 0, annotators = 0, classes = 0;
  std::vector<double> posteriors;  ///< [items, K]: P(t_i = k | labels)
  std::vector<double> confusion;   ///< [annotators, K, K]: θ^a_kl at (a·K + k)·K + l
  std::vector<double> priors;      ///< [K]: π
  double log_likelihood = 0;
  int iterations = 0;
  bool converged = false;
  /// θ^a_kl: the probability that annotator a reports l for an item of true class k.
  double theta(index_t a, index_t k, index_t l) const {
    return confusion[static_cast<std::size_t>((a * classes + k) * classes + l)];
  }
  /// The most probable class of item i (ties → the smallest class).
  index_t label(index_t i) const {
    const auto row = posteriors.begin() + i * classes;
    return static_cast<index_t>(std::max_element(row, row + classes) - row);
  }
};

/// Runs Dawid–Skene EM on raw labels [items, annotators] (0 … K−1; negative or NaN = missing).
/// Each iteration is O(ratings·K). Errors: shape_error.102 (no item or no annotator),
/// domain_error.202 (a bad option or n_classes < 1), domain_error.252 (a rating out of range).
template <tensor_like Labels>
dawid_skene_result dawid_skene(const Labels& labels, index_t n_classes, const dawid_skene_options& opts = {}) {
  using namespace alignkit::detail;
  const char* fn = "agreement::dawid_skene";
  const auto y = view_of(labels);
  agreement::detail::check_labels(fn, y, n_classes);
  check_not_empty(fn, "labels (annotators)", y.extent(1));
  check_range(fn, "max_iterations", opts.max_iterations, 1.0, 1e9);
  check_range(fn, "tolerance", opts.tolerance, 0.0, HUGE_VAL);
  check_range(fn, "smoothing", opts.smoothing, 0.0, HUGE_VAL);
  const index_t n = y.extent(0), na = y.extent(1), k = n_classes;
  const auto K = static_cast<std::size_t>(k);
  struct rating_t {
    index_t item, annotator, label;
  };
  std::vector<rating_t> ratings;
  for (index_t i = 0; i < n; ++i)
    for (index_t a = 0; a < na; ++a)
      if (const index_t l = agreement::detail::rating(fn, y, i, a, k); l >= 0) ratings.push_back({i, a, l});

  dawid_skene_result r;
  r.items = n;
  r.annotators = na;
  r.classes = k;
  r.posteriors.assign(static_cast<std::size_t>(n) * K, 0.0);
  r.confusion.assign(static_cast<std::size_t>(na) * K * K, 0.0);
  r.priors.assign(K, 0.0);
  auto post = [&](index_t i, index_t c) -> double& { return r.posteriors[static_cast<std::size_t>(i * k + c)]; };
  // Majority-vote initialisation.
  std::vector<double> rated(static_cast<std::size_t>(n), 0.0);
  for (const auto& t : ratings) {
    post(t.item, t.label) += 1;
    rated[static_cast<std::size_t>(t.item)] += 1;
  }
  for (index_t i = 0; i < n; ++i)
    for (index_t c = 0; c < k; ++c) {
      const double ri = rated[static_cast<std::size_t>(i)];
      post(i, c) = ri > 0 ? post(i, c) / ri : 1.0 / static_cast<double>(k);
    }

  const double alpha = opts.smoothing;
  std::vector<double> log_theta(r.confusion.size()), log_prior(K), row(K), denom(static_cast<std::size_t>(na) * K);
  double previous = 0;
  for (r.iterations = 1; r.iterations <= opts.max_iterations; ++r.iterations) {
    // M-step.
    std::fill(r.priors.begin(), r.priors.end(), alpha);
    for (index_t i = 0; i < n; ++i)
      for (index_t c = 0; c < k; ++c) r.priors[static_cast<std::size_t>(c)] += post(i, c);
    const double prior_total = static_cast<double>(n) + static_cast<double>(k) * alpha;
    for (std::size_t c = 0; c < K; ++c) {
      r.priors[c] /= prior_total;
      log_prior[c] = std::log(r.priors[c]);
    }
    std::fill(r.confusion.begin(), r.confusion.end(), alpha);
    std::fill(denom.begin(), denom.end(), static_cast<double>(k) * alpha);
    for (const auto& t : ratings)
      for (index_t c = 0; c < k; ++c) {
        r.confusion[static_cast<std::size_t>((t.annotator * k + c) * k + t.label)] += post(t.item, c);
        denom[static_cast<std::size_t>(t.annotator * k + c)] += post(t.item, c);
      }
    for (std::size_t j = 0; j < r.confusion.size(); ++j) {
      const double dn = denom[j / K];
      r.confusion[j] = dn > 0 ? r.confusion[j] / dn : 1.0 / static_cast<double>(k);
      log_theta[j] = std::log(r.confusion[j]);
    }
    // E-step: ratings are grouped by item (they were collected row by row).
    double ll = 0;
    std::size_t at = 0;
    for (index_t i = 0; i < n; ++i) {
      std::copy(log_prior.begin(), log_prior.end(), row.begin());
      for (; at < ratings.size() && ratings[at].item == i; ++at)
        for (index_t c = 0; c < k; ++c)
          row[static_cast<std::size_t>(c)] +=
              log_theta[static_cast<std::size_t>((ratings[at].annotator * k + c) * k + ratings[at].label)];
      const double m = *std::max_element(row.begin(), row.end());
      double s = 0;
      for (double v : row) s += std::exp(v - m);
      const double lse = m + std::log(s);
      ll += lse;
      for (index_t c = 0; c < k; ++c) post(i, c) = std::exp(row[static_cast<std::size_t>(c)] - lse);
    }
    r.log_likelihood = ll;
    if (r.iterations > 1 && std::abs(ll - previous) <= opts.tolerance * std::abs(ll)) {
      r.converged = true;
      break;
    }
    previous = ll;
  }
  r.iterations = std::min(r.iterations, opts.max_iterations);
  return r;
}

}  // namespace agreement

ALIGNKIT_END_NAMESPACE
