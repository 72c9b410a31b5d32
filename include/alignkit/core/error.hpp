/// @file error.hpp
/// @brief The exception hierarchy for bad user input; see docs/errors.md for every id.
///
/// `what()` starts with a stable id, `[alignkit.<kind>.<number>]`, then the function, the
/// argument, the expected and the actual value:
/// `[alignkit.shape_error.101] bradley_terry::loss: r_rejected has 7 elements, r_chosen has 8`.
/// With `ALIGNKIT_NO_EXCEPTIONS` the message is printed to stderr and the program aborts.
#pragma once

#include <exception>
#include <sstream>
#include <string>
#include <utility>

#include "config.hpp"

ALIGNKIT_BEGIN_NAMESPACE

/// Base of every error alignkit raises on bad input.
class error : public std::exception {
 public:
  /// The numeric part of the id, e.g. 101 for `[alignkit.shape_error.101]`.
  int id() const noexcept { return id_; }
  const char* what() const noexcept override { return message_.c_str(); }

 protected:
  error(const char* kind, int id, const std::string& text)
      : id_(id), message_("[alignkit." + std::string(kind) + "." + std::to_string(id) + "] " + text) {}

 private:
  int id_;
  std::string message_;
};

/// Extents that do not fit together, or an empty input where one is needed (ids 1xx).
class shape_error : public error {
 public:
  shape_error(int id, const std::string& text) : error("shape_error", id, text) {}
};

/// A value outside the domain of a function: a hyperparameter out of range, a label out of
/// range, a probability outside [0, 1], a non-finite input under `check_finite` (ids 2xx).
class domain_error : public error {
 public:
  domain_error(int id, const std::string& text) : error("domain_error", id, text) {}
};

/// Malformed input data (JSONL and other files read by io/): the message names the line and
/// the field (ids 3xx).
class parse_error : public error {
 public:
  parse_error(int id, const std::string& text) : error("parse_error", id, text) {}
};

namespace detail {

template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  os.precision(17);
  (os << ... << parts);
  return os.str();
}

/// Throws `Error(id, concat(parts...))`, or prints and aborts under ALIGNKIT_NO_EXCEPTIONS.
template <class Error, class... Parts>
[[noreturn]] void raise(int id, const Parts&... parts) {
#ifdef ALIGNKIT_NO_EXCEPTIONS
  Error e(id, concat(parts...));
  std::fprintf(stderr, "%s\n", e.what());
  std::abort();
#else
  throw Error(id, concat(parts...));
#endif
}

}  // namespace detail

ALIGNKIT_END_NAMESPACE
