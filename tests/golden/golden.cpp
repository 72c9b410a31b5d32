// The golden runner: reads the JSON vectors (OPS.md), dispatches each case to its op handler in
// double and in float, prints one line per failing or skipped case and closes with
// "N passed, N failed, N skipped". Exit status is non-zero on any failure or unknown op.
#include "golden.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

namespace golden {

std::map<std::string, registration>& registry() {
  static std::map<std::string, registration> r;
  return r;
}

namespace {

tensor parse_tensor(const json& j) {
  tensor t;
  for (const auto& s : j.at("shape")) t.shape.push_back(s.get<std::int64_t>());
  for (const auto& v : j.at("data")) t.data.push_back(v.get<double>());
  return t;
}

std::string key(const std::string& a, const std::string& b) { return a + "/" + b; }

}  // namespace

case_context::case_context(const json& c, precision p) : c_(c), id_(c.at("id").get<std::string>()), prec_(p) {
  double scale = 1;
  for (const auto& [name, t] : c.at("inputs").items()) {
    inputs_[name] = parse_tensor(t);
    for (double v : inputs_[name].data)
      if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  }
  float_scale_ = scale;
  for (const auto& [name, t] : c.at("outputs").items()) checked_[name] = false;
  if (c.contains("grads"))
    for (const auto& [out, per_input] : c.at("grads").items())
      for (const auto& [in, t] : per_input.items()) checked_["grad " + key(out, in)] = false;
}

bool case_context::has_input(const std::string& name) const { return inputs_.count(name) != 0; }

const tensor& case_context::input_tensor(const std::string& name) const {
  auto it = inputs_.find(name);
  if (it == inputs_.end()) throw std::runtime_error("case has no input '" + name + "'");
  return it->second;
}

bool case_context::has_param(const std::string& name) const {
  const auto& p = c_.at("params");
  return p.contains(name) && !p.at(name).is_null();
}
double case_context::param(const std::string& name, double fallback) const {
  return has_param(name) ? c_.at("params").at(name).get<double>() : fallback;
}
std::optional<double> case_context::optional_param(const std::string& name) const {
  if (!has_param(name)) return std::nullopt;
  return c_.at("params").at(name).get<double>();
}
bool case_context::flag(const std::string& name, bool fallback) const {
  return has_param(name) ? c_.at("params").at(name).get<bool>() : fallback;
}
std::string case_context::text(const std::string& name, const std::string& fallback) const {
  return has_param(name) ? c_.at("params").at(name).get<std::string>() : fallback;
}

bool case_context::has_output(const std::string& name) const { return c_.at("outputs").contains(name); }
bool case_context::has_grad(const std::string& output, const std::string& input) const {
  return c_.contains("grads") && c_.at("grads").contains(output) && c_.at("grads").at(output).contains(input);
}

void case_context::check(const std::string& output, std::span<const double> got) {
  if (!has_output(output)) {
    fail("handler computed '" + output + "' but the case has no such output");
    return;
  }
  checked_[output] = true;
  compare(output, c_.at("outputs").at(output), got);
}

void case_context::check_grad(const std::string& output, const std::string& input, std::span<const double> got) {
  const std::string label = "grad " + key(output, input);
  if (!has_grad(output, input)) {
    fail("handler computed '" + label + "' but the case has no such gradient");
    return;
  }
  checked_[label] = true;
  compare(label, c_.at("grads").at(output).at(input), got);
}

void case_context::compare(const std::string& label, const json& want_json, std::span<const double> got) {
  const tensor want = parse_tensor(want_json);
  double rtol = c_.at("tol").at("rtol").get<double>();
  double atol = c_.at("tol").at("atol").get<double>();
  if (prec_ == precision::float32) {
    rtol = std::max(rtol, 1e-5);
    atol = std::max(atol, 1e-6 * float_scale_);
  }
  if (want.data.size() != got.size()) {
    std::ostringstream os;
    os << "got " << got.size() << " values, want " << want.data.size();
    failures_.push_back({label, 0, 0, os.str()});
    return;
  }
  double max_abs = 0, max_rel = 0;
  std::ptrdiff_t worst = -1;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double w = want.data[i], g = got[i];
    const double err = std::abs(g - w);
    const bool ok = (std::isnan(w) && std::isnan(g)) || (std::isinf(w) && g == w) || err <= atol + rtol * std::abs(w);
    if (std::isfinite(err)) {
      max_abs = std::max(max_abs, err);
      if (w != 0) max_rel = std::max(max_rel, err / std::abs(w));
    }
    if (!ok && worst < 0) worst = static_cast<std::ptrdiff_t>(i);
  }
  if (worst >= 0) {
    std::ostringstream os;
    os.precision(17);
    os << "first bad [" << worst << "] got " << got[static_cast<std::size_t>(worst)] << " want "
       << want.data[static_cast<std::size_t>(worst)] << " (rtol " << rtol << ", atol " << atol << ")";
    failures_.push_back({label, max_abs, max_rel, os.str()});
  }
}

