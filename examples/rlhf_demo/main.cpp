// The flagship demo: the whole preference-alignment pipeline on a toy world small enough that
// every response can be enumerated, so every number below is exact rather than sampled.
//
//   world        a tabular softmax reference policy over 1–3 token responses to 4 prompts and
//                a hidden gold reward (helpful + harmless + honest + a length term)
//   annotate     simulated annotators with noise, a length bias and one spammer; Fleiss' kappa
//                QC, removal of the annotator who disagrees, disagreement filtering
//   reward model a Bradley–Terry reward model on the majority labels; calibration of its
//                preference probabilities before and after temperature scaling
//   optimize     from the same reference policy, against the proxy reward or its data: PPO
//                (KL-shaped rewards, GAE, critic), GRPO, DPO and KTO, each over a β grid
//   overoptimize exact best-of-n and a PPO run with a small β: proxy vs gold against sqrt(KL)
//   rlaif        labels from a position-biased AI judge asked in both orders, then DPO
//   constitution critique → revise against "never emit token X", then DPO on the pairs
//   abstention   a risk–coverage threshold turns low-confidence answers into "I don't know";
//                selective accuracy, coverage and AURC before and after
//
// Output: a progress line per phase, a final table, and CSV files in --out (plots.py draws them).
// Flags: --seed N, --beta B (the β of the table), --steps N (optimizer steps), --out DIR,
// --quick (a smaller run, used as a test).
#include <alignkit/evaluation/abstention.hpp>
#include <alignkit/evaluation/agreement.hpp>
#include <alignkit/evaluation/calibration.hpp>
#include <alignkit/evaluation/temperature_scaling.hpp>
#include <alignkit/io/preference_data.hpp>
#include <alignkit/pipelines/constitutional_ai.hpp>
#include <alignkit/pipelines/dpo_step.hpp>
#include <alignkit/pipelines/grpo_step.hpp>
#include <alignkit/pipelines/kto_step.hpp>
#include <alignkit/pipelines/ppo_step.hpp>
#include <alignkit/pipelines/reward_model_step.hpp>
#include <alignkit/pipelines/rlaif.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "toy_world.hpp"

namespace pl = alignkit::pipelines;
using batch = pl::preference_batch<int, toy::response>;

namespace {

struct config {
  std::uint64_t seed = 1;
  double beta = 1.0;
  int steps = 200;
  int pairs = 800;
  std::string out = "build/demo";
};

config parse(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--seed") c.seed = std::stoull(next());
    else if (a == "--beta") c.beta = std::stod(next());
    else if (a == "--steps") c.steps = std::stoi(next());
    else if (a == "--out") c.out = next();
    else if (a == "--quick") c.steps = 30, c.pairs = 200;
    else {
      std::fprintf(stderr, "usage: rlhf_demo [--seed N] [--beta B] [--steps N] [--out DIR] [--quick]\n");
      std::exit(a == "--help" ? 0 : 2);
    }
  }
  return c;
}

constexpr int n_prompts = 4;

std::string text(const toy::response& y) {
  static const char* names[] = {"A0", "A1", "A2", "A3", "X", "hedge"};
  std::string s;
  for (int t : y) s += (s.empty() ? "" : " ") + std::string(names[t]);
  return s;
}

// Exact statistics of a policy, averaged over the prompts.
struct stats {
  double gold = 0, proxy = 0, kl = 0, p_forbidden = 0, length = 0;
};

stats evaluate(const toy::tabular_policy& pi, const toy::tabular_policy& ref, const toy::linear_reward_model& rm) {
  stats s;
  const auto& all = toy::all_responses();
  for (int x = 0; x < n_prompts; ++x) {
    const auto p = pi.distribution(x);
    const std::vector<int> xs(all.size(), x);
    const auto proxy = rm.score(xs, all);
    s.kl += toy::kl(p, ref.distribution(x)) / n_prompts;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const double w = p[i] / n_prompts;
      s.gold += w * toy::gold_total(x, all[i]);
      s.proxy += w * proxy[i];
      s.length += w * static_cast<double>(all[i].size());
      s.p_forbidden += std::count(all[i].begin(), all[i].end(), toy::forbidden) ? w : 0.0;
    }
  }
  return s;
}

struct row {
  std::string method;
  double beta;
  stats s;
};

