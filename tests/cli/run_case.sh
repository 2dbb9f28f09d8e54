#!/usr/bin/env bash
# Runs one command-line test case (ctest: cli.SUITE.CASE) in a directory of its own.
# Usage: run_case.sh SUITE_FILE setup|CASE|--list GWFLOW MPIEXEC "MPIEXEC FLAGS (;-separated)" WORKROOT
#   setup   makes WORKROOT/shared afresh and runs the suite's `setup` function there: the inputs
#           the cases share (data, a trained model, configs).
#   CASE    makes WORKROOT/CASE afresh, copies WORKROOT/shared's files into it and runs the suite's
#           case_CASE function there. Exit 1 if any check failed (the directory is kept for a
#           look), 77 if the case skipped itself (something it needs is missing here), else 0
#           (the directory is removed).
#   --list  the suite's case names, one a line (a case is a function `case_NAME()` at the start
#           of a line; tests/CMakeLists.txt reads them the same way).
# A suite file only defines functions (setup, case_*, its helpers) and variables; common.sh gives
# them GWFLOW, MPIEXEC, MPIFLAGS, PY, DATA, pass, fail, skip and mpi2.
set -u
usage="usage: run_case.sh SUITE_FILE setup|CASE|--list GWFLOW MPIEXEC \"MPIEXEC FLAGS\" WORKROOT"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
suite=$1
what=$2
if [ "$what" = --list ]; then
  sed -n 's/^case_\([a-z0-9_]*\)().*/\1/p' "$suite"
  exit
fi
[ $# -eq 6 ] || { echo "$usage" >&2; exit 2; }
workroot=$6
mkdir -p "$workroot" && workroot=$(cd "$workroot" && pwd -P) || exit 1

# remove_dir DIR: removes DIR, first unmounting what a killed case left mounted under it (the
# full-disk cases mount a tmpfs in their directory).
remove_dir() {
  [ -e "$1" ] || return 0
  if [ "$(id -u)" -eq 0 ]; then
    awk -v d="$1/" 'index($2 "/", d) == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r m; do umount "$m"; done
  fi
  rm -rf "$1"
}

source "$(dirname "${BASH_SOURCE[0]}")/common.sh" "$3" "$4" "$5"
source "$suite" || exit 1
# setup and the case run in a subshell: one that stops on an error (an unset variable) ends only
# the subshell, with a non-zero status, and this script still reports.
if [ "$what" = setup ]; then
  dir=$workroot/shared
  remove_dir "$dir"
  mkdir -p "$dir" && cd "$dir" || exit 1
  (if declare -F setup >/dev/null; then setup; fi; finish)
  exit  # the shared files are kept either way: the cases need them (the next setup replaces them)
fi
if ! [[ $what =~ ^[a-z0-9_]+$ ]] || ! declare -F "case_$what" >/dev/null; then
  echo "run_case.sh: $suite has no case '$what' (run_case.sh $suite --list names them)" >&2
  exit 2
fi
case $what in shared | cleanup)  # reserved: the shared directory, and a name kept for a cleanup step
  echo "run_case.sh: '$what' is not a usable case name" >&2
  exit 2
esac
[ -d "$workroot/shared" ] ||
  { echo "run_case.sh: $workroot/shared is missing: run the setup first (ctest does, through the fixture)" >&2; exit 1; }
dir=$workroot/$what
remove_dir "$dir"
mkdir -p "$dir" && cp -a "$workroot/shared/." "$dir/" && cd "$dir" || exit 1
("case_$what"; finish)
rc=$?
cd "$workroot" || exit 1
if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
  remove_dir "$dir"
else
  echo "kept for a look: $dir"
fi
exit "$rc"
