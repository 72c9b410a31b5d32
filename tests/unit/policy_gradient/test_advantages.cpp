// Outcome advantages: every group-relative estimator against its formula (non-contiguous ids,
// groups of one, identical rewards), group ids vs fixed size, score vectors vs token rewards,
// binary verifiable rewards, shards through a reducer, exec::par vs exec::seq, REINFORCE++,
// ReMax, and the documented errors.
#include <alignkit/alignkit.hpp>

#include <cmath>
#include <map>
#include <random>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include "shard_group.hpp"

namespace adv = alignkit::advantages;
using alignkit::as_matrix;
using alignkit::index_t;

namespace {

struct batch {
  index_t rows, cols;
  std::vector<double> r;
  std::vector<int> m;
  std::vector<std::int64_t> ids;
};

// Rewards with a random valid prefix per row; groups 0…3 interleaved, group 3 has one member.
batch random_batch(std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> d(0.0, 1.0);
  std::uniform_int_distribution<int> len(1, 7);
  batch b{10, 7, {}, {}, {2, 0, 1, 0, 2, 1, 0, 3, 2, 1}};
  for (index_t i = 0; i < b.rows; ++i) {
    const int l = len(g);
    for (index_t t = 0; t < b.cols; ++t) {
      b.r.push_back(d(g));
      b.m.push_back(t < l);
    }
  }
  return b;
}

// Direct formulas of the header, per sequence, with std::map groups as verl does.
std::vector<double> reference(const batch& b, const adv::options& o) {
  std::vector<double> s(static_cast<std::size_t>(b.rows)), len(s.size());
  for (index_t i = 0; i < b.rows; ++i)
    for (index_t t = 0; t < b.cols; ++t) {
      s[static_cast<std::size_t>(i)] += b.r[static_cast<std::size_t>(i * b.cols + t)];
      len[static_cast<std::size_t>(i)] += b.m[static_cast<std::size_t>(i * b.cols + t)];
    }
  std::map<std::int64_t, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < s.size(); ++i) groups[b.ids[i]].push_back(i);
  std::vector<double> a(s.size());
  for (const auto& [id, members] : groups) {
    const double n = static_cast<double>(members.size());
    double sum = 0, lsum = 0, lssum = 0;
    for (auto i : members) {
      sum += s[i];
      lsum += len[i];
      lssum += len[i] * s[i];
    }
    const double mean = n > 1 ? sum / n : 0;
    double var = 0;
    for (auto i : members) var += (s[i] - mean) * (s[i] - mean);
    const double sd = n > 1 ? std::sqrt(var / (n - 1)) : 1;
    for (auto i : members) {
      switch (o.method) {
        case adv::estimator::grpo: a[i] = o.norm_by_std ? (s[i] - mean) / (sd + o.epsilon) : s[i] - mean; break;
        case adv::estimator::rloo: a[i] = n > 1 ? s[i] - (sum - s[i]) / (n - 1) : s[i]; break;
        case adv::estimator::reinforce_pp_baseline: a[i] = s[i] - mean; break;
        case adv::estimator::opo: a[i] = s[i] - (n > 1 ? lssum / lsum : 0); break;
      }
    }
  }
  std::vector<double> out(b.r.size());
  for (std::size_t k = 0; k < out.size(); ++k) out[k] = a[k / static_cast<std::size_t>(b.cols)] * b.m[k];
  if (o.method == adv::estimator::reinforce_pp_baseline) alignkit::whitening::whiten(out, b.m, out, {.zero_masked = true});
  return out;
}

const adv::options all_options[] = {
    {.method = adv::estimator::grpo},
    {.method = adv::estimator::grpo, .epsilon = 0.1},
    {.method = adv::estimator::grpo, .norm_by_std = false},
    {.method = adv::estimator::rloo},
    {.method = adv::estimator::reinforce_pp_baseline},
    {.method = adv::estimator::opo},
};

}  // namespace

