/// @file agreement.hpp
/// @brief Inter-annotator agreement for preference data: Fleiss' kappa (count table, or raw
/// labels with missing ratings), Cohen's kappa (unweighted, linear, quadratic), per-item
/// agreement, a filter on it, and majority / soft labels.
///
/// Fleiss, count table x [items N, categories K], n raters per item:
///   p_j = Σ_i x_ij / (N·n),  P_i = (Σ_j x_ij² − n) / (n(n − 1)),  P̄ = mean_i P_i
///   P_e = Σ_j p_j² (fleiss) or 1/K (randolph),  κ = (P̄ − P_e) / (1 − P_e)
/// Fleiss with missing ratings (r_i ratings of item i, r_ik of them in category k; Gwet 2014):
///   P̄ = mean over items with r_i ≥ 2 of Σ_k r_ik(r_ik − 1) / (r_i(r_i − 1)),
///   π_k = mean over items with r_i ≥ 1 of r_ik / r_i,  P_e = Σ_k π_k² (or 1/K)
///   — equal to the table form when no rating is missing.
/// Cohen, labels y1, y2 over the sorted union of their values (positions i, j):
///   O = confusion(y1, y2), E = colsum(O) ⊗ rowsum(O) / N, W_ij = 1[i ≠ j] | |i − j| | (i − j)²
///   κ = 1 − Σ W∘O / Σ W∘E
/// Per-item agreement: P_i above (the fraction of agreeing rater pairs).
/// Papers: Fleiss 1971 (Psychological Bulletin 76(5)); Randolph 2005 (free-marginal kappa);
/// Cohen 1960, 1968 (weighted kappa); Gwet 2014, Handbook of Inter-Rater Reliability (missing
/// ratings). Parity: statsmodels 0.13 `fleiss_kappa` (golden op `fleiss_kappa`), scikit-learn 1.2
/// `cohen_kappa_score` (golden op `cohen_kappa`), irrCAC `fleiss.kappa.raw` (missing ratings).
/// Undefined cases (every rating in one category, P_e = 1; Cohen with Σ W∘E = 0) return NaN, as
/// statsmodels and scikit-learn do, never 1.
/// Raw label matrices are [items, raters] with values 0 … K−1; a negative value or NaN is a
/// missing rating.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "../core/check.hpp"
#include "../core/error.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/tensor.hpp"
#include "detail/binning.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace agreement {

/// The chance-agreement model of Fleiss' kappa.
enum class chance {
  fleiss,   ///< P_e = Σ p_j² from the observed marginals (statsmodels default)
  randolph  ///< P_e = 1/K (free-marginal)
};

/// Fleiss' kappa and its parts.
struct fleiss_result {
  double kappa = 0;     ///< (P̄ − P_e)/(1 − P_e); NaN when P_e = 1
  double observed = 0;  ///< P̄
  double expected = 0;  ///< P_e
  index_t items = 0;    ///< items that entered P̄
};

/// Weights of Cohen's kappa.
enum class weighting { none, linear, quadratic };

