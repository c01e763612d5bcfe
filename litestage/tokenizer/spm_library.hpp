#pragma once
// SpmProcessor: SentencePiece through the litestage_spm shim (spm_shim/spm_shim.cpp), which is
// opened at run time with deep binding so its bundled protobuf never meets LibTorch's. The shim
// is found at $LITESTAGE_SPM_LIBRARY, beside the running executable (., ../lib), or at the path
// of the build that compiled this file.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace litestage {

class SpmProcessor {
 public:
  // Loads a tokenizer.model; throws litestage::Error naming the file on failure.
  explicit SpmProcessor(const std::filesystem::path& model_file);
  ~SpmProcessor();
  SpmProcessor(const SpmProcessor&) = delete;
  SpmProcessor& operator=(const SpmProcessor&) = delete;

  int piece_size() const;
  std::string id_to_piece(int id) const;
  int piece_to_id(std::string_view piece) const;  // the unk id when absent
  float score(int id) const;
  bool is_control(int id) const;
  bool is_byte(int id) const;
  bool is_unknown(int id) const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;
  int pad_id() const;
  int unk_id() const;
  std::vector<int> encode(std::string_view text) const;
  std::vector<std::string> encode_as_pieces(std::string_view text) const;
  std::string decode(const std::vector<int>& ids) const;

 private:
  void* handle_ = nullptr;
  std::string source_;
};

// SentencePieceTrainer::Train with its flag string (e.g. "--input=a.txt --model_prefix=m
// --vocab_size=512 --model_type=bpe"). Throws litestage::Error with the trainer's message.
void spm_train(const std::string& flags);

// Where the shim was found (for diagnostics).
std::string spm_library_path();

}  // namespace litestage
