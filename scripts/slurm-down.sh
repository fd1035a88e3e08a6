#!/usr/bin/env bash
# Stops what scripts/slurm-up.sh DIR started, by pid: slurmd, slurmctld, and
# munged if slurm-up started it. Cancels the cluster's jobs first so no trial
# outlives it. Idempotent: safe to call when nothing runs (test traps do).
set -uo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
[[ -d $1 ]] || exit 0
dir=$(cd "$1" && pwd)

stop() {  # stop PIDFILE: TERM, then KILL after 5 s, then remove the file.
  local file=$1 pid
  [[ -s $file ]] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
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
  SLURM_CONF=$dir/slurm.conf scancel --full --signal=KILL --state=RUNNING --user="$(id -un)" 2>/dev/null
  SLURM_CONF=$dir/slurm.conf scancel --user="$(id -un)" 2>/dev/null
fi
stop "$dir/slurmd.pid"
stop "$dir/slurmctld.pid"
if [[ -e $dir/munged.started-here ]]; then
  stop /run/munge/munged.pid
  rm -f "$dir/munged.started-here"
fi
exit 0
