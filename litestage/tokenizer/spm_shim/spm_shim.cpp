// C interface over libsentencepiece, built as its own shared library and opened with dlopen
// (RTLD_LOCAL | RTLD_DEEPBIND) by spm_library.cpp.
//
// Why: Debian's libsentencepiece carries a private copy of protobuf-lite 3.14 and exports its
// symbols, while LibTorch links the system libprotobuf 3.21. Linked into one process the two
// resolve to each other and the process aborts at start-up. Behind this shim, loaded with deep
// binding, SentencePiece only ever sees its own protobuf and LibTorch only the system one.

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

// Exported by libsentencepiece but not declared in its public headers.
namespace sentencepiece::logging {
void SetMinLogLevel(int level);
}

namespace {

// Deep binding makes libsentencepiece bind std::cerr to libstdc++'s own object, which is never
// constructed when the executable holds a copy-relocated std::cerr: any SentencePiece log line
// would crash. Failures still come back as a Status, so its logging is switched off (level 3 =
// fatal only) before any other call.
__attribute__((constructor)) void silence_sentencepiece_logging() { sentencepiece::logging::SetMinLogLevel(3); }

char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

sentencepiece::SentencePieceProcessor* sp(void* h) { return static_cast<sentencepiece::SentencePieceProcessor*>(h); }

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int lsspm_abi_version() { return 1; }

__attribute__((visibility("default"))) void* lsspm_load(const char* path, char** error) {
  auto* p = new sentencepiece::SentencePieceProcessor();
  auto status = p->Load(path);
  if (!status.ok()) {
    *error = copy_string(status.ToString());
    delete p;
    return nullptr;
  }
  return p;
}

__attribute__((visibility("default"))) void* lsspm_load_from_memory(const char* data, size_t size, char** error) {
  auto* p = new sentencepiece::SentencePieceProcessor();
  auto status = p->LoadFromSerializedProto(std::string(data, size));
  if (!status.ok()) {
    *error = copy_string(status.ToString());
    delete p;
    return nullptr;
  }
  return p;
}

__attribute__((visibility("default"))) void lsspm_destroy(void* h) { delete sp(h); }
__attribute__((visibility("default"))) void lsspm_free(void* p) { std::free(p); }

__attribute__((visibility("default"))) int lsspm_piece_size(void* h) { return sp(h)->GetPieceSize(); }
__attribute__((visibility("default"))) char* lsspm_id_to_piece(void* h, int id) { return copy_string(sp(h)->IdToPiece(id)); }
__attribute__((visibility("default"))) int lsspm_piece_to_id(void* h, const char* piece, size_t size) {
  return sp(h)->PieceToId(std::string(piece, size));
}
__attribute__((visibility("default"))) float lsspm_score(void* h, int id) { return sp(h)->GetScore(id); }
__attribute__((visibility("default"))) int lsspm_is_control(void* h, int id) { return sp(h)->IsControl(id); }
__attribute__((visibility("default"))) int lsspm_is_byte(void* h, int id) { return sp(h)->IsByte(id); }
__attribute__((visibility("default"))) int lsspm_is_unknown(void* h, int id) { return sp(h)->IsUnknown(id); }
__attribute__((visibility("default"))) int lsspm_bos_id(void* h) { return sp(h)->bos_id(); }
__attribute__((visibility("default"))) int lsspm_eos_id(void* h) { return sp(h)->eos_id(); }
__attribute__((visibility("default"))) int lsspm_pad_id(void* h) { return sp(h)->pad_id(); }
__attribute__((visibility("default"))) int lsspm_unk_id(void* h) { return sp(h)->unk_id(); }

// Returns a malloc'ed array of *count ids, or nullptr with *error set.
__attribute__((visibility("default"))) int* lsspm_encode(void* h, const char* text, size_t size, size_t* count,
                                                         char** error) {
  std::vector<int> ids;
  auto status = sp(h)->Encode(std::string_view(text, size), &ids);
  if (!status.ok()) {
    *error = copy_string(status.ToString());
    return nullptr;
  }
  *count = ids.size();
  int* out = static_cast<int*>(std::malloc(sizeof(int) * (ids.size() + 1)));
  if (!ids.empty()) std::memcpy(out, ids.data(), sizeof(int) * ids.size());
  return out;
}

__attribute__((visibility("default"))) char* lsspm_decode(void* h, const int* ids, size_t count, size_t* size,
                                                          char** error) {
  std::string text;
  auto status = sp(h)->Decode(std::vector<int>(ids, ids + count), &text);
  if (!status.ok()) {
    *error = copy_string(status.ToString());
    return nullptr;
  }
  *size = text.size();
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return out;
}

// SentencePieceTrainer::Train with a flag string ("--input=... --model_prefix=..."); returns 0
// on success, else 1 with *error set.
__attribute__((visibility("default"))) int lsspm_train(const char* args, char** error) {
  auto status = sentencepiece::SentencePieceTrainer::Train(args);
  if (!status.ok()) {
    *error = copy_string(status.ToString());
    return 1;
  }
  return 0;
}

}  // extern "C"
