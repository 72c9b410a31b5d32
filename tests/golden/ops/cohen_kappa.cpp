// Golden op cohen_kappa: scikit-learn cohen_kappa_score, unweighted, linear and quadratic (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void cohen_kappa(golden::case_context& c) {
  namespace ag = alignkit::agreement;
  const std::string w = c.text("weights", "none");
  const auto weights = w == "linear" ? ag::weighting::linear : w == "quadratic" ? ag::weighting::quadratic : ag::weighting::none;
  c.check("kappa", ag::cohen_kappa(c.input<T>("y1"), c.input<T>("y2"), weights));
}

}  // namespace

ALIGNKIT_GOLDEN_OP("cohen_kappa", cohen_kappa);