// ---- annotation -----------------------------------------------------------------------------

struct annotator {
  double tau;      // noise temperature
  bool spammer;    // labels at random
};

// Annotators like long answers more than the gold reward does (+1.2 per token), catch only 30 %
// of the cost of a wrong answer (+0.7 per wrong answer token) and do not mind repetition (+1 per
// repeated token): the reward model learns these biases.
constexpr double length_bias = 1.2, missed_wrong_answer = 0.7, missed_repetition = 1.0;

int annotate(const annotator& a, int x, const toy::response& first, const toy::response& second, std::mt19937_64& g) {
  if (a.spammer) return std::bernoulli_distribution(0.5)(g) ? 0 : 1;
  const auto u = [&](const toy::response& y) {
    const auto f = toy::features(x, y);
    return toy::gold_total(x, y) + length_bias * f(5) + missed_wrong_answer * f(1) + missed_repetition * f(6);
  };
  const double p_first = 1 / (1 + std::exp(-(u(first) - u(second)) / a.tau));
  return std::bernoulli_distribution(p_first)(g) ? 0 : 1;  // label 0: first preferred
}

struct candidates {
  std::vector<int> prompts;
  std::vector<toy::response> first, second;
};

candidates sample_pairs(toy::tabular_policy& ref, int n) {
  candidates c;
  while (static_cast<int>(c.prompts.size()) < n) {
    const std::vector<int> xs{static_cast<int>(c.prompts.size() % n_prompts)};
    const auto a = ref.sample(xs)[0], b = ref.sample(xs)[0];
    if (a == b) continue;
    c.prompts.push_back(xs[0]);
    c.first.push_back(a);
    c.second.push_back(b);
  }
  return c;
}

// ---- optimization ---------------------------------------------------------------------------

toy::tabular_policy train_dpo(const toy::tabular_policy& ref, const batch& data, double beta, int steps) {
  toy::tabular_policy pi = ref;
  pi.zero_moments();
  for (int it = 0; it < steps; ++it) {
    pl::dpo_step(pi, ref, data, {.beta = beta});
    pi.apply(0.05);
  }
  return pi;
}

toy::tabular_policy train_kto(const toy::tabular_policy& ref, const batch& data, double beta, int steps) {
  pl::unpaired_batch<int, toy::response> unpaired;  // chosen → desirable, rejected → undesirable
  for (std::size_t i = 0; i < data.prompts.size(); ++i) {
    unpaired.push_back(data.prompts[i], data.chosen[i], true);
    unpaired.push_back(data.prompts[i], data.rejected[i], false);
  }
  toy::tabular_policy pi = ref;
  pi.zero_moments();
  for (int it = 0; it < steps; ++it) {
    pl::kto_step(pi, ref, unpaired, {.beta = beta});
    pi.apply(0.05);
  }
  return pi;
}

// Online RL against the proxy reward model; `trace` (if given) receives (step, policy) every 10 steps.
template <class Trace>
toy::tabular_policy train_ppo(const toy::tabular_policy& ref, const toy::linear_reward_model& rm, double beta,
                              int steps, std::uint64_t seed, const Trace& trace) {
  toy::tabular_policy pi = ref;
  pi.zero_moments();
  pi.reseed(seed);
  toy::tabular_critic critic(n_prompts);
  alignkit::kl::fixed_kl_controller coef{beta};
  std::vector<int> prompts;
  for (int i = 0; i < 128; ++i) prompts.push_back(i % n_prompts);
  const pl::ppo_rlhf_options opts{.advantage = {.gamma = 1.0, .lam = 0.95, .whiten = alignkit::whitening::options{}}};
  for (int it = 0; it < steps; ++it) {
    auto s = pl::ppo_step(pi, ref, rm, critic, std::span<const int>(prompts), coef, opts);
    pi.apply(0.05);
    critic.apply(0.5);
    pl::ppo_update(pi, critic, s.experience, opts);
    pi.apply(0.05);
    critic.apply(0.5);
    if ((it + 1) % 10 == 0) trace(it + 1, pi);
  }
  return pi;
}

