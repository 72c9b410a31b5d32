// DPO: every loss type against a naive formula, gradients wrt all four inputs by finite
// differences, extreme log-ratios, combinations, per-pair weights, token normalization, the
// bco_pair baseline, determinism across threads and the documented errors.
#include <alignkit/adapters/eigen.hpp>
#include <alignkit/adapters/xtensor.hpp>
#include <alignkit/alignkit.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include <doctest/doctest.h>
#include <xtensor/xtensor.hpp>

#include "finite_difference.hpp"

namespace dpo = alignkit::dpo;
using dpo::f_divergence;
using dpo::loss_type;
using alignkit::index_t;
using alignkit::view_of;
using vec = std::vector<double>;

namespace {

const std::vector<loss_type> all_types{loss_type::sigmoid,  loss_type::robust,       loss_type::hinge,
                                       loss_type::ipo,      loss_type::exo_pair,     loss_type::nca_pair,
                                       loss_type::sppo_hard, loss_type::aot,         loss_type::aot_unpaired,
                                       loss_type::apo_zero, loss_type::apo_down,     loss_type::discopop,
                                       loss_type::bco_pair, loss_type::sigmoid_norm};

vec random_vector(std::size_t n, std::uint32_t seed, double mean = 0, double scale = 2.0) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(mean, scale);
  vec v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Naive double formulas, written as in the papers (fine for the moderate inputs used here).
double ls(double x) { return -std::log1p(std::exp(-x)); }
double sg(double x) { return 1 / (1 + std::exp(-x)); }

struct batch {
  vec pc, pr, rc, rr, w, nc, nr;
};

double naive_h(double a, double b, const dpo::options& o) {
  switch (o.divergence) {
    case f_divergence::reverse_kl: return a - b;
    case f_divergence::js: return (a - b) - (std::log1p(std::exp(a)) - std::log1p(std::exp(b)));
    case f_divergence::forward_kl: return std::exp(-b) - std::exp(-a);
    case f_divergence::alpha: return (std::exp(-o.alpha * b) - std::exp(-o.alpha * a)) / o.alpha;
  }
  return 0;
}

double naive_pair(loss_type t, double a, double b, double A, double B, const dpo::options& o, double delta) {
  const double beta = o.beta, eps = o.label_smoothing, h = naive_h(a, b, o), z = beta * h;
  switch (t) {
    case loss_type::sigmoid:
    case loss_type::sigmoid_norm: return -(1 - eps) * ls(z) - eps * ls(-z);
    case loss_type::robust: return (-(1 - eps) * ls(z) + eps * ls(-z)) / (1 - 2 * eps);
    case loss_type::hinge: return std::max(0.0, 1 - z);
    case loss_type::ipo: return std::pow(h - 1 / (2 * beta), 2);
    case loss_type::exo_pair: {
      const double e = eps == 0 ? 1e-3 : eps;
      return sg(z) * (ls(z) - std::log(1 - e)) + sg(-z) * (ls(-z) - std::log(e));
    }
    case loss_type::nca_pair: return -ls(beta * A) - 0.5 * ls(-beta * A) - 0.5 * ls(-beta * B);
    case loss_type::sppo_hard: return std::pow(A - 1 / (2 * beta), 2) + std::pow(B + 1 / (2 * beta), 2);
    case loss_type::apo_zero: return (1 - sg(beta * a)) + sg(beta * b);
    case loss_type::apo_down: return sg(beta * a) + (1 - sg(beta * (a - b)));
    case loss_type::discopop: {
      const double mu = sg(z / o.discopop_tau);
      return -ls(z) * (1 - mu) + std::exp(-z) * mu;
    }
    case loss_type::bco_pair: return -ls(beta * A - delta) - ls(-(beta * B - delta));
    case loss_type::aot:
    case loss_type::aot_unpaired: break;
  }
  return 0;
}

/// The mean loss by the naive formulas; bco_pair's δ is given (it is detached).
double naive_loss(const batch& x, const dpo::options& o, double delta = 0) {
  const std::size_t n = x.pc.size();
  auto at = [](const vec& v, std::size_t i, double f) { return v.empty() ? f : v[i]; };
  const dpo::weighted_loss single{o.loss, 1.0};
  const auto terms = o.combination.empty() ? std::span<const dpo::weighted_loss>(&single, 1) : o.combination;
  double total = 0;
  for (const auto& k : terms) {
    if (k.type == loss_type::aot || k.type == loss_type::aot_unpaired) {
      vec l(n), r(n);
      for (std::size_t i = 0; i < n; ++i) {
        l[i] = k.type == loss_type::aot ? x.pc[i] - x.pr[i] : x.pc[i] - x.rc[i];
        r[i] = k.type == loss_type::aot ? x.rc[i] - x.rr[i] : x.pr[i] - x.rr[i];
      }
      std::sort(l.begin(), l.end());
      std::sort(r.begin(), r.end());
      for (std::size_t i = 0; i < n; ++i) {
        const double z = o.beta * (l[i] - r[i]);
        total += k.weight * (-(1 - o.label_smoothing) * ls(z) - o.label_smoothing * ls(-z));
      }
      continue;
    }
    const bool use_ref = !o.reference_free || k.type == loss_type::nca_pair || k.type == loss_type::sppo_hard ||
                         k.type == loss_type::bco_pair;
    for (std::size_t i = 0; i < n; ++i) {
      const double nc = std::max(1.0, at(x.nc, i, 1)), nr = std::max(1.0, at(x.nr, i, 1));
      const double a = (x.pc[i] - (use_ref ? x.rc[i] : 0)) / nc, b = (x.pr[i] - (use_ref ? x.rr[i] : 0)) / nr;
      total += k.weight * at(x.w, i, 1) * naive_pair(k.type, a, b, a, b, o, delta);
    }
  }
  return total / static_cast<double>(n);
}

batch random_batch(std::size_t n, std::uint32_t seed) {
  batch x{random_vector(n, seed, -40, 6), random_vector(n, seed + 1, -42, 6), random_vector(n, seed + 2, -41, 6),
          random_vector(n, seed + 3, -41, 6), {}, {}, {}};
  return x;
}

dpo::evaluation<double> run(const batch& x, const dpo::options& o) {
  const dpo::pair_inputs<double> extra{view_of(x.w), view_of(x.nc), view_of(x.nr)};
  return dpo::evaluate(x.pc, x.pr, x.rc, x.rr, o, extra);
}

/// Checks the four gradients of the kernel against central differences of `f`.
void check_all_gradients(const batch& x, const dpo::evaluation<double>& e,
                         const std::function<double(const batch&)>& f) {
  const std::array<std::pair<vec batch::*, const vec*>, 4> inputs{{{&batch::pc, &e.grad_policy_chosen},
                                                                  {&batch::pr, &e.grad_policy_rejected},
                                                                  {&batch::rc, &e.grad_ref_chosen},
                                                                  {&batch::rr, &e.grad_ref_rejected}}};
  for (const auto& input : inputs) {
    const auto member = input.first;  // a named variable: clang 14 cannot capture structured bindings
    alignkit_test::check_gradient(
        [&](const vec& v) {
          batch y = x;
          y.*member = v;
          return f(y);
        },
        x.*member, *input.second, 1e-5, 1e-9);
  }
}

}  // namespace

