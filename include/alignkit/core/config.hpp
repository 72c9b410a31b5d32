/// @file config.hpp
/// @brief Version, ABI namespace, index type and the overridable internal assertion.
///
/// Every alignkit entity lives in `alignkit::ALIGNKIT_ABI_NAMESPACE`, an inline namespace whose name
/// encodes the version and the error mode (`ALIGNKIT_NO_EXCEPTIONS`), so translation units built
/// with different error modes cannot be linked together silently (the pattern of nlohmann/json's
/// ABI tags).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define ALIGNKIT_VERSION_MAJOR 0
#define ALIGNKIT_VERSION_MINOR 1
#define ALIGNKIT_VERSION_PATCH 0

#ifdef ALIGNKIT_NO_EXCEPTIONS
#define ALIGNKIT_ABI_NAMESPACE v0_noexcept
#else
#define ALIGNKIT_ABI_NAMESPACE v0
#endif

#define ALIGNKIT_BEGIN_NAMESPACE \
  namespace alignkit {           \
  inline namespace ALIGNKIT_ABI_NAMESPACE {
#define ALIGNKIT_END_NAMESPACE \
  }                            \
  }

/// Internal invariant check (a bug in alignkit, never bad user input). Define ALIGNKIT_ASSERT
/// before including alignkit to route it elsewhere, e.g. to throw in tests.
#ifndef ALIGNKIT_ASSERT
#ifdef NDEBUG
#define ALIGNKIT_ASSERT(cond) ((void)0)
#else
#define ALIGNKIT_ASSERT(cond)                                                                  \
  ((cond) ? (void)0                                                                            \
          : (std::fprintf(stderr, "alignkit: internal assertion failed: %s (%s:%d)\n", #cond, \
                          __FILE__, __LINE__),                                                 \
             std::abort()))
#endif
#endif

ALIGNKIT_BEGIN_NAMESPACE

/// Signed index type used for extents, strides and loop counters (as `std::ptrdiff_t`).
using index_t = std::ptrdiff_t;

ALIGNKIT_END_NAMESPACE
