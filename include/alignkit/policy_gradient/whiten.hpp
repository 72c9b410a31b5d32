/// @file whiten.hpp
/// @brief Masked whitening of token values over the whole batch, in the two conventions RLHF
/// engines use, with the moments made global through a `reducer`.
///
/// With values x, mask m and S = Σm (over every shard):
///   verl      μ = Σx·m / (S + 1e-8),  v = Σ(x−μ)²·m / (S + 1e-8) · S/(S−1)   (unbiased),
///             out = (x − μ) / sqrt(v + 1e-8)
///   openrlhf  μ = Σx·m / S,           v = Σ(x−μ)²·m / S                      (biased),
///             out = (x − μ) / sqrt(max(v, 1e-8))
/// applied at every position, masked ones included (`zero_masked` sets them to 0 afterwards);
/// `divide_by_std = false` keeps the scale 1 (OpenRLHF `no_std_norm`). The moments take two
/// passes (mean, then centered squares) so that they are exact for any offset of x.
/// Parity: verl `verl.utils.torch_functional.masked_whiten`; OpenRLHF advantage normalisation in
/// `compute_advantages_and_returns` (golden ops `gae`, `gae_openrlhf`).
/// Paper: advantage normalisation as in Schulman et al. 2017 (arXiv:1707.06347) implementations.
#pragma once

#include <array>
#include <cmath>
#include <span>
#include <string_view>

#include "../core/check.hpp"
#include "../core/error.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/reducer.hpp"
#include "../core/sequences.hpp"
#include "../core/tensor.hpp"
#include "detail/rows.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace whitening {

/// Which engine's whitening formula to reproduce.
enum class convention {
  verl,     ///< mean with +1e-8, unbiased variance, 1/sqrt(v + 1e-8); needs S ≥ 2
  openrlhf  ///< plain mean, biased variance, 1/sqrt(max(v, 1e-8)); needs S ≥ 1
};

/// Whitening options.
struct options {
  convention style = convention::verl;
  bool divide_by_std = true;  ///< false: only subtract the mean (OpenRLHF `no_std_norm`)
  bool zero_masked = false;   ///< set masked positions to 0 after whitening (REINFORCE++)
};

/// The global moments used: out = (x − mean) · scale.
struct moments {
  double mean = 0;
  double variance = 0;      ///< the convention's variance (unbiased for verl)
  double scale = 1;         ///< 1/sqrt(v + 1e-8), 1/sqrt(max(v, 1e-8)) or 1
  double valid_tokens = 0;  ///< S over every shard
};

}  // namespace whitening

