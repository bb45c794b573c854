#!/bin/sh
# Runs one herdsim sweep as a Slurm job array: task I of N runs shard I/N
# into its own database, and a dependent job merges the parts.
#
#   sbatch --array=1-8 scripts/slurm-sweep.sh          # the shards
#   sbatch --dependency=afterok:JOBID scripts/slurm-sweep.sh merge
#
# Edit SWEEP_ARGS and OUT below (or export them before sbatch).  Every task
# must use the same arguments: the experiment name is derived from them, so
# the merged parts land in one experiment.  A task that dies can be
# resubmitted alone (sbatch --array=I ...); it skips the runs it already
# committed.
#
#SBATCH --job-name=herdsim-sweep
#SBATCH --cpus-per-task=4
#SBATCH --time=04:00:00
#SBATCH --output=herdsim-sweep-%A_%a.out
set -eu

HERDSIM=${HERDSIM:-herdsim}
OUT=${OUT:-results/sweep}
SWEEP_ARGS=${SWEEP_ARGS:-"cgocallbackgc --vary workload.threads=10..1000*10 --policy all --os linux --os freebsd --reps 20"}

if [ "${1:-}" = merge ]; then
	exec "$HERDSIM" merge "$OUT/all.sqlite" "$OUT"/part-*.sqlite
fi

: "${SLURM_ARRAY_TASK_ID:?run this script with sbatch --array=1-N}"
: "${SLURM_ARRAY_TASK_COUNT:?run this script with sbatch --array=1-N}"
mkdir -p "$OUT"
# shellcheck disable=SC2086
exec "$HERDSIM" sweep $SWEEP_ARGS \
	--shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" \
	--jobs "${SLURM_CPUS_PER_TASK:-1}" \
	--db "$OUT/part-$SLURM_ARRAY_TASK_ID.sqlite"
