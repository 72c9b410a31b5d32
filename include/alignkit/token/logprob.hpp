/// @file logprob.hpp
/// @brief Fused log-softmax gather and entropy over logits [N, V], with gradients for any
/// upstream gradients, with one exp per logit.
///
/// For row i with logits l_i (divided by the temperature τ: z = l/τ), label y_i, and upstream
/// gradients a_i = ∂L/∂logp_i, b_i = ∂L/∂H_i:
///   logp_i = z_{i,y} − logsumexp(z_i)
///   H_i    = logsumexp(z_i) − Σ_j softmax(z_i)_j·z_{i,j}
///   ∂L/∂l_{i,j} = (a_i·(1[j = y_i] − p_{ij}) − b_i·p_{ij}·(z_{ij} − Σ_k p_{ik} z_{ik})) / τ
/// Rows whose label is the ignore index give logp = H = 0 and a zero gradient row.
/// Every row is summarized by its max m, s = Σ e^{z−m} and t = Σ e^{z−m}(z−m); then
/// H = log s − t/s, which is the form above with m subtracted from both terms before they cancel
/// (exact to rounding for logits of ±1e4). Without a gradient, one online (blocked) pass per row
/// keeps (m, s, t) per SIMD lane. With a gradient, three passes over the row, the first one the
/// only read from memory: the max (no exp); e^{z−m} written into the gradient row while s and t
/// are summed; that row rescaled in place while it is still in cache. A forward call can save
/// (m, s, t) per row; a later backward call given them writes each gradient row in one pass.
/// Logits must be finite (any finite value, ±1e4 included); a −inf logit is not supported.
/// Paper: online normalizer, Milakov & Gimelshein 2018 (arXiv:1805.02867); fused log-prob and
/// entropy as in Liger-Kernel (arXiv:2410.10989).
/// Parity: verl `logprobs_from_logits` (non-flash path) and `entropy_from_logits` (op
/// `token_logprob`).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace token {

/// Hyperparameters; the defaults are verl's and PyTorch's `cross_entropy`.
struct options {
  double temperature = 1.0;          ///< τ > 0; the logits are divided by it
  std::int64_t ignore_index = -100;  ///< rows with this label give zero outputs and zero gradient
};

/// Sums over the rows whose label is not the ignore index.
struct result {
  double logprobs_sum = 0;  ///< Σ logp_i
  double entropy_sum = 0;   ///< Σ H_i
  index_t tokens = 0;       ///< number of rows counted
};

/// Softmax statistics of a sequence of values z (a row of logits over τ): the max m,
/// s = Σ e^{z−m} and t = Σ e^{z−m}(z−m). An empty sequence has s = 0. Two statistics merge
/// exactly (shift both to the larger max). A forward call can save them per row so that a later
/// backward call skips its first pass.
struct softmax_stats {
  double max = -std::numeric_limits<double>::infinity();  ///< m
  double sum = 0;                                          ///< s = Σ e^{z−m}
  double tsum = 0;                                         ///< t = Σ e^{z−m}(z−m)

  /// Merges the statistics of another part of the sequence.
  softmax_stats& operator+=(const softmax_stats& o) noexcept {
    if (o.sum == 0) return *this;
    if (sum == 0) return *this = o;
    const double m = std::max(max, o.max), da = max - m, db = o.max - m;
    const double ra = std::exp(da), rb = std::exp(db);
    tsum = ra * (tsum + da * sum) + rb * (o.tsum + db * o.sum);
    sum = ra * sum + rb * o.sum;
    max = m;
    return *this;
  }
  /// log s
  double log_sum() const noexcept { return std::log(sum); }
  /// Σ p·(z − m), the softmax mean of the shifted values.
  double mean_shifted() const noexcept { return tsum / sum; }
  /// logsumexp(z) = m + log s
  double logsumexp() const noexcept { return max + log_sum(); }
  /// logsumexp(z) − Σ softmax(z)·z, evaluated with m subtracted from both terms.
  double entropy() const noexcept { return log_sum() - mean_shifted(); }
};