toy::tabular_policy train_grpo(const toy::tabular_policy& ref, const toy::linear_reward_model& rm, double beta,
                               int steps, std::uint64_t seed) {
  toy::tabular_policy pi = ref;
  pi.zero_moments();
  pi.reseed(seed);
  std::vector<int> prompts;
  for (int i = 0; i < 8; ++i) prompts.push_back(i % n_prompts);
  const pl::grpo_rlvr_options opts{.group_size = 16, .kl_in_reward = beta};
  for (int it = 0; it < steps; ++it) {
    pl::grpo_step(pi, ref, rm, std::span<const int>(prompts), opts);
    pi.apply(0.05);
  }
  return pi;
}

// Best-of-n against the proxy, exactly: with responses sorted by proxy score and F the
// reference CDF, P(best = y) = F(y)^n − F(y⁻)^n; its KL to the reference is exact too.
std::vector<double> best_of_n(const std::vector<double>& ref, const std::vector<double>& proxy, double n) {
  std::vector<std::size_t> order(ref.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return proxy[a] < proxy[b]; });
  std::vector<double> p(ref.size());
  double cdf = 0;
  for (std::size_t i : order) {
    const double next = cdf + ref[i];
    p[i] = std::pow(std::min(next, 1.0), n) - std::pow(cdf, n);
    cdf = next;
  }
  return p;
}

void print_row(const row& r) {
  std::printf("  %-22s %6.3f %8.3f %8.3f %8.3f %8.3f %7.2f\n", r.method.c_str(), r.beta, r.s.gold, r.s.proxy, r.s.kl,
              r.s.p_forbidden, r.s.length);
}

}  // namespace

