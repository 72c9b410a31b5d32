/// @file linear_head.hpp
/// @brief Log-probabilities and entropies of a linear output head, hidden [N, H] · weightᵀ, and
/// their gradients wrt hidden and weight, without ever storing the [N, V] logits.
///
/// With logits l = hidden·Wᵀ (W as [V, H]) and z = l/τ, per row i (see token/logprob.hpp):
///   logp_i = z_{i,y} − logsumexp(z_i),   H_i = logsumexp(z_i) − Σ_j softmax(z_i)_j·z_{ij}
///   G = ∂L/∂l (token::logprob's gradient for upstream a = ∂L/∂logp, b = ∂L/∂H)
///   ∂L/∂hidden = G·W,   ∂L/∂W = Gᵀ·hidden
/// The rows are processed in blocks of `chunk_rows` and the vocabulary in chunks of
/// `chunk_vocab` columns. For each row block, a logits tile [rows, cols] is computed by a GEMM
/// per vocabulary chunk and folded into running softmax statistics (max, Σe^{z−m},
/// Σe^{z−m}(z−m)); then the gradient tile overwrites the logits tile in place and two GEMMs add
/// its contributions to ∂L/∂hidden and ∂L/∂W. With the whole vocabulary in one chunk (the
/// default) the logits tile is reused, so forward and backward together cost the same three
/// GEMMs as the materialized computation; with several vocabulary chunks the backward recomputes
/// each tile (one more GEMM).
/// Scratch (allocated once per call): rows·cols elements of T for the tile, plus 32 bytes per
/// row of the block; nothing of size N·V. The default GEMM hook (Eigen) adds its packing buffers,
/// bounded by computing in blocks of 4096 × 4096; `cblas_gemm.hpp` has a hook for any CBLAS.
/// Paper: Liger-Kernel fused linear cross-entropy (arXiv:2410.10989); online normalizer,
/// Milakov & Gimelshein 2018 (arXiv:1805.02867).
/// Parity: the materialized computation (logits = hidden·Wᵀ, then verl `logprobs_from_logits`
/// and `entropy_from_logits`, op `token_logprob`).
/// Needs Eigen (the default GEMM); not part of alignkit.hpp.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "../adapters/eigen.hpp"
#include "../core/sequences.hpp"
#include "logprob.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace token::linear_head {

/// How the weight is stored.
enum class layout {
  vocab_by_hidden,  ///< [V, H]: `torch.nn.Linear.weight` of an LM head (logits = hidden·Wᵀ)
  hidden_by_vocab,  ///< [H, V]: a projection applied as hidden·W (Flax Dense kernel, tied embeddings transposed)
};

/// Hyperparameters and tiling.
struct options {
  double temperature = 1.0;                     ///< τ > 0; the logits are divided by it
  std::int64_t ignore_index = -100;             ///< rows with this label give zero outputs and zero gradient
  layout weight_layout = layout::vocab_by_hidden;
  /// Rows per block (≥ 1). Each block's GEMMs pack all of W again, a cost ∝ 1/rows; the tile
  /// holds rows·V elements.
  index_t chunk_rows = 512;
  index_t chunk_vocab = 0;                      ///< vocabulary columns per chunk; 0 = the whole vocabulary
};

/// Optional outputs (a default-constructed view is not written). The gradients are overwritten.
template <class T>
struct outputs {
  vector_view<T> logprobs;     ///< [N] logp_i (0 on ignored rows)
  vector_view<T> entropy;      ///< [N] H_i (0 on ignored rows)
  matrix_view<T> grad_hidden;  ///< [N, H] ∂L/∂hidden
  matrix_view<T> grad_weight;  ///< ∂L/∂W in the weight's own layout
};

/// The GEMM hook: `gemm(a, b, c, accumulate)` computes C = A·B (accumulate false) or
/// C += A·B (accumulate true) for strided views a [m, k], b [k, n], c [m, n]. Any of them may
/// be row-major, column-major or a transposed view (strides swapped); C never overlaps A or B.
/// A custom backend (BLAS, oneDNN, an accelerator) passes its own callable as the last argument.
template <class G, class T>
concept gemm_hook = requires(const G& g, matrix_view<const T> a, matrix_view<const T> b, matrix_view<T> c) {
  g(a, b, c, true);
};

