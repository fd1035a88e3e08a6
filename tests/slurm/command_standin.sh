#!/bin/sh
# A user's own training command, as `run --command` runs it: it knows nothing
# of carbonsweep but the protocol's "@cs" lines on stdout and its
# CARBONSWEEP_* variables. Each epoch burns about 0.3 s of CPU in three child
# processes (a DataLoader's workers, say), so the whole process tree must be
# metered; the loss falls with the learning rate given as $1.
#   command_standin.sh LEARNING_RATE [EPOCHS]
set -eu
lr=$1
epochs=${2:-2}
[ -n "${CARBONSWEEP_WORK_DIR:-}" ] || { echo "command_standin: no CARBONSWEEP_WORK_DIR" >&2; exit 2; }
[ -s "$CARBONSWEEP_WORK_DIR/params.json" ] || { echo "command_standin: no params.json" >&2; exit 2; }
echo "training with lr $lr (trial ${CARBONSWEEP_TRIAL_ID:-?})"
burn() { i=0; while [ $i -lt 40000 ]; do i=$((i + 1)); done; }
epoch=1
while [ "$epoch" -le "$epochs" ]; do
  burn & burn & burn &
  wait
  loss=$(awk -v lr="$lr" -v e="$epoch" 'BEGIN { printf "%.6f", 1 / (e * (1 + 1000 * lr)) }')
  echo "@cs {\"event\":\"epoch\",\"epoch\":$epoch,\"loss\":$loss}"
  epoch=$((epoch + 1))
done
echo "@cs {\"event\":\"end\",\"state\":\"finished\",\"loss\":$loss}"
