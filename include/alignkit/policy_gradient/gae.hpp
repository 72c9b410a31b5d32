/// @file gae.hpp
/// @brief Generalized advantage estimation: advantages and returns in one reverse scan per
/// sequence, on padded `[B, T]` + mask or packed tokens + CSR offsets, with optional whitening.
///
/// For each sequence, t = T−1 … 0, carries g (running advantage) and nv (next value) start at 0:
///   δ_t = r_t + γ·nv − V_t,   g = δ_t + γλ·g,   A_t = g,   R_t = A_t + V_t
/// Masked tokens (m_t = 0) are handled in one of two ways:
///   masking::skip  (verl)      the carries pass through unchanged: a masked token neither updates
///                              g and nv nor consumes a discount step; A_t is the carried g and
///                              R_t = A_t + V_t with the raw V_t.
///   masking::zero  (OpenRLHF)  r and V are zeroed first (r' = m·r, V' = m·V) and every position
///                              discounts: nv = V'_{t+1}; R_t = A_t + V'_t.
/// Optional whitening of the advantages over the whole batch (whiten.hpp), global through a
/// reducer; the returns always use the raw advantages.
/// Paper: Schulman et al. 2015, "High-Dimensional Continuous Control Using Generalized Advantage
/// Estimation" (arXiv:1506.02438), eq. 16.
/// Parity: verl `compute_gae_advantage_return` + `masked_whiten` (golden op `gae`); OpenRLHF
/// `get_advantages_and_returns` + its advantage normalisation (golden op `gae_openrlhf`).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#include "../core/check.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/reducer.hpp"
#include "../core/sequences.hpp"
#include "../core/tensor.hpp"
#include "detail/rows.hpp"
#include "whiten.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace gae {

/// How masked tokens enter the recursion.
enum class masking {
  skip,  ///< verl: carries pass through masked tokens
  zero   ///< OpenRLHF: masked rewards and values are zeroed, and discounting continues
};

/// Hyperparameters; the defaults are the common PPO-RLHF ones.
struct options {
  double gamma = 1.0;  ///< discount γ ∈ [0, 1]
  double lam = 0.95;   ///< GAE λ ∈ [0, 1]
  masking masked = masking::skip;
  /// Whiten the advantages over the batch after the scan (verl: `{}`; OpenRLHF:
  /// `{.style = whitening::convention::openrlhf}`); unset leaves them raw.
  std::optional<whitening::options> whiten;
};

/// Batch statistics of one call.
struct result {
  double valid_tokens = 0;                       ///< Σm of this call (not reduced)
  std::optional<whitening::moments> whitening;  ///< the global moments, when whitened
};

/// Optional outputs shaped like the rewards (a default-constructed view is not written);
/// Rank 2 for padded batches, 1 for packed tokens.
template <class T, std::size_t Rank = 2>
struct outputs {
  strided_view<T, Rank> advantages;  ///< A (whitened when options::whiten is set)
  strided_view<T, Rank> returns;     ///< R = A_raw + V (V' under masking::zero)
};

}  // namespace gae