namespace detail {

/// The transpose of a rank-2 view (strides swapped).
template <class T>
matrix_view<T> transposed(const matrix_view<T>& v) {
  return {v.data_handle(), {v.extent(1), v.extent(0)}, {v.stride(1), v.stride(0)}};
}

/// Rows [begin, begin + count) of a rank-2 view.
template <class T>
matrix_view<T> row_block(const matrix_view<T>& v, index_t begin, index_t count) {
  return {v.data_handle() + begin * v.stride(0), {count, v.extent(1)}, v.strides()};
}

/// Calls f with an Eigen::Map of v: row-major or column-major with an outer stride when one
/// stride is 1 (so Eigen's GEMM runs on the caller's memory), otherwise fully strided.
template <class T, class F>
void with_eigen_map(const matrix_view<T>& v, F&& f) {
  using S = std::remove_const_t<T>;
  using row_major = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using col_major = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using rm = std::conditional_t<std::is_const_v<T>, const row_major, row_major>;
  using cm = std::conditional_t<std::is_const_v<T>, const col_major, col_major>;
  const index_t r = v.extent(0), c = v.extent(1), s0 = v.stride(0), s1 = v.stride(1);
  if (s1 == 1 || c == 1)
    f(Eigen::Map<rm, 0, Eigen::OuterStride<>>(v.data_handle(), r, c, Eigen::OuterStride<>(r == 1 ? c : s0)));
  else if (s0 == 1 || r == 1)
    f(Eigen::Map<cm, 0, Eigen::OuterStride<>>(v.data_handle(), r, c, Eigen::OuterStride<>(c == 1 ? r : s1)));
  else
    f(Eigen::Map<rm, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>(
        v.data_handle(), r, c, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(s0, s1)));
}

}  // namespace detail

/// The default GEMM hook: Eigen's matrix product on maps of the views (no copy when each
/// operand has a unit stride in one dimension; Eigen's own threading applies if enabled).
/// C is computed in blocks of at most `panel` × `panel`: Eigen packs a block of each operand as
/// large as its cache model allows (all 32,000 columns of B at k = 2048: 64 MB; all 32,000 rows of
/// A at k = 512: 64 MB), a block bounds those buffers to O(k·panel) at the same speed.
struct eigen_gemm {
  static constexpr index_t panel = 4096;
  template <class T>
  void operator()(matrix_view<const T> a, matrix_view<const T> b, matrix_view<T> c, bool accumulate) const {
    using detail::row_block, detail::transposed;
    for (index_t i0 = 0; i0 < c.extent(0); i0 += panel) {
      const index_t mc = std::min(panel, c.extent(0) - i0);
      for (index_t j0 = 0; j0 < c.extent(1); j0 += panel) {
        const index_t nc = std::min(panel, c.extent(1) - j0);
        detail::with_eigen_map(row_block(a, i0, mc), [&](const auto& am) {
          detail::with_eigen_map(transposed(row_block(transposed(b), j0, nc)), [&](const auto& bm) {
            detail::with_eigen_map(transposed(row_block(transposed(row_block(c, i0, mc)), j0, nc)), [&](auto cm) {
              if (accumulate)
                cm.noalias() += am * bm;
              else
                cm.noalias() = am * bm;
            });
          });
        });
      }
    }
  }
};

