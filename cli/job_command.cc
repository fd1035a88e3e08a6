// `carbonsweep job --work-dir DIR [--sample-interval S] [--cpu-watts W] -- COMMAND...`:
// what a Slurm job of a `run --command` sweep executes on its compute node
// (orchestrator/command_job.h). Users do not call it; the job script does.
#include <algorithm>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "carbon/power_source.h"
#include "carbon/sampler.h"
#include "cli/command.h"
#include "orchestrator/command_job.h"

namespace cs {

namespace po = boost::program_options;

int RunJobCommand(const std::vector<std::string>& args) {
  // Everything after "--" is the command, passed on untouched.
  auto separator = std::find(args.begin(), args.end(), "--");
  const std::vector<std::string> flags(args.begin(), separator);
  po::options_description options("job options");
  options.add_options()
      ("work-dir", po::value<std::string>()->required(), "the trial's work dir: events.log and energy.log go there")
      ("sample-interval", po::value<double>()->default_value(1.0), "seconds between energy samples")
      ("cpu-watts", po::value<double>()->default_value(-1), "the whole CPU at full load, in W (-1: the CPU-time model)");
  po::variables_map vm;
  int exit_code = 0;
  if (!ParseCommandLine("job", "--work-dir DIR [options] -- COMMAND [ARGS...]", options, nullptr, flags, &vm,
                        &exit_code)) {
    return exit_code;
  }
  if (separator == args.end() || separator + 1 == args.end()) {
    return ReportError("job", ExitCode::kBadInput, "no command: expected -- COMMAND [ARGS...]");
  }
  CommandJobOptions job;
  job.work_dir = vm["work-dir"].as<std::string>();
  job.argv.assign(separator + 1, args.end());
  job.sample_interval_seconds = vm["sample-interval"].as<double>();
  job.meter.cpu_watts = vm["cpu-watts"].as<double>();
  if (Status interval = CheckSampleInterval(job.sample_interval_seconds); !interval.ok()) {
    return ReportError("job", ExitCode::kBadInput, interval.message());
  }
  if (job.meter.cpu_watts != -1) {
    if (Status watts = CheckCpuWatts(job.meter.cpu_watts); !watts.ok()) {
      return ReportError("job", ExitCode::kBadInput, watts.message());
    }
  }
  Result<int> ended = RunCommandJob(job);
  if (!ended.ok()) return ReportError("job", ended.status());
  return *ended;
}

}  // namespace cs
