// Golden op kl_controller: verl AdaptiveKLController / FixedKLController (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class Controller>
std::vector<double> run_updates(Controller ctl, const std::vector<double>& kl, const std::vector<double>& steps) {
  std::vector<double> values;
  for (std::size_t s = 0; s < kl.size(); ++s) {
    ctl.update(kl[s], steps[s]);
    values.push_back(ctl.value);
  }
  return values;
}

template <class T>
void kl_controller(golden::case_context& c) {
  // The controller state is a double in either precision; the float run reads float inputs.
  const auto kl_t = c.input<T>("current_kl");
  const std::vector<double> kl(kl_t.begin(), kl_t.end()), steps = c.input<double>("n_steps");
  if (c.text("type", "fixed") == "adaptive")
    c.check("values", run_updates(alignkit::kl::adaptive_kl_controller(c.param("init_kl_coef", 0.2), c.param("target_kl", 6.0),
                                                                       c.param("horizon", 10000.0)),
                                  kl, steps));
  else
    c.check("values", run_updates(alignkit::kl::fixed_kl_controller{c.param("kl_coef", 0.001)}, kl, steps));
}

}  // namespace

ALIGNKIT_GOLDEN_OP("kl_controller", kl_controller);
