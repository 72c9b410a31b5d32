// policy_gradient/: PPO clip loss (dual clip), k3 KL loss, GAE and GRPO group advantages at the
// sizes of ../shared/peers/README.md (ppo_clip, kl_k3, gae, grpo_adv), each beside a raw scalar
// loop of the same formula and the STREAM triad at the same working-set size. Masks are 1 byte
// per token (as torch.bool), right-padded, row lengths U[T/2, T].
#include <alignkit/policy_gradient/advantages.hpp>
#include <alignkit/policy_gradient/gae.hpp>
#include <alignkit/policy_gradient/kl.hpp>
#include <alignkit/policy_gradient/ppo.hpp>

#include "bench_support.hpp"

namespace bench {
namespace {

constexpr index_t rows = 64, cols = 16384, tokens = rows * cols;  // ppo_clip, kl_k3
constexpr double clip_eps = 0.2, clip_c = 3.0;

double mask_sum(const std::vector<std::uint8_t>& m) {
  double s = 0;
  for (auto x : m) s += x;
  return s;
}

// ppo_clip: ratio = exp(logp − old), dual-clip PPO (ε = 0.2, c = 3), masked token mean; grad wrt logp.
template <class T>
struct ppo_data {
  std::vector<T> logp = uniform<T>(tokens, -2, 2, 21), old = jitter(logp, 0.1, 22), adv = normal<T>(tokens, 0, 1, 23);
  std::vector<std::uint8_t> mask = right_padded_mask(rows, cols, 24);
  std::vector<T> grad = std::vector<T>(tokens);
  static work counted() { return {(4.0 * sizeof(T) + 1) * tokens, tokens}; }
};

// kl_k3: d = ref − logp, k3 = clamp(e^d − d − 1, −10, 10), masked token mean; grad wrt logp.
template <class T>
struct kl_data {
  std::vector<T> logp = uniform<T>(tokens, -2, 2, 25), ref = jitter(logp, 0.2, 26);
  std::vector<std::uint8_t> mask = right_padded_mask(rows, cols, 27);
  std::vector<T> grad = std::vector<T>(tokens);
  static work counted() { return {(3.0 * sizeof(T) + 1) * tokens, tokens}; }
};

// gae: [B, T] = [256, 4096], γ = 1, λ = 0.95; values and rewards masked (OpenRLHF);
// δ_t = r_t + γ v_{t+1} − v_t, A_t = δ_t + γλ A_{t+1}; writes advantages and returns = A + v.
constexpr index_t gae_rows = 256, gae_cols = 4096;
constexpr double gamma = 1.0, lam = 0.95;
template <class T>
struct gae_data {
  static constexpr index_t n = gae_rows * gae_cols;
  std::vector<T> rewards = normal<T>(n, 0, 0.1, 28), values = normal<T>(n, 0, 1, 29);
  std::vector<std::uint8_t> mask = right_padded_mask(gae_rows, gae_cols, 30);
  std::vector<T> adv = std::vector<T>(n), ret = std::vector<T>(n);
  static work counted() { return {(4.0 * sizeof(T) + 1) * n, n}; }
};

// grpo_adv: 4,194,304 scores in groups of 16: (x − mean) / (unbiased std + 1e-6).
constexpr index_t scores = 4194304, group = 16;
constexpr double grpo_eps = 1e-6;
template <class T>
struct grpo_data {
  std::vector<T> x = [] {
    auto s = normal<T>(scores, 0, 0.01, 31);
    rng g(32);
    for (auto& v : s) v += g.uniform() < 0.4 ? T(1) : T(0);
    return s;
  }();
  std::vector<T> adv = std::vector<T>(scores);
  static work counted() { return {2.0 * sizeof(T) * scores, scores}; }
};

const bool registered = [] {
  add_workload<ppo_data>(
      "ppo_clip",
      []<class T>(const auto& policy, ppo_data<T>& d) {
        const alignkit::ppo::outputs<T> out{matrix(d.grad, rows, cols), {}};
        benchmark::DoNotOptimize(alignkit::ppo::loss(policy, matrix(d.logp, rows, cols), matrix(d.old, rows, cols),
                                                     matrix(d.adv, rows, cols), matrix(d.mask, rows, cols),
                                                     {.clip_ratio = clip_eps, .clip_ratio_c = clip_c}, out));
      },
      []<class T>(ppo_data<T>& d) {
    const double msum = mask_sum(d.mask);
    const T inv = T(1 / msum), lo = T(1 - clip_eps), hi = T(1 + clip_eps), c = T(clip_c);
    double loss = 0;
    for (index_t i = 0; i < tokens; ++i) {
      const T a = d.adv[i], ratio = std::exp(d.logp[i] - d.old[i]);
      const T l1 = -a * ratio, l2 = -a * std::clamp(ratio, lo, hi);
      T pg = std::max(l1, l2), g = l1 >= l2 ? l1 : T(0);  // d(−a·ratio)/dlogp = −a·ratio
      if (a < T(0) && -a * c < pg) pg = -a * c, g = T(0);
      const T m = T(d.mask[i]);
      loss += pg * m;
      d.grad[i] = g * m * inv;
    }
    benchmark::DoNotOptimize(loss / msum);
  });

  add_workload<kl_data>(
      "kl_k3",
      []<class T>(const auto& policy, kl_data<T>& d) {
        namespace kl = alignkit::kl;
        const kl::loss_options opts{.beta = 1.0, .kind = {.est = kl::estimator::k3}};
        benchmark::DoNotOptimize(kl::loss(policy, matrix(d.logp, rows, cols), matrix(d.ref, rows, cols),
                                          matrix(d.mask, rows, cols), opts, {matrix(d.grad, rows, cols)}));
      },
      []<class T>(kl_data<T>& d) {
    const double msum = mask_sum(d.mask);
    const T inv = T(1 / msum);
    double loss = 0;
    for (index_t i = 0; i < tokens; ++i) {
      const T diff = d.ref[i] - d.logp[i], e = std::exp(diff), k3 = e - diff - T(1);
      const T m = T(d.mask[i]);
      loss += std::clamp(k3, T(-10), T(10)) * m;
      d.grad[i] = k3 < T(10) ? (T(1) - e) * m * inv : T(0);
    }
    benchmark::DoNotOptimize(loss / msum);
  });

  add_workload<gae_data>(
      "gae",
      []<class T>(const auto& policy, gae_data<T>& d) {
        const alignkit::gae::outputs<T> out{matrix(d.adv, gae_rows, gae_cols), matrix(d.ret, gae_rows, gae_cols)};
        const alignkit::gae::options opts{.gamma = gamma, .lam = lam, .masked = alignkit::gae::masking::zero};
        benchmark::DoNotOptimize(alignkit::gae::compute(policy, matrix(d.rewards, gae_rows, gae_cols),
                                                        matrix(d.values, gae_rows, gae_cols),
                                                        matrix(d.mask, gae_rows, gae_cols), opts, out));
      },
      []<class T>(gae_data<T>& d) {
    const T g = T(gamma), gl = T(gamma * lam);
    for (index_t b = 0; b < gae_rows; ++b) {
      const index_t o = b * gae_cols;
      T last = 0, next_v = 0;
      for (index_t t = gae_cols; t-- > 0;) {
        const T m = T(d.mask[o + t]), v = d.values[o + t] * m;
        last = d.rewards[o + t] * m + g * next_v - v + gl * last;
        d.adv[o + t] = last;
        d.ret[o + t] = last + v;
        next_v = v;
      }
    }
  });

  add_workload<grpo_data>(
      "grpo_adv",
      []<class T>(const auto& policy, grpo_data<T>& d) {
        namespace adv = alignkit::advantages;
        benchmark::DoNotOptimize(
            adv::group_relative(policy, d.x, adv::group_size{group}, {.epsilon = grpo_eps}, d.adv));
      },
      []<class T>(grpo_data<T>& d) {
    for (index_t o = 0; o < scores; o += group) {
      T mean = 0, var = 0;
      for (index_t k = 0; k < group; ++k) mean += d.x[o + k];
      mean /= T(group);
      for (index_t k = 0; k < group; ++k) var += (d.x[o + k] - mean) * (d.x[o + k] - mean);
      const T inv = T(1) / (std::sqrt(var / T(group - 1)) + T(grpo_eps));
      for (index_t k = 0; k < group; ++k) d.adv[o + k] = (d.x[o + k] - mean) * inv;
    }
  });
  return true;
}();

}  // namespace
}  // namespace bench
