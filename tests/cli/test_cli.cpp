#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include "litestage/model/causal_lm.hpp"
#include "litestage/util/strings.hpp"
#include "cli_run.hpp"
#include "support.hpp"

// The built `litestage` command, driven end to end as a user would: exit codes, messages, and the
// numbers it prints or writes agreeing with the library.

using namespace litestage;
using test::Result;
using test::run;
using test::slurp;

namespace {

// A tiny random model's config.json, for commands that accept one.
std::filesystem::path tiny_config(const std::filesystem::path& dir) {
  nlohmann::json j = {{"model_type", "llama"},      {"vocab_size", 97},       {"hidden_size", 32},
                      {"intermediate_size", 48},    {"num_hidden_layers", 4}, {"num_attention_heads", 4},
                      {"num_key_value_heads", 2},   {"max_position_embeddings", 64}};
  auto p = dir / "config.json";
  std::ofstream(p) << j.dump(2);
  return p;
}

// One thread: the test machines are shared, and OpenMP spinning across busy cores makes a
// 260K-parameter decode step take 100x longer.
const std::string kThreads = "--threads=1";

}  // namespace

TEST_CASE("litestage --help lists the subcommands", "[cli]") {
  auto r = run({"--help"});
  SHOW(r);
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::StartsWith("usage: litestage <command>"));
  for (const char* name : {"generate", "logits", "bench", "eval", "tokenize"}) CHECK_THAT(r.out, Catch::Contains(std::string("\n  ") + name + " "));
  // No command: the usage, on stderr, exit 2.
  auto none = run({});
  CHECK(none.rc == 2);
  CHECK_THAT(none.err, Catch::Contains("usage: litestage"));
}

TEST_CASE("each subcommand's --help exits 0 and lists its options", "[cli]") {
  struct Case {
    std::string command;
    std::vector<std::string> options;
  };
  for (const auto& c : std::vector<Case>{
           {"generate", {"--model", "--prompt", "--max-new-tokens", "--temperature", "--skip", "--device", "--dtype", "--threads"}},
           {"logits", {"--model", "--ids", "--skip", "--out", "--dtype"}},
           {"bench", {"--model", "--config", "--prompt-len", "--gen-len", "--repeats", "--skip-fraction"}},
           {"eval", {"EXPERIMENT.yaml", "--set", "--resume", "--threads", "--limit"}},
           {"tokenize", {"--tokenizer", "--text", "--decode", "--bench"}}}) {
    // -h once (startup is ~0.5 s of LibTorch loading per run).
    for (const char* flag : {"--help", "-h"}) {
      if (std::string(flag) == "-h" && c.command != "generate") continue;
      auto r = run({c.command, flag});
      SHOW(r);
      CHECK(r.rc == 0);
      CHECK_THAT(r.out, Catch::StartsWith("usage: litestage " + c.command));
      for (const auto& o : c.options) CHECK_THAT(r.out, Catch::Contains(o));
      CHECK(r.err.empty());
    }
  }
}

TEST_CASE("usage errors exit 2 with a message", "[cli][errors]") {
  SECTION("unknown command") {
    auto r = run({"frobnicate"});
    SHOW(r);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("unknown command 'frobnicate'"));
    CHECK_THAT(r.err, Catch::Contains("usage: litestage"));
  }
  SECTION("missing required option") {
    auto r = run({"generate", "--prompt", "hello"});
    SHOW(r);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("'--model' is required"));
    CHECK_THAT(r.err, Catch::Contains("usage: litestage generate"));
  }
  SECTION("unknown option") {
    auto r = run({"logits", "--modle", "x"});
    SHOW(r);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("--modle"));
  }
  SECTION("a value of the wrong type") {
    auto r = run({"generate", "--model", "x", "--prompt", "y", "--max-new-tokens", "many"});
    SHOW(r);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("max-new-tokens"));
  }
  SECTION("tokenize needs exactly one mode") {
    auto r = run({"tokenize", "--tokenizer", "x"});
    SHOW(r);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("exactly one of --text, --decode, --bench"));
  }
}

