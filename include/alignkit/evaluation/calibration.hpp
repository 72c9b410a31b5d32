/// @file calibration.hpp
/// @brief Calibration metrics: ECE (equal-width and equal-mass bins), MCE, classwise ECE, Brier
/// score, reliability-diagram data with Wilson intervals, scikit-learn's calibration curve, and
/// temperature scaling; streaming over batches and shards.
///
/// For samples i with confidence c_i, correctness a_i ∈ {0, 1} and weight w_i (default 1),
/// equal-width bins B_b = {i : e_b < c_i ≤ e_{b+1}} (e = numpy linspace(0, 1, n_bins + 1);
/// c = 0 in bin 0, c = 1 in the last bin) and W = Σ_i w_i:
///   ECE = Σ_b |Σ_{B_b} w·a − Σ_{B_b} w·c| / W,     MCE = max over non-empty bins |acc_b − conf_b|
///   binary p = P(y = 1):  c = max(1 − p, p), prediction 1 iff p > 1 − p (p = 0.5 predicts 0)
///   stated confidences (`evaluate_confidences`): c and a as given, e.g. an answer's confidence
///   and whether the answer was right; Brier = Σ w (a − c)² / W
///   top-label multiclass: c = max_k p_k, prediction = the first maximum
///   ece_pos: the same ECE with c = p and a = y (binary); Brier = Σ w (y − p)² / W (binary),
///   Σ_i w_i Σ_k (p_ik − 1[y_i = k])² / W (multiclass, Brier 1950)
///   adaptive ECE: stable sort by c, numpy array_split into n_bins equal-count chunks
///   classwise ECE = mean_k ECE(c = p_k, a = 1[y = k])
///   temperature scaling: T = argmin_T mean_i [logsumexp(z_i / T) − z_{i,y_i} / T]
/// Papers: Guo et al. 2017, "On Calibration of Modern Neural Networks" (arXiv:1706.04599; ECE,
/// MCE, temperature scaling); Nixon et al. 2019 (arXiv:1904.01685; adaptive ECE); Kull et al.
/// 2019 (arXiv:1910.12656; classwise ECE); Wilson 1927 (score interval); Brier 1950.
/// Parity: golden op `ece` (OPS.md: the Guo et al. convention in numpy), scikit-learn 1.2
/// `brier_score_loss` and `calibration_curve(strategy="uniform")`.
///
/// Default n_bins = 15: the value of Guo et al. and of torchmetrics; netcal and many scripts use
/// 10, scikit-learn's calibration_curve 5. Results depend on it, so pass it explicitly when
/// comparing with another library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/error.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/reducer.hpp"
#include "../core/tensor.hpp"
#include "detail/binning.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace calibration {

/// Equal-width bins unless stated otherwise (see the file comment for why 15).
inline constexpr index_t default_bins = 15;

/// Options shared by every calibration metric.
struct options {
  index_t n_bins = default_bins;         ///< number of bins, ≥ 1
  double row_sum_tolerance = 1e-4;       ///< multiclass rows must sum to 1 within this (float softmax over ~10³ classes)
  double wilson_z = 1.959963984540054;   ///< z of the Wilson interval (95 %)
};

/// One bin of a reliability diagram. Empty bins report 0 for every field.
struct bin {
  double weight = 0;          ///< Σ w (the count without weights)
  double confidence = 0;      ///< weighted mean confidence
  double accuracy = 0;        ///< weighted mean correctness
  double accuracy_lower = 0;  ///< Wilson score interval of the accuracy, n = weight
  double accuracy_upper = 0;
};

/// Everything an equal-width pass yields.
struct report {
  double ece = 0;                                           ///< top-label ECE
  double mce = 0;                                           ///< top-label MCE
  double brier = 0;                                         ///< Brier score
  double ece_pos = std::numeric_limits<double>::quiet_NaN();  ///< positive-class ECE (binary only)
  double weight = 0;                                        ///< W = Σ w
  index_t samples = 0;                                      ///< N
  std::vector<bin> reliability;                             ///< top-label bins
  std::vector<bin> positive;                                ///< positive-class bins (binary only)
};

/// scikit-learn `calibration_curve`: per non-empty positive-class bin, the fraction of positives
/// and the mean predicted probability.
struct curve {
  std::vector<double> prob_true, prob_pred;
};

