#pragma once
// Files for training the demo model on the synthetic task (docs/synthetic-task.md):
//
//   <dir>/settings.json               the generator settings (load_dataset("synthetic", "<dir>/settings.json"))
//   <dir>/world.json                  the world, for humans
//   <dir>/{train,valid,test}.jsonl    Examples (Example's JSON) plus "synthetic": {type, combo, rationale}
//   <dir>/{train,valid}_stage_records.jsonl
//                                     TinyThinker stage records (build_stage_records: the inference prompts)
//   <dir>/train_option_reading.jsonl
//                                     auxiliary training records: the options line -> "For option C,
//                                     <text>. For option A, <text>. ..." (synthetic_option_reading_records)
//   <dir>/train_biographies.jsonl   the knowledge corpus: every fact of every entity, several forms and
//                                     orders (synthetic_biography_records)
//   <dir>/corpus.txt                  tokenizer training text: every training record's input, a space, its
//                                     target; records separated by a blank line
//   <dir>/tokenizer.model, tokenizer.vocab, tokenizer_config.json, special_tokens_map.json
//                                     from train_synthetic_tokenizer: a Hugging Face SentencePiece tokenizer
//                                     directory that load_tokenizer(<dir>) reads
//
// The stage records are built by build_stage_records (litestage/prompt/prompts.hpp): the training
// records are the inference prompts to the character.

#include <cstddef>
#include <string>
#include <vector>

#include "litestage/data/stage_records.hpp"
#include "litestage/synthetic/task.hpp"

namespace litestage {

struct SyntheticCorpusSummary {
  std::string dir;
  size_t train = 0, valid = 0, test = 0;                             // questions
  size_t train_records = 0, valid_records = 0;                       // stage records
  size_t reading_records = 0;                                        // option-reading records (train)
  size_t biography_records = 0;                                      // biography records (train)
  double chance_train = 0.0, chance_valid = 0.0, chance_test = 0.0;  // chance_accuracy per split
  std::vector<std::string> files;                                    // written, in order
};

// The TinyThinker stage records (recall, analyze per option, summarize) of a split's questions.
std::vector<StageRecord> synthetic_stage_records(const std::vector<SyntheticQuestion>& questions);

// Auxiliary training records that practise the one skill every Analyze step starts with: reading
// option X's text from the options line by its letter. Per question, `per_question` records:
// input = the options line + "\nAnalyze:"; target = "For option C, <text of C>. For option A, ..."
// over every option in a seeded random order (so only the letter says which text comes next).
// No inference stage builds such a prompt (it has no question and no Recall).
std::vector<StageRecord> synthetic_option_reading_records(const std::vector<SyntheticQuestion>& questions,
                                                          uint64_t seed, size_t per_question);

// The knowledge corpus: per entity, `per_entity` records "Facts about the zib:" -> every fact of the
// entity, each in its canonical sentence (half of the time) or one of two paraphrases
// (SyntheticWorld::fact_paraphrases), in a seeded random order. A fact seen only in one sentence,
// or only where the question itself spells it, is not retrievable from the entity's name later;
// stated in several forms and orders, it is (docs/synthetic-task.md, "The biography corpus").
std::vector<StageRecord> synthetic_biography_records(const SyntheticWorld& world, uint64_t seed,
                                                     size_t per_entity);

// Generates the task from `settings` and writes the files above (not the tokenizer). Creates dir.
SyntheticCorpusSummary write_synthetic_corpus(const std::string& dir, const SyntheticSettings& settings);

// The tokenizer corpus text of a set of stage records (input + " " + target, blank line between records).
std::string synthetic_tokenizer_text(const std::vector<StageRecord>& records);

struct SyntheticTokenizerReport {
  std::string model_file;  // <dir>/tokenizer.model
  int vocab_size = 0;      // pieces in the trained model
  size_t checked = 0;      // texts whose round trip was verified
  size_t max_tokens = 0;   // longest verified text (input + " " + target), in tokens, without BOS
  double mean_tokens = 0.0;
  size_t split_mismatches = 0;  // texts where encode(input + " " + target) != encode(input) ++ encode(target)
};

// Trains a SentencePiece BPE model on <dir>/corpus.txt through spm_train (the shim; Llama's
// conventions: unk=0 bos=1 eos=2, no pad, byte_fallback, identity normalisation, whitespace kept as
// written, split digits), writes tokenizer_config.json (add_bos_token, <s>, </s>) and
// special_tokens_map.json, then verifies with the project's SentencePiece tokenizer that
// decode(encode(text)) == text and that no <unk> appears, for every record of
// <dir>/train_stage_records.jsonl and <dir>/valid_stage_records.jsonl (at most max_checked records
// each, evenly spread; 0 = all). Throws litestage::Error on a failed round trip.
// The default vocabulary: more than the corpus supports, so BPE merges every word of the closed
// vocabulary into one piece (hard_vocab_limit=false stops it where the corpus runs out of pairs).
inline constexpr int kSyntheticVocabSize = 2048;
SyntheticTokenizerReport train_synthetic_tokenizer(const std::string& dir, int vocab_size = kSyntheticVocabSize,
                                                   size_t max_checked = 0);

}  // namespace litestage
