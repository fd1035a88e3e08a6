#!/usr/bin/env bash
# Stops what scripts/slurm-up.sh DIR started, by pid: slurmd, slurmctld, and
# munged if slurm-up started it. Cancels the cluster's jobs first and waits
# for them to end, so no trial (and no slurmstepd) outlives the cluster.
# Idempotent: safe to call when nothing runs (CTest runs it as the fixture
# cleanup, also after a failed test or a failed start).
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
[[ -d $1 ]] || exit 0
dir=$(cd "$1" && pwd)

stop() {  # stop PIDFILE NAME: TERM, then KILL after 5 s, then remove the file.
  local file=$1 name=$2 pid
  [[ -s $file ]] || return 0
  pid=$(cat "$file")
  # A stale file may name a pid that now belongs to another program: leave that one alone.
  if kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

if [[ -s $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
  export SLURM_CONF=$dir/slurm.conf
  scancel --full --signal=KILL --state=RUNNING --user="$(id -un)" 2>/dev/null
  scancel --user="$(id -un)" 2>/dev/null
  # Until the jobs are gone (KillWait is 5 s): a slurmstepd whose slurmd is
  # already stopped would linger, retrying to report its job's end.
  for _ in $(seq 1 150); do
    [[ -z $(squeue --noheader --user="$(id -un)" --format=%i 2>/dev/null) ]] && break
    sleep 0.1
  done
fi
stop "$dir/slurmd.pid" slurmd
stop "$dir/slurmctld.pid" slurmctld
if [[ -e $dir/munged.started-here ]]; then
  stop /run/munge/munged.pid munged
  rm -f "$dir/munged.started-here"
fi
exit 0
