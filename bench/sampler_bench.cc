// sampler_bench: the power sampler's own CPU time as a share of a busy
// trial's CPU time, at 1 Hz and 10 Hz, side by side with the sampler off.
//
// A child (this binary exec'd with --burn) burns a fixed amount of CPU (the
// "trial"); the parent does nothing
// but run the sampler thread (tracking the child) and wait, so the parent's
// own CPU time (getrusage RUSAGE_SELF) is the sampler's cost. Each setting
// runs `--repeats` times; medians are printed.
//
//   sampler_bench [--trial-cpu-seconds 5] [--repeats 3]
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "carbon/intensity.h"
#include "carbon/power_source.h"
#include "carbon/sampler.h"

namespace {

double CpuSeconds(const rusage& usage) {
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

double WallSeconds() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

// Spins until this process has used `cpu_seconds` of CPU.
void Burn(double cpu_seconds) {
  timespec used{};
  volatile double sink = 0;
  do {
    for (int i = 0; i < 100000; ++i) sink = sink + i * 0.5;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used);
  } while (used.tv_sec + used.tv_nsec / 1e9 < cpu_seconds);
}

// The trial: this binary exec'd again with --burn, as the orchestrator
// execs a trial (so the parent pays no copy-on-write faults a bare fork would).
pid_t StartBusyChild(double cpu_seconds) {
  std::string seconds = std::to_string(cpu_seconds);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", "sampler_bench", "--burn", seconds.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

struct Run {
  double sampler_cpu_seconds;  // the parent's CPU time while the child ran.
  double trial_cpu_seconds;    // the child's, from wait4.
  double wall_seconds;
  size_t samples;
};

// hz == 0: the sampler off.
Run RunOnce(double hz, double trial_cpu_seconds) {
  std::unique_ptr<cs::PowerSampler> sampler;
  if (hz > 0) {
    auto setup = cs::DetectPowerSources(cs::MeterOptions{});
    if (!setup.ok()) {
      std::fprintf(stderr, "sampler_bench: %s\n", setup.status().message().c_str());
      std::exit(1);
    }
    cs::SamplerOptions options;
    options.interval_seconds = 1.0 / hz;
    sampler = std::make_unique<cs::PowerSampler>(std::move(*setup), *cs::MakeIntensityProvider({}), options);
    sampler->Start();
  }
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  double wall_start = WallSeconds();
  pid_t child = StartBusyChild(trial_cpu_seconds);
  if (sampler) sampler->Track(1, child, {});
  int status = 0;
  rusage child_usage{};
  wait4(child, &status, 0, &child_usage);
  if (sampler) sampler->Untrack(1, CpuSeconds(child_usage));
  double wall = WallSeconds() - wall_start;
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  size_t samples = 0;
  if (sampler) {
    sampler->Stop();
    samples = sampler->TakeSamples().size();
  }
  return {CpuSeconds(after) - CpuSeconds(before), CpuSeconds(child_usage), wall, samples};
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && !std::strcmp(argv[1], "--burn")) {
    Burn(std::atof(argv[2]));
    return 0;
  }
  double trial_cpu_seconds = 5;
  int repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--trial-cpu-seconds")) trial_cpu_seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
  }
  std::printf("trial: a child burning %.1f CPU s; %d repeat(s) per setting, medians\n", trial_cpu_seconds, repeats);
  std::printf("%-12s %14s %12s %10s %9s %12s\n", "sampler", "sampler CPU s", "trial CPU s", "share", "wall s",
              "samples");
  double off_cpu = 0;
  for (double hz : {0.0, 1.0, 10.0}) {
    std::vector<double> sampler_cpu, trial_cpu, wall, samples;
    for (int r = 0; r < repeats; ++r) {
      Run run = RunOnce(hz, trial_cpu_seconds);
      sampler_cpu.push_back(run.sampler_cpu_seconds);
      trial_cpu.push_back(run.trial_cpu_seconds);
      wall.push_back(run.wall_seconds);
      samples.push_back(static_cast<double>(run.samples));
    }
    double own = Median(sampler_cpu);
    if (hz == 0) off_cpu = own;
    double share = (own - off_cpu) / Median(trial_cpu);
    char label[16];
    std::snprintf(label, sizeof(label), hz == 0 ? "off" : "%.0f Hz", hz);
    std::printf("%-12s %14.6f %12.3f %9.4f%% %9.3f %12.0f\n", label, own, Median(trial_cpu), 100 * share,
                Median(wall), Median(samples));
  }
  std::printf("share = (parent CPU with the sampler - parent CPU with it off) / trial CPU\n");
  return 0;
}
