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
#include "../core/elementwise.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
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
  /// Asks for elements [t0, t1) in the L2 cache: the scan walks back through memory a tile at a
  /// time, which hardware prefetchers do not follow.
  void prefetch(index_t t0, index_t t1) const noexcept {
#if defined(__GNUC__) || defined(__clang__)
    constexpr index_t line = 64 / static_cast<index_t>(sizeof(E));
    if (p)
      for (index_t t = t0; t < t1; t += line) __builtin_prefetch(p + t, 0, 1);
#endif
  }
};

/// Lane i's source: lane i + K (K steps later in time), the last lane where there is none.
template <unsigned K>
struct later_lane {
  static constexpr unsigned get(unsigned i, unsigned n) { return i + K < n ? i + K : n - 1; }
};

/// Every lane's source: lane 0.
struct first_lane {
  static constexpr unsigned get(unsigned, unsigned) { return 0; }
};

/// Suffix scan of a batch along time, x_i ← Σ_{j ≥ i} c^{j−i} x_j over the batch's lanes, in
/// log2 W steps: x_i ← x_i + c^K·x_{i+K} for K = 1, 2, 4, … (`pw[K]` = c^K; `lane` holds i);
/// lanes without a partner i + K are left unchanged.
template <unsigned K, class B>
B suffix_scan(B x, const typename B::value_type* pw, const B& lane) {
  if constexpr (K >= B::size) {
    return x;
  } else {
    using U = typename xsimd::as_unsigned_integer<B>::type;
    const auto has_partner = lane < B(static_cast<typename B::value_type>(B::size - K));
    const B later = xsimd::swizzle(x, xsimd::make_batch_constant<U, later_lane<K>>());
    return suffix_scan<2 * K>(xsimd::select(has_partner, fma_(B(pw[K]), later, x), x), pw, lane);
  }
}

/// Time steps per tile of the masking::zero scan (a multiple of every batch width).
inline constexpr index_t gae_tile = 256;

/// The OpenRLHF convention on one row of length `len`, computed in T (float or double: the rewards'
/// and values' type, as the reference computes in its tensors' dtype); returns {Σm, ΣA·m}. The row
/// is cut into tiles of `gae_tile` steps from t = 0, scanned last tile first. Per tile, along time
/// in plain (vectorizing) loops: V' = m·V and δ_t = (m·r_t + γ·V'_{t+1}) − V'_t, equal to the
/// reference's δ on finite inputs (a masked NaN or inf reads as 0 here). Then the scan in SIMD
/// batches of W steps, last batch first: the in-batch suffix scan of δ with c = γλ (`suffix_scan`),
/// and the carry g of the later steps enters as A_i = x_i + c^{W−i}·g, the new carry A_0 = x_0 +
/// c^W·g: only that one fma per batch is sequential. Then A and R = A + V' written along time. ΣA·m
/// in W lanes (t mod W) of T per tile, then in double, added pairwise at the end. Tiles and batches
/// start at multiples of their size from the row's first step, so a row gives the same values and
/// sums whether padded or packed. The rounding differs from the step-by-step recursion by a few
/// ulps (of T) of Σ_k c^k·|δ_{t+k}| and depends on W (the build's batch width). Stack scratch:
/// 2·gae_tile + W values of T and gae_tile bytes.
template <class T, class Row>
sums<2> gae_row_zero(const Row& row, index_t len, double gamma, double gl, bool write_a, bool write_r) {
  using B = xsimd::batch<T>;
  using D = xsimd::batch<double>;
  using U = typename xsimd::as_unsigned_integer<B>::type;
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr index_t W = static_cast<index_t>(B::size);
  static_assert(gae_tile % W == 0 && sizeof(T) == sizeof(Bits));
  const auto& [r, v, m, a, ret] = row;
  T pw[W + 1];  // c^k, each rounded once from double
  alignas(64) T lanes[W], tail[W];  // i, c^{W−i}
  double c_k = 1.0;
  for (index_t k = 0; k <= W; ++k, c_k *= gl) pw[k] = static_cast<T>(c_k);
  for (index_t i = 0; i < W; ++i) {
    lanes[i] = static_cast<T>(i);
    tail[i] = pw[W - i];
  }
  const B lane = B::load_aligned(lanes), to_carry = B::load_aligned(tail);
  const T gm = static_cast<T>(gamma);
  // x where ok, else +0: a bitwise select, so that the loops along time vectorize.
  const auto keep = [](bool ok, T x) { return std::bit_cast<T>(std::bit_cast<Bits>(x) & (Bits{0} - ok)); };
  alignas(64) T vz[gae_tile + W], d[gae_tile];
  alignas(64) std::uint8_t valid[gae_tile];
  B g(T(0));
  std::array<D, W / D::size> am;
  am.fill(D(0.0));
  index_t count = 0;
  for (index_t t0 = len == 0 ? 0 : (len - 1) / gae_tile * gae_tile, t1 = len; t1 > 0; t1 = t0, t0 -= gae_tile) {
    const index_t w = t1 - t0, padded = (w + W - 1) / W * W;
    if constexpr (requires(const Row& x) { x.r.prefetch(0, 0); }) {
      const index_t next = std::max<index_t>(0, t0 - gae_tile);
      r.prefetch(next, t0);
      v.prefetch(next, t0);
      m.prefetch(next, t0);
      if (write_a) a.prefetch(next, t0);
      if (write_r) ret.prefetch(next, t0);
    }
    vz[w] = t1 < len && mask_valid(m(t1)) ? static_cast<T>(v(t1)) : T(0);
    for (index_t t = 0; t < w; ++t) {
      const bool ok = mask_valid(m(t0 + t));
      valid[t] = ok;
      count += ok;
      vz[t] = keep(ok, static_cast<T>(v(t0 + t)));
    }
    for (index_t t = 0; t < w; ++t) d[t] = (keep(valid[t], static_cast<T>(r(t0 + t))) + gm * vz[t + 1]) - vz[t];
    for (index_t t = w; t < padded; ++t) d[t] = valid[t] = 0;  // the row's last, partial batch
    B am_tile(T(0));
    for (index_t t = padded - W; t >= 0; t -= W) {
      const B x = suffix_scan<1>(B::load_aligned(d + t), pw, lane);
      const B adv = fma_(to_carry, g, x);
      g = fma_(B(pw[W]), g, xsimd::swizzle(x, xsimd::make_batch_constant<U, first_lane>()));
      adv.store_aligned(d + t);
      am_tile += xsimd::select(load_widened_bytes<B>(valid + t) != B(T(0)), adv, B(T(0)));
    }
    add_widened(am_tile, am);
    using EA = std::remove_cvref_t<decltype(a(0))>;
    using ER = std::remove_cvref_t<decltype(ret(0))>;
    if (write_a)
      for (index_t t = 0; t < w; ++t) a(t0 + t) = static_cast<EA>(d[t]);
    if (write_r)
      for (index_t t = 0; t < w; ++t) ret(t0 + t) = static_cast<ER>(d[t] + vz[t]);
  }
  alignas(64) double sum[W];
  for (std::size_t h = 0; h < am.size(); ++h) am[h].store_aligned(sum + h * D::size);
  for (index_t h = W / 2; h > 0; h /= 2)  // pairwise: lane i + lane i + h
    for (index_t i = 0; i < h; ++i) sum[i] += sum[i + h];
  return {{static_cast<double>(count), sum[0]}};
}

