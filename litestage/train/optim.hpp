#pragma once
// The optimiser side of fine-tuning: AdamW with decoupled weight decay on matrices only, and the
// warmup + cosine learning-rate schedule, set on the parameter groups before every step.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/optim/adamw.h>

#include "litestage/train/config.hpp"

namespace torch::nn {
class Module;
}

namespace litestage {

// Learning rate of optimizer step `step` (0-based: the step about to be taken).
//   warmup (step < warmup_steps): lr * (step + 1) / warmup_steps  -- never 0, reaches lr at the
//                                                                    last warmup step
//   cosine: min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2, p = (step - warmup) / (total - warmup)
//           so the first post-warmup step runs at lr and the curve reaches min_lr at step = total
//   constant: lr
// Steps at or beyond `total_steps` get min_lr (cosine) or lr (constant).
double learning_rate(const TrainOptimizerConfig& config, int64_t step, int64_t total_steps);

// Parameter names by weight-decay group: matrices (embeddings, projections, lm_head: dim >= 2)
// decay; vectors (RMSNorm weights, biases: dim < 2) never do.
struct DecayGroups {
  std::vector<std::string> decay;
  std::vector<std::string> no_decay;
};
DecayGroups decay_groups(const torch::nn::Module& model);

// AdamW over two parameter groups, [0] = decay (weight_decay), [1] = no decay (0). Both groups
// are always present (possibly empty) so saved optimizer states line up on resume.
std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model, const TrainOptimizerConfig& config);

// Sets lr on every parameter group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace litestage
