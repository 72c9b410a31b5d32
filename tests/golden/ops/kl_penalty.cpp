// Golden op kl_penalty: verl kl_penalty / kl_penalty_forward (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void kl_penalty(golden::case_context& c) {
  const auto& shape = c.shape("logprob");
  const auto rows = static_cast<alignkit::index_t>(shape[0]), cols = static_cast<alignkit::index_t>(shape[1]);
  const auto lp = c.input<T>("logprob"), ref = c.input<T>("ref_logprob");
  std::vector<T> kld(lp.size()), grad(lp.size());
  const auto r = alignkit::kl::penalty(alignkit::as_matrix(lp, rows, cols), alignkit::as_matrix(ref, rows, cols),
                                       alignkit::kl::parse_penalty(c.text("kl_penalty", "kl")),
                                       alignkit::kl::penalty_outputs<T>{alignkit::as_matrix(kld, rows, cols),
                                                                        alignkit::as_matrix(grad, rows, cols)});
  c.check("kld", kld);
  c.check("kld_sum", r.sum);
  c.check_grad("kld_sum", "logprob", grad);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("kl_penalty", kl_penalty);
