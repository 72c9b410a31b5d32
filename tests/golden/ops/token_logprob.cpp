// Golden op token_logprob: verl logprobs_from_logits / entropy_from_logits (OPS.md).
#include <alignkit/token/logprob.hpp>

#include <cstdint>

#include "../golden.hpp"

namespace {

template <class T>
void token_logprob(golden::case_context& c) {
  namespace tk = alignkit::token;
  const auto logits = c.input<T>("logits");
  const auto labels = c.input<std::int64_t>("labels");
  const auto n = static_cast<alignkit::index_t>(c.shape("logits")[0]);
  const auto v = static_cast<alignkit::index_t>(c.shape("logits")[1]);
  const alignkit::matrix_view<const T> lv(logits.data(), {n, v});
  std::vector<T> logp(labels.size()), entropy(labels.size()), g_logp(logits.size()), g_entropy(logits.size());
  const std::vector<T> ones(labels.size(), T(1));
  const auto r = tk::logprob(lv, labels, {},
                             tk::outputs<T>{alignkit::view_of(logp), alignkit::view_of(entropy), {g_logp.data(), {n, v}}},
                             tk::upstream<T>{alignkit::view_of(ones)});
  tk::logprob(lv, labels, {}, tk::outputs<T>{{}, {}, {g_entropy.data(), {n, v}}}, tk::upstream<T>{{}, alignkit::view_of(ones)});
  c.check("logprobs", logp);
  c.check("entropy", entropy);
  c.check("logprobs_sum", r.logprobs_sum);
  c.check("entropy_sum", r.entropy_sum);
  c.check_grad("logprobs_sum", "logits", g_logp);
  c.check_grad("entropy_sum", "logits", g_entropy);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("token_logprob", token_logprob);