namespace detail {

using namespace alignkit::detail;

inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

inline double kappa_of(double observed, double expected) {
  return expected == 1 ? nan : (observed - expected) / (1 - expected);
}

/// Category of a raw rating: 0 … K−1, −1 when missing; raises domain_error.252 otherwise.
template <class LV>
index_t rating(const char* fn, const LV& labels, index_t i, index_t j, index_t k) {
  const double v = static_cast<double>(labels(i, j));
  if (std::isnan(v) || v < 0) return -1;
  if (v >= static_cast<double>(k) || v != std::floor(v))
    raise<domain_error>(252, fn, ": labels[", i, ", ", j, "] is ", v, ", expected an integer in [0, ", k - 1,
                        "], or a negative value or NaN for a missing rating");
  return static_cast<index_t>(v);
}

/// Counts the ratings of item i into counts[0 … K); returns r_i.
template <class LV>
double count_ratings(const char* fn, const LV& labels, index_t i, index_t k, std::vector<double>& counts) {
  std::fill(counts.begin(), counts.end(), 0.0);
  double r = 0;
  for (index_t j = 0; j < labels.extent(1); ++j) {
    const index_t c = rating(fn, labels, i, j, k);
    if (c < 0) continue;
    counts[static_cast<std::size_t>(c)] += 1;
    r += 1;
  }
  return r;
}

/// Σ_k r_ik(r_ik − 1) / (r_i(r_i − 1)), the fraction of agreeing ordered rater pairs.
inline double pair_agreement(const std::vector<double>& counts, double r) {
  double s = 0;
  for (double c : counts) s += c * (c - 1);
  return s / (r * (r - 1));
}

template <class LV>
void check_labels(const char* fn, const LV& labels, index_t k) {
  require_rank<2, LV>();
  check_not_empty(fn, "labels", labels.extent(0));
  check_range(fn, "n_categories", static_cast<double>(k), 1.0, 1e9);
}

/// Validates raw labels [items, raters] and calls f(i, counts, r_i) for every item with its
/// per-category counts.
template <class Labels, class F>
void for_each_item(const char* fn, const Labels& labels, index_t k, F&& f) {
  const auto y = view_of(labels);
  check_labels(fn, y, k);
  std::vector<double> counts(static_cast<std::size_t>(k));
  for (index_t i = 0; i < y.extent(0); ++i) f(i, counts, count_ratings(fn, y, i, k, counts));
}

/// Limits of `fleiss_rows_simd`: categories, and raters per item (its int32 lane sums, flushed
/// every 256 groups, stay exact).
inline constexpr index_t simd_max_categories = 16;
inline constexpr double simd_max_raters = 512;

/// Leading rows of a contiguous int32 count table [rows, k] (k ≤ simd_max_categories,
/// 0 ≤ n ≤ simd_max_raters) in SIMD over the flat array: column totals into acc[0 … k), Σ x²
/// into acc[k] (exact integer sums), and the checks of every count (0 ≤ x ≤ n) and row total
/// (= n); `ok` is cleared when one fails. The array is taken in groups of lcm(k, W) elements
/// (whole rows), so lane l of the group's batch a always adds to column (a·W + l) mod k; a row's
/// total is the sum of k unaligned loads starting at its first element. Returns the number of
/// rows handled: the whole groups whose row-total loads stay inside the table.
inline index_t fleiss_rows_simd(const std::int32_t* x, index_t rows, index_t k, std::int32_t n, double* acc, bool& ok) {
  using BI = xsimd::batch<std::int32_t>;
  using M = xsimd::batch_bool<std::int32_t>;
  constexpr index_t W = static_cast<index_t>(BI::size), flush_every = 256;
  const index_t per_group = k / std::gcd(k, W), group = per_group * W;
  const index_t groups = (rows * k - (k - 1)) / group;
  BI col[simd_max_categories], sq(0);
  M row_start[simd_max_categories];
  for (index_t a = 0; a < per_group; ++a) {
    alignas(64) std::int32_t first[W];
    for (index_t l = 0; l < W; ++l) first[l] = (a * W + l) % k == 0;
    row_start[a] = BI::load_aligned(first) != BI(0);
    col[a] = BI(0);
  }
  std::uint64_t col_total[simd_max_categories] = {}, sq_total = 0;
  auto flush = [&] {
    alignas(64) std::int32_t lanes[W];
    for (index_t a = 0; a < per_group; ++a) {
      col[a].store_aligned(lanes);
      for (index_t l = 0; l < W; ++l) col_total[(a * W + l) % k] += static_cast<std::uint32_t>(lanes[l]);
      col[a] = BI(0);
    }
    sq.store_aligned(lanes);
    for (index_t l = 0; l < W; ++l) sq_total += static_cast<std::uint32_t>(lanes[l]);
    sq = BI(0);
  };
  const BI nb(n), zero(0);
  M bad = nb != nb;
  for (index_t g = 0; g < groups; ++g) {
    for (index_t a = 0; a < per_group; ++a) {
      const std::int32_t* p = x + g * group + a * W;
      const BI v = BI::load_unaligned(p);
      bad = bad | (v < zero) | (v > nb);
      col[a] += v;
      sq += v * v;
      BI total = v;
      for (index_t j = 1; j < k; ++j) total += BI::load_unaligned(p + j);
      bad = bad | ((total != nb) & row_start[a]);
    }
    if ((g + 1) % flush_every == 0) flush();
  }
  flush();
  ok &= !xsimd::any(bad);
  for (index_t j = 0; j < k; ++j) acc[j] += static_cast<double>(col_total[j]);
  acc[k] += static_cast<double>(sq_total);
  return groups * (group / k);
}

}  // namespace detail