TEST_CASE("every loss type: value against the naive formula and four gradients by finite differences") {
  const std::size_t n = 13;  // not a multiple of any SIMD width: exercises the scalar tail
  batch x = random_batch(n, 11);
  for (auto type : all_types) {
    for (bool free : {false, true}) {
      for (double eps : {0.0, 0.2}) {
        CAPTURE(dpo::name(type));
        CAPTURE(free);
        CAPTURE(eps);
        batch y = x;
        if (type == loss_type::sigmoid_norm) {
          y.nc = random_vector(n, 5, 20, 8);
          y.nr = random_vector(n, 6, 20, 8);
          for (auto& c : y.nc) c = std::round(std::abs(c));
        }
        const dpo::options o{.beta = 0.3, .loss = type, .label_smoothing = eps, .reference_free = free};
        const auto e = run(y, o);
        const double delta = 0;  // bco_pair without a baseline state (TRL HEAD)
        CHECK(e.metrics.loss == doctest::Approx(naive_loss(y, o, delta)).epsilon(1e-12));
        double sum = 0;
        for (double l : e.losses) sum += l;
        CHECK(sum / n == doctest::Approx(e.metrics.loss).epsilon(1e-13));
        check_all_gradients(y, e, [&](const batch& z) { return naive_loss(z, o, delta); });
      }
    }
  }
}

