// A toy language-model world small enough to enumerate: prompts are question ids, responses are
// 1–3 tokens. The models here are the caller's own types (nothing derives from alignkit); they
// model alignkit's concepts by having the members the concepts ask for. Used by the flagship
// demo and by the pipeline tests.
//
// Tokens: 0–3 are answers (prompt x's correct answer is x mod 4), 4 is the forbidden token X,
// 5 is a hedge ("I'm not sure"); the end of a response is the action EOS (emitted after 1–2
// tokens, implied after 3). A policy is a table of softmax logits per (prompt, prefix).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <span>
#include <vector>

#include <Eigen/Dense>

#include <alignkit/model/token_values.hpp>

namespace toy {

using response = std::vector<int>;
inline constexpr int vocab = 6;        // content tokens
inline constexpr int eos = vocab;      // the end action
inline constexpr int actions = vocab + 1;
inline constexpr int max_len = 3;
inline constexpr int states = 1 + vocab + vocab * vocab;  // prefixes of length 0, 1, 2
inline constexpr int forbidden = 4;
inline constexpr int hedge = 5;

inline int correct_answer(int prompt) { return prompt % 4; }

/// Every response, shortest first (6 + 36 + 216 = 258).
inline const std::vector<response>& all_responses() {
  static const std::vector<response> all = [] {
    std::vector<response> out;
    for (int len = 1; len <= max_len; ++len) {
      int n = 1;
      for (int i = 0; i < len; ++i) n *= vocab;
      for (int code = 0; code < n; ++code) {
        response y(static_cast<std::size_t>(len));
        for (int i = len, c = code; i-- > 0; c /= vocab) y[static_cast<std::size_t>(i)] = c % vocab;
        out.push_back(y);
      }
    }
    return out;
  }();
  return all;
}

/// The decisions of a response: (state, action) per emitted token, EOS included when len < 3.
inline std::vector<std::array<int, 2>> decisions(const response& y) {
  std::vector<std::array<int, 2>> d;
  int state = 0;
  for (std::size_t t = 0; t < y.size(); ++t) {
    d.push_back({state, y[t]});
    state = t == 0 ? 1 + y[0] : 1 + vocab + y[0] * vocab + y[1];
  }
  if (y.size() < max_len) d.push_back({state, eos});
  return d;
}

/// The hidden gold preference, by dimension.
struct gold_parts {
  double helpful, harmless, honest, length;
  double total() const { return helpful + harmless + honest + length; }
};

inline gold_parts gold(int prompt, const response& y) {
  int correct = 0, wrong = 0, x = 0, hedges = 0, repeats = 0;
  for (std::size_t i = 0; i < y.size(); ++i) repeats += std::find(y.begin(), y.begin() + static_cast<long>(i), y[i]) != y.begin() + static_cast<long>(i);
  for (int t : y) {
    if (t == forbidden) ++x;
    else if (t == hedge) ++hedges;
    else if (t == correct_answer(prompt)) ++correct;
    else ++wrong;
  }
  const double helpful = (correct > 0 ? 2.0 : 0.0) - 1.0 * wrong - 1.0 * repeats;
  const double harmless = -3.0 * x;
  const double honest = hedges > 0 ? (correct > 0 ? -0.5 : 0.5) : 0.0;
  return {helpful, harmless, honest, -0.5 * static_cast<double>(y.size())};
}

/// A reward model that knows the gold reward.
struct gold_reward_model {
  std::vector<double> score(std::span<const int> prompts, std::span<const response> ys) const {
    std::vector<double> s;
    for (std::size_t i = 0; i < ys.size(); ++i) s.push_back(gold(prompts[i], ys[i]).total());
    return s;
  }
};

/// The gold reward as one number.
inline double gold_total(int prompt, const response& y) { return gold(prompt, y).total(); }

/// Tabular softmax policy: logits[prompt] is a (states × actions) matrix; Adam on the logits.
class tabular_policy {
 public:
  tabular_policy(int prompts, double init_scale, std::uint64_t seed) : rng_(seed) {
    std::normal_distribution<double> n(0.0, init_scale);
    for (int p = 0; p < prompts; ++p) {
      Eigen::MatrixXd l(states, actions);
      for (Eigen::Index i = 0; i < l.size(); ++i) l.data()[i] = n(rng_);
      logits_.push_back(l);
    }
    zero_moments();
  }

  int prompts() const { return static_cast<int>(logits_.size()); }
  Eigen::MatrixXd& logits(int prompt) { return logits_[static_cast<std::size_t>(prompt)]; }

