#include <alignkit/alignkit.hpp>
#include <cstdio>
#include <random>
#include <vector>
template <class T> void run() {
  std::mt19937 g(1); std::normal_distribution<double> d(0, 2);
  const std::size_t n = 100003;
  std::vector<T> a(n), b(n), c(n), e(n), ga(n), gb(n);
  for (std::size_t i = 0; i < n; ++i) { a[i] = T(d(g)); b[i] = T(d(g)); c[i] = T(d(g)); e[i] = T(d(g)); }
  namespace bt = alignkit::bradley_terry;
  const bt::outputs<T> out{{}, alignkit::view_of(ga), alignkit::view_of(gb)};
  auto r = bt::loss(alignkit::exec::seq, a, b, {}, out);
  auto r2 = bt::loss(alignkit::exec::par.with(2), a, b, {}, out);
  std::printf("bt %a %a\n", (double)r.loss, (double)r2.loss);
  auto k = alignkit::dpo::loss(alignkit::exec::seq, a, b, c, e);
  std::printf("dpo %a\n", (double)k.loss);
}
int main() { run<float>(); run<double>(); }
