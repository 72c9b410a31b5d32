/// @file dpo.hpp
/// @brief Direct Preference Optimization and its variants, fused forward and backward.
///
/// Inputs per pair i: summed log-probs of the chosen and rejected response under the policy
/// (πc, πr) and the reference (ρc, ρr). With optional token counts n_c, n_r (max(n, 1), as TRL)
///   a = (πc − ρc)/n_c,  b = (πr − ρr)/n_r      (ρ dropped when reference_free, except where noted)
///   h = a − b;  f-divergence (arXiv:2309.16240): js  h ← h − (softplus(a) − softplus(b));
///   alpha  h ← (e^{−αb} − e^{−αa})/α  (forward_kl: α = 1; exponent capped so h² stays finite;
///          α as in the paper and TRL's standalone dpo_loss; TRL HEAD's coefficient is 1 − α)
/// Loss ℓ_i per type (z = βh, ε = label_smoothing, ls = log σ, A, B = a, b with the reference):
///   sigmoid       −(1−ε)·ls(z) − ε·ls(−z)                       DPO arXiv:2305.18290, cDPO
///   robust        (−(1−ε)·ls(z) + ε·ls(−z))/(1−2ε)               rDPO arXiv:2403.00409
///   hinge         max(0, 1 − z)                                  SLiC arXiv:2305.10425
///   ipo           (h − 1/(2β))²                                  IPO arXiv:2310.12036
///   exo_pair      σ(z)(ls(z) − log(1−ε)) + σ(−z)(ls(−z) − log ε), ε = 0 → 1e-3   EXO arXiv:2402.00856
///   nca_pair      −ls(βA) − ½ls(−βA) − ½ls(−βB)                   NCA arXiv:2402.05369
///   sppo_hard     (A − 1/(2β))² + (B + 1/(2β))²                   SPPO arXiv:2405.00675
///   aot           −(1−ε)ls(βδ_k) − ε·ls(−βδ_k), δ = sort(πc−πr) − sort(ρc−ρr)   AOT arXiv:2406.05882
///   aot_unpaired  the same with δ = sort(A) − sort(B) (TRL `aot_pair`)
///   apo_zero      (1 − σ(βa)) + σ(βb)                             APO arXiv:2408.06266
///   apo_down      σ(βa) + (1 − σ(β(a − b)))
///   discopop      −ls(z)(1 − μ) + e^{−z}μ,  μ = σ(z/τ)              DiscoPOP arXiv:2406.08414
///   bco_pair      −ls(βA − δ) − ls(−(βB − δ)),  δ = running mean of the batch-mean reward, or 0
///                 without a baseline state (BCO arXiv:2404.04656)
///   sigmoid_norm  sigmoid on token-normalized a, b (token counts required; TRL HEAD)
/// A weighted combination Σ_k w_k·ℓ_k of per-pair types (TRL `loss_weights`) is computed in the
/// same pass; per-pair weights ω_i (WPO arXiv:2406.11827, detached; see `wpo_weights`) scale ℓ_i
/// and its gradient.
///   loss = Σ_i ω_i·ℓ_i / D   (D = number of pairs, or the step's global pair count)
/// Metrics as TRL logs them, always with the reference: chosen/rejected reward β(πc−ρc), β(πr−ρr)
/// (means), accuracy mean 1[r_c > r_r], margin mean (r_c − r_r).
/// Parity: TRL `DPOTrainer.dpo_loss` (huggingface/trl@a68fb89, op `dpo`); sigmoid_norm, the
/// token-normalized ipo, loss_weights and δ = 0 for bco_pair as TRL HEAD `_compute_loss`
/// (trl@f2cd577); bco_pair's baseline as TRL `RunningMoments` (kept in double where TRL rounds the
/// batch mean to float32); WPO weights clamped at 1 as the standalone dpo_loss (HEAD: unclamped). The alpha
/// exponent is capped at ½·log(max T) (TRL: log(max T), where h² already overflows).
/// Every term uses softplus / log-sigmoid forms: finite for log-ratio differences of ±500 and more.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <optional>
#include <span>
#include <string_view>
#include <tuple>
#include <vector>