TEST_CASE("f-divergences: js, forward KL and alpha against the naive formula and finite differences") {
  const std::size_t n = 11;
  batch x = random_batch(n, 21);
  for (auto& v : {&x.pc, &x.pr}) {
    const auto& ref = v == &x.pc ? x.rc : x.rr;
    for (std::size_t i = 0; i < n; ++i) (*v)[i] = ref[i] + random_vector(n, 30 + static_cast<std::uint32_t>(i))[i] * 0.5;
  }
  for (auto div : {f_divergence::js, f_divergence::forward_kl, f_divergence::alpha}) {
    for (auto type : {loss_type::sigmoid, loss_type::robust, loss_type::hinge, loss_type::ipo, loss_type::exo_pair,
                      loss_type::discopop}) {
      CAPTURE(dpo::name(type));
      CAPTURE(static_cast<int>(div));
      const dpo::options o{.beta = 0.5, .loss = type, .label_smoothing = 0.1, .divergence = div, .alpha = 0.7};
      const auto e = run(x, o);
      CHECK(e.metrics.loss == doctest::Approx(naive_loss(x, o)).epsilon(1e-12));
      check_all_gradients(x, e, [&](const batch& z) { return naive_loss(z, o); });
    }
  }
}

TEST_CASE("a weighted combination with per-pair weights and token counts in one pass") {
  const std::size_t n = 17;
  batch x = random_batch(n, 41);
  x.w = random_vector(n, 42, 1, 0.3);
  x.nc = random_vector(n, 43, 30, 10);
  x.nr = random_vector(n, 44, 30, 10);
  const std::vector<dpo::weighted_loss> mix{{loss_type::sigmoid, 0.8}, {loss_type::nca_pair, 0.3},
                                            {loss_type::ipo, 0.05}, {loss_type::apo_down, 0.5}};
  for (bool free : {false, true}) {
    for (auto div : {f_divergence::reverse_kl, f_divergence::js, f_divergence::alpha}) {
      CAPTURE(free);
      if (free && div == f_divergence::alpha) continue;  // e^{−α·πc} of a raw sum overflows the naive formula
      const dpo::options o{.beta = 0.2, .combination = mix, .reference_free = free, .divergence = div};
      const auto e = run(x, o);
      CHECK(e.metrics.loss == doctest::Approx(naive_loss(x, o)).epsilon(1e-12));
      check_all_gradients(x, e, [&](const batch& z) { return naive_loss(z, o); });
      // The combination equals the weighted sum of the single types.
      double sum = 0;
      for (const auto& k : mix) {
        dpo::options single = o;
        single.combination = {};
        single.loss = k.type;
        sum += k.weight * run(x, single).metrics.loss;
      }
      CHECK(e.metrics.loss == doctest::Approx(sum).epsilon(1e-13));
    }
  }
}