namespace detail {

using namespace alignkit::detail;

// State layout: [top bins 3n][positive bins 3n][Σ w·brier, Σ w, N]; per bin (Σ w, Σ w·c, Σ w·a).
// A pass sums the bins and Σ w·brier; Σ w and N are set from them afterwards.
inline index_t state_size(index_t n_bins) { return 6 * n_bins + 3; }

inline void validate(const char* fn, const options& o) {
  check_range(fn, "n_bins", static_cast<double>(o.n_bins), 1.0, 1e6);
  check_range(fn, "row_sum_tolerance", o.row_sum_tolerance, 0.0, HUGE_VAL);
  check_range(fn, "wilson_z", o.wilson_z, 0.0, HUGE_VAL);
}

inline void add_to_bin(double* bins, index_t b, double w, double c, double a) {
  double* t = bins + 3 * b;
  t[0] += w;
  t[1] += w * c;
  t[2] += w * a;
}

/// A weight must be ≥ 0 and finite in the compute type T (checked without converting).
template <class T>
bool valid_weight(double w) {
  return w >= 0 && w <= static_cast<double>(std::numeric_limits<T>::max());
}

/// Reads weight i, or 1 without weights.
template <class WV>
double weight_at(const WV* w, index_t i) {
  return w ? static_cast<double>((*w)(i)) : 1.0;
}

/// Max (first argmax), sum and sum of squares of a row, in T, and whether every entry is in [0, 1].
template <class T>
struct row_stats {
  T max, sum, sumsq;
  index_t argmax;
  bool in_unit;
  /// A row of probabilities: entries in [0, 1] (no NaN) summing to 1 within tol.
  bool valid(T tol) const { return in_unit && std::abs(sum - T(1)) <= tol; }
};

/// Lane i's partner i xor H.
template <unsigned H>
struct xor_lane {
  static constexpr unsigned get(unsigned i, unsigned) { return i ^ H; }
};

/// op over every lane of x, in every lane: log2 W swizzle steps, all in registers.
template <std::size_t H, class V, class Op>
V all_lanes(const V& x, Op op) {
  if constexpr (H == 0) {
    return x;
  } else {
    using U = typename xsimd::as_unsigned_integer<V>::type;
    return all_lanes<H / 2>(op(x, xsimd::swizzle(x, xsimd::make_batch_constant<U, xor_lane<H>>())), op);
  }
}

/// One pass, no branch on the data. On a contiguous row of at least one batch, each lane keeps
/// its maximum, the first column where it occurred (a later equal value does not replace it) and
/// its minimum; the lowest such column among the lanes holding the row maximum is the first
/// argmax. The last k mod W columns are read as the row's final batch: max, argmax and min may
/// see columns twice, the sums mask the columns already counted out. Otherwise a scalar loop.
/// in_unit is min ≥ 0 and max ≤ 1 there; a NaN makes the sum NaN, so the row is never valid
/// (its max and argmax are then not used).
template <class T, class Row>
row_stats<T> stats_of(const Row& row, index_t k) {
  using E = std::remove_cv_t<typename Row::element_type>;
  constexpr bool plain = std::is_same_v<E, T> && std::is_same_v<typename Row::accessor_type,
                                                                  default_accessor<typename Row::element_type>>;
  if constexpr (plain) {
    using B = xsimd::batch<T>;
    using I = xsimd::as_integer_t<T>;
    using BI = xsimd::batch<I>;
    constexpr index_t W = static_cast<index_t>(B::size);
    if (row.stride(0) == 1 && k >= W) {
      const T* x = row.data_handle();
      alignas(64) I lanes[W];
      for (index_t l = 0; l < W; ++l) lanes[l] = static_cast<I>(l);
      const BI lane = BI::load_aligned(lanes);
      const B zero(T(0));
      BI at = lane, first(I(0));
      B mx(-std::numeric_limits<T>::infinity()), mn(std::numeric_limits<T>::infinity()), s(zero), ss(zero);
      // v: the batch at columns `at`; u: v with the columns already summed zeroed.
      auto add = [&](const B& v, const B& u) {
        first = xsimd::select(xsimd::bool_cast(v > mx), at, first);
        mx = xsimd::max(mx, v);
        mn = xsimd::min(mn, v);
        s += u;
        ss = xsimd::fma(u, u, ss);
      };
      index_t j = 0;
      for (; j + W <= k; j += W, at += BI(static_cast<I>(W))) {
        const B v = B::load_unaligned(x + j);
        add(v, v);
      }
      if (j < k) {
        at = lane + BI(static_cast<I>(k - W));
        const B v = B::load_unaligned(x + k - W);
        add(v, xsimd::select(xsimd::bool_cast(lane >= BI(static_cast<I>(W - (k - j)))), v, zero));
      }
      T top;
      index_t arg;
      if constexpr (sizeof(T) == 4) {
        // A maximum in [0, 1] has non-negative bits, ordered as the values: the key
        // bits · 2^32 + (2^32 − 1 − first) is largest at the row maximum's first column.
        using K = xsimd::batch<std::int64_t>;
        const BI bits = xsimd::bitwise_cast<BI>(mx), inv = BI(I(-1)) - first;
        const K key = all_lanes<W / 4>(xsimd::max(xsimd::bitwise_cast<K>(xsimd::zip_lo(inv, bits)),
                                                  xsimd::bitwise_cast<K>(xsimd::zip_hi(inv, bits))),
                                       [](const K& a, const K& b) { return xsimd::max(a, b); });
        alignas(64) std::int64_t kb[W / 2];
        key.store_aligned(kb);
        const auto best = static_cast<std::uint64_t>(kb[0]);
        const auto top_bits = static_cast<std::uint32_t>(best >> 32);
        std::memcpy(&top, &top_bits, sizeof top);
        arg = static_cast<index_t>(0xFFFFFFFFu - static_cast<std::uint32_t>(best));
      } else {
        const B m = all_lanes<W / 2>(mx, [](const B& a, const B& b) { return xsimd::max(a, b); });
        const BI cand = xsimd::select(xsimd::bool_cast(mx == m), first, BI(static_cast<I>(k)));
        alignas(64) I f[W];
        all_lanes<W / 2>(cand, [](const BI& a, const BI& b) { return xsimd::min(a, b); }).store_aligned(f);
        alignas(64) T t[W];
        m.store_aligned(t);
        top = t[0];
        arg = static_cast<index_t>(f[0]);
      }
      return {top, xsimd::hadd(s), xsimd::hadd(ss), arg >= 0 && arg < k ? arg : 0,
              xsimd::all(mn >= zero) && top <= T(1)};
    }
  }
  T mx = -std::numeric_limits<T>::infinity(), s = 0, ss = 0;
  index_t arg = 0;
  bool in_unit = true;
  for (index_t j = 0; j < k; ++j) {
    const T v = static_cast<T>(row(j));
    if (v > mx) {
      mx = v;
      arg = j;
    }
    in_unit = in_unit && v >= T(0) && v <= T(1);
    s += v;
    ss += v * v;
  }
  return {mx, s, ss, arg, in_unit};
}

/// Rows whose statistics are computed before any of them is binned (see `for_each_row_stats`).
inline constexpr index_t stats_batch = 8;

/// Calls f(i, stats_of<T>(p.row(i), k)) for i = begin … end − 1 in order. The statistics of
/// `stats_batch` rows are computed first, then f runs on each: the rows' reductions do not wait
/// on the binning of the row before, and the binning finds its inputs ready.
template <class T, class PV, class F>
void for_each_row_stats(const PV& p, index_t begin, index_t end, index_t k, F&& f) {
  row_stats<T> s[stats_batch];
  index_t i = begin;
  for (; i + stats_batch <= end; i += stats_batch) {
    for (index_t g = 0; g < stats_batch; ++g) s[g] = stats_of<T>(p.row(i + g), k);
    for (index_t g = 0; g < stats_batch; ++g) f(i + g, s[g]);
  }
  for (; i < end; ++i) f(i, stats_of<T>(p.row(i), k));
}

/// Label of sample i if it is an integer in [0, k), else −1.
template <class LV>
index_t label_at(const LV& labels, index_t i, index_t k) {
  const double y = static_cast<double>(labels(i));
  return (y >= 0 && y < static_cast<double>(k) && y == std::floor(y)) ? static_cast<index_t>(y) : -1;
}

/// The argument names of a pass, for its messages: probabilities and labels, or stated
/// confidences and correctness.
struct input_names {
  const char* values;
  const char* labels;
};
inline constexpr input_names probability_names{"probs", "labels"}, confidence_names{"confidence", "correct"};

/// Reports the first invalid sample in input order, after a pass flagged one; each test is the
/// pass's own, in the compute type T (row sums from `stats_of<T>`, weights rounded to T).
template <class T, class PV, class LV, class WV>
[[noreturn]] void raise_first_invalid(const char* fn, input_names names, const PV& p, const LV& labels, const WV* w,
                                      double tol) {
  const index_t n = p.extent(0);
  for (index_t i = 0; i < n; ++i) {
    index_t k = 2;
    if constexpr (PV::rank() == 1) {
      const T v = static_cast<T>(p(i));
      if (!(v >= T(0) && v <= T(1)))
        raise<domain_error>(250, fn, ": ", names.values, "[", i, "] is ", static_cast<double>(p(i)),
                            ", expected a probability in [0, 1]");
    } else {
      k = p.extent(1);
      for (index_t j = 0; j < k; ++j) {
        const T v = static_cast<T>(p(i, j));
        if (!(v >= T(0) && v <= T(1)))
          raise<domain_error>(250, fn, ": probs[", i, ", ", j, "] is ", static_cast<double>(p(i, j)),
                              ", expected a probability in [0, 1]");
      }
      const T s = stats_of<T>(p.row(i), k).sum;
      if (!(std::abs(s - T(1)) <= static_cast<T>(tol)))
        raise<domain_error>(251, fn, ": probs row ", i, " sums to ", static_cast<double>(s), ", expected 1 within ", tol);
    }
    if (label_at(labels, i, k) < 0)
      raise<domain_error>(252, fn, ": ", names.labels, "[", i, "] is ", static_cast<double>(labels(i)),
                          ", expected an integer in [0, ", k - 1, "]");
    if (!valid_weight<T>(weight_at(w, i)))
      raise<domain_error>(253, fn, ": weights[", i, "] is ", weight_at(w, i), ", expected a finite value >= 0");
  }
  ALIGNKIT_ASSERT(false);  // the pass flagged a sample that the scan accepts
  std::abort();
}

/// Whether a binary sample (or a batch of them) is valid: p ∈ [0, 1], y ∈ {0, 1}, finite w ≥ 0.
template <class T, class V>
auto valid_binary(const V& p, const V& y, const V& w) {
  return (p >= V(T(0))) && (p <= V(T(1))) && ((y == V(T(0))) || (y == V(T(1)))) && (w >= V(T(0))) &&
         (w < V(std::numeric_limits<T>::infinity()));
}

/// Top-label confidence max(1 − p, p), correctness (prediction 1 iff p > 1 − p) and the
/// weighted squared error w·(y − p)² of binary samples (scalars or batches).
template <class T, class V>
void binary_terms(const V& p, const V& y, const V& w, V& conf, V& correct, V& sq) {
  using namespace alignkit::detail;
  const V q = V(T(1)) - p;
  conf = max_(p, q);
  correct = select_(p > q, y, V(T(1)) - y);
  const V d = y - p;
  sq = w * d * d;
}

/// Compensated (Kahan) lane sums of the Brier terms of a chunk, added to a double at the end.
template <class B>
struct kahan_lanes {
  B sum = B(typename B::value_type(0)), comp = B(typename B::value_type(0));
  void add(const B& x) {
    const B t = x - comp, s = sum + t;
    comp = (s - sum) - t;
    sum = s;
  }
  void add_to(double& total) const {
    using T = typename B::value_type;
    alignas(64) T s[B::size], c[B::size];
    sum.store_aligned(s);
    comp.store_aligned(c);
    for (std::size_t l = 0; l < B::size; ++l) total += static_cast<double>(s[l]) - static_cast<double>(c[l]);
  }
};

/// Elements [i, i + count) of a rank-1 view as T into `out`. A contiguous view is read in a plain
/// loop, which compiles to vector conversions (e.g. 0/1 labels as bool or uint8 widened to
/// float); the caller loads batches from `out` later, never straight after a narrower store.
template <class T, class View>
void widen_to(const View& v, index_t i, index_t count, T* out) {
  if constexpr (std::is_same_v<typename View::accessor_type, default_accessor<typename View::element_type>>) {
    if (v.stride(0) == 1) {
      const auto* x = v.data_handle() + i;
      for (index_t k = 0; k < count; ++k) out[k] = static_cast<T>(x[k]);
      return;
    }
  }
  for (index_t k = 0; k < count; ++k) out[k] = static_cast<T>(v(i + k));
}

/// Binary samples [begin, end) into 4 lanes of sums, in blocks: validation, confidence,
/// correctness, both bin indices and the Brier term of a block in SIMD, then a branch-free scalar
/// scatter of the block into the bins; a scalar tail. False on an invalid sample.
/// `Confidences`: p and y are a stated confidence and its correctness, binned as given into the
/// first set of sums (no top-label set).
template <class T, bool Confidences, class PV, class LV, class WV>
bool binary_chunk(const PV& p, const LV& labels, const WV* w, index_t begin, index_t end, const T* e, index_t nb,
                  double* acc) {
  using B = xsimd::batch<T>;
  constexpr index_t W = static_cast<index_t>(B::size), block = 256;
  static_assert(block % W == 0);
  const index_t stride = state_size(nb);
  const auto rp = make_reader<T>(p);
  alignas(64) T pb[block], yb[block], wb[block], cb[block], ab[block];
  alignas(64) xsimd::as_integer_t<T> top[block], pos[block];
  auto scatter = [&](double* a, index_t t, index_t q, T pi, T y, T wi, T c, T correct) {
    const auto wd = static_cast<double>(wi);
    if constexpr (Confidences) {
      add_to_bin(a, q, wd, static_cast<double>(pi), static_cast<double>(y));
    } else {
      add_to_bin(a, t, wd, static_cast<double>(c), static_cast<double>(correct));
      add_to_bin(a + 3 * nb, q, wd, static_cast<double>(pi), static_cast<double>(y));
    }
  };
  kahan_lanes<B> brier;
  index_t i = begin;
  for (; i + block <= end; i += block) {
    if (w)  // weights are checked in double before they are read as T
      for (index_t j = 0; j < block; ++j)
        if (!valid_weight<T>(weight_at(w, i + j))) return false;
    widen_to(labels, i, block, yb);
    for (index_t j = 0; j < block; j += W) {
      const B pi = rp.template load<B>(i + j), y = B::load_aligned(yb + j);
      const B wi = w ? make_reader<T>(*w).template load<B>(i + j) : B(T(1));
      if (!xsimd::all(valid_binary<T>(pi, y, wi))) return false;
      B c, correct, sq;
      binary_terms<T>(pi, y, wi, c, correct, sq);
      if constexpr (!Confidences) {
        bin_of(c, e, nb).store_aligned(top + j);
        c.store_aligned(cb + j);
        correct.store_aligned(ab + j);
      }
      bin_of(pi, e, nb).store_aligned(pos + j);
      pi.store_aligned(pb + j);
      wi.store_aligned(wb + j);
      brier.add(sq);
    }
    for (index_t j = 0; j < block; ++j) {
      double* a = acc + (j % bin_lanes) * stride;
      if constexpr (Confidences)  // top, cb and ab are not written: no top-label set
        scatter(a, 0, pos[j], pb[j], yb[j], wb[j], T(0), T(0));
      else
        scatter(a, top[j], pos[j], pb[j], yb[j], wb[j], cb[j], ab[j]);
    }
  }
  brier.add_to(acc[6 * nb]);
  for (; i < end; ++i) {
    if (!valid_weight<T>(weight_at(w, i))) return false;
    const T pi = static_cast<T>(p(i)), y = static_cast<T>(labels(i)), wi = static_cast<T>(weight_at(w, i));
    if (!valid_binary<T>(pi, y, wi)) return false;
    T c, correct, sq;
    binary_terms<T>(pi, y, wi, c, correct, sq);
    scatter(acc + (i % bin_lanes) * stride, Confidences ? 0 : bin_of(c, e, nb), bin_of(pi, e, nb), pi, y, wi, c, correct);
    acc[6 * nb] += static_cast<double>(sq);
  }
  return true;
}

/// Bin counts up to which unweighted binary samples take `binary_chunk_unweighted`.
inline constexpr index_t vector_bins = 32;

/// Exact sum of the non-negative lanes of x, each at most 2^30 (int32) or 2^58 (int64).
template <class BI>
ALIGNKIT_INLINE std::uint64_t lane_sum(const BI& x) {
  using I = typename BI::value_type;
  if constexpr (sizeof(I) == 4) {  // the halves' sums stay below 2^31 for up to 64 lanes
    const auto hi = static_cast<std::uint64_t>(xsimd::hadd(x >> 10)), lo = static_cast<std::uint64_t>(xsimd::hadd(x & BI(1023)));
    return (hi << 10) + lo;
  } else {
    return static_cast<std::uint64_t>(xsimd::hadd(x));
  }
}

/// An integer-valued batch x with 0 ≤ x ≤ 2^(digits − 1) as integers: the bits of
/// x + 2^(digits − 1) less those of 2^(digits − 1) (no conversion instruction needed).
template <class B>
auto exact_to_int(const B& x) {
  using T = typename B::value_type;
  using BI = xsimd::batch<xsimd::as_integer_t<T>>;
  const B magic(std::ldexp(T(1), std::numeric_limits<T>::digits - 1));
  return xsimd::bitwise_cast<BI>(x + magic) - xsimd::bitwise_cast<BI>(magic);
}

/// round(x) as integers for 0 ≤ x ≤ 2^24 (float) or 2^52 (double).
template <class B>
auto fixed_point(const B& x) {
  if constexpr (sizeof(typename B::value_type) == 4) return xsimd::nearbyint_as_int(x);
  else return exact_to_int(x);
}

/// Unweighted binary samples [begin, end), n_bins ≤ vector_bins: the sums of `binary_chunk`
/// (into lane 0 of acc) without a per-sample scatter. Bin b holds the c with b edges e_1 … e_{n−1}
/// below it, so a bin's sums are differences of "sums over c > e_i" taken for every edge. Per
/// segment of 64 batches (in L1), one SIMD pass validates (tested once per segment, before any of
/// its sums is used: invalid values only pass through lane arithmetic), computes the Brier term
/// and, for both confidences (top label c, positive class p), stores c's bits, the fixed-point value
/// round(c·2^F) (F = 24 float, 52 double) and 1 + 2^H·a (count and correctness packed in one
/// integer, H = half the integer width), and sums them over all samples; then per edge one
/// compare and two masked integer adds per batch, seven edges per sweep over the segment (15
/// bins: one sweep for the top label, two for the positive class). Top-label edges below 0.5
/// need no compare (c = max(p, 1 − p) ≥ 0.5). Integer sums are exact, so the only rounding is
/// c's to the 2^−F grid (none for c ≥ 0.5 in float): at most 2^−(F+1) per sample, far below the
/// inputs' own precision near 1. The full segments of a chunk take this path, the remainder
/// `binary_chunk`. Scratch: 28 KiB on the stack (the segment), no allocation.
/// `Confidences`: as in `binary_chunk`, one set (c = p, a = y, all edges): 16 KiB of scratch.
template <class T, bool Confidences, class PV, class LV>
bool binary_chunk_unweighted(const PV& p, const LV& labels, index_t begin, index_t end, const T* e, index_t nb,
                             double* acc) {
  using B = xsimd::batch<T>;
  using I = xsimd::as_integer_t<T>;
  using BI = xsimd::batch<I>;
  constexpr index_t W = static_cast<index_t>(B::size), seg = 64 * W, sweep = 7;
  constexpr int F = std::is_same_v<T, float> ? 24 : 52, H = 4 * static_cast<int>(sizeof(I));
  const T scale = std::ldexp(T(1), F), packed_one = std::ldexp(T(1), H);
  const auto rp = make_reader<T>(p);
  // Per confidence set s (binary: 0 top label, 1 positive class; Confidences: 0 as given), over
  // this segment.
  constexpr int sets = Confidences ? 1 : 2;
  alignas(64) I bits[sets][seg], fix[sets][seg], packed[sets][seg];
  alignas(64) T ys[seg];  // the segment's labels as T
  // Per set and edge i (i = 0: every sample): count, Σ c·2^F, Σ a over the samples with c > e_i.
  double above[sets][vector_bins][3] = {};
  auto add_above = [&](int s, index_t edge, BI k, BI f) {
    const std::uint64_t ks = lane_sum(k), low = (std::uint64_t{1} << H) - 1;
    double* out = above[s][edge];
    out[0] += static_cast<double>(ks & low);
    out[1] += static_cast<double>(lane_sum(f));
    out[2] += static_cast<double>(ks >> H);
  };
  // Edges e_first … e_{n−1} in sweeps, padded with 2 (above every c).
  index_t first[sets];
  std::fill_n(first, sets, index_t{1});
  if constexpr (!Confidences)
    while (first[0] < nb && e[first[0]] < T(0.5)) ++first[0];
  auto sweep_edges = [&](int s, index_t from) {
    BI t[sweep], k[sweep], f[sweep];
    for (index_t q = 0; q < sweep; ++q) {
      t[q] = xsimd::bitwise_cast<BI>(B(from + q < nb ? e[from + q] : T(2)));  // c, e_i ≥ 0: ordered as their bits
      k[q] = f[q] = BI(I(0));
    }
    for (index_t j = 0; j < seg; j += W) {
      const BI c = BI::load_aligned(bits[s] + j), v = BI::load_aligned(packed[s] + j), x = BI::load_aligned(fix[s] + j);
      for (index_t q = 0; q < sweep; ++q) {
        const auto m = c > t[q];
        k[q] = xsimd::select(m, k[q] + v, k[q]);
        f[q] = xsimd::select(m, f[q] + x, f[q]);
      }
    }
    for (index_t q = 0; q < sweep && from + q < nb; ++q) add_above(s, from + q, k[q], f[q]);
  };
  kahan_lanes<B> brier;
  index_t i = begin;
  for (; i + seg <= end; i += seg) {
    // Per set: the lane sums over the segment (edge 0), named so that they stay in registers.
    BI k_top(I(0)), f_top(I(0)), k_pos(I(0)), f_pos(I(0));
    auto put = [&](int s, index_t j, const B& conf, const B& a, BI& k, BI& f) {
      const BI x = fixed_point(conf * B(scale)), v = exact_to_int(xsimd::fma(a, B(packed_one), B(T(1))));
      xsimd::bitwise_cast<BI>(conf).store_aligned(bits[s] + j);
      x.store_aligned(fix[s] + j);
      v.store_aligned(packed[s] + j);
      k += v;
      f += x;
    };
    widen_to(labels, i, seg, ys);
    xsimd::batch_bool<T> valid(true);  // every sample of the segment so far
    for (index_t j = 0; j < seg; j += W) {
      const B pi = rp.template load<B>(i + j), y = B::load_aligned(ys + j);
      valid = valid && valid_binary<T>(pi, y, B(T(1)));
      B c, correct, sq;
      binary_terms<T>(pi, y, B(T(1)), c, correct, sq);
      brier.add(sq);
      if constexpr (Confidences) {
        put(0, j, pi, y, k_pos, f_pos);
      } else {
        put(0, j, c, correct, k_top, f_top);
        put(1, j, pi, y, k_pos, f_pos);
      }
    }
    if (!xsimd::all(valid)) return false;
    if constexpr (Confidences) {
      add_above(0, 0, k_pos, f_pos);
    } else {
      add_above(0, 0, k_top, f_top);
      add_above(1, 0, k_pos, f_pos);
    }
    for (int s = 0; s < sets; ++s)
      for (index_t edge = first[s]; edge < nb; edge += sweep) sweep_edges(s, edge);
  }
  brier.add_to(acc[6 * nb]);
  const double unit = std::ldexp(1.0, -F);
  for (int s = 0; s < sets; ++s) {
    for (index_t edge = 1; edge < first[s]; ++edge)
      for (int q = 0; q < 3; ++q) above[s][edge][q] = above[s][0][q];
    for (index_t b = 0; b < nb; ++b) {
      const double* lo = above[s][b];
      const double* hi = b + 1 < nb ? above[s][b + 1] : nullptr;
      auto in_bin = [&](int q) { return hi ? lo[q] - hi[q] : lo[q]; };
      double* t = acc + 3 * nb * s + 3 * b;
      t[0] += in_bin(0);
      t[1] += in_bin(1) * unit;
      t[2] += in_bin(2);
    }
  }
  const auto* no_weights = static_cast<const vector_view<const double>*>(nullptr);
  return binary_chunk<T, Confidences>(p, labels, no_weights, i, end, e, nb, acc);
}

/// One pass of probabilities (rank 1: binary P(y = 1); rank 2: [N, K] rows) or, with
/// `Confidences`, of stated confidences [N] and their correctness into `total`.
template <class T, bool Confidences, class Exec, class PV, class LV, class WV>
void accumulate(const char* fn, const Exec& policy, const PV& p, const LV& labels, const WV* w,
                const options& o, std::vector<double>& scratch, std::span<double> total) {
  static_assert(!Confidences || PV::rank() == 1);
  constexpr input_names names = Confidences ? confidence_names : probability_names;
  const index_t n = p.extent(0), nb = o.n_bins;
  check_same_size(fn, names.labels, labels.extent(0), names.values, n);
  if (w) check_same_size(fn, "weights", w->extent(0), names.values, n);
  const std::vector<T> edges = bin_edges<T>(nb);
  const T* e = edges.data();
  bool ok;
  if constexpr (PV::rank() == 1) {
    ok = chunked_bins(policy, n, state_size(nb), scratch, total, [&](index_t begin, index_t end, double* acc) {
      if (!w && nb <= vector_bins) return binary_chunk_unweighted<T, Confidences>(p, labels, begin, end, e, nb, acc);
      return binary_chunk<T, Confidences>(p, labels, w, begin, end, e, nb, acc);
    });
  } else {
    const index_t k = p.extent(1);
    check_not_empty(fn, "probs (classes)", k);
    const T tol = static_cast<T>(o.row_sum_tolerance);
    const index_t stride = state_size(nb);
    ok = chunked_bins(policy, n, stride, scratch, total, [&](index_t begin, index_t end, double* lanes) {
      bool valid = true;
      for_each_row_stats<T>(p, begin, end, k, [&](index_t i, const row_stats<T>& s) {
        double* acc = lanes + (i % bin_lanes) * stride;
        const index_t y = label_at(labels, i, k);
        const double wi = weight_at(w, i);
        if (!s.valid(tol) || y < 0 || !valid_weight<T>(wi)) {
          valid = false;
          return;
        }
        add_to_bin(acc, bin_of(s.max, e, nb), wi, static_cast<double>(s.max), s.argmax == y ? 1.0 : 0.0);
        acc[6 * nb] += wi * (static_cast<double>(s.sumsq) - 2 * static_cast<double>(p.row(i)(y)) + 1);
      });
      return valid;
    });
  }
  if (!ok) raise_first_invalid<T>(fn, names, p, labels, w, o.row_sum_tolerance);
  for (index_t b = 0; b < nb; ++b) total[static_cast<std::size_t>(6 * nb + 1)] += total[static_cast<std::size_t>(3 * b)];
  total[static_cast<std::size_t>(6 * nb + 2)] += static_cast<double>(n);
}

/// Wilson score interval of a proportion `a` over `n` trials.
inline std::pair<double, double> wilson(double a, double n, double z) {
  if (n <= 0) return {0, 0};
  const double z2 = z * z, d = 1 + z2 / n;
  const double center = (a + z2 / (2 * n)) / d;
  const double half = z / d * std::sqrt(std::max(0.0, a * (1 - a) / n + z2 / (4 * n * n)));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

/// ECE, MCE and the bins of one 3n block of sums, given the total weight.
inline double summarize(const double* sums, index_t nb, double total, double z, std::vector<bin>& bins,
                        double* mce = nullptr) {
  bins.assign(static_cast<std::size_t>(nb), bin{});
  double ece = 0, worst = 0;
  for (index_t b = 0; b < nb; ++b) {
    const double* t = sums + 3 * b;
    if (t[0] <= 0) continue;
    bin& out = bins[static_cast<std::size_t>(b)];
    out.weight = t[0];
    out.confidence = t[1] / t[0];
    out.accuracy = t[2] / t[0];
    std::tie(out.accuracy_lower, out.accuracy_upper) = wilson(out.accuracy, t[0], z);
    ece += std::abs(t[2] - t[1]);
    worst = std::max(worst, std::abs(out.accuracy - out.confidence));
  }
  if (mce) *mce = worst;
  return ece / total;
}

}  // namespace detail

/// Streaming equal-width calibration: `add` batches (all binary, rank 1, or all multiclass,
/// rank 2) or `add_confidences` batches, then `finish`. Holds 6·n_bins + 3 doubles. Each `add` sums into a fresh copy of
/// that size (so that a failed add changes nothing) and a scratch of 24·n_bins + 12 doubles per
/// chunk (`exec::seq`: one chunk, reused across calls).
/// The sums of a sharded evaluation set are combined with `finish(reducer)`.
class accumulator {
 public:
  /// Errors: domain_error.202 (n_bins < 1, negative tolerance or z).
  explicit accumulator(const options& opts = {}) : opts_(opts) {
    detail::validate("calibration::accumulator", opts);
    state_.assign(static_cast<std::size_t>(detail::state_size(opts.n_bins)), 0.0);
  }

