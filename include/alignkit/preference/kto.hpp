/// @file kto.hpp
/// @brief Kahneman–Tversky Optimization on unpaired desirable / undesirable examples, fused
/// forward and backward, with the reference point taken from a KL set or given.
///
/// Inputs: policy and reference log-probs of Nc desirable (chosen) and Nr undesirable
/// (rejected) completions, and of Nk mismatched completions (the KL set). With c = πc − ρc,
/// r = πr − ρr and D = Nc + Nr (or the step's global example count):
///   z = max(0, Σ_KL (πk − ρk) / Nk), detached; sums and Nk are summed over data-parallel shards
///       through the reducer (0 when calculate_kl is false; or given by the caller)
///   kto                chosen w_d·(1 − σ(β(c − z))),   rejected w_u·(1 − σ(β(z − r)))
///   apo_zero_unpaired  chosen w_d·(1 − σ(β·c)),        rejected w_u·σ(β·r)       (APO arXiv:2408.06266)
///   loss = Σ ℓ / D;  rewards β·c, β·r (means logged), margin = their difference
/// 1 − σ(x) is computed as σ(−x). No gradient flows into the KL set.
/// Paper: Ethayarajh et al. 2024, arXiv:2402.01306. Parity: TRL `KTOTrainer.kto_loss`
/// (huggingface/trl@b84b487, op `kto`); TRL averages per-shard KL means, this averages over
/// all KL samples of all shards (the same when shards are equal in size).
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/reducer.hpp"
#include "../core/tensor.hpp"
#include "detail/logistic.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace kto {

/// The loss types of TRL's KTOTrainer.
enum class loss_type { kto, apo_zero_unpaired };

/// Hyperparameters; the defaults are TRL's `KTOConfig`.
struct options {
  double beta = 0.1;                   ///< β > 0
  double desirable_weight = 1.0;       ///< w_d ≥ 0
  double undesirable_weight = 1.0;     ///< w_u ≥ 0
  loss_type loss = loss_type::kto;
  bool calculate_kl = true;            ///< false: z = 0 and the KL set is not read
  std::optional<double> total_examples;  ///< D; default Nc + Nr of this call
  bool check_finite = false;           ///< raise domain_error.201 on a non-finite input
};

/// What a trainer logs.
struct result {
  double loss = 0;             ///< Σ ℓ / D
  double chosen_reward = 0;    ///< mean β·c (0 when Nc = 0)
  double rejected_reward = 0;  ///< mean β·r (0 when Nr = 0)
  double margin = 0;           ///< chosen_reward − rejected_reward
  double kl = 0;               ///< the reference point z
  index_t chosen = 0;          ///< Nc
  index_t rejected = 0;        ///< Nr
};

/// Optional outputs (a default-constructed view is not written). The gradient with respect to
/// the KL set is zero and is not an output.
template <class T>
struct outputs {
  vector_view<T> chosen_losses;         ///< ℓ of the chosen examples [Nc]
  vector_view<T> rejected_losses;       ///< ℓ of the rejected examples [Nr]
  vector_view<T> grad_policy_chosen;    ///< ∂loss/∂πc
  vector_view<T> grad_policy_rejected;  ///< ∂loss/∂πr
  vector_view<T> grad_ref_chosen;       ///< ∂loss/∂ρc = −∂loss/∂πc
  vector_view<T> grad_ref_rejected;     ///< ∂loss/∂ρr
  vector_view<T> chosen_rewards;        ///< β·c
  vector_view<T> rejected_rewards;      ///< β·r
};

