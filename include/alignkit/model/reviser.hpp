/// @file reviser.hpp
/// @brief The `reviser` concept and the `principle` it works against: Constitutional AI's
/// critique → revise loop (Bai et al. 2022, arXiv:2212.08073, section 3).
#pragma once

#include <concepts>
#include <string>

#include "../core/config.hpp"

ALIGNKIT_BEGIN_NAMESPACE

namespace model {

/// One constitutional principle: how to ask for a critique and how to ask for a revision.
struct principle {
  std::string name;               ///< a short identifier, e.g. "harmless"
  std::string critique_request;   ///< e.g. "Identify ways the response is harmful."
  std::string revision_request;   ///< e.g. "Rewrite the response to remove harmful content."
};

/// `r.critique(prompt, response, principle)` returns a critique (any type);
/// `r.revise(prompt, response, critique, principle)` returns the revised response.
template <class R, class Prompt, class Response>
concept reviser = requires(R& r, const Prompt& prompt, const Response& response, const principle& p) {
  r.critique(prompt, response, p);
  { r.revise(prompt, response, r.critique(prompt, response, p), p) } -> std::convertible_to<Response>;
};

}  // namespace model

ALIGNKIT_END_NAMESPACE
