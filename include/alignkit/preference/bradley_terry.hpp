/// @file bradley_terry.hpp
/// @brief Bradley–Terry pairwise reward-model loss, fused forward and backward.
///
/// For reward pairs (r_c, r_r) with optional margin m (Llama-2 style) and denominator D (the
/// number of pairs, or the global pair count of the optimizer step):
///   z_i = r_c,i − r_r,i − m_i,   ℓ_i = −log σ(z_i) = softplus(−z_i)
///   loss = Σ_i ℓ_i / D  +  c·Σ_i (r_c,i + r_r,i)² / D          (c: center-rewards coefficient)
///   ∂loss/∂r_c,i = (−σ(−z_i) + 2c(r_c,i + r_r,i)) / D,   ∂loss/∂r_r,i = (σ(−z_i) + 2c(r_c,i + r_r,i)) / D
///   accuracy = mean 1[r_c > r_r] (strict, margin not used),  margin = mean (r_c − r_r)
/// Paper: Bradley & Terry 1952; reward models as in Ouyang et al. 2022 (arXiv:2203.02155),
/// centering as in Eisenstein et al. 2023 (arXiv:2312.09244).
/// Parity: OpenRLHF `PairWiseLoss.forward` (op `bt_loss`); the center term as TRL
/// `RewardTrainer` (`center_rewards_coefficient`).
#pragma once

#include <array>
#include <optional>
#include <tuple>
#include <type_traits>
#include <vector>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace bradley_terry {

/// Hyperparameters; the defaults are OpenRLHF's and TRL's.
struct options {
  double center_rewards_coefficient = 0.0;  ///< c ≥ 0 (TRL default: none)
  std::optional<double> total_pairs;        ///< D; default: the number of pairs of this call
  bool check_finite = false;                ///< raise domain_error.201 on a non-finite input
};

/// What a trainer logs.
struct result {
  double loss = 0;      ///< Σ ℓ / D + center term
  double accuracy = 0;  ///< mean 1[r_c > r_r]
  double margin = 0;    ///< mean (r_c − r_r)
  index_t pairs = 0;    ///< N
};

/// Optional outputs (a default-constructed view is not written).
template <class T>
struct outputs {
  vector_view<T> losses;         ///< ℓ_i
  vector_view<T> grad_chosen;    ///< ∂loss/∂r_c
  vector_view<T> grad_rejected;  ///< ∂loss/∂r_r
};

namespace detail {

inline constexpr const char* fn = "bradley_terry::loss";

template <class T, class Exec, class C, class R, class M>
result run(const Exec& policy, const C& c, const R& r, const M* margin, const options& opts,
           const outputs<T>& out) {
  using namespace alignkit::detail;
  require_rank<1, C>();
  require_rank<1, R>();
  const index_t n = c.extent(0);
  check_same_size(fn, "r_rejected", r.extent(0), "r_chosen", n);
  check_not_empty(fn, "r_chosen", n);
  if (margin) check_same_size(fn, "margin", margin->extent(0), "r_chosen", n);
  if (out.losses.data_handle()) check_same_size(fn, "losses", out.losses.extent(0), "r_chosen", n);
  if (out.grad_chosen.data_handle()) check_same_size(fn, "grad_chosen", out.grad_chosen.extent(0), "r_chosen", n);
  if (out.grad_rejected.data_handle())
    check_same_size(fn, "grad_rejected", out.grad_rejected.extent(0), "r_chosen", n);
  check_range(fn, "center_rewards_coefficient", opts.center_rewards_coefficient, 0.0, HUGE_VAL);
  const double denom = opts.total_pairs.value_or(static_cast<double>(n));
  check_range(fn, "total_pairs", denom, 0.0, HUGE_VAL, true);
  if (opts.check_finite) {
    check_finite(fn, "r_chosen", c);
    check_finite(fn, "r_rejected", r);
    if (margin) check_finite(fn, "margin", *margin);
  }

  const T inv_d = static_cast<T>(1.0 / denom);
  const T two_c_over_d = static_cast<T>(2.0 * opts.center_rewards_coefficient / denom);
  // The inputs (the margin reader: the margin, or zeros) and the requested outputs.
  auto io = [&](const auto& rm) {
    return std::tuple{make_reader<T>(c),         make_reader<T>(r),              rm,
                      make_writer<T>(out.losses), make_writer<T>(out.grad_chosen), make_writer<T>(out.grad_rejected)};
  };

  // Center stands for c > 0: without it the Σ(r_c + r_r)² sum and the center gradient are skipped.
  auto pass = [&](auto center) {
    constexpr std::size_t K = decltype(center)::value ? 4 : 3;
    auto body = [&](index_t i, auto tag, const auto& rc, const auto& rr, const auto& rm, const auto& w_loss,
                    const auto& w_gc, const auto& w_gr) {
      using V = typename decltype(tag)::type;
      const V xc = rc.template load<V>(i), xr = rr.template load<V>(i);
      const V diff = xc - xr;
      const auto [loss, s] = softplus_and_sigmoid(-(diff - rm.template load<V>(i)));  // s = σ(−z)
      const V g = s * inv_d;
      w_loss.store(i, loss);
      if constexpr (decltype(center)::value) {
        const V sum = xc + xr;
        const V c_grad = two_c_over_d * sum;
        w_gc.store(i, c_grad - g);
        w_gr.store(i, c_grad + g);
        return std::array<V, K>{loss, indicator_<V>(xc > xr), diff, sum * sum};
      } else {
        w_gc.store(i, -g);
        w_gr.store(i, g);
        return std::array<V, K>{loss, indicator_<V>(xc > xr), diff};
      }
    };
    const auto s = margin ? map_reduce<T, K>(policy, n, io(make_reader<T>(*margin)), body)
                          : map_reduce<T, K>(policy, n, io(constant_reader<T>{T(0)}), body);
    sums<4> out_sums;
    for (std::size_t k = 0; k < K; ++k) out_sums.value[k] = s[k];
    return out_sums;
  };
  const auto sums = opts.center_rewards_coefficient > 0 ? pass(std::true_type{}) : pass(std::false_type{});
  const auto nd = static_cast<double>(n);
  return {sums[0] / denom + opts.center_rewards_coefficient * sums[3] / denom, sums[1] / nd, sums[2] / nd, n};
}

}  // namespace detail