/// Fleiss' kappa from a count table [items, categories] (integer counts, every row summing to
/// the same n ≥ 2) in one pass. Exact integer sums: bitwise identical for any policy. A
/// contiguous int32 table with k ≤ 16 and n ≤ 512 takes a SIMD pass over the flat array
/// (`detail::fleiss_rows_simd`), any other table a row-wise pass; both give the same sums.
/// Errors: shape_error.102 (no item or no category), domain_error.255 (a negative or
/// non-integer count), domain_error.256 (rows with different totals), domain_error.257 (fewer
/// than 2 raters per item).
template <exec::execution_policy Exec, tensor_like Table>
fleiss_result fleiss_kappa(const Exec& policy, const Table& table, chance method = chance::fleiss) {
  using namespace alignkit::detail;
  const char* fn = "agreement::fleiss_kappa";
  const auto x = view_of(table);
  require_rank<2, decltype(x)>();
  const index_t n_items = x.extent(0), k = x.extent(1);
  check_not_empty(fn, "table", n_items);
  check_not_empty(fn, "table (categories)", k);
  double n = 0;
  for (index_t j = 0; j < k; ++j) n += static_cast<double>(x(0, j));
  // Sums: [column totals K][Σ x²].
  std::vector<double> scratch, sums(static_cast<std::size_t>(k + 1), 0.0);
  using V = std::remove_cv_t<typename decltype(x)::value_type>;
  constexpr bool integral = std::is_integral_v<V>;
  auto row = [&](index_t i, double* acc) {
    double total = 0, sq = 0;
    bool valid = true;
    for (index_t j = 0; j < k; ++j) {
      const double v = static_cast<double>(x(i, j));
      if constexpr (integral) valid &= v >= 0; else valid &= v >= 0 && v == std::floor(v);
      acc[j] += v;
      total += v;
      sq += v * v;
    }
    acc[k] += sq;
    return valid && total == n;
  };
  bool ok;
  constexpr bool flat = std::is_same_v<V, std::int32_t> &&
                        std::is_same_v<typename decltype(x)::accessor_type, default_accessor<typename decltype(x)::element_type>>;
  if (flat && x.stride(1) == 1 && x.stride(0) == k && k <= detail::simd_max_categories && n >= 0 &&
      n <= detail::simd_max_raters) {
    ok = chunked_bins(policy, n_items, k + 1, scratch, sums, [&](index_t begin, index_t end, double* acc) {
      bool valid = true;
      index_t i = begin;
      if constexpr (flat)
        i += detail::fleiss_rows_simd(x.data_handle() + begin * k, end - begin, k, static_cast<std::int32_t>(n), acc, valid);
      for (; i < end; ++i) valid &= row(i, acc);
      return valid;
    });
  } else {
    ok = binned_pass(policy, n_items, k + 1, scratch, sums, row);
  }
  if (!ok) {
    for (index_t i = 0; i < n_items; ++i) {
      double total = 0;
      for (index_t j = 0; j < k; ++j) {
        const double v = static_cast<double>(x(i, j));
        if (!(v >= 0 && v == std::floor(v)))
          raise<domain_error>(255, fn, ": table[", i, ", ", j, "] is ", v, ", expected a count (an integer >= 0)");
        total += v;
      }
      if (total != n)
        raise<domain_error>(256, fn, ": table row ", i, " has ", total, " ratings, row 0 has ", n,
                            "; every item needs the same number of raters");
    }
  }
  if (n < 2) raise<domain_error>(257, fn, ": every item has ", n, " ratings, expected at least 2 raters per item");
  const double nd = static_cast<double>(n_items), grand = nd * n;
  fleiss_result r;
  r.items = n_items;
  r.observed = (sums[static_cast<std::size_t>(k)] - grand) / (grand * (n - 1));
  if (method == chance::fleiss) {
    for (index_t j = 0; j < k; ++j) {
      const double p = sums[static_cast<std::size_t>(j)] / grand;
      r.expected += p * p;
    }
  } else {
    r.expected = 1.0 / static_cast<double>(k);
  }
  r.kappa = detail::kappa_of(r.observed, r.expected);
  return r;
}