TEST_CASE("metrics: rewards always use the reference, accuracy is strict, total_pairs scales the loss") {
  const vec pc{-10, -12, -9, -20}, pr{-11, -12, -15, -18}, rc{-10.5, -12, -9.5, -19}, rr{-10.5, -12, -14, -19};
  const auto e = dpo::evaluate(pc, pr, rc, rr, {.beta = 0.5, .reference_free = true});
  double cr = 0, rj = 0, acc = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(e.chosen_rewards[i] == 0.5 * (pc[i] - rc[i]));
    CHECK(e.rejected_rewards[i] == 0.5 * (pr[i] - rr[i]));
    cr += e.chosen_rewards[i];
    rj += e.rejected_rewards[i];
    acc += e.chosen_rewards[i] > e.rejected_rewards[i];
  }
  CHECK(e.metrics.chosen_reward == doctest::Approx(cr / 4));
  CHECK(e.metrics.rejected_reward == doctest::Approx(rj / 4));
  CHECK(e.metrics.accuracy == acc / 4);
  CHECK(e.metrics.margin == doctest::Approx((cr - rj) / 4));
  CHECK(e.metrics.pairs == 4);
  for (double g : e.grad_ref_chosen) CHECK(g == 0.0);  // reference-free sigmoid ignores ρ
  const auto half = dpo::evaluate(pc, pr, rc, rr, {.beta = 0.5, .reference_free = true, .total_pairs = 8.0});
  CHECK(half.metrics.loss == doctest::Approx(e.metrics.loss / 2).epsilon(1e-15));
  CHECK(half.grad_policy_chosen[1] == doctest::Approx(e.grad_policy_chosen[1] / 2).epsilon(1e-15));
}

TEST_CASE("bco_pair carries its running reward baseline across calls") {
  const std::size_t n = 9;
  const batch x1 = random_batch(n, 51), x2 = random_batch(n, 61);
  dpo::reward_baseline state;
  const dpo::options o{.beta = 0.2, .loss = loss_type::bco_pair, .baseline = &state};
  auto batch_mean = [&](const batch& x) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += o.beta * ((x.pc[i] - x.rc[i]) + (x.pr[i] - x.rr[i]));
    return s / (2.0 * n);
  };
  const dpo::options stateless{.beta = 0.2, .loss = loss_type::bco_pair};
  CHECK(run(x1, stateless).metrics.loss == doctest::Approx(naive_loss(x1, stateless, 0.0)).epsilon(1e-12));
  const auto e1 = run(x1, o);
  CHECK(state.count == 1);
  CHECK(e1.metrics.loss == doctest::Approx(naive_loss(x1, o, batch_mean(x1))).epsilon(1e-12));
  CHECK(state.mean == doctest::Approx(batch_mean(x1)).epsilon(1e-14));
  const auto e2 = run(x2, o);
  const double delta = (batch_mean(x1) + batch_mean(x2)) / 2;
  CHECK(state.count == 2);
  CHECK(state.mean == doctest::Approx(delta).epsilon(1e-14));
  CHECK(e2.metrics.loss == doctest::Approx(naive_loss(x2, o, delta)).epsilon(1e-12));
}

TEST_CASE_TEMPLATE("log-ratio differences of ±500 and beta from 0.01 to 1 stay finite", T, float, double) {
  // Pairs whose h, a and b reach ±500, including a = ±500 with b = 0 and mixed signs.
  const std::vector<T> pc{-500, 0, -1000, -1, -600, -100}, pr{0, -500, -1, -1000, -100, -600};
  const std::vector<T> rc{0, -500, -500, -501, -100, -600}, rr{-500, 0, -501, -500, -600, -100};
  const std::vector<T> tokens{1, 7, 300, 1, 2, 50};
  for (auto type : all_types) {
    for (auto div : {f_divergence::reverse_kl, f_divergence::js, f_divergence::forward_kl, f_divergence::alpha}) {
      for (double beta : {0.01, 0.1, 0.5, 1.0}) {
        for (bool free : {false, true}) {
          CAPTURE(dpo::name(type));
          CAPTURE(static_cast<int>(div));
          CAPTURE(beta);
          const dpo::options o{.beta = beta, .loss = type, .label_smoothing = 0.1, .reference_free = free,
                               .divergence = div, .alpha = 0.5};
          const dpo::pair_inputs<T> extra{{}, type == loss_type::sigmoid_norm ? view_of(tokens) : alignkit::vector_view<const T>{},
                                          type == loss_type::sigmoid_norm ? view_of(tokens) : alignkit::vector_view<const T>{}};
          const auto e = dpo::evaluate(pc, pr, rc, rr, o, extra);
          CHECK(std::isfinite(e.metrics.loss));
          for (std::size_t i = 0; i < pc.size(); ++i) {
            CHECK(std::isfinite(e.losses[i]));
            CHECK(std::isfinite(e.grad_policy_chosen[i]));
            CHECK(std::isfinite(e.grad_policy_rejected[i]));
            CHECK(std::isfinite(e.grad_ref_chosen[i]));
            CHECK(std::isfinite(e.grad_ref_rejected[i]));
          }
        }
      }
    }
  }
}