  /// Adds a batch: `probs` [N] (binary P(y = 1)) or [N, K] (rows summing to 1), `labels` [N]
  /// (0/1, or 0 … K−1), optional `weights` [N] (≥ 0). One pass; the accumulator is unchanged
  /// when an error is raised. Errors: shape_error.101 (lengths differ), shape_error.102 (K = 0),
  /// shape_error.150 (a batch of another kind than the earlier ones: binary, multiclass or
  /// stated confidences), domain_error.250 (a probability
  /// outside [0, 1] or NaN), domain_error.251 (a row whose sum differs from 1 by more than
  /// row_sum_tolerance), domain_error.252 (a label that is not an integer in range),
  /// domain_error.253 (a negative or non-finite weight).
  template <exec::execution_policy Exec, tensor_like P, tensor_like L>
  void add(const Exec& policy, const P& probs, const L& labels) {
    add_impl<false>(policy, view_of(probs), view_of(labels), no_weights());
  }
  template <exec::execution_policy Exec, tensor_like P, tensor_like L, tensor_like W>
  void add(const Exec& policy, const P& probs, const L& labels, const W& weights) {
    const auto w = view_of(weights);
    require_rank<1, decltype(w)>();
    add_impl<false>(policy, view_of(probs), view_of(labels), &w);
  }
  template <alignkit::detail::data_argument P, tensor_like L>
  void add(const P& probs, const L& labels) {
    add(exec::seq, probs, labels);
  }
  template <alignkit::detail::data_argument P, tensor_like L, tensor_like W>
  void add(const P& probs, const L& labels, const W& weights) {
    add(exec::seq, probs, labels, weights);
  }

