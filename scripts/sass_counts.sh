#!/bin/sh
# Per-kernel SASS instruction counts of the portable kernel's instances, without a GPU: compiles
# each src/cuda/instances/sm80_*.cu for one arch (default sm_90a) and prints, per kernel, registers,
# spill bytes and the count of each opcode asked for (default MOV HMMA LDSM SEL), static (one per
# instruction in the binary, not per execution). This is how the register copies of bench/NOTES.md
# v7 were found. Needs cuobjdump: the CUDA toolkit's, or `pip download nvidia-cuda-cuobjdump` and
# unzip the wheel (bin/cuobjdump inside); set CUOBJDUMP to its path.
# An opcode matches as an instruction prefix: MOV counts plain MOVs, IMAD.MOV the moves ptxas puts
# on the integer pipe. Usage: sh scripts/sass_counts.sh [ARCH [OPCODE...]]   e.g. ... 80 MOV IMAD.MOV HMMA
set -u
cd "$(dirname "$0")/.."
arch=${1:-90a}
[ $# -gt 0 ] && shift
ops=${*:-MOV HMMA LDSM SEL}
dump=${CUOBJDUMP:-$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)}
[ -x "$dump" ] || { echo "sass_counts: no cuobjdump (set CUOBJDUMP)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in src/cuda/instances/sm80_*_hd*.cu; do
  b=$(basename "$f" .cu)
  nvcc -cubin -O3 -DNDEBUG -arch="sm_$arch" --expt-relaxed-constexpr -std=c++17 -Isrc -Iinclude -Isrc/cuda \
    -Xptxas -v "$f" -o "$tmp/$b.cubin" > "$tmp/$b.log" 2>&1 || { cat "$tmp/$b.log" >&2; exit 1; }
  # ptxas: "Compiling entry function 'NAME'", then "N bytes spill stores", then "Used R registers"
  awk '/Compiling entry/{f=$7} /spill stores/{sp=$5} /Used [0-9]+ registers/{if ($5 > 4) print f, $5, sp}' "$tmp/$b.log" |
    tr -d "'" > "$tmp/$b.res"
  "$dump" -sass "$tmp/$b.cubin" | awk -v ops="$ops" -v file="$b" -v res="$tmp/$b.res" '
    BEGIN { n = split(ops, op, " "); while ((getline l < res) > 0) { split(l, w, " "); regs[w[1]] = w[2]; spill[w[1]] = w[3] } }
    /Function :/ { f = $3 }
    /^ +\/\*[0-9a-f]+\*\// { for (i = 1; i <= n; i++) if (index($0, " " op[i])) c[f, i]++ }
    END { for (k in regs) { cfg = k; sub(/.*Li[0-9]+ELi/, "", cfg); sub(/EE.*/, "", cfg)
            line = sprintf("%-18s cfg %-3s regs %-4s spill %-4s", file, cfg, regs[k], spill[k])
            for (i = 1; i <= n; i++) line = line sprintf(" %s %d", op[i], c[k, i] + 0)
            print line } }'
done | sort
