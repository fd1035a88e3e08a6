// The carbon flags that `run`, `estimate`, `baseline`, `pretrain` and `trial`
// share (--region, --intensity, --intensity-file, --pue, --cpu-watts,
// --sample-interval): one help text and one validation each, so every
// command reads them the same way. cli/ only.
#pragma once

#include <boost/program_options.hpp>

#include "carbon/intensity.h"
#include "common/status.h"

namespace cs {

// Which carbon flags a command takes; combine with |.
enum CarbonFlagSet : unsigned {
  kGridFlags = 1,    // --region, --intensity, --pue: where the grams come from.
  kSeriesFlag = 2,   // --intensity-file: a time series instead.
  kMeterFlags = 4,   // --cpu-watts, --sample-interval: how power is metered.
};

// What the carbon flags say, each value checked (NaN, -5 or 1e308 is an
// error naming the flag, never "unset").
struct CarbonFlags {
  IntensityOptions intensity;            // --region / --intensity / --intensity-file; none = the world average.
  double pue = 1.0;                      // --pue, in [1, 5].
  double cpu_watts = -1;                 // --cpu-watts in (0, 5000]; -1 = the CPU-time model.
  double sample_interval_seconds = 1.0;  // --sample-interval, in (0, 3600].
};

void AddCarbonFlags(boost::program_options::options_description* options, unsigned which);
// The flags `AddCarbonFlags` added, read and checked; InvalidArgument naming
// the flag and its value otherwise.
Result<CarbonFlags> CarbonFlagsFromFlags(const boost::program_options::variables_map& vm);

}  // namespace cs
