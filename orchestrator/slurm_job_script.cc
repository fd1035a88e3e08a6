#include "orchestrator/slurm_job_script.h"

#include <algorithm>

#include "orchestrator/slurm_client.h"
#include "orchestrator/slurm_work_dir.h"

namespace cs {

namespace {

// A path as Slurm's --output/--error take it: '%' starts a pattern there.
std::string SlurmFilePattern(const std::string& path) {
  std::string pattern;
  for (char c : path) pattern += c == '%' ? std::string("%%") : std::string(1, c);
  return pattern;
}

}  // namespace

std::string SlurmJobName(const std::string& prefix, int64_t trial_id) {
  return prefix + "-trial-" + std::to_string(trial_id);
}

Result<std::vector<std::string>> SlurmSbatchArgs(const SlurmLauncherOptions& options, const LaunchRequest& request) {
  const std::string trial = "trial " + std::to_string(request.trial_id);
  CS_RETURN_IF_ERROR(RefuseControlCharacters(trial + ": work dir", request.work_dir));
  const std::pair<const char*, const std::string*> flags[] = {
      {"--slurm-partition", &options.partition}, {"--slurm-gres", &options.gres},
      {"--slurm-time", &options.time_limit},     {"--slurm-extra", &options.extra},
      {"job name prefix", &options.job_name_prefix}};
  for (const auto& [flag, value] : flags) CS_RETURN_IF_ERROR(RefuseControlCharacters(flag, *value));
  auto extra = SplitShellWords(options.extra);
  if (!extra.ok()) return extra.status().WithPrefix("--slurm-extra");
  std::vector<std::string> args;
  args.push_back("--job-name=" + SlurmJobName(options.job_name_prefix, request.trial_id));
  args.push_back("--output=" + SlurmFilePattern(request.work_dir) + "/slurm-%j.out");
  args.push_back("--error=" + SlurmFilePattern(request.work_dir) + "/" + kSlurmStderrFile);
  args.push_back("--open-mode=append");
  args.push_back("--cpus-per-task=" + std::to_string(std::max(1, request.threads)));
  args.push_back("--ntasks=1");
  if (!options.partition.empty()) args.push_back("--partition=" + options.partition);
  if (!options.gres.empty()) args.push_back("--gres=" + options.gres);
  if (!options.time_limit.empty()) args.push_back("--time=" + options.time_limit);
  args.insert(args.end(), extra->begin(), extra->end());
  return args;
}

Result<std::string> SlurmJobScript(const SlurmLauncherOptions& options, const std::string& binary,
                                   const LaunchRequest& request, const std::vector<std::string>& sbatch_args) {
  const std::string trial = "trial " + std::to_string(request.trial_id);
  CS_RETURN_IF_ERROR(RefuseControlCharacters(trial + ": the carbonsweep binary's path", binary));
  std::vector<std::string> trial_argv;
  std::string exports;
  if (request.command.empty()) {
    trial_argv = options.leading_args;
    trial_argv.insert(trial_argv.end(), request.args.begin(), request.args.end());
    trial_argv.insert(trial_argv.end(), options.trailing_args.begin(), options.trailing_args.end());
  } else {
    // A user's command: `carbonsweep job` runs and meters it (command_job.h),
    // with the trial's variables (CARBONSWEEP_PARAMS, ...) exported first.
    trial_argv = {"job", "--work-dir", request.work_dir};
    trial_argv.insert(trial_argv.end(), options.meter_args.begin(), options.meter_args.end());
    trial_argv.push_back("--");
    trial_argv.insert(trial_argv.end(), request.command.begin(), request.command.end());
    for (const std::string& entry : request.environment) {
      const size_t equals = entry.find('=');
      const std::string name = entry.substr(0, equals);
      const bool name_ok = equals != std::string::npos && equals > 0 &&
                           name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
                               std::string::npos;
      if (!name_ok) return Status::InvalidArgument(trial + ": environment entry '" + name + "' is not NAME=value");
      CS_RETURN_IF_ERROR(RefuseControlCharacters(trial + ": " + name, entry));
      exports += "export " + name + "=" + ShellQuote(entry.substr(equals + 1)) + "\n";
    }
  }
  // The script: one exec, so scancel's signals reach the trial itself.
  std::string command = "exec " + ShellQuote(binary);
  for (size_t i = 0; i < trial_argv.size(); ++i) {
    CS_RETURN_IF_ERROR(RefuseControlCharacters(trial + ": argument " + std::to_string(i + 1) + " of the trial",
                                               trial_argv[i]));
    command += " " + ShellQuote(trial_argv[i]);
  }
  std::string submitted_with = "sbatch";
  for (const std::string& arg : sbatch_args) submitted_with += " " + ShellQuote(arg);
  return "#!/bin/sh\n"
         "# carbonsweep trial " + std::to_string(request.trial_id) +
         ": written and submitted by the orchestrator's Slurm launcher with\n"
         "#   " + submitted_with + " " + kSlurmJobScriptFile + "\n"
         "# It runs on the compute node; its work dir is on the shared filesystem.\n" +
         exports + command + "\n";
}

}  // namespace cs
