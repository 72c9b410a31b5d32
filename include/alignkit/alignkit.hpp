/// @file alignkit.hpp
/// @brief The one include: every alignkit header that needs no third-party header beyond xsimd.
/// Adapters for Eigen and xtensor are opt-in: `#include <alignkit/adapters/eigen.hpp>`.
#pragma once

#include "core/aggregation.hpp"
#include "core/check.hpp"
#include "core/config.hpp"
#include "core/elementwise.hpp"
#include "core/error.hpp"
#include "core/execution.hpp"
#include "core/kernel.hpp"
#include "core/numerics.hpp"
#include "core/reducer.hpp"
#include "core/sequences.hpp"
#include "core/tensor.hpp"
#include "core/view.hpp"

#include "adapters/std.hpp"

// preference/
#include "preference/bradley_terry.hpp"

// policy_gradient/

// token/

// evaluation/
#include "evaluation/abstention.hpp"
#include "evaluation/agreement.hpp"
#include "evaluation/calibration.hpp"
#include "evaluation/dawid_skene.hpp"
#include "evaluation/krippendorff.hpp"
#include "evaluation/overoptimization.hpp"
#include "evaluation/temperature_scaling.hpp"

// model/

// pipelines/