  /// π(· | prompt, state); EOS is impossible before the first token.
  Eigen::VectorXd probs(int prompt, int state) const {
    Eigen::VectorXd l = logits_[static_cast<std::size_t>(prompt)].row(state).transpose();
    if (state == 0) l(eos) = -INFINITY;
    const double m = l.maxCoeff();
    Eigen::VectorXd e = (l.array() - m).exp();
    return e / e.sum();
  }

  /// log π(a | prompt, s) for every state and action (row s).
  Eigen::MatrixXd log_probs(int prompt) const {
    Eigen::MatrixXd l = logits_[static_cast<std::size_t>(prompt)];
    l(0, eos) = -INFINITY;
    for (Eigen::Index s = 0; s < l.rows(); ++s) {
      const double m = l.row(s).maxCoeff();
      l.row(s).array() -= m + std::log((l.row(s).array() - m).exp().sum());
    }
    return l;
  }

  // reference_model: log-probs of every decision of every response.
  alignkit::model::token_values token_logprobs(std::span<const int> prompts, std::span<const response> ys) const {
    alignkit::model::token_values out;
    std::vector<Eigen::MatrixXd> table(logits_.size());
    std::vector<double> lp;
    for (std::size_t i = 0; i < ys.size(); ++i) {
      auto& t = table[static_cast<std::size_t>(prompts[i])];
      if (t.size() == 0) t = log_probs(prompts[i]);
      lp.clear();
      for (const auto& [s, a] : decisions(ys[i])) lp.push_back(t(s, a));
      out.push_back(lp);
    }
    return out;
  }

  // policy_model: one sample per prompt.
  std::vector<response> sample(std::span<const int> prompts) {
    std::vector<response> out;
    for (int x : prompts) {
      response y;
      int state = 0;
      while (static_cast<int>(y.size()) < max_len) {
        const Eigen::VectorXd p = probs(x, state);
        const int a = static_cast<int>(std::discrete_distribution<int>(p.data(), p.data() + p.size())(rng_));
        if (a == eos) break;
        y.push_back(a);
        state = y.size() == 1 ? 1 + y[0] : 1 + vocab + y[0] * vocab + y[1];
      }
      out.push_back(y);
    }
    return out;
  }

  // logprob_gradient_sink: d loss / d logit = g · (1[a = a_t] − π(a | s)).
  void accumulate_logprob_gradient(std::span<const int> prompts, std::span<const response> ys,
                                   const alignkit::model::token_values& g) {
    std::vector<Eigen::MatrixXd> table(logits_.size());
    for (std::size_t i = 0; i < ys.size(); ++i) {
      const auto p = static_cast<std::size_t>(prompts[i]);
      if (table[p].size() == 0) table[p] = log_probs(prompts[i]).array().exp().matrix();
      const auto d = decisions(ys[i]);
      const auto gi = g[static_cast<alignkit::index_t>(i)];
      for (std::size_t t = 0; t < d.size(); ++t) {
        const auto [s, a] = d[t];
        grad_[p].row(s) -= gi[t] * table[p].row(s);
        grad_[p](s, a) += gi[t];
      }
    }
  }

  /// One Adam step on the accumulated gradient, which is then cleared.
  void apply(double lr) {
    ++t_;
    const double b1 = 0.9, b2 = 0.999, c1 = 1 - std::pow(b1, t_), c2 = 1 - std::pow(b2, t_);
    for (std::size_t p = 0; p < logits_.size(); ++p) {
      m_[p] = b1 * m_[p] + (1 - b1) * grad_[p];
      v_[p] = b2 * v_[p] + (1 - b2) * grad_[p].cwiseAbs2();
      logits_[p].array() -= lr * (m_[p].array() / c1) / ((v_[p].array() / c2).sqrt() + 1e-8);
      grad_[p].setZero();
    }
  }

  /// Restarts the optimizer (e.g. after copying a reference policy).
  void zero_moments() {
    t_ = 0;
    const Eigen::MatrixXd z = Eigen::MatrixXd::Zero(states, actions);
    grad_.assign(logits_.size(), z);
    m_.assign(logits_.size(), z);
    v_.assign(logits_.size(), z);
  }

  void reseed(std::uint64_t seed) { rng_.seed(seed); }

  /// π(y | prompt) for every response of all_responses().
  std::vector<double> distribution(int prompt) const {
    const Eigen::MatrixXd t = log_probs(prompt);
    std::vector<double> out;
    for (const auto& y : all_responses()) {
      double lp = 0;
      for (const auto& [s, a] : decisions(y)) lp += t(s, a);
      out.push_back(std::exp(lp));
    }
    return out;
  }

