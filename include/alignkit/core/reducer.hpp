/// @file reducer.hpp
/// @brief The `reducer` concept for global statistics over data-parallel shards.
///
/// Kernels that need a batch-global statistic (token-mean denominators, group statistics,
/// whitening moments, ECE bins over a sharded evaluation set) sum their local partials into a
/// small array and call `r.all_reduce_sum(span)`; an MPI reducer (`MPI_Allreduce` with
/// `MPI_SUM` on doubles) makes a data-parallel run equal to a single-process run. The default,
/// `local_reducer`, leaves the values unchanged.
#pragma once

#include <span>

#include "config.hpp"

ALIGNKIT_BEGIN_NAMESPACE

/// Sums a span of doubles element-wise across all participants, in place.
template <class R>
concept reducer = requires(R& r, std::span<double> values) { r.all_reduce_sum(values); };

/// Single-process reducer: every value is already global.
struct local_reducer {
  void all_reduce_sum(std::span<double>) const noexcept {}
};

ALIGNKIT_END_NAMESPACE
