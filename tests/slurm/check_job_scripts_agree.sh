#!/usr/bin/env bash
# jobs/train.sbatch and jobs/sample.sbatch each stay one self-contained file (sbatch runs a spooled
# copy of the script alone, so neither can source a helper beside it). What they share (finding
# the gwflow executable; running the step, forwarding signals, requeueing on exit 75) is written in
# both between "# >>> shared" and "# <<< shared" lines: this check fails when the copies differ.
# Usage: check_job_scripts_agree.sh JOBS_DIR
set -u
jobs=${1:?usage: check_job_scripts_agree.sh JOBS_DIR}
regions() { awk '/^# >>> shared/ { on = 1; n++; print "== region " n; next } /^# <<< shared/ { on = 0; next } on' "$1"; }
a=$(regions "$jobs/train.sbatch")
b=$(regions "$jobs/sample.sbatch")
n=$(grep -c '^== region' <<< "$a")
if [ "$n" -lt 2 ]; then
  echo "FAIL: $jobs/train.sbatch has $n shared regions, expected 2"
  exit 1
fi
if ! diff <(echo "$a") <(echo "$b"); then
  echo "FAIL: the shared regions of jobs/train.sbatch and jobs/sample.sbatch differ (above): change both"
  exit 1
fi
echo "PASS: the $n shared regions of the job scripts agree ($(wc -l <<< "$a") lines)"
