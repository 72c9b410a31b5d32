// Golden op gae: verl compute_gae_advantage_return + masked_whiten (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void gae(golden::case_context& c) {
  namespace g = alignkit::gae;
  const auto& shape = c.shape("token_level_rewards");
  const auto b = shape[0], t = shape[1];
  const auto r = c.input<T>("token_level_rewards");
  const auto v = c.input<T>("values");
  const auto m = c.input<int>("response_mask");
  std::vector<T> raw(r.size()), returns(r.size()), whitened(r.size());
  const g::options raw_opts{.gamma = c.param("gamma", 1.0), .lam = c.param("lam", 1.0)};
  g::compute(alignkit::as_matrix(r, b, t), alignkit::as_matrix(v, b, t), alignkit::as_matrix(m, b, t), raw_opts,
             g::outputs<T>{alignkit::as_matrix(raw, b, t), alignkit::as_matrix(returns, b, t)});
  auto opts = raw_opts;
  opts.whiten = alignkit::whitening::options{};
  g::compute(alignkit::as_matrix(r, b, t), alignkit::as_matrix(v, b, t), alignkit::as_matrix(m, b, t), opts,
             g::outputs<T>{alignkit::as_matrix(whitened, b, t), {}});
  c.check("advantages_raw", raw);
  c.check("returns", returns);
  c.check("advantages", whitened);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("gae", gae);
