// GAE: both masking conventions against their recursions, whitening, padded vs packed layouts
// (bitwise), exec::par vs exec::seq (bitwise), shards through a reducer, edge cases, errors.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <random>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include "shard_group.hpp"

namespace gae = alignkit::gae;
using alignkit::as_matrix;
using alignkit::index_t;

namespace {

struct batch {
  index_t rows, cols;
  std::vector<double> r, v;
  std::vector<int> m;
  std::vector<std::int64_t> lengths;  // valid prefix of each row (holes may lie inside it)
};

// Rows with a random valid prefix (0 … cols tokens), random interior holes, and one empty row.
batch random_batch(index_t rows, index_t cols, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0.0, 1.0);
  std::uniform_int_distribution<index_t> len(0, cols);
  std::bernoulli_distribution hole(0.15);
  const auto n = static_cast<std::size_t>(rows * cols);
  batch b{rows, cols, std::vector<double>(n), std::vector<double>(n), std::vector<int>(n), {}};
  for (index_t i = 0; i < rows; ++i) {
    const index_t l = i == 1 ? 0 : len(g);
    b.lengths.push_back(l);
    for (index_t t = 0; t < cols; ++t) {
      const auto k = static_cast<std::size_t>(i * cols + t);
      b.r[k] = d(g);
      b.v[k] = d(g);
      b.m[k] = t < l && !hole(g);
    }
  }
  return b;
}

// The recursions of OPS.md (gae, gae_openrlhf), written with float masks as the references do.
void reference(const batch& b, double gamma, double lam, gae::masking mode, std::vector<double>& a,
               std::vector<double>& ret) {
  a.assign(b.r.size(), 0);
  ret.assign(b.r.size(), 0);
  for (index_t i = 0; i < b.rows; ++i) {
    double nv = 0, g = 0;
    for (index_t t = b.cols - 1; t >= 0; --t) {
      const auto k = static_cast<std::size_t>(i * b.cols + t);
      const double m = b.m[k];
      if (mode == gae::masking::skip) {
        const double delta = b.r[k] + gamma * nv - b.v[k];
        const double g1 = delta + gamma * lam * g;
        nv = b.v[k] * m + (1 - m) * nv;
        g = g1 * m + (1 - m) * g;
        ret[k] = g + b.v[k];
      } else {
        const double delta = m * b.r[k] + gamma * nv - m * b.v[k];
        g = delta + gamma * lam * g;
        nv = m * b.v[k];
        ret[k] = g + m * b.v[k];
      }
      a[k] = g;
    }
  }
}

struct packed {
  std::vector<double> r, v;
  std::vector<int> m;
  std::vector<std::int64_t> offsets{0};
};

packed pack(const batch& b) {
  packed p;
  for (index_t i = 0; i < b.rows; ++i) {
    for (index_t t = 0; t < b.lengths[static_cast<std::size_t>(i)]; ++t) {
      const auto k = static_cast<std::size_t>(i * b.cols + t);
      p.r.push_back(b.r[k]);
      p.v.push_back(b.v[k]);
      p.m.push_back(b.m[k]);
    }
    p.offsets.push_back(static_cast<std::int64_t>(p.r.size()));
  }
  return p;
}

}  // namespace

TEST_CASE("both masking conventions follow their recursions, including masked positions") {
  const auto b = random_batch(9, 17, 1);
  for (auto mode : {gae::masking::skip, gae::masking::zero}) {
    for (const auto& params : {std::pair{1.0, 1.0}, {0.99, 0.95}, {0.9, 0.0}, {0.0, 0.5}}) {
      const double gamma = params.first, lam = params.second;
      CAPTURE(gamma);
      CAPTURE(lam);
      std::vector<double> wa, wr;
      reference(b, gamma, lam, mode, wa, wr);
      const auto e = gae::evaluate(as_matrix(b.r, 9, 17), as_matrix(b.v, 9, 17), as_matrix(b.m, 9, 17),
                                   {.gamma = gamma, .lam = lam, .masked = mode});
      for (std::size_t k = 0; k < wa.size(); ++k) {
        CHECK(e.advantages[k] == doctest::Approx(wa[k]).epsilon(1e-13));
        CHECK(e.returns[k] == doctest::Approx(wr[k]).epsilon(1e-13));
      }
      double valid = 0;
      for (int m : b.m) valid += m;
      CHECK(e.metrics.valid_tokens == valid);
      CHECK_FALSE(e.metrics.whitening.has_value());
    }
  }
}

