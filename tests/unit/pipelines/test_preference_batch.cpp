// preference_batch: push_back keeps labels empty for hard pairs and back-fills 1 when the
// first soft label arrives.
#include <alignkit/pipelines/preference_batch.hpp>

#include <string>
#include <vector>

#include <doctest/doctest.h>

TEST_CASE("labels stay empty for hard pairs and are back-filled by the first soft one") {
  alignkit::pipelines::preference_batch<std::string, std::string> b;
  b.push_back("q1", "good", "bad");
  b.push_back("q2", "good", "bad");
  CHECK(b.size() == 2);
  CHECK(b.labels.empty());
  b.push_back("q3", "fine", "worse", 0.75);
  CHECK(b.labels == std::vector<double>{1.0, 1.0, 0.75});
  b.push_back("q4", "good", "bad");
  CHECK(b.labels == std::vector<double>{1.0, 1.0, 0.75, 1.0});
  CHECK(b.rejected[2] == "worse");
}
