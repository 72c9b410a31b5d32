/// @file token_values.hpp
/// @brief `token_values`: per-token numbers (log-probs, values, gradients) of a batch of B
/// sequences in the packed layout of core/sequences.hpp — values [N] and CSR offsets [B + 1].
///
/// It is the vocabulary the model concepts exchange with the pipeline steps: a policy returns
/// its per-token log-probs as `token_values`, a step hands back d loss / d log-prob in the same
/// layout. Sequence b owns values[offsets[b], offsets[b + 1]).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/check.hpp"
#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/view.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace model {

/// Per-token values of B sequences, packed.
struct token_values {
  std::vector<double> values;          ///< N values, sequence after sequence
  std::vector<index_t> offsets{0};     ///< B + 1 offsets, starting at 0 and ending at N

  /// Number of sequences B.
  index_t sequences() const noexcept { return static_cast<index_t>(offsets.size()) - 1; }
  /// Number of values of sequence b.
  index_t length(index_t b) const noexcept { return at(b + 1) - at(b); }
  /// The values of sequence b.
  std::span<const double> operator[](index_t b) const noexcept {
    return {values.data() + at(b), static_cast<std::size_t>(length(b))};
  }
  /// The values of sequence b, writable.
  std::span<double> operator[](index_t b) noexcept {
    return {values.data() + at(b), static_cast<std::size_t>(length(b))};
  }
  /// Σ of the values of sequence b (the sequence log-prob when the values are token log-probs).
  double sum(index_t b) const noexcept {
    double s = 0;
    for (double v : (*this)[b]) s += v;
    return s;
  }
  /// Appends one sequence.
  void push_back(std::span<const double> seq) {
    values.insert(values.end(), seq.begin(), seq.end());
    offsets.push_back(static_cast<index_t>(values.size()));
  }
  /// The same layout, every value zero (a gradient buffer).
  token_values zeros_like() const { return {std::vector<double>(values.size(), 0.0), offsets}; }
  /// The packed values as a rank-1 view.
  vector_view<const double> view() const noexcept { return {values.data(), static_cast<index_t>(values.size())}; }
  /// The offsets as a rank-1 view.
  vector_view<const index_t> offsets_view() const noexcept {
    return {offsets.data(), static_cast<index_t>(offsets.size())};
  }

 private:
  index_t at(index_t i) const noexcept { return offsets[static_cast<std::size_t>(i)]; }
};

/// [shape_error.160] `a` and `b` must describe the same sequences with the same token counts
/// (e.g. a policy's and a reference model's log-probs of one batch).
inline void check_same_layout(std::string_view fn, std::string_view name, const token_values& a,
                              std::string_view ref_name, const token_values& b) {
  detail::check_same_size(fn, std::string(name) + " sequences", a.sequences(), std::string(ref_name) + " sequences",
                          b.sequences());
  for (index_t s = 0; s < a.sequences(); ++s)
    if (a.length(s) != b.length(s))
      detail::raise<shape_error>(160, fn, ": ", name, " has ", a.length(s), " tokens in sequence ", s, ", ",
                                 ref_name, " has ", b.length(s));
}

}  // namespace model

ALIGNKIT_END_NAMESPACE