TEST_CASE("every group-relative estimator matches its formula") {
  const auto b = random_batch(1);
  for (const auto& o : all_options) {
    CAPTURE(static_cast<int>(o.method));
    std::vector<double> out(b.r.size());
    const auto res = adv::group_relative(as_matrix(b.r, 10, 7), as_matrix(b.m, 10, 7), adv::by_id(b.ids, 4), o,
                                         as_matrix(out, 10, 7));
    const auto want = reference(b, o);
    for (std::size_t k = 0; k < out.size(); ++k) CHECK(out[k] == doctest::Approx(want[k]).epsilon(1e-12));
    CHECK(res.groups == 4);
    CHECK(res.singleton_groups == 1);
    CHECK(res.whitening.has_value() == (o.method == adv::estimator::reinforce_pp_baseline));
  }
}

TEST_CASE_TEMPLATE("fixed group size equals the same groups by id; float and double", T, float, double) {
  const auto b = random_batch(2);
  const std::vector<T> r(b.r.begin(), b.r.end());
  std::vector<std::int64_t> ids(10);
  for (std::size_t i = 0; i < 10; ++i) ids[i] = static_cast<std::int64_t>(i / 5);
  for (const auto& o : all_options) {
    std::vector<T> by_size(r.size()), by_ids(r.size());
    adv::group_relative(as_matrix(r, 10, 7), as_matrix(b.m, 10, 7), adv::group_size{5}, o, as_matrix(by_size, 10, 7));
    adv::group_relative(as_matrix(r, 10, 7), as_matrix(b.m, 10, 7), adv::by_id(ids, 2), o, as_matrix(by_ids, 10, 7));
    CHECK(by_size == by_ids);
  }
}

TEST_CASE("a score vector equals one-token sequences") {
  const std::vector<double> scores{0.5, -1.0, 2.0, 0.25, 3.0, 1.0};
  const std::vector<int> ones(6, 1);
  const std::vector<std::int64_t> ids{1, 0, 1, 0, 1, 0};
  for (const auto& o : all_options) {
    std::vector<double> from_scores(6), from_tokens(6);
    adv::group_relative(scores, adv::by_id(ids, 2), o, from_scores);
    adv::group_relative(as_matrix(scores, 6, 1), as_matrix(ones, 6, 1), adv::by_id(ids, 2), o,
                        as_matrix(from_tokens, 6, 1));
    for (std::size_t i = 0; i < 6; ++i) CHECK(from_scores[i] == doctest::Approx(from_tokens[i]).epsilon(1e-14));
  }
}

// The score form with group_size takes a one-pass path; group ids i / G take the general one.
template <class T>
void check_fixed_groups(index_t size, index_t count, std::uint32_t seed) {
  CAPTURE(size);
  CAPTURE(count);
  std::mt19937 g(seed);
  std::normal_distribution<double> d(3.0, 0.5);
  std::bernoulli_distribution coin(0.4);
  const auto n = static_cast<std::size_t>(size * count);
  std::vector<T> scores(n);
  std::vector<std::int64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) {
    scores[i] = static_cast<T>(coin(g) + 0.01 * d(g));
    ids[i] = static_cast<std::int64_t>(i) / size;
  }
  if (count > 1)  // one group of identical scores
    for (index_t j = 0; j < size; ++j) scores[static_cast<std::size_t>(size + j)] = T(0.7);
  for (const auto& o : all_options) {
    CAPTURE(static_cast<int>(o.method));
    if (n < 2 && o.method == adv::estimator::reinforce_pp_baseline) continue;  // whitening needs 2
    std::vector<T> fixed(n), general(n), par(n);
    const auto rf = adv::group_relative(scores, adv::group_size{size}, o, fixed);
    const auto rg = adv::group_relative(scores, adv::by_id(ids, count), o, general);
    CHECK(rf.groups == rg.groups);
    CHECK(rf.singleton_groups == rg.singleton_groups);
    CHECK(rf.whitening.has_value() == rg.whitening.has_value());
    const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-12;
    for (std::size_t i = 0; i < n; ++i) {
      // 0/ε of identical scores amplifies the rounding of the mean by 1/ε.
      const double scale = o.norm_by_std && o.method == adv::estimator::grpo ? 1 / o.epsilon : 1.0;
      CHECK(std::abs(fixed[i] - general[i]) <= tol * std::abs(general[i]) + 1e-14 * scale);
    }
    // Chunks of 3 groups or fewer, on 3 threads: bitwise equal to seq with the same chunk.
    std::vector<T> seq(n);
    const index_t chunk = 3 * size + 1;
    adv::group_relative(alignkit::exec::sequenced_policy{chunk}, scores, adv::group_size{size}, o, seq);
    adv::group_relative(alignkit::exec::parallel_policy{3, chunk}, scores, adv::group_size{size}, o, par);
    CHECK(par == seq);
    if (o.method != adv::estimator::reinforce_pp_baseline) CHECK(seq == fixed);  // whitening chunks by `chunk`
  }
}

