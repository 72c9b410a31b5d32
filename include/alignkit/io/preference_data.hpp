/// @file preference_data.hpp
/// @brief The common preference-data formats as JSON Lines (opt-in: needs nlohmann/json):
///  - pairwise:   {"prompt": T, "chosen": T, "rejected": T}
///  - unpaired:   {"prompt": T, "completion": T, "label": bool}           (KTO)
///  - annotations, one label per line: {"item": string, "annotator": string, "label": int ≥ 0}
/// where T is a plain string or a conversation, a list of {"role": string, "content": string}
/// messages (the "standard" and "conversational" formats of TRL's dataset documentation).
/// Reads are all-or-nothing with line-numbered errors (io/jsonl.hpp); writes round-trip.
#pragma once

#include <algorithm>
#include <istream>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/config.hpp"
#include "jsonl.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace io {

/// One chat message.
struct message {
  std::string role;
  std::string content;
  friend bool operator==(const message&, const message&) = default;
};

/// A plain text or a list of messages.
using text = std::variant<std::string, std::vector<message>>;

/// A pairwise preference: `chosen` is preferred to `rejected` for `prompt`.
struct pairwise_record {
  text prompt, chosen, rejected;
  friend bool operator==(const pairwise_record&, const pairwise_record&) = default;
};

/// An unpaired judgement: `completion` is desirable (`label` true) or not for `prompt`.
struct unpaired_record {
  text prompt, completion;
  bool label = false;
  friend bool operator==(const unpaired_record&, const unpaired_record&) = default;
};

/// One annotator's categorical label of one item.
struct annotation {
  std::string item, annotator;
  int label = 0;
  friend bool operator==(const annotation&, const annotation&) = default;
};

namespace detail {

inline text read_text(const nlohmann::json& object, std::string_view field, const line_context& ctx) {
  static constexpr std::string_view expected = "a string or a list of {role, content} messages";
  const auto& v = ctx.at(object, field);
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) ctx.wrong_type(field, v, expected);
  std::vector<message> messages;
  for (const auto& m : v) {
    if (!m.is_object()) ctx.wrong_type(field, m, expected);
    const std::string name = std::string(field) + "[" + std::to_string(messages.size()) + "]";
    const auto member = [&](std::string_view key) {
      const auto it = m.find(key);
      if (it == m.end()) ctx.missing(name + "." + std::string(key));
      if (!it->is_string()) ctx.wrong_type(name + "." + std::string(key), *it, "a string");
      return it->get<std::string>();
    };
    messages.push_back({member("role"), member("content")});
  }
  return messages;
}

inline nlohmann::json write_text(const text& t) {
  if (const auto* s = std::get_if<std::string>(&t)) return *s;
  auto a = nlohmann::json::array();
  for (const auto& m : std::get<std::vector<message>>(t)) a.push_back({{"role", m.role}, {"content", m.content}});
  return a;
}

}  // namespace detail

/// Reads pairwise records. Errors: parse_error.301–303 (see io/jsonl.hpp).
inline std::vector<pairwise_record> read_pairwise(std::istream& in) {
  return read_jsonl(in, "io::read_pairwise", [](const nlohmann::json& j, const line_context& c) {
    return pairwise_record{detail::read_text(j, "prompt", c), detail::read_text(j, "chosen", c),
                           detail::read_text(j, "rejected", c)};
  });
}

/// Writes pairwise records, one per line.
inline void write_pairwise(std::ostream& out, const std::vector<pairwise_record>& records) {
  write_jsonl(out, records, [](const pairwise_record& r) {
    return nlohmann::json{{"prompt", detail::write_text(r.prompt)},
                          {"chosen", detail::write_text(r.chosen)},
                          {"rejected", detail::write_text(r.rejected)}};
  });
}

/// Reads unpaired records. Errors: parse_error.301–303.
inline std::vector<unpaired_record> read_unpaired(std::istream& in) {
  return read_jsonl(in, "io::read_unpaired", [](const nlohmann::json& j, const line_context& c) {
    const auto& label = c.at(j, "label");
    if (!label.is_boolean()) c.wrong_type("label", label, "a boolean");
    return unpaired_record{detail::read_text(j, "prompt", c), detail::read_text(j, "completion", c), label.get<bool>()};
  });
}

/// Writes unpaired records, one per line.
inline void write_unpaired(std::ostream& out, const std::vector<unpaired_record>& records) {
  write_jsonl(out, records, [](const unpaired_record& r) {
    return nlohmann::json{{"prompt", detail::write_text(r.prompt)},
                          {"completion", detail::write_text(r.completion)},
                          {"label", r.label}};
  });
}

/// Reads an annotation table. Errors: parse_error.301–303; parse_error.304 (a negative label,
/// or a second label of the same annotator for the same item).
inline std::vector<annotation> read_annotations(std::istream& in) {
  std::map<std::pair<std::string, std::string>, std::size_t> first_line;
  return read_jsonl(in, "io::read_annotations", [&](const nlohmann::json& j, const line_context& c) {
    const auto& label = c.at(j, "label");
    if (!label.is_number_integer()) c.wrong_type("label", label, "an integer category");
    annotation a{c.string(j, "item"), c.string(j, "annotator"), label.get<int>()};
    if (a.label < 0) c.invalid("label", "is " + std::to_string(a.label) + ", expected a category >= 0");
    const auto [it, fresh] = first_line.try_emplace({a.item, a.annotator}, c.line);
    if (!fresh)
      c.invalid("annotator", "'" + a.annotator + "' already labeled item '" + a.item + "' on line " +
                                 std::to_string(it->second));
    return a;
  });
}

/// Writes an annotation table, one label per line.
inline void write_annotations(std::ostream& out, const std::vector<annotation>& records) {
  write_jsonl(out, records, [](const annotation& a) {
    return nlohmann::json{{"item", a.item}, {"annotator", a.annotator}, {"label", a.label}};
  });
}

/// Item × category counts of an annotation table (the input of Fleiss' kappa), items in order
/// of first appearance; `categories` is 1 + the largest label.
struct label_counts {
  std::vector<std::string> items;
  index_t categories = 0;
  std::vector<double> counts;  ///< row-major [items, categories]
};

/// Counts labels per item and category.
inline label_counts count_labels(const std::vector<annotation>& table) {
  label_counts out;
  std::map<std::string, std::size_t> row;
  for (const auto& a : table) {
    out.categories = std::max<index_t>(out.categories, a.label + 1);
    if (row.try_emplace(a.item, out.items.size()).second) out.items.push_back(a.item);
  }
  out.counts.assign(out.items.size() * static_cast<std::size_t>(out.categories), 0.0);
  for (const auto& a : table)
    out.counts[row[a.item] * static_cast<std::size_t>(out.categories) + static_cast<std::size_t>(a.label)] += 1.0;
  return out;
}

}  // namespace io

ALIGNKIT_END_NAMESPACE