TEST_CASE("whitened advantages equal whitening the raw advantages; returns stay raw") {
  const auto b = random_batch(6, 11, 2);
  for (auto mode : {gae::masking::skip, gae::masking::zero}) {
    const auto raw = gae::evaluate(as_matrix(b.r, 6, 11), as_matrix(b.v, 6, 11), as_matrix(b.m, 6, 11),
                                   {.masked = mode});
    const alignkit::whitening::options w{.style = mode == gae::masking::skip ? alignkit::whitening::convention::verl
                                                                               : alignkit::whitening::convention::openrlhf};
    std::vector<double> want(raw.advantages.size());
    const auto mom = alignkit::whitening::whiten(raw.advantages, b.m, want, w);
    const auto e = gae::evaluate(as_matrix(b.r, 6, 11), as_matrix(b.v, 6, 11), as_matrix(b.m, 6, 11),
                                 {.masked = mode, .whiten = w});
    REQUIRE(e.metrics.whitening.has_value());
    CHECK(e.metrics.whitening->mean == doctest::Approx(mom.mean).epsilon(1e-14));
    for (std::size_t k = 0; k < want.size(); ++k) {
      CHECK(e.advantages[k] == doctest::Approx(want[k]).epsilon(1e-12));
      CHECK(e.returns[k] == raw.returns[k]);
    }
  }
}

TEST_CASE_TEMPLATE("padded and packed layouts give bitwise identical results", T, float, double) {
  const auto b = random_batch(12, 23, 3);
  const auto p = pack(b);
  const std::vector<T> r(b.r.begin(), b.r.end()), v(b.v.begin(), b.v.end());
  const std::vector<T> pr(p.r.begin(), p.r.end()), pv(p.v.begin(), p.v.end());
  for (auto mode : {gae::masking::skip, gae::masking::zero}) {
    const gae::options opts{.gamma = 0.99, .masked = mode, .whiten = alignkit::whitening::options{}};
    std::vector<T> a(r.size()), ret(r.size()), pa(pr.size()), pret(pr.size());
    const auto rp = gae::compute(as_matrix(r, 12, 23), as_matrix(v, 12, 23), as_matrix(b.m, 12, 23), opts,
                                 gae::outputs<T>{as_matrix(a, 12, 23), as_matrix(ret, 12, 23)});
    const auto rk = gae::compute(alignkit::packed{p.offsets}, pr, pv, p.m, opts,
                                 gae::outputs<T, 1>{alignkit::view_of(pa), alignkit::view_of(pret)});
    CHECK(rp.valid_tokens == rk.valid_tokens);
    CHECK(rp.whitening->mean == rk.whitening->mean);
    CHECK(rp.whitening->scale == rk.whitening->scale);
    for (index_t i = 0; i < 12; ++i)
      for (index_t t = 0; t < b.lengths[static_cast<std::size_t>(i)]; ++t) {
        const auto k = static_cast<std::size_t>(p.offsets[static_cast<std::size_t>(i)] + t);
        CHECK(pa[k] == a[static_cast<std::size_t>(i * 23 + t)]);
        CHECK(pret[k] == ret[static_cast<std::size_t>(i * 23 + t)]);
      }
  }
}

