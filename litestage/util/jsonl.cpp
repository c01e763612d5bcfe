#include "litestage/util/jsonl.hpp"

#include <filesystem>
#include <fstream>

#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

nlohmann::json parse_json(std::string_view text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw_error(source, ": malformed JSON: ", e.what());
  }
}

nlohmann::json read_json_file(const std::string& path) { return parse_json(read_file(path), path); }

void read_jsonl(const std::string& path, const std::function<void(const nlohmann::json&)>& fn,
                const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  std::string line;
  size_t n = 0;
  std::streamoff good_end = 0;  // byte offset just past the last complete, parsed line
  while (std::getline(in, line)) {
    ++n;
    bool complete = !in.eof();  // getline stopped at a '\n'
    if (!trim(line).empty()) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception& e) {
        if (!complete || in.peek() == EOF) break;  // the line an interrupted run was writing
        throw_error(path, ":", n, ": unreadable ", what, ": ", e.what());
      }
      try {
        fn(j);
      } catch (const std::exception& e) {
        throw_error(path, ":", n, ": unreadable ", what, ": ", e.what());
      }
    }
    if (!complete) break;
    good_end = in.tellg();
  }
  in.close();
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (!ec && static_cast<std::streamoff>(size) > good_end) std::filesystem::resize_file(path, good_end, ec);
}

void append_jsonl(const std::string& path, const nlohmann::json& record) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  if (!out) throw_error("cannot append to '", path, "'");
  out << record.dump() << "\n";
  out.flush();
}

}  // namespace litestage
