#include "orchestrator/trial_files.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "common/files.h"
#include "common/text.h"
#include "trials/protocol.h"

namespace cs {

namespace {

// Whole counts a trial may report (steps, examples): far above any real run,
// far below where a double stops holding integers exactly.
constexpr double kMaxCount = 1e15;
// Seconds a trial may report: about 30 years.
constexpr double kMaxSeconds = 1e9;
// A user's metric may be any finite number; this bound keeps sums, medians
// and differences of metrics finite.
constexpr double kMaxMetric = 1e12;

std::string Shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', /*ensure_ascii=*/true);
  return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

// A number field in [low, high]; `fallback` when the field is absent (or
// null, which is how a NaN is written). Never casts before checking.
Result<double> NumberField(const nlohmann::json& event, const char* key, double low, double high,
                           std::optional<double> fallback) {
  auto it = event.find(key);
  if (it == event.end() || it->is_null()) {
    if (fallback) return *fallback;
    return Status::InvalidArgument(std::string(key) + ": missing");
  }
  if (!it->is_number()) return Status::InvalidArgument(std::string(key) + ": " + Shown(*it) + " is not a number");
  const double value = it->get<double>();
  if (!std::isfinite(value) || value < low || value > high) {
    return Status::InvalidArgument(std::string(key) + ": " + Shown(*it) + " is outside [" + FormatNumber(low) +
                                   ", " + FormatNumber(high) + "]");
  }
  return value;
}

// What an epoch or end event says of the metrics: the accuracies (in [0, 1]
// when present) and the sweep's metric (any finite number; the same value
// as val_accuracy when that is the metric). Absent or null: unset.
struct Metrics {
  std::optional<double> val_accuracy;
  std::optional<double> test_accuracy;
  std::optional<double> metric;
};

Result<std::optional<double>> OptionalNumberField(const nlohmann::json& event, const char* key, double low,
                                                  double high) {
  auto it = event.find(key);
  if (it == event.end() || it->is_null()) return std::optional<double>();
  Result<double> value = NumberField(event, key, low, high, std::nullopt);
  if (!value.ok()) return value.status();
  return std::optional<double>(*value);
}

Result<Metrics> MetricsOf(const nlohmann::json& event, const std::string& metric) {
  Metrics metrics;
  Result<std::optional<double>> val = OptionalNumberField(event, "val_accuracy", 0, 1);
  if (!val.ok()) return val.status();
  Result<std::optional<double>> test = OptionalNumberField(event, "test_accuracy", 0, 1);
  if (!test.ok()) return test.status();
  Result<std::optional<double>> value = OptionalNumberField(event, metric.c_str(), -kMaxMetric, kMaxMetric);
  if (!value.ok()) return value.status();
  metrics.val_accuracy = *val;
  metrics.test_accuracy = *test;
  metrics.metric = *value;
  return metrics;
}

Result<int> EpochField(const nlohmann::json& event, const char* key, int min_epoch, int max_epoch) {
  auto value = NumberField(event, key, min_epoch, max_epoch, std::nullopt);
  if (!value.ok()) return value.status();
  if (*value != std::floor(*value)) return Status::InvalidArgument(std::string(key) + ": " + Shown(event[key]) + " is not a whole number");
  return static_cast<int>(*value);
}

}  // namespace

TrialFileEvents ParseTrialEventsText(const std::string& text, int max_epoch) {
  TrialFileEvents events;
  std::map<int, nlohmann::json> by_epoch;
  size_t line_start = 0;
  int line_number = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    ++line_number;
    const size_t length = line_end - line_start;
    const size_t start = line_start;
    line_start = line_end + 1;
    if (length > kMaxTrialEventLineBytes) {
      events.warnings.push_back("events.log:" + std::to_string(line_number) + ": a line of " +
                                std::to_string(length) + " bytes (the limit is " +
                                std::to_string(kMaxTrialEventLineBytes) + ")");
      continue;
    }
    std::optional<nlohmann::json> event = ParseTrialEvent(text.substr(start, length));
    if (!event) continue;
    const std::string& kind = (*event)["event"].get_ref<const std::string&>();  // ParseTrialEvent checked it.
    if (kind == "start") {
      events.last_end.reset();  // a new attempt: an earlier end no longer says how this one ended.
    } else if (kind == "epoch") {
      Result<EpochRecord> checked = EpochRecordFromEvent(0, *event, max_epoch, 0, kDefaultMetric);
      if (!checked.ok()) {
        events.warnings.push_back("events.log:" + std::to_string(line_number) + ": " + checked.status().message());
        continue;
      }
      by_epoch[checked->epoch] = std::move(*event);
    } else if (kind == "end") {
      TrialOutcome ignored;
      Status status = FillOutcomeFromEndEvent(*event, max_epoch, kDefaultMetric, &ignored);
      if (!status.ok()) {
        events.warnings.push_back("events.log:" + std::to_string(line_number) + ": " + status.message());
        continue;
      }
      events.last_end = std::move(*event);
    }
  }
  for (auto& [epoch, event] : by_epoch) events.epochs.push_back(std::move(event));
  return events;
}