namespace detail {

/// One sequence, verl convention; returns {Σm, ΣA·m} of the raw advantages.
template <class R, class V, class M, class A, class G>
sums<2> gae_row_skip(const R& r, const V& v, const M& m, const A& adv, const G& ret, double gamma, double gl) {
  const bool write_a = adv.data_handle() != nullptr, write_r = ret.data_handle() != nullptr;
  using EA = typename A::element_type;
  using ER = typename G::element_type;
  double nv = 0, g = 0;
  sums<2> s;
  for (index_t t = r.extent(0); t-- > 0;) {
    const double vt = static_cast<double>(v(t));
    if (mask_valid(m(t))) {
      g = (static_cast<double>(r(t)) + gamma * nv - vt) + gl * g;
      nv = vt;
      s.value[0] += 1;
      s.value[1] += g;
    }
    if (write_a) adv(t) = static_cast<EA>(g);
    if (write_r) ret(t) = static_cast<ER>(g + vt);
  }
  return s;
}

/// Contiguous row storage read like a view: `x(t)` is p[t].
template <class E>
struct contiguous_row {
  E* p;
  E& operator()(index_t t) const noexcept { return p[t]; }
  E* data_handle() const noexcept { return p; }
  /// Asks for elements [t0, t1) in the L2 cache: the scan walks back through memory a tile at a
  /// time, which hardware prefetchers do not follow (L1 would evict them: the rows of a block
  /// share cache sets).
  void prefetch(index_t t0, index_t t1) const noexcept {
#if defined(__GNUC__) || defined(__clang__)
    constexpr index_t line = 64 / static_cast<index_t>(sizeof(E));
    if (p)
      for (index_t t = t0; t < t1; t += line) __builtin_prefetch(p + t, 0, 1);
#endif
  }
};

/// Time steps per tile and rows per block of the masking::zero scan.
inline constexpr index_t gae_tile = 256, gae_block = 8;

/// The OpenRLHF convention on R rows of length `len` at once; per element the same arithmetic,
/// so the values do not depend on R or on the layout. Rows are cut into tiles of `gae_tile` steps from
/// t = 0, scanned last tile first; per tile: V' = m·V and δ_t = (m·r_t + γ·V'_{t+1}) − V'_t along
/// time (vectorized), then g = δ_t + γλ·g across the R rows interleaved (R independent dependency
/// chains), then A and R = A + V' written along time, and ΣA·m of the tile summed in 8 lanes
/// (t mod 8) added pairwise. Tiles start at multiples of gae_tile, so a row gives the same sums
/// whether padded or packed. Stack scratch: R·(2·gae_tile + 17) doubles and R·(gae_tile + 64)
/// bytes. `sums[j]` receives row j's {Σm, ΣA·m}.
template <index_t R, class Row>
void gae_block_zero(const Row* row, index_t len, double gamma, double gl, bool write_a, bool write_r, sums<2>* sums) {
  // x where ok, else +0.0: a bitwise select, so that the loops along time vectorize.
  const auto keep = [](bool ok, double x) {
    return std::bit_cast<double>(std::bit_cast<std::uint64_t>(x) & (std::uint64_t{0} - ok));
  };
  constexpr index_t W = 8;
  // Row strides of the scratch padded off multiples of 4 KiB (false store-to-load aliasing).
  double vz[R][gae_tile + 9], d[R][gae_tile + 8], g[R] = {};
  std::uint8_t ok[R][gae_tile + 64];
  for (index_t j = 0; j < R; ++j) sums[j] = {};
  for (index_t t0 = len == 0 ? 0 : (len - 1) / gae_tile * gae_tile, t1 = len; t1 > 0; t1 = t0, t0 -= gae_tile) {
    const index_t w = t1 - t0;
    for (index_t j = 0; j < R; ++j) {
      const auto& [r, v, m, a, ret] = row[j];
      if constexpr (requires(const Row& x) { x.r.prefetch(0, 0); }) {
        const index_t next = std::max<index_t>(0, t0 - gae_tile);
        r.prefetch(next, t0);
        v.prefetch(next, t0);
        m.prefetch(next, t0);
        if (write_a) a.prefetch(next, t0);
        if (write_r) ret.prefetch(next, t0);
      }
      double* z = vz[j];
      std::uint8_t* valid = ok[j];
      z[w] = t1 < len && mask_valid(m(t1)) ? static_cast<double>(v(t1)) : 0.0;
      index_t count = 0;
      for (index_t t = 0; t < w; ++t) {
        const bool vt = mask_valid(m(t0 + t));
        valid[t] = vt;
        count += vt;
        z[t] = keep(vt, static_cast<double>(v(t0 + t)));
      }
      sums[j].value[0] += static_cast<double>(count);
      for (index_t t = 0; t < w; ++t)
        d[j][t] = (keep(valid[t], static_cast<double>(r(t0 + t))) + gamma * z[t + 1]) - z[t];
    }
    for (index_t t = w; t-- > 0;)
      for (index_t j = 0; j < R; ++j) d[j][t] = g[j] = d[j][t] + gl * g[j];
    for (index_t j = 0; j < R; ++j) {
      const auto& [r, v, m, a, ret] = row[j];
      using EA = std::remove_cvref_t<decltype(a(0))>;
      using ER = std::remove_cvref_t<decltype(ret(0))>;
      if (write_a)
        for (index_t t = 0; t < w; ++t) a(t0 + t) = static_cast<EA>(d[j][t]);
      if (write_r)
        for (index_t t = 0; t < w; ++t) ret(t0 + t) = static_cast<ER>(d[j][t] + vz[j][t]);
      double* am = vz[j];  // now A·m
      for (index_t t = 0; t < w; ++t) am[t] = keep(ok[j][t], d[j][t]);
      double acc[W] = {};
      const index_t full = w / W * W;
      for (index_t t = 0; t < full; t += W)
        for (index_t k = 0; k < W; ++k) acc[k] += am[t + k];
      for (index_t t = full; t < w; ++t) acc[t - full] += am[t];
      sums[j].value[1] += ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    }
  }
}

/// The rows of a block: rewards, values, mask, advantages, returns.
template <class R, class V, class M, class A, class G>
struct gae_rows {
  R r;
  V v;
  M m;
  A a;
  G ret;
};

/// Per-row sums of a block, added into `total` in row order (so any blocking sums alike).
struct gae_block_sums {
  std::array<sums<2>, gae_block> rows{};
  index_t n = 0;
  sums<2> total;
  gae_block_sums& operator+=(const gae_block_sums& o) noexcept {
    for (index_t j = 0; j < o.n; ++j) total += o.rows[static_cast<std::size_t>(j)];
    return *this;
  }
};

/// Scans the rows [b0, b0 + R) of the bound row sets with gae_block_zero, on raw pointers when
/// every row is contiguous (so the passes along time vectorize), else through the views.
template <index_t R, class RR, class VR, class MR, class AR, class GR>
void gae_zero_rows(const RR& rr, const VR& vr, const MR& mr, const AR& ar, const GR& gr, index_t b0, index_t len,
                   double gamma, double gl, sums<2>* out) {
  const bool write_a = ar(b0).data_handle() != nullptr, write_r = gr(b0).data_handle() != nullptr;
  bool contiguous = true;
  for (index_t j = 0; j < R; ++j)
    contiguous = contiguous && rr(b0 + j).stride(0) == 1 && vr(b0 + j).stride(0) == 1 && mr(b0 + j).stride(0) == 1 &&
                 (!write_a || ar(b0 + j).stride(0) == 1) && (!write_r || gr(b0 + j).stride(0) == 1);
  constexpr bool plain = std::is_same_v<typename decltype(rr(0))::accessor_type,
                                        default_accessor<typename decltype(rr(0))::element_type>> &&
                         std::is_same_v<typename decltype(vr(0))::accessor_type,
                                        default_accessor<typename decltype(vr(0))::element_type>> &&
                         std::is_same_v<typename decltype(mr(0))::accessor_type,
                                        default_accessor<typename decltype(mr(0))::element_type>>;
  if constexpr (plain) {
    if (contiguous) {
      using Row = gae_rows<contiguous_row<typename decltype(rr(0))::element_type>,
                           contiguous_row<typename decltype(vr(0))::element_type>,
                           contiguous_row<typename decltype(mr(0))::element_type>,
                           contiguous_row<typename decltype(ar(0))::element_type>,
                           contiguous_row<typename decltype(gr(0))::element_type>>;
      Row rows[R];
      for (index_t j = 0; j < R; ++j)
        rows[j] = {{rr(b0 + j).data_handle()}, {vr(b0 + j).data_handle()}, {mr(b0 + j).data_handle()},
                   {ar(b0 + j).data_handle()}, {gr(b0 + j).data_handle()}};
      return gae_block_zero<R>(rows, len, gamma, gl, write_a, write_r, out);
    }
  }
  using Row = gae_rows<decltype(rr(0)), decltype(vr(0)), decltype(mr(0)), decltype(ar(0)), decltype(gr(0))>;
  Row rows[R];
  for (index_t j = 0; j < R; ++j) rows[j] = {rr(b0 + j), vr(b0 + j), mr(b0 + j), ar(b0 + j), gr(b0 + j)};
  gae_block_zero<R>(rows, len, gamma, gl, write_a, write_r, out);
}

/// Checks the arguments, runs the scan over all rows of the layout, then the optional whitening
/// of the advantages.
template <class Exec, class Rows, class RV, class VV, class MV, class OV, class Reducer>
gae::result gae_run(const Exec& policy, const Rows& rows, const RV& rv, const VV& vv, const MV& mv,
                    const OV& adv, const OV& ret, const gae::options& opts, Reducer& reducer, std::string_view fn) {
  rows.check(fn, "values", vv);
  rows.check(fn, "mask", mv);
  const bool write_a = adv.data_handle() != nullptr, write_r = ret.data_handle() != nullptr;
  if (write_a) rows.check(fn, "advantages", adv);
  if (write_r) rows.check(fn, "returns", ret);
  check_range(fn, "gamma", opts.gamma, 0.0, 1.0);
  check_range(fn, "lam", opts.lam, 0.0, 1.0);
  const double gl = opts.gamma * opts.lam;
  const bool skip = opts.masked == gae::masking::skip;
  const auto rr = bind_rows(rows, rv);
  const auto vr = bind_rows(rows, vv);
  const auto mr = bind_rows(rows, mv);
  const auto ar = bind_rows(rows, adv);
  const auto gr = bind_rows(rows, ret);
  sums<2> first;
  if (skip) {
    first = for_rows<2>(policy, rows.rows(), [&](index_t b) {
      return gae_row_skip(rr(b), vr(b), mr(b), ar(b), gr(b), opts.gamma, gl);
    });
  } else if constexpr (std::is_same_v<Rows, padded_layout>) {
    // Blocks of gae_block rows of the same length (the last block row by row).
    const index_t n_rows = rows.rows(), len = rows.horizon(), full = n_rows / gae_block;
    auto per_block = policy;
    per_block.chunk = 1;
    first = chunked_sum<gae_block_sums>(per_block, full + n_rows % gae_block, [&](index_t c, index_t) {
              gae_block_sums out;
              if (c < full) {
                out.n = gae_block;
                gae_zero_rows<gae_block>(rr, vr, mr, ar, gr, c * gae_block, len, opts.gamma, gl, out.rows.data());
              } else {
                out.n = 1;
                gae_zero_rows<1>(rr, vr, mr, ar, gr, full * gae_block + (c - full), len, opts.gamma, gl,
                                 out.rows.data());
              }
              return out;
            }).total;
  } else {
    first = for_rows<2>(policy, rows.rows(), [&](index_t b) {
      sums<2> out;
      gae_zero_rows<1>(rr, vr, mr, ar, gr, b, rows.length(b), opts.gamma, gl, &out);
      return out;
    });
  }
  gae::result res{first[0], std::nullopt};
  if (opts.whiten && write_a) {
    res.whitening = finish_moments(policy, ar, mr, first, *opts.whiten, reducer, fn);
    apply_whitening(policy, ar, mr, ar, *res.whitening, opts.whiten->zero_masked);
  }
  return res;
}

}  // namespace detail

