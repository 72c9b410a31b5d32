// reviser: critique then revise against a principle; a type that cannot revise is rejected.
#include <alignkit/model/reviser.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace user {

using tokens = std::vector<int>;

struct drop_token {  // critique: the positions of token 7; revision: the response without them
  std::vector<std::size_t> critique(const int&, const tokens& y, const alignkit::model::principle&) const {
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < y.size(); ++i)
      if (y[i] == 7) at.push_back(i);
    return at;
  }
  tokens revise(const int&, const tokens& y, const std::vector<std::size_t>&, const alignkit::model::principle&) const {
    tokens out;
    std::copy_if(y.begin(), y.end(), std::back_inserter(out), [](int t) { return t != 7; });
    return out;
  }
};

struct critic_only {
  std::string critique(const int&, const tokens&, const alignkit::model::principle&) const { return "bad"; }
};

}  // namespace user

static_assert(alignkit::model::reviser<user::drop_token, int, user::tokens>);
static_assert(!alignkit::model::reviser<user::critic_only, int, user::tokens>);

TEST_CASE("critique then revise removes what the principle forbids") {
  const alignkit::model::principle p{"no-7", "Where does the response emit token 7?", "Remove token 7."};
  user::drop_token r;
  const user::tokens y{1, 7, 2, 7};
  const auto c = r.critique(0, y, p);
  CHECK(c.size() == 2);
  CHECK(r.revise(0, y, c, p) == user::tokens{1, 2});
}
