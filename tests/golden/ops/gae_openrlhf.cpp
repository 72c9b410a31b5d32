// Golden op gae_openrlhf: OpenRLHF get_advantages_and_returns + advantage normalisation (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void gae_openrlhf(golden::case_context& c) {
  namespace g = alignkit::gae;
  const auto& shape = c.shape("token_level_rewards");
  const auto b = shape[0], t = shape[1];
  const auto r = c.input<T>("token_level_rewards");
  const auto v = c.input<T>("values");
  const auto m = c.input<int>("action_mask");
  std::vector<T> raw(r.size()), returns(r.size()), whitened(r.size());
  g::options opts{.gamma = c.param("gamma", 1.0), .lam = c.param("lambd", 0.95), .masked = g::masking::zero};
  g::compute(alignkit::as_matrix(r, b, t), alignkit::as_matrix(v, b, t), alignkit::as_matrix(m, b, t), opts,
             g::outputs<T>{alignkit::as_matrix(raw, b, t), alignkit::as_matrix(returns, b, t)});
  opts.whiten = alignkit::whitening::options{.style = alignkit::whitening::convention::openrlhf,
                                             .divide_by_std = !c.flag("no_std_norm", false)};
  g::compute(alignkit::as_matrix(r, b, t), alignkit::as_matrix(v, b, t), alignkit::as_matrix(m, b, t), opts,
             g::outputs<T>{alignkit::as_matrix(whitened, b, t), {}});
  c.check("advantages_raw", raw);
  c.check("returns", returns);
  c.check("advantages", whitened);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("gae_openrlhf", gae_openrlhf);
