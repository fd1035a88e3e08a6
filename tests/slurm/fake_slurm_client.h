// FakeSlurmClient: a scripted Slurm for the launcher's unit tests. It keeps
// a table of jobs that the test moves between states (Set), answers sbatch,
// squeue, scontrol and scancel as the real 22.05 tools print, and records
// every command it was given.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/slurm_client.h"

namespace cs::testing {

class FakeSlurmClient : public SlurmClient {
 public:
  struct FakeJob {
    std::string state = "PENDING";
    std::string reason = "None";
    int exit_code = 0;
    int exit_signal = 0;
    std::string time_limit = "UNLIMITED";
    std::string name;     // --job-name.
    std::string command;  // the script path sbatch was given (squeue %o).
    uid_t user_id = ::getuid();  // squeue %U; another user's job is hidden by --me.
  };

  // Shared with the test after the launcher takes ownership of the client.
  struct Shared {
    std::map<std::string, FakeJob> jobs;           // by job id; erase = purged from slurmctld.
    std::vector<std::vector<std::string>> commands;  // every argv, in order.
    int next_job_id = 1;
    std::string sbatch_error;  // non-empty: sbatch fails with this message.
    // sacct's answer by job id; a job not here makes sacct fail as without slurmdbd.
    std::map<std::string, std::string> consumed_energy_raw;
  };

  explicit FakeSlurmClient(Shared* shared) : shared_(shared) {}

  Result<CommandOutput> Run(const std::vector<std::string>& argv) override {
    shared_->commands.push_back(argv);
    CommandOutput output;
    const std::string& tool = argv.at(0);
    if (tool == "sbatch") {
      if (!shared_->sbatch_error.empty()) {
        output.exit_code = 1;
        output.stderr_text = "sbatch: error: " + shared_->sbatch_error + "\n";
        return output;
      }
      std::string id = std::to_string(shared_->next_job_id++);
      FakeJob job;
      job.name = ValueOf(argv, "--job-name=");
      job.command = argv.back();
      shared_->jobs[id] = job;
      output.stdout_text = id + "\n";
    } else if (tool == "squeue") {
      // --jobs=A,B and/or --name=N select; --me keeps this user's; --format's
      // %i %T %r %o %j %U fields, '|' between them, as the launcher asks.
      std::string ids = ValueOf(argv, "--jobs=");
      std::string name = ValueOf(argv, "--name=");
      bool me = std::find(argv.begin(), argv.end(), "--me") != argv.end();
      std::vector<std::string> wanted = Split(ids);
      bool any = false;
      for (const auto& [id, job] : shared_->jobs) {
        if (!ids.empty() && std::find(wanted.begin(), wanted.end(), id) == wanted.end()) continue;
        if (!name.empty() && job.name != name) continue;
        any = true;
        if (me && job.user_id != ::getuid()) continue;
        output.stdout_text += Formatted(ValueOf(argv, "--format="), id, job) + "\n";
      }
      if (!ids.empty() && !any) {
        output.exit_code = 1;
        output.stderr_text = "slurm_load_jobs error: Invalid job id specified\n";
      }
    } else if (tool == "scontrol") {
      auto it = shared_->jobs.find(argv.back());
      if (it == shared_->jobs.end()) {
        output.exit_code = 1;
        output.stderr_text = "slurm_load_jobs error: Invalid job id specified\n";
      } else {
        const FakeJob& job = it->second;
        output.stdout_text = "JobId=" + it->first + " JobName=cs-trial UserId=root(0) JobState=" + job.state +
                             " Reason=" + job.reason + " Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 ExitCode=" +
                             std::to_string(job.exit_code) + ":" + std::to_string(job.exit_signal) +
                             " RunTime=00:00:02 TimeLimit=" + job.time_limit + " NodeList=node1 Power=\n";
      }
    } else if (tool == "scancel") {
      auto it = shared_->jobs.find(argv.back());
      bool signal_only = !ValueOf(argv, "--signal=").empty();
      if (it != shared_->jobs.end() && !signal_only) {
        it->second.state = "CANCELLED";
        it->second.exit_signal = 15;
      }
    } else if (tool == "sacct") {
      auto it = shared_->consumed_energy_raw.find(ValueOf(argv, "--jobs="));
      if (it == shared_->consumed_energy_raw.end()) {
        output.exit_code = 1;
        output.stderr_text = "Slurm accounting storage is disabled\n";
      } else {
        output.stdout_text = it->second + "\n";
      }
    } else {
      output.exit_code = 127;
    }
    return output;
  }

  // The commands whose argv[0] is `tool`.
  static std::vector<std::vector<std::string>> CommandsOf(const Shared& shared, const std::string& tool) {
    std::vector<std::vector<std::string>> found;
    for (const auto& argv : shared.commands) {
      if (argv.at(0) == tool) found.push_back(argv);
    }
    return found;
  }

 private:
  static std::string ValueOf(const std::vector<std::string>& argv, const std::string& prefix) {
    for (const std::string& arg : argv) {
      if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
    }
    return "";
  }
  static std::string Formatted(const std::string& format, const std::string& id, const FakeJob& job) {
    std::string line;
    for (size_t i = 0; i < format.size(); ++i) {
      if (format[i] != '%' || i + 1 == format.size()) {
        line += format[i];
        continue;
      }
      switch (format[++i]) {
        case 'i': line += id; break;
        case 'T': line += job.state; break;
        case 'r': line += job.reason; break;
        case 'o': line += job.command; break;
        case 'j': line += job.name; break;
        case 'U': line += std::to_string(job.user_id); break;
        default: line += '?';
      }
    }
    return line;
  }
  static std::vector<std::string> Split(const std::string& ids) {
    std::vector<std::string> parts;
    size_t begin = 0;
    while (begin <= ids.size()) {
      size_t comma = ids.find(',', begin);
      if (comma == std::string::npos) comma = ids.size();
      if (comma > begin) parts.push_back(ids.substr(begin, comma - begin));
      begin = comma + 1;
    }
    return parts;
  }

  Shared* shared_;
};

}  // namespace cs::testing
