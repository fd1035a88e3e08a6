// Reading what a trial left in its work dir (trials/protocol.h names the
// files): the event lines of events.log, for `resume` after the orchestrator
// died between a trial's event and its store write, and (later) for Slurm
// workers whose only channel is the shared directory. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/sweep_store.h"

namespace cs {

struct TrialFileEvents {
  std::vector<nlohmann::json> epochs;      // every epoch event, the last one per epoch number, by epoch.
  std::optional<nlohmann::json> last_end;  // the end event of the last attempt, if it printed one.
};

// Parses <work_dir>/events.log; a missing file gives no events; lines that
// are not events (or a torn last line) are skipped.
TrialFileEvents ReadTrialEvents(const std::string& work_dir);
TrialFileEvents ParseTrialEventsText(const std::string& text);

// The store row for one "epoch" event; missing fields are 0.
EpochRecord EpochRecordFromEvent(int64_t trial_id, const nlohmann::json& event, double now_unix);

}  // namespace cs
