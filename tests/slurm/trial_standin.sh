#!/bin/sh
# Stands in for `carbonsweep trial` in the Slurm cluster suite: it speaks the
# trial protocol through its work dir as a real trial on a compute node does
# (events.log "@cs" lines, energy.log records, a checkpoint it resumes from,
# SIGTERM = stop at the next step with an "interrupted" end, exit 4).
#   trial_standin.sh --work-dir DIR [--epochs N] [--epoch-seconds S] [--fail-after-epoch K] [--meter-self]
set -u
work_dir=""; epochs=2; epoch_seconds=1; fail_after=0; meter=0
while [ $# -gt 0 ]; do
  case "$1" in
    --work-dir) work_dir=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --epoch-seconds) epoch_seconds=$2; shift 2 ;;
    --fail-after-epoch) fail_after=$2; shift 2 ;;
    --meter-self) meter=1; shift ;;
    *) echo "trial_standin: unknown argument $1" >&2; exit 2 ;;
  esac
done
events="$work_dir/events.log"
done_epochs=0
[ -s "$work_dir/checkpoint" ] && done_epochs=$(cat "$work_dir/checkpoint")
echo "@cs {\"event\":\"start\",\"resumed_from_epoch\":$done_epochs,\"job\":\"${SLURM_JOB_ID:-}\"}" >>"$events"

stop=0
trap 'stop=1' TERM
epoch=$((done_epochs + 1))
while [ "$epoch" -le "$epochs" ]; do
  sleep "$epoch_seconds" &
  wait $! 2>/dev/null
  if [ "$stop" -eq 1 ]; then
    echo "@cs {\"event\":\"end\",\"state\":\"interrupted\"}" >>"$events"
    exit 4
  fi
  echo "@cs {\"event\":\"epoch\",\"epoch\":$epoch,\"val_accuracy\":0.$((50 + epoch)),\"seconds\":$epoch}" >>"$events"
  echo "$epoch" >"$work_dir/checkpoint"
  if [ "$meter" -eq 1 ]; then
    echo "{\"unix_seconds\":$(date +%s).0,\"interval_seconds\":$epoch_seconds,\"component\":\"cpu\",\"method\":\"cpu-time-model\",\"joules\":4.0,\"watts\":4.0}" >>"$work_dir/energy.log"
  fi
  if [ "$fail_after" -eq "$epoch" ]; then
    echo "trial_standin: failing after epoch $epoch as asked" >&2
    exit 7
  fi
  epoch=$((epoch + 1))
done
echo "@cs {\"event\":\"end\",\"state\":\"finished\",\"val_accuracy\":0.$((50 + epochs))}" >>"$events"
exit 0