  /// Adds a batch of stated confidences [N] in [0, 1] (e.g. of answers) and their correctness
  /// [N] (0/1), optional `weights` [N]: binned as given, so the report's ECE, MCE and reliability
  /// bins are those of (c, a) and its Brier score is Σ w (a − c)² / W; no positive-class bins
  /// (ece_pos is NaN). Errors: as `add`, naming `confidence` and `correct`.
  template <exec::execution_policy Exec, tensor_like C, tensor_like A>
  void add_confidences(const Exec& policy, const C& confidence, const A& correct) {
    add_impl<true>(policy, view_of(confidence), view_of(correct), no_weights());
  }
  template <exec::execution_policy Exec, tensor_like C, tensor_like A, tensor_like W>
  void add_confidences(const Exec& policy, const C& confidence, const A& correct, const W& weights) {
    const auto w = view_of(weights);
    require_rank<1, decltype(w)>();
    add_impl<true>(policy, view_of(confidence), view_of(correct), &w);
  }
  template <alignkit::detail::data_argument C, tensor_like A>
  void add_confidences(const C& confidence, const A& correct) {
    add_confidences(exec::seq, confidence, correct);
  }
  template <alignkit::detail::data_argument C, tensor_like A, tensor_like W>
  void add_confidences(const C& confidence, const A& correct, const W& weights) {
    add_confidences(exec::seq, confidence, correct, weights);
  }

