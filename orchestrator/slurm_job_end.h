// What a Slurm job's end means for its trial, from what squeue, scontrol and
// sacct said about it: whether the trial may continue in a new job, the one
// line that explains the end, the TrialExit the loop hears, and the energy
// Slurm accounted. Pure functions; only the Slurm launcher
// (slurm_launcher.h) calls them; any thread.
#pragma once

#include <optional>
#include <string>

#include "orchestrator/launcher.h"
#include "orchestrator/slurm_client.h"

namespace cs {

// Slurm ended the job without being asked (PREEMPTED, NODE_FAIL, BOOT_FAIL,
// CANCELLED by someone else): the trial can continue elsewhere.
bool EndedBehindOurBack(SlurmJobState state);

// "slurm: job 42 TIMEOUT (TimeLimit), time limit 00:10:00": the job the
// launcher followed, its state, the reason when there is one, the time limit
// of a timeout.
std::string SlurmEndReason(const std::string& job_id, const SlurmJobInfo& info);

// The exit Slurm reports: a signal, else an exit code it can vouch for, else
// kLost (timeout, node failure, purged job: the trial's own end event, if
// any, says more). stderr_tail is left empty.
TrialExit SlurmJobExit(const SlurmJobInfo& info);

// The joules in `sacct --format=ConsumedEnergyRaw` output: nullopt unless it
// is one finite positive number (0 means the cluster has no energy plugin).
std::optional<double> ParseConsumedEnergyJoules(const std::string& sacct_output);

}  // namespace cs
