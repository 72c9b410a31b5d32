// Execution policies: chunk decomposition, thread-count independence, user executors,
// exception propagation, and the reducer concept.
#include <alignkit/alignkit.hpp>

#include <atomic>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

using alignkit::index_t;

namespace {

struct counting_executor {  // runs chunks in reverse order on the calling thread
  int calls = 0;
  template <class F>
  void bulk(index_t n, F&& f) {
    ++calls;
    for (index_t i = n; i-- > 0;) f(i);
  }
};

double chunked_total(const auto& policy, const std::vector<double>& x) {
  return alignkit::detail::chunked_sum<double>(policy, static_cast<index_t>(x.size()), [&](index_t b, index_t e) {
    double s = 0;
    for (index_t i = b; i < e; ++i) s += x[static_cast<std::size_t>(i)];
    return s;
  });
}

}  // namespace

TEST_CASE("chunked_sum is bitwise identical for seq, par with 1..4 threads and a user executor") {
  std::vector<double> x(100'003);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1.0 / static_cast<double>(i + 1) * ((i % 3) ? 1 : -1e3);
  const double s = chunked_total(alignkit::exec::seq, x);
  for (unsigned t : {1u, 2u, 3u, 4u}) CHECK(chunked_total(alignkit::exec::par.with(t), x) == s);
  counting_executor ex;
  CHECK(chunked_total(alignkit::exec::on(ex), x) == s);
  CHECK(ex.calls == 1);
  static_assert(alignkit::exec::executor<counting_executor>);
  static_assert(alignkit::exec::execution_policy<decltype(alignkit::exec::par)>);
  static_assert(!alignkit::exec::execution_policy<std::vector<double>>);
}

TEST_CASE("chunk_count and empty input") {
  CHECK(alignkit::detail::chunk_count(0, 16) == 0);
  CHECK(alignkit::detail::chunk_count(16, 16) == 1);
  CHECK(alignkit::detail::chunk_count(17, 16) == 2);
  CHECK(chunked_total(alignkit::exec::par, {}) == 0.0);
}

TEST_CASE("an exception in a parallel chunk reaches the caller") {
  auto boom = [] {
    alignkit::detail::for_each_chunk(alignkit::exec::par.with(2), 8, [](index_t c) {
      if (c == 5) throw std::runtime_error("chunk 5");
    });
  };
  CHECK_THROWS_WITH_AS(boom(), "chunk 5", std::runtime_error);
}

TEST_CASE("the worker pool: repeated, nested and concurrent par calls, and calls after an exception") {
  std::vector<double> x(200'003);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<double>(i)) * static_cast<double>(i % 97);
  const double s = chunked_total(alignkit::exec::seq, x);
  const auto par2 = alignkit::exec::par.with(2);
  for (int call = 0; call < 200; ++call) REQUIRE(chunked_total(par2, x) == s);
  // Nested: each outer chunk makes a par call while the outer call holds the pool.
  std::vector<double> inner(4);
  alignkit::detail::for_each_chunk(par2, 4, [&](index_t c) { inner[static_cast<std::size_t>(c)] = chunked_total(par2, x); });
  for (double v : inner) CHECK(v == s);
  // Concurrent: par calls from four threads at once; at most one of them holds the pool.
  std::atomic<int> mismatches{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int call = 0; call < 50; ++call) mismatches += chunked_total(alignkit::exec::par.with(3), x) != s;
    });
  for (auto& th : callers) th.join();
  CHECK(mismatches == 0);
  for (int call = 0; call < 3; ++call) {
    CHECK_THROWS_AS(alignkit::detail::for_each_chunk(par2, 8, [](index_t c) {
                      if (c % 2) throw std::runtime_error("odd chunk");
                    }),
                    std::runtime_error);
    CHECK(chunked_total(par2, x) == s);
  }
}

TEST_CASE("local_reducer models reducer and leaves values unchanged") {
  static_assert(alignkit::reducer<alignkit::local_reducer>);
  std::vector<double> v{1, 2};
  alignkit::local_reducer{}.all_reduce_sum(v);
  CHECK(v == std::vector<double>{1, 2});
}

TEST_CASE("parse_aggregation knows verl's names and rejects others") {
  CHECK(alignkit::parse_aggregation("token-mean") == alignkit::aggregation::token_mean);
  CHECK(alignkit::parse_aggregation("seq-mean-token-sum-norm") == alignkit::aggregation::seq_mean_token_sum_norm);
  CHECK_THROWS_AS(alignkit::parse_aggregation("mean"), alignkit::domain_error);
}

TEST_CASE("check_offsets validates CSR offsets") {
  std::vector<long> ok{0, 2, 2, 5};
  CHECK_NOTHROW(alignkit::check_offsets("f", alignkit::view_of(ok), 5));
  std::vector<long> dec{0, 3, 2, 5};
  CHECK_THROWS_WITH_AS(alignkit::check_offsets("f", alignkit::view_of(dec), 5),
                       "[alignkit.domain_error.204] f: offsets[2] is 2, less than offsets[1] = 3; offsets must be "
                       "non-decreasing",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(alignkit::check_offsets("f", alignkit::view_of(ok), 6),
                       "[alignkit.domain_error.204] f: offsets end at 5, expected the token count 6",
                       alignkit::domain_error);
}
