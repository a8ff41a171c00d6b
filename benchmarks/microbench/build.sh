#!/usr/bin/env bash
# Rebuild python/otc_emu/experiments/data/microbench.sass (the cuobjdump listing with -res-usage
# appended; shipped with the package) from microbench.cu with the CUDA 11.8
# toolchain (nvcc 11.8.89, cuobjdump 11.8.86 made the committed files; no GPU needed). The
# listing is committed: the experiment (`otc-emu experiment microbench`) and CI never run nvcc.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NVCC="${NVCC:-nvcc}"
CUOBJDUMP="${CUOBJDUMP:-cuobjdump}"
case "$("$NVCC" --version | tail -n 2 | head -n 1)" in
    *"release 11.8"*) ;;
    *) echo "warning: expected nvcc 11.8" >&2 ;;
esac
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
out="$here/../../python/otc_emu/experiments/data/microbench.sass"
# From inside the folder, so that no absolute path ends up in the listing.
(cd "$here" && "$NVCC" -arch=sm_70 -cubin -O3 -diag-suppress 550 -o "$tmp/microbench.cubin" microbench.cu)
# The listing with the resource usage appended (registers, shared memory: the assembler reads them).
"$CUOBJDUMP" -sass "$tmp/microbench.cubin" > "$out"
"$CUOBJDUMP" -res-usage "$tmp/microbench.cubin" >> "$out"
if grep -q 'c\[0x[23]\]' "$out"; then
    echo "microbench.sass reads constant bank 2/3: commit the cubin too" >&2
    exit 1
fi
