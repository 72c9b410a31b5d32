// A custom backend: an engine's own buffer type becomes tensor_like through one
// tensor_traits specialization, and its thread pool runs alignkit's chunks via exec::on.
#include <alignkit/alignkit.hpp>

#include <cstdio>
#include <thread>
#include <vector>

namespace engine {

struct device_buffer {  // stands in for an engine's tensor: a pointer and a length
  std::vector<float> host;
};

struct thread_pool {  // any type with bulk(n, f) is an alignkit::exec::executor
  unsigned workers = 2;
  template <class F>
  void bulk(alignkit::index_t n, F&& f) {
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < workers; ++w)
      threads.emplace_back([&, w] {
        for (alignkit::index_t i = w; i < n; i += workers) f(i);
      });
    for (auto& t : threads) t.join();
  }
};

}  // namespace engine

template <>
struct alignkit::tensor_traits<engine::device_buffer> {
  static alignkit::vector_view<const float> view(const engine::device_buffer& b) {
    return {b.host.data(), static_cast<alignkit::index_t>(b.host.size())};
  }
  static alignkit::vector_view<float> view(engine::device_buffer& b) {
    return {b.host.data(), static_cast<alignkit::index_t>(b.host.size())};
  }
};

int main() {
  const std::size_t n = 1 << 20;
  engine::device_buffer chosen{std::vector<float>(n)}, rejected{std::vector<float>(n)}, grad{std::vector<float>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    chosen.host[i] = static_cast<float>(i % 7) * 0.5f;
    rejected.host[i] = static_cast<float>(i % 5) * 0.5f;
  }
  namespace bt = alignkit::bradley_terry;
  engine::thread_pool pool;
  const bt::outputs<float> out{.grad_chosen = alignkit::view_of(grad)};
  const auto on_pool = bt::loss(alignkit::exec::on(pool), chosen, rejected, {}, out);
  const auto sequential = bt::loss(chosen, rejected);
  std::printf("pool: loss %.9f accuracy %.6f | seq: loss %.9f (bitwise equal: %s)\n", on_pool.loss, on_pool.accuracy,
              sequential.loss, on_pool.loss == sequential.loss ? "yes" : "no");
  return on_pool.loss == sequential.loss ? 0 : 1;
}