namespace detail {

using namespace alignkit::detail;

inline constexpr const char* fn = "token::linear_head::logprob";

inline const char* layout_name(layout l) { return l == layout::vocab_by_hidden ? "[V, H]" : "[H, V]"; }

template <class T, class Exec, class Y, class Gemm>
result run(const Exec& policy, matrix_view<const T> hidden, matrix_view<const T> weight, const Y& labels,
           const options& opts, const outputs<T>& out, const upstream<T>& up, const Gemm& gemm) {
  require_rank<1, Y>();
  const bool by_vocab = opts.weight_layout == layout::vocab_by_hidden;
  const matrix_view<const T> w = by_vocab ? weight : transposed(weight);  // [V, H]
  const index_t n = hidden.extent(0), h = hidden.extent(1), v = w.extent(0);
  if (w.extent(1) != h)
    raise<shape_error>(140, fn, ": weight is [", weight.extent(0), ", ", weight.extent(1), "] with layout ",
                       layout_name(opts.weight_layout), ", hidden is [", n, ", ", h, "]; the hidden sizes ", w.extent(1),
                       " and ", h, " differ");
  check_same_size(fn, "labels", labels.extent(0), "hidden rows", n);
  if (out.logprobs.data_handle()) check_same_size(fn, "logprobs", out.logprobs.extent(0), "hidden rows", n);
  if (out.entropy.data_handle()) check_same_size(fn, "entropy", out.entropy.extent(0), "hidden rows", n);
  if (out.grad_hidden.data_handle()) {
    check_extent(fn, "grad_hidden", 0, out.grad_hidden.extent(0), n);
    check_extent(fn, "grad_hidden", 1, out.grad_hidden.extent(1), h);
  }
  if (out.grad_weight.data_handle()) {
    check_extent(fn, "grad_weight", 0, out.grad_weight.extent(0), weight.extent(0));
    check_extent(fn, "grad_weight", 1, out.grad_weight.extent(1), weight.extent(1));
  }
  if (up.d_logprobs.data_handle()) check_same_size(fn, "d_logprobs", up.d_logprobs.extent(0), "hidden rows", n);
  if (up.d_entropy.data_handle()) check_same_size(fn, "d_entropy", up.d_entropy.extent(0), "hidden rows", n);
  check_range(fn, "temperature", opts.temperature, 0.0, HUGE_VAL, true, true);
  check_range(fn, "chunk_rows", static_cast<double>(opts.chunk_rows), 1.0, HUGE_VAL);
  check_range(fn, "chunk_vocab", static_cast<double>(opts.chunk_vocab), 0.0, HUGE_VAL);
  check_labels(fn, labels, v, opts.ignore_index);

  const matrix_view<T> grad_w = by_vocab ? out.grad_weight : transposed(out.grad_weight);  // [V, H]
  const bool want_grad = out.grad_hidden.data_handle() || grad_w.data_handle();
  const T inv_t = static_cast<T>(1.0 / opts.temperature);
  const index_t rows = std::min(opts.chunk_rows, std::max<index_t>(n, 1));
  const index_t cols = opts.chunk_vocab == 0 ? v : std::min(opts.chunk_vocab, v);
  const bool recompute = cols < v;
  std::vector<T> tile_buf(static_cast<std::size_t>(rows * cols));
  std::vector<softmax_stats> stats(static_cast<std::size_t>(rows));
  std::vector<double> label_z(static_cast<std::size_t>(rows));

  auto label_of = [&](index_t i) { return static_cast<std::int64_t>(labels(i)); };

  result res;
  if (n == 0 && grad_w.data_handle())
    for (index_t j = 0; j < v; ++j) fill_zero(grad_w.row(j));
  for (index_t r0 = 0; r0 < n; r0 += rows) {
    const index_t nr = std::min(rows, n - r0);
    const auto hb = row_block(hidden, r0, nr);
    std::fill(stats.begin(), stats.end(), softmax_stats{});
    for (index_t v0 = 0; v0 < v; v0 += cols) {
      const index_t nc = std::min(cols, v - v0);
      const matrix_view<T> tile(tile_buf.data(), {nr, nc});
      gemm(hb, transposed(row_block(w, v0, nc)), tile, false);
      for_each_sequence(policy, nr, nc, [&](index_t k) {
        const auto y = label_of(r0 + k);
        if (y == opts.ignore_index) return;
        stats[static_cast<std::size_t>(k)] += scan_softmax<T>(tile.row(k), inv_t);
        if (y >= v0 && y < v0 + nc) label_z[static_cast<std::size_t>(k)] = static_cast<double>(tile(k, y - v0) * inv_t);
      });
    }
    for (index_t k = 0; k < nr; ++k) {
      const index_t i = r0 + k;
      const auto& st = stats[static_cast<std::size_t>(k)];
      const bool counted = label_of(i) != opts.ignore_index;
      const double logp = counted ? label_z[static_cast<std::size_t>(k)] - st.logsumexp() : 0.0;
      const double ent = counted ? st.entropy() : 0.0;
      if (out.logprobs.data_handle()) out.logprobs(i) = static_cast<T>(logp);
      if (out.entropy.data_handle()) out.entropy(i) = static_cast<T>(ent);
      res.logprobs_sum += logp;
      res.entropy_sum += ent;
      res.tokens += counted;
    }
    if (!want_grad) continue;
    for (index_t v0 = 0; v0 < v; v0 += cols) {
      const index_t nc = std::min(cols, v - v0);
      const matrix_view<T> tile(tile_buf.data(), {nr, nc});
      const auto wc = row_block(w, v0, nc);
      if (recompute) gemm(hb, transposed(wc), tile, false);
      for_each_sequence(policy, nr, nc, [&](index_t k) {
        const index_t i = r0 + k;
        const auto y = label_of(i);
        const T a = up.d_logprobs.data_handle() ? static_cast<T>(up.d_logprobs(i)) : T(0);
        const T b = up.d_entropy.data_handle() ? static_cast<T>(up.d_entropy(i)) : T(0);
        if (y == opts.ignore_index || (a == T(0) && b == T(0))) return fill_zero(tile.row(k));
        write_softmax_grad<T>(tile.row(k), inv_t, stats[static_cast<std::size_t>(k)], a, b, tile.row(k));
        if (y >= v0 && y < v0 + nc) tile(k, y - v0) += a * inv_t;
      });
      const matrix_view<const T> g = tile;
      if (out.grad_hidden.data_handle()) gemm(g, wc, row_block(out.grad_hidden, r0, nr), v0 != 0);
      if (grad_w.data_handle()) gemm(transposed(g), hb, row_block(grad_w, v0, nc), r0 != 0);
    }
  }
  return res;
}

}  // namespace detail