namespace gae {

/// GAE on a padded batch: `rewards`, `values`, `mask` are `[B, T]`; writes the requested outputs
/// (`[B, T]`) in one reverse pass per row, rows in parallel under `exec::par` (bitwise equal to
/// `exec::seq`); under masking::zero, blocks of 8 rows are scanned together with a stack scratch
/// of about 36 KiB. Whitening adds two passes over the advantages; its moments go through `reducer`.
/// Masked positions are written too (see the masking modes).
/// Errors: shape_error.103 (an input or output shaped unlike `rewards`), domain_error.202 (γ or
/// λ outside [0, 1]), domain_error.220 (whitening with too few valid tokens).
template <exec::execution_policy Exec, matrix_like Rw, matrix_like V, matrix_like M,
          class T = alignkit::detail::compute_t<Rw>, reducer Red = local_reducer>
result compute(const Exec& policy, const Rw& rewards, const V& values, const M& mask, const options& opts = {},
               const outputs<T, 2>& out = {}, Red&& reducer = {}) {
  const auto rv = view_of(rewards);
  return alignkit::detail::gae_run(policy, alignkit::detail::make_padded_layout(rv), rv, view_of(values), view_of(mask),
                                   out.advantages, out.returns, opts, reducer, "gae::compute");
}

/// GAE on packed tokens, `gae::compute(exec, packed{offsets}, rewards, values, mask, …)`:
/// `rewards`, `values`, `mask` and the outputs are `[N]`, sequence b owns tokens
/// [offsets[b], offsets[b+1]). Gives exactly (bitwise) the padded result on the valid tokens of
/// the same sequences.
/// Errors: shape_error.104 and domain_error.204 (offsets that do not cut the N rewards),
/// shape_error.101 (another argument not N long), domain_error.202, domain_error.220 as above.
template <exec::execution_policy Exec, class Offsets, vector_like Rw, vector_like V, vector_like M,
          class T = alignkit::detail::compute_t<Rw>, reducer Red = local_reducer>
result compute(const Exec& policy, const packed<Offsets>& layout, const Rw& rewards, const V& values, const M& mask,
               const options& opts = {}, const outputs<T, 1>& out = {}, Red&& reducer = {}) {
  constexpr const char* fn = "gae::compute";
  const auto rv = view_of(rewards);
  return alignkit::detail::gae_run(policy, alignkit::detail::make_packed_layout(fn, layout, rv), rv, view_of(values),
                                   view_of(mask), out.advantages, out.returns, opts, reducer, fn);
}

/// Sequential overloads.
template <alignkit::detail::data_argument Rw, matrix_like V, matrix_like M, class T = alignkit::detail::compute_t<Rw>,
          reducer Red = local_reducer>
result compute(const Rw& rewards, const V& values, const M& mask, const options& opts = {},
               const outputs<T, 2>& out = {}, Red&& reducer = {}) {
  return compute(exec::seq, rewards, values, mask, opts, out, reducer);
}
template <class Offsets, vector_like Rw, vector_like V, vector_like M, class T = alignkit::detail::compute_t<Rw>,
          reducer Red = local_reducer>
result compute(const packed<Offsets>& layout, const Rw& rewards, const V& values, const M& mask,
               const options& opts = {}, const outputs<T, 1>& out = {}, Red&& reducer = {}) {
  return compute(exec::seq, layout, rewards, values, mask, opts, out, reducer);
}

/// Result plus owned `[B, T]` outputs (row-major), for callers that do not bring buffers.
template <class T>
struct evaluation {
  result metrics;
  std::vector<T> advantages, returns;
};

/// Allocating convenience form on a padded batch.
template <matrix_like Rw, matrix_like V, matrix_like M, class T = alignkit::detail::compute_t<Rw>>
evaluation<T> evaluate(const Rw& rewards, const V& values, const M& mask, const options& opts = {}) {
  const auto rv = view_of(rewards);
  const index_t b = rv.extent(0), t = rv.extent(1);
  evaluation<T> e{{}, std::vector<T>(static_cast<std::size_t>(b * t)), std::vector<T>(static_cast<std::size_t>(b * t))};
  e.metrics = compute(rewards, values, mask, opts,
                      outputs<T, 2>{matrix_view<T>(e.advantages.data(), {b, t}), matrix_view<T>(e.returns.data(), {b, t})});
  return e;
}

}  // namespace gae

ALIGNKIT_END_NAMESPACE
