#pragma once
// The methods an experiment compares, by name (docs/methods.md describes each; search/policies.hpp
// builds their plans).

#include <string>
#include <vector>

#include "litestage/util/yaml_schema.hpp"

namespace litestage {

enum class Method {
  Full,           // no skipping
  LiteStage,      // stage-wise sub-layer budgets + generation early exit
  LiteStageNoEE,  // LiteStage's plans without early exit
  Uniform,        // the same k in every stage
  AdaSkip,        // global sub-layer skipping by similarity at an acceleration ratio
  ShortGPT,       // whole blocks removed by Block Influence
  Random,         // random sub-layers, LiteStage's per-stage counts
  EarlyExitOnly,  // the full model with generation early exit
  Lossless,       // the full model with speculative decoding
  LiteStageSpec,  // LiteStage with speculative decoding
};

const EnumNames<Method>& method_names();  // "full", "litestage", ...
const std::string& method_name(Method method);
std::vector<Method> all_methods();
// The methods that run with speculative decoding (lossless, litestage_spec).
bool speculates(Method method);

}  // namespace litestage
