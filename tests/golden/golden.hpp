// The golden-vector harness: a case context that hands inputs and params to an op handler and
// checks what the handler computed against the reference outputs and gradients (OPS.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace golden {

using json = nlohmann::json;

enum class precision { float64, float32 };

struct tensor {
  std::vector<std::int64_t> shape;
  std::vector<double> data;
};

/// One failed comparison, printed by the runner.
struct mismatch {
  std::string what;  // "losses", "grad loss/r_chosen", or an error message
  double max_abs = 0, max_rel = 0;
  std::string detail;
};

class case_context {
 public:
  case_context(const json& c, precision p);

  const std::string& id() const { return id_; }
  precision prec() const { return prec_; }

  bool has_input(const std::string& name) const;
  const tensor& input_tensor(const std::string& name) const;
  const std::vector<std::int64_t>& shape(const std::string& name) const { return input_tensor(name).shape; }
  /// Input values converted to T (integers stay exact for int types).
  template <class T>
  std::vector<T> input(const std::string& name) const {
    const auto& t = input_tensor(name);
    return std::vector<T>(t.data.begin(), t.data.end());
  }

  bool has_param(const std::string& name) const;  // present and not null
  double param(const std::string& name, double fallback) const;
  std::optional<double> optional_param(const std::string& name) const;
  bool flag(const std::string& name, bool fallback) const;
  std::string text(const std::string& name, const std::string& fallback) const;

  bool has_output(const std::string& name) const;
  bool has_grad(const std::string& output, const std::string& input) const;

  /// Compares a computed output (any shape, row-major) with the reference.
  void check(const std::string& output, std::span<const double> got);
  void check(const std::string& output, double got) { check(output, std::span<const double>(&got, 1)); }
  template <class T>
  void check(const std::string& output, const std::vector<T>& got) {
    const std::vector<double> d(got.begin(), got.end());
    check(output, std::span<const double>(d));
  }
  /// Compares d(output)/d(input) with the reference gradient.
  void check_grad(const std::string& output, const std::string& input, std::span<const double> got);
  template <class T>
  void check_grad(const std::string& output, const std::string& input, const std::vector<T>& got) {
    const std::vector<double> d(got.begin(), got.end());
    check_grad(output, input, std::span<const double>(d));
  }

  /// Float runs compare with rtol 1e-5 and atol 1e-6·scale; the default scale is the largest
  /// finite |input| (at least 1), the size of float's rounding of the inputs. A handler whose op
  /// amplifies input rounding (long recurrences, cancellation) may state a larger scale.
  void set_float_scale(double s) { float_scale_ = s; }

  /// Called by the runner after the handler: every reference output and gradient must have been
  /// compared, otherwise the case fails.
  void require_all_checked();
  void fail(const std::string& message) { failures_.push_back({message, 0, 0, ""}); }
  /// Declares this precision's run of the case impossible (the runner reports it as skipped,
  /// with the reason, and does not require its outputs to be compared).
  void skip(const std::string& reason) { skip_reason_ = reason; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::vector<mismatch>& failures() const { return failures_; }

 private:
  void compare(const std::string& label, const json& want, std::span<const double> got);

  const json& c_;
  std::string id_;
  precision prec_;
  std::map<std::string, tensor> inputs_;
  std::map<std::string, bool> checked_;
  double float_scale_ = 1;
  std::vector<mismatch> failures_;
  std::string skip_reason_;
};

using handler = std::function<void(case_context&)>;

/// op id -> handler for (float64, float32).
struct registration {
  handler f64, f32;
};
std::map<std::string, registration>& registry();

struct registrar {
  registrar(const std::string& op, handler f64, handler f32) { registry()[op] = {std::move(f64), std::move(f32)}; }
};

}  // namespace golden

/// Registers `Fn<double>` and `Fn<float>` as the handlers of op `name`.
#define ALIGNKIT_GOLDEN_OP(name, Fn) \
  static const ::golden::registrar golden_registrar_##Fn(name, Fn<double>, Fn<float>)
