// `carbonsweep pretrain`: pre-trains the backbone (trials/pretrain.h) on the
// books, speeches and the default task's unlabelled pool, metering itself
// with the carbon module like any trial, and writes the backbone directory.
#include <csignal>
#include <iostream>

#include "carbon/intensity.h"
#include "cli/carbon_flags.h"
#include "cli/command.h"
#include "cli/self_meter.h"
#include "common/files.h"
#include "common/units.h"
#include "trials/dataset.h"
#include "trials/pretrain.h"

namespace cs {

namespace po = boost::program_options;

namespace {

std::atomic<bool> g_stop_requested{false};
void RequestStop(int) { g_stop_requested = true; }

}  // namespace

int RunPretrainCommand(const std::vector<std::string>& args) {
  PretrainOptions defaults;
  // The committed models/backbone has 2 layers (about 2x faster per step than 4 on 2 cores);
  // rebuilding it should not need the flag.
  constexpr int kBundledBackboneLayers = 2;
  po::options_description options("pretrain options");
  options.add_options()("out", po::value<std::string>()->default_value("models/backbone"),
                        "backbone directory to write (encoder.pt, vocab.txt, backbone.json)")(
      "minutes", po::value<double>()->default_value(0), "wall minutes of training steps (or --steps)")(
      "steps", po::value<int64_t>()->default_value(0), "exact optimizer steps (wins over --minutes)")(
      "vocab-size", po::value<int>()->default_value(defaults.vocab_size), "WordPiece vocab size, specials included")(
      "seq-len", po::value<int>()->default_value(defaults.seq_len), "tokens per chunk incl. [CLS] and [SEP]")(
      "mask-rate", po::value<double>()->default_value(defaults.mask_rate, "0.3"), "share of tokens predicted")(
      "batch", po::value<int>()->default_value(defaults.batch_size), "chunks per optimizer step")(
      "lr", po::value<double>()->default_value(defaults.learning_rate), "peak AdamW learning rate")(
      "warmup-steps", po::value<int>()->default_value(defaults.warmup_steps), "linear warmup steps")(
      "threads", po::value<int>()->default_value(defaults.threads), "torch threads")(
      "seed", po::value<uint64_t>()->default_value(defaults.seed), "seeds init, data order and masking")(
      "layers", po::value<int>()->default_value(kBundledBackboneLayers), "encoder layers (the bundled backbone has 2)")(
      "hidden", po::value<int>()->default_value(defaults.encoder.hidden), "encoder width")(
      "heads", po::value<int>()->default_value(defaults.encoder.heads), "attention heads")(
      "ff", po::value<int>()->default_value(defaults.encoder.ff), "feed-forward width")(
      "embedding-init", po::value<std::string>()->default_value(EmbeddingInitName(defaults.embedding_init)),
      "ppmi-svd (word vectors from the corpus) | random")(
      "pool-task", po::value<std::string>()->default_value("imdb"),
      "task whose unlabelled pool (default split) joins the corpus; \"none\" for books and speeches only")(
      "sources", po::value<std::string>()->default_value("sotu,brown,moby_dick"),
      "books and speeches: any of sotu, brown, moby_dick, comma-separated, or \"none\"")(
      "heldout-chunks", po::value<int>()->default_value(defaults.heldout_chunks),
      "chunks kept out of training for the held-out loss")(
      "checkpoint-minutes", po::value<double>()->default_value(defaults.checkpoint_seconds / 60.0),
      "minutes between checkpoints")(
      "resume", "continue the checkpoint in <out>/checkpoint")(
      "force", "write over a backbone already in --out (the default models/backbone is the bundled one)")(
      "init-from", po::value<std::string>()->default_value(""),
      "continue pre-training this finished backbone directory (its vocab, shape, weights and "
      "masked-LM head), e.g. models/backbone for more steps")(
      "stop-after-steps", po::value<int64_t>()->default_value(0),
      "stop (resumably, exit code 4) once this many steps are done");
  AddCarbonFlags(&options, kGridFlags);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("pretrain", "--out DIR (--minutes M | --steps N) [--resume] [--force] [options]", options, nullptr,
                        args, &vm, &exit_code)) {
    return exit_code;
  }
  PretrainOptions pretrain = defaults;
  pretrain.out_dir = vm["out"].as<std::string>();
  // The default --out is the committed backbone: never replaced by accident.
  if (!vm.count("force") && !vm.count("resume")) {
    for (const char* file : {"backbone.json", "encoder.pt"}) {
      if (FileExists(pretrain.out_dir + "/" + file)) {
        return ReportError("pretrain", ExitCode::kBadInput,
                           "--out " + pretrain.out_dir + ": already holds a backbone (" + file +
                               "); pass --force to overwrite it, or give another --out");
      }
    }
  }
  pretrain.minutes = vm["minutes"].as<double>();
  pretrain.steps = vm["steps"].as<int64_t>();
  pretrain.vocab_size = vm["vocab-size"].as<int>();
  pretrain.seq_len = vm["seq-len"].as<int>();
  pretrain.mask_rate = vm["mask-rate"].as<double>();
  pretrain.batch_size = vm["batch"].as<int>();
  pretrain.learning_rate = vm["lr"].as<double>();
  pretrain.warmup_steps = vm["warmup-steps"].as<int>();
  pretrain.threads = vm["threads"].as<int>();
  pretrain.seed = vm["seed"].as<uint64_t>();
  pretrain.encoder.layers = vm["layers"].as<int>();
  pretrain.encoder.hidden = vm["hidden"].as<int>();
  pretrain.encoder.heads = vm["heads"].as<int>();
  pretrain.encoder.ff = vm["ff"].as<int>();
  pretrain.heldout_chunks = vm["heldout-chunks"].as<int>();
  pretrain.checkpoint_seconds = vm["checkpoint-minutes"].as<double>() * 60.0;
  pretrain.stop_after_steps = vm["stop-after-steps"].as<int64_t>();
  pretrain.resume = vm.count("resume") ? ResumeMode::kResume : ResumeMode::kFresh;
  pretrain.init_from = vm["init-from"].as<std::string>();
  if (!pretrain.init_from.empty()) {
    // The parent fixes these; a silently ignored flag would mislead.
    for (const char* flag : {"vocab-size", "layers", "hidden", "heads", "ff", "embedding-init"}) {
      if (!vm[flag].defaulted()) {
        return ReportError("pretrain", ExitCode::kBadInput,
                           std::string("--") + flag + ": the backbone given by --init-from fixes it; drop the flag");
      }
    }
  }
  Result<EmbeddingInit> init = ParseEmbeddingInit(vm["embedding-init"].as<std::string>());
  if (!init.ok()) return ReportError("pretrain", init.status());
  pretrain.embedding_init = *init;