TEST_CASE("fixed-size groups of a score vector match the general path, par bitwise equal to seq") {
  for (index_t size : {1, 2, 5, 8, 16, 17, 40}) {
    check_fixed_groups<double>(size, 1, 11);
    check_fixed_groups<double>(size, 23, 12);
    check_fixed_groups<float>(size, 23, 13);
  }
  // A strided score view takes the general path and gives the same values.
  std::vector<double> wide(64), out(32), dense_out(32), dense(32);
  for (std::size_t i = 0; i < 64; ++i) wide[i] = std::sin(static_cast<double>(i));
  for (std::size_t i = 0; i < 32; ++i) dense[i] = wide[2 * i];
  adv::group_relative(alignkit::vector_view<const double>(wide.data(), {32}, {2}), adv::group_size{8}, {}, out);
  adv::group_relative(dense, adv::group_size{8}, {}, dense_out);
  for (std::size_t i = 0; i < 32; ++i) CHECK(out[i] == doctest::Approx(dense_out[i]).epsilon(1e-12));
}

TEST_CASE("groups of one and identical rewards give the documented finite values") {
  const std::vector<double> scores{2.0, 0.7, 0.7, 0.7, 0.7};
  const std::vector<std::int64_t> ids{0, 1, 1, 1, 1};
  std::vector<double> out(5);
  adv::group_relative(scores, adv::by_id(ids, 2), {}, out);
  CHECK(out[0] == doctest::Approx(2.0 / (1 + 1e-6)));  // μ = 0, σ = 1
  for (std::size_t i = 1; i < 5; ++i) CHECK(std::abs(out[i]) < 1e-9);  // 0/ε
  adv::group_relative(scores, adv::by_id(ids, 2), {.method = adv::estimator::rloo}, out);
  CHECK(out[0] == 2.0);
  for (std::size_t i = 1; i < 5; ++i) CHECK(std::abs(out[i]) < 1e-12);
  adv::group_relative(scores, adv::by_id(ids, 2), {.method = adv::estimator::opo}, out);
  CHECK(out[0] == 2.0);
  for (std::size_t i = 1; i < 5; ++i) CHECK(std::abs(out[i]) < 1e-12);
  // An unused id is allowed and counts as no group.
  const auto res = adv::group_relative(scores, adv::by_id(ids, 3), {}, out);
  CHECK(res.groups == 2);
}