/// Optional outputs (a default-constructed view or empty span is not written).
template <class T>
struct outputs {
  vector_view<T> logprobs;         ///< [N] logp_i (0 on ignored rows)
  vector_view<T> entropy;          ///< [N] H_i (0 on ignored rows)
  matrix_view<T> grad_logits;      ///< [N, V] ∂L/∂l for the upstream gradients
  std::span<softmax_stats> stats;  ///< [N] row statistics for a later backward (ignored rows untouched)
};

/// Upstream gradients of the objective; a default-constructed view reads as all zeros.
template <class T>
struct upstream {
  vector_view<const T> d_logprobs;  ///< [N] ∂L/∂logp_i
  vector_view<const T> d_entropy;   ///< [N] ∂L/∂H_i
};

namespace detail {

inline constexpr const char* fn = "token::logprob";

}  // namespace detail

}  // namespace token

namespace detail {

/// The online pass over a rank-1 view of raw logits: the softmax statistics of z = x·inv_t.
/// Vectorized per lane in blocks of four batches: at most one rescale per block, one exp per
/// element.
template <class T, class Row>
token::softmax_stats scan_softmax(const Row& row, T inv_t) {
  using B = batch_t<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  constexpr index_t block = 4;
  const index_t n = row.extent(0);
  const auto rd = make_reader<T>(row);
  token::softmax_stats st;
  index_t j = 0;
  if (n >= W) {
    B m = rd.template load<B>(0) * inv_t, s(T(0)), t(T(0));
    auto update = [&](const B* z, index_t k) {
      B bm = z[0];
      for (index_t q = 1; q < k; ++q) bm = xsimd::max(bm, z[q]);
      const B m_new = xsimd::max(m, bm);
      if (xsimd::any(m_new > m)) {  // rescale only when a lane's max grows (rare after a few blocks)
        const B d = m - m_new;      // ≤ 0
        const B r = exp_(d);
        t = r * fma_(d, s, t);
        s = r * s;
      }
      for (index_t q = 0; q < k; ++q) {
        const B u = z[q] - m_new;
        const B e = exp_(u);
        s += e;
        t = fma_(e, u, t);
      }
      m = m_new;
    };
    B z[block];
    for (; j + block * W <= n; j += block * W) {
      for (index_t q = 0; q < block; ++q) z[q] = rd.template load<B>(j + q * W) * inv_t;
      update(z, block);
    }
    for (; j + W <= n; j += W) {
      z[0] = rd.template load<B>(j) * inv_t;
      update(z, 1);
    }
    alignas(64) T lm[B::size], ls[B::size], lt[B::size];
    m.store_aligned(lm);
    s.store_aligned(ls);
    t.store_aligned(lt);
    for (std::size_t l = 0; l < B::size; ++l) st += token::softmax_stats{lm[l], ls[l], lt[l]};
  }
  for (; j < n; ++j) st += token::softmax_stats{static_cast<double>(static_cast<T>(row(j)) * inv_t), 1.0, 0.0};
  return st;
}

/// Writes g_j = −p_j·(a + b·(u_j − mean))·inv_t with u = x·inv_t − m (one rounding: a fused
/// multiply-add) and p = e^u / s for a rank-1 view of raw logits, from the row's statistics.
/// By default one pass with one exp per element (`out` may alias `row`). With `stored_exp`,
/// `out` holds the e^u that exp_sums wrote (same row, statistics and inv_t) and is rescaled in
/// place without an exp: run it while both rows are in cache. The label term a·inv_t is the
/// caller's to add.
template <class T, class Row, class Out, bool stored_exp = false>
void write_softmax_grad(const Row& row, T inv_t, const token::softmax_stats& st, T a, T b, const Out& out,
                        std::bool_constant<stored_exp> = {}) {
  using B = batch_t<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  const index_t n = row.extent(0);
  const auto rd = make_reader<T>(row);
  const auto re = make_reader<T>(out);
  const auto wr = make_writer<T>(out);
  const T m = static_cast<T>(st.max), inv_s = static_cast<T>(1 / st.sum);
  const T slope = -b * inv_t, offset = -a * inv_t - slope * static_cast<T>(st.mean_shifted());
  const T c1 = slope * inv_s, c0 = offset * inv_s;
  auto grad = [&](index_t j, auto tag) {  // g = e^u·(c1·u + c0)
    using V = typename decltype(tag)::type;
    const V u = fma_(rd.template load<V>(j), V(inv_t), V(-m));
    const V e = stored_exp ? re.template load<V>(j) : exp_(u);
    wr.store(j, e * fma_(V(c1), u, V(c0)));
  };
  index_t j = 0;
  for (; j + W <= n; j += W) grad(j, std::type_identity<B>{});
  for (; j < n; ++j) grad(j, std::type_identity<T>{});
}

/// The max of z = x·inv_t over a rank-1 view of raw logits (no exp). inv_t > 0 and rounding
/// is monotone, so this is max(x)·inv_t rounded once: the same m as a max over the rounded z.
template <class T, class Row>
T row_max(const Row& row, T inv_t) {
  using B = batch_t<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  const index_t n = row.extent(0);
  const auto rd = make_reader<T>(row);
  T m = -std::numeric_limits<T>::infinity();
  index_t j = 0;
  if (n >= W) {
    B bm = rd.template load<B>(0);
    for (j = W; j + W <= n; j += W) bm = xsimd::max(bm, rd.template load<B>(j));
    alignas(64) T lanes[B::size];
    bm.store_aligned(lanes);
    m = *std::max_element(lanes, lanes + W);
  }
  for (; j < n; ++j) m = std::max(m, rd.template load<T>(j));
  return m * inv_t;
}

/// The softmax statistics of z = x·inv_t given its max m (from row_max) with one exp per
/// element, which is also written to `out`: e = e^u with u = x·inv_t − m (one rounding: a fused
/// multiply-add), s = Σ e and t = Σ e·u per lane, then summed in double.
template <class T, class Row, class Out>
token::softmax_stats exp_sums(const Row& row, T inv_t, T m, const Out& out) {
  using B = batch_t<T>;
  constexpr index_t W = static_cast<index_t>(B::size);
  const index_t n = row.extent(0);
  const auto rd = make_reader<T>(row);
  const auto wr = make_writer<T>(out);
  B s(T(0)), t(T(0));
  index_t j = 0;
  for (; j + W <= n; j += W) {
    const B u = fma_(rd.template load<B>(j), B(inv_t), B(-m));
    const B e = exp_(u);
    wr.store(j, e);
    s += e;
    t = fma_(e, u, t);
  }
  token::softmax_stats st{static_cast<double>(m), static_cast<double>(xsimd::hadd(s)),
                          static_cast<double>(xsimd::hadd(t))};
  for (; j < n; ++j) {
    const T u = fma_(rd.template load<T>(j), inv_t, -m), e = exp_(u);
    wr.store(j, e);
    st.sum += static_cast<double>(e);
    st.tsum += static_cast<double>(e * u);
  }
  return st;
}

/// Writes zeros into a rank-1 view.
template <class Out>
void fill_zero(const Out& out) {
  for (index_t j = 0; j < out.extent(0); ++j) out(j) = 0;
}

/// [domain_error.240] every label lies in [0, V) or equals the ignore index.
template <class Labels>
void check_labels(std::string_view fn, const Labels& labels, index_t vocab, std::int64_t ignore_index) {
  for (index_t i = 0; i < labels.extent(0); ++i) {
    const auto y = static_cast<std::int64_t>(labels(i));
    if (y != ignore_index && (y < 0 || y >= vocab))
      raise<domain_error>(240, fn, ": labels[", i, "] is ", y, ", expected a class index in [0, ", vocab,
                          ") or the ignore_index ", ignore_index);
  }
}

/// The policy with its chunk counted in rows of `cols` elements: the element chunk spread over
/// whole rows (depends on the shape only, so results do not depend on the thread count).
template <class Exec>
Exec row_chunks(Exec policy, index_t cols) {
  policy.chunk = std::max<index_t>(1, policy.chunk / std::max<index_t>(1, cols));
  return policy;
}

}  // namespace detail

