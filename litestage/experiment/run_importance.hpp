#pragma once
// Sub-layer importance on an experiment's importance split, kept in output_dir/importance.json and
// reused by a later run made the same way (same model, examples, pooling and accumulation).

#include "litestage/experiment/session.hpp"
#include "litestage/search/importance.hpp"

namespace litestage {

ImportanceResult run_importance(Session& session, bool write = true);

}  // namespace litestage
