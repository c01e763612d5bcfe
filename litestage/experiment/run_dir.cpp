#include "litestage/experiment/run_dir.hpp"

#include "litestage/dist/dist.hpp"

namespace litestage {

void RunDir::write(const std::filesystem::path& file, const std::string& text) const {
  dist::write_output(file.string(), text);
}

}  // namespace litestage
