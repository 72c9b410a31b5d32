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
#include "preference/cpo.hpp"
#include "preference/dpo.hpp"
#include "preference/kto.hpp"
#include "preference/reward_ensemble.hpp"

// policy_gradient/
#include "policy_gradient/advantages.hpp"
#include "policy_gradient/dapo.hpp"
#include "policy_gradient/gae.hpp"
#include "policy_gradient/grpo_loss.hpp"
#include "policy_gradient/kl.hpp"
#include "policy_gradient/ppo.hpp"
#include "policy_gradient/value.hpp"
#include "policy_gradient/whiten.hpp"

// token/
#include "token/logprob.hpp"
#include "token/sequence_logprobs.hpp"

// evaluation/
#include "evaluation/abstention.hpp"
#include "evaluation/agreement.hpp"
#include "evaluation/calibration.hpp"
#include "evaluation/dawid_skene.hpp"
#include "evaluation/krippendorff.hpp"
#include "evaluation/overoptimization.hpp"
#include "evaluation/temperature_scaling.hpp"

// model/
#include "model/judge.hpp"
#include "model/policy_model.hpp"
#include "model/reviser.hpp"
#include "model/reward_model.hpp"
#include "model/token_values.hpp"
#include "model/value_model.hpp"

// pipelines/
#include "pipelines/constitutional_ai.hpp"
#include "pipelines/dpo_step.hpp"
#include "pipelines/ensemble_reward_model.hpp"
#include "pipelines/grpo_step.hpp"
#include "pipelines/kto_step.hpp"
#include "pipelines/ppo_step.hpp"
#include "pipelines/preference_batch.hpp"
#include "pipelines/reward_model_step.hpp"
#include "pipelines/rlaif.hpp"
#include "pipelines/rollout.hpp"
