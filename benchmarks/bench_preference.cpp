// preference/: Bradley–Terry, DPO (sigmoid) and KTO losses, forward + backward, at the sizes of
// ../shared/peers/README.md (bt_loss, dpo_sigmoid, kto), each beside a raw scalar loop of the
// same formula and the STREAM triad at the same working-set size.
#include <alignkit/preference/bradley_terry.hpp>
#include <alignkit/preference/dpo.hpp>
#include <alignkit/preference/kto.hpp>

#include "bench_support.hpp"

namespace bench {
namespace {

constexpr index_t pairs = 4194304;
constexpr double beta = 0.1;

// bt_loss: loss = mean softplus(−(r_c − r_r)); grads wrt r_c, r_r. 2 inputs + 2 grads.
template <class T>
struct bt_data {
  std::vector<T> rc = normal<T>(pairs, 0.5, 1, 1), rr = normal<T>(pairs, 0, 1, 2);
  std::vector<T> gc = std::vector<T>(pairs), gr = std::vector<T>(pairs);
  static work counted() { return {4.0 * sizeof(T) * pairs, pairs}; }
};

// dpo_sigmoid: z = β((π_c − ref_c) − (π_r − ref_r)), loss = mean softplus(−z); grads wrt π_c, π_r.
template <class T>
struct dpo_data {
  std::vector<T> pc = uniform<T>(pairs, -70, 20, 3), pr = uniform<T>(pairs, -75, 20, 4);
  std::vector<T> rc = jitter(pc, 1, 5), rr = jitter(pr, 1, 6);
  std::vector<T> gc = std::vector<T>(pairs), gr = std::vector<T>(pairs);
  static work counted() { return {6.0 * sizeof(T) * pairs, pairs}; }
};

// kto: N/2 desirable + N/2 undesirable examples and a KL set of N pairs;
// z0 = max(0, mean(kl_pol − kl_ref)); desirable 1 − σ(β(Δ_c − z0)), undesirable 1 − σ(β(z0 − Δ_u));
// mean over the N examples; grads wrt the policy log-probs.
template <class T>
struct kto_data {
  static constexpr index_t half = pairs / 2;
  std::vector<T> pc = uniform<T>(half, -70, 20, 7), pu = uniform<T>(half, -75, 20, 8);
  std::vector<T> rc = jitter(pc, 1, 9), ru = jitter(pu, 1, 10);
  std::vector<T> kl_p = uniform<T>(pairs, -80, 20, 11), kl_r = jitter(kl_p, 0.5, 12);
  std::vector<T> gc = std::vector<T>(half), gu = std::vector<T>(half);
  static work counted() { return {sizeof(T) * (6.0 * half + 2.0 * pairs), pairs}; }
};

const bool registered = [] {
  add_workload<bt_data>(
      "bt_loss",
      []<class T>(const auto& policy, bt_data<T>& d) {
        const alignkit::bradley_terry::outputs<T> out{{}, alignkit::view_of(d.gc), alignkit::view_of(d.gr)};
        benchmark::DoNotOptimize(alignkit::bradley_terry::loss(policy, d.rc, d.rr, {}, out));
      },
      []<class T>(bt_data<T>& d) {
        const T inv_n = T(1) / T(pairs);
        double loss = 0;
        for (index_t i = 0; i < pairs; ++i) {
          T l, s;  // ℓ = softplus(−z), s = σ(−z)
          raw::softplus_sigmoid(d.rr[i] - d.rc[i], l, s);
          loss += l;
          d.gc[i] = -s * inv_n;
          d.gr[i] = s * inv_n;
        }
        benchmark::DoNotOptimize(loss);
      });

  add_workload<dpo_data>(
      "dpo_sigmoid",
      []<class T>(const auto& policy, dpo_data<T>& d) {
        alignkit::dpo::outputs<T> out;
        out.grad_policy_chosen = alignkit::view_of(d.gc);
        out.grad_policy_rejected = alignkit::view_of(d.gr);
        benchmark::DoNotOptimize(alignkit::dpo::loss(policy, d.pc, d.pr, d.rc, d.rr, {.beta = beta}, out));
      },
      []<class T>(dpo_data<T>& d) {
    const T b = T(beta), g = T(beta / pairs);
    double loss = 0;
    for (index_t i = 0; i < pairs; ++i) {
      T l, s;
      raw::softplus_sigmoid(-b * ((d.pc[i] - d.rc[i]) - (d.pr[i] - d.rr[i])), l, s);
      loss += l;
      d.gc[i] = -g * s;
      d.gr[i] = g * s;
    }
    benchmark::DoNotOptimize(loss);
  });

  add_workload<kto_data>(
      "kto",
      []<class T>(const auto& policy, kto_data<T>& d) {
        alignkit::kto::outputs<T> out;
        out.grad_policy_chosen = alignkit::view_of(d.gc);
        out.grad_policy_rejected = alignkit::view_of(d.gu);
        benchmark::DoNotOptimize(
            alignkit::kto::loss(policy, d.pc, d.pu, d.rc, d.ru, d.kl_p, d.kl_r, {.beta = beta}, out));
      },
      []<class T>(kto_data<T>& d) {
    double kl = 0;
    for (index_t i = 0; i < pairs; ++i) kl += d.kl_p[i] - d.kl_r[i];
    const T z0 = T(std::max(0.0, kl / pairs)), b = T(beta), g = T(beta / pairs);
    double loss = 0;
    for (index_t i = 0; i < kto_data<T>::half; ++i) {
      const T sc = raw::sigmoid(b * ((d.pc[i] - d.rc[i]) - z0));
      const T su = raw::sigmoid(b * (z0 - (d.pu[i] - d.ru[i])));
      loss += (T(1) - sc) + (T(1) - su);
      d.gc[i] = -g * sc * (T(1) - sc);
      d.gu[i] = g * su * (T(1) - su);
    }
    benchmark::DoNotOptimize(loss);
  });
  return true;
}();

}  // namespace
}  // namespace bench
