#include "common/clock.h"

#include <chrono>
#include <thread>

namespace cs {

double RealClock::NowUnixSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

double RealClock::MonotonicSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

void RealClock::SleepFor(double seconds) {
  if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

RealClock* RealClock::Get() {
  static RealClock clock;
  return &clock;
}

}  // namespace cs
