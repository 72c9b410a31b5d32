// Pairwise (plain and conversational), unpaired and annotation JSONL: round trips, and
// malformed lines, missing fields and wrong types reported with line and field.
#include <alignkit/io/preference_data.hpp>

#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace io = alignkit::io;

namespace {

template <class Read>
auto read(const std::string& text, Read r) {
  std::istringstream in(text);
  return r(in);
}

const std::vector<io::message> chat{{"user", "What is 2+2?"}, {"assistant", "4"}};

}  // namespace

TEST_CASE("pairwise: plain and conversational records round-trip") {
  const std::vector<io::pairwise_record> records{
      {std::string("Say hi"), std::string("Hi!"), std::string("No.")},
      {std::vector<io::message>{{"user", "What is 2+2?"}}, std::vector<io::message>{{"assistant", "4"}},
       std::vector<io::message>{{"assistant", "5 \"quoted\"\n"}}}};
  std::ostringstream out;
  io::write_pairwise(out, records);
  CHECK(read(out.str(), io::read_pairwise) == records);
  const auto parsed = read(
      R"({"prompt": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}], "chosen": "a", "rejected": "b"})",
      io::read_pairwise);
  REQUIRE(parsed.size() == 1);
  CHECK(std::get<std::vector<io::message>>(parsed[0].prompt) == chat);
}

TEST_CASE("pairwise: missing fields and wrong types name line and field") {
  CHECK_THROWS_WITH_AS(read("{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n{\"prompt\": \"p\", \"chosen\": \"a\"}",
                            io::read_pairwise),
                       "[alignkit.parse_error.302] io::read_pairwise: line 2: missing field 'rejected'",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read("{\"prompt\": \"p\", \"chosen\": 3, \"rejected\": \"b\"}", io::read_pairwise),
                       "[alignkit.parse_error.303] io::read_pairwise: line 1: field 'chosen' is number, expected a "
                       "string or a list of {role, content} messages",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read(R"({"prompt": "p", "chosen": [{"role": "assistant"}], "rejected": "b"})", io::read_pairwise),
                       "[alignkit.parse_error.302] io::read_pairwise: line 1: missing field 'chosen[0].content'",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read(R"({"prompt": "p", "chosen": "a", "rejected": [{"role": 1, "content": "x"}]})",
                            io::read_pairwise),
                       "[alignkit.parse_error.303] io::read_pairwise: line 1: field 'rejected[0].role' is number, "
                       "expected a string",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read("{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n{\"prompt\": \"p\"", io::read_pairwise),
                       "[alignkit.parse_error.301] io::read_pairwise: line 2, byte 15: invalid JSON",
                       alignkit::parse_error);
}

TEST_CASE("unpaired: round trip; the label must be a boolean") {
  const std::vector<io::unpaired_record> records{{std::string("q"), std::string("good"), true},
                                                 {std::string("q"), chat, false}};
  std::ostringstream out;
  io::write_unpaired(out, records);
  CHECK(read(out.str(), io::read_unpaired) == records);
  CHECK_THROWS_WITH_AS(read("{\"prompt\": \"q\", \"completion\": \"a\", \"label\": 1}", io::read_unpaired),
                       "[alignkit.parse_error.303] io::read_unpaired: line 1: field 'label' is number, expected a boolean",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read("{\"prompt\": \"q\", \"completion\": \"a\"}", io::read_unpaired),
                       "[alignkit.parse_error.302] io::read_unpaired: line 1: missing field 'label'", alignkit::parse_error);
}

TEST_CASE("annotations: round trip, counts per item and category, invalid labels and duplicates") {
  const std::vector<io::annotation> table{{"q1", "ann", 1}, {"q1", "bob", 0}, {"q2", "ann", 2}, {"q1", "cy", 1}};
  std::ostringstream out;
  io::write_annotations(out, table);
  CHECK(read(out.str(), io::read_annotations) == table);
  const auto c = io::count_labels(table);
  CHECK(c.items == std::vector<std::string>{"q1", "q2"});
  CHECK(c.categories == 3);
  CHECK(c.counts == std::vector<double>{1, 2, 0, 0, 0, 1});
  CHECK_THROWS_WITH_AS(read("{\"item\": \"q\", \"annotator\": \"a\", \"label\": -1}", io::read_annotations),
                       "[alignkit.parse_error.304] io::read_annotations: line 1: field 'label' is -1, expected a "
                       "category >= 0",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read("{\"item\": \"q\", \"annotator\": \"a\", \"label\": 0.5}", io::read_annotations),
                       "[alignkit.parse_error.303] io::read_annotations: line 1: field 'label' is number, expected an "
                       "integer category",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read("{\"item\": \"q\", \"annotator\": \"a\", \"label\": 0}\n"
                            "{\"item\": \"q\", \"annotator\": \"a\", \"label\": 1}",
                            io::read_annotations),
                       "[alignkit.parse_error.304] io::read_annotations: line 2: field 'annotator' 'a' already labeled "
                       "item 'q' on line 1",
                       alignkit::parse_error);
  CHECK_THROWS_WITH_AS(read("{\"item\": 7, \"annotator\": \"a\", \"label\": 0}", io::read_annotations),
                       "[alignkit.parse_error.303] io::read_annotations: line 1: field 'item' is number, expected a string",
                       alignkit::parse_error);
}