#include "../core/check.hpp"
#include "../core/elementwise.hpp"
#include "../core/execution.hpp"
#include "../core/kernel.hpp"
#include "../core/numerics.hpp"
#include "../core/tensor.hpp"
#include "detail/dpo_terms.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace dpo {

/// One term of a weighted combination of loss types.
struct weighted_loss {
  loss_type type = loss_type::sigmoid;
  double weight = 1.0;
};

/// Running mean of the batch-mean implicit reward: the baseline δ of bco_pair, carried by the
/// caller across steps (TRL `RunningMoments` in the standalone `dpo_loss`; TRL HEAD uses δ = 0).
struct reward_baseline {
  double mean = 0;
  double count = 0;
};

/// Hyperparameters; the defaults are TRL's `DPOConfig`.
struct options {
  double beta = 0.1;                          ///< β > 0
  loss_type loss = loss_type::sigmoid;        ///< used when `combination` is empty
  std::span<const weighted_loss> combination;  ///< non-empty: Σ_k w_k·ℓ_k (no sorted types)
  double label_smoothing = 0.0;               ///< ε in [0, 0.5] ([0, 0.5) for robust)
  bool reference_free = false;                ///< drop ρ from a and b (not from the metrics)
  f_divergence divergence = f_divergence::reverse_kl;
  double alpha = 1.0;                         ///< α > 0 of the alpha divergence (TRL default 1)
  double discopop_tau = 0.05;                 ///< τ > 0
  reward_baseline* baseline = nullptr;        ///< bco_pair state, updated in place (null: δ = 0)
  std::optional<double> total_pairs;          ///< D; default: the number of pairs of this call
  bool check_finite = false;                  ///< raise domain_error.201 on a non-finite input
};

/// What a trainer logs.
struct result {
  double loss = 0;            ///< Σ ω·ℓ / D
  double chosen_reward = 0;   ///< mean β(πc − ρc)
  double rejected_reward = 0; ///< mean β(πr − ρr)
  double accuracy = 0;        ///< mean 1[chosen reward > rejected reward]
  double margin = 0;          ///< mean (chosen − rejected reward)
  index_t pairs = 0;          ///< N
};

/// Optional outputs (a default-constructed view is not written). For aot and aot_unpaired,
/// `losses` is indexed by sorted position, as TRL returns it.
template <class T>
struct outputs {
  vector_view<T> losses;                ///< ω_i·ℓ_i
  vector_view<T> grad_policy_chosen;    ///< ∂loss/∂πc
  vector_view<T> grad_policy_rejected;  ///< ∂loss/∂πr
  vector_view<T> grad_ref_chosen;       ///< ∂loss/∂ρc (0 where the type ignores ρ)
  vector_view<T> grad_ref_rejected;     ///< ∂loss/∂ρr
  vector_view<T> chosen_rewards;        ///< β(πc − ρc)
  vector_view<T> rejected_rewards;      ///< β(πr − ρr)
};

/// Optional per-pair inputs (a default-constructed view is absent).
template <class T>
struct pair_inputs {
  vector_view<const T> weights;          ///< ω_i (WPO), treated as constants; default 1
  vector_view<const T> chosen_tokens;    ///< n_c: normalize a by the token count (required by sigmoid_norm)
  vector_view<const T> rejected_tokens;  ///< n_r
};

/// The TRL name of a loss type ("sigmoid", "aot_unpaired", …).
constexpr std::string_view name(loss_type t) noexcept {
  constexpr std::array<std::string_view, 14> names{"sigmoid",      "robust",   "hinge",    "ipo",      "exo_pair",
                                                   "nca_pair",     "sppo_hard", "aot",     "aot_unpaired", "apo_zero",
                                                   "apo_down",     "discopop", "bco_pair", "sigmoid_norm"};
  return names[static_cast<std::size_t>(t)];
}

/// Parses a TRL loss-type name (`aot_pair` is accepted for aot_unpaired); [domain_error.211] otherwise.
inline loss_type parse_loss_type(std::string_view s) {
  for (int k = 0; k < 14; ++k)
    if (name(static_cast<loss_type>(k)) == s) return static_cast<loss_type>(k);
  if (s == "aot_pair") return loss_type::aot_unpaired;
  alignkit::detail::raise<domain_error>(211, "dpo::parse_loss_type: unknown loss type '", s, "'");
}

