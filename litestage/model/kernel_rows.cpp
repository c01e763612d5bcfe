#include "litestage/model/kernel_rows.hpp"

#include <algorithm>

namespace litestage::kernel {

bool layer_suits(const DecoderLayerImpl& layer, std::initializer_list<c10::ScalarType> dtypes) {
  const auto& a = *layer.self_attn;
  const auto& m = *layer.mlp;
  if (!a.fused() || !m.fused()) return false;
  const auto dtype = a.qkv_weight().tensor().scalar_type();
  if (std::find(dtypes.begin(), dtypes.end(), dtype) == dtypes.end()) return false;
  for (const at::Tensor* t : {&a.qkv_weight().tensor(), &a.qkv_bias().tensor(), &m.gate_up_weight().tensor(),
                              &a.o_proj->weight, &a.o_proj->bias, &m.down_proj->weight,
                              &layer.input_layernorm->weight, &layer.post_attention_layernorm->weight})
    if (t->defined() && (t->scalar_type() != dtype || !t->is_contiguous() || !t->device().is_cpu())) return false;
  return true;
}

}  // namespace litestage::kernel
