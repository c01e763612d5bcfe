# Dependency discovery. LibTorch: Debian's libtorch-dev (CPU) by default, or an official
# LibTorch 2.x build (CUDA) found through CMAKE_PREFIX_PATH.
find_package(Torch REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(SLEEF REQUIRED IMPORTED_TARGET sleef)  # vectorised exp of the prompt kernel (kernels/vector_math)
find_package(Boost 1.70 REQUIRED COMPONENTS program_options)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenMP)  # LibTorch's intra-op parallelism in our own loops (litestage/CMakeLists.txt)
# ICU gives the tokenizer NFC normalisation (Qwen2's tokenizer.json normalizer).
find_package(ICU REQUIRED COMPONENTS uc)

# Debian's yaml-cpp 0.7 exports the plain target name; newer releases add a namespace.
if(TARGET yaml-cpp::yaml-cpp)
  set(LITESTAGE_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(LITESTAGE_YAML_TARGET yaml-cpp)
endif()

# sentencepiece_trainer lives in a separate library that pkg-config does not list. Both are
# linked only into the litestage_spm shim (litestage/CMakeLists.txt explains why).
find_library(SENTENCEPIECE_TRAIN_LIB NAMES sentencepiece_train REQUIRED)

# Gloo's headers and library for c10d's ProcessGroupGloo (multi-process runs, docs/distributed.md).
find_path(LITESTAGE_GLOO_INCLUDE gloo/config.h)
find_library(LITESTAGE_GLOO_LIB NAMES gloo)
if(NOT LITESTAGE_GLOO_INCLUDE OR NOT LITESTAGE_GLOO_LIB)
  message(STATUS "Gloo not found: multi-process runs disabled (Debian: apt-get install libgloo-dev)")
endif()
