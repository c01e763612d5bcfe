#include "litestage/tokenizer/spm_library.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "litestage/util/error.hpp"

#ifndef LITESTAGE_SPM_BUILD_PATH
#define LITESTAGE_SPM_BUILD_PATH ""
#endif

// AddressSanitizer refuses RTLD_DEEPBIND (its interceptors must see every call). Sanitized builds
// bind normally: the protobuf clash deep binding avoids only arises in processes that also load
// LibTorch, and the sanitized runs that load SentencePiece there are listed in docs/testing.md.
#if defined(__SANITIZE_ADDRESS__)
#define LITESTAGE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LITESTAGE_ASAN 1
#endif
#endif
#ifdef LITESTAGE_ASAN
constexpr int kSpmOpenFlags = RTLD_NOW | RTLD_LOCAL;
#else
constexpr int kSpmOpenFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif

namespace litestage {
namespace {

struct Api {
  std::string path;
  void* (*load)(const char*, char**);
  void (*destroy)(void*);
  void (*free_)(void*);
  int (*piece_size)(void*);
  char* (*id_to_piece)(void*, int);
  int (*piece_to_id)(void*, const char*, size_t);
  float (*score)(void*, int);
  int (*is_control)(void*, int);
  int (*is_byte)(void*, int);
  int (*is_unknown)(void*, int);
  int (*bos_id)(void*);
  int (*eos_id)(void*);
  int (*pad_id)(void*);
  int (*unk_id)(void*);
  int* (*encode)(void*, const char*, size_t, size_t*, char**);
  char* (*decode)(void*, const int*, size_t, size_t*, char**);
  int (*train)(const char*, char**);
};

std::vector<std::string> candidate_paths() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("LITESTAGE_SPM_LIBRARY"); env && *env) out.emplace_back(env);
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    auto dir = std::filesystem::path(exe).parent_path();
    out.push_back((dir / "liblitestage_spm.so").string());
    out.push_back((dir / ".." / "lib" / "liblitestage_spm.so").string());
  }
  if (*LITESTAGE_SPM_BUILD_PATH) out.emplace_back(LITESTAGE_SPM_BUILD_PATH);
  return out;
}

const Api& api() {
  static Api a;
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    void* lib = nullptr;
    std::string tried;
    for (const auto& p : candidate_paths()) {
      if (!std::filesystem::exists(p)) {
        tried += "\n  " + p + " (absent)";
        continue;
      }
      lib = dlopen(p.c_str(), kSpmOpenFlags);
      if (lib) {
        a.path = p;
        break;
      }
      tried += "\n  " + p + " (" + dlerror() + ")";
    }
    if (!lib) {
      failure = "cannot load the SentencePiece shim liblitestage_spm.so; set LITESTAGE_SPM_LIBRARY. Tried:" + tried;
      return;
    }
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn && failure.empty()) failure = a.path + ": missing symbol " + name;
    };
    sym(a.load, "lsspm_load");
    sym(a.destroy, "lsspm_destroy");
    sym(a.free_, "lsspm_free");
    sym(a.piece_size, "lsspm_piece_size");
    sym(a.id_to_piece, "lsspm_id_to_piece");
    sym(a.piece_to_id, "lsspm_piece_to_id");
    sym(a.score, "lsspm_score");
    sym(a.is_control, "lsspm_is_control");
    sym(a.is_byte, "lsspm_is_byte");
    sym(a.is_unknown, "lsspm_is_unknown");
    sym(a.bos_id, "lsspm_bos_id");
    sym(a.eos_id, "lsspm_eos_id");
    sym(a.pad_id, "lsspm_pad_id");
    sym(a.unk_id, "lsspm_unk_id");
    sym(a.encode, "lsspm_encode");
    sym(a.decode, "lsspm_decode");
    sym(a.train, "lsspm_train");
  });
  if (!failure.empty()) throw Error(failure);
  return a;
}

std::string take_error(char* err) {
  std::string s = err ? err : "unknown error";
  if (err) api().free_(err);
  return s;
}

}  // namespace

std::string spm_library_path() { return api().path; }

SpmProcessor::SpmProcessor(const std::filesystem::path& model_file) : source_(model_file.string()) {
  if (!std::filesystem::exists(model_file)) throw_error("SentencePiece model ", source_, " does not exist");
  char* err = nullptr;
  handle_ = api().load(source_.c_str(), &err);
  if (!handle_) throw_error(source_, ": cannot load SentencePiece model: ", take_error(err));
}

SpmProcessor::~SpmProcessor() {
  if (handle_) api().destroy(handle_);
}

int SpmProcessor::piece_size() const { return api().piece_size(handle_); }
std::string SpmProcessor::id_to_piece(int id) const {
  char* s = api().id_to_piece(handle_, id);
  std::string out = s ? s : "";
  api().free_(s);
  return out;
}
int SpmProcessor::piece_to_id(std::string_view piece) const {
  return api().piece_to_id(handle_, piece.data(), piece.size());
}
float SpmProcessor::score(int id) const { return api().score(handle_, id); }
bool SpmProcessor::is_control(int id) const { return api().is_control(handle_, id) != 0; }
bool SpmProcessor::is_byte(int id) const { return api().is_byte(handle_, id) != 0; }
bool SpmProcessor::is_unknown(int id) const { return api().is_unknown(handle_, id) != 0; }
int SpmProcessor::bos_id() const { return api().bos_id(handle_); }
int SpmProcessor::eos_id() const { return api().eos_id(handle_); }
int SpmProcessor::pad_id() const { return api().pad_id(handle_); }
int SpmProcessor::unk_id() const { return api().unk_id(handle_); }

std::vector<int> SpmProcessor::encode(std::string_view text) const {
  char* err = nullptr;
  size_t n = 0;
  int* ids = api().encode(handle_, text.data(), text.size(), &n, &err);
  if (!ids) throw_error(source_, ": SentencePiece encode failed: ", take_error(err));
  std::vector<int> out(ids, ids + n);
  api().free_(ids);
  return out;
}

std::vector<std::string> SpmProcessor::encode_as_pieces(std::string_view text) const {
  std::vector<std::string> out;
  for (int id : encode(text)) out.push_back(id_to_piece(id));
  return out;
}

std::string SpmProcessor::decode(const std::vector<int>& ids) const {
  char* err = nullptr;
  size_t n = 0;
  char* text = api().decode(handle_, ids.data(), ids.size(), &n, &err);
  if (!text) throw_error(source_, ": SentencePiece decode failed: ", take_error(err));
  std::string out(text, n);
  api().free_(text);
  return out;
}

void spm_train(const std::string& flags) {
  char* err = nullptr;
  if (api().train(flags.c_str(), &err) != 0) throw_error("SentencePiece training failed: ", take_error(err));
}

}  // namespace litestage