/// Sequential overload.
template <alignkit::detail::data_argument Table>
fleiss_result fleiss_kappa(const Table& table, chance method = chance::fleiss) {
  return fleiss_kappa(exec::seq, table, method);
}

/// Fleiss' kappa from raw labels [items, raters] with missing ratings (Gwet's form, see the file
/// comment). Items with fewer than 2 ratings do not enter P̄. Errors: shape_error.102 (no item),
/// domain_error.202 (n_categories < 1), domain_error.252 (a rating out of range),
/// domain_error.257 (no item has 2 ratings).
template <tensor_like Labels>
fleiss_result fleiss_kappa_from_labels(const Labels& labels, index_t n_categories, chance method = chance::fleiss) {
  std::vector<double> pi(static_cast<std::size_t>(n_categories), 0.0);
  double agree = 0, rated = 0;
  fleiss_result r;
  detail::for_each_item("agreement::fleiss_kappa_from_labels", labels, n_categories,
                        [&](index_t, const std::vector<double>& counts, double ri) {
                          if (ri == 0) return;
                          rated += 1;
                          for (std::size_t c = 0; c < counts.size(); ++c) pi[c] += counts[c] / ri;
                          if (ri < 2) return;
                          agree += detail::pair_agreement(counts, ri);
                          ++r.items;
                        });
  if (r.items == 0)
    alignkit::detail::raise<domain_error>(257, "agreement::fleiss_kappa_from_labels", ": no item has 2 or more ratings, expected at least 2 raters per item");
  r.observed = agree / static_cast<double>(r.items);
  if (method == chance::fleiss) {
    for (double p : pi) r.expected += (p / rated) * (p / rated);
  } else {
    r.expected = 1.0 / static_cast<double>(n_categories);
  }
  r.kappa = detail::kappa_of(r.observed, r.expected);
  return r;
}

/// Cohen's kappa of two raters' labels [N] (any integer values), exactly as scikit-learn: the
/// label set is the sorted union of the values present, weights use positions in it. NaN when
/// Σ W∘E = 0 (both raters use one identical label). Allocates the label set and a K×K
/// confusion matrix. Errors: shape_error.101 (lengths differ), shape_error.102 (N = 0),
/// domain_error.201 (a non-finite label).
template <tensor_like Y1, tensor_like Y2>
double cohen_kappa(const Y1& y1, const Y2& y2, weighting weights = weighting::none) {
  using namespace alignkit::detail;
  const char* fn = "agreement::cohen_kappa";
  const auto a = view_of(y1);
  const auto b = view_of(y2);
  require_rank<1, decltype(a)>();
  require_rank<1, decltype(b)>();
  const index_t n = a.extent(0);
  check_same_size(fn, "y2", b.extent(0), "y1", n);
  check_not_empty(fn, "y1", n);
  check_finite(fn, "y1", a);
  check_finite(fn, "y2", b);
  std::vector<double> set;
  set.reserve(static_cast<std::size_t>(2 * n));
  for (index_t i = 0; i < n; ++i) {
    set.push_back(static_cast<double>(a(i)));
    set.push_back(static_cast<double>(b(i)));
  }
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  const auto k = set.size();
  auto position = [&](double v) {
    return static_cast<std::size_t>(std::lower_bound(set.begin(), set.end(), v) - set.begin());
  };
  std::vector<double> o(k * k, 0.0), rows(k, 0.0), cols(k, 0.0);
  for (index_t i = 0; i < n; ++i) {
    const std::size_t r = position(static_cast<double>(a(i))), c = position(static_cast<double>(b(i)));
    o[r * k + c] += 1;
    rows[r] += 1;
    cols[c] += 1;
  }
  double wo = 0, we = 0;
  const auto nd = static_cast<double>(n);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      const double d = std::abs(static_cast<double>(i) - static_cast<double>(j));
      const double w = weights == weighting::none ? (i != j ? 1.0 : 0.0) : weights == weighting::linear ? d : d * d;
      wo += w * o[i * k + j];
      we += w * cols[i] * rows[j] / nd;
    }
  }
  return we == 0 ? detail::nan : 1 - wo / we;
}

