#!/usr/bin/env bash
# Shared by the command-line test scripts: sourced as
#   source common.sh NAME GWFLOW MPIEXEC "MPIEXEC FLAGS (;-separated)"
# Sets GWFLOW, MPIEXEC, MPIFLAGS, PY, DATA, a scratch directory (the working directory, removed on
# exit), pass/fail counters, mpi2 (mpiexec -n 2), and the comparison helpers.
set -u
GWFLOW=$2
MPIEXEC=$3
IFS=';' read -r -a MPIFLAGS <<< "${4:-}"
PY=/usr/bin/python3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=$(cd "$here/../data" && pwd)
work=$(mktemp -d "/tmp/gwflow_$1.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
failures=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
mpi2() { "$MPIEXEC" -n 2 "${MPIFLAGS[@]}" "$@"; }
# finish: the summary line and the exit status of the script.
finish() {
  echo "$failures failure(s)"
  [ "$failures" -eq 0 ]
}

source "$here/compare.sh"
