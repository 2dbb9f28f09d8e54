#!/usr/bin/env bash
# ctest `interop`: gwflow against the real mbank, glasflow and torch (tests/interop/interop_test.py),
# once on the current torch from PyPI and once on Debian's torch 1.13. Each environment is made by
# tools/python-env (kept between runs); one that cannot be made (no PyPI) is skipped with a line
# saying so, and if neither can be made the test is skipped (exit 77).
# Usage: run_interop_tests.sh BUILD_DIR
set -uo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/gwflow-interop.XXXXXX)
trap 'rm -rf "$work"' EXIT
ran=0
failed=0
for flavour in pypi debian; do
  if ! py=$("$root/tools/python-env" "$flavour" 2>"$work/env-$flavour.err"); then
    echo "interop [$flavour]: SKIPPED, no environment: $(tail -1 "$work/env-$flavour.err")"
    continue
  fi
  versions=$("$py" - <<'PY' 2>/dev/null
import importlib.metadata as m, torch
print(f"torch {torch.__version__}, glasflow {m.version('glasflow')}, gw-mbank {m.version('gw-mbank')}")
PY
)
  echo "interop [$flavour]: $versions ($py)"
  ran=$((ran + 1))
  # pipefail: the Python's exit status survives the prefixing sed.
  "$py" "$root/tests/interop/interop_test.py" "$build/gwflow" "$work/$flavour" 2>&1 | sed "s/^/  [$flavour] /" || failed=1
done
if [ "$ran" -eq 0 ]; then
  echo "interop: SKIPPED: no Python environment with mbank could be made here (PyPI unreachable?)"
  exit 77
fi
exit "$failed"