// Rows longer than one tile of the masking::zero scan, with partial batches at their ends.
TEST_CASE_TEMPLATE("masking::zero over several tiles: recursion, layouts, policies and strides agree", T, float,
                   double) {
  const index_t rows = 19, cols = 600;
  const auto b = random_batch(rows, cols, 21);
  const auto p = pack(b);
  const auto n = static_cast<std::size_t>(rows * cols);
  const std::vector<T> r(b.r.begin(), b.r.end()), v(b.v.begin(), b.v.end());
  const std::vector<T> pr(p.r.begin(), p.r.end()), pv(p.v.begin(), p.v.end());
  gae::options opts{.gamma = 0.99, .lam = 0.95, .masked = gae::masking::zero};
  std::vector<double> ra, rr;
  reference(b, opts.gamma, opts.lam, opts.masked, ra, rr);
  std::vector<T> a(n), ret(n);
  const auto res = gae::compute(as_matrix(r, rows, cols), as_matrix(v, rows, cols), as_matrix(b.m, rows, cols), opts,
                                gae::outputs<T>{as_matrix(a, rows, cols), as_matrix(ret, rows, cols)});
  double valid = 0;
  for (int x : b.m) valid += x;
  CHECK(res.valid_tokens == valid);
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-10;
  for (std::size_t k = 0; k < n; ++k) {
    CHECK(std::abs(a[k] - ra[k]) <= tol * (1 + std::abs(ra[k])));
    CHECK(std::abs(ret[k] - rr[k]) <= tol * (1 + std::abs(rr[k])));
  }
  opts.whiten = alignkit::whitening::options{};
  std::vector<T> sa(n), sr(n), pa(n), prt(n), ka(pr.size()), kr(pr.size()), ta(n), tr(n);
  const auto rs = gae::compute(alignkit::exec::seq, as_matrix(r, rows, cols), as_matrix(v, rows, cols),
                               as_matrix(b.m, rows, cols), opts,
                               gae::outputs<T>{as_matrix(sa, rows, cols), as_matrix(sr, rows, cols)});
  const auto rp = gae::compute(alignkit::exec::par.with(3), as_matrix(r, rows, cols), as_matrix(v, rows, cols),
                               as_matrix(b.m, rows, cols), opts,
                               gae::outputs<T>{as_matrix(pa, rows, cols), as_matrix(prt, rows, cols)});
  CHECK(sa == pa);
  CHECK(sr == prt);
  CHECK(rs.whitening->mean == rp.whitening->mean);
  CHECK(rs.whitening->scale == rp.whitening->scale);
  const auto rk = gae::compute(alignkit::packed{p.offsets}, pr, pv, p.m, opts,
                               gae::outputs<T, 1>{alignkit::view_of(ka), alignkit::view_of(kr)});
  CHECK(rk.valid_tokens == rs.valid_tokens);
  CHECK(rk.whitening->mean == rs.whitening->mean);
  CHECK(rk.whitening->scale == rs.whitening->scale);
  for (index_t i = 0; i < rows; ++i)
    for (index_t t = 0; t < b.lengths[static_cast<std::size_t>(i)]; ++t) {
      const auto k = static_cast<std::size_t>(p.offsets[static_cast<std::size_t>(i)] + t);
      CHECK(ka[k] == sa[static_cast<std::size_t>(i * cols + t)]);
      CHECK(kr[k] == sr[static_cast<std::size_t>(i * cols + t)]);
    }
  // The same batch stored column-major (strided rows) takes the view path: bitwise equal.
  std::vector<T> cr(n), cv(n);
  std::vector<int> cm(n);
  for (index_t i = 0; i < rows; ++i)
    for (index_t t = 0; t < cols; ++t) {
      const auto k = static_cast<std::size_t>(i * cols + t), c = static_cast<std::size_t>(t * rows + i);
      cr[c] = r[k];
      cv[c] = v[k];
      cm[c] = b.m[k];
    }
  const auto col = [&](auto& x) {
    using E = std::remove_reference_t<decltype(x[0])>;
    return alignkit::strided_view<E, 2>(x.data(), {rows, cols}, {1, rows});
  };
  gae::compute(col(cr), col(cv), col(cm), opts, gae::outputs<T>{col(ta), col(tr)});
  for (index_t i = 0; i < rows; ++i)
    for (index_t t = 0; t < cols; ++t) {
      CHECK(ta[static_cast<std::size_t>(t * rows + i)] == sa[static_cast<std::size_t>(i * cols + t)]);
      CHECK(tr[static_cast<std::size_t>(t * rows + i)] == sr[static_cast<std::size_t>(i * cols + t)]);
    }
}

// The masking::zero scan runs along time in batches: a NaN reaches the steps before it (as in
// the recursion) and no later one, whatever its lane.
TEST_CASE("masking::zero: a NaN reward reaches only the earlier steps") {
  const index_t cols = 37;
  for (index_t at = 0; at < cols; ++at) {
    std::vector<double> r(static_cast<std::size_t>(cols), 0.5), v(static_cast<std::size_t>(cols), 0.25);
    const std::vector<int> m(static_cast<std::size_t>(cols), 1);
    r[static_cast<std::size_t>(at)] = std::nan("");
    const auto e = gae::evaluate(as_matrix(r, 1, cols), as_matrix(v, 1, cols), as_matrix(m, 1, cols),
                                 {.gamma = 0.99, .lam = 0.95, .masked = gae::masking::zero});
    for (index_t t = 0; t < cols; ++t) {
      CAPTURE(at);
      CAPTURE(t);
      CHECK(std::isnan(e.advantages[static_cast<std::size_t>(t)]) == (t <= at));
    }
  }
}