  /// The metrics of everything added. Errors: shape_error.102 (no sample added),
  /// domain_error.254 (total weight 0).
  report finish() const { return summarize(state_); }

  /// As `finish()` after summing the state across shards with `r.all_reduce_sum`.
  template <reducer R>
  report finish(R& r) const {
    std::vector<double> global = state_;
    r.all_reduce_sum(std::span<double>(global));
    return summarize(global);
  }

  /// The raw sums (layout: see detail::state_size), e.g. for a custom reduction.
  std::span<const double> state() const noexcept { return state_; }
  /// Forgets every sample.
  void reset() {
    std::fill(state_.begin(), state_.end(), 0.0);
    kind_ = kind::none;
  }
  const options& settings() const noexcept { return opts_; }

 private:
  static constexpr const char* fn = "calibration::accumulator::add";
  static constexpr const char* fn_confidences = "calibration::accumulator::add_confidences";

  /// What the added batches were.
  enum class kind { none, binary, multiclass, confidences };
  static const char* describe(kind k) {
    switch (k) {
      case kind::binary: return "binary probabilities [N]";
      case kind::multiclass: return "multiclass probabilities [N, K]";
      case kind::confidences: return "stated confidences [N]";
      case kind::none: break;
    }
    return "nothing";
  }
  static const vector_view<const double>* no_weights() { return nullptr; }

