/// @file judge.hpp
/// @brief The `judge` concept: an AI labeler that states how likely it prefers the first of
/// two responses to a prompt (RLAIF, Bai et al. 2022 arXiv:2212.08073; Lee et al. 2023
/// arXiv:2309.00267). Judges are often position-biased; pipelines/rlaif.hpp asks in both
/// orders and averages.
#pragma once

#include <concepts>

#include "../core/config.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace model {

/// `j.preference(prompt, first, second)` is P(first ≻ second | prompt) in [0, 1].
template <class J, class Prompt, class Response>
concept judge = requires(J& j, const Prompt& prompt, const Response& first, const Response& second) {
  { j.preference(prompt, first, second) } -> std::convertible_to<double>;
};

}  // namespace model

ALIGNKIT_END_NAMESPACE
