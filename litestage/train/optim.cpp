#include "litestage/train/optim.hpp"

#include <cmath>

#include <torch/nn/module.h>

namespace litestage {

double learning_rate(const TrainOptimizerConfig& c, int64_t step, int64_t total_steps) {
  if (step < c.warmup_steps) return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps);
  if (c.schedule == LrScheduleKind::Constant) return c.lr;
  const int64_t span = total_steps - c.warmup_steps;
  if (span <= 0 || step >= total_steps) return c.min_lr;
  const double p = static_cast<double>(step - c.warmup_steps) / static_cast<double>(span);
  return c.min_lr + (c.lr - c.min_lr) * 0.5 * (1.0 + std::cos(M_PI * p));
}

DecayGroups decay_groups(const torch::nn::Module& model) {
  DecayGroups g;
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    (item.value().dim() >= 2 ? g.decay : g.no_decay).push_back(item.key());
  }
  return g;
}

std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model, const TrainOptimizerConfig& c) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    (item.value().dim() >= 2 ? decay : no_decay).push_back(item.value());
  }
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(c.lr).betas(std::make_tuple(c.beta1, c.beta2)).eps(c.eps).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(c.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  torch::optim::AdamWOptions defaults(c.lr);
  defaults.betas(std::make_tuple(c.beta1, c.beta2)).eps(c.eps).weight_decay(0.0);
  return std::make_unique<torch::optim::AdamW>(std::move(groups), defaults);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace litestage