namespace detail {

inline constexpr const char* fn = "kto::loss";

/// One side (chosen or rejected): ℓ = w·σ(sign·β(x − shift)) with x = π − ρ; returns the sums of
/// ℓ and of β·x.
template <class T, class Exec, class P, class R>
alignkit::detail::sums<2> side(const Exec& policy, const P& pol, const R& ref, T beta, T sign, T shift, T weight,
                               T inv_d, const vector_view<T>& losses, const vector_view<T>& grad_policy,
                               const vector_view<T>& grad_ref, const vector_view<T>& rewards) {
  using namespace alignkit::detail;
  const std::tuple io{make_reader<T>(pol),         make_reader<T>(ref),      make_writer<T>(losses),
                      make_writer<T>(grad_policy), make_writer<T>(grad_ref), make_writer<T>(rewards)};
  return map_reduce<T, 2>(policy, pol.extent(0), io, [&](index_t i, auto tag, const auto& rp, const auto& rr,
                                                         const auto& w_loss, const auto& w_gp, const auto& w_gr,
                                                         const auto& w_rw) {
    using V = typename decltype(tag)::type;
    const V x = rp.template load<V>(i) - rr.template load<V>(i);
    const V u = V(sign * beta) * (x - V(shift));
    const auto l = logistic(u);  // σ(u) and σ(−u) from one exp and one division
    const V loss = V(weight) * l.sigmoid_pos;
    const V g = V(weight * sign * beta * inv_d) * l.sigmoid_pos * l.sigmoid_neg;  // d(w·σ(u))/dx / D
    w_loss.store(i, loss);
    w_gp.store(i, g);
    w_gr.store(i, -g);
    const V reward = V(beta) * x;
    w_rw.store(i, reward);
    return std::array<V, 2>{loss, reward};
  });
}

template <class T, class Exec, class PC, class PR, class RC, class RR>
result run(const Exec& policy, const PC& pc, const PR& pr, const RC& rc, const RR& rr, double z, const options& o,
           const outputs<T>& out) {
  using namespace alignkit::detail;
  const index_t nc = pc.extent(0), nr = pr.extent(0);
  const std::array<std::pair<const char*, const vector_view<T>*>, 4> chosen_views{
      {{"chosen_losses", &out.chosen_losses}, {"grad_policy_chosen", &out.grad_policy_chosen},
       {"grad_ref_chosen", &out.grad_ref_chosen}, {"chosen_rewards", &out.chosen_rewards}}};
  const std::array<std::pair<const char*, const vector_view<T>*>, 4> rejected_views{
      {{"rejected_losses", &out.rejected_losses}, {"grad_policy_rejected", &out.grad_policy_rejected},
       {"grad_ref_rejected", &out.grad_ref_rejected}, {"rejected_rewards", &out.rejected_rewards}}};
  for (const auto& [label, v] : chosen_views)
    if (v->data_handle()) check_same_size(fn, label, v->extent(0), "policy_chosen", nc);
  for (const auto& [label, v] : rejected_views)
    if (v->data_handle()) check_same_size(fn, label, v->extent(0), "policy_rejected", nr);
  const double denom = o.total_examples.value_or(static_cast<double>(nc + nr));
  if (o.total_examples) check_range(fn, "total_examples", denom, 0.0, HUGE_VAL, true);
  if (o.check_finite) {
    check_finite(fn, "policy_chosen", pc);
    check_finite(fn, "policy_rejected", pr);
    check_finite(fn, "ref_chosen", rc);
    check_finite(fn, "ref_rejected", rr);
  }
  const T beta = static_cast<T>(o.beta), inv_d = static_cast<T>(1.0 / denom);
  const bool unpaired_apo = o.loss == loss_type::apo_zero_unpaired;
  const T shift = unpaired_apo ? T(0) : static_cast<T>(z);
  // kto: chosen σ(−β(c − z)), rejected σ(β(r − z)); apo_zero_unpaired: σ(−β·c), σ(β·r).
  const auto c = side<T>(policy, pc, rc, beta, T(-1), shift, static_cast<T>(o.desirable_weight), inv_d,
                         out.chosen_losses, out.grad_policy_chosen, out.grad_ref_chosen, out.chosen_rewards);
  const auto r = side<T>(policy, pr, rr, beta, T(1), shift, static_cast<T>(o.undesirable_weight), inv_d,
                         out.rejected_losses, out.grad_policy_rejected, out.grad_ref_rejected, out.rejected_rewards);
  const double chosen = nc ? c[1] / static_cast<double>(nc) : 0.0;
  const double rejected = nr ? r[1] / static_cast<double>(nr) : 0.0;
  return {(c[0] + r[0]) / denom, chosen, rejected, chosen - rejected, z, nc, nr};
}

template <class PC, class PR, class RC, class RR>
void check_inputs(const PC& pc, const PR& pr, const RC& rc, const RR& rr, const options& o) {
  using namespace alignkit::detail;
  require_rank<1, PC>();
  require_rank<1, PR>();
  require_rank<1, RC>();
  require_rank<1, RR>();
  check_same_size(fn, "ref_chosen", rc.extent(0), "policy_chosen", pc.extent(0));
  check_same_size(fn, "ref_rejected", rr.extent(0), "policy_rejected", pr.extent(0));
  check_not_empty(fn, "policy_chosen + policy_rejected", pc.extent(0) + pr.extent(0));
  check_range(fn, "beta", o.beta, 0.0, HUGE_VAL, true);
  check_range(fn, "desirable_weight", o.desirable_weight, 0.0, HUGE_VAL);
  check_range(fn, "undesirable_weight", o.undesirable_weight, 0.0, HUGE_VAL);
}

}  // namespace detail

