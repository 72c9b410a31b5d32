// Golden op fleiss_kappa: statsmodels fleiss_kappa from a count table (OPS.md).
#include <alignkit/alignkit.hpp>

#include "../golden.hpp"

namespace {

template <class T>
void fleiss_kappa(golden::case_context& c) {
  namespace ag = alignkit::agreement;
  const auto table = c.input<T>("table");
  const auto& shape = c.shape("table");
  const auto view = alignkit::matrix_view<const T>(
      table.data(), {static_cast<alignkit::index_t>(shape[0]), static_cast<alignkit::index_t>(shape[1])});
  const auto method = c.text("method", "fleiss") == "randolph" ? ag::chance::randolph : ag::chance::fleiss;
  c.check("kappa", ag::fleiss_kappa(view, method).kappa);
}

}  // namespace

ALIGNKIT_GOLDEN_OP("fleiss_kappa", fleiss_kappa);
