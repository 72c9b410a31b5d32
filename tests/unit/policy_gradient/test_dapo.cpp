// DAPO batch tools: dynamic sampling (constant groups dropped, groups of one kept), the soft
// overlong penalty at and between its breakpoints, masking of truncated completions, errors.
#include <alignkit/alignkit.hpp>

#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

namespace dapo = alignkit::dapo;
namespace adv = alignkit::advantages;
using alignkit::as_matrix;
using alignkit::index_t;

TEST_CASE("dynamic sampling keeps groups with signal and groups of one") {
  // Binary rewards, non-contiguous groups: 0 mixed, 1 all correct, 2 all wrong, 3 alone.
  const std::vector<double> rewards{1, 1, 0, 1, 0, 1, 0, 0, 1};
  const std::vector<std::int64_t> ids{0, 1, 0, 1, 2, 1, 2, 0, 3};
  std::vector<std::uint8_t> keep(9);
  const auto rep = dapo::filter_groups(rewards, adv::by_id(ids, 4), keep);
  CHECK(rep.groups == 4);
  CHECK(rep.constant_groups == 2);
  CHECK(rep.kept_sequences == 4);
  CHECK(keep == std::vector<std::uint8_t>{1, 0, 1, 0, 0, 0, 0, 1, 1});
  // Kept groups are exactly those whose GRPO advantages are not all zero (or of one member).
  std::vector<double> a(9);
  adv::group_relative(rewards, adv::by_id(ids, 4), {}, a);
  for (std::size_t i = 0; i < 9; ++i) CHECK((a[i] != 0.0) == static_cast<bool>(keep[i]));
  // Fixed-size groups.
  const std::vector<float> scores{0.5f, 0.5f, 0.25f, 0.75f};
  std::vector<int> keep2(4);
  const auto rep2 = dapo::filter_groups(scores, adv::group_size{2}, keep2);
  CHECK(rep2.constant_groups == 1);
  CHECK(keep2 == std::vector<int>{0, 0, 1, 1});
}

TEST_CASE("soft overlong penalty: zero, linear in the buffer, the full factor beyond the maximum") {
  const dapo::overlong_options o{.max_length = 100, .buffer_length = 20, .penalty_factor = 0.5};
  CHECK(dapo::overlong_penalty(0, o) == 0.0);
  CHECK(dapo::overlong_penalty(80, o) == 0.0);
  CHECK(dapo::overlong_penalty(90, o) == doctest::Approx(-0.25));
  CHECK(dapo::overlong_penalty(100, o) == doctest::Approx(-0.5));
  CHECK(dapo::overlong_penalty(101, o) == -0.5);
  CHECK(dapo::overlong_penalty(25000) == -1.0);  // DAPO defaults
  std::vector<double> scores{1, 1, 1, 1};
  const std::vector<int> lengths{10, 85, 100, 120};
  CHECK(dapo::penalize_overlong(lengths, scores, o) == 3);
  CHECK(scores[0] == 1.0);
  CHECK(scores[1] == doctest::Approx(1 - 0.125));
  CHECK(scores[2] == doctest::Approx(0.5));
  CHECK(scores[3] == 0.5);
}

TEST_CASE("truncated completions are masked out, in parallel identically") {
  std::vector<float> mask(4 * 3, 1.0f), mask_par(4 * 3, 1.0f);
  const std::vector<bool> truncated_flags{false, true, false, true};
  const std::vector<std::uint8_t> truncated(truncated_flags.begin(), truncated_flags.end());
  CHECK(dapo::mask_truncated(as_matrix(mask, 4, 3), truncated) == 2);
  CHECK(dapo::mask_truncated(alignkit::exec::par.with(2), as_matrix(mask_par, 4, 3), truncated) == 2);
  CHECK(mask == std::vector<float>{1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0});
  CHECK(mask == mask_par);
}

TEST_CASE("errors") {
  const std::vector<double> s{1, 2, 3};
  std::vector<int> keep(2);
  CHECK_THROWS_WITH_AS(dapo::filter_groups(s, adv::group_size{1}, keep),
                       "[alignkit.shape_error.101] dapo::filter_groups: keep has 2 elements, scores has 3",
                       alignkit::shape_error);
  std::vector<int> keep3(3);
  CHECK_THROWS_WITH_AS(dapo::filter_groups(s, adv::by_id(std::vector<int>{0, 3, 1}, 2), keep3),
                       "[alignkit.domain_error.221] dapo::filter_groups: group id [1] is 3, expected a value in [0, 2)",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(dapo::overlong_penalty(5, {.max_length = 10, .buffer_length = 11}),
                       "[alignkit.domain_error.202] dapo::overlong_penalty: buffer_length is 11, expected a value in "
                       "(0, 10]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(dapo::overlong_penalty(5, {.max_length = 10, .buffer_length = 2, .penalty_factor = -1}),
                       "[alignkit.domain_error.202] dapo::overlong_penalty: penalty_factor is -1, expected a value in "
                       "[0, inf]",
                       alignkit::domain_error);
  std::vector<double> scores(2);
  CHECK_THROWS_WITH_AS(dapo::penalize_overlong(s, scores),
                       "[alignkit.shape_error.101] dapo::penalize_overlong: scores has 2 elements, lengths has 3",
                       alignkit::shape_error);
  std::vector<int> mask(6, 1);
  CHECK_THROWS_WITH_AS(dapo::mask_truncated(as_matrix(mask, 2, 3), std::vector<int>{1}),
                       "[alignkit.shape_error.101] dapo::mask_truncated: truncated has 1 elements, mask rows has 2",
                       alignkit::shape_error);
}