/// Parses TRL's f-divergence names (reverse_kl, forward_kl, js_divergence, alpha_divergence);
/// [domain_error.211] otherwise.
inline f_divergence parse_f_divergence(std::string_view s) {
  if (s == "reverse_kl") return f_divergence::reverse_kl;
  if (s == "forward_kl") return f_divergence::forward_kl;
  if (s == "js_divergence") return f_divergence::js;
  if (s == "alpha_divergence") return f_divergence::alpha;
  alignkit::detail::raise<domain_error>(211, "dpo::parse_f_divergence: unknown f-divergence '", s, "'");
}

namespace detail {

using namespace alignkit::detail::dpo_terms;
inline constexpr const char* fn = "dpo::loss";

/// Reads an optional per-pair input through reader R; absent views read as `fallback`.
template <class T, class R>
struct optional_reader {
  R r;
  T fallback;
  bool contiguous() const noexcept { return r.contiguous(); }
  optional_reader<T, decltype(r.unit())> unit() const noexcept { return {r.unit(), fallback}; }
  template <class V>
  V load(index_t i) const {
    return r.v.data_handle() ? r.template load<V>(i) : V(fallback);
  }
};

template <class T>
auto optional_input(const vector_view<const T>& v, T fallback) {
  return optional_reader<T, alignkit::detail::reader<T, vector_view<const T>>>{{v}, fallback};
}

/// The per-pair result of the (possibly combined) loss: ℓ and the gradients of ℓ with respect to
/// the normalized policy and reference log-ratio inputs.
template <class V>
struct pair_value {
  V loss, gpc, gpr, grc, grr;
};

template <class T>
params<T> make_params(const options& o) {
  const double eps = o.label_smoothing, exo_eps = eps == 0 ? 1e-3 : eps;
  const double alpha = o.divergence == f_divergence::forward_kl ? 1.0 : o.alpha;
  return {static_cast<T>(o.beta),         static_cast<T>(eps),
          static_cast<T>(1 / (2 * o.beta)), static_cast<T>(eps < 0.5 ? 1 / (1 - 2 * eps) : 0.0),
          static_cast<T>(std::log1p(-exo_eps)), static_cast<T>(std::log(exo_eps)),
          static_cast<T>(o.discopop_tau), static_cast<T>(1 / o.discopop_tau),
          static_cast<T>(alpha),          static_cast<T>(1 / alpha),
          exp_cap<T>(alpha),              T(0)};
}

template <class T>
void check_outputs(const outputs<T>& out, index_t n) {
  const std::array<std::pair<const char*, const vector_view<T>*>, 7> views{
      {{"losses", &out.losses},
       {"grad_policy_chosen", &out.grad_policy_chosen},
       {"grad_policy_rejected", &out.grad_policy_rejected},
       {"grad_ref_chosen", &out.grad_ref_chosen},
       {"grad_ref_rejected", &out.grad_ref_rejected},
       {"chosen_rewards", &out.chosen_rewards},
       {"rejected_rewards", &out.rejected_rewards}}};
  for (const auto& [label, v] : views)
    if (v->data_handle()) alignkit::detail::check_same_size(fn, label, v->extent(0), "policy_chosen", n);
}

template <class T>
void check_pair_inputs(const pair_inputs<T>& extra, index_t n, bool finite) {
  const std::array<std::pair<const char*, const vector_view<const T>*>, 3> views{
      {{"weights", &extra.weights}, {"chosen_tokens", &extra.chosen_tokens}, {"rejected_tokens", &extra.rejected_tokens}}};
  for (const auto& [label, v] : views) {
    if (!v->data_handle()) continue;
    alignkit::detail::check_same_size(fn, label, v->extent(0), "policy_chosen", n);
    if (finite) alignkit::detail::check_finite(fn, label, *v);
  }
}

/// Validates the hyperparameters against the loss types in use.
inline void check_options(const options& o, std::span<const weighted_loss> terms, bool has_tokens) {
  using alignkit::detail::check_range;
  check_range(fn, "beta", o.beta, 0.0, HUGE_VAL, true);
  const bool robust = std::any_of(terms.begin(), terms.end(), [](auto t) { return t.type == loss_type::robust; });
  check_range(fn, "label_smoothing", o.label_smoothing, 0.0, 0.5, false, robust);
  if (o.divergence == f_divergence::alpha) check_range(fn, "alpha", o.alpha, 0.0, HUGE_VAL, true);
  check_range(fn, "discopop_tau", o.discopop_tau, 0.0, HUGE_VAL, true);
  if (o.total_pairs) check_range(fn, "total_pairs", *o.total_pairs, 0.0, HUGE_VAL, true);
  for (const auto& t : terms) {
    if (t.type == loss_type::sigmoid_norm && !has_tokens)
      alignkit::detail::raise<shape_error>(110, fn, ": loss type sigmoid_norm needs chosen_tokens and rejected_tokens");
    if (is_sorted_type(t.type) && o.combination.size() > 0)
      alignkit::detail::raise<domain_error>(210, fn, ": loss type ", name(t.type),
                                            " sorts the batch and cannot be part of a combination");
  }
}

/// One fused pass over the pairs: `pair(a_ref, b_ref, a_free, b_free)` gives the pair's loss and
/// gradients; this writes every requested output and returns the metrics.
template <class T, class Exec, class PC, class PR, class RC, class RR, class Pair>
result fused(const Exec& policy, const PC& pc, const PR& pr, const RC& rc, const RR& rr, double beta, double denom,
             const outputs<T>& out, const pair_inputs<T>& extra, Pair&& pair) {
  using namespace alignkit::detail;
  const index_t n = pc.extent(0);
  const std::tuple io{make_reader<T>(pc),
                      make_reader<T>(pr),
                      make_reader<T>(rc),
                      make_reader<T>(rr),
                      optional_input(extra.weights, T(1)),
                      make_reader<T>(extra.chosen_tokens),
                      make_reader<T>(extra.rejected_tokens),
                      make_writer<T>(out.losses),
                      make_writer<T>(out.grad_policy_chosen),
                      make_writer<T>(out.grad_policy_rejected),
                      make_writer<T>(out.grad_ref_chosen),
                      make_writer<T>(out.grad_ref_rejected),
                      make_writer<T>(out.chosen_rewards),
                      make_writer<T>(out.rejected_rewards)};
  const T t_beta = static_cast<T>(beta), inv_d = static_cast<T>(1.0 / denom);
  const bool has_nc = extra.chosen_tokens.data_handle() != nullptr, has_nr = extra.rejected_tokens.data_handle() != nullptr;
  auto pass = [&](auto plain) {
    return map_reduce<T, 4>(policy, n, io, [&](index_t i, auto tag, const auto& r_pc, const auto& r_pr,
                                               const auto& r_rc, const auto& r_rr, const auto& r_w, const auto& r_nc,
                                               const auto& r_nr, const auto& w_loss, const auto& w_gpc,
                                               const auto& w_gpr, const auto& w_grc, const auto& w_grr,
                                               const auto& w_cr, const auto& w_rr) {
      using V = typename decltype(tag)::type;
      const V xpc = r_pc.template load<V>(i), xpr = r_pr.template load<V>(i);
      const V dc = xpc - r_rc.template load<V>(i), dr = xpr - r_rr.template load<V>(i);
      pair_value<V> g;
      V loss, sc, sr;
      if constexpr (decltype(plain)::value) {  // no weights, no token counts: the factors below are 1
        g = pair(dc, dr, xpc, xpr);
        loss = g.loss;
        sc = sr = V(inv_d);
      } else {
        // 1/max(n, 1) once per side (exactly 1 without token counts: no division in the loop)
        const V inc = has_nc ? V(1) / max_(r_nc.template load<V>(i), V(1)) : V(1);
        const V inr = has_nr ? V(1) / max_(r_nr.template load<V>(i), V(1)) : V(1);
        g = pair(dc * inc, dr * inr, xpc * inc, xpr * inr);
        const V w = r_w.template load<V>(i);
        loss = w * g.loss;
        sc = w * V(inv_d) * inc;
        sr = w * V(inv_d) * inr;
      }
      const V chosen = V(t_beta) * dc, rejected = V(t_beta) * dr;
      w_loss.store(i, loss);
      w_gpc.store(i, g.gpc * sc);
      w_gpr.store(i, g.gpr * sr);
      w_grc.store(i, g.grc * sc);
      w_grr.store(i, g.grr * sr);
      w_cr.store(i, chosen);
      w_rr.store(i, rejected);
      return std::array<V, 4>{loss, chosen, rejected, indicator_<V>(chosen > rejected)};
    });
  };
  const auto sums = extra.weights.data_handle() || has_nc || has_nr ? pass(std::false_type{}) : pass(std::true_type{});
  const auto nd = static_cast<double>(n);
  return {sums[0] / denom, sums[1] / nd, sums[2] / nd, sums[3] / nd, (sums[1] - sums[2]) / nd, n};
}

/// aot / aot_unpaired: sorts both sides of the batch (allocates 2N indices), then computes the
/// smoothed sigmoid on the sorted differences; gradients flow back through the permutations.
template <class T, class PC, class PR, class RC, class RR>
result sorted(loss_type type, const PC& pc, const PR& pr, const RC& rc, const RR& rr, const params<T>& p,
              double denom, const outputs<T>& out) {
  const index_t n = pc.extent(0);
  const bool paired = type == loss_type::aot;
  // aot: L = πc − πr, R = ρc − ρr;  aot_unpaired: L = πc − ρc, R = πr − ρr.
  auto left = [&](index_t i) { return paired ? T(pc(i)) - T(pr(i)) : T(pc(i)) - T(rc(i)); };
  auto right = [&](index_t i) { return paired ? T(rc(i)) - T(rr(i)) : T(pr(i)) - T(rr(i)); };
  std::vector<index_t> order_l(static_cast<std::size_t>(n)), order_r(static_cast<std::size_t>(n));
  std::iota(order_l.begin(), order_l.end(), index_t{0});
  std::iota(order_r.begin(), order_r.end(), index_t{0});
  std::stable_sort(order_l.begin(), order_l.end(), [&](index_t x, index_t y) { return left(x) < left(y); });
  std::stable_sort(order_r.begin(), order_r.end(), [&](index_t x, index_t y) { return right(x) < right(y); });
  const T inv_d = static_cast<T>(1.0 / denom);
  auto put = [](const vector_view<T>& v, index_t i, T x) {
    if (v.data_handle()) v(i) = x;
  };
  double loss_sum = 0, chosen_sum = 0, rejected_sum = 0, wins = 0;
  for (index_t k = 0; k < n; ++k) {
    const index_t il = order_l[static_cast<std::size_t>(k)], ir = order_r[static_cast<std::size_t>(k)];
    const auto s = smoothed_sigmoid(left(il) - right(ir), p);
    const T g = s.dh * inv_d;
    put(out.losses, k, s.loss);
    loss_sum += static_cast<double>(s.loss);
    if (paired) {
      put(out.grad_policy_chosen, il, g);
      put(out.grad_policy_rejected, il, -g);
      put(out.grad_ref_chosen, ir, -g);
      put(out.grad_ref_rejected, ir, g);
    } else {
      put(out.grad_policy_chosen, il, g);
      put(out.grad_ref_chosen, il, -g);
      put(out.grad_policy_rejected, ir, -g);
      put(out.grad_ref_rejected, ir, g);
    }
    const T chosen = p.beta * (T(pc(k)) - T(rc(k))), rejected = p.beta * (T(pr(k)) - T(rr(k)));
    put(out.chosen_rewards, k, chosen);
    put(out.rejected_rewards, k, rejected);
    chosen_sum += static_cast<double>(chosen);
    rejected_sum += static_cast<double>(rejected);
    wins += chosen > rejected ? 1.0 : 0.0;
  }
  const auto nd = static_cast<double>(n);
  return {loss_sum / denom, chosen_sum / nd, rejected_sum / nd, wins / nd, (chosen_sum - rejected_sum) / nd, n};
}

/// bco_pair's δ: folds this batch's mean reward β·mean(A ∪ B) into the caller's running baseline
/// (one extra pass over the inputs) and returns the updated mean.
template <class T, class Exec, class PC, class PR, class RC, class RR>
T bco_delta(const Exec& policy, const PC& pc, const PR& pr, const RC& rc, const RR& rr, double beta,
            reward_baseline& state) {
  using namespace alignkit::detail;
  const std::tuple io{make_reader<T>(pc), make_reader<T>(pr), make_reader<T>(rc), make_reader<T>(rr)};
  const auto s = map_reduce<T, 1>(policy, pc.extent(0), io, [&](index_t i, auto tag, const auto& r_pc,
                                                                const auto& r_pr, const auto& r_rc, const auto& r_rr) {
    using V = typename decltype(tag)::type;
    return std::array<V, 1>{(r_pc.template load<V>(i) - r_rc.template load<V>(i)) +
                            (r_pr.template load<V>(i) - r_rr.template load<V>(i))};
  });
  const double batch_mean = beta * s[0] / (2.0 * static_cast<double>(pc.extent(0)));
  state.count += 1;
  state.mean += (batch_mean - state.mean) / state.count;
  return static_cast<T>(state.mean);
}

/// Calls f(integral_constant<loss_type, L>, integral_constant<f_divergence, F>) for the runtime
/// (type, divergence); the divergence only matters for the types written in h.
template <loss_type L, class F>
decltype(auto) with_divergence(f_divergence d, F&& f) {
  using LT = std::integral_constant<loss_type, L>;
  if constexpr (!uses_h(L)) {
    return f(LT{}, std::integral_constant<f_divergence, f_divergence::reverse_kl>{});
  } else {
    switch (d) {
      case f_divergence::reverse_kl: return f(LT{}, std::integral_constant<f_divergence, f_divergence::reverse_kl>{});
      case f_divergence::js: return f(LT{}, std::integral_constant<f_divergence, f_divergence::js>{});
      case f_divergence::forward_kl:
      case f_divergence::alpha: break;
    }
    return f(LT{}, std::integral_constant<f_divergence, f_divergence::alpha>{});
  }
}

template <class F>
decltype(auto) with_type(loss_type t, f_divergence d, F&& f) {
  switch (t) {
    case loss_type::sigmoid: return with_divergence<loss_type::sigmoid>(d, f);
    case loss_type::robust: return with_divergence<loss_type::robust>(d, f);
    case loss_type::hinge: return with_divergence<loss_type::hinge>(d, f);
    case loss_type::ipo: return with_divergence<loss_type::ipo>(d, f);
    case loss_type::exo_pair: return with_divergence<loss_type::exo_pair>(d, f);
    case loss_type::nca_pair: return with_divergence<loss_type::nca_pair>(d, f);
    case loss_type::sppo_hard: return with_divergence<loss_type::sppo_hard>(d, f);
    case loss_type::apo_zero: return with_divergence<loss_type::apo_zero>(d, f);
    case loss_type::apo_down: return with_divergence<loss_type::apo_down>(d, f);
    case loss_type::discopop: return with_divergence<loss_type::discopop>(d, f);
    case loss_type::bco_pair: return with_divergence<loss_type::bco_pair>(d, f);
    case loss_type::sigmoid_norm:
    case loss_type::aot:
    case loss_type::aot_unpaired: break;
  }
  return with_divergence<loss_type::sigmoid_norm>(d, f);
}

template <class T, class Exec, class PC, class PR, class RC, class RR>
result run(const Exec& policy, const PC& pc, const PR& pr, const RC& rc, const RR& rr, const options& o,
           const outputs<T>& out, const pair_inputs<T>& extra) {
  using namespace alignkit::detail;
  require_rank<1, PC>();
  require_rank<1, PR>();
  require_rank<1, RC>();
  require_rank<1, RR>();
  const index_t n = pc.extent(0);
  check_same_size(fn, "policy_rejected", pr.extent(0), "policy_chosen", n);
  check_same_size(fn, "ref_chosen", rc.extent(0), "policy_chosen", n);
  check_same_size(fn, "ref_rejected", rr.extent(0), "policy_chosen", n);
  check_not_empty(fn, "policy_chosen", n);
  check_outputs(out, n);
  check_pair_inputs(extra, n, o.check_finite);
  const weighted_loss single{o.loss, 1.0};
  const auto terms = o.combination.empty() ? std::span<const weighted_loss>(&single, 1) : o.combination;
  const bool has_tokens = extra.chosen_tokens.data_handle() && extra.rejected_tokens.data_handle();
  check_options(o, terms, has_tokens);
  if (o.check_finite) {
    check_finite(fn, "policy_chosen", pc);
    check_finite(fn, "policy_rejected", pr);
    check_finite(fn, "ref_chosen", rc);
    check_finite(fn, "ref_rejected", rr);
  }
  const double denom = o.total_pairs.value_or(static_cast<double>(n));
  auto p = make_params<T>(o);

  if (o.combination.empty() && is_sorted_type(o.loss)) {
    if (extra.weights.data_handle() || extra.chosen_tokens.data_handle() || extra.rejected_tokens.data_handle())
      raise<domain_error>(210, fn, ": loss type ", name(o.loss),
                          " sorts the batch and takes no per-pair weights or token counts");
    return sorted<T>(o.loss, pc, pr, rc, rr, p, denom, out);
  }
  if (o.baseline && std::any_of(terms.begin(), terms.end(), [](auto t) { return t.type == loss_type::bco_pair; }))
    p.bco_delta = bco_delta<T>(policy, pc, pr, rc, rr, o.beta, *o.baseline);

  const bool free = o.reference_free;
  if (o.combination.empty()) {
    return with_type(o.loss, o.divergence, [&](auto type, auto div) {
      constexpr loss_type L = decltype(type)::value;
      constexpr f_divergence F = decltype(div)::value;
      const bool use_ref = !free || always_uses_reference(L);
      return fused<T>(policy, pc, pr, rc, rr, o.beta, denom, out, extra,
                      [&](const auto& a_ref, const auto& b_ref, const auto& a_free, const auto& b_free) {
                        using V = std::remove_cvref_t<decltype(a_ref)>;
                        const auto t = term<L, F>(use_ref ? a_ref : a_free, use_ref ? b_ref : b_free, p);
                        const V zero(0);
                        return pair_value<V>{t.loss, t.da, t.db, use_ref ? -t.da : zero, use_ref ? -t.db : zero};
                      });
    });
  }
  auto combined = [&](auto div) {
    constexpr f_divergence F = decltype(div)::value;
    return fused<T>(policy, pc, pr, rc, rr, o.beta, denom, out, extra,
                    [&](const auto& a_ref, const auto& b_ref, const auto& a_free, const auto& b_free) {
                      using V = std::remove_cvref_t<decltype(a_ref)>;
                      pair_value<V> acc{V(0), V(0), V(0), V(0), V(0)};
                      for (const auto& k : terms) {
                        const bool use_ref = !free || always_uses_reference(k.type);
                        const V w(static_cast<T>(k.weight));
                        const auto t = term<F>(k.type, use_ref ? a_ref : a_free, use_ref ? b_ref : b_free, p);
                        acc.loss += w * t.loss;
                        acc.gpc += w * t.da;
                        acc.gpr += w * t.db;
                        if (use_ref) {
                          acc.grc -= w * t.da;
                          acc.grr -= w * t.db;
                        }
                      }
                      return acc;
                    });
  };
  switch (o.divergence) {
    case f_divergence::reverse_kl: return combined(std::integral_constant<f_divergence, f_divergence::reverse_kl>{});
    case f_divergence::js: return combined(std::integral_constant<f_divergence, f_divergence::js>{});
    case f_divergence::forward_kl:
    case f_divergence::alpha: break;
  }
  return combined(std::integral_constant<f_divergence, f_divergence::alpha>{});
}

}  // namespace detail

