/// @file kernel.hpp
/// @brief Small pieces every kernel file shares: the value type of an argument that may not be a
/// tensor (so that `view_of` can report the documented error), and allocation-free defaults.
#pragma once

#include <type_traits>

#include "config.hpp"
#include "execution.hpp"
#include "tensor.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace detail {

template <class X>
struct value_or_float {
  using type = float;
};
template <tensor_like X>
struct value_or_float<X> {
  using type = value_t<const X>;
};

/// The type a kernel computes in for argument X: its view's value type; float for a non-tensor
/// (whose use then fails inside `view_of` with the documented message).
template <class X>
using compute_t = typename value_or_float<X>::type;

/// Data arguments are anything but an execution policy.
template <class X>
concept data_argument = !exec::execution_policy<X>;

}  // namespace detail

ALIGNKIT_END_NAMESPACE