/// The reference point z = max(0, mean(policy_KL − ref_KL)) over every shard: the local sum and
/// count go through `red.all_reduce_sum`. Errors: shape_error.101 (lengths differ),
/// shape_error.111 (the KL set is empty on every shard), domain_error.201 (non-finite input
/// under `check_finite`).
template <exec::execution_policy Exec, class PK, class RK, reducer Red = local_reducer>
double reference_point(const Exec& policy, const PK& policy_kl, const RK& ref_kl, Red&& red = {},
                       bool check_finite = false) {
  using namespace alignkit::detail;
  const auto pk = view_of(policy_kl);
  const auto rk = view_of(ref_kl);
  require_rank<1, decltype(pk)>();
  require_rank<1, decltype(rk)>();
  check_same_size(detail::fn, "ref_KL", rk.extent(0), "policy_KL", pk.extent(0));
  if (check_finite) {
    alignkit::detail::check_finite(detail::fn, "policy_KL", pk);
    alignkit::detail::check_finite(detail::fn, "ref_KL", rk);
  }
  using T = typename decltype(pk)::value_type;
  const std::tuple io{make_reader<T>(pk), make_reader<T>(rk)};
  const auto s = map_reduce<T, 1>(policy, pk.extent(0), io, [&](index_t i, auto tag, const auto& a, const auto& b) {
    using V = typename decltype(tag)::type;
    return std::array<V, 1>{a.template load<V>(i) - b.template load<V>(i)};
  });
  std::array<double, 2> global{s[0], static_cast<double>(pk.extent(0))};
  red.all_reduce_sum(std::span<double>(global));
  if (global[1] == 0)
    raise<shape_error>(111, detail::fn,
                       ": the KL set is empty; the reference point needs at least one policy_KL / ref_KL pair "
                       "(or set calculate_kl = false, or pass the reference point)");
  return std::max(0.0, global[0] / global[1]);
}

/// Fused KTO loss with the reference point z computed from the KL set (globally through `red`;
/// z = 0 without reading the KL set when `calculate_kl` is false). One pass over each input.
/// Errors: shape_error.101 (lengths differ), shape_error.102 (Nc + Nr = 0), shape_error.111
/// (empty KL set), domain_error.201 (non-finite input under check_finite), domain_error.202
/// (β ≤ 0, negative weights, total_examples ≤ 0).
template <exec::execution_policy Exec, class PC, class PR, class RC, class RR, tensor_like PK, tensor_like RK,
          class T = alignkit::detail::compute_t<PC>, reducer Red = local_reducer>
result loss(const Exec& policy, const PC& policy_chosen, const PR& policy_rejected, const RC& ref_chosen,
            const RR& ref_rejected, const PK& policy_kl, const RK& ref_kl, const options& opts = {},
            const outputs<T>& out = {}, Red&& red = {}) {
  const auto pc = view_of(policy_chosen), pr = view_of(policy_rejected);
  const auto rc = view_of(ref_chosen), rr = view_of(ref_rejected);
  detail::check_inputs(pc, pr, rc, rr, opts);
  const double z = opts.calculate_kl ? reference_point(policy, policy_kl, ref_kl, red, opts.check_finite) : 0.0;
  return detail::run<T>(policy, pc, pr, rc, rr, z, opts, out);
}

