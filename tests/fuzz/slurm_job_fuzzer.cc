// Fuzzes what SlurmLauncher reads from <work_dir>/slurm-job.json
// (orchestrator/slurm_launcher.cc, kJobStateFile): the file a previous
// orchestrator left beside a Slurm job, read by UnrecordedJob() and Adopt()
// at resume. Its reader is not a function of its own, so the fuzzer drives
// the public calls with a scripted Slurm (tests/slurm/fake_slurm_client.h)
// in which the adopted job "12" was preempted: Wait() then resubmits it with
// the recorded sbatch arguments and requeue count.
#include <memory>
#include <string>
#include <vector>

#include "orchestrator/slurm_launcher.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/slurm/fake_slurm_client.h"
#include "trials/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& work_dir = cs::fuzz::ScratchDir();
  cs::fuzz::WriteScratchFile("slurm-job.json", cs::fuzz::Text(data, size));
  cs::fuzz::WriteScratchFile(cs::kTrialEventsFile,
                             "@cs {\"event\":\"start\",\"resumed_from_epoch\":0}\n"
                             "@cs {\"event\":\"epoch\",\"epoch\":1,\"val_accuracy\":0.5}\n");

  cs::testing::FakeSlurmClient::Shared slurm;
  slurm.next_job_id = 13;
  slurm.jobs["12"].state = "PREEMPTED";
  slurm.jobs["12"].name = "cs-trial-7";
  cs::SlurmLauncherOptions options;
  options.binary = "/bin/true";
  cs::SlurmLauncher launcher(options, std::make_unique<cs::testing::FakeSlurmClient>(&slurm));

  (void)launcher.UnrecordedJob(/*trial_id=*/7, work_dir, /*recorded_job_id=*/"11");
  if (!launcher.Adopt(/*trial_id=*/7, "12", work_dir).ok()) return 0;
  std::vector<cs::LauncherEvent> events;
  launcher.Wait(/*timeout_seconds=*/0, &events);
  return 0;
}
