#!/usr/bin/env bash
# Shared by the command-line test cases: sourced by run_case.sh as
#   source common.sh GWFLOW MPIEXEC "MPIEXEC FLAGS (;-separated)"
# Sets GWFLOW, MPIEXEC, MPIFLAGS, PY, DATA, pass/fail/skip and their counters, mpi2 (mpiexec -n 2),
# finish, and the comparison helpers. The working directory is run_case.sh's (one per case).
set -u
GWFLOW=$1
MPIEXEC=$2
IFS=';' read -r -a MPIFLAGS <<< "${3:-}"
PY=/usr/bin/python3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=$(cd "$here/../data" && pwd)
failures=0
skipped=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
# skip REASON: the case cannot run here (ctest shows it as skipped, unless something failed too).
skip() { echo "SKIP: $1"; skipped=1; }
mpi2() { "$MPIEXEC" -n 2 "${MPIFLAGS[@]}" "$@"; }
# finish: the summary line and the exit status: 1 after a failure, 77 after a skip, else 0.
finish() {
  echo "$failures failure(s)"
  [ "$failures" -eq 0 ] || return 1
  [ "$skipped" -eq 0 ] || return 77
}

source "$here/compare.sh"