/// Sequential overload.
template <alignkit::detail::data_argument PC, class PR, class RC, class RR, tensor_like PK, tensor_like RK,
          class T = alignkit::detail::compute_t<PC>, reducer Red = local_reducer>
result loss(const PC& policy_chosen, const PR& policy_rejected, const RC& ref_chosen, const RR& ref_rejected,
            const PK& policy_kl, const RK& ref_kl, const options& opts = {}, const outputs<T>& out = {},
            Red&& red = {}) {
  return loss(exec::seq, policy_chosen, policy_rejected, ref_chosen, ref_rejected, policy_kl, ref_kl, opts, out, red);
}

/// Fused KTO loss at a given reference point z (for example a running estimate, or the seed's
/// z_ref); `calculate_kl` is not used. Errors as `loss`, without 111.
template <exec::execution_policy Exec, class PC, class PR, class RC, class RR, class T = alignkit::detail::compute_t<PC>>
result loss_at_reference_point(const Exec& policy, const PC& policy_chosen, const PR& policy_rejected,
                               const RC& ref_chosen, const RR& ref_rejected, double z, const options& opts = {},
                               const outputs<T>& out = {}) {
  const auto pc = view_of(policy_chosen), pr = view_of(policy_rejected);
  const auto rc = view_of(ref_chosen), rr = view_of(ref_rejected);
  detail::check_inputs(pc, pr, rc, rr, opts);
  return detail::run<T>(policy, pc, pr, rc, rr, z, opts, out);
}

/// Sequential overload.
template <alignkit::detail::data_argument PC, class PR, class RC, class RR, class T = alignkit::detail::compute_t<PC>>
result loss_at_reference_point(const PC& policy_chosen, const PR& policy_rejected, const RC& ref_chosen,
                               const RR& ref_rejected, double z, const options& opts = {}, const outputs<T>& out = {}) {
  return loss_at_reference_point(exec::seq, policy_chosen, policy_rejected, ref_chosen, ref_rejected, z, opts, out);
}

/// Result plus owned outputs, for callers that do not bring buffers.
template <class T>
struct evaluation {
  result metrics;
  std::vector<T> chosen_losses, rejected_losses, grad_policy_chosen, grad_policy_rejected, grad_ref_chosen,
      grad_ref_rejected, chosen_rewards, rejected_rewards;
};

/// Allocating convenience form: computes every output into new vectors.
template <alignkit::detail::data_argument PC, class PR, class RC, class RR, tensor_like PK, tensor_like RK,
          class T = alignkit::detail::compute_t<PC>>
evaluation<T> evaluate(const PC& policy_chosen, const PR& policy_rejected, const RC& ref_chosen,
                       const RR& ref_rejected, const PK& policy_kl, const RK& ref_kl, const options& opts = {}) {
  const auto nc = static_cast<std::size_t>(view_of(policy_chosen).extent(0));
  const auto nr = static_cast<std::size_t>(view_of(policy_rejected).extent(0));
  evaluation<T> e{{}, std::vector<T>(nc), std::vector<T>(nr), std::vector<T>(nc), std::vector<T>(nr),
                  std::vector<T>(nc), std::vector<T>(nr), std::vector<T>(nc), std::vector<T>(nr)};
  e.metrics = loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, policy_kl, ref_kl, opts,
                   outputs<T>{view_of(e.chosen_losses), view_of(e.rejected_losses), view_of(e.grad_policy_chosen),
                              view_of(e.grad_policy_rejected), view_of(e.grad_ref_chosen), view_of(e.grad_ref_rejected),
                              view_of(e.chosen_rewards), view_of(e.rejected_rewards)});
  return e;
}

}  // namespace kto

ALIGNKIT_END_NAMESPACE
