// Fit a linear reward model r(x) = w·φ(x) to noisy pairwise preferences with the Bradley–Terry
// loss, then report held-out pairwise accuracy. Preferences are drawn from the Bradley–Terry
// model of a hidden reward w*·φ(x), so the best achievable accuracy on noisy labels is below 1.
#include <alignkit/alignkit.hpp>

#include <cstdio>
#include <random>
#include <vector>

namespace bt = alignkit::bradley_terry;

struct pairs {
  std::vector<std::vector<double>> chosen, rejected;  // feature vectors of each response
};

static double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}

static pairs sample_pairs(std::size_t n, const std::vector<double>& w_true, std::mt19937& rng) {
  std::normal_distribution<double> feature(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  pairs p;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> a(w_true.size()), b(w_true.size());
    for (auto& x : a) x = feature(rng);
    for (auto& x : b) x = feature(rng);
    const bool a_wins = u(rng) < alignkit::sigmoid(dot(w_true, a) - dot(w_true, b));  // annotator noise
    p.chosen.push_back(a_wins ? a : b);
    p.rejected.push_back(a_wins ? b : a);
  }
  return p;
}

static void score(const pairs& p, const std::vector<double>& w, std::vector<double>& rc, std::vector<double>& rr) {
  for (std::size_t i = 0; i < p.chosen.size(); ++i) {
    rc[i] = dot(w, p.chosen[i]);
    rr[i] = dot(w, p.rejected[i]);
  }
}

int main() {
  const std::size_t dim = 8, n_train = 4000, n_test = 2000;
  std::mt19937 rng(7);
  const std::vector<double> w_true{1.5, -1.0, 0.8, 0.0, 2.0, -0.5, 0.3, 1.0};
  const pairs train = sample_pairs(n_train, w_true, rng), test = sample_pairs(n_test, w_true, rng);

  std::vector<double> w(dim, 0.0), rc(n_train), rr(n_train), gc(n_train), gr(n_train);
  bt::result r;
  for (int step = 0; step < 300; ++step) {
    score(train, w, rc, rr);
    r = bt::loss(rc, rr, {}, bt::outputs<double>{{}, alignkit::view_of(gc), alignkit::view_of(gr)});
    std::vector<double> grad(dim, 0.0);  // chain rule through r = w·φ
    for (std::size_t i = 0; i < n_train; ++i)
      for (std::size_t k = 0; k < dim; ++k) grad[k] += gc[i] * train.chosen[i][k] + gr[i] * train.rejected[i][k];
    for (std::size_t k = 0; k < dim; ++k) w[k] -= 1.0 * grad[k];
    if (step % 100 == 0) std::printf("step %3d  train loss %.4f  train accuracy %.3f\n", step, r.loss, r.accuracy);
  }
  std::vector<double> tc(n_test), tr(n_test);
  score(test, w, tc, tr);
  const auto held_out = bt::loss(tc, tr);
  score(test, w_true, tc, tr);
  const auto oracle = bt::loss(tc, tr);
  std::printf("held-out: loss %.4f accuracy %.3f (hidden reward itself: loss %.4f accuracy %.3f)\n", held_out.loss,
              held_out.accuracy, oracle.loss, oracle.accuracy);
  std::printf("learned w:");
  for (double x : w) std::printf(" %.2f", x);
  std::printf("\n");
  return held_out.accuracy > oracle.accuracy - 0.02 ? 0 : 1;
}