  const std::string pool_task = vm["pool-task"].as<std::string>();
  if (pool_task != "none") pretrain.corpus.pool_task = DefaultTaskSpec(pool_task);
  pretrain.corpus.sources.clear();
  const std::string sources = vm["sources"].as<std::string>();
  if (sources != "none") {
    size_t start = 0;
    while (start <= sources.size()) {
      const size_t comma = std::min(sources.find(',', start), sources.size());
      const std::string name = sources.substr(start, comma - start);
      bool known = false;
      for (CorpusSource source : {CorpusSource::kSotu, CorpusSource::kBrown, CorpusSource::kMobyDick}) {
        if (name == CorpusSourceName(source)) {
          pretrain.corpus.sources.push_back(source);
          known = true;
        }
      }
      if (!known) {
        return ReportError("pretrain", ExitCode::kBadInput,
                           "--sources: '" + name + "' is not one of sotu, brown, moby_dick, none");
      }
      start = comma + 1;
    }
  }
  Status valid = ValidatePretrainOptions(pretrain);
  if (!valid.ok()) return ReportError("pretrain", valid);

  Result<CarbonFlags> carbon = CarbonFlagsFromFlags(vm);
  if (!carbon.ok()) return ReportError("pretrain", carbon.status());
  const IntensityOptions& intensity_options = carbon->intensity;
  // One process, a long run: coarse samples suffice.
  Result<std::unique_ptr<SelfEnergyMeter>> meter = StartSelfMeter(intensity_options, carbon->pue, 10.0);
  if (!meter.ok()) return ReportError("pretrain", meter.status());

  pretrain.stop_requested = &g_stop_requested;
  std::signal(SIGINT, RequestStop);
  std::signal(SIGTERM, RequestStop);
  Result<PretrainResult> result = RunPretraining(pretrain, meter->get());
  if (!result.ok()) return ReportError("pretrain", result.status());
  const nlohmann::json& provenance = result->provenance;
  const nlohmann::json& energy = provenance["energy"];
  if (result->end == PretrainEnd::kInterrupted) {
    std::cout << "interrupted at step " << provenance["steps"] << "; continue with the same command and --resume\n";
    return static_cast<int>(ExitCode::kInterrupted);
  }
  std::cout << "backbone written to " << pretrain.out_dir << ": " << provenance["steps"] << " steps, "
            << provenance["tokens"] << " tokens, " << FormatSeconds(provenance["timing"]["wall_seconds"].get<double>())
            << " wall, " << FormatJoules(energy["joules"].get<double>()) << ", "
            << FormatGrams(energy["grams_co2e"].get<double>()) << " CO2e\n";
  return 0;
}

}  // namespace cs