void case_context::require_all_checked() {
  for (const auto& [name, done] : checked_)
    if (!done) fail("reference '" + name + "' was not compared by the handler");
}

}  // namespace golden

namespace {

// Ops whose implementation belongs to an issue that is still open: their cases are reported
// as skipped. Any other op without a handler fails the run.
const std::set<std::string> pending_ops = {
};

const char* name_of(golden::precision p) { return p == golden::precision::float64 ? "double" : "float"; }

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> paths;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--list-ops") {
      for (const auto& [op, r] : golden::registry()) std::cout << op << "\n";
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      std::cout << "usage: alignkit_golden [--list-ops] [FILE.json|DIR ...]  (default: " ALIGNKIT_GOLDEN_DATA_DIR ")\n";
      return 0;
    }
    paths.emplace_back(arg);
  }
  if (paths.empty()) paths.emplace_back(ALIGNKIT_GOLDEN_DATA_DIR);

  std::vector<fs::path> files;
  for (const auto& p : paths) {
    if (fs::is_directory(p)) {
      for (const auto& e : fs::directory_iterator(p))
        if (e.path().extension() == ".json") files.push_back(e.path());
    } else if (fs::exists(p)) {
      files.push_back(p);
    } else {
      std::cerr << "alignkit_golden: no such file or directory: " << p << "\n";
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::cerr << "alignkit_golden: no JSON files found\n";
    return 2;
  }

  long passed = 0, failed = 0, skipped = 0;
  for (const auto& file : files) {
    golden::json doc;
    try {
      std::ifstream in(file);
      doc = golden::json::parse(in);
    } catch (const std::exception& e) {
      std::cout << "FAIL " << file.filename().string() << ": cannot parse: " << e.what() << "\n";
      ++failed;
      continue;
    }
    const std::string op = doc.at("op").get<std::string>();
    const auto& cases = doc.at("cases");
    const auto it = golden::registry().find(op);
    if (it == golden::registry().end()) {
      const bool pending = pending_ops.count(op) != 0;
      std::cout << (pending ? "SKIP " : "FAIL ") << op << ": " << cases.size() << " cases, "
                << (pending ? "not implemented yet" : "unknown op") << "\n";
      (pending ? skipped : failed) += static_cast<long>(cases.size());
      continue;
    }
    for (const auto& c : cases) {
      bool ok = true, skipped_run = false;
      for (auto p : {golden::precision::float64, golden::precision::float32}) {
        golden::case_context ctx(c, p);
        try {
          (p == golden::precision::float64 ? it->second.f64 : it->second.f32)(ctx);
          if (ctx.skip_reason().empty()) ctx.require_all_checked();
        } catch (const std::exception& e) {
          ctx.fail(std::string("exception: ") + e.what());
        }
        if (!ctx.skip_reason().empty()) {
          skipped_run = true;
          std::cout << "SKIP " << op << "/" << ctx.id() << " [" << name_of(p) << "]: " << ctx.skip_reason() << "\n";
        }
        for (const auto& f : ctx.failures()) {
          ok = false;
          std::cout << "FAIL " << op << "/" << ctx.id() << " [" << name_of(p) << "] " << f.what;
          if (!f.detail.empty()) std::cout << ": max_abs " << f.max_abs << " max_rel " << f.max_rel << ", " << f.detail;
          std::cout << "\n";
        }
      }
      // A case counts as passed only when every precision ran and passed.
      (!ok ? failed : skipped_run ? skipped : passed) += 1;
    }
  }
  std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed == 0 ? 0 : 1;
}