/// Per-item agreement of raw labels [items, raters] into `out` [items]: the fraction of agreeing
/// rater pairs P_i; NaN for an item with fewer than 2 ratings. Errors: shape_error.101 (`out`
/// has another length), as `fleiss_kappa_from_labels` otherwise.
template <tensor_like Labels, class T>
void item_agreement(const Labels& labels, index_t n_categories, vector_view<T> out) {
  const char* fn = "agreement::item_agreement";
  alignkit::detail::check_same_size(fn, "out", out.extent(0), "labels", view_of(labels).extent(0));
  detail::for_each_item(fn, labels, n_categories, [&](index_t i, const std::vector<double>& counts, double r) {
    out(i) = static_cast<T>(r < 2 ? detail::nan : detail::pair_agreement(counts, r));
  });
}

/// Allocating form of `item_agreement`.
template <tensor_like Labels>
std::vector<double> item_agreement(const Labels& labels, index_t n_categories) {
  std::vector<double> out(static_cast<std::size_t>(view_of(labels).extent(0)));
  item_agreement(labels, n_categories, view_of(out));
  return out;
}

/// Indices of the items whose agreement is at least `threshold` (items with fewer than 2 ratings
/// are dropped): the curation filter for preference pairs. Errors: as `item_agreement`.
template <tensor_like Labels>
std::vector<index_t> filter_items(const Labels& labels, index_t n_categories, double threshold) {
  const auto p = item_agreement(labels, n_categories);
  std::vector<index_t> keep;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] >= threshold) keep.push_back(static_cast<index_t>(i));
  return keep;
}

/// The most frequent category of each item (ties → the smallest category; −1 for an item with no
/// rating). Errors: as `item_agreement`.
template <tensor_like Labels>
std::vector<index_t> majority_labels(const Labels& labels, index_t n_categories) {
  std::vector<index_t> out(static_cast<std::size_t>(view_of(labels).extent(0)));
  detail::for_each_item("agreement::majority_labels", labels, n_categories,
                        [&](index_t i, const std::vector<double>& counts, double r) {
                          out[static_cast<std::size_t>(i)] =
                              r == 0 ? -1 : static_cast<index_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
                        });
  return out;
}

/// Soft labels [items, K] row-major: the fraction of each item's ratings in each category (a row
/// of zeros for an item with no rating), the targets of a reward model trained on disagreement.
/// Errors: as `item_agreement`.
template <tensor_like Labels>
std::vector<double> soft_labels(const Labels& labels, index_t n_categories) {
  const char* fn = "agreement::soft_labels";
  detail::check_labels(fn, view_of(labels), n_categories);  // before sizing the output
  const auto k = static_cast<std::size_t>(n_categories);
  std::vector<double> out(static_cast<std::size_t>(view_of(labels).extent(0)) * k, 0.0);
  detail::for_each_item(fn, labels, n_categories,
                        [&](index_t i, const std::vector<double>& counts, double r) {
                          if (r == 0) return;
                          for (std::size_t c = 0; c < k; ++c) out[static_cast<std::size_t>(i) * k + c] = counts[c] / r;
                        });
  return out;
}

}  // namespace agreement

ALIGNKIT_END_NAMESPACE