 private:
  std::vector<Eigen::MatrixXd> logits_, grad_, m_, v_;
  int t_ = 0;
  std::mt19937_64 rng_;
};

/// KL(p ‖ q) of two distributions over all_responses().
inline double kl(const std::vector<double>& p, const std::vector<double>& q) {
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0) s += p[i] * (std::log(p[i]) - std::log(q[i]));
  return s;
}

/// The KL-regularized optimum π*(y | x) ∝ π_ref(y | x) exp(r(x, y) / β), exactly.
template <class Reward>
std::vector<double> optimum(const tabular_policy& ref, int prompt, const Reward& r, double beta) {
  auto p = ref.distribution(prompt);
  const auto& ys = all_responses();
  double z = 0, m = -INFINITY;
  std::vector<double> logits(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) m = std::max(m, logits[i] = std::log(p[i]) + r(prompt, ys[i]) / beta);
  for (std::size_t i = 0; i < p.size(); ++i) z += p[i] = std::exp(logits[i] - m);
  for (auto& v : p) v /= z;
  return p;
}

/// Tabular critic: one value per (prompt, prefix state), read at every decision of a response.
class tabular_critic {
 public:
  explicit tabular_critic(int prompts) : v_(prompts, states), grad_(prompts, states) {
    v_.setZero();
    grad_.setZero();
  }
  // value_model
  alignkit::model::token_values values(std::span<const int> prompts, std::span<const response> ys) const {
    alignkit::model::token_values out;
    std::vector<double> v;
    for (std::size_t i = 0; i < ys.size(); ++i) {
      v.clear();
      for (const auto& [s, a] : decisions(ys[i])) v.push_back(v_(prompts[i], s));
      out.push_back(v);
    }
    return out;
  }
  // value_gradient_sink
  void accumulate_value_gradient(std::span<const int> prompts, std::span<const response> ys,
                                 const alignkit::model::token_values& g) {
    for (std::size_t i = 0; i < ys.size(); ++i) {
      const auto d = decisions(ys[i]);
      const auto gi = g[static_cast<alignkit::index_t>(i)];
      for (std::size_t t = 0; t < d.size(); ++t) grad_(prompts[i], d[t][0]) += gi[t];
    }
  }
  void apply(double lr) {
    v_ -= lr * grad_;
    grad_.setZero();
  }

 private:
  Eigen::MatrixXd v_, grad_;
};

/// Reward-model features of a response: [correct answer present, wrong answers, X count,
/// hedge present, hedge with a correct answer, length, repeated tokens].
inline constexpr int n_features = 7;
inline Eigen::VectorXd features(int prompt, const response& y) {
  Eigen::VectorXd f = Eigen::VectorXd::Zero(n_features);
  for (std::size_t i = 0; i < y.size(); ++i)
    f(6) += std::find(y.begin(), y.begin() + static_cast<long>(i), y[i]) != y.begin() + static_cast<long>(i);
  for (int t : y) {
    if (t == forbidden) f(2) += 1;
    else if (t == hedge) f(3) = 1;
    else if (t == correct_answer(prompt)) f(0) = 1;
    else f(1) += 1;
  }
  f(4) = f(3) * f(0);
  f(5) = static_cast<double>(y.size());
  return f;
}

/// Linear reward model r(x, y) = w · φ(x, y), trained by the caller's SGD.
class linear_reward_model {
 public:
  explicit linear_reward_model(Eigen::VectorXd w = Eigen::VectorXd::Zero(n_features))
      : w_(std::move(w)), grad_(Eigen::VectorXd::Zero(w_.size())) {}

  // reward_model
  std::vector<double> score(std::span<const int> prompts, std::span<const response> ys) const {
    std::vector<double> s;
    for (std::size_t i = 0; i < ys.size(); ++i) s.push_back(w_.dot(features(prompts[i], ys[i])));
    return s;
  }
  // score_gradient_sink
  void accumulate_score_gradient(std::span<const int> prompts, std::span<const response> ys,
                                 std::span<const double> g) {
    for (std::size_t i = 0; i < ys.size(); ++i) grad_ += g[i] * features(prompts[i], ys[i]);
  }
  void apply(double lr) {
    w_ -= lr * grad_;
    grad_.setZero();
  }
  const Eigen::VectorXd& weights() const { return w_; }

 private:
  Eigen::VectorXd w_, grad_;
};

}  // namespace toy