/// Fused DPO loss over N pairs: writes the requested `out` views in one pass (two for bco_pair
/// with a baseline state, which first needs the batch-mean reward) and returns the loss and metrics. aot and
/// aot_unpaired sort the batch: they allocate 2N indices and run on the calling thread.
/// Errors: shape_error.101 (lengths differ), shape_error.102 (N = 0), shape_error.110
/// (sigmoid_norm without token counts), domain_error.201 (non-finite input under check_finite),
/// domain_error.202 (β ≤ 0, ε ∉ [0, 0.5] or ε = 0.5 for robust, α ≤ 0, τ ≤ 0, total_pairs ≤ 0),
/// domain_error.210 (a sorted type in a combination, or with weights or token counts).
template <exec::execution_policy Exec, class PC, class PR, class RC, class RR, class T = alignkit::detail::compute_t<PC>>
result loss(const Exec& policy, const PC& policy_chosen, const PR& policy_rejected, const RC& ref_chosen,
            const RR& ref_rejected, const options& opts = {}, const outputs<T>& out = {},
            const pair_inputs<T>& extra = {}) {
  return detail::run<T>(policy, view_of(policy_chosen), view_of(policy_rejected), view_of(ref_chosen),
                        view_of(ref_rejected), opts, out, extra);
}

