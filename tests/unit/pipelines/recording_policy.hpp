// The toy tabular policy that also records every gradient a step hands it (pipeline tests).
#pragma once

#include <span>
#include <vector>

#include "../../../examples/rlhf_demo/toy_world.hpp"

struct recording_policy : toy::tabular_policy {
  using toy::tabular_policy::tabular_policy;
  std::vector<alignkit::model::token_values> received;
  void accumulate_logprob_gradient(std::span<const int> x, std::span<const toy::response> ys,
                                   const alignkit::model::token_values& g) {
    received.push_back(g);
    toy::tabular_policy::accumulate_logprob_gradient(x, ys, g);
  }
};
