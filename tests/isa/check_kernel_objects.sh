#!/usr/bin/env bash
# ctest kernel_objects_self_contained: each kernel variant's object (built with its own -march)
# must define nothing with external linkage but its own namespace's code and its entry point, and
# need nothing but the C library. Otherwise the linker could pick that object's copy of an
# inline function (a Kokkos or std:: one, say) for the baseline code too, and the binary would die
# with SIGILL on a CPU below the variant's level, as the single -march=native build did.
# Usage: check_kernel_objects.sh NAME=OBJECT...
set -uo pipefail
failures=0
for arg in "$@"; do
  name=${arg%%=*}
  obj=${arg#*=}
  # Defined and external, by mangled name: the namespace gwflow::kernels::isa_NAME, or the entry
  # point gwflow::kernels::isa_kernels_NAME().
  ns="isa_${name}"
  entry="isa_kernels_${name}"
  bad=$(nm --defined-only --extern-only "$obj" | awk '{ print $3 }' |
    grep -vE "^_ZN6gwflow7kernels${#ns}${ns}[0-9A-Z]" | grep -vx "_ZN6gwflow7kernels${#entry}${entry}Ev" | c++filt)
  undefined=$(nm -C --undefined-only "$obj" | awk '{ print $2 }' | grep -vE '^(memcpy|memset|memmove)$')
  if [ -n "$bad" ] || [ -n "$undefined" ]; then
    echo "FAIL: $name ($obj)"
    [ -n "$bad" ] && echo "  defines outside gwflow::kernels::isa_${name}:" && echo "$bad" | head -10 | sed 's/^/    /'
    [ -n "$undefined" ] && echo "  needs:" && echo "$undefined" | head -10 | sed 's/^/    /'
    failures=$((failures + 1))
  else
    echo "PASS: $name: $(nm --defined-only --extern-only "$obj" | wc -l) symbols, all its own"
  fi
done
[ "$failures" -eq 0 ]
