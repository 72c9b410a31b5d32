// token/: fused log-softmax gather + entropy over [N, V] logits (token_logprob) and the chunked
// linear head (linear_head_logprob, compute-bound: reported in FLOP/s too, next to the same head
// through materialized logits, with the peak extra memory of each) at the sizes of
// ../shared/peers/README.md, beside a raw scalar loop (token_logprob only: a scalar GEMM of
// 1.6 TFLOP would run for minutes) and the STREAM triad at the same working-set size.
#include <cstdlib>
#include <utility>

#include <Eigen/Core>
#include <omp.h>

#include <alignkit/token/cblas_gemm.hpp>
#include <alignkit/token/linear_head.hpp>
#include <alignkit/token/logprob.hpp>

#include "bench_support.hpp"

namespace bench {
namespace {

constexpr index_t tokens = 4096, vocab = 32000, hidden_size = 2048;

// Uniform logits with the peer's variance (2·N(0, 1)): faster to generate, same cost to process.
template <class T>
std::vector<T> logits_like(index_t n, std::uint64_t seed) {
  const double a = 2 * std::sqrt(3.0);
  return uniform<T>(n, -a, 2 * a, seed);
}

std::vector<std::int64_t> labels(index_t n, std::uint64_t seed) {
  rng g(seed);
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (auto& v : y) v = g.integer(0, vocab - 1);
  return y;
}

// token_logprob: lp = log_softmax(z); logp = lp[label]; H = −Σ p·lp; loss = Σ logp + Σ H;
// writes logp, H and the gradient wrt the logits: 1[j = label] − p_j − p_j (lp_j + H).
template <class T>
struct logprob_data {
  std::vector<T> z = logits_like<T>(tokens * vocab, 41);
  std::vector<std::int64_t> y = labels(tokens, 42);
  std::vector<T> grad = std::vector<T>(tokens * vocab), logp = std::vector<T>(tokens), entropy = std::vector<T>(tokens);
  static work counted() { return {(2.0 * vocab + 2) * sizeof(T) * tokens + 8.0 * tokens, double(tokens) * vocab}; }
};

// linear_head_logprob: z = h·W ([N, H]·[H, V]); logp = log_softmax(z)[label]; loss = Σ logp;
// grads wrt h and W. 6·N·H·V floating-point operations per call.
template <class T>
struct linear_head_data {
  std::vector<T> h = normal<T>(tokens * hidden_size, 0, 1, 43), w = normal<T>(hidden_size * vocab, 0, 0.02, 44);
  std::vector<std::int64_t> y = labels(tokens, 45);
  std::vector<T> grad_h = std::vector<T>(tokens * hidden_size), grad_w = std::vector<T>(hidden_size * vocab);
  std::vector<T> logp = std::vector<T>(tokens);
  static work counted() {
    const double nh = double(tokens) * hidden_size, hv = double(hidden_size) * vocab;
    return {sizeof(T) * (2 * nh + 2 * hv + tokens) + 8.0 * tokens, tokens, 6.0 * tokens * hidden_size * vocab};
  }
};

// ∂L/∂logp_i = ∂L/∂H_i = 1 for every row (loss = Σ logp + Σ H): a stride-0 view of one value.
template <class T>
alignkit::vector_view<const T> ones(index_t n) {
  static constexpr T one = 1;
  return {&one, {n}, {0}};
}

// The chunked head: logp and the gradients wrt h and W, with the given GEMM hook.
template <class Policy, class Gemm>
void chunked_head(const Policy& policy, linear_head_data<float>& d, const Gemm& gemm) {
  namespace lh = alignkit::token::linear_head;
  const lh::outputs<float> out{alignkit::view_of(d.logp), {}, matrix(d.grad_h, tokens, hidden_size),
                               matrix(d.grad_w, hidden_size, vocab)};
  benchmark::DoNotOptimize(lh::logprob(policy, matrix(std::as_const(d.h), tokens, hidden_size),
                                       matrix(std::as_const(d.w), hidden_size, vocab), d.y,
                                       {.weight_layout = lh::layout::hidden_by_vocab}, out,
                                       alignkit::token::upstream<float>{ones<float>(tokens), {}}, gemm));
}

// The linear head the plain way: logits = h·W stored as [N, V], token::logprob writes ∂L/∂logits
// into a second [N, V] buffer, then ∂L/∂h = G·Wᵀ and ∂L/∂W = hᵀ·G: the same three GEMMs, through
// the same hook, as the chunked head, with 2·N·V floats of scratch allocated per call, as a trainer
// does per batch.
template <class Policy, class Gemm>
void materialized_head(const Policy& policy, linear_head_data<float>& d, const Gemm& gemm) {
  using alignkit::token::linear_head::detail::transposed;
  const auto h = matrix(std::as_const(d.h), tokens, hidden_size), w = matrix(std::as_const(d.w), hidden_size, vocab);
  std::vector<float> logits(static_cast<std::size_t>(tokens * vocab)), grad(logits.size());
  gemm(h, w, matrix(logits, tokens, vocab), false);
  const alignkit::token::outputs<float> out{alignkit::view_of(d.logp), {}, matrix(grad, tokens, vocab)};
  benchmark::DoNotOptimize(alignkit::token::logprob(policy, matrix(std::as_const(logits), tokens, vocab), d.y, {}, out,
                                                    alignkit::token::upstream<float>{ones<float>(tokens), {}}));
  const auto g = matrix(std::as_const(grad), tokens, vocab);
  gemm(g, transposed(w), matrix(d.grad_h, tokens, hidden_size), false);
  gemm(transposed(h), g, matrix(d.grad_w, hidden_size, vocab), false);
}

const bool registered = [] {
  add_workload<logprob_data>(
      "token_logprob",
      []<class T>(const auto& policy, logprob_data<T>& d) {
        namespace tk = alignkit::token;
        const tk::outputs<T> out{alignkit::view_of(d.logp), alignkit::view_of(d.entropy),
                                 alignkit::matrix_view<T>(d.grad.data(), {tokens, vocab})};
        benchmark::DoNotOptimize(tk::logprob(policy, alignkit::matrix_view<const T>(d.z.data(), {tokens, vocab}), d.y,
                                             {}, out, tk::upstream<T>{ones<T>(tokens), ones<T>(tokens)}));
      },
      []<class T>(logprob_data<T>& d) {
    double loss = 0;
    for (index_t r = 0; r < tokens; ++r) {
      const T* z = d.z.data() + r * vocab;
      T* g = d.grad.data() + r * vocab;
      T m = z[0];
      for (index_t j = 1; j < vocab; ++j) m = std::max(m, z[j]);
      double s = 0, sz = 0;
      for (index_t j = 0; j < vocab; ++j) {
        const double e = std::exp(z[j] - m);
        s += e;
        sz += e * z[j];
      }
      const T lse = T(m + std::log(s)), h = T(lse - sz / s);
      for (index_t j = 0; j < vocab; ++j) {
        const T lp = z[j] - lse, p = std::exp(lp);
        g[j] = -p - p * (lp + h);
      }
      g[d.y[r]] += T(1);
      d.logp[r] = z[d.y[r]] - lse;
      d.entropy[r] = h;
      loss += d.logp[r] + h;
    }
    benchmark::DoNotOptimize(loss);
  });
  // Compute-bound (three GEMMs): float only, one call per measurement. The chunked head
  // (`alignkit`) next to the materialized path (`materialized`), both with Eigen's GEMM (OpenMP
  // threads here: the binary is built with -fopenmp), each with its peak extra memory; then both
  // through the CBLAS hook when scripts/bench.sh has put an optimized BLAS (the peer's OpenBLAS)
  // first on the library path (never on the reference BLAS: minutes a call).
  namespace lh = alignkit::token::linear_head;
  const auto w = linear_head_data<float>::counted();
  const bool blas = std::getenv("ALIGNKIT_BENCH_BLAS") != nullptr;
  for (int threads : {1, 2}) {
    auto head = [&](const char* impl, auto gemm, bool chunked) {
      add("linear_head_logprob", impl, "float", threads, w, [threads, gemm, chunked] {
        auto d = std::make_shared<linear_head_data<float>>();
        return [d, threads, gemm, chunked] {
          Eigen::setNbThreads(threads);
          omp_set_num_threads(threads);  // an OpenMP build of the BLAS takes its thread count from here
          with_policy(threads, [&](const auto& policy) {
            if (chunked)
              chunked_head(policy, *d, gemm);
            else
              materialized_head(policy, *d, gemm);
          });
        };
      })->Iterations(1)->Repetitions(1);
    };
    head("alignkit", lh::eigen_gemm{}, true);
    head("materialized", lh::eigen_gemm{}, false);
    if (blas) {
      head("alignkit_cblas", lh::cblas_gemm{}, true);
      head("materialized_cblas", lh::cblas_gemm{}, false);
    }
  }
  return true;
}();

}  // namespace
}  // namespace bench