/// The rows of one sequence: rewards, values, mask, advantages, returns.
template <class R, class V, class M, class A, class G>
struct gae_rows {
  R r;
  V v;
  M m;
  A a;
  G ret;
};

/// Scans row b of the bound row sets with gae_row_zero, on raw pointers when every row is
/// contiguous with plain storage (so that a batch is one vector load), else through the views.
template <class RR, class VR, class MR, class AR, class GR>
sums<2> gae_zero_row(const RR& rr, const VR& vr, const MR& mr, const AR& ar, const GR& gr, index_t b, index_t len,
                     double gamma, double gl) {
  const auto r = rr(b);
  const auto v = vr(b);
  const auto m = mr(b);
  const auto a = ar(b);
  const auto ret = gr(b);
  // The compute type: float, or double when the rewards or values are double (integers: float).
  using T = std::common_type_t<float, typename decltype(r)::value_type, typename decltype(v)::value_type>;
  const bool write_a = a.data_handle() != nullptr, write_r = ret.data_handle() != nullptr;
  const bool contiguous = r.stride(0) == 1 && v.stride(0) == 1 && m.stride(0) == 1 &&
                          (!write_a || a.stride(0) == 1) && (!write_r || ret.stride(0) == 1);
  constexpr auto plain = []<class X>(const X&) {
    return std::is_same_v<typename X::accessor_type, default_accessor<typename X::element_type>>;
  };
  if constexpr (plain(r) && plain(v) && plain(m)) {
    if (contiguous) {
      const gae_rows<contiguous_row<typename decltype(r)::element_type>,
                     contiguous_row<typename decltype(v)::element_type>,
                     contiguous_row<typename decltype(m)::element_type>,
                     contiguous_row<typename decltype(a)::element_type>,
                     contiguous_row<typename decltype(ret)::element_type>>
          row{{r.data_handle()}, {v.data_handle()}, {m.data_handle()}, {a.data_handle()}, {ret.data_handle()}};
      return gae_row_zero<T>(row, len, gamma, gl, write_a, write_r);
    }
  }
  const gae_rows<decltype(r), decltype(v), decltype(m), decltype(a), decltype(ret)> row{r, v, m, a, ret};
  return gae_row_zero<T>(row, len, gamma, gl, write_a, write_r);
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
  } else {
    first = for_rows<2>(policy, rows.rows(), [&](index_t b) {
      return gae_zero_row(rr, vr, mr, ar, gr, b, rows.length(b), opts.gamma, gl);
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
/// `exec::seq`); under masking::zero, each row's scan runs along time in SIMD batches (no scratch).
/// Whitening adds two passes over the advantages; its moments go through `reducer`.
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