  template <bool Confidences, class Exec, class PV, class LV, class WV>
  void add_impl(const Exec& policy, const PV& p, const LV& labels, const WV* w) {
    static_assert(PV::rank() == 1 || PV::rank() == 2, "alignkit: probs must be [N] (binary) or [N, K]");
    static_assert(!Confidences || PV::rank() == 1, "alignkit: confidences must be [N]");
    require_rank<1, LV>();
    const kind k = Confidences ? kind::confidences : PV::rank() == 1 ? kind::binary : kind::multiclass;
    if (kind_ != kind::none && kind_ != k)
      alignkit::detail::raise<shape_error>(150, Confidences ? fn_confidences : fn, ": a batch of ", describe(k),
                                           " after batches of ", describe(kind_));
    using T = std::conditional_t<std::is_same_v<typename PV::value_type, double>, double, float>;
    std::vector<double> pending(state_.size(), 0.0);
    detail::accumulate<T, Confidences>(Confidences ? fn_confidences : fn, policy, p, labels, w, opts_, scratch_, pending);
    for (std::size_t j = 0; j < state_.size(); ++j) state_[j] += pending[j];
    kind_ = k;
  }

  report summarize(const std::vector<double>& s) const {
    const char* where = "calibration::accumulator::finish";
    const index_t nb = opts_.n_bins;
    const double* tail = s.data() + 6 * nb;
    alignkit::detail::check_not_empty(where, "the set of added samples", static_cast<index_t>(tail[2]));
    if (!(tail[1] > 0))
      alignkit::detail::raise<domain_error>(254, where, ": the total sample weight is ", tail[1], ", expected a positive value");
    report r;
    r.weight = tail[1];
    r.samples = static_cast<index_t>(tail[2]);
    r.brier = tail[0] / tail[1];
    r.ece = detail::summarize(s.data(), nb, r.weight, opts_.wilson_z, r.reliability, &r.mce);
    if (kind_ == kind::binary) r.ece_pos = detail::summarize(s.data() + 3 * nb, nb, r.weight, opts_.wilson_z, r.positive);
    return r;
  }

