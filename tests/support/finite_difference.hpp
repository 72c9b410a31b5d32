// Central finite differences for gradient checks, shared by every objective's tests.
#pragma once

#include <cmath>
#include <functional>
#include <vector>

#include <doctest/doctest.h>

namespace alignkit_test {

/// d f / d x_i by central differences with step h·max(1, |x_i|), in double.
inline std::vector<double> numeric_gradient(const std::function<double(const std::vector<double>&)>& f,
                                            std::vector<double> x, double h = 1e-6) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i], step = h * std::max(1.0, std::abs(xi));
    x[i] = xi + step;
    const double up = f(x);
    x[i] = xi - step;
    const double down = f(x);
    x[i] = xi;
    g[i] = (up - down) / (2 * step);
  }
  return g;
}

/// Checks an analytic gradient against central differences of f at x.
inline void check_gradient(const std::function<double(const std::vector<double>&)>& f, const std::vector<double>& x,
                           const std::vector<double>& analytic, double rtol = 1e-5, double atol = 1e-8) {
  const auto numeric = numeric_gradient(f, x);
  REQUIRE(numeric.size() == analytic.size());
  for (std::size_t i = 0; i < numeric.size(); ++i) {
    INFO("component ", i, ": analytic ", analytic[i], " numeric ", numeric[i]);
    CHECK(std::abs(analytic[i] - numeric[i]) <= atol + rtol * std::abs(numeric[i]));
  }
}

}  // namespace alignkit_test
