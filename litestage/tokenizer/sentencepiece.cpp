#include "litestage/tokenizer/sentencepiece.hpp"


#include <algorithm>
#include <limits>
#include <unordered_map>

#include "litestage/tokenizer/added_tokens.hpp"
#include "litestage/tokenizer/spm_library.hpp"
#include "litestage/util/utf8.hpp"
#include "litestage/util/error.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace {
constexpr std::string_view kMeta = "\xE2\x96\x81";  // U+2581, SentencePiece's space
}

struct SentencePieceTokenizer::Impl {
  std::unique_ptr<SpmProcessor> sp_holder;  // libsentencepiece behind the shim (spm_library.hpp)
  const SpmProcessor& sp() const { return *sp_holder; }
  std::string source;
  int32_t model_size = 0;  // pieces in the .model file
  int32_t vocab_size = 0;  // plus added tokens past its end
  std::vector<bool> special;                        // by id, ids < model_size
  std::unordered_map<int32_t, AddedToken> extra;    // ids >= model_size
  std::unordered_map<std::string, int32_t> extra_by_content;
  AddedTokenMatcher matcher;                        // control pieces + added tokens
  bool dummy_prefix = false;
  std::optional<int32_t> bos, pad;
  std::vector<int32_t> eos;

  void check_id(int32_t id) const {
    if (id < 0 || id >= vocab_size || (id >= model_size && !extra.count(id))) {
      throw_error("token id ", id, " is not in the vocabulary of ", source, " (", vocab_size, " ids)");
    }
  }

  void encode_text(std::string_view text, std::vector<int32_t>& out) const {
    std::vector<int> ids = sp().encode(text);
    out.insert(out.end(), ids.begin(), ids.end());
  }

