// Dawid–Skene: recovers planted annotator confusion matrices and class priors from synthetic
// labels with missing ratings, beats majority vote, and raises the documented errors.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

namespace ag = alignkit::agreement;
using alignkit::index_t;

TEST_CASE("recovers planted confusion matrices within their sampling error") {
  constexpr index_t n = 4000, annotators = 5, k = 3;
  constexpr double coverage = 0.7;
  const std::vector<double> prior{0.5, 0.3, 0.2};
  // θ^a_kl = P(annotator a says l | truth k): accuracy from 0.55 to 0.9, errors spread unevenly.
  std::vector<double> theta(annotators * k * k);
  for (index_t a = 0; a < annotators; ++a) {
    const double acc = 0.55 + 0.0875 * static_cast<double>(a);
    for (index_t t = 0; t < k; ++t)
      for (index_t l = 0; l < k; ++l)
        theta[static_cast<std::size_t>((a * k + t) * k + l)] = l == t ? acc : (1 - acc) * (l == (t + 1) % k ? 0.7 : 0.3);
  }
  std::mt19937 g(2024);
  std::discrete_distribution<int> truth_of(prior.begin(), prior.end());
  std::bernoulli_distribution rated(coverage);
  std::vector<int> truth(n), labels(n * annotators, -1);
  for (index_t i = 0; i < n; ++i) {
    truth[static_cast<std::size_t>(i)] = truth_of(g);
    for (index_t a = 0; a < annotators; ++a) {
      if (!rated(g)) continue;
      const auto row = theta.begin() + (a * k + truth[static_cast<std::size_t>(i)]) * k;
      std::discrete_distribution<int> say(row, row + k);
      labels[static_cast<std::size_t>(i * annotators + a)] = say(g);
    }
  }
  const auto r = ag::dawid_skene(alignkit::as_matrix(labels, n, annotators), k);
  CHECK(r.converged);
  // Each θ^a_kl is estimated from about N·π_k·coverage items of class k: its standard error is
  // sqrt(θ(1 − θ) / (N π_k c)). Allow 4 standard errors plus 0.01 for the posterior's own error.
  for (index_t a = 0; a < annotators; ++a)
    for (index_t t = 0; t < k; ++t)
      for (index_t l = 0; l < k; ++l) {
        const double want = theta[static_cast<std::size_t>((a * k + t) * k + l)];
        const double se = std::sqrt(want * (1 - want) / (n * prior[static_cast<std::size_t>(t)] * coverage));
        CAPTURE(a);
        CAPTURE(t);
        CAPTURE(l);
        CHECK(std::abs(r.theta(a, t, l) - want) <= 4 * se + 0.01);
      }
  for (index_t t = 0; t < k; ++t) {
    const double p = prior[static_cast<std::size_t>(t)];
    CHECK(std::abs(r.priors[static_cast<std::size_t>(t)] - p) <= 4 * std::sqrt(p * (1 - p) / n) + 0.01);
  }
  // Posteriors are distributions, and the EM labels beat the majority vote.
  index_t em_right = 0, vote_right = 0;
  const auto vote = ag::majority_labels(alignkit::as_matrix(labels, n, annotators), k);
  for (index_t i = 0; i < n; ++i) {
    double s = 0;
    for (index_t c = 0; c < k; ++c) s += r.posteriors[static_cast<std::size_t>(i * k + c)];
    CHECK(s == doctest::Approx(1.0).epsilon(1e-12));
    em_right += r.label(i) == truth[static_cast<std::size_t>(i)];
    vote_right += vote[static_cast<std::size_t>(i)] == truth[static_cast<std::size_t>(i)];
  }
  CHECK(em_right > vote_right);
}

TEST_CASE("the log-likelihood never decreases and a lone rating yields a valid posterior") {
  const std::vector<int> labels{0, 0, 1, 1, 1, 1, 0, -1, -1, -1, -1, -1};
  double previous = -INFINITY;
  for (int it = 1; it <= 6; ++it) {
    const auto r = ag::dawid_skene(alignkit::as_matrix(labels, 4, 3), 2, {.max_iterations = it, .tolerance = 0});
    CHECK(r.log_likelihood >= previous - 1e-12);
    previous = r.log_likelihood;
    CHECK(r.posteriors[6] == doctest::Approx(r.priors[0]));  // item 3 has no rating: the prior
  }
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<int> labels{0, 2, 1, 1};
  CHECK_THROWS_WITH_AS(ag::dawid_skene(alignkit::as_matrix(labels, 2, 2), 2),
                       "[alignkit.domain_error.252] agreement::dawid_skene: labels[0, 1] is 2, expected an integer in [0, 1], or a "
                       "negative value or NaN for a missing rating",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(ag::dawid_skene(alignkit::as_matrix(labels, 2, 2), 3, {.smoothing = -1}),
                       "[alignkit.domain_error.202] agreement::dawid_skene: smoothing is -1, expected a value in [0, inf]",
                       alignkit::domain_error);
}