/// Sequential overload.
template <alignkit::detail::data_argument PC, class PR, class RC, class RR, class T = alignkit::detail::compute_t<PC>>
result loss(const PC& policy_chosen, const PR& policy_rejected, const RC& ref_chosen, const RR& ref_rejected,
            const options& opts = {}, const outputs<T>& out = {}, const pair_inputs<T>& extra = {}) {
  return loss(exec::seq, policy_chosen, policy_rejected, ref_chosen, ref_rejected, opts, out, extra);
}

/// WPO per-pair weights (arXiv:2406.11827 eq. 2, TRL `use_weighting`): ω_i = min(1, e^{c_i + r_i}),
/// where c_i and r_i are the per-token means, over the chosen and the rejected response, of the
/// adjusted token log-probs log p(y_t) − log Σ_v p(v)² (reduce_sequences gives the means from
/// the caller's adjusted token log-probs). Writes `weights` [N] for `pair_inputs::weights` and
/// returns their mean. Errors: shape_error.101 (lengths differ).
template <exec::execution_policy Exec, class C, class R, class W>
double wpo_weights(const Exec& policy, const C& chosen_means, const R& rejected_means, W&& weights) {
  using namespace alignkit::detail;
  const auto c = view_of(chosen_means);
  const auto r = view_of(rejected_means);
  const auto w = view_of(weights);
  const char* f = "dpo::wpo_weights";
  check_same_size(f, "rejected_means", r.extent(0), "chosen_means", c.extent(0));
  check_same_size(f, "weights", w.extent(0), "chosen_means", c.extent(0));
  using T = typename decltype(w)::value_type;
  const std::tuple io{make_reader<T>(c), make_reader<T>(r), make_writer<T>(w)};
  const auto s = map_reduce<T, 1>(policy, c.extent(0), io, [&](index_t i, auto tag, const auto& rc, const auto& rr,
                                                               const auto& out) {
    using V = typename decltype(tag)::type;
    const V x = min_(exp_(rc.template load<V>(i) + rr.template load<V>(i)), V(1));
    out.store(i, x);
    return std::array<V, 1>{x};
  });
  return c.extent(0) ? s[0] / static_cast<double>(c.extent(0)) : 0.0;
}

