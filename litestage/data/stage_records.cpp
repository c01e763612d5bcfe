#include "litestage/data/stage_records.hpp"

#include <nlohmann/json.hpp>

#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace {
bool is_label(const std::string& s) { return s.size() == 1 && s[0] >= 'A' && s[0] <= 'Z'; }
}  // namespace

void write_stage_records(const std::string& path, const std::vector<StageRecord>& records) {
  std::string out;
  for (size_t i = 0; i < records.size(); ++i) {
    const StageRecord& r = records[i];
    LITESTAGE_CHECK(!r.input.empty(), path, ": stage record ", i, " has an empty input");
    LITESTAGE_CHECK(is_label(r.gt), path, ": stage record ", i, " has GT '", r.gt, "', expected one capital letter");
    nlohmann::ordered_json j;
    j["input"] = r.input;
    j["GT"] = r.gt;
    j[std::string(to_string(r.kind))] = r.target;
    try {
      out += j.dump();
    } catch (const nlohmann::json::exception& e) {  // e.g. invalid UTF-8 in a text
      throw_error(path, ": stage record ", i, " cannot be written as JSON: ", e.what());
    }
    out += '\n';
  }
  write_file_atomic(path, out);
}

StageRecordSet read_stage_records(const std::string& path, const ReadOptions& options) {
  StageRecordSet set;
  read_json_records(path, RecordLayout::Auto, options, set.report,
                    [&](const nlohmann::json& j, size_t) -> std::optional<std::string> {
                      if (!j.is_object()) return std::string("expected a JSON object, found ") + j.type_name();
                      StageRecord r;
                      auto input = j.find("input");
                      if (input == j.end() || !input->is_string()) return std::string("missing string field 'input'");
                      r.input = input->get<std::string>();
                      if (r.input.empty()) return std::string("empty 'input'");
                      auto gt = j.find("GT");
                      if (gt == j.end() || !gt->is_string()) return std::string("missing string field 'GT'");
                      r.gt = gt->get<std::string>();
                      if (!is_label(r.gt)) return "'GT' is '" + r.gt + "', expected one capital letter";
                      int found = 0;
                      for (StageKind k : kStages) {
                        auto it = j.find(std::string(to_string(k)));
                        if (it == j.end()) continue;
                        if (!it->is_string()) return "field '" + std::string(to_string(k)) + "' must be a string";
                        r.kind = k;
                        r.target = it->get<std::string>();
                        ++found;
                      }
                      if (found != 1)
                        return "expected exactly one of 'recall', 'analyze', 'summarize', found " + std::to_string(found);
                      set.records.push_back(std::move(r));
                      return std::nullopt;
                    });
  return set;
}

}  // namespace litestage
