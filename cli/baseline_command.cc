// `carbonsweep baseline`: TF-IDF + logistic regression on a task's split, in
// seconds - what the cheap model gets before and beside any sweep. Metered
// like a trial; with --db it is recorded in the store, where `compare` and
// `report` show it as the reference row of sweeps on the same data.
#include <iostream>

#include "cli/carbon_flags.h"
#include "cli/command.h"
#include "cli/self_meter.h"
#include "cli/task_flags.h"
#include "common/clock.h"
#include "common/files.h"
#include "store/sweep_store.h"
#include "trials/baseline.h"
#include "trials/dataset.h"

namespace cs {

namespace po = boost::program_options;

namespace {

constexpr char kBaselineMethod[] = "tfidf-logreg";

Status RecordBaseline(SweepStore& store, const TaskSpec& spec, const TaskSplit& split, const BaselineResult& result,
                      const nlohmann::json& details, double joules, double grams) {
  BaselineRecord record;
  record.task_json = split.provenance.dump();
  record.task_checksum = TaskSpecChecksum(spec);
  record.method = kBaselineMethod;
  record.val_accuracy = result.val_accuracy;
  record.test_accuracy = result.test_accuracy;
  record.seconds = result.seconds;
  record.joules = joules;
  record.grams_co2e = grams;
  record.details_json = details.dump();
  record.created_at_unix = RealClock::Get()->NowUnixSeconds();
  return store.InsertBaseline(record).status();
}

}  // namespace

int RunBaselineCommand(const std::vector<std::string>& args) {
  po::options_description options("baseline options");
  options.add_options()
      ("max-words", po::value<int>()->default_value(0),
       "words of each text used (0 = all; 127 mimics a 128-token window)")
      ("no-bigrams", "unigram features only")
      ("threads", po::value<int>()->default_value(0), "threads (0 = every core)")
      ("out", po::value<std::string>(), "write the result JSON here")
      ("db", po::value<std::string>(), "also record it in this store (the reference row of `compare` and `report`)");
  AddCarbonFlags(&options, kGridFlags);
  AddTaskFlags(&options);
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("baseline", "[options]", options, nullptr, args, &vm, &exit_code)) return exit_code;

  Result<TaskSpec> task = TaskSpecFromFlags(vm);
  if (!task.ok()) return ReportError("baseline", task.status());
  BaselineOptions baseline;
  baseline.max_words = vm["max-words"].as<int>();
  if (baseline.max_words < 0) return ReportError("baseline", ExitCode::kBadInput, "--max-words: must be 0 or more");
  baseline.use_bigrams = vm.count("no-bigrams") == 0;
  baseline.threads = vm["threads"].as<int>();
  baseline.progress = [](const std::string& line) { std::cerr << "baseline: " << line << "\n"; };

  if (baseline.threads < 0) return ReportError("baseline", ExitCode::kBadInput, "--threads: must be 0 or more");
  Result<CarbonFlags> carbon = CarbonFlagsFromFlags(vm);
  if (!carbon.ok()) return ReportError("baseline", carbon.status());
  const IntensityOptions& intensity = carbon->intensity;
  const double pue = carbon->pue;
  // The output and the store are checked first: a bad --out or --db fails before any work is spent.
  if (vm.count("out")) {
    std::vector<std::string> stores;
    if (vm.count("db")) stores.push_back(vm["db"].as<std::string>());
    Status safe = CheckSafeOutputPath(vm["out"].as<std::string>(), stores);
    if (!safe.ok()) return ReportError("baseline", safe.WithPrefix("--out"));
  }
  std::unique_ptr<SweepStore> store;
  if (vm.count("db")) {
    Result<std::unique_ptr<SweepStore>> opened = SweepStore::Open(vm["db"].as<std::string>(), StoreOptions{});
    if (!opened.ok()) return ReportError("baseline", opened.status());
    store = std::move(*opened);
  }
  Result<std::unique_ptr<SelfEnergyMeter>> meter = StartSelfMeter(intensity, pue, 1.0);
  if (!meter.ok()) return ReportError("baseline", meter.status());

  Result<TaskSplit> split = LoadTask(*task);
  if (!split.ok()) return ReportError("baseline", split.status());
  std::cerr << "baseline: " << split->name << " loaded; building features\n";
  Result<BaselineResult> result = RunBaseline(*split, baseline);
  if (!result.ok()) return ReportError("baseline", result.status());
  const EnergyReading energy = (*meter)->Read();  // data loading included: the user pays for it too.
  const double joules = energy.joules * pue;

  std::cout << "baseline (TF-IDF + logistic regression, " << (baseline.max_words > 0 ? "first " + std::to_string(baseline.max_words) + " words" : std::string("full texts"))
            << ") on " << split->name << ": val accuracy " << result->val_accuracy << ", test accuracy "
            << result->test_accuracy << ", " << result->features << " features, l2 " << result->l2 << ", "
            << result->seconds << " s, " << joules << " J, " << energy.grams_co2e << " g CO2e\n";
  // How it was made: in the --out file and in the store's details.
  nlohmann::json details = result->ToJson();
  details["max_words"] = baseline.max_words;
  details["bigrams"] = baseline.use_bigrams;
  details["power"] = (*meter)->Describe();
  if (vm.count("out")) {
    nlohmann::json out = details;
    out["task"] = split->provenance;
    out["joules"] = joules;
    out["grams_co2e"] = energy.grams_co2e;
    Status written = WriteFileAtomic(vm["out"].as<std::string>(), out.dump(2) + "\n");
    if (!written.ok()) return ReportError("baseline", written);
  }
  if (store != nullptr) {
    Status recorded = RecordBaseline(*store, *task, *split, *result, details, joules, energy.grams_co2e);
    if (!recorded.ok()) return ReportError("baseline", recorded);
  }
  return 0;
}

}  // namespace cs