TEST_CASE("masking::zero computes in the inputs' type: integer rewards with float values as float") {
  const index_t rows = 3, cols = 300;
  const auto b = random_batch(rows, cols, 5);
  const auto n = static_cast<std::size_t>(rows * cols);
  std::vector<int> ri(n);
  std::vector<float> rf(n), v(b.v.begin(), b.v.end());
  for (std::size_t k = 0; k < n; ++k) rf[k] = static_cast<float>(ri[k] = static_cast<int>(k % 3) - 1);
  const gae::options opts{.gamma = 0.99, .lam = 0.95, .masked = gae::masking::zero};
  std::vector<float> ai(n), af(n), ti(n), tf(n);
  gae::compute(as_matrix(ri, rows, cols), as_matrix(v, rows, cols), as_matrix(b.m, rows, cols), opts,
               gae::outputs<float>{as_matrix(ai, rows, cols), as_matrix(ti, rows, cols)});
  gae::compute(as_matrix(rf, rows, cols), as_matrix(v, rows, cols), as_matrix(b.m, rows, cols), opts,
               gae::outputs<float>{as_matrix(af, rows, cols), as_matrix(tf, rows, cols)});
  CHECK(ai == af);
  CHECK(ti == tf);
}

TEST_CASE("exec::par is bitwise equal to exec::seq, padded and packed") {
  const auto b = random_batch(97, 131, 4);
  const auto p = pack(b);
  const gae::options opts{.gamma = 0.99, .lam = 0.95, .whiten = alignkit::whitening::options{}};
  std::vector<double> sa(b.r.size()), sr(b.r.size()), pa(b.r.size()), pr(b.r.size());
  gae::compute(alignkit::exec::seq, as_matrix(b.r, 97, 131), as_matrix(b.v, 97, 131), as_matrix(b.m, 97, 131), opts,
               gae::outputs<double>{as_matrix(sa, 97, 131), as_matrix(sr, 97, 131)});
  gae::compute(alignkit::exec::par.with(3), as_matrix(b.r, 97, 131), as_matrix(b.v, 97, 131), as_matrix(b.m, 97, 131),
               opts, gae::outputs<double>{as_matrix(pa, 97, 131), as_matrix(pr, 97, 131)});
  CHECK(sa == pa);
  CHECK(sr == pr);
  std::vector<double> ka(p.r.size()), kb(p.r.size());
  gae::compute(alignkit::exec::seq, alignkit::packed{p.offsets}, p.r, p.v, p.m, opts, gae::outputs<double, 1>{alignkit::view_of(ka), {}});
  gae::compute(alignkit::exec::par.with(2), alignkit::packed{p.offsets}, p.r, p.v, p.m, opts,
               gae::outputs<double, 1>{alignkit::view_of(kb), {}});
  CHECK(ka == kb);
}

TEST_CASE("whitening over shards through a reducer equals the whole batch") {
  const auto b = random_batch(8, 19, 5);
  const gae::options opts{.whiten = alignkit::whitening::options{}};
  const auto full = gae::evaluate(as_matrix(b.r, 8, 19), as_matrix(b.v, 8, 19), as_matrix(b.m, 8, 19), opts);
  std::vector<double> a(b.r.size());
  alignkit_test::shard_group group(2);
  group.run([&](int rank) {
    const std::size_t off = static_cast<std::size_t>(rank) * 4 * 19;
    auto rows = [&](const auto& x) { return as_matrix(std::span(x.data() + off, 4 * 19), 4, 19); };
    gae::compute(alignkit::exec::seq, rows(b.r), rows(b.v), rows(b.m), opts,
                 gae::outputs<double>{as_matrix(std::span(a.data() + off, 4 * 19), 4, 19), {}}, group.member(rank));
  });
  for (std::size_t k = 0; k < a.size(); ++k) CHECK(a[k] == doctest::Approx(full.advantages[k]).epsilon(1e-13));
}