/// Fused Bradley–Terry loss over N pairs: writes the requested `out` views in one pass and
/// returns the loss and metrics. Errors: shape_error.101 (lengths differ), shape_error.102
/// (N = 0), domain_error.201 (non-finite input under check_finite), domain_error.202 (c < 0 or
/// total_pairs ≤ 0).
template <exec::execution_policy Exec, class C, class R, class T = alignkit::detail::compute_t<C>>
result loss(const Exec& policy, const C& r_chosen, const R& r_rejected, const options& opts = {},
            const outputs<T>& out = {}) {
  const auto c = view_of(r_chosen);
  const auto r = view_of(r_rejected);
  return detail::run<T>(policy, c, r, static_cast<const decltype(c)*>(nullptr), opts, out);
}

/// As above with a per-pair margin m: z = r_c − r_r − m.
template <exec::execution_policy Exec, class C, class R, tensor_like M, class T = alignkit::detail::compute_t<C>>
result loss(const Exec& policy, const C& r_chosen, const R& r_rejected, const M& margin,
            const options& opts = {}, const outputs<T>& out = {}) {
  const auto m = view_of(margin);
  return detail::run<T>(policy, view_of(r_chosen), view_of(r_rejected), &m, opts, out);
}

/// Sequential overloads.
template <alignkit::detail::data_argument C, class R, class T = alignkit::detail::compute_t<C>>
result loss(const C& r_chosen, const R& r_rejected, const options& opts = {}, const outputs<T>& out = {}) {
  return loss(exec::seq, r_chosen, r_rejected, opts, out);
}
template <alignkit::detail::data_argument C, class R, tensor_like M, class T = alignkit::detail::compute_t<C>>
result loss(const C& r_chosen, const R& r_rejected, const M& margin, const options& opts = {},
            const outputs<T>& out = {}) {
  return loss(exec::seq, r_chosen, r_rejected, margin, opts, out);
}

/// Result plus owned per-pair outputs, for callers that do not bring buffers.
template <class T>
struct evaluation {
  result metrics;
  std::vector<T> losses, grad_chosen, grad_rejected;
};

/// Allocating convenience form: computes every output into new vectors.
template <alignkit::detail::data_argument C, class R, class T = alignkit::detail::compute_t<C>>
evaluation<T> evaluate(const C& r_chosen, const R& r_rejected, const options& opts = {}) {
  const auto n = static_cast<std::size_t>(view_of(r_chosen).extent(0));
  evaluation<T> e{{}, std::vector<T>(n), std::vector<T>(n), std::vector<T>(n)};
  e.metrics = loss(r_chosen, r_rejected, opts, outputs<T>{view_of(e.losses), view_of(e.grad_chosen), view_of(e.grad_rejected)});
  return e;
}

}  // namespace bradley_terry

ALIGNKIT_END_NAMESPACE