int main(int argc, char** argv) {
  const config cfg = parse(argc, argv);
  const auto t0 = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  std::filesystem::create_directories(cfg.out);
  std::mt19937_64 rng(cfg.seed);
  std::vector<row> table;

  // 1. world
  toy::tabular_policy reference(n_prompts, 1.0, cfg.seed);
  const toy::linear_reward_model no_rm;
  const stats ref_stats = evaluate(reference, reference, no_rm);
  std::printf("[1/8] world: %d prompts x %zu responses; reference gold %.3f, P(X) %.3f, length %.2f (%.1fs)\n",
              n_prompts, toy::all_responses().size(), ref_stats.gold, ref_stats.p_forbidden, ref_stats.length,
              elapsed());

  // 2. annotate, with QC
  const std::vector<annotator> crowd{{0.5, false}, {0.8, false}, {1.0, false}, {1.5, false}, {1.0, true}};
  const candidates cand = sample_pairs(reference, cfg.pairs);
  std::vector<alignkit::io::annotation> labels;
  for (std::size_t i = 0; i < cand.prompts.size(); ++i)
    for (std::size_t k = 0; k < crowd.size(); ++k)
      labels.push_back({"pair-" + std::to_string(i), "annotator-" + std::to_string(k),
                        annotate(crowd[k], cand.prompts[i], cand.first[i], cand.second[i], rng)});
  {
    std::ofstream f(cfg.out + "/annotations.jsonl");
    alignkit::io::write_annotations(f, labels);
  }
  std::ifstream annotations_in(cfg.out + "/annotations.jsonl");
  const auto table_in = alignkit::io::read_annotations(annotations_in);
  // votes[i][k]: annotator k's label of pair i.
  std::vector<std::vector<int>> votes(cand.prompts.size(), std::vector<int>(crowd.size()));
  for (const auto& a : table_in)
    votes[std::stoul(a.item.substr(5))][std::stoul(a.annotator.substr(10))] = a.label;
  const auto counts = alignkit::io::count_labels(table_in);
  const alignkit::matrix_view<const double> count_table(counts.counts.data(),
                                                        {static_cast<alignkit::index_t>(counts.items.size()), counts.categories});
  const double kappa_all = alignkit::agreement::fleiss_kappa(alignkit::exec::seq, count_table).kappa;
  // Each annotator's agreement with the majority of the others; drop those near chance.
  std::vector<bool> keep_annotator(crowd.size());
  std::printf("[2/8] annotate: %zu pairs x %zu annotators; agreement with the others' majority:", cand.prompts.size(),
              crowd.size());
  for (std::size_t k = 0; k < crowd.size(); ++k) {
    double agree = 0;
    for (const auto& v : votes) {
      int ones = 0;
      for (std::size_t j = 0; j < crowd.size(); ++j) ones += j != k && v[j] == 1;
      const int others = static_cast<int>(crowd.size()) - 1;
      if (2 * ones != others) agree += (2 * ones > others) == (v[k] == 1);
    }
    agree /= static_cast<double>(votes.size());
    keep_annotator[k] = agree > 0.6;
    std::printf(" %.2f%s", agree, keep_annotator[k] ? "" : " (dropped)");
  }
  std::vector<double> kept_counts;
  for (const auto& v : votes) {
    double ones = 0, n = 0;
    for (std::size_t k = 0; k < crowd.size(); ++k)
      if (keep_annotator[k]) n += 1, ones += v[k];
    kept_counts.push_back(n - ones);
    kept_counts.push_back(ones);
  }
  const double kappa_kept = alignkit::agreement::fleiss_kappa(
      alignkit::exec::seq, alignkit::matrix_view<const double>(kept_counts.data(), {static_cast<alignkit::index_t>(votes.size()), 2})).kappa;
  batch rm_data;
  for (std::size_t i = 0; i < votes.size(); ++i) {
    int n = 0, ones = 0;
    for (std::size_t k = 0; k < crowd.size(); ++k)
      if (keep_annotator[k]) ++n, ones += votes[i][k];
    const double majority = std::max(ones, n - ones) / static_cast<double>(n);
    if (majority < 0.75) continue;  // disagreement filtering
    const bool first_wins = 2 * ones < n;
    rm_data.push_back(cand.prompts[i], first_wins ? cand.first[i] : cand.second[i],
                      first_wins ? cand.second[i] : cand.first[i]);
  }
  std::printf("; Fleiss kappa %.3f -> %.3f; kept %td of %zu pairs (%.1fs)\n", kappa_all, kappa_kept, rm_data.size(),
              votes.size(), elapsed());
  {
    std::vector<alignkit::io::pairwise_record> records;
    for (alignkit::index_t i = 0; i < rm_data.size(); ++i) {
      const auto k = static_cast<std::size_t>(i);
      records.push_back({"prompt-" + std::to_string(rm_data.prompts[k]), text(rm_data.chosen[k]), text(rm_data.rejected[k])});
    }
    std::ofstream f(cfg.out + "/preferences.jsonl");
    alignkit::io::write_pairwise(f, records);
  }

  // 3. reward model and its calibration
  toy::linear_reward_model rm;
  alignkit::bradley_terry::result rm_fit{};
  for (int it = 0; it < 300; ++it) {
    rm_fit = pl::reward_model_step(rm, rm_data);
    rm.apply(2.0);
  }
  // Held-out pairs labeled by one (non-spam) annotator each: the RM's probability σ(r_a − r_b)
  // against that label; T is fitted on the first half and evaluated on the second.
  const candidates held = sample_pairs(reference, 4000);
  std::vector<double> logit, label;
  std::uniform_int_distribution<std::size_t> who(0, 3);
  for (std::size_t i = 0; i < held.prompts.size(); ++i) {
    const std::vector<int> x{held.prompts[i]};
    logit.push_back(rm.score(x, std::span(&held.first[i], 1))[0] - rm.score(x, std::span(&held.second[i], 1))[0]);
    label.push_back(annotate(crowd[who(rng)], held.prompts[i], held.first[i], held.second[i], rng) == 0 ? 1.0 : 0.0);
  }
  const std::size_t half = logit.size() / 2;
  const std::span<const double> fit_z(logit.data(), half), fit_y(label.data(), half);
  const std::span<const double> test_z(logit.data() + half, logit.size() - half), test_y(label.data() + half, label.size() - half);
  const auto temp = alignkit::calibration::fit_temperature(alignkit::exec::seq, fit_z, fit_y);
  std::vector<double> p_before, p_after;
  for (double z : test_z) {
    p_before.push_back(1 / (1 + std::exp(-z)));
    p_after.push_back(1 / (1 + std::exp(-z / temp.temperature)));
  }
  const auto cal_before = alignkit::calibration::evaluate(p_before, test_y);
  const auto cal_after = alignkit::calibration::evaluate(p_after, test_y);
  {
    std::ofstream f(cfg.out + "/reliability.csv");
    f << "scaling,bin,confidence,accuracy,weight\n";
    const auto dump = [&](const char* name, const alignkit::calibration::report& r) {
      for (std::size_t b = 0; b < r.reliability.size(); ++b)
        if (r.reliability[b].weight > 0)
          f << name << ',' << b << ',' << r.reliability[b].confidence << ',' << r.reliability[b].accuracy << ','
            << r.reliability[b].weight << '\n';
    };
    dump("before", cal_before);
    dump("after", cal_after);
  }
  std::printf("[3/8] reward model: train accuracy %.3f; weights", rm_fit.accuracy);
  for (Eigen::Index k = 0; k < rm.weights().size(); ++k) std::printf(" %.2f", rm.weights()(k));
  std::printf(" (wrong answers and length carry the annotators' biases); T = %.2f, ECE %.3f -> %.3f (%.1fs)\n", temp.temperature,
              cal_before.ece, cal_after.ece, elapsed());

  // 4. optimize from the same reference: PPO, GRPO, DPO and KTO over β
  std::ofstream betas(cfg.out + "/beta_tradeoff.csv");
  betas << "method,beta,gold,proxy,kl\n";
  std::vector<double> beta_grid{0.1, 0.3, 1.0, 3.0, 10.0};
  if (std::find(beta_grid.begin(), beta_grid.end(), cfg.beta) == beta_grid.end()) beta_grid.push_back(cfg.beta);
  std::sort(beta_grid.begin(), beta_grid.end());
  const auto no_trace = [](int, const toy::tabular_policy&) {};
  const std::vector<std::pair<std::string, std::function<toy::tabular_policy(double)>>> methods{
      {"PPO", [&](double b) { return train_ppo(reference, rm, b, cfg.steps, cfg.seed + 1, no_trace); }},
      {"GRPO", [&](double b) { return train_grpo(reference, rm, b, cfg.steps, cfg.seed + 2); }},
      {"DPO", [&](double b) { return train_dpo(reference, rm_data, b, cfg.steps); }},
      {"KTO", [&](double b) { return train_kto(reference, rm_data, b, cfg.steps); }}};
  for (const auto& [name, train] : methods) {
    for (double beta : beta_grid) {
      const stats s = evaluate(train(beta), reference, rm);
      betas << name << ',' << beta << ',' << s.gold << ',' << s.proxy << ',' << s.kl << '\n';
      if (beta == cfg.beta) table.push_back({name, beta, s});
    }
  }
  std::printf("[4/8] optimize: PPO, GRPO, DPO, KTO at beta");
  for (double b : beta_grid) std::printf(" %.2f", b);
  std::printf(" (%.1fs)\n", elapsed());

  // 5. overoptimization: exact best-of-n, and a PPO run with a small β
  std::ofstream overopt(cfg.out + "/overoptimization.csv");
  overopt << "method,n,sqrt_kl,proxy,gold\n";
  for (double n : {1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0, 4096.0}) {
    double kl = 0, proxy = 0, g = 0;
    const auto& all = toy::all_responses();
    for (int x = 0; x < n_prompts; ++x) {
      const auto ref = reference.distribution(x);
      const std::vector<int> xs(all.size(), x);
      const auto score = rm.score(xs, all);
      const auto p = best_of_n(ref, score, n);
      kl += toy::kl(p, ref) / n_prompts;
      for (std::size_t i = 0; i < all.size(); ++i) {
        proxy += p[i] * score[i] / n_prompts;
        g += p[i] * toy::gold_total(x, all[i]) / n_prompts;
      }
    }
    overopt << "best-of-n," << n << ',' << std::sqrt(std::max(kl, 0.0)) << ',' << proxy << ',' << g << '\n';
  }
  const double small_beta = 0.03;
  train_ppo(reference, rm, small_beta, 2 * cfg.steps, cfg.seed + 3, [&](int step, const toy::tabular_policy& pi) {
    const stats s = evaluate(pi, reference, rm);
    overopt << "PPO beta=" << small_beta << ',' << step << ',' << std::sqrt(s.kl) << ',' << s.proxy << ',' << s.gold
            << '\n';
  });
  std::printf("[5/8] overoptimization: exact best-of-n up to n = 4096; PPO at beta = %.2f for %d steps (%.1fs)\n",
              small_beta, 2 * cfg.steps, elapsed());

  // 6. RLAIF: a judge that sees the gold reward with noise and prefers the first slot
  struct biased_judge {
    double preference(const int& x, const toy::response& a, const toy::response& b) const {
      return 1 / (1 + std::exp(-((toy::gold_total(x, a) - toy::gold_total(x, b)) / 1.5 + 1.0)));
    }
  } judge;
  const auto ai = pl::rlaif::label(judge, std::span<const int>(cand.prompts), std::span<const toy::response>(cand.first),
                                   std::span<const toy::response>(cand.second),
                                   {.min_confidence = 0.6, .label = pl::rlaif::labels::soft});
  double one_order = 0, both_orders = 0;
  for (std::size_t i = 0; i < cand.prompts.size(); ++i) {
    const int x = cand.prompts[i];
    const bool truth = toy::gold_total(x, cand.first[i]) >= toy::gold_total(x, cand.second[i]);
    one_order += (judge.preference(x, cand.first[i], cand.second[i]) >= 0.5) == truth;
  }
  for (alignkit::index_t i = 0; i < ai.batch.size(); ++i) {
    const auto k = static_cast<std::size_t>(i);
    both_orders += toy::gold_total(ai.batch.prompts[k], ai.batch.chosen[k]) >= toy::gold_total(ai.batch.prompts[k], ai.batch.rejected[k]);
  }
  table.push_back({"DPO (RLAIF labels)", cfg.beta, evaluate(train_dpo(reference, ai.batch, cfg.beta, cfg.steps), reference, rm)});
  std::printf("[6/8] rlaif: position bias %.3f, order consistency %.2f; label accuracy vs gold %.3f (one order) -> "
              "%.3f (both orders, %td kept) (%.1fs)\n",
              ai.stats.position_bias, ai.stats.consistency, one_order / static_cast<double>(cand.prompts.size()),
              both_orders / static_cast<double>(ai.batch.size()), ai.batch.size(), elapsed());

  // 7. Constitutional AI: "never emit token X"
  struct remove_forbidden {
    std::vector<std::size_t> critique(const int&, const toy::response& y, const alignkit::model::principle&) const {
      std::vector<std::size_t> at;
      for (std::size_t i = 0; i < y.size(); ++i)
        if (y[i] == toy::forbidden) at.push_back(i);
      return at;
    }
    toy::response revise(const int&, const toy::response& y, const std::vector<std::size_t>& at,
                         const alignkit::model::principle&) const {
      toy::response out;
      for (std::size_t i = 0; i < y.size(); ++i)
        if (std::find(at.begin(), at.end(), i) == at.end()) out.push_back(y[i]);
      return out.empty() ? toy::response{toy::hedge} : out;
    }
  } reviser;
  const std::vector<alignkit::model::principle> constitution{
      {"never-x", "Point out every use of the token X.", "Rewrite the response without the token X."}};
  toy::tabular_policy sampler = reference;
  std::vector<int> xs;
  for (int i = 0; i < cfg.pairs; ++i) xs.push_back(i % n_prompts);
  const auto ys = sampler.sample(xs);
  const auto cai = pl::constitutional_ai::revise(reviser, std::span<const alignkit::model::principle>(constitution),
                                                 std::span<const int>(xs), std::span<const toy::response>(ys));
  const auto cai_policy = train_dpo(reference, cai.pairs, cfg.beta, cfg.steps);
  table.push_back({"DPO (constitution)", cfg.beta, evaluate(cai_policy, reference, rm)});
  std::printf("[7/8] constitution: %td revision pairs (%td responses already complied); P(X) %.3f -> %.3f (%.1fs)\n",
              cai.pairs.size(), cai.unchanged, ref_stats.p_forbidden, table.back().s.p_forbidden, elapsed());

  // 8. abstention: questions on 8 topics of falling accuracy; the model's stated confidence is
  // informative within a topic but blind to how hard the topic is. Below the threshold chosen on
  // the risk–coverage curve the answer becomes "I don't know" (SFT data, and IDK ≻ wrong-answer
  // pairs); a model tuned on that data knows which topics it does not know: its confidence is
  // the average of the stated one and the topic's accuracy on the tuning half.
  const int n_questions = 4000, topics = 8;
  std::vector<double> stated, correct, topic_acc(topics, 0.0), topic_n(topics, 0.0);
  std::normal_distribution<double> noise(0.0, 0.8);
  for (int q = 0; q < n_questions; ++q) {
    const int t = q % topics;
    const bool ok = std::bernoulli_distribution(0.95 - 0.1 * t)(rng);
    stated.push_back(1 / (1 + std::exp(-(1.2 + (ok ? 0.6 : -0.6) + noise(rng)))));
    correct.push_back(ok ? 1.0 : 0.0);
  }
  const auto tune = static_cast<std::size_t>(n_questions / 2);
  for (std::size_t q = 0; q < tune; ++q) topic_acc[q % topics] += correct[q], topic_n[q % topics] += 1;
  std::vector<double> tuned;
  for (std::size_t q = 0; q < stated.size(); ++q) tuned.push_back(0.5 * stated[q] + 0.5 * topic_acc[q % topics] / topic_n[q % topics]);
  const auto evaluate_confidence = [&](const std::vector<double>& conf) {
    const std::span<const double> c_tune(conf.data(), tune), y_tune(correct.data(), tune);
    const std::span<const double> c_test(conf.data() + tune, conf.size() - tune), y_test(correct.data() + tune, conf.size() - tune);
    std::vector<double> loss_tune, loss_test;
    for (double y : y_tune) loss_tune.push_back(1 - y);
    for (double y : y_test) loss_test.push_back(1 - y);
    const auto point = alignkit::abstention::threshold_for_risk(alignkit::abstention::risk_coverage(c_tune, loss_tune).points, 0.1);
    const auto sel = alignkit::abstention::selective_accuracy(alignkit::exec::seq, c_test, y_test, point.threshold);
    std::size_t idk = 0, pairs = 0;
    for (std::size_t q = 0; q < tune; ++q)
      if (conf[q] < point.threshold) ++idk, pairs += correct[q] == 0.0;
    return std::tuple{alignkit::abstention::risk_coverage(c_test, loss_test).aurc, point.threshold, sel, idk, pairs};
  };
  const auto [aurc_before, tau_before, sel_before, idk_before, pairs_before] = evaluate_confidence(stated);
  const auto [aurc_after, tau_after, sel_after, idk_after, pairs_after] = evaluate_confidence(tuned);
  double accuracy_all = 0;
  for (std::size_t q = tune; q < correct.size(); ++q) accuracy_all += correct[q] / static_cast<double>(correct.size() - tune);
  std::printf("[8/8] abstention: answer everything: accuracy %.3f, AURC %.3f; stated confidence >= %.2f: coverage "
              "%.2f, selective accuracy %.3f; after tuning on %zu \"I don't know\" examples (%zu IDK > wrong pairs): "
              "AURC %.3f, coverage %.2f, selective accuracy %.3f (%.1fs)\n",
              accuracy_all, aurc_before, tau_before, sel_before.coverage, sel_before.accuracy, idk_before, pairs_before,
              aurc_after, sel_after.coverage, sel_after.accuracy, elapsed());

  // Final table.
  table.insert(table.begin(), row{"reference", 0.0, evaluate(reference, reference, rm)});
  std::printf("\n  %-22s %6s %8s %8s %8s %8s %7s\n", "method", "beta", "gold", "proxy", "KL(ref)", "P(X)", "length");
  for (const auto& r : table) print_row(r);
  std::printf("\n  reward model: ECE of P(a > b) %.3f before, %.3f after temperature scaling (T = %.2f)\n",
              cal_before.ece, cal_after.ece, temp.temperature);
  std::printf("  annotators: Fleiss kappa %.3f (all), %.3f (after dropping the annotator at chance)\n", kappa_all,
              kappa_kept);
  std::printf("  abstention: AURC %.3f -> %.3f; at risk <= 0.10 coverage %.2f -> %.2f, selective accuracy %.3f -> %.3f "
              "(answering everything: %.3f)\n",
              aurc_before, aurc_after, sel_before.coverage, sel_after.coverage, sel_before.accuracy, sel_after.accuracy,
              accuracy_all);
  std::ofstream summary(cfg.out + "/summary.csv");
  summary << "method,beta,gold,proxy,kl,p_forbidden,length\n";
  for (const auto& r : table)
    summary << r.method << ',' << r.beta << ',' << r.s.gold << ',' << r.s.proxy << ',' << r.s.kl << ','
            << r.s.p_forbidden << ',' << r.s.length << '\n';
  std::printf("  CSV files in %s (%.1fs)\n", cfg.out.c_str(), elapsed());
  return 0;
}