TEST_CASE("known values at the extremes") {
  // sigmoid at βh = ±50: softplus(50) = 50 + log1p(e^-50), softplus(-50) = e^-50 to double precision.
  const vec pc{-500, 0}, pr{0, -500}, zero{0, 0};
  const auto e = dpo::evaluate(pc, pr, zero, zero, {.beta = 0.1});
  CHECK(e.losses[0] == doctest::Approx(50.0).epsilon(1e-15));
  CHECK(e.losses[1] == doctest::Approx(std::exp(-50.0)).epsilon(1e-12));
  CHECK(e.grad_policy_chosen[0] == doctest::Approx(-0.1 / 2).epsilon(1e-15));
  // discopop at z = −50: the exponential term vanishes (0·e^50, not inf·0).
  const auto d = dpo::evaluate(pc, pr, zero, zero, {.beta = 0.1, .loss = loss_type::discopop});
  CHECK(d.losses[0] == doctest::Approx(50.0).epsilon(1e-15));
  const std::vector<float> pcf{-500, 0}, prf{0, -500}, zf{0, 0};
  const auto df = dpo::evaluate(pcf, prf, zf, zf, {.beta = 1.0, .loss = loss_type::discopop});
  CHECK(df.losses[0] == doctest::Approx(500.0).epsilon(1e-6));
  CHECK(std::isfinite(df.grad_policy_chosen[0]));
}

TEST_CASE_TEMPLATE("the same result on every tensor type and strided outputs", T, float, double) {
  const auto x = random_batch(6, 71);
  const auto want = dpo::evaluate(x.pc, x.pr, x.rc, x.rr);
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-15;
  const std::vector<T> pc(x.pc.begin(), x.pc.end()), pr(x.pr.begin(), x.pr.end()), rc(x.rc.begin(), x.rc.end()),
      rr(x.rr.begin(), x.rr.end());
  Eigen::Array<T, Eigen::Dynamic, 1> epc = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(pc.data(), 6);
  xt::xtensor<T, 1> xpr = xt::xtensor<T, 1>::from_shape({6});
  std::copy(pr.begin(), pr.end(), xpr.begin());
  std::vector<T> interleaved;
  for (std::size_t i = 0; i < 6; ++i) interleaved.insert(interleaved.end(), {rc[i], rr[i]});
  const alignkit::vector_view<const T> vrc(interleaved.data(), {6}, {2}), vrr(interleaved.data() + 1, {6}, {2});
  std::vector<T> grads(12, T(-7));
  const auto got = dpo::loss(epc, xpr, vrc, vrr, {}, dpo::outputs<T>{{}, alignkit::vector_view<T>(grads.data(), {6}, {2})});
  CHECK(got.loss == doctest::Approx(want.metrics.loss).epsilon(tol));
  CHECK(got.accuracy == want.metrics.accuracy);
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(grads[2 * i] == doctest::Approx(want.grad_policy_chosen[i]).epsilon(tol));
    CHECK(grads[2 * i + 1] == T(-7));
  }
}