namespace token {

namespace detail {

using namespace alignkit::detail;

/// The bytes [first, last) between a view's lowest and highest element (empty for no element).
template <class V>
std::pair<std::uintptr_t, std::uintptr_t> bytes_spanned(const V& x) {
  if (x.empty()) return {0, 0};
  std::ptrdiff_t lo = 0, hi = 0;
  for (std::size_t r = 0; r < V::rank(); ++r) (x.stride(r) < 0 ? lo : hi) += x.stride(r) * (x.extent(r) - 1);
  const auto base = reinterpret_cast<std::uintptr_t>(x.data_handle());
  constexpr auto size = static_cast<std::ptrdiff_t>(sizeof(typename V::element_type));
  return {base + static_cast<std::uintptr_t>(lo * size), base + static_cast<std::uintptr_t>((hi + 1) * size)};
}

inline bool overlap(std::pair<std::uintptr_t, std::uintptr_t> a, std::pair<std::uintptr_t, std::uintptr_t> b) {
  return a.first < b.second && b.first < a.second;
}

template <class T, class Exec, class L, class Y>
result run(const Exec& policy, const L& logits, const Y& labels, const options& opts, const outputs<T>& out,
           const upstream<T>& up, std::span<const softmax_stats> saved) {
  require_rank<2, L>();
  require_rank<1, Y>();
  const index_t n = logits.extent(0), v = logits.extent(1);
  check_same_size(fn, "labels", labels.extent(0), "logits rows", n);
  if (out.logprobs.data_handle()) check_same_size(fn, "logprobs", out.logprobs.extent(0), "logits rows", n);
  if (out.entropy.data_handle()) check_same_size(fn, "entropy", out.entropy.extent(0), "logits rows", n);
  if (out.grad_logits.data_handle()) {
    check_extent(fn, "grad_logits", 0, out.grad_logits.extent(0), n);
    check_extent(fn, "grad_logits", 1, out.grad_logits.extent(1), v);
    // The gradient path writes e^u into the gradient row, then reads the logits again.
    if (overlap(bytes_spanned(logits), bytes_spanned(out.grad_logits)))
      raise<shape_error>(142, fn, ": grad_logits overlaps logits in memory");
  }
  if (up.d_logprobs.data_handle()) check_same_size(fn, "d_logprobs", up.d_logprobs.extent(0), "logits rows", n);
  if (up.d_entropy.data_handle()) check_same_size(fn, "d_entropy", up.d_entropy.extent(0), "logits rows", n);
  if (!out.stats.empty()) check_same_size(fn, "stats", static_cast<index_t>(out.stats.size()), "logits rows", n);
  if (!saved.empty()) check_same_size(fn, "saved", static_cast<index_t>(saved.size()), "logits rows", n);
  check_range(fn, "temperature", opts.temperature, 0.0, HUGE_VAL, true, true);
  check_labels(fn, labels, v, opts.ignore_index);

  const T inv_t = static_cast<T>(1.0 / opts.temperature);
  const bool want_grad = out.grad_logits.data_handle() != nullptr;
  struct partial {
    double logp = 0, entropy = 0;
    index_t tokens = 0;
    partial& operator+=(const partial& o) noexcept {
      logp += o.logp;
      entropy += o.entropy;
      tokens += o.tokens;
      return *this;
    }
  };
  auto body = [&](index_t begin, index_t end) {
    partial p;
    for (index_t i = begin; i < end; ++i) {
      const auto y = static_cast<std::int64_t>(labels(i));
      const auto row = logits.row(i);
      if (y == opts.ignore_index) {
        if (out.logprobs.data_handle()) out.logprobs(i) = 0;
        if (out.entropy.data_handle()) out.entropy(i) = 0;
        if (want_grad) fill_zero(out.grad_logits.row(i));
        continue;
      }
      const auto k = static_cast<std::size_t>(i);
      const T a = want_grad && up.d_logprobs.data_handle() ? static_cast<T>(up.d_logprobs(i)) : T(0);
      const T b = want_grad && up.d_entropy.data_handle() ? static_cast<T>(up.d_entropy(i)) : T(0);
      const bool grad_row = a != T(0) || b != T(0);
      const auto g = want_grad ? out.grad_logits.row(i) : decltype(out.grad_logits.row(i)){};
      // A gradient row without saved statistics: the row max, then one exp per element, written
      // to the gradient row and rescaled below while both rows are in cache. A forward-only row:
      // the single online pass (faster there: the max pass is not free).
      const bool fused = grad_row && saved.empty();
      const softmax_stats st = !saved.empty() ? saved[k]
                               : fused        ? exp_sums<T>(row, inv_t, row_max<T>(row, inv_t), g)
                                              : scan_softmax<T>(row, inv_t);
      if (!out.stats.empty()) out.stats[k] = st;
      const double logp = static_cast<double>(static_cast<T>(row(y)) * inv_t) - st.logsumexp();
      const double h = st.entropy();
      if (out.logprobs.data_handle()) out.logprobs(i) = static_cast<T>(logp);
      if (out.entropy.data_handle()) out.entropy(i) = static_cast<T>(h);
      p.logp += logp;
      p.entropy += h;
      ++p.tokens;
      if (!want_grad) continue;
      if (!grad_row) {
        fill_zero(g);
        continue;
      }
      if (fused)
        write_softmax_grad<T>(row, inv_t, st, a, b, g, std::true_type{});
      else
        write_softmax_grad<T>(row, inv_t, st, a, b, g);
      g(y) += a * inv_t;
    }
    return p;
  };
  const auto s = chunked_sum<partial>(row_chunks(policy, v), n, body);
  return {s.logp, s.entropy, s.tokens};
}

}  // namespace detail

/// Fused log-probabilities of the labels and softmax entropies of logits [N, V] (float or
/// double; half / bfloat16 views are read as float), labels [N] (any integer type): writes the
/// requested `out` views and returns the sums. When `out.grad_logits` is given (it must not
/// overlap `logits` in memory), also writes ∂L/∂logits for the upstream gradients `up`. `saved`: the
/// `out.stats` of an earlier call on the same logits, labels and temperature; the statistics
/// pass is then skipped (a backward after a separate forward reads each row once; its gradient
/// equals the one-call gradient up to rounding). Allocation-free.
/// Errors: shape_error.101 (a length differs from N), shape_error.103 (grad_logits is not
/// [N, V]), shape_error.142 (grad_logits overlaps logits), domain_error.202 (temperature ≤ 0
/// or not finite), domain_error.240 (a label outside [0, V) that is not the ignore index).
template <exec::execution_policy Exec, matrix_like L, vector_like Y, class T = alignkit::detail::compute_t<L>>
result logprob(const Exec& policy, const L& logits, const Y& labels, const options& opts = {},
               const outputs<T>& out = {}, const upstream<T>& up = {}, std::span<const softmax_stats> saved = {}) {
  return detail::run<T>(policy, view_of(logits), view_of(labels), opts, out, up, saved);
}

/// Sequential overload.
template <matrix_like L, vector_like Y, class T = alignkit::detail::compute_t<L>>
result logprob(const L& logits, const Y& labels, const options& opts = {}, const outputs<T>& out = {},
               const upstream<T>& up = {}, std::span<const softmax_stats> saved = {}) {
  return logprob(exec::seq, logits, labels, opts, out, up, saved);
}

/// Result plus owned per-row outputs, for callers that do not bring buffers.
template <class T>
struct evaluation {
  result sums;
  std::vector<T> logprobs, entropy;
};

/// Allocating convenience form of the forward pass.
template <matrix_like L, vector_like Y, class T = alignkit::detail::compute_t<L>>
evaluation<T> evaluate(const L& logits, const Y& labels, const options& opts = {}) {
  const auto n = static_cast<std::size_t>(view_of(logits).extent(0));
  evaluation<T> e{{}, std::vector<T>(n), std::vector<T>(n)};
  e.sums = logprob(logits, labels, opts, outputs<T>{view_of(e.logprobs), view_of(e.entropy)});
  return e;
}

}  // namespace token

ALIGNKIT_END_NAMESPACE
