// Helpers for the end-to-end suites: run the real `carbonsweep` binary (in
// the foreground or as a child to signal), and read what it stored.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/sweep_store.h"

namespace cs::testing {

// The flags of a small, fast sweep on the `fortunes` task (a few seconds per
// trial on 2 cores), from scratch with a letter vocab written into `dir`;
// without --name/--db.
std::vector<std::string> SmallSweepFlags(const std::string& dir);

// `a` followed by `b`: command lines built from parts.
std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b);

// The store (read-only) and the id of `sweep_name` in it.
std::pair<std::unique_ptr<SweepStore>, int64_t> OpenSweep(const std::string& db_path, const std::string& sweep_name);

// Runs `carbonsweep ARGS...` to its end; returns the exit code, fills output (stdout+stderr).
int RunCarbonsweep(const std::vector<std::string>& args, std::string* output);
// The text of a file, "" when it cannot be read (not written yet).
std::string FileTextOrEmpty(const std::string& path);

// Starts `carbonsweep ARGS...` as a child with output to `log_path`; returns its pid.
pid_t StartCarbonsweep(const std::vector<std::string>& args, const std::string& log_path);
// Waits for a child; returns its exit code, or 128 + signal.
int WaitForChild(pid_t pid);

// Whether the store at `db_path` exists and holds sweep `sweep_name`.
bool SweepExists(const std::string& db_path, const std::string& sweep_name);
// Reads a sweep's trials from a store (read-only).
std::vector<TrialRecord> StoredTrials(const std::string& db_path, const std::string& sweep_name);
SweepSummary StoredSummary(const std::string& db_path, const std::string& sweep_name);
// Joules of one component ("cpu", "ram", ...) over the whole sweep.
double ComponentJoules(const std::string& db_path, const std::string& sweep_name, const std::string& component);

// (params, val accuracy, test accuracy) of every finished trial, by index.
using TrialResultSet = std::map<int64_t, std::pair<std::string, std::pair<double, double>>>;
TrialResultSet FinishedResults(const std::vector<TrialRecord>& trials);

}  // namespace cs::testing
