#include "trials/protocol.h"

#include "common/json.h"

namespace cs {

const char* TrialEndStateName(TrialEndState state) {
  switch (state) {
    case TrialEndState::kFinished: return "finished";
    case TrialEndState::kDiverged: return "diverged";
    case TrialEndState::kPaused: return "paused";
    case TrialEndState::kInterrupted: return "interrupted";
  }
  return "unknown";
}

std::string FormatTrialEvent(const nlohmann::json& event) {
  return std::string(kTrialEventPrefix) + event.dump() + "\n";
}

std::optional<nlohmann::json> ParseTrialEvent(const std::string& line) {
  const std::string prefix = kTrialEventPrefix;
  if (line.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  nlohmann::json event = ParseJsonOrDiscarded(std::string_view(line).substr(prefix.size()));
  if (event.is_discarded() || !event.is_object()) return std::nullopt;
  auto kind = event.find("event");
  if (kind == event.end() || !kind->is_string()) return std::nullopt;
  return event;
}

}  // namespace cs
