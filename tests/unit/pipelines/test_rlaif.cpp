// RLAIF labeling with a position-biased judge (a user type): asking in both orders cancels the
// bias, the better response becomes `chosen`, confidence drops or softens pairs, and a judge
// outside [0, 1] is reported.
#include <alignkit/pipelines/rlaif.hpp>

#include <cmath>
#include <random>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "../../../examples/rlhf_demo/toy_world.hpp"

namespace rlaif = alignkit::pipelines::rlaif;

namespace {

// P(first ≻ second) = σ((gold(first) − gold(second)) / τ + bias): prefers the first position.
struct biased_judge {
  double tau = 1.0, bias = 1.5;
  double preference(const int& x, const toy::response& a, const toy::response& b) const {
    return 1 / (1 + std::exp(-((toy::gold(x, a).total() - toy::gold(x, b).total()) / tau + bias)));
  }
};

struct broken_judge {
  double preference(const int&, const toy::response&, const toy::response&) const { return 1.5; }
};

struct candidates {
  std::vector<int> prompts;
  std::vector<toy::response> first, second;
};

candidates random_candidates(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  const auto& all = toy::all_responses();
  std::uniform_int_distribution<std::size_t> pick(0, all.size() - 1);
  candidates c;
  for (std::size_t i = 0; i < n; ++i) {
    c.prompts.push_back(static_cast<int>(i % 4));
    c.first.push_back(all[pick(g)]);
    c.second.push_back(all[pick(g)]);
  }
  return c;
}

}  // namespace

TEST_CASE("both orders cancel the position bias: the gold-better response is chosen") {
  const auto c = random_candidates(200, 1);
  biased_judge j;
  const auto out = rlaif::label(j, std::span<const int>(c.prompts), std::span<const toy::response>(c.first),
                                std::span<const toy::response>(c.second));
  CHECK(out.stats.kept + out.stats.dropped == 200);
  CHECK(out.stats.position_bias > 0.1);  // the judge's own preference for the first slot is measured
  CHECK(out.stats.consistency < 1.0);    // and makes some pairs flip with the order
  for (alignkit::index_t i = 0; i < out.batch.size(); ++i) {
    const auto k = static_cast<std::size_t>(i);
    CHECK(toy::gold(out.batch.prompts[k], out.batch.chosen[k]).total() >=
          toy::gold(out.batch.prompts[k], out.batch.rejected[k]).total());
  }
  CHECK(out.batch.labels.empty());  // hard labels
}

TEST_CASE("confidence below the threshold drops a pair; soft labels carry the debiased probability") {
  const auto c = random_candidates(200, 2);
  biased_judge j{2.0, 0.8};
  const rlaif::options opts{.min_confidence = 0.8, .label = rlaif::labels::soft};
  const auto out = rlaif::label(j, std::span<const int>(c.prompts), std::span<const toy::response>(c.first),
                                std::span<const toy::response>(c.second), opts);
  CHECK(out.stats.dropped > 0);
  CHECK(out.stats.kept > 0);
  REQUIRE(out.batch.labels.size() == static_cast<std::size_t>(out.stats.kept));
  for (std::size_t i = 0; i < out.batch.labels.size(); ++i) {
    const int x = out.batch.prompts[i];
    const double q_ab = j.preference(x, out.batch.chosen[i], out.batch.rejected[i]);
    const double q_ba = j.preference(x, out.batch.rejected[i], out.batch.chosen[i]);
    CHECK(out.batch.labels[i] == doctest::Approx(0.5 * (q_ab + 1 - q_ba)));
    CHECK(out.batch.labels[i] >= 0.8);
  }
}

TEST_CASE("errors: bad threshold, mismatched inputs, a judge outside [0, 1]") {
  const auto c = random_candidates(3, 3);
  biased_judge j;
  const std::span<const int> x(c.prompts);
  const std::span<const toy::response> a(c.first), b(c.second);
  CHECK_THROWS_WITH_AS(rlaif::label(j, x, a, b, {.min_confidence = 0.4}),
                       "[alignkit.domain_error.202] pipelines::rlaif::label: min_confidence is 0.40000000000000002, "
                       "expected a value in [0.5, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(rlaif::label(j, x, a, b.subspan(1)),
                       "[alignkit.shape_error.101] pipelines::rlaif::label: second has 2 elements, prompts has 3",
                       alignkit::shape_error);
  broken_judge bad;
  CHECK_THROWS_WITH_AS(rlaif::label(bad, x, a, b),
                       "[alignkit.domain_error.261] pipelines::rlaif::label: the judge returned 1.5 for pair 0, "
                       "expected a probability in [0, 1]",
                       alignkit::domain_error);
}
