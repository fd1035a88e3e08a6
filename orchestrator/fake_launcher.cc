#include "orchestrator/fake_launcher.h"

#include <algorithm>
#include <csignal>

#include "common/exit_codes.h"

namespace cs {

namespace {

FakeTrialStep EventAt(double seconds, nlohmann::json event) {
  FakeTrialStep step;
  step.after_seconds = seconds;
  step.event = std::move(event);
  return step;
}

FakeTrialStep ExitAt(double seconds, TrialExit exit) {
  FakeTrialStep step;
  step.after_seconds = seconds;
  step.kind = LauncherEvent::Kind::kExit;
  step.exit = std::move(exit);
  return step;
}

TrialExit ExitCode0() { return TrialExit{}; }

}  // namespace

FakeTrialScript MakeTrainingScript(const FakeTraining& training) {
  FakeTrialScript script;
  script.push_back(EventAt(0, {{"event", "start"}, {"resumed_from_epoch", training.first_epoch - 1}}));
  auto accuracy = [&](int epoch) {
    return epoch - 1 < static_cast<int>(training.val_accuracy.size()) ? training.val_accuracy[epoch - 1] : 0.5;
  };
  double t = training.startup_seconds;
  int best_epoch = 0;
  double best = -1;
  for (int epoch = 1; epoch < training.first_epoch; ++epoch) {
    if (accuracy(epoch) > best) best = accuracy(epoch), best_epoch = epoch;
  }
  auto end_event = [&](const char* state, int epoch) {
    return nlohmann::json{{"event", "end"},
                          {"state", state},
                          {"best_epoch", best_epoch},
                          {"val_accuracy", best},
                          {"test_accuracy", best - 0.01},
                          {"seconds", epoch * training.seconds_per_epoch},
                          {"steps", epoch * 10},
                          {"examples", epoch * training.examples_per_epoch}};
  };
  for (int epoch = training.first_epoch; epoch <= training.epochs; ++epoch) {
    t += training.seconds_per_epoch;
    if (accuracy(epoch) > best) best = accuracy(epoch), best_epoch = epoch;
    script.push_back(EventAt(t, {{"event", "epoch"},
                                 {"epoch", epoch},
                                 {"train_loss", 1.0 / epoch},
                                 {"val_loss", 1.0 - accuracy(epoch)},
                                 {"val_accuracy", accuracy(epoch)},
                                 {"seconds", epoch * training.seconds_per_epoch},
                                 {"steps", epoch * 10},
                                 {"examples", epoch * training.examples_per_epoch}}));
    if (training.crash_after_epoch == epoch) {
      TrialExit crash;
      crash.how = TrialExit::How::kSignaled;
      crash.signal = training.crash_signal;
      crash.stderr_tail = "fake trial: crashed after epoch " + std::to_string(epoch) + "\n";
      script.push_back(ExitAt(t + 0.1, crash));
      return script;
    }
    if (training.diverge) {
      script.push_back(EventAt(t + 0.05, end_event("diverged", epoch)));
      script.push_back(ExitAt(t + 0.1, ExitCode0()));
      return script;
    }
    if (training.stop_after_epoch == epoch && epoch < training.epochs) {
      script.push_back(EventAt(t + 0.05, end_event("paused", epoch)));
      script.push_back(ExitAt(t + 0.1, ExitCode0()));
      return script;
    }
  }
  script.push_back(EventAt(t + 0.05, end_event("finished", training.epochs)));
  script.push_back(ExitAt(t + 0.1, ExitCode0()));
  return script;
}

FakeLauncher::FakeLauncher(FakeClock* clock, ScriptFactory factory)
    : clock_(clock), factory_(std::move(factory)) {}

Result<LaunchedTrial> FakeLauncher::Start(const LaunchRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_.count(request.trial_id)) {
    return Status::Internal("trial " + std::to_string(request.trial_id) + " is already running");
  }
  Trial trial;
  trial.trial_id = request.trial_id;
  trial.pid = next_pid_++;
  trial.threads = std::max(1, request.threads);
  trial.started_at = clock_->MonotonicSeconds();
  trial.steps = factory_(request, ++attempts_[request.trial_id]);
  for (FakeTrialStep& step : trial.steps) step.after_seconds += trial.started_at;
  std::stable_sort(trial.steps.begin(), trial.steps.end(),
                   [](const FakeTrialStep& a, const FakeTrialStep& b) { return a.after_seconds < b.after_seconds; });
  started_.push_back(request);
  LaunchedTrial launched{request.trial_id, trial.pid, "fake:" + std::to_string(trial.pid)};
  running_[request.trial_id] = std::move(trial);
  max_concurrent_ = std::max<int>(max_concurrent_, static_cast<int>(running_.size()));
  return launched;
}

