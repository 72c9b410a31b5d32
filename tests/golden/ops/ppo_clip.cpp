// Golden op ppo_clip: verl compute_policy_loss_vanilla + agg_loss (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void ppo_clip(golden::case_context& c) {
  namespace ppo = alignkit::ppo;
  const auto& shape = c.shape("log_prob");
  const auto rows = static_cast<alignkit::index_t>(shape[0]), cols = static_cast<alignkit::index_t>(shape[1]);
  const auto lp = c.input<T>("log_prob"), old = c.input<T>("old_log_prob"), adv = c.input<T>("advantages");
  const auto mask = c.input<int>("response_mask");
  std::vector<T> grad(lp.size());
  const ppo::options opts{.clip_ratio = c.param("clip_ratio", 0.2),
                          .clip_ratio_low = c.optional_param("clip_ratio_low"),
                          .clip_ratio_high = c.optional_param("clip_ratio_high"),
                          .clip_ratio_c = c.param("clip_ratio_c", 3.0),
                          .agg = alignkit::parse_aggregation(c.text("loss_agg_mode", "token-mean"))};
  const auto r = ppo::loss(alignkit::as_matrix(lp, rows, cols), alignkit::as_matrix(old, rows, cols),
                           alignkit::as_matrix(adv, rows, cols), alignkit::as_matrix(mask, rows, cols), opts,
                           ppo::outputs<T>{alignkit::as_matrix(grad, rows, cols)});
  c.check("pg_loss", r.pg_loss);
  c.check("pg_clipfrac", r.clipfrac);
  c.check("ppo_kl", r.approx_kl);
  c.check("pg_clipfrac_lower", r.clipfrac_lower);
  c.check_grad("pg_loss", "log_prob", grad);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("ppo_clip", ppo_clip);