TEST_CASE("all-masked rows, length-1 sequences and empty sequences are finite and documented") {
  // An all-masked row: verl carries 0 through, A = 0 and R = V; OpenRLHF zeroes V, so R = 0.
  const std::vector<double> r{1, 2, 3, 4, 5, 6}, v{0.5, 0.25, 1, 2, 3, 4};
  const std::vector<int> m{0, 0, 0, 1, 1, 1};
  const auto skip = gae::evaluate(as_matrix(r, 2, 3), as_matrix(v, 2, 3), as_matrix(m, 2, 3));
  const auto zero = gae::evaluate(as_matrix(r, 2, 3), as_matrix(v, 2, 3), as_matrix(m, 2, 3),
                                  {.masked = gae::masking::zero});
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(skip.advantages[k] == 0.0);
    CHECK(skip.returns[k] == v[k]);
    CHECK(zero.advantages[k] == 0.0);
    CHECK(zero.returns[k] == 0.0);
  }
  // Length 1: A = r − V, R = r.
  const std::vector<double> r1{2.0}, v1{0.5};
  const std::vector<int> m1{1};
  const auto one = gae::evaluate(as_matrix(r1, 1, 1), as_matrix(v1, 1, 1), as_matrix(m1, 1, 1));
  CHECK(one.advantages[0] == 1.5);
  CHECK(one.returns[0] == 2.0);
  // Packed with empty sequences (equal offsets) and an empty batch.
  std::vector<double> a(3);
  const std::vector<std::int64_t> offsets{0, 0, 1, 1, 3};
  gae::compute(alignkit::packed{offsets}, std::vector<double>{1, 2, 3}, std::vector<double>{0, 0, 0},
               std::vector<int>{1, 1, 1},
               {.gamma = 1, .lam = 1}, gae::outputs<double, 1>{alignkit::view_of(a), {}});
  CHECK(a == std::vector<double>{1, 5, 3});
  const std::vector<double> none;
  const std::vector<int> no_mask;
  CHECK(gae::compute(alignkit::packed{std::vector<std::int64_t>{0}}, none, none, no_mask).valid_tokens == 0.0);
}

TEST_CASE("errors") {
  const std::vector<double> x6(6, 1.0), x5(5, 1.0);
  const std::vector<int> m6(6, 1);
  CHECK_THROWS_WITH_AS(gae::compute(as_matrix(x6, 2, 3), as_matrix(x6, 3, 2), as_matrix(m6, 2, 3)),
                       "[alignkit.shape_error.103] gae::compute: values has extent 3 in dimension 0, expected 2",
                       alignkit::shape_error);
  std::vector<double> out(6);
  CHECK_THROWS_WITH_AS(gae::compute(as_matrix(x6, 2, 3), as_matrix(x6, 2, 3), as_matrix(m6, 2, 3), {},
                                    gae::outputs<double>{as_matrix(out, 3, 2), {}}),
                       "[alignkit.shape_error.103] gae::compute: advantages has extent 3 in dimension 0, expected 2",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(gae::compute(alignkit::packed{std::vector<std::int64_t>{0, 6}}, x6, x5, m6),
                       "[alignkit.shape_error.101] gae::compute: values has 5 elements, the packed offsets' token "
                       "count has 6",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(gae::compute(alignkit::packed{std::vector<std::int64_t>{0, 4, 2, 6}}, x6, x6, m6),
                       "[alignkit.domain_error.204] gae::compute: offsets[2] is 2, less than offsets[1] = 4; "
                       "offsets must be non-decreasing",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(gae::compute(alignkit::packed{std::vector<std::int64_t>{0, 4, 7}}, x6, x6, m6),
                       "[alignkit.domain_error.204] gae::compute: offsets end at 7, expected the token count 6",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(gae::compute(as_matrix(x6, 2, 3), as_matrix(x6, 2, 3), as_matrix(m6, 2, 3), {.gamma = 1.5}),
                       "[alignkit.domain_error.202] gae::compute: gamma is 1.5, expected a value in [0, 1]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(gae::compute(as_matrix(x6, 2, 3), as_matrix(x6, 2, 3), as_matrix(m6, 2, 3), {.lam = -0.1}),
                       "[alignkit.domain_error.202] gae::compute: lam is -0.10000000000000001, expected a value in [0, 1]",
                       alignkit::domain_error);
  const std::vector<int> one_valid{0, 0, 1, 0, 0, 0};
  CHECK_THROWS_WITH_AS(gae::compute(as_matrix(x6, 2, 3), as_matrix(x6, 2, 3), as_matrix(one_valid, 2, 3),
                                    {.whiten = alignkit::whitening::options{}},
                                    gae::outputs<double>{as_matrix(out, 2, 3), {}}),
                       "[alignkit.domain_error.220] gae::compute: whitening needs at least 2 valid tokens in the "
                       "batch, the mask has 1",
                       alignkit::domain_error);
}
