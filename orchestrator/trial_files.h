// Reading what a trial left in its work dir (trials/protocol.h names the
// files): the event lines of events.log, for `resume` after the orchestrator
// died between a trial's event and its store write, and the events a trial
// prints while it runs. Pure functions, any thread.
//
// Everything here is untrusted input: a trial process (or, on a cluster,
// anyone who can write the shared directory) writes these files and lines.
// Every field is checked for type and range before it is used, and a bad
// line is skipped with a warning, never a crash or an unbounded allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "store/sweep_store.h"

namespace cs {

// The most events.log the orchestrator reads (a trial writes a few KB).
constexpr size_t kMaxTrialEventsFileBytes = size_t{64} << 20;
// An event line longer than this is not read (the trial's are under 1 KB).
constexpr size_t kMaxTrialEventLineBytes = size_t{64} << 10;
// No trial has more epochs than this, whatever its parameters say.
constexpr int kMaxTrialEpochs = 100000;

struct TrialFileEvents {
  std::vector<nlohmann::json> epochs;      // every valid epoch event, the last one per epoch number, by epoch.
  std::optional<nlohmann::json> last_end;  // the end event of the last attempt, if it printed one.
  std::vector<std::string> warnings;       // "events.log:7: epoch: 0 is outside [1, 3]", one per skipped line.
};

// Parses <work_dir>/events.log of a trial of at most `max_epoch` epochs; a
// missing file gives no events; lines that are not events (or a torn last
// line) are skipped silently, events with bad fields with a warning.
TrialFileEvents ReadTrialEvents(const std::string& work_dir, int max_epoch);
TrialFileEvents ParseTrialEventsText(const std::string& text, int max_epoch);

// The metric a sweep ranks by unless `run --metric` names another.
constexpr const char* kDefaultMetric = "val_accuracy";

// The store row for one "epoch" event, checked: an integer epoch in
// [1, max_epoch], val_accuracy (when present) in [0, 1], the sweep's
// `metric` (when present) a finite number in [-1e12, 1e12], finite
// non-negative losses, seconds, steps and examples. Missing losses, seconds,
// steps and examples are 0; a missing accuracy or metric is unset (a user's
// job may report neither). InvalidArgument names the field and value.
Result<EpochRecord> EpochRecordFromEvent(int64_t trial_id, const nlohmann::json& event, int max_epoch,
                                         double now_unix, const std::string& metric);

// Copies the metrics of an "end" event (whose "state" must be a string) into `outcome`, checked like an epoch
// event (best_epoch in [0, max_epoch], 0 before any epoch; accuracies in [0, 1]; the sweep's `metric` into
// outcome->metric); on a bad field nothing is copied and InvalidArgument names it.
Status FillOutcomeFromEndEvent(const nlohmann::json& end, int max_epoch, const std::string& metric,
                               TrialOutcome* outcome);

// True when `event` carries `metric` as a number (checked or not).
bool HasMetric(const nlohmann::json& event, const std::string& metric);

// The epochs a trial with these stored params runs: params.epochs when it is
// an integer in [1, kMaxTrialEpochs], else kMaxTrialEpochs (the bound on
// anything read back about it).
int TrialEpochBound(const nlohmann::json& params);

}  // namespace cs
