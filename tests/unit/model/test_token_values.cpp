// token_values: packed layout, per-sequence access and sums, views, and the layout check (160).
#include <alignkit/model/token_values.hpp>

#include <vector>

#include <doctest/doctest.h>

using alignkit::model::token_values;

TEST_CASE("push_back builds CSR offsets; sequences, lengths, sums and views follow") {
  token_values t;
  CHECK(t.sequences() == 0);
  t.push_back(std::vector<double>{1.0, 2.0});
  t.push_back(std::vector<double>{});
  t.push_back(std::vector<double>{-4.0});
  CHECK(t.sequences() == 3);
  CHECK(t.offsets == std::vector<alignkit::index_t>{0, 2, 2, 3});
  CHECK(t.length(0) == 2);
  CHECK(t.length(1) == 0);
  CHECK(t.sum(0) == 3.0);
  CHECK(t.sum(1) == 0.0);
  CHECK(t[2][0] == -4.0);
  t[2][0] = 5.0;
  CHECK(t.view()(2) == 5.0);
  CHECK(t.offsets_view().extent(0) == 4);
  const auto z = t.zeros_like();
  CHECK(z.offsets == t.offsets);
  CHECK(z.values == std::vector<double>(3, 0.0));
}

TEST_CASE("check_same_layout names the sequence whose token counts differ") {
  token_values a, b;
  a.push_back(std::vector<double>{1.0, 2.0});
  b.push_back(std::vector<double>{1.0, 2.0});
  CHECK_NOTHROW(alignkit::model::check_same_layout("f", "ref", a, "policy", b));
  a.push_back(std::vector<double>{1.0});
  CHECK_THROWS_WITH_AS(alignkit::model::check_same_layout("f", "ref", a, "policy", b),
                       "[alignkit.shape_error.101] f: ref sequences has 2 elements, policy sequences has 1",
                       alignkit::shape_error);
  b.push_back(std::vector<double>{1.0, 3.0});
  CHECK_THROWS_WITH_AS(alignkit::model::check_same_layout("f", "ref", a, "policy", b),
                       "[alignkit.shape_error.160] f: ref has 1 tokens in sequence 1, policy has 2",
                       alignkit::shape_error);
}
