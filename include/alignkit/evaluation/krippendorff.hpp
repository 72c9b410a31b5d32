/// @file krippendorff.hpp
/// @brief Krippendorff's alpha for any number of coders, missing values, and the nominal,
/// ordinal, interval and ratio levels of measurement.
///
/// Reliability data [coders m, units N]; m_u = the number of values in unit u (units with
/// m_u < 2 are not pairable and are ignored). Coincidences of values c, k:
///   o_ck = Σ_u (number of ordered pairs of coders in u with values (c, k)) / (m_u − 1)
///   n_c = Σ_k o_ck,  n = Σ_c n_c
///   α = 1 − D_o / D_e = 1 − (n − 1) · Σ_{c,k} o_ck δ²_ck / Σ_{c,k} n_c n_k δ²_ck
/// Differences δ²: nominal 1[c ≠ k]; interval (c − k)²; ratio ((c − k)/(c + k))²;
/// ordinal (Σ_{g = c}^{k} n_g − (n_c + n_k)/2)² over the ranks of the sorted values.
/// Paper: Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability" (Departmental
/// Papers, Annenberg School; worked examples reproduced in the tests); Hayes & Krippendorff 2007.
/// Parity: the published worked examples; the Python `krippendorff` package's coincidence form.
/// Default level: nominal, the level of categorical preference labels and the one that assumes
/// nothing about distances (the `krippendorff` package defaults to interval: pass the level).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "../core/check.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace agreement {

/// Level of measurement: decides the difference function δ².
enum class level { nominal, ordinal, interval, ratio };

/// Options of Krippendorff's alpha.
struct alpha_options {
  level metric = level::nominal;  ///< see the file comment for the default
  std::optional<double> missing;  ///< a value that marks a missing rating (NaN always does)
};

/// Alpha and its parts.
struct alpha_result {
  double alpha = 0;        ///< 1 − D_o/D_e; NaN when D_e = 0 (one value only) or n < 2
  double observed = 0;     ///< D_o = Σ o δ² / n
  double expected = 0;     ///< D_e = Σ n_c n_k δ² / (n(n − 1))
  double pairable = 0;     ///< n, the number of pairable values
  index_t values = 0;      ///< distinct pairable values
};

/// Krippendorff's alpha of reliability data [coders, units]. Allocates the V×V coincidence
/// matrix of the V distinct pairable values. Errors: shape_error.102 (no coder or no unit),
/// domain_error.201 (an infinite value), domain_error.258 (a negative value at the ratio level).
template <tensor_like Data>
alpha_result krippendorff_alpha(const Data& data, const alpha_options& opts = {}) {
  using namespace alignkit::detail;
  const char* fn = "agreement::krippendorff_alpha";
  const auto d = view_of(data);
  require_rank<2, decltype(d)>();
  const index_t m = d.extent(0), n_units = d.extent(1);
  check_not_empty(fn, "data (coders)", m);
  check_not_empty(fn, "data (units)", n_units);
  auto present = [&](double v) { return !std::isnan(v) && !(opts.missing && v == *opts.missing); };
  // Values of pairable units.
  std::vector<double> values;
  for (index_t u = 0; u < n_units; ++u) {
    index_t mu = 0;
    for (index_t c = 0; c < m; ++c) {
      const double v = static_cast<double>(d(c, u));
      if (!present(v)) continue;
      if (std::isinf(v)) raise<domain_error>(201, fn, ": data[", c, ", ", u, "] is ", v, ", expected a finite value");
      if (opts.metric == level::ratio && v < 0)
        raise<domain_error>(258, fn, ": data[", c, ", ", u, "] is ", v, ", the ratio level needs values >= 0");
      ++mu;
    }
    if (mu < 2) continue;
    for (index_t c = 0; c < m; ++c)
      if (present(static_cast<double>(d(c, u)))) values.push_back(static_cast<double>(d(c, u)));
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  const std::size_t nv = values.size();
  alpha_result r;
  r.values = static_cast<index_t>(nv);
  std::vector<double> o(nv * nv, 0.0);
  std::vector<std::pair<std::size_t, double>> unit;  // (value index, count) of one unit
  for (index_t u = 0; u < n_units; ++u) {
    unit.clear();
    double mu = 0;
    for (index_t c = 0; c < m; ++c) {
      const double v = static_cast<double>(d(c, u));
      if (!present(v)) continue;
      const auto at = static_cast<std::size_t>(std::lower_bound(values.begin(), values.end(), v) - values.begin());
      auto it = std::find_if(unit.begin(), unit.end(), [&](const auto& e) { return e.first == at; });
      if (it == unit.end()) unit.emplace_back(at, 1.0); else it->second += 1;
      mu += 1;
    }
    if (mu < 2) continue;
    for (const auto& [a, ca] : unit)
      for (const auto& [b, cb] : unit) o[a * nv + b] += (a == b ? ca * (ca - 1) : ca * cb) / (mu - 1);
  }
  std::vector<double> nc(nv, 0.0);
  for (std::size_t a = 0; a < nv; ++a)
    for (std::size_t b = 0; b < nv; ++b) nc[a] += o[a * nv + b];
  std::vector<double> below(nv + 1, 0.0);  // below[g] = Σ_{h < g} n_h
  for (std::size_t a = 0; a < nv; ++a) below[a + 1] = below[a] + nc[a];
  r.pairable = below[nv];
  auto delta2 = [&](std::size_t a, std::size_t b) {
    const double c = values[a], k = values[b];
    switch (opts.metric) {
      case level::nominal: return a == b ? 0.0 : 1.0;
      case level::interval: return (c - k) * (c - k);
      case level::ratio: return c + k == 0 ? 0.0 : ((c - k) / (c + k)) * ((c - k) / (c + k));
      case level::ordinal: {
        const auto [lo, hi] = std::minmax(a, b);
        const double s = below[hi + 1] - below[lo] - (nc[lo] + nc[hi]) / 2;
        return s * s;
      }
    }
    return 0.0;
  };
  double so = 0, se = 0;
  for (std::size_t a = 0; a < nv; ++a) {
    for (std::size_t b = 0; b < nv; ++b) {
      if (a == b) continue;
      const double w = delta2(a, b);
      so += o[a * nv + b] * w;
      se += nc[a] * nc[b] * w;
    }
  }
  const double n = r.pairable;
  r.observed = n > 0 ? so / n : std::numeric_limits<double>::quiet_NaN();
  r.expected = n > 1 ? se / (n * (n - 1)) : std::numeric_limits<double>::quiet_NaN();
  r.alpha = (n > 1 && se > 0) ? 1 - (n - 1) * so / se : std::numeric_limits<double>::quiet_NaN();
  return r;
}

}  // namespace agreement

ALIGNKIT_END_NAMESPACE
