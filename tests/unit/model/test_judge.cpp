// judge: a user labeler with preference(prompt, first, second) models it; other shapes do not.
#include <alignkit/model/judge.hpp>

#include <string>

#include <doctest/doctest.h>

namespace user {

struct longer_is_better {
  double preference(const std::string&, const std::string& a, const std::string& b) const {
    return a.size() > b.size() ? 0.9 : 0.1;
  }
};

struct two_argument_judge {
  double preference(const std::string& a, const std::string& b) const { return a < b ? 1.0 : 0.0; }
};

}  // namespace user

static_assert(alignkit::model::judge<user::longer_is_better, std::string, std::string>);
static_assert(!alignkit::model::judge<user::two_argument_judge, std::string, std::string>);

TEST_CASE("the judge's preference is read through the concept's member") {
  user::longer_is_better j;
  CHECK(j.preference("q", "long answer", "no") == 0.9);
}
