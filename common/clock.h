// Clock: the one way the sampler, the scheduler and the reports read time,
// so tests can script it (FakeClock) instead of sleeping.
// RealClock is thread-safe; FakeClock is thread-safe too (atomic time).
#pragma once

#include <atomic>
#include <cstdint>

namespace cs {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch (wall time: stored, shown, matched to intensity series).
  virtual double NowUnixSeconds() = 0;
  // Seconds from an arbitrary origin that never goes backwards (for intervals).
  virtual double MonotonicSeconds() = 0;
  // Blocks for `seconds` (a FakeClock advances instead).
  virtual void SleepFor(double seconds) = 0;
};

class RealClock : public Clock {
 public:
  double NowUnixSeconds() override;
  double MonotonicSeconds() override;
  void SleepFor(double seconds) override;
  // The process-wide instance.
  static RealClock* Get();
};

// Time that moves only when told to (Advance, SleepFor).
class FakeClock : public Clock {
 public:
  explicit FakeClock(double start_unix_seconds = 1.7e9) : now_(start_unix_seconds), start_(start_unix_seconds) {}
  double NowUnixSeconds() override { return now_.load(); }
  double MonotonicSeconds() override { return now_.load() - start_; }
  void SleepFor(double seconds) override { Advance(seconds); }
  void Advance(double seconds) {
    double current = now_.load();
    while (!now_.compare_exchange_weak(current, current + seconds)) {}
  }

 private:
  std::atomic<double> now_;
  const double start_;
};

}  // namespace cs