TEST_CASE("strided inputs and outputs give bitwise the results of contiguous ones") {
  const std::size_t n = 45;  // full batches of every instruction set, and a tail
  const auto x = random_batch(n, 91);
  const std::vector<float> pc(x.pc.begin(), x.pc.end()), pr(x.pr.begin(), x.pr.end()), rc(x.rc.begin(), x.rc.end()),
      rr(x.rr.begin(), x.rr.end());
  std::vector<float> w(n), nc(n), nr(n), spread(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = 0.5f + 0.01f * static_cast<float>(i);
    nc[i] = static_cast<float>(1 + i % 7);
    nr[i] = static_cast<float>(2 + i % 5);
    spread[2 * i] = rr[i];
  }
  const alignkit::vector_view<const float> rr_strided(spread.data(), {static_cast<index_t>(n)}, {2});
  for (auto type : all_types) {
    if (type == loss_type::aot || type == loss_type::aot_unpaired) continue;  // not the fused pass
    CAPTURE(dpo::name(type));
    const dpo::options o{.loss = type};
    const dpo::pair_inputs<float> extra{view_of(w), view_of(nc), view_of(nr)};
    std::vector<std::vector<float>> unit(7, std::vector<float>(n)), strided(7, std::vector<float>(2 * n));
    const dpo::outputs<float> out_unit{view_of(unit[0]), view_of(unit[1]), view_of(unit[2]), view_of(unit[3]),
                                       view_of(unit[4]), view_of(unit[5]), view_of(unit[6])};
    auto every_other = [&](std::vector<float>& v) {
      return alignkit::vector_view<float>(v.data(), {static_cast<index_t>(n)}, {2});
    };
    const dpo::outputs<float> out_strided{every_other(strided[0]), every_other(strided[1]), every_other(strided[2]),
                                          every_other(strided[3]), every_other(strided[4]), every_other(strided[5]),
                                          every_other(strided[6])};
    const auto a = dpo::loss(pc, pr, rc, rr, o, out_unit, extra);
    const auto b = dpo::loss(pc, pr, rc, rr_strided, o, out_strided, extra);
    CHECK(a.loss == b.loss);
    CHECK(a.chosen_reward == b.chosen_reward);
    CHECK(a.rejected_reward == b.rejected_reward);
    CHECK(a.accuracy == b.accuracy);
    for (std::size_t k = 0; k < 7; ++k)
      for (std::size_t i = 0; i < n; ++i) CHECK(unit[k][i] == strided[k][2 * i]);
  }
}

TEST_CASE("exec::par on 2 threads is bitwise equal to exec::seq") {
  const std::size_t n = 40'003;  // three chunks of 2^14
  const auto x = random_batch(n, 81);
  const std::vector<float> pc(x.pc.begin(), x.pc.end()), pr(x.pr.begin(), x.pr.end()), rc(x.rc.begin(), x.rc.end()),
      rr(x.rr.begin(), x.rr.end());
  const std::vector<dpo::weighted_loss> mix{{loss_type::sigmoid, 1.0}, {loss_type::bco_pair, 0.5}};
  for (auto type : all_types) {
    for (bool combined : {false, true}) {
      CAPTURE(dpo::name(type));
      const dpo::options o{.loss = type, .combination = combined ? std::span<const dpo::weighted_loss>(mix)
                                                                   : std::span<const dpo::weighted_loss>{}};
      const dpo::pair_inputs<float> extra{{}, view_of(pc), view_of(pr)};  // counts below 1 count as 1
      const auto ex = type == loss_type::sigmoid_norm ? extra : dpo::pair_inputs<float>{};
      std::vector<std::vector<float>> s(7, std::vector<float>(n)), p(7, std::vector<float>(n));
      auto outs = [](std::vector<std::vector<float>>& v) {
        return dpo::outputs<float>{view_of(v[0]), view_of(v[1]), view_of(v[2]), view_of(v[3]),
                                   view_of(v[4]), view_of(v[5]), view_of(v[6])};
      };
      dpo::reward_baseline base_s{0.3, 2}, base_p{0.3, 2};  // bco_pair's extra pass runs too
      dpo::options os = o, op = o;
      os.baseline = &base_s;
      op.baseline = &base_p;
      const auto rs = dpo::loss(alignkit::exec::seq, pc, pr, rc, rr, os, outs(s), ex);
      const auto rp = dpo::loss(alignkit::exec::par.with(2), pc, pr, rc, rr, op, outs(p), ex);
      CHECK(base_s.mean == base_p.mean);
      CHECK(rs.loss == rp.loss);
      CHECK(rs.chosen_reward == rp.chosen_reward);
      CHECK(rs.accuracy == rp.accuracy);
      CHECK(rs.margin == rp.margin);
      CHECK(s == p);
    }
  }
}