TEST_CASE("runtime errors exit 1 with 'error:' and the cause", "[cli][errors][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  const std::string m = model.string();
  SECTION("bad --skip spec") {
    auto r = run({"generate", "--model", m, "--prompt", "x", "--skip", "q3", kThreads});
    SHOW(r);
    CHECK(r.rc == 1);
    CHECK_THAT(r.err, Catch::Contains("litestage generate: error: skip spec item 'q3'"));
    auto out_of_range = run({"logits", "--model", m, "--ids", "1 2", "--out", "/dev/null", "--skip", "a5", kThreads});
    CHECK(out_of_range.rc == 1);
    CHECK_THAT(out_of_range.err, Catch::Contains("error: skip spec item 'a5': layer 5 out of range (model has 5 layers)"));
  }
  SECTION("--dtype f16 on a CPU without f16 matmuls, or works") {
    auto r = run({"generate", "--model", m, "--prompt", "Once", "--max-new-tokens", "2", "--dtype", "f16", kThreads});
    SHOW(r);
    if (dtype_supported(torch::kHalf, torch::kCPU)) {
      CHECK(r.rc == 0);
    } else {
      CHECK(r.rc == 1);
      CHECK_THAT(r.err, Catch::Contains("error: dtype f16 is not supported on cpu"));
    }
    auto bad = run({"generate", "--model", m, "--prompt", "x", "--dtype", "f8", kThreads});
    CHECK(bad.rc == 1);
    CHECK_THAT(bad.err, Catch::Contains("unknown dtype 'f8'"));
  }
  SECTION("--device cuda without CUDA") {
    auto r = run({"generate", "--model", m, "--prompt", "Once", "--max-new-tokens", "2", "--device", "cuda", kThreads});
    SHOW(r);
    if (torch::cuda::is_available()) {
      CHECK(r.rc == 0);
    } else {
      CHECK(r.rc == 1);
      CHECK_THAT(r.err, Catch::Contains("error: device 'cuda' requested but CUDA is not available"));
    }
    auto bad = run({"generate", "--model", m, "--prompt", "x", "--device", "tpu", kThreads});
    CHECK(bad.rc == 1);
    CHECK_THAT(bad.err, Catch::Contains("unknown device 'tpu'"));
  }
  SECTION("logits: out-of-vocabulary and malformed ids") {
    auto r = run({"logits", "--model", m, "--ids", "1 600", "--out", "/dev/null", kThreads});
    SHOW(r);
    CHECK(r.rc == 1);
    CHECK_THAT(r.err, Catch::Contains("error: --ids: token id 600 is outside the vocabulary (512)"));
    auto neg = run({"logits", "--model", m, "--ids", "1 -3", "--out", "/dev/null", kThreads});
    CHECK(neg.rc == 1);
    CHECK_THAT(neg.err, Catch::Contains("token id -3 is outside the vocabulary"));
    auto junk = run({"logits", "--model", m, "--ids", "1 two", "--out", "/dev/null", kThreads});
    CHECK(junk.rc == 1);
    CHECK_THAT(junk.err, Catch::Contains("--ids: 'two' is not a token id"));
  }
  SECTION("a model directory that does not exist") {
    auto r = run({"generate", "--model", "/nonexistent/model", "--prompt", "x", kThreads});
    SHOW(r);
    CHECK(r.rc == 1);
    CHECK_THAT(r.err, Catch::Contains("/nonexistent/model"));
  }
}