  // A normal piece that begins with the space symbol: SentencePiece drops that space when the
  // piece opens a decode.
  bool opens_with_space(int32_t id) const {
    return !sp().is_control(id) && !sp().is_byte(id) && !sp().is_unknown(id) &&
           starts_with(sp().id_to_piece(id), kMeta);
  }
};

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file, std::vector<AddedToken> added)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.source = model_file.string();
  if (!std::filesystem::exists(model_file)) throw_error("SentencePiece model ", m.source, " does not exist");
  m.sp_holder = std::make_unique<SpmProcessor>(model_file);
  m.model_size = m.sp().piece_size();
  m.vocab_size = m.model_size;
  m.special.assign(static_cast<size_t>(m.model_size), false);

  std::vector<AddedToken> parse;
  for (int32_t id = 0; id < m.model_size; ++id) {
    if (m.sp().is_control(id)) {
      m.special[id] = true;
      parse.push_back(AddedToken{id, m.sp().id_to_piece(id), true, false, false});
    }
  }
  for (auto& t : added) {
    if (t.id < 0 || t.id == std::numeric_limits<int32_t>::max() || t.content.empty())
      throw_error(m.source, ": added token \"", t.content, "\" (id ", t.id, ") is invalid");
    utf8::validate(t.content, m.source + ": added token " + std::to_string(t.id));
    if (t.id < m.model_size) {
      if (m.sp().id_to_piece(t.id) != t.content) {
        throw_error(m.source, ": added token ", t.id, " is \"", t.content, "\" but the model's piece ", t.id, " is \"",
                    m.sp().id_to_piece(t.id), "\"");
      }
      if (m.sp().is_control(t.id)) continue;  // already matched
      if (t.special) m.special[t.id] = true;
    } else {
      m.extra[t.id] = t;
      m.extra_by_content[t.content] = t.id;
      m.vocab_size = std::max(m.vocab_size, t.id + 1);
    }
    parse.push_back(t);
  }
  m.matcher = AddedTokenMatcher(std::move(parse));

  // The model proto is not exposed without protobuf headers; its add_dummy_prefix shows in how
  // a bare letter is encoded.
  auto probe = m.sp().encode_as_pieces("a");
  m.dummy_prefix = !probe.empty() && starts_with(probe.front(), kMeta);

  if (auto id = model_bos_id()) m.bos = id;
  if (auto id = model_eos_id()) m.eos.push_back(*id);
  m.pad = model_pad_id();
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::optional<int32_t> SentencePieceTokenizer::model_bos_id() const {
  int id = impl_->sp().bos_id();
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}
std::optional<int32_t> SentencePieceTokenizer::model_eos_id() const {
  int id = impl_->sp().eos_id();
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}
std::optional<int32_t> SentencePieceTokenizer::model_pad_id() const {
  int id = impl_->sp().pad_id();
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

void SentencePieceTokenizer::set_special_ids(std::optional<int32_t> bos, std::vector<int32_t> eos,
                                             std::optional<int32_t> pad) {
  if (bos) impl_->check_id(*bos);
  for (int32_t id : eos) impl_->check_id(id);
  if (pad) impl_->check_id(*pad);
  impl_->bos = bos;
  impl_->eos = std::move(eos);
  impl_->pad = pad;
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  const auto& m = *impl_;
  utf8::validate(text, "encode");
  std::vector<int32_t> ids;
  if (options.add_bos && m.bos) ids.push_back(*m.bos);
  if (options.parse_special && !m.matcher.empty()) {
    m.matcher.split(
        text, [&](std::string_view segment) { m.encode_text(segment, ids); },
        [&](const AddedToken& t) { ids.push_back(t.id); });
  } else {
    m.encode_text(text, ids);
  }
  if (options.add_eos && !m.eos.empty()) ids.push_back(m.eos.front());
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const auto& m = *impl_;
  std::string out;
  std::vector<int> run;  // ordinary pieces, decoded together by SentencePiece
  auto flush = [&] {
    if (run.empty()) return;
    std::string text;
    text = m.sp().decode(run);
    // SentencePiece drops the leading space of a run's first piece; after text already written
    // (a kept special token) that space is real.
    if (!out.empty() && m.dummy_prefix && m.opens_with_space(run.front())) out += ' ';
    out += text;
    run.clear();
  };
  for (int32_t id : ids) {
    m.check_id(id);
    if (id >= m.model_size) {
      const AddedToken& t = m.extra.at(id);
      if (t.special && skip_special) continue;
      flush();
      out += t.content;
    } else if (m.special[id]) {
      // Skipped specials do not end the run: SentencePiece itself treats control pieces as
      // invisible, leading-space rule included.
      if (skip_special) continue;
      flush();
      out += m.sp().id_to_piece(id);
    } else {
      run.push_back(id);
    }
  }
  flush();
  return out;
}

int32_t SentencePieceTokenizer::vocab_size() const { return impl_->vocab_size; }

std::string SentencePieceTokenizer::piece(int32_t id) const {
  impl_->check_id(id);
  if (id >= impl_->model_size) return impl_->extra.at(id).content;
  return impl_->sp().id_to_piece(id);
}

std::optional<int32_t> SentencePieceTokenizer::token_id(std::string_view piece) const {
  const auto& m = *impl_;
  if (auto it = m.extra_by_content.find(std::string(piece)); it != m.extra_by_content.end()) return it->second;
  int id = m.sp().piece_to_id(piece);
  if (id >= 0 && id < m.model_size && m.sp().id_to_piece(id) == piece) return id;
  return std::nullopt;
}

bool SentencePieceTokenizer::is_special(int32_t id) const {
  const auto& m = *impl_;
  if (id < 0 || id >= m.vocab_size) return false;
  if (id >= m.model_size) {
    auto it = m.extra.find(id);
    return it != m.extra.end() && it->second.special;
  }
  return m.special[id];
}

std::optional<int32_t> SentencePieceTokenizer::bos_id() const { return impl_->bos; }
std::vector<int32_t> SentencePieceTokenizer::eos_ids() const { return impl_->eos; }
std::optional<int32_t> SentencePieceTokenizer::pad_id() const { return impl_->pad; }

std::unique_ptr<SentencePieceTokenizer> load_sentencepiece_tokenizer(const std::filesystem::path& dir) {
  const auto model = dir / "tokenizer.model";
  if (!std::filesystem::exists(model)) {
    throw_error("no SentencePiece model in ", dir.string(), ": looked for tokenizer.model");
  }
  HfConventions conv = read_hf_conventions(dir);
  auto tok = std::make_unique<SentencePieceTokenizer>(model, conv.added_tokens);
  SpecialTokenDefaults defaults;
  defaults.add_bos = true;  // the Llama convention SentencePiece checkpoints follow
  defaults.bos_id = tok->model_bos_id();
  defaults.eos_id = tok->model_eos_id();
  defaults.pad_id = tok->model_pad_id();
  auto ids = resolve_special_tokens(conv, defaults, [&](std::string_view piece) { return tok->token_id(piece); },
                                    (dir / "tokenizer_config.json").string());
  tok->set_special_ids(ids.bos, std::move(ids.eos), ids.pad);
  return tok;
}

}  // namespace litestage
