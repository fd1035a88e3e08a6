#include "cli/carbon_flags.h"

#include "carbon/power_source.h"
#include "carbon/sampler.h"

namespace cs {

namespace po = boost::program_options;

void AddCarbonFlags(po::options_description* options, unsigned which) {
  if (which & kGridFlags) {
    options->add_options()
        ("region", po::value<std::string>(), "where the electricity comes from: a country (FR), US state "
         "(us:california), grid zone (SE3) or cloud region (aws:ap-south-1); `carbonsweep regions` lists them")
        ("intensity", po::value<double>(), "grid carbon intensity in gCO2e/kWh, 0 to 2000 (instead of --region)");
  }
  if (which & kSeriesFlag) {
    options->add_options()("intensity-file", po::value<std::string>(),
                           "a CSV time series of intensity (timestamp, gCO2e/kWh) or an Electricity Maps export");
  }
  if (which & kGridFlags) {
    options->add_options()("pue", po::value<double>()->default_value(1.0),
                           "power usage effectiveness of the data centre, 1 to 5 (1: none)");
  }
  if (which & kMeterFlags) {
    options->add_options()
        ("cpu-watts", po::value<double>(), "the whole CPU's power at full load in W (up to 5000), instead of the model")
        ("sample-interval", po::value<double>()->default_value(1.0), "seconds between power samples (up to 3600)");
  }
}

Result<CarbonFlags> CarbonFlagsFromFlags(const po::variables_map& vm) {
  CarbonFlags flags;
  if (vm.count("region")) flags.intensity.region = vm["region"].as<std::string>();
  if (vm.count("intensity")) {
    flags.intensity.grams_per_kwh = vm["intensity"].as<double>();
    CS_RETURN_IF_ERROR(CheckIntensity(flags.intensity.grams_per_kwh));
  }
  if (vm.count("intensity-file")) flags.intensity.intensity_file = vm["intensity-file"].as<std::string>();
  if (vm.count("pue")) {
    flags.pue = vm["pue"].as<double>();
    CS_RETURN_IF_ERROR(CheckPue(flags.pue));
  }
  if (vm.count("cpu-watts")) {
    flags.cpu_watts = vm["cpu-watts"].as<double>();
    CS_RETURN_IF_ERROR(CheckCpuWatts(flags.cpu_watts));
  }
  if (vm.count("sample-interval")) {
    flags.sample_interval_seconds = vm["sample-interval"].as<double>();
    CS_RETURN_IF_ERROR(CheckSampleInterval(flags.sample_interval_seconds));
  }
  return flags;
}

}  // namespace cs