  options opts_;
  std::vector<double> state_;
  std::vector<double> scratch_;
  kind kind_ = kind::none;
};

/// Equal-width ECE, MCE, Brier and reliability bins of one set in one pass (see `accumulator::add`
/// for shapes and errors).
template <exec::execution_policy Exec, tensor_like P, tensor_like L>
report evaluate(const Exec& policy, const P& probs, const L& labels, const options& opts = {}) {
  accumulator acc(opts);
  acc.add(policy, probs, labels);
  return acc.finish();
}
/// As above with sample weights.
template <exec::execution_policy Exec, tensor_like P, tensor_like L, tensor_like W>
report evaluate(const Exec& policy, const P& probs, const L& labels, const W& weights, const options& opts = {}) {
  accumulator acc(opts);
  acc.add(policy, probs, labels, weights);
  return acc.finish();
}
/// Sequential overloads.
template <alignkit::detail::data_argument P, tensor_like L>
report evaluate(const P& probs, const L& labels, const options& opts = {}) {
  return evaluate(exec::seq, probs, labels, opts);
}
template <alignkit::detail::data_argument P, tensor_like L, tensor_like W>
report evaluate(const P& probs, const L& labels, const W& weights, const options& opts = {}) {
  return evaluate(exec::seq, probs, labels, weights, opts);
}

/// Equal-width ECE, MCE, Brier and reliability bins of stated confidences [N] and their
/// correctness [N] in one pass (see `accumulator::add_confidences`).
template <exec::execution_policy Exec, tensor_like C, tensor_like A>
report evaluate_confidences(const Exec& policy, const C& confidence, const A& correct, const options& opts = {}) {
  accumulator acc(opts);
  acc.add_confidences(policy, confidence, correct);
  return acc.finish();
}
/// As above with sample weights.
template <exec::execution_policy Exec, tensor_like C, tensor_like A, tensor_like W>
report evaluate_confidences(const Exec& policy, const C& confidence, const A& correct, const W& weights,
                            const options& opts = {}) {
  accumulator acc(opts);
  acc.add_confidences(policy, confidence, correct, weights);
  return acc.finish();
}
/// Sequential overloads.
template <alignkit::detail::data_argument C, tensor_like A>
report evaluate_confidences(const C& confidence, const A& correct, const options& opts = {}) {
  return evaluate_confidences(exec::seq, confidence, correct, opts);
}
template <alignkit::detail::data_argument C, tensor_like A, tensor_like W>
report evaluate_confidences(const C& confidence, const A& correct, const W& weights, const options& opts = {}) {
  return evaluate_confidences(exec::seq, confidence, correct, weights, opts);
}

/// scikit-learn `calibration_curve(y, p, n_bins, strategy="uniform")` from a binary report: the
/// non-empty positive-class bins in increasing order. Errors: shape_error.151 (not a binary report).
inline curve calibration_curve(const report& r) {
  if (r.positive.empty())
    alignkit::detail::raise<shape_error>(151, "calibration::calibration_curve: the report has no positive-class bins; "
                                              "it needs binary probabilities of rank 1");
  curve c;
  for (const bin& b : r.positive) {
    if (b.weight <= 0) continue;
    c.prob_true.push_back(b.accuracy);
    c.prob_pred.push_back(b.confidence);
  }
  return c;
}

/// Adaptive (equal-mass) ECE: stable sort by confidence, numpy `array_split` into n_bins
/// chunks (the first N mod n_bins get one more sample; empty chunks are skipped),
/// Σ_chunks |Σ a − Σ c| / N. Unweighted. Allocates 2N doubles. Errors: as `accumulator::add`,
/// and shape_error.102 (N = 0).
template <tensor_like P, tensor_like L>
double adaptive_ece(const P& probs, const L& labels, const options& opts = {}) {
  using namespace alignkit::detail;
  const char* fn = "calibration::adaptive_ece";
  calibration::detail::validate(fn, opts);
  const auto p = view_of(probs);
  const auto y = view_of(labels);
  using PV = decltype(p);
  using T = std::conditional_t<std::is_same_v<typename PV::value_type, double>, double, float>;
  const index_t n = p.extent(0);
  check_same_size(fn, "labels", y.extent(0), "probs", n);
  check_not_empty(fn, "probs", n);
  std::vector<std::pair<double, double>> ca(static_cast<std::size_t>(n));  // (confidence, correct)
  const auto* no_weights = static_cast<const vector_view<const double>*>(nullptr);
  for (index_t i = 0; i < n; ++i) {
    auto& [c, a] = ca[static_cast<std::size_t>(i)];
    if constexpr (PV::rank() == 1) {
      const T pi = static_cast<T>(p(i)), q = T(1) - pi;
      const double yi = static_cast<double>(y(i));
      if (!(pi >= T(0) && pi <= T(1)) || !(yi == 0 || yi == 1))
        calibration::detail::raise_first_invalid<T>(fn, calibration::detail::probability_names, p, y, no_weights, opts.row_sum_tolerance);
      c = static_cast<double>(pi > q ? pi : q);
      a = (pi > q) == (yi == 1) ? 1.0 : 0.0;
    } else {
      const index_t k = p.extent(1);
      const auto s = calibration::detail::stats_of<T>(p.row(i), k);
      const index_t yi = calibration::detail::label_at(y, i, k);
      if (!s.valid(static_cast<T>(opts.row_sum_tolerance)) ||
          yi < 0)
        calibration::detail::raise_first_invalid<T>(fn, calibration::detail::probability_names, p, y, no_weights, opts.row_sum_tolerance);
      c = static_cast<double>(s.max);
      a = s.argmax == yi ? 1.0 : 0.0;
    }
  }
  std::stable_sort(ca.begin(), ca.end(), [](const auto& u, const auto& v) { return u.first < v.first; });
  const index_t base = n / opts.n_bins, extra = n % opts.n_bins;
  double ece = 0;
  std::size_t at = 0;
  for (index_t b = 0; b < opts.n_bins; ++b) {
    const index_t len = base + (b < extra ? 1 : 0);
    double sc = 0, sa = 0;
    for (index_t j = 0; j < len; ++j, ++at) {
      sc += ca[at].first;
      sa += ca[at].second;
    }
    ece += std::abs(sa - sc);
  }
  return ece / static_cast<double>(n);
}

/// Classwise ECE: per class k, the equal-width ECE of confidence p_k against 1[y = k]; and
/// their mean. One pass over [N, K]; allocates K·3·n_bins doubles per chunk (4 lanes).
struct classwise_result {
  double ece = 0;                 ///< mean over classes
  std::vector<double> per_class;  ///< ECE_k
};

/// Errors: as `accumulator::add` (probs must be rank 2), shape_error.102 (N = 0).
template <exec::execution_policy Exec, tensor_like P, tensor_like L>
classwise_result classwise_ece(const Exec& policy, const P& probs, const L& labels, const options& opts = {}) {
  using namespace alignkit::detail;
  const char* fn = "calibration::classwise_ece";
  calibration::detail::validate(fn, opts);
  const auto p = view_of(probs);
  const auto y = view_of(labels);
  using PV = decltype(p);
  require_rank<2, PV>();
  using T = std::conditional_t<std::is_same_v<typename PV::value_type, double>, double, float>;
  const index_t n = p.extent(0), k = p.extent(1), nb = opts.n_bins;
  check_same_size(fn, "labels", y.extent(0), "probs", n);
  check_not_empty(fn, "probs", n);
  check_not_empty(fn, "probs (classes)", k);
  const std::vector<T> edges = bin_edges<T>(nb);
  std::vector<double> scratch, total(static_cast<std::size_t>(3 * nb * k), 0.0);
  const T tol = static_cast<T>(opts.row_sum_tolerance);
  const bool ok = binned_pass(policy, n, 3 * nb * k, scratch, total, [&](index_t i, double* acc) {
    const auto row = p.row(i);
    const auto s = calibration::detail::stats_of<T>(row, k);
    const index_t yi = calibration::detail::label_at(y, i, k);
    if (!s.valid(tol) || yi < 0) return false;
    for (index_t j = 0; j < k; ++j) {
      const T c = static_cast<T>(row(j));
      calibration::detail::add_to_bin(acc + 3 * nb * j, bin_of(c, edges.data(), nb), 1.0, static_cast<double>(c),
                                      j == yi ? 1.0 : 0.0);
    }
    return true;
  });
  if (!ok)
    calibration::detail::raise_first_invalid<T>(fn, calibration::detail::probability_names, p, y, static_cast<const vector_view<const double>*>(nullptr), opts.row_sum_tolerance);
  classwise_result r;
  std::vector<bin> bins;
  for (index_t j = 0; j < k; ++j) {
    r.per_class.push_back(
        calibration::detail::summarize(total.data() + 3 * nb * j, nb, static_cast<double>(n), opts.wilson_z, bins));
    r.ece += r.per_class.back();
  }
  r.ece /= static_cast<double>(k);
  return r;
}
/// Sequential overload.
template <alignkit::detail::data_argument P, tensor_like L>
classwise_result classwise_ece(const P& probs, const L& labels, const options& opts = {}) {
  return classwise_ece(exec::seq, probs, labels, opts);
}

}  // namespace calibration

ALIGNKIT_END_NAMESPACE