/// Log-probabilities of the labels and softmax entropies of the logits hidden·Wᵀ (hidden
/// [N, H], weight [V, H] or [H, V] per `opts.weight_layout`, both float or both double; labels
/// [N], any integer type), without storing [N, V]: writes the requested `out` views and returns
/// the sums. When a gradient output is given, also writes ∂L/∂hidden and/or ∂L/∂W for the
/// upstream gradients `up` (absent = 0). Row blocks run in sequence; the rows of a tile run in
/// parallel under the policy (results are bitwise equal to exec::seq for a deterministic GEMM).
/// Errors: shape_error.140 (weight and hidden disagree on H), shape_error.101 (a length differs
/// from N), shape_error.103 (a gradient output has the wrong shape), domain_error.202
/// (temperature ≤ 0 or not finite, chunk_rows < 1, chunk_vocab < 0), domain_error.240 (a label
/// outside [0, V) that is not the ignore index).
template <exec::execution_policy Exec, matrix_like Hd, matrix_like W, vector_like Y,
          class T = alignkit::detail::compute_t<Hd>, class Gemm = eigen_gemm>
  requires(std::same_as<T, float> || std::same_as<T, double>) && gemm_hook<Gemm, T>
result logprob(const Exec& policy, const Hd& hidden, const W& weight, const Y& labels, const options& opts = {},
               const outputs<T>& out = {}, const upstream<T>& up = {}, const Gemm& gemm = {}) {
  const matrix_view<const T> hv = view_of(hidden);
  const matrix_view<const T> wv = view_of(weight);
  return detail::run<T>(policy, hv, wv, view_of(labels), opts, out, up, gemm);
}

/// Sequential overload.
template <matrix_like Hd, matrix_like W, vector_like Y, class T = alignkit::detail::compute_t<Hd>,
          class Gemm = eigen_gemm>
  requires(std::same_as<T, float> || std::same_as<T, double>) && gemm_hook<Gemm, T>
result logprob(const Hd& hidden, const W& weight, const Y& labels, const options& opts = {}, const outputs<T>& out = {},
               const upstream<T>& up = {}, const Gemm& gemm = {}) {
  return logprob(exec::seq, hidden, weight, labels, opts, out, up, gemm);
}

}  // namespace token::linear_head

ALIGNKIT_END_NAMESPACE