/// Result plus owned per-pair outputs, for callers that do not bring buffers.
template <class T>
struct evaluation {
  result metrics;
  std::vector<T> losses, grad_policy_chosen, grad_policy_rejected, grad_ref_chosen, grad_ref_rejected,
      chosen_rewards, rejected_rewards;
};

/// Allocating convenience form: computes every output into new vectors.
template <alignkit::detail::data_argument PC, class PR, class RC, class RR, class T = alignkit::detail::compute_t<PC>>
evaluation<T> evaluate(const PC& policy_chosen, const PR& policy_rejected, const RC& ref_chosen,
                       const RR& ref_rejected, const options& opts = {}, const pair_inputs<T>& extra = {}) {
  const auto n = static_cast<std::size_t>(view_of(policy_chosen).extent(0));
  evaluation<T> e{{}, std::vector<T>(n), std::vector<T>(n), std::vector<T>(n), std::vector<T>(n),
                  std::vector<T>(n), std::vector<T>(n), std::vector<T>(n)};
  e.metrics = loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, opts,
                   outputs<T>{view_of(e.losses), view_of(e.grad_policy_chosen), view_of(e.grad_policy_rejected),
                              view_of(e.grad_ref_chosen), view_of(e.grad_ref_rejected), view_of(e.chosen_rewards),
                              view_of(e.rejected_rewards)},
                   extra);
  return e;
}

}  // namespace dpo

ALIGNKIT_END_NAMESPACE
