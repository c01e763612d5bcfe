#include "litestage/search/method.hpp"

namespace litestage {

const EnumNames<Method>& method_names() {
  static const EnumNames<Method> names = {
      {"full", Method::Full},         {"litestage", Method::LiteStage},          {"litestage_no_ee", Method::LiteStageNoEE},
      {"uniform", Method::Uniform},   {"adaskip", Method::AdaSkip},              {"shortgpt", Method::ShortGPT},
      {"random", Method::Random},     {"early_exit_only", Method::EarlyExitOnly}, {"lossless", Method::Lossless},
      {"litestage_spec", Method::LiteStageSpec}};
  return names;
}

const std::string& method_name(Method method) { return enum_name(method_names(), method); }

std::vector<Method> all_methods() {
  std::vector<Method> out;
  for (const auto& entry : method_names()) out.push_back(entry.second);
  return out;
}

bool speculates(Method method) { return method == Method::Lossless || method == Method::LiteStageSpec; }

}  // namespace litestage
