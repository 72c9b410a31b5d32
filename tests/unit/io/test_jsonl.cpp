// read_jsonl / write_jsonl: blank lines skipped, line numbers counted from 1, invalid JSON and
// non-object lines reported with their line, nothing returned on failure, missing files.
#include <alignkit/io/jsonl.hpp>

#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace io = alignkit::io;

namespace {

std::vector<int> read_xs(const std::string& text) {
  std::istringstream in(text);
  return io::read_jsonl(in, "read_xs", [](const nlohmann::json& j, const io::line_context& c) {
    const auto& x = c.at(j, "x");
    if (!x.is_number_integer()) c.wrong_type("x", x, "an integer");
    return x.get<int>();
  });
}

}  // namespace

TEST_CASE("records in order, blank lines skipped, round trip through write_jsonl") {
  const auto xs = read_xs("{\"x\": 1}\n\n  \n{\"x\": 2, \"extra\": true}\r\n{\"x\": 3}");
  CHECK(xs == std::vector<int>{1, 2, 3});
  std::ostringstream out;
  io::write_jsonl(out, xs, [](int x) { return nlohmann::json{{"x", x}}; });
  CHECK(out.str() == "{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n");
  CHECK(read_xs(out.str()) == xs);
  CHECK(read_xs("").empty());
}

TEST_CASE("errors name the line (blank lines counted) and the field") {
  CHECK_THROWS_WITH_AS(read_xs("{\"x\": 1}\n\n{\"x\": 2,}\n"),
                       "[alignkit.parse_error.301] read_xs: line 3, byte 9: invalid JSON", alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read_xs("{\"x\": 1}\n[1, 2]\n"),
                       "[alignkit.parse_error.303] read_xs: line 2: the line is array, expected an object",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read_xs("{\"x\": 1}\n{\"y\": 1}\n"), "[alignkit.parse_error.302] read_xs: line 2: missing field 'x'",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read_xs("{\"x\": \"one\"}\n"),
                       "[alignkit.parse_error.303] read_xs: line 1: field 'x' is string, expected an integer",
                       alignkit::parse_error);
}

TEST_CASE("a file that cannot be opened") {
  CHECK_THROWS_WITH_AS(io::read_jsonl_file("/nonexistent/data.jsonl", "f",
                                           [](const nlohmann::json&, const io::line_context&) { return 0; }),
                       "[alignkit.parse_error.305] f: cannot open '/nonexistent/data.jsonl'", alignkit::parse_error);
}