TEST_CASE("bench on a random model from config.json prints the skip table", "[cli][bench]") {
  auto dir = test::temp_dir("cli-bench");
  auto cfg = tiny_config(dir);
  auto r = run({"bench", "--config", cfg.string(), "--prompt-len", "8", "--gen-len", "4", "--repeats", "2", kThreads});
  SHOW(r);
  REQUIRE(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("[random weights]"));
  CHECK_THAT(r.out, Catch::Contains("\nread bandwidth: "));
  CHECK_THAT(r.out, Catch::Contains("GB/s"));
  CHECK_THAT(r.out, Catch::Contains("prompt 8 tokens, 4 decode steps, median of 2"));
  // Rows: fraction, sub-layers skipped of 8, weight removed, prefill, decode, /floor, speedup, ideal.
  // Per-token weights (hidden 32, FFN 48, q 32, kv 16): attention 32*32 + 2*32*16 + 32*32 + 32 = 3104,
  // FFN 3*32*48 + 32 = 4640, 4 layers and the lm_head 97*32: 34080. The last layers go first:
  // 0.25 skips f3, a3 (7744 = 22.7 %, ideal 34080 / 26336 = 1.29x), 0.50 also f2, a2 (15488 =
  // 45.4 %, ideal 34080 / 18592 = 1.83x).
  std::vector<std::string> rows;
  for (const auto& line : split(r.out, '\n')) {
    std::istringstream in(line);
    std::string fraction, sublayers, removed, prefill, decode, floor, speedup, ideal;
    in >> fraction >> sublayers >> removed >> prefill >> decode >> floor >> speedup >> ideal;
    if (fraction == "0.00" || fraction == "0.25" || fraction == "0.50")
      rows.push_back(fraction + " " + sublayers + " " + removed + " " + ideal);
  }
  CHECK(rows == std::vector<std::string>{"0.00 0/8 0.0% 1.00x", "0.25 2/8 22.7% 1.29x", "0.50 4/8 45.4% 1.83x"});

  SECTION("exactly one of --model and --config") {
    auto both = run({"bench", "--config", cfg.string(), "--model", dir.string(), kThreads});
    CHECK(both.rc == 1);
    CHECK_THAT(both.err, Catch::Contains("give exactly one of --model DIR or --config FILE"));
    auto neither = run({"bench", kThreads});
    CHECK(neither.rc == 1);
  }
  SECTION("a prompt longer than the model's positions") {
    auto r2 = run({"bench", "--config", cfg.string(), "--prompt-len", "60", "--gen-len", "10", kThreads});
    CHECK(r2.rc == 1);
    CHECK_THAT(r2.err, Catch::Contains("exceed the model's 64 positions"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("generate continues a prompt and prints timings", "[cli][shared][generate][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  auto r = run({"generate", "--model", model.string(), "--prompt", "Once upon a time", "--max-new-tokens", "16", kThreads});
  SHOW(r);
  REQUIRE(r.rc == 0);
  CHECK_THAT(r.out, Catch::StartsWith("Once upon a time, there was a little girl named Lily."));
  auto text_end = r.out.find("\n\n");
  auto prompt_line = r.out.find("\nprompt: 5 tokens, prefill ");
  auto decode_line = r.out.find("\ndecode: 16 tokens, ");
  CHECK(text_end != std::string::npos);
  CHECK(prompt_line != std::string::npos);
  CHECK(decode_line != std::string::npos);
  CHECK(text_end < prompt_line);
  CHECK(prompt_line < decode_line);
  CHECK_THAT(r.out, Catch::Contains("exit: max_tokens"));
  CHECK_THAT(r.out, Catch::Contains("skip none"));

  auto skipped = run({"generate", "--model", model.string(), "--prompt", "Once upon a time", "--max-new-tokens", "4",
                      "--skip", "b4", kThreads});
  SHOW(skipped);
  CHECK(skipped.rc == 0);
  CHECK_THAT(skipped.out, Catch::Contains("skip a4,f4"));
}

TEST_CASE("logits agree with the library's forward, with and without a skip plan", "[cli][shared][logits]") {
  REQUIRE_SHARED(model, "models/stories260K");
  auto dir = test::temp_dir("cli-logits");
  auto lm = load_causal_lm(model);
  const std::vector<int64_t> ids = {1, 403, 407, 261, 378, 11, 0, 511};
  for (std::string skip : {"none", "b4", "a0,f2"}) {
    INFO("skip " << skip);
    auto out = dir / ("logits-" + skip + ".json");
    auto r = run({"logits", "--model", model.string(), "--ids", "[1, 403, 407, 261, 378, 11, 0, 511]", "--skip", skip,
                  "--out", out.string(), kThreads});
    SHOW(r);
    REQUIRE(r.rc == 0);
    CHECK_THAT(r.out, Catch::Contains("wrote 8 x 512 logits"));
    auto j = nlohmann::json::parse(slurp(out));
    CHECK(j.at("ids").get<std::vector<int64_t>>() == ids);
    CHECK(j.at("dtype") == "f32");
    CHECK(j.at("shape") == nlohmann::json::array({8, 512}));
    auto plan = SkipPlan::parse(skip, lm->num_layers());
    CHECK(j.at("skip") == plan.to_string());
    std::vector<float> flat;
    for (const auto& row : j.at("logits"))
      for (float v : row.get<std::vector<float>>()) flat.push_back(v);
    REQUIRE(flat.size() == 8u * 512u);
    auto cli = torch::tensor(flat).view({8, 512});

    torch::NoGradGuard ng;
    ForwardOptions fo;
    fo.skip = &plan;
    auto lib = lm->forward(torch::tensor(ids).view({1, -1}), fo).squeeze(0);
    auto rel = ((cli - lib).abs().max() / lib.abs().max()).item<double>();
    CHECK(rel < 1e-5);
    if (skip != "none") {
      auto full = lm->forward(torch::tensor(ids).view({1, -1})).squeeze(0);
      CHECK(((cli - full).abs().max() / full.abs().max()).item<double>() > 1e-2);
    }
  }
  std::filesystem::remove_all(dir);
}

// --- Known bugs (failing until fixed; see the test report) -----------------------------------

TEST_CASE("generate keeps the space between the prompt and the continuation", "[cli][shared][generate][bug][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  // Greedy from "Once upon a" continues with "▁time": SentencePiece drops the space of the
  // first piece of a sequence, so streaming the continuation decoded on its own prints
  // "Once upon atime, there".
  auto r = run({"generate", "--model", model.string(), "--prompt", "Once upon a", "--max-new-tokens", "3", kThreads});
  SHOW(r);
  REQUIRE(r.rc == 0);
  CHECK_THAT(r.out, Catch::StartsWith("Once upon a time, there"));
}

TEST_CASE("generate --top-p 0 keeps the most likely token, as transformers does", "[cli][shared][generate][bug][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  // transformers' TopPLogitsWarper always keeps at least one token, so top_p = 0 is greedy. Here
  // every token was masked and at::multinomial failed, printing a LibTorch backtrace.
  auto greedy = run({"generate", "--model", model.string(), "--prompt", "Once upon a time", "--max-new-tokens", "8", kThreads});
  auto r = run({"generate", "--model", model.string(), "--prompt", "Once upon a time", "--max-new-tokens", "8",
                "--temperature", "0.8", "--top-p", "0", "--seed", "3", kThreads});
  SHOW(r);
  CHECK(r.rc == 0);
  CHECK_THAT(r.err, !Catch::Contains("frame #"));
  REQUIRE(greedy.rc == 0);
  CHECK(r.out.substr(0, r.out.find("\n\n")) == greedy.out.substr(0, greedy.out.find("\n\n")));
}

TEST_CASE("sampling options out of range are refused by name", "[cli][shared][generate][bug][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  // Today a negative temperature silently means greedy, a negative top-k or a top-p above 1
  // silently means "off".
  struct Case {
    std::vector<std::string> args;
    const char* name;
  };
  for (const auto& c : std::vector<Case>{{{"--temperature", "-1"}, "temperature"},
                                         {{"--temperature", "1", "--top-k", "-2"}, "top"},
                                         {{"--temperature", "1", "--top-p", "1.5"}, "top"},
                                         {{"--temperature", "1", "--top-p", "-0.1"}, "top"}}) {
    std::vector<std::string> args = {"generate", "--model", model.string(), "--prompt", "Once", "--max-new-tokens", "2", kThreads};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = run(args);
    SHOW(r);
    CHECK(r.rc == 1);
    CHECK_THAT(r.err, Catch::Contains("error:") && Catch::Contains(c.name));
  }
}

TEST_CASE("generate prints the text cut before a stop string", "[cli][shared][generate][bug][deepbind]") {
  REQUIRE_SHARED(model, "models/stories260K");
  // The greedy text is ", there was a little girl named Lily." (pieces ▁a ▁little ▁g ir l ▁named ▁Lily).
  // Trailing spaces aside: the cut leaves "named " / "little " in the generated text.
  auto text_of = [](const Result& r) { return trim(r.out.substr(0, r.out.find("\n\n"))); };
  // A stop string completed by one token: nothing of it was printed before.
  auto one = run({"generate", "--model", model.string(), "--prompt", "Once upon a time", "--stop", "Lily",
                  "--max-new-tokens", "30", kThreads});
  SHOW(one);
  REQUIRE(one.rc == 0);
  CHECK(text_of(one) == "Once upon a time, there was a little girl named");
  CHECK_THAT(one.out, Catch::Contains("exit: stop_string"));
  // A stop string spanning several tokens: its first tokens were streamed before it was complete,
  // so the command printed "... a little girl" although the generated text ends "... a little".
  auto many = run({"generate", "--model", model.string(), "--prompt", "Once upon a time", "--stop", "girl named",
                   "--max-new-tokens", "30", kThreads});
  SHOW(many);
  REQUIRE(many.rc == 0);
  CHECK_THAT(many.out, Catch::Contains("exit: stop_string"));
  CHECK(text_of(many) == "Once upon a time, there was a little");
}

TEST_CASE("diagnose and tradeoff on the embedded demo model", "[cli][demo][deepbind]") {
  const std::filesystem::path root = LITESTAGE_SOURCE_DIR;
  const std::string model = (root / "data" / "demo-model").string();
  const std::string settings = (root / "data" / "synthetic" / "settings.json").string();
  const auto dir = test::temp_dir("cli-diagnose");
  auto synth = run({"synth", "--out", (dir / "task").string(), "--settings", settings, "--no-tokenizer"});
  SHOW(synth);
  REQUIRE(synth.rc == 0);

  auto d = run({"diagnose", "--model", model, "--records",
                "valid=" + (dir / "task" / "valid_stage_records.jsonl").string(), "--split", "valid", "--root",
                settings, "--limit", "3", "--json", (dir / "diag.json").string(), kThreads});
  SHOW(d);
  REQUIRE(d.rc == 0);
  CHECK_THAT(d.out, Catch::Contains("| records | Recall | Analyze | Summarize |"));
  CHECK_THAT(d.out, Catch::Contains("| valid | "));
  CHECK_THAT(d.out, Catch::Contains("Full three-stage accuracy"));
  const auto j = nlohmann::json::parse(slurp(dir / "diag.json"));
  CHECK(j["teacher_forced"][0]["recall"]["records"] == 3);
  CHECK(j["teacher_forced"][0]["analyze"]["records"] == 3);
  CHECK(j["pipeline"][0]["questions"] == 3);
  // The Wilson 95 % interval of c correct of 3, by hand (z = 1.96): c = 0 [0, 0.5615], 1 [0.0615,
  // 0.7923], 2 [0.2077, 0.9385], 3 [0.4385, 1].
  const double low = j["pipeline"][0]["wilson95"][0], high = j["pipeline"][0]["wilson95"][1];
  const double acc = j["pipeline"][0]["accuracy"];
  const int correct = static_cast<int>(std::lround(acc * 3));
  REQUIRE(acc * 3 == Approx(correct));
  REQUIRE((correct >= 0 && correct <= 3));
  const double wilson_of_3[4][2] = {{0, 0.5615}, {0.0615, 0.7923}, {0.2077, 0.9385}, {0.4385, 1}};
  INFO(correct << " of 3 correct");
  CHECK(low == Approx(wilson_of_3[correct][0]).margin(1e-4));
  CHECK(high == Approx(wilson_of_3[correct][1]).margin(1e-4));
  // No stage records and no split: a usage error.
  auto none = run({"diagnose", "--model", model});
  CHECK(none.rc != 0);
  CHECK_THAT(none.err, Catch::Contains("--records"));

  // The experiment's paths are relative to the repository root; the test runs elsewhere.
  auto t = run({"tradeoff", (root / "experiments" / "demo.yaml").string(), "--set", "model=" + model, "--set",
                "data.root=" + settings, "--set", "data.limit=3", "--set",
                "data.calibration_size=4", "--set", "importance.examples=2", "--set",
                "output_dir=" + (dir / "tradeoff").string(), "--set", "runtime.threads=1", "--max-k", "2"});
  SHOW(t);
  REQUIRE(t.rc == 0);
  const auto tj = nlohmann::json::parse(slurp(dir / "tradeoff" / "tradeoff.json"));
  REQUIRE(tj["rows"].size() == 3);
  for (int k = 0; k < 3; ++k) {
    CHECK(tj["rows"][k]["k"] == k);
    CHECK(tj["rows"][k]["examples"] == 3);
  }
  CHECK(tj["rows"][0]["skipped"] == "none");
  CHECK(tj["rows"][2]["skipped"] != "none");
  CHECK_THAT(slurp(dir / "tradeoff" / "tradeoff.md"), Catch::Contains("| k | skipped | accuracy |"));
}