void FakeLauncher::Wait(double timeout_seconds, std::vector<LauncherEvent>* events) {
  std::lock_guard<std::mutex> lock(mu_);
  double now = clock_->MonotonicSeconds();
  double deadline = now + std::max(0.0, timeout_seconds);
  double earliest = deadline;
  for (const auto& [id, trial] : running_) {
    if (trial.next_step < trial.steps.size()) earliest = std::min(earliest, trial.steps[trial.next_step].after_seconds);
  }
  if (earliest > now) clock_->Advance(earliest - now);
  // The clock counts from a large Unix time, so it may land a rounding error
  // short of `earliest`: steps due by then count as due now.
  now = std::max(clock_->MonotonicSeconds(), earliest);
  for (auto it = running_.begin(); it != running_.end();) {
    Trial& trial = it->second;
    bool exited = false;
    while (trial.next_step < trial.steps.size() && trial.steps[trial.next_step].after_seconds <= now) {
      FakeTrialStep& step = trial.steps[trial.next_step++];
      LauncherEvent event;
      event.kind = step.kind;
      event.trial_id = trial.trial_id;
      if (step.kind == LauncherEvent::Kind::kEvent) {
        event.event = step.event;
        events->push_back(std::move(event));
        continue;
      }
      event.exit = step.exit;
      trial.ended_at = step.after_seconds;
      event.exit.cpu_seconds = trial.threads * (trial.ended_at - trial.started_at);
      exited_cpu_[trial.pid] = event.exit.cpu_seconds;
      events->push_back(std::move(event));
      exited = true;
      break;
    }
    it = exited ? running_.erase(it) : std::next(it);
  }
}

void FakeLauncher::Stop(int64_t trial_id, StopMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(trial_id);
  if (it == running_.end()) return;
  Trial& trial = it->second;
  double now = clock_->MonotonicSeconds();
  double at = mode == StopMode::kKill ? now : now + graceful_stop_seconds_;
  // Keep what the script would have done before the stop lands, unless it already ends by then.
  std::vector<FakeTrialStep> kept(trial.steps.begin(), trial.steps.begin() + trial.next_step);
  for (size_t i = trial.next_step; i < trial.steps.size(); ++i) {
    if (trial.steps[i].after_seconds > at) break;
    kept.push_back(trial.steps[i]);
    if (trial.steps[i].kind == LauncherEvent::Kind::kExit) {
      trial.steps = std::move(kept);
      return;
    }
  }
  TrialExit exit;
  if (mode == StopMode::kKill) {
    exit.how = TrialExit::How::kSignaled;
    exit.signal = SIGKILL;
  } else {
    exit.exit_code = static_cast<int>(ExitCode::kInterrupted);
    kept.push_back(EventAt(at, {{"event", "end"}, {"state", "interrupted"}}));
  }
  kept.push_back(ExitAt(at, exit));
  trial.steps = std::move(kept);
}

int FakeLauncher::Running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(running_.size());
}

double FakeLauncher::CpuSecondsOf(int pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto done = exited_cpu_.find(pid);
  if (done != exited_cpu_.end()) return done->second;
  for (const auto& [id, trial] : running_) {
    if (trial.pid == pid) return trial.threads * (clock_->MonotonicSeconds() - trial.started_at);
  }
  return 0;
}

double FakeLauncher::MachineBusySeconds() {
  std::lock_guard<std::mutex> lock(mu_);
  double busy = 0;
  for (const auto& [pid, cpu] : exited_cpu_) busy += cpu;
  for (const auto& [id, trial] : running_) busy += trial.threads * (clock_->MonotonicSeconds() - trial.started_at);
  return busy;
}

class FakeCpuTimeReader : public CpuTimeReader {
 public:
  explicit FakeCpuTimeReader(FakeLauncher* launcher) : launcher_(launcher) {}
  Result<double> ProcessCpuSeconds(pid_t pid) override { return launcher_->CpuSecondsOf(pid); }
  Result<double> MachineBusyCpuSeconds() override { return launcher_->MachineBusySeconds(); }

 private:
  FakeLauncher* launcher_;
};

std::unique_ptr<CpuTimeReader> FakeLauncher::MakeCpuTimeReader() {
  return std::make_unique<FakeCpuTimeReader>(this);
}

}  // namespace cs
