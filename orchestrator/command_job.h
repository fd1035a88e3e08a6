// RunCommandJob: what `carbonsweep job` does on a Slurm compute node for a
// trial that runs the user's own command (`run --command ... --launcher
// slurm`). The orchestrator on the head node sees such a job only through
// its work dir on the shared filesystem, as it sees `carbonsweep trial
// --meter-self`; so this process, wrapped around the command:
//
//   - runs it in a process group of its own, stdin from /dev/null;
//   - copies each `@cs` event line it prints (trials/protocol.h) to
//     <work_dir>/events.log, one write per line, and passes everything it
//     prints on to this process's stdout (the job's slurm-<id>.out);
//   - meters the whole group (CPU time of every descendant while it runs,
//     the GPUs of CUDA_VISIBLE_DEVICES) into <work_dir>/energy.log
//     (slurm_energy.h);
//   - passes SIGTERM, SIGINT and SIGHUP (scancel, a requeue) on to the group;
//   - when the command exits, ends what is left of its group (SIGTERM, then
//     SIGKILL after `grace_seconds`) and exits as the command did: its code,
//     or 128 + the signal that ended it.
//
// Called once per process from the `job` command; it installs no handler
// that outlives it (the signals are blocked and read through a signalfd).
#pragma once

#include <string>
#include <vector>

#include "carbon/power_source.h"
#include "common/status.h"

namespace cs {

struct CommandJobOptions {
  std::string work_dir;               // the trial's work dir: must exist.
  std::vector<std::string> argv;      // the command; argv[0] a path, or a name looked up in $PATH.
  MeterOptions meter;                 // how this node is metered.
  double sample_interval_seconds = 1; // one energy.log batch per interval.
  double grace_seconds = 5;           // leftover processes: SIGTERM, then SIGKILL after this.
};

// The exit code the job should end with. An error before the command ran
// (no work dir, a meter that cannot start, a failed fork) is a Status; a
// command that cannot be executed ends with 127, as in a shell.
Result<int> RunCommandJob(const CommandJobOptions& options);

}  // namespace cs
