// Krippendorff's alpha against the published worked examples.
//
// Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability", sections A–D: the values the
// paper prints (3 decimals) and the exact fractions of the coincidence-matrix definition
// (computed by hand-checkable rational arithmetic). The 3-coder, 15-unit example with missing
// values used by the Wikipedia article "Krippendorff's alpha" gives nominal 56/81 = 0.691358 and
// interval 643/793 = 0.810845.
#include <alignkit/alignkit.hpp>
#include <alignkit/evaluation/krippendorff.hpp>

#include <cmath>
#include <vector>

#include <doctest/doctest.h>

namespace ag = alignkit::agreement;

namespace {

const double M = std::nan("");

// Section C/D: 4 observers (rows A–D) × 12 units, missing values.
const std::vector<double> paper_c{1, 2, 3, 3, 2, 1, 4, 1, 2, M, M, M,   //
                                  1, 2, 3, 3, 2, 2, 4, 1, 2, 5, M, 3,   //
                                  M, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, M,   //
                                  1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, M};

// Wikipedia's example: 3 coders × 15 units, missing values.
const std::vector<double> wiki{M, M, M, M, M, 3, 4, 1, 2, 1, 1, 3, 3, M, 3,  //
                               1, M, 2, 1, 3, 3, 4, 3, M, M, M, M, M, M, M,  //
                               M, M, 2, 1, 3, 4, 4, M, 2, 1, 1, 3, 3, M, 4};

double alpha(const std::vector<double>& d, alignkit::index_t coders, ag::level l) {
  return ag::krippendorff_alpha(alignkit::as_matrix(d, coders, static_cast<alignkit::index_t>(d.size()) / coders), {.metric = l})
      .alpha;
}

}  // namespace

TEST_CASE("Krippendorff 2011, section A: binary data, two observers") {
  const std::vector<int> d{0, 1, 0, 0, 0, 0, 0, 0, 1, 0,  //
                           1, 1, 1, 0, 0, 1, 0, 0, 0, 0};
  const auto r = ag::krippendorff_alpha(alignkit::as_matrix(d, 2, 10));
  CHECK(r.alpha == doctest::Approx(0.095).epsilon(5e-3));
  CHECK(r.alpha == doctest::Approx(2.0 / 21).epsilon(1e-14));
  CHECK(r.pairable == 20);
}

TEST_CASE("Krippendorff 2011, section B: nominal data, two observers") {
  // Values a … e coded 1 … 5.
  const std::vector<int> d{1, 1, 2, 2, 4, 3, 3, 3, 5, 4, 4, 1,  //
                           2, 1, 2, 2, 2, 3, 3, 3, 5, 4, 4, 4};
  CHECK(alpha(std::vector<double>(d.begin(), d.end()), 2, ag::level::nominal) == doctest::Approx(0.692).epsilon(1e-3));
  CHECK(alpha(std::vector<double>(d.begin(), d.end()), 2, ag::level::nominal) == doctest::Approx(155.0 / 224).epsilon(1e-14));
}

TEST_CASE("Krippendorff 2011, sections C and D: four observers, missing values, every level") {
  CHECK(alpha(paper_c, 4, ag::level::nominal) == doctest::Approx(0.743).epsilon(1e-3));
  CHECK(alpha(paper_c, 4, ag::level::ordinal) == doctest::Approx(0.815).epsilon(1e-3));
  CHECK(alpha(paper_c, 4, ag::level::interval) == doctest::Approx(0.849).epsilon(1e-3));
  CHECK(alpha(paper_c, 4, ag::level::ratio) == doctest::Approx(0.797).epsilon(1e-3));
  CHECK(alpha(paper_c, 4, ag::level::nominal) == doctest::Approx(113.0 / 152).epsilon(1e-14));
  CHECK(alpha(paper_c, 4, ag::level::ordinal) == doctest::Approx(108577.0 / 133160).epsilon(1e-14));
  CHECK(alpha(paper_c, 4, ag::level::interval) == doctest::Approx(951.0 / 1120).epsilon(1e-14));
  CHECK(alpha(paper_c, 4, ag::level::ratio) == doctest::Approx(18222619.0 / 22852465).epsilon(1e-14));
  const auto r = ag::krippendorff_alpha(alignkit::as_matrix(paper_c, 4, 12));
  CHECK(r.pairable == 40);  // unit 12 has a single value and is not pairable
  CHECK(r.values == 5);
}

TEST_CASE("the three-coder example with missing values: nominal 0.691358, interval 0.810845") {
  CHECK(alpha(wiki, 3, ag::level::nominal) == doctest::Approx(0.691358).epsilon(1e-6));
  CHECK(alpha(wiki, 3, ag::level::interval) == doctest::Approx(0.810845).epsilon(1e-6));
  CHECK(alpha(wiki, 3, ag::level::nominal) == doctest::Approx(56.0 / 81).epsilon(1e-14));
  CHECK(alpha(wiki, 3, ag::level::interval) == doctest::Approx(643.0 / 793).epsilon(1e-14));
  CHECK(alpha(wiki, 3, ag::level::ordinal) == doctest::Approx(112173.0 / 139048).epsilon(1e-14));
  CHECK(alpha(wiki, 3, ag::level::ratio) == doctest::Approx(90503.0 / 111878).epsilon(1e-14));
}

TEST_CASE("a missing-value marker for integer data, perfect agreement, and no variation") {
  std::vector<int> d(paper_c.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = std::isnan(paper_c[i]) ? -1 : static_cast<int>(paper_c[i]);
  CHECK(ag::krippendorff_alpha(alignkit::as_matrix(d, 4, 12), {.metric = ag::level::interval, .missing = -1}).alpha ==
        doctest::Approx(951.0 / 1120).epsilon(1e-14));
  const std::vector<double> perfect{1, 2, 3, 1, 2, 3};
  CHECK(alpha(perfect, 2, ag::level::ordinal) == 1.0);
  const std::vector<double> constant{2, 2, 2, 2};
  CHECK(std::isnan(alpha(constant, 2, ag::level::nominal)));
}

TEST_CASE("bad input raises the documented errors") {
  const std::vector<double> neg{1, -2, 1, 3};
  CHECK_THROWS_WITH_AS(alpha(neg, 2, ag::level::ratio),
                       "[alignkit.domain_error.258] agreement::krippendorff_alpha: data[0, 1] is -2, the ratio level needs values >= 0",
                       alignkit::domain_error);
  CHECK(alpha(neg, 2, ag::level::interval) < 1);  // negative values are fine at other levels
  const std::vector<double> inf{1, INFINITY, 1, 3};
  CHECK_THROWS_WITH_AS(alpha(inf, 2, ag::level::interval),
                       "[alignkit.domain_error.201] agreement::krippendorff_alpha: data[0, 1] is inf, expected a finite value",
                       alignkit::domain_error);
  const std::vector<double> empty;
  CHECK_THROWS_WITH_AS(ag::krippendorff_alpha(alignkit::as_matrix(empty, 0, 0)),
                       "[alignkit.shape_error.102] agreement::krippendorff_alpha: data (coders) is empty; at least one element is "
                       "required",
                       alignkit::shape_error);
}