TrialFileEvents ReadTrialEvents(const std::string& work_dir, int max_epoch) {
  const std::string path = work_dir + "/" + kTrialEventsFile;
  auto text = ReadFileUpTo(path, kMaxTrialEventsFileBytes);
  if (!text.ok()) {
    TrialFileEvents none;
    if (text.status().code() != Status::Code::kNotFound) none.warnings.push_back(text.status().message());
    return none;
  }
  return ParseTrialEventsText(*text, max_epoch);
}

Result<EpochRecord> EpochRecordFromEvent(int64_t trial_id, const nlohmann::json& event, int max_epoch,
                                         double now_unix, const std::string& metric) {
  if (!event.is_object()) return Status::InvalidArgument("an epoch event is not an object");
  EpochRecord record;
  record.trial_id = trial_id;
  record.recorded_at_unix = now_unix;
  Result<int> epoch = EpochField(event, "epoch", 1, max_epoch);
  if (!epoch.ok()) return epoch.status();
  record.epoch = *epoch;
  struct Field {
    const char* key;
    double high;
    double fallback;
    double* into;
  };
  double steps = 0, examples = 0;
  for (const Field& field : {Field{"train_loss", 1e6, 0.0, &record.train_loss},
                             Field{"val_loss", 1e6, 0.0, &record.val_loss},
                             Field{"seconds", kMaxSeconds, 0.0, &record.seconds},
                             Field{"steps", kMaxCount, 0.0, &steps},
                             Field{"examples", kMaxCount, 0.0, &examples}}) {
    Result<double> value = NumberField(event, field.key, 0, field.high, field.fallback);
    if (!value.ok()) return value.status();
    *field.into = *value;
  }
  record.steps = static_cast<int64_t>(steps);
  record.examples = static_cast<int64_t>(examples);
  Result<Metrics> metrics = MetricsOf(event, metric);
  if (!metrics.ok()) return metrics.status();
  record.val_accuracy = metrics->val_accuracy;
  record.metric = metrics->metric;
  return record;
}

Status FillOutcomeFromEndEvent(const nlohmann::json& end, int max_epoch, const std::string& metric,
                               TrialOutcome* outcome) {
  if (!end.is_object()) return Status::InvalidArgument("an end event is not an object");
  if (!end.contains("state") || !end["state"].is_string()) return Status::InvalidArgument("state: not a string");
  TrialOutcome checked = *outcome;
  if (end.contains("best_epoch") && !end["best_epoch"].is_null()) {
    Result<int> best = EpochField(end, "best_epoch", 0, max_epoch);  // 0: ended before its first epoch.
    if (!best.ok()) return best.status();
    checked.best_epoch = *best;
  }
  Result<Metrics> metrics = MetricsOf(end, metric);
  if (!metrics.ok()) return metrics.status();
  checked.val_accuracy = metrics->val_accuracy;
  checked.test_accuracy = metrics->test_accuracy;
  checked.metric = metrics->metric;
  Result<double> seconds = NumberField(end, "seconds", 0, kMaxSeconds, checked.seconds);
  Result<double> steps = NumberField(end, "steps", 0, kMaxCount, static_cast<double>(checked.steps));
  Result<double> examples = NumberField(end, "examples", 0, kMaxCount, static_cast<double>(checked.examples));
  for (const Status& status : {seconds.status(), steps.status(), examples.status()}) {
    if (!status.ok()) return status;
  }
  checked.seconds = *seconds;
  checked.steps = static_cast<int64_t>(*steps);
  checked.examples = static_cast<int64_t>(*examples);
  *outcome = std::move(checked);
  return Status::Ok();
}

bool HasMetric(const nlohmann::json& event, const std::string& metric) {
  if (!event.is_object()) return false;
  auto it = event.find(metric);
  return it != event.end() && it->is_number();
}

int TrialEpochBound(const nlohmann::json& params) {
  if (!params.is_object()) return kMaxTrialEpochs;
  auto it = params.find("epochs");
  if (it == params.end() || !it->is_number_integer()) return kMaxTrialEpochs;
  const int64_t epochs = it->get<int64_t>();
  return epochs >= 1 && epochs <= kMaxTrialEpochs ? static_cast<int>(epochs) : kMaxTrialEpochs;
}

}  // namespace cs
