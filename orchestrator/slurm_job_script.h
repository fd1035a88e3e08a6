// What the Slurm launcher (slurm_launcher.h) submits for a trial: the job
// name, the sbatch arguments and the job script <work_dir>/slurm-job.sh.
// Pure functions of the launcher's options and the LaunchRequest (the
// store's config), rebuilt at every submission and never read back from the
// shared work dir. Only the launcher calls them; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "orchestrator/launcher.h"
#include "orchestrator/slurm_launcher.h"

namespace cs {

// "<prefix>-trial-<trial id>": how squeue finds a trial's jobs.
std::string SlurmJobName(const std::string& prefix, int64_t trial_id);

// The sbatch arguments for `request` (job name, output and error files in
// its work dir, CPUs, the --slurm-* settings); InvalidArgument naming a
// value that holds a control character, or unparsable --slurm-extra.
Result<std::vector<std::string>> SlurmSbatchArgs(const SlurmLauncherOptions& options, const LaunchRequest& request);

// The job script: one exec of `binary` with the trial's arguments, so
// scancel's signals reach the trial itself; a comment records
// `sbatch_args`. InvalidArgument naming the binary's path or an argument
// that holds a control character.
Result<std::string> SlurmJobScript(const SlurmLauncherOptions& options, const std::string& binary,
                                   const LaunchRequest& request, const std::vector<std::string>& sbatch_args);

}  // namespace cs
