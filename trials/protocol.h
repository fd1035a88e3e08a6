// The stable interface between an orchestrator and `carbonsweep trial`.
//
// A trial runs as a child process (locally or as a Slurm job). It reports on
// stdout with one event per line: the prefix "@cs " and one JSON object.
// Anything else on stdout/stderr is for humans and is ignored by parsers.
// No libtorch here: the orchestrator includes this header, the trial writes it.
//
//   @cs {"event":"start","params":{...},"task":{...},"resumed_from_epoch":0}
//   @cs {"event":"epoch","epoch":1,"train_loss":0.61,"val_loss":0.52,
//        "val_accuracy":0.74,"seconds":31.2,"steps":125,"examples":4000}
//   @cs {"event":"end","state":"finished","best_epoch":2,"val_accuracy":0.80,
//        "test_accuracy":0.79,"seconds":95.0,"steps":375,"examples":12000}
//
// "state" of the end event: TrialEndState names below. A trial killed by a
// signal prints no end event; its last epoch checkpoint stays usable and the
// same command line resumes it.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace cs {

constexpr const char* kTrialEventPrefix = "@cs ";

// How a trial process ended. Persisted by name in result files and the store.
enum class TrialEndState {
  kFinished,     // all epochs ran.
  kDiverged,     // a NaN/inf loss: ended early, metrics so far kept.
  kPaused,       // stopped after --stop-after-epoch K as asked; resumable.
  kInterrupted,  // SIGINT/SIGTERM: stopped at a step boundary; resumable from the last epoch.
};
const char* TrialEndStateName(TrialEndState state);

// Formats one event line (prefix + compact JSON + '\n').
std::string FormatTrialEvent(const nlohmann::json& event);
// The event object if `line` is an event line ("@cs {...}" with a string
// "event" field), else nullopt. The other fields are the reader's to check.
std::optional<nlohmann::json> ParseTrialEvent(const std::string& line);

// Files a trial keeps in its --work-dir (the orchestrator and Slurm workers
// agree on these names; the directory may be on a shared filesystem).
constexpr const char* kTrialCheckpointFile = "checkpoint.pt";  // model+optimizer+scheduler+RNG, last epoch
constexpr const char* kTrialResultFile = "result.json";        // written at the end (atomic)
constexpr const char* kTrialEventsFile = "events.log";         // the event lines, appended and flushed

}  // namespace cs
