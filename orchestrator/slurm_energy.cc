#include "orchestrator/slurm_energy.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/json.h"

namespace cs {

namespace {

// The worker's sampler needs an intensity to construct; grams are computed by
// the orchestrator, so the worker's own grams are always 0.
class NoIntensity : public IntensityProvider {
 public:
  double GramsPerKwhAt(double) const override { return 0; }
  nlohmann::json Describe() const override {
    return {{"kind", "none"}, {"notes", {"grams are computed by the orchestrator from energy.log"}}};
  }
};

}  // namespace

nlohmann::json EnergyRecordFromSample(const EnergySample& sample) {
  return {{"unix_seconds", sample.unix_seconds},
          {"interval_seconds", sample.interval_seconds},
          {"component", ComponentName(sample.component)},
          {"method", EnergyMethodName(sample.method)},
          {"joules", sample.joules},
          {"watts", sample.watts}};
}

std::optional<nlohmann::json> EnergyEventFromLine(const std::string& line) {
  nlohmann::json record = ParseJsonOrDiscarded(line);
  if (!record.is_object()) return std::nullopt;
  // The worker's file is not trusted: a number that is infinite (1e999
  // parses so), negative or absurd would be charged to the budget as grams.
  for (const char* field : {"unix_seconds", "interval_seconds", "joules"}) {
    if (!record.contains(field) || !record[field].is_number()) return std::nullopt;
    const double value = record[field].get<double>();
    if (!std::isfinite(value) || value < 0) return std::nullopt;
  }
  if (!(record["unix_seconds"].get<double>() > 0)) return std::nullopt;
  for (const char* field : {"component", "method"}) {
    if (!record.contains(field) || !record[field].is_string()) return std::nullopt;
  }
  record["event"] = kEnergyEventName;
  return record;
}

Result<MeterReading> MeterReadingFromEnergyEvent(const nlohmann::json& event, int64_t trial_id) {
  auto number = [&](const char* field) -> Result<double> {
    if (!event.contains(field) || !event[field].is_number()) {
      return Status::InvalidArgument(std::string(kTrialEnergyFile) + ": trial " + std::to_string(trial_id) +
                                     ": field '" + field + "' is missing or not a number");
    }
    return event[field].get<double>();
  };
  auto text = [&](const char* field) -> Result<std::string> {
    if (!event.contains(field) || !event[field].is_string() || event[field].get<std::string>().empty()) {
      return Status::InvalidArgument(std::string(kTrialEnergyFile) + ": trial " + std::to_string(trial_id) +
                                     ": field '" + field + "' is missing or not a name");
    }
    return event[field].get<std::string>();
  };
  auto unix_seconds = number("unix_seconds");
  if (!unix_seconds.ok()) return unix_seconds.status();
  auto interval = number("interval_seconds");
  if (!interval.ok()) return interval.status();
  auto joules = number("joules");
  if (!joules.ok()) return joules.status();
  auto component = text("component");
  if (!component.ok()) return component.status();
  auto method = text("method");
  if (!method.ok()) return method.status();
  if (!std::isfinite(*unix_seconds) || !std::isfinite(*joules) || !std::isfinite(*interval) || *joules < 0 ||
      *interval < 0) {
    return Status::InvalidArgument(std::string(kTrialEnergyFile) + ": trial " + std::to_string(trial_id) +
                                   ": joules and interval must be finite and non-negative");
  }
  MeterReading reading;
  reading.trial_id = trial_id;
  reading.end_unix_seconds = *unix_seconds;
  reading.interval_seconds = *interval;
  reading.component = *component;
  reading.method = *method;
  reading.meter_joules = *joules;
  return reading;
}

Result<std::unique_ptr<SelfMeterLog>> SelfMeterLog::Start(const std::string& work_dir, const MeterOptions& options,
                                                          double interval_seconds) {
  return StartFor(work_dir, options, interval_seconds, /*leader=*/0);
}

Result<std::unique_ptr<SelfMeterLog>> SelfMeterLog::StartForGroup(const std::string& work_dir,
                                                                  const MeterOptions& options,
                                                                  double interval_seconds, pid_t leader) {
  if (leader <= 0) return Status::InvalidArgument("no process group to meter");
  return StartFor(work_dir, options, interval_seconds, leader);
}

Result<std::unique_ptr<SelfMeterLog>> SelfMeterLog::StartFor(const std::string& work_dir, const MeterOptions& options,
                                                             double interval_seconds, pid_t leader) {
  if (!(interval_seconds > 0)) return Status::InvalidArgument("--sample-interval must be > 0");
  auto setup = DetectPowerSources(options);
  if (!setup.ok()) return setup.status();
  SamplerOptions sampler_options;
  sampler_options.interval_seconds = interval_seconds;
  auto sampler = std::make_unique<PowerSampler>(std::move(*setup), std::make_shared<NoIntensity>(), sampler_options);
  CS_RETURN_IF_ERROR(leader > 0 ? sampler->MeterGroup(/*trial_id=*/0, leader) : sampler->MeterSelf(/*trial_id=*/0));
  std::unique_ptr<SelfMeterLog> log(
      new SelfMeterLog(work_dir + "/" + kTrialEnergyFile, std::move(sampler), interval_seconds));
  log->sampler_->Start();
  log->thread_ = std::thread([raw = log.get()] { raw->Loop(); });
  return log;
}

SelfMeterLog::SelfMeterLog(std::string path, std::unique_ptr<PowerSampler> sampler, double interval_seconds)
    : path_(std::move(path)), sampler_(std::move(sampler)), interval_seconds_(interval_seconds) {}

SelfMeterLog::~SelfMeterLog() { Stop(); }

void SelfMeterLog::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::duration<double>(interval_seconds_), [this] { return stop_; });
    lock.unlock();
    Flush();
    lock.lock();
  }
}

void SelfMeterLog::Flush() {
  std::vector<EnergySample> samples = sampler_->TakeSamples();
  if (samples.empty()) return;
  std::string text;
  for (const EnergySample& sample : samples) {
    if (sample.trial_id < 0) continue;  // unattributed machine energy is not this trial's.
    text += EnergyRecordFromSample(sample).dump() + "\n";
  }
  if (text.empty()) return;
  std::lock_guard<std::mutex> lock(file_mu_);
  // One append + flush per batch: the orchestrator reads whole lines only.
  std::FILE* file = std::fopen(path_.c_str(), "a");
  bool ok = file != nullptr && std::fwrite(text.data(), 1, text.size(), file) == text.size();
  if (file != nullptr) ok = (std::fclose(file) == 0) && ok;
  if (!ok && write_status_.ok()) {
    write_status_ = Status::IoError(path_ + ": cannot append energy records: " + std::strerror(errno));
  }
}

Status SelfMeterLog::StopAfterExit(double final_cpu_seconds) {
  sampler_->Untrack(/*trial_id=*/0, final_cpu_seconds);
  return Stop();
}

Status SelfMeterLog::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) {
      std::lock_guard<std::mutex> file_lock(file_mu_);
      return write_status_;
    }
    stopped_ = true;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  sampler_->Stop();  // the last reading.
  Flush();
  std::lock_guard<std::mutex> lock(file_mu_);
  return write_status_;
}

}  // namespace cs
