// Golden op value_loss: verl compute_value_loss + agg_loss (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void value_loss(golden::case_context& c) {
  const auto& shape = c.shape("vpreds");
  const auto rows = static_cast<alignkit::index_t>(shape[0]), cols = static_cast<alignkit::index_t>(shape[1]);
  const auto vpreds = c.input<T>("vpreds"), values = c.input<T>("values"), returns = c.input<T>("returns");
  const auto mask = c.input<int>("response_mask");
  std::vector<T> grad(vpreds.size());
  const alignkit::value::options opts{.cliprange_value = c.param("cliprange_value", 0.5),
                                      .agg = alignkit::parse_aggregation(c.text("loss_agg_mode", "token-mean"))};
  const auto r = alignkit::value::loss(alignkit::as_matrix(vpreds, rows, cols), alignkit::as_matrix(values, rows, cols),
                                       alignkit::as_matrix(returns, rows, cols), alignkit::as_matrix(mask, rows, cols),
                                       opts, alignkit::value::outputs<T>{alignkit::as_matrix(grad, rows, cols)});
  c.check("vf_loss", r.loss);
  c.check("vf_clipfrac", r.clipfrac);
  c.check_grad("vf_loss", "vpreds", grad);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("value_loss", value_loss);