TEST_CASE("WPO weights: min(1, exp(c + r)) of the adjusted per-token means, used as per-pair weights") {
  const vec c{-0.2, -1.5, 0.3, -0.05}, r{-0.4, -2.0, 0.1, -3.0};
  vec w(4);
  const double mean = dpo::wpo_weights(alignkit::exec::seq, c, r, w);
  double sum = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(w[i] == doctest::Approx(std::min(1.0, std::exp(c[i] + r[i]))).epsilon(1e-15));
    sum += w[i];
  }
  CHECK(w[2] == 1.0);
  CHECK(mean == doctest::Approx(sum / 4).epsilon(1e-15));
  batch x = random_batch(4, 91);
  x.w = w;
  CHECK(run(x, {}).metrics.loss == doctest::Approx(naive_loss(x, {})).epsilon(1e-13));
  vec short_w(3);
  CHECK_THROWS_WITH_AS(dpo::wpo_weights(alignkit::exec::seq, c, r, short_w),
                       "[alignkit.shape_error.101] dpo::wpo_weights: weights has 3 elements, chosen_means has 4",
                       alignkit::shape_error);
}

TEST_CASE("half and bfloat16 log-probs are read as float: finite at 500-nat differences") {
  const std::vector<float> pcf{-500, -20, -1000, -64}, prf{-20, -500, -512, -60}, rcf{-260, -20, -900, -62},
      rrf{-20, -260, -600, -61};
  Eigen::Matrix<Eigen::half, Eigen::Dynamic, 1> pc(4), pr(4), rc(4), rr(4);
  Eigen::Matrix<Eigen::bfloat16, Eigen::Dynamic, 1> pcb(4), prb(4), rcb(4), rrb(4);
  for (int i = 0; i < 4; ++i) {
    const auto k = static_cast<std::size_t>(i);
    pc(i) = Eigen::half(pcf[k]);
    pr(i) = Eigen::half(prf[k]);
    rc(i) = Eigen::half(rcf[k]);
    rr(i) = Eigen::half(rrf[k]);
    pcb(i) = Eigen::bfloat16(pcf[k]);
    prb(i) = Eigen::bfloat16(prf[k]);
    rcb(i) = Eigen::bfloat16(rcf[k]);
    rrb(i) = Eigen::bfloat16(rrf[k]);
  }
  for (auto type : all_types) {
    if (type == loss_type::sigmoid_norm) continue;
    CAPTURE(dpo::name(type));
    const dpo::options o{.beta = 1.0, .loss = type, .label_smoothing = 0.1};
    const auto want = dpo::loss(pcf, prf, rcf, rrf, o);  // every value is exact in half and bfloat16
    std::vector<float> g(4);
    const auto half = dpo::loss(pc, pr, rc, rr, o, dpo::outputs<float>{{}, view_of(g)});
    CHECK(half.loss == doctest::Approx(want.loss).epsilon(1e-6));
    CHECK(dpo::loss(pcb, prb, rcb, rrb, o).loss == doctest::Approx(want.loss).epsilon(1e-6));
    for (float x : g) CHECK(std::isfinite(x));
  }
}