TEST_CASE("binary verifiable rewards (RLVR): successes above, failures below, solved groups zero") {
  // 3 prompts × 4 samples; reward 1 at the last valid token of a correct completion.
  const std::vector<int> correct{1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0};
  const index_t t = 5;
  std::vector<double> r(12 * t, 0.0);
  std::vector<int> m(12 * t, 0);
  for (index_t i = 0; i < 12; ++i) {
    const index_t len = 1 + i % t;
    for (index_t k = 0; k < len; ++k) m[static_cast<std::size_t>(i * t + k)] = 1;
    r[static_cast<std::size_t>(i * t + len - 1)] = correct[static_cast<std::size_t>(i)];
  }
  std::vector<double> out(r.size());
  adv::group_relative(as_matrix(r, 12, t), as_matrix(m, 12, t), adv::group_size{4}, {}, as_matrix(out, 12, t));
  for (index_t g = 0; g < 3; ++g) {
    double k = 0;
    for (index_t i = 4 * g; i < 4 * g + 4; ++i) k += correct[static_cast<std::size_t>(i)];
    const double p = k / 4, sd = std::sqrt(4 * p * (1 - p) / 3);
    for (index_t i = 4 * g; i < 4 * g + 4; ++i) {
      const double want = sd == 0 ? 0.0 : (correct[static_cast<std::size_t>(i)] - p) / (sd + 1e-6);
      for (index_t s = 0; s < t; ++s) {
        const auto at = static_cast<std::size_t>(i * t + s);
        CHECK(out[at] == doctest::Approx(m[at] ? want : 0.0).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("group statistics over shards through a reducer equal the whole batch") {
  const auto b = random_batch(3);
  for (const auto& o : all_options) {
    std::vector<double> full(b.r.size()), sharded(b.r.size());
    adv::group_relative(as_matrix(b.r, 10, 7), as_matrix(b.m, 10, 7), adv::by_id(b.ids, 4), o, as_matrix(full, 10, 7));
    alignkit_test::shard_group group(2);
    group.run([&](int rank) {
      const std::size_t off = static_cast<std::size_t>(rank) * 5;
      adv::group_relative(alignkit::exec::seq, as_matrix(std::span(b.r.data() + off * 7, 35), 5, 7),
                          as_matrix(std::span(b.m.data() + off * 7, 35), 5, 7),
                          adv::by_id(std::span(b.ids.data() + off, 5), 4), o,
                          as_matrix(std::span(sharded.data() + off * 7, 35), 5, 7), group.member(rank));
    });
    for (std::size_t k = 0; k < full.size(); ++k) CHECK(sharded[k] == doctest::Approx(full[k]).epsilon(1e-12));
  }
}

TEST_CASE("exec::par is bitwise equal to exec::seq") {
  std::mt19937 g(4);
  std::bernoulli_distribution coin(0.4);
  const index_t rows = 256, cols = 97;
  std::vector<double> r(static_cast<std::size_t>(rows * cols));
  std::vector<int> m(r.size());
  for (std::size_t k = 0; k < r.size(); ++k) {
    r[k] = coin(g);
    m[k] = k % 97 < 50 || coin(g);
  }
  for (const auto& o : all_options) {
    std::vector<double> s(r.size()), p(r.size());
    adv::group_relative(alignkit::exec::seq, as_matrix(r, rows, cols), as_matrix(m, rows, cols), adv::group_size{16}, o,
                        as_matrix(s, rows, cols));
    adv::group_relative(alignkit::exec::par.with(3), as_matrix(r, rows, cols), as_matrix(m, rows, cols),
                        adv::group_size{16}, o, as_matrix(p, rows, cols));
    CHECK(s == p);
  }
  std::vector<double> sa(r.size()), sr(r.size()), pa(r.size()), pr(r.size());
  adv::reinforce_pp(alignkit::exec::seq, as_matrix(r, rows, cols), as_matrix(m, rows, cols), 0.99,
                    adv::outputs<double>{as_matrix(sa, rows, cols), as_matrix(sr, rows, cols)});
  adv::reinforce_pp(alignkit::exec::par.with(3), as_matrix(r, rows, cols), as_matrix(m, rows, cols), 0.99,
                    adv::outputs<double>{as_matrix(pa, rows, cols), as_matrix(pr, rows, cols)});
  CHECK(sa == pa);
  CHECK(sr == pr);
}

TEST_CASE("REINFORCE++ and ReMax follow their recursions") {
  const auto b = random_batch(5);
  const std::vector<int> holes{1, 1, 0, 1, 1, 0, 0};  // interior zeros as well
  auto m = b.m;
  for (std::size_t k = 0; k < m.size(); ++k) m[k] *= holes[k % 7];
  std::vector<double> g(b.r.size()), remax_ret(b.r.size()), remax_adv(b.r.size());
  std::vector<double> base(10);
  for (std::size_t i = 0; i < 10; ++i) base[i] = 0.1 * static_cast<double>(i);
  for (index_t i = 0; i < 10; ++i) {
    double c = 0, cum = 0;
    for (index_t t = 6; t >= 0; --t) {
      const auto k = static_cast<std::size_t>(i * 7 + t);
      c = b.r[k] + 0.9 * c;
      g[k] = c;
      c *= m[k];
      cum += b.r[k] * m[k];
      remax_ret[k] = cum;
      remax_adv[k] = cum - base[static_cast<std::size_t>(i)] * m[k];
    }
  }
  std::vector<double> want(g.size());
  alignkit::whitening::whiten(g, m, want, {.zero_masked = true});
  std::vector<double> a(g.size()), ret(g.size());
  adv::reinforce_pp(as_matrix(b.r, 10, 7), as_matrix(m, 10, 7), 0.9,
                    adv::outputs<double>{as_matrix(a, 10, 7), as_matrix(ret, 10, 7)});
  for (std::size_t k = 0; k < g.size(); ++k) {
    CHECK(ret[k] == doctest::Approx(g[k]).epsilon(1e-14));
    CHECK(a[k] == doctest::Approx(want[k]).epsilon(1e-12));
  }
  adv::remax(as_matrix(b.r, 10, 7), base, as_matrix(m, 10, 7),
             adv::outputs<double>{as_matrix(a, 10, 7), as_matrix(ret, 10, 7)});
  for (std::size_t k = 0; k < g.size(); ++k) {
    CHECK(ret[k] == doctest::Approx(remax_ret[k]).epsilon(1e-14));
    CHECK(a[k] == doctest::Approx(remax_adv[k]).epsilon(1e-14));
  }
}

TEST_CASE_TEMPLATE("padded and packed layouts give bitwise identical results", T, float, double) {
  const auto b = random_batch(6);
  const std::vector<T> r(b.r.begin(), b.r.end());
  // Pack each row's valid prefix (the rows of random_batch are right-padded).
  std::vector<T> pr;
  std::vector<int> pm;
  std::vector<std::int64_t> offsets{0};
  std::vector<std::size_t> where;  // padded position of each packed token
  for (std::size_t k = 0; k < r.size(); ++k)
    if (b.m[k]) {
      pr.push_back(r[k]);
      pm.push_back(1);
      where.push_back(k);
      if (k % 7 == 6 || !b.m[k + 1]) offsets.push_back(static_cast<std::int64_t>(pr.size()));
    }
  REQUIRE(offsets.size() == 11);
  auto same = [&](const std::vector<T>& padded, const std::vector<T>& packed) {
    for (std::size_t j = 0; j < packed.size(); ++j) CHECK(packed[j] == padded[where[j]]);
  };
  // The scores of group_relative sum every position, so the padded rewards must be 0 off the mask.
  std::vector<T> r0(r);
  for (std::size_t k = 0; k < r0.size(); ++k) r0[k] *= static_cast<T>(b.m[k]);
  for (const auto& o : all_options) {
    std::vector<T> padded(r.size()), packed(pr.size());
    adv::group_relative(as_matrix(r0, 10, 7), as_matrix(b.m, 10, 7), adv::by_id(b.ids, 4), o, as_matrix(padded, 10, 7));
    adv::group_relative(alignkit::packed{offsets}, pr, pm, adv::by_id(b.ids, 4), o, packed);
    same(padded, packed);
  }
  std::vector<T> a(r.size()), g(r.size()), pa(pr.size()), pg(pr.size());
  adv::reinforce_pp(as_matrix(r, 10, 7), as_matrix(b.m, 10, 7), 0.9, adv::outputs<T>{as_matrix(a, 10, 7), as_matrix(g, 10, 7)});
  adv::reinforce_pp(alignkit::packed{offsets}, pr, pm, 0.9, adv::outputs<T, 1>{alignkit::view_of(pa), alignkit::view_of(pg)});
  same(a, pa);
  same(g, pg);
  const std::vector<T> base{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  adv::remax(as_matrix(r, 10, 7), base, as_matrix(b.m, 10, 7), adv::outputs<T>{as_matrix(a, 10, 7), as_matrix(g, 10, 7)});
  adv::remax(alignkit::packed{offsets}, pr, base, pm, adv::outputs<T, 1>{alignkit::view_of(pa), alignkit::view_of(pg)});
  same(a, pa);
  same(g, pg);
}

TEST_CASE("errors") {
  const std::vector<double> s{1, 2, 3, 4};
  std::vector<double> out(4);
  CHECK_THROWS_WITH_AS(adv::group_relative(s, adv::by_id(std::vector<int>{0, 1, 2, 1}, 2), {}, out),
                       "[alignkit.domain_error.221] advantages::group_relative: group id [2] is 2, expected a value "
                       "in [0, 2)",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(adv::group_relative(s, adv::by_id(std::vector<int>{0, -1, 0, 1}, 2), {}, out),
                       "[alignkit.domain_error.221] advantages::group_relative: group id [1] is -1, expected a value "
                       "in [0, 2)",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(adv::group_relative(s, adv::by_id(std::vector<int>{0, 1, 0}, 2), {}, out),
                       "[alignkit.shape_error.101] advantages::group_relative: group ids has 3 elements, sequences "
                       "has 4",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(adv::group_relative(s, adv::group_size{3}, {}, out),
                       "[alignkit.shape_error.120] advantages::group_relative: 4 sequences do not divide into groups "
                       "of 3",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(adv::group_relative(s, adv::group_size{0}, {}, out),
                       "[alignkit.domain_error.202] advantages::group_relative: group size is 0, expected a value in "
                       "[1, inf]",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(adv::group_relative(s, adv::group_size{2}, {.epsilon = -1}, out),
                       "[alignkit.domain_error.202] advantages::group_relative: epsilon is -1, expected a value in "
                       "[0, inf]",
                       alignkit::domain_error);
  std::vector<double> out3(3);
  CHECK_THROWS_WITH_AS(adv::group_relative(s, adv::group_size{2}, {}, out3),
                       "[alignkit.shape_error.101] advantages::group_relative: out has 3 elements, scores has 4",
                       alignkit::shape_error);
  const std::vector<int> m6(6, 1);
  std::vector<double> o6(6);
  CHECK_THROWS_WITH_AS(adv::group_relative(as_matrix(o6, 2, 3), as_matrix(m6, 3, 2), adv::group_size{1}, {},
                                           as_matrix(o6, 2, 3)),
                       "[alignkit.shape_error.103] advantages::group_relative: mask has extent 3 in dimension 0, "
                       "expected 2",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(adv::reinforce_pp(as_matrix(o6, 2, 3), as_matrix(m6, 2, 3), 1.01, adv::outputs<double>{}),
                       "[alignkit.domain_error.202] advantages::reinforce_pp: gamma is 1.01, expected a value in [0, 1]",
                       alignkit::domain_error);
  const std::vector<int> single{0, 0, 1, 0, 0, 0};
  CHECK_THROWS_WITH_AS(adv::reinforce_pp(as_matrix(o6, 2, 3), as_matrix(single, 2, 3), 1.0,
                                         adv::outputs<double>{as_matrix(out, 2, 2), {}}),
                       "[alignkit.shape_error.103] advantages::reinforce_pp: advantages has extent 2 in dimension 1, "
                       "expected 3",
                       alignkit::shape_error);
  CHECK_THROWS_WITH_AS(adv::remax(as_matrix(o6, 2, 3), std::vector<double>{1.0}, as_matrix(m6, 2, 3),
                                  adv::outputs<double>{}),
                       "[alignkit.shape_error.101] advantages::remax: baselines has 1 elements, sequences has 2",
                       alignkit::shape_error);
  const std::vector<double> tokens(5, 1.0);
  const std::vector<int> ones(5, 1);
  std::vector<double> o5(5);
  CHECK_THROWS_WITH_AS(adv::group_relative(alignkit::packed{std::vector<int>{0, 3, 2, 5}}, tokens, ones, adv::group_size{1}, {}, o5),
                       "[alignkit.domain_error.204] advantages::group_relative: offsets[2] is 2, less than "
                       "offsets[1] = 3; offsets must be non-decreasing",
                       alignkit::domain_error);
  CHECK_THROWS_WITH_AS(adv::reinforce_pp(alignkit::packed{std::vector<int>{0, 6}}, tokens, ones, 1.0, adv::outputs<double, 1>{}),
                       "[alignkit.domain_error.204] advantages::reinforce_pp: offsets end at 6, expected the token "
                       "count 5",
                       alignkit::domain_error);
}