namespace detail {

/// Local Σm and Σx·m of one row (m nonzero = valid).
template <class X, class M>
sums<2> masked_row_sums(const X& x, const M& m) {
  sums<2> s;
  for (index_t t = 0; t < x.extent(0); ++t)
    if (mask_valid(m(t))) {
      s.value[0] += 1;
      s.value[1] += static_cast<double>(x(t));
    }
  return s;
}

/// Completes the moments from the local first-pass sums {Σm, Σx·m}: reduces them, takes the
/// centered second pass over the rows, reduces it. [domain_error.220] if S is below 2 (verl) or
/// 1 (openrlhf).
template <class Exec, class XRows, class MRows, class Reducer>
whitening::moments finish_moments(const Exec& policy, const XRows& xr, const MRows& mr, sums<2> first,
                                  const whitening::options& opts, Reducer& reducer, std::string_view fn) {
  const bool verl = opts.style == whitening::convention::verl;
  reducer.all_reduce_sum(std::span<double>(first.value));
  const double s = first[0];
  const double need = verl ? 2 : 1;
  if (s < need)
    raise<domain_error>(220, fn, ": whitening needs at least ", static_cast<index_t>(need),
                        " valid tokens in the batch, the mask has ", static_cast<index_t>(s));
  whitening::moments mom;
  mom.valid_tokens = s;
  const double denom = verl ? s + 1e-8 : s;
  mom.mean = first[1] / denom;
  std::array<double, 1> css{
      for_rows<1>(policy, xr.count(), [&](index_t b) {
        const auto x = xr(b);
        const auto m = mr(b);
        sums<1> r;
        for (index_t t = 0; t < x.extent(0); ++t)
          if (mask_valid(m(t))) {
            const double d = static_cast<double>(x(t)) - mom.mean;
            r.value[0] += d * d;
          }
        return r;
      })[0]};
  reducer.all_reduce_sum(std::span<double>(css));
  mom.variance = verl ? css[0] / denom * (s / (s - 1)) : css[0] / denom;
  if (opts.divide_by_std) mom.scale = 1 / std::sqrt(verl ? mom.variance + 1e-8 : std::max(mom.variance, 1e-8));
  return mom;
}

/// Writes out = (x − mean)·scale row by row (0 at masked positions under zero_masked); out may
/// alias x.
template <class Exec, class XRows, class MRows, class ORows>
void apply_whitening(const Exec& policy, const XRows& xr, const MRows& mr, const ORows& outr,
                     const whitening::moments& mom, bool zero_masked) {
  for_rows<0>(policy, xr.count(), [&](index_t b) {
    const auto x = xr(b);
    const auto m = mr(b);
    const auto o = outr(b);
    using E = typename decltype(o)::element_type;
    for (index_t t = 0; t < x.extent(0); ++t) {
      const double w = (static_cast<double>(x(t)) - mom.mean) * mom.scale;
      o(t) = static_cast<E>(zero_masked && !mask_valid(m(t)) ? 0.0 : w);
    }
    return sums<0>{};
  });
}

/// Both passes of the moments, then the output pass.
template <class Exec, class XRows, class MRows, class ORows, class Reducer>
whitening::moments whiten_rows(const Exec& policy, const XRows& xr, const MRows& mr, const ORows& outr,
                               const whitening::options& opts, Reducer& reducer, std::string_view fn) {
  const auto first =
      for_rows<2>(policy, xr.count(), [&](index_t b) { return masked_row_sums(xr(b), mr(b)); });
  const auto mom = finish_moments(policy, xr, mr, first, opts, reducer, fn);
  apply_whitening(policy, xr, mr, outr, mom, opts.zero_masked);
  return mom;
}

}  // namespace detail

namespace whitening {

/// Whitens x over the valid positions of `mask` into `out` (which may be x itself): padded
/// `[B, T]` matrices or rank-1 vectors (packed tokens). Moments are summed through `reducer`, so
/// data-parallel shards whiten with the global moments. Three passes over x; no allocation
/// beyond one partial sum per row under a parallel policy.
/// Errors: shape_error.101 / 103 (mask or out shaped unlike x), domain_error.220 (fewer than 2
/// valid tokens for verl, none for openrlhf).
template <exec::execution_policy Exec, tensor_like X, tensor_like M, class Out, reducer R = local_reducer>
moments whiten(const Exec& policy, const X& x, const M& mask, Out&& out, const options& opts = {},
               R&& reducer = {}) {
  constexpr const char* fn = "whitening::whiten";
  const auto xv = view_of(x);
  const auto mv = view_of(mask);
  const auto ov = view_of(out);
  alignkit::detail::check_same_shape(fn, "mask", mv, "x", xv);
  alignkit::detail::check_same_shape(fn, "out", ov, "x", xv);
  auto rows = [&](const auto& v) {
    if constexpr (std::remove_cvref_t<decltype(v)>::rank() == 2)
      return alignkit::detail::bind_rows(alignkit::detail::make_padded_layout(xv), v);
    else
      return alignkit::detail::split_rows<std::remove_cvref_t<decltype(v)>>{v, policy.chunk};
  };
  return alignkit::detail::whiten_rows(policy, rows(xv), rows(mv), rows(ov), opts, reducer, fn);
}

/// Sequential overload.
template <tensor_like X, tensor_like M, class Out, reducer R = local_reducer>
moments whiten(const X& x, const M& mask, Out&& out, const options& opts = {}, R&& reducer = {}) {
  return whiten(exec::seq, x, mask, out, opts, reducer);
}

}  // namespace whitening

ALIGNKIT_END_NAMESPACE
