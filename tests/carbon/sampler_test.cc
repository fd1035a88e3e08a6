#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "carbon/energy_pricing.h"
#include "carbon/sampler.h"
#include "tests/carbon/carbon_test_util.h"

namespace cs {
namespace {

// CPU seconds the test sets by hand.
class FakeCpuTimeReader : public CpuTimeReader {
 public:
  Result<double> ProcessCpuSeconds(pid_t pid) override {
    auto it = process_.find(pid);
    if (it == process_.end()) return Status::NotFound("no process " + std::to_string(pid));
    return it->second;
  }
  Result<double> MachineBusyCpuSeconds() override { return machine_; }
  std::map<pid_t, double> process_;
  double machine_ = 0;
};

// A counter whose next read returns what the test queued.
class FakeCounter : public EnergyCounter {
 public:
  Result<std::vector<DeviceEnergy>> Read(double interval_seconds) override {
    std::vector<DeviceEnergy> next;
    next.swap(next_);
    return next;
  }
  nlohmann::json Describe() const override { return {{"method", "fake"}, {"devices", nlohmann::json::array()}}; }
  std::vector<DeviceEnergy> next_;
};

struct Rig {
  FakeClock clock;
  FakeCpuTimeReader* cpu = nullptr;
  FakeCounter* counter = nullptr;
  std::unique_ptr<PowerSampler> sampler;
};

// A sampler over fakes: with `with_counter`, a machine counter (RAPL-like)
// reads CPU and RAM; otherwise the CPU-time model at 10 W per thread, 2 W idle, 6 W RAM.
void MakeRig(Rig* rig, bool with_counter, IdleShare idle_share, double grams_per_kwh = 400, double pue = 1.0) {
  PowerSetup setup;
  setup.options.idle_share = idle_share;
  setup.options.pue = pue;
  auto cpu = std::make_unique<FakeCpuTimeReader>();
  rig->cpu = cpu.get();
  setup.cpu_time = std::move(cpu);
  auto counter = std::make_unique<FakeCounter>();
  rig->counter = counter.get();
  setup.counters.push_back(std::move(counter));
  setup.cpu_counted_by_counter = with_counter;
  setup.ram_counted_by_counter = with_counter;
  setup.cpu_model.method = EnergyMethod::kCpuTimeModel;
  setup.cpu_model.watts_per_thread = 10;
  setup.cpu_model.idle_watts = 2;
  setup.ram_model.method = EnergyMethod::kCpuTimeModel;
  setup.ram_model.watts = 6;
  RegionInfo region{"test", "test", "test", grams_per_kwh, 2024, "test"};
  auto intensity = std::make_shared<ConstantIntensity>(region, false);
  SamplerOptions options;
  options.clock = &rig->clock;
  rig->sampler = std::make_unique<PowerSampler>(std::move(setup), intensity, options);
  rig->sampler->SampleOnce();  // baseline
}

double Sum(const std::vector<EnergySample>& samples, int64_t trial_id, Component component) {
  double joules = 0;
  for (const EnergySample& sample : samples) {
    if (sample.trial_id == trial_id && sample.component == component) joules += sample.joules;
  }
  return joules;
}

}  // namespace

TEST_CASE("two concurrent trials split a machine counter by CPU-time share, never counting it twice") {
  Rig rig;
  MakeRig(&rig, /*with_counter=*/true, IdleShare::kExclude);
  rig.cpu->process_ = {{101, 0}, {102, 0}};
  rig.sampler->Track(1, 101, {});
  rig.sampler->Track(2, 102, {});
  rig.clock.Advance(1.0);
  rig.cpu->process_ = {{101, 0.75}, {102, 0.25}};
  rig.cpu->machine_ = 1.25;  // 0.25 s used by something else
  rig.counter->next_ = {{Component::kCpu, -1, EnergyMethod::kRapl, 100.0},
                        {Component::kRam, -1, EnergyMethod::kRapl, 10.0}};
  rig.sampler->SampleOnce();
  auto samples = rig.sampler->TakeSamples();
  CHECK(Sum(samples, 1, Component::kCpu) == doctest::Approx(60.0));  // 100 x 0.75 / 1.25
  CHECK(Sum(samples, 2, Component::kCpu) == doctest::Approx(20.0));
  CHECK(Sum(samples, 1, Component::kRam) == doctest::Approx(6.0));
  CHECK(Sum(samples, -1, Component::kCpu) == doctest::Approx(0.0));  // excluded, not emitted
  CHECK(rig.sampler->Describe()["unattributed_joules_dropped"]["cpu"] == doctest::Approx(20.0));
  for (const EnergySample& sample : samples) {
    CHECK(sample.method == EnergyMethod::kRapl);
    CHECK(sample.interval_seconds == doctest::Approx(1.0));
  }
  CHECK(rig.sampler->TakeSamples().empty());  // drained
}

// One trial (pid 101) uses 0.5 of the machine's 1.0 busy CPU second while the
// counter reads 40 J of CPU; returns the samples.
std::vector<EnergySample> HalfBusyInterval(IdleShare idle_share) {
  Rig rig;
  MakeRig(&rig, /*with_counter=*/true, idle_share);
  rig.cpu->process_ = {{101, 0}};
  rig.sampler->Track(1, 101, {});
  rig.clock.Advance(1.0);
  rig.cpu->process_ = {{101, 0.5}};
  rig.cpu->machine_ = 1.0;
  rig.counter->next_ = {{Component::kCpu, -1, EnergyMethod::kRapl, 40.0}};
  rig.sampler->SampleOnce();
  return rig.sampler->TakeSamples();
}

TEST_CASE("idle share: emitted as unattributed, or split among the trials") {
  auto emitted = HalfBusyInterval(IdleShare::kEmitUnattributed);
  CHECK(Sum(emitted, 1, Component::kCpu) == doctest::Approx(20.0));
  CHECK(Sum(emitted, -1, Component::kCpu) == doctest::Approx(20.0));
  auto split = HalfBusyInterval(IdleShare::kSplitAmongTrials);
  CHECK(Sum(split, 1, Component::kCpu) == doctest::Approx(40.0));
  CHECK(Sum(split, -1, Component::kCpu) == doctest::Approx(0.0));
  auto excluded = HalfBusyInterval(IdleShare::kExclude);
  CHECK(Sum(excluded, 1, Component::kCpu) == doctest::Approx(20.0));
  CHECK(Sum(excluded, -1, Component::kCpu) == doctest::Approx(0.0));
}

TEST_CASE("GPU energy goes to the trial that was given the device") {
  Rig rig;
  MakeRig(&rig, true, IdleShare::kEmitUnattributed);
  rig.cpu->process_ = {{101, 0}, {102, 0}};
  rig.sampler->Track(1, 101, {0});
  rig.sampler->Track(2, 102, {1});
  rig.clock.Advance(1.0);
  rig.counter->next_ = {{Component::kGpu, 0, EnergyMethod::kNvmlEnergy, 300.0},
                        {Component::kGpu, 1, EnergyMethod::kNvmlPower, 150.0},
                        {Component::kGpu, 2, EnergyMethod::kNvmlEnergy, 50.0}};
  rig.sampler->SampleOnce();
  auto samples = rig.sampler->TakeSamples();
  CHECK(Sum(samples, 1, Component::kGpu) == doctest::Approx(300.0));
  CHECK(Sum(samples, 2, Component::kGpu) == doctest::Approx(150.0));
  CHECK(Sum(samples, -1, Component::kGpu) == doctest::Approx(50.0));  // nobody's device
  for (const EnergySample& sample : samples) {
    if (sample.trial_id == 2) CHECK(sample.method == EnergyMethod::kNvmlPower);
  }
}

TEST_CASE("CPU-time model: joules = CPU seconds x watts per thread, RAM by share, idle by option") {
  Rig rig;
  MakeRig(&rig, /*with_counter=*/false, IdleShare::kEmitUnattributed);
  rig.cpu->process_ = {{101, 0}, {102, 0}};
  rig.sampler->Track(1, 101, {});
  rig.sampler->Track(2, 102, {});
  rig.clock.Advance(2.0);
  rig.cpu->process_ = {{101, 1.5}, {102, 0.5}};
  rig.cpu->machine_ = 2.0;
  rig.sampler->SampleOnce();
  auto samples = rig.sampler->TakeSamples();
  CHECK(Sum(samples, 1, Component::kCpu) == doctest::Approx(15.0));  // 1.5 s x 10 W
  CHECK(Sum(samples, 2, Component::kCpu) == doctest::Approx(5.0));
  CHECK(Sum(samples, -1, Component::kCpu) == doctest::Approx(4.0));  // 2 W idle x 2 s
  CHECK(Sum(samples, 1, Component::kRam) == doctest::Approx(9.0));   // 6 W x 2 s x 0.75
  CHECK(Sum(samples, 2, Component::kRam) == doctest::Approx(3.0));
  for (const EnergySample& sample : samples) CHECK(sample.method == EnergyMethod::kCpuTimeModel);
}

TEST_CASE("grams = joules x PUE x intensity / 3.6e6, watts = joules / interval") {
  Rig rig;
  MakeRig(&rig, false, IdleShare::kExclude, /*grams_per_kwh=*/400, /*pue=*/1.5);
  rig.cpu->process_ = {{101, 0}};
  rig.sampler->Track(7, 101, {});
  rig.clock.Advance(4.0);
  rig.cpu->process_ = {{101, 3.6}};  // 36 J
  rig.cpu->machine_ = 3.6;
  rig.sampler->SampleOnce();
  auto samples = rig.sampler->TakeSamples();
  const EnergySample* cpu = nullptr;
  for (const EnergySample& sample : samples) {
    if (sample.component == Component::kCpu) cpu = &sample;
  }
  REQUIRE(cpu);
  CHECK(cpu->joules == doctest::Approx(36.0));
  CHECK(cpu->watts == doctest::Approx(9.0));
  // The sampler prices nothing; the pricing of what it measured applies the PUE once.
  RegionInfo region;
  region.grams_per_kwh = 400;
  ConstantIntensity intensity(region, /*assumed=*/false);
  PricedEnergy priced = EnergyPricing(1.5, &intensity).Price(cpu->joules, cpu->interval_seconds, cpu->unix_seconds);
  CHECK(priced.grams_co2e == doctest::Approx(36.0 * 1.5 * 400 / 3.6e6));  // 0.006 g
  CHECK(priced.grams_co2e == doctest::Approx(0.006));
  CHECK(priced.joules == doctest::Approx(54.0));
  CHECK(priced.watts == doctest::Approx(13.5));
  CHECK(cpu->unix_seconds == doctest::Approx(rig.clock.NowUnixSeconds()));
}

TEST_CASE("Untrack takes a final reading with the CPU time from wait4") {
  Rig rig;
  MakeRig(&rig, false, IdleShare::kExclude);
  rig.cpu->process_ = {{101, 0}};
  rig.sampler->Track(1, 101, {});
  rig.clock.Advance(1.0);
  rig.cpu->process_ = {{101, 0.4}};
  rig.sampler->SampleOnce();
  rig.cpu->process_.clear();  // reaped: /proc no longer knows the pid
  rig.clock.Advance(0.5);
  rig.sampler->Untrack(1, /*final_cpu_seconds=*/0.9);
  CHECK(rig.sampler->TotalJoules(1, Component::kCpu) == doctest::Approx(9.0));
  rig.clock.Advance(1.0);
  rig.sampler->SampleOnce();
  CHECK(rig.sampler->TotalJoules(1, Component::kCpu) == doctest::Approx(9.0));  // no longer tracked
}

TEST_CASE("intensity is read at each sample's midpoint from a time series") {
  Rig rig;
  MakeRig(&rig, false, IdleShare::kExclude);
  // Rebuild the sampler with a series that changes at a known boundary.
  double start = rig.clock.NowUnixSeconds();
  std::string csv = "timestamp,gco2e_per_kwh\n" + std::to_string(static_cast<long long>(start)) + ",100\n" +
                    std::to_string(static_cast<long long>(start) + 10) + ",500\n";
  auto series = SeriesIntensity::Parse(csv, "series.csv");
  REQUIRE(series.ok());
  PowerSetup setup;
  auto cpu = std::make_unique<FakeCpuTimeReader>();
  FakeCpuTimeReader* cpu_time = cpu.get();
  setup.cpu_time = std::move(cpu);
  setup.cpu_model.watts_per_thread = 10;
  SamplerOptions options;
  options.clock = &rig.clock;
  std::shared_ptr<const IntensityProvider> series_intensity(std::move(*series));
  PowerSampler sampler(std::move(setup), series_intensity, options);
  sampler.SampleOnce();
  cpu_time->process_ = {{5, 0}};
  sampler.Track(1, 5, {});
  rig.clock.Advance(8.0);  // interval [start, start+8]: midpoint before the change
  cpu_time->process_ = {{5, 1.0}};
  sampler.SampleOnce();
  rig.clock.Advance(4.0);  // [start+8, start+12]: midpoint start+10, the boundary itself
  cpu_time->process_ = {{5, 2.0}};
  sampler.SampleOnce();
  auto samples = sampler.TakeSamples();
  REQUIRE(samples.size() == 2);
  EnergyPricing pricing(1.0, series_intensity.get());
  auto price = [&](const EnergySample& s) { return pricing.Price(s.joules, s.interval_seconds, s.unix_seconds); };
  CHECK(price(samples[0]).intensity_g_per_kwh == doctest::Approx(100));
  CHECK(price(samples[1]).intensity_g_per_kwh == doctest::Approx(500));
  CHECK(price(samples[1]).grams_co2e == doctest::Approx(10.0 * 500 / 3.6e6));
}

TEST_CASE("the CPU-time model meters a real child that burns known CPU time") {
  MeterOptions options;
  options.nvml_library = "";
  options.use_rapl = false;
  options.cpu_watts = 8;  // 8 W over this machine's threads
  auto setup = DetectPowerSources(options);
  REQUIRE(setup.ok());
  int threads = setup->machine.logical_threads;
  FakeClock clock;
  SamplerOptions sampler_options;
  sampler_options.clock = &clock;
  PowerSampler sampler(std::move(*setup), std::make_shared<ConstantIntensity>(WorldAverage(), true), sampler_options);
  sampler.SampleOnce();
  pid_t child = testing::StartBusyChild(0.4);
  sampler.Track(3, child, {});
  clock.Advance(0.2);
  sampler.SampleOnce();
  testing::WaitExitedNotReaped(child);
  double cpu_seconds = testing::ReapCpuSeconds(child);
  clock.Advance(0.3);
  sampler.Untrack(3, cpu_seconds);
  CHECK(cpu_seconds == doctest::Approx(0.4).epsilon(0.15));
  CHECK(sampler.TotalJoules(3, Component::kCpu) == doctest::Approx(cpu_seconds * 8.0 / threads).epsilon(0.01));
  nlohmann::json description = sampler.Describe();
  CHECK(description["components"]["cpu"]["method"] == "user-set");
  CHECK(description["intensity"]["assumed"] == true);
  // Kept with the sweep for codecarbon's `os` column, whatever host reports it.
  CHECK(description["machine"]["os"].get<std::string>().rfind("Linux-", 0) == 0);
}

// A <pid>/stat line as Linux writes it, with `seconds` of CPU split over
// utime, stime, cutime and cstime (in clock ticks).
std::string StatLine(pid_t pid, const std::string& command, pid_t pgrp, double seconds) {
  long ticks = std::lround(seconds * sysconf(_SC_CLK_TCK));
  long quarter = ticks / 4;
  return std::to_string(pid) + " (" + command + ") S 1 " + std::to_string(pgrp) + " " + std::to_string(pgrp) +
         " 0 -1 4194304 0 0 0 0 " + std::to_string(ticks - 3 * quarter) + " " + std::to_string(quarter) + " " +
         std::to_string(quarter) + " " + std::to_string(quarter) + " 20 0 1 0 100 0 0\n";
}

TEST_CASE("a trial's CPU time is its whole process group, and never goes down when a member vanishes") {
  testing::TempDir dir;
  std::string proc = dir.File("proc");
  // Trial 100 leads group 100: itself, a DataLoader worker and a shell child
  // (whose name has spaces and parentheses); 200 is another trial's group.
  testing::WriteTree(proc, {{"stat", "cpu 0 0 0 0 0 0 0 0\n"},
                            {"cpuinfo", "processor : 0\n"},
                            {"self/stat", StatLine(999, "carbonsweep", 999, 50)},
                            {"100/stat", StatLine(100, "python", 100, 1.0)},
                            {"101/stat", StatLine(101, "pt_data_worker", 100, 2.0)},
                            {"102/stat", StatLine(102, "sh (x) y", 100, 3.0)},
                            {"200/stat", StatLine(200, "python", 200, 4.0)},
                            {"300/stat", StatLine(300, "self-metered", 1, 0.5)}});
  auto reader = MakeProcCpuTimeReader(proc);
  auto seconds = reader->ProcessGroupCpuSeconds({100, 200, 300, 400});
  REQUIRE(seconds.size() == 4);
  CHECK(*seconds.at(100) == doctest::Approx(6.0));   // 1 + 2 + 3: only its group.
  CHECK(*seconds.at(200) == doctest::Approx(4.0));
  CHECK(*seconds.at(300) == doctest::Approx(0.5));   // leads no group: itself alone.
  CHECK(seconds.at(400).status().code() == Status::Code::kNotFound);
  CHECK(*reader->ProcessCpuSeconds(102) == doctest::Approx(3.0));  // one process, as before.

  // The sampler bills what the group used in each interval.
  PowerSetup setup;
  setup.cpu_time = std::move(reader);
  setup.cpu_model.watts_per_thread = 10;
  FakeClock clock;
  SamplerOptions options;
  options.clock = &clock;
  PowerSampler sampler(std::move(setup), std::make_shared<ConstantIntensity>(WorldAverage(), true), options);
  sampler.SampleOnce();
  sampler.Track(1, 100, {});
  sampler.Track(2, 200, {});
  clock.Advance(1.0);
  sampler.SampleOnce();
  CHECK(sampler.TotalJoules(1, Component::kCpu) == doctest::Approx(60.0));  // 6 s x 10 W
  CHECK(sampler.TotalJoules(2, Component::kCpu) == doctest::Approx(40.0));

  // The worker is reaped by init (outside the group): its 2 s leave the sum,
  // which drops to 4 s. Nothing is taken back, and only growth past the
  // 6 s mark is billed again.
  ::unlink((proc + "/101/stat").c_str());
  clock.Advance(1.0);
  sampler.SampleOnce();
  CHECK(sampler.TotalJoules(1, Component::kCpu) == doctest::Approx(60.0));
  testing::WriteTree(proc, {{"100/stat", StatLine(100, "python", 100, 4.0)}});  // sum 7 s.
  clock.Advance(1.0);
  sampler.SampleOnce();
  CHECK(sampler.TotalJoules(1, Component::kCpu) == doctest::Approx(70.0));
  for (const EnergySample& sample : sampler.TakeSamples()) CHECK(sample.cpu_seconds >= 0);
  CHECK(sampler.TotalJoules(2, Component::kCpu) == doctest::Approx(40.0));  // trial 2 never got trial 1's time.
}

TEST_CASE("the thread starts and stops, and readings keep coming at the interval") {
  MeterOptions options;
  options.nvml_library = "";
  auto setup = DetectPowerSources(options);
  REQUIRE(setup.ok());
  SamplerOptions sampler_options;
  sampler_options.interval_seconds = 0.01;
  PowerSampler sampler(std::move(*setup), std::make_shared<ConstantIntensity>(WorldAverage(), true), sampler_options);
  CHECK(sampler.MeterSelf(9).ok());
  sampler.Start();
  sampler.Start();  // idempotent
  pid_t child = testing::StartBusyChild(0.1);
  testing::ReapCpuSeconds(child);
  sampler.Stop();
  sampler.Stop();  // idempotent
  auto samples = sampler.TakeSamples();
  CHECK(!samples.empty());
  for (const EnergySample& sample : samples) CHECK(sample.trial_id == 9);
}

}  // namespace cs
