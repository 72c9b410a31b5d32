/// @file jsonl.hpp
/// @brief JSON Lines reading and writing with line-numbered errors and all-or-nothing reads
/// (opt-in: needs nlohmann/json).
///
/// `read_jsonl(in, fn, parse)` parses every non-blank line as a JSON object and converts it
/// with `parse(object, line_context)`; the records are returned only when every line
/// succeeded, so a malformed file never yields a half-read dataset. `line_context` builds the
/// errors: parse_error.301 (invalid JSON, with line and column), 302 (a missing field), 303
/// (a field or line of the wrong type), 304 (an invalid value), 305 (a file that cannot be
/// opened).
#pragma once

#include <cstddef>
#include <fstream>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/config.hpp"
#include "../core/error.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace io {

/// Where a record comes from; raises errors that name the function, the line and the field.
struct line_context {
  std::string_view fn;  ///< the reading function, e.g. "io::read_pairwise"
  std::size_t line;     ///< 1-based line number

  /// [parse_error.302] `field` is absent.
  [[noreturn]] void missing(std::string_view field) const {
    detail::raise<parse_error>(302, fn, ": line ", line, ": missing field '", field, "'");
  }
  /// [parse_error.303] `field` has the wrong JSON type.
  [[noreturn]] void wrong_type(std::string_view field, const nlohmann::json& got, std::string_view expected) const {
    detail::raise<parse_error>(303, fn, ": line ", line, ": field '", field, "' is ", got.type_name(), ", expected ",
                               expected);
  }
  /// [parse_error.304] `field` has an invalid value.
  [[noreturn]] void invalid(std::string_view field, std::string_view why) const {
    detail::raise<parse_error>(304, fn, ": line ", line, ": field '", field, "' ", why);
  }
  /// The member `field` of `object`, which must exist.
  const nlohmann::json& at(const nlohmann::json& object, std::string_view field) const {
    const auto it = object.find(field);
    if (it == object.end()) missing(field);
    return *it;
  }
  /// The string member `field`.
  std::string string(const nlohmann::json& object, std::string_view field) const {
    const auto& v = at(object, field);
    if (!v.is_string()) wrong_type(field, v, "a string");
    return v.get<std::string>();
  }
};

/// Reads every non-blank line of `in` as a JSON object and returns `parse(object, context)`
/// for each, or throws without returning anything. Errors: parse_error.301 (invalid JSON),
/// parse_error.303 (a line that is not an object), and those `parse` raises.
template <class Parse>
auto read_jsonl(std::istream& in, std::string_view fn, const Parse& parse) {
  using record = decltype(parse(std::declval<const nlohmann::json&>(), std::declval<const line_context&>()));
  std::vector<record> out;
  std::string text;
  for (std::size_t line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      detail::raise<parse_error>(301, fn, ": line ", line, ", byte ", e.byte, ": invalid JSON");
    }
    const line_context ctx{fn, line};
    if (!j.is_object())
      detail::raise<parse_error>(303, fn, ": line ", line, ": the line is ", j.type_name(), ", expected an object");
    out.push_back(parse(j, ctx));
  }
  return out;
}

/// Opens `path` and reads it with `read_jsonl`; parse_error.305 if it cannot be opened.
template <class Parse>
auto read_jsonl_file(const std::string& path, std::string_view fn, const Parse& parse) {
  std::ifstream in(path);
  if (!in) detail::raise<parse_error>(305, fn, ": cannot open '", path, "'");
  return read_jsonl(in, fn, parse);
}

/// Writes one compact JSON object per line.
template <class Records, class ToJson>
void write_jsonl(std::ostream& out, const Records& records, const ToJson& to_json) {
  for (const auto& r : records) out << to_json(r).dump() << '\n';
}

}  // namespace io

ALIGNKIT_END_NAMESPACE