TEST_CASE("bad input raises the documented errors") {
  const vec c(8, -1.0), r7(7, -2.0), r8(8, -2.0), empty;
  CHECK_THROWS_WITH_AS(dpo::loss(c, r7, c, r8),
                       "[alignkit.shape_error.101] dpo::loss: policy_rejected has 7 elements, policy_chosen has 8",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r7),
                       "[alignkit.shape_error.101] dpo::loss: ref_rejected has 7 elements, policy_chosen has 8",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(dpo::loss(empty, empty, empty, empty),
                       "[alignkit.shape_error.102] dpo::loss: policy_chosen is empty; at least one element is required",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {.beta = 0}),
                       "[alignkit.domain_error.202] dpo::loss: beta is 0, expected a value in (0, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {.beta = -0.5}),
                       "[alignkit.domain_error.202] dpo::loss: beta is -0.5, expected a value in (0, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {.label_smoothing = 0.6}),
                       "[alignkit.domain_error.202] dpo::loss: label_smoothing is 0.59999999999999998, expected a value "
                       "in [0, 0.5]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {.label_smoothing = -0.1}),
                       "[alignkit.domain_error.202] dpo::loss: label_smoothing is -0.10000000000000001, expected a "
                       "value in [0, 0.5]",
                       alignkit::domain_error);
  CHECK_NOTHROW(dpo::loss(c, r8, c, r8, {.label_smoothing = 0.5}));
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {.loss = loss_type::robust, .label_smoothing = 0.5}),
                       "[alignkit.domain_error.202] dpo::loss: label_smoothing is 0.5, expected a value in [0, 0.5)",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {.divergence = f_divergence::alpha, .alpha = 0}),
                       "[alignkit.domain_error.202] dpo::loss: alpha is 0, expected a value in (0, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {.loss = loss_type::sigmoid_norm}),
                       "[alignkit.shape_error.110] dpo::loss: loss type sigmoid_norm needs chosen_tokens and "
                       "rejected_tokens",
                       alignkit::shape_error);
  const std::vector<dpo::weighted_loss> mix{{loss_type::sigmoid, 1}, {loss_type::aot, 1}};
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {.combination = mix}),
                       "[alignkit.domain_error.210] dpo::loss: loss type aot sorts the batch and cannot be part of a "
                       "combination",
                       alignkit::domain_error);
  const dpo::pair_inputs<double> weighted{view_of(r8)};
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {.loss = loss_type::aot_unpaired}, {}, weighted),
                       "[alignkit.domain_error.210] dpo::loss: loss type aot_unpaired sorts the batch and takes no "
                       "per-pair weights or token counts",
                       alignkit::domain_error);
  const dpo::pair_inputs<double> short_weights{view_of(r7)};
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {}, {}, short_weights),
                       "[alignkit.shape_error.101] dpo::loss: weights has 7 elements, policy_chosen has 8",
                       alignkit::shape_error);
  vec short_out(3);
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, c, r8, {}, dpo::outputs<double>{{}, {}, {}, view_of(short_out)}),
                       "[alignkit.shape_error.101] dpo::loss: grad_ref_chosen has 3 elements, policy_chosen has 8",
                       alignkit::shape_error);
  vec bad = r8;
  bad[2] = INFINITY;
  CHECK_NOTHROW(dpo::loss(c, r8, bad, r8));
  CHECK_THROWS_WITH_AS(dpo::loss(c, r8, bad, r8, {.check_finite = true}),
                       "[alignkit.domain_error.201] dpo::loss: ref_chosen[2] is inf, expected a finite value",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(dpo::parse_loss_type("kto"), "[alignkit.domain_error.211] dpo::parse_loss_type: unknown loss type 'kto'",
                       alignkit::domain_error);
  CHECK(dpo::parse_loss_type("aot_pair") == loss_type::aot_unpaired);
  for (auto t : all_types) CHECK(dpo::parse_loss_type(dpo::name(t)) == t);
}
