// A consumer outside the tree: one include, the Bradley–Terry loss on two tensor types alignkit
// has never seen, one made tensor_like by a traits specialization, one by an ADL function.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

namespace engine {
struct device_buffer {  // made tensor_like by alignkit::tensor_traits below
  std::vector<double> storage;
};
struct strided_scores {  // made tensor_like by the ADL function below: every other element
  std::vector<double> storage;
};
inline alignkit::vector_view<const double> alignkit_view(const strided_scores& s) {
  return {s.storage.data(), {static_cast<alignkit::index_t>(s.storage.size() / 2)}, {2}};
}
}  // namespace engine

template <>
struct alignkit::tensor_traits<engine::device_buffer> {
  static alignkit::vector_view<const double> view(const engine::device_buffer& b) {
    return {b.storage.data(), static_cast<alignkit::index_t>(b.storage.size())};
  }
};

int main() {
  const engine::device_buffer chosen{{2.0, 0.5, 1.0}};
  const engine::strided_scores rejected{{1.0, -9, 1.5, -9, -1.0, -9}};
  const auto r = alignkit::bradley_terry::loss(chosen, rejected);
  const double want = (std::log1p(std::exp(-1.0)) + std::log1p(std::exp(1.0)) + std::log1p(std::exp(-2.0))) / 3;
  if (std::abs(r.loss - want) > 1e-12 || std::abs(r.accuracy - 2.0 / 3) > 1e-15) {
    std::printf("consumer: wrong result %.17g (want %.17g), accuracy %g\n", r.loss, want, r.accuracy);
    return 1;
  }
  std::printf("consumer: ok (loss %.6f, accuracy %.3f)\n", r.loss, r.accuracy);
  return 0;
}
