#include "orchestrator/trial_files.h"

#include <map>
#include <sstream>

#include "common/files.h"
#include "trials/protocol.h"

namespace cs {

TrialFileEvents ParseTrialEventsText(const std::string& text) {
  TrialFileEvents events;
  std::map<int, nlohmann::json> by_epoch;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::optional<nlohmann::json> event = ParseTrialEvent(line);
    if (!event) continue;
    std::string kind = event->value("event", "");
    if (kind == "start") {
      events.last_end.reset();  // a new attempt: an earlier end no longer says how this one ended.
    } else if (kind == "epoch" && (*event)["epoch"].is_number_integer()) {
      by_epoch[(*event)["epoch"].get<int>()] = *event;
    } else if (kind == "end") {
      events.last_end = *event;
    }
  }
  for (auto& [epoch, event] : by_epoch) events.epochs.push_back(std::move(event));
  return events;
}

TrialFileEvents ReadTrialEvents(const std::string& work_dir) {
  auto text = ReadFile(work_dir + "/" + kTrialEventsFile);
  if (!text.ok()) return {};
  return ParseTrialEventsText(*text);
}

EpochRecord EpochRecordFromEvent(int64_t trial_id, const nlohmann::json& event, double now_unix) {
  EpochRecord record;
  record.trial_id = trial_id;
  auto number = [&](const char* key) {
    return event.contains(key) && event[key].is_number() ? event[key].get<double>() : 0.0;
  };
  record.epoch = static_cast<int>(number("epoch"));
  record.train_loss = number("train_loss");
  record.val_loss = number("val_loss");
  record.val_accuracy = number("val_accuracy");
  record.seconds = number("seconds");
  record.steps = static_cast<int64_t>(number("steps"));
  record.examples = static_cast<int64_t>(number("examples"));
  record.recorded_at_unix = now_unix;
  return record;
}

}  // namespace cs
