#!/bin/sh
# Resource report of every CUDA kernel, from the ptxas -v logs the build keeps in <build>/ptxas/.
# Fails on any spill store/load or non-zero stack frame (local memory) in any kernel of any arch.
# Prints one row per compiled kernel body: object, arch, kernel, registers, shared memory (static
# from ptxas; dynamic for the portable forward kernel, from its tile config in tile_config.h),
# stack, spills. Kernels compiled with an empty body for an arch that never launches them
# (<= 8 registers, no barrier) are counted, not listed.
# Usage: sh test_resources.sh <build dir> <source dir>. Exit 77 when the build has no CUDA.
build=${1:?usage: test_resources.sh <build dir> <source dir>}
src=${2:?usage: test_resources.sh <build dir> <source dir>}
logdir="$build/ptxas"
if [ ! -d "$logdir" ] || [ -z "$(ls "$logdir" 2>/dev/null)" ]; then
  echo "skipped: no ptxas logs in $logdir (CPU-only build)"
  exit 77
fi

# Tile configs of the portable kernel: "id m n warps stages groups" per line, from tile_config.h.
cfgs=$(awk '
  /^enum {/ { inenum = 1 }
  inenum && /FC_CFG_[A-Z0-9_]* = [0-9]+/ {
    match($0, /FC_CFG_[A-Z0-9_]*/); name = substr($0, RSTART, RLENGTH)
    match($0, /= [0-9]+/); id[name] = substr($0, RSTART + 2, RLENGTH - 2)
  }
  inenum && /}/ { inenum = 0 }
  /id == FC_CFG_[A-Z0-9_]* *\? *fc_tile_cfg\{/ {  # a row of fc_cfg_get (not other id tests)
    match($0, /FC_CFG_[A-Z0-9_]*/); name = substr($0, RSTART, RLENGTH)
    match($0, /fc_tile_cfg{[^}]*}/); body = substr($0, RSTART + 12, RLENGTH - 13)
    gsub(/ /, "", body); split(body, f, ",")
    print id[name], f[1], f[2], f[3], f[4], f[8]; last = name
  }
  /^ *: *fc_tile_cfg{/ {  # the final (default) row: the highest id
    match($0, /fc_tile_cfg{[^}]*}/); body = substr($0, RSTART + 12, RLENGTH - 13)
    gsub(/ /, "", body); split(body, f, ",")
    max = -1; for (n in id) if (id[n] + 0 > max && n != "FC_CFG_COUNT") max = id[n] + 0
    print max, f[1], f[2], f[3], f[4], f[8]
  }' "$src/src/cuda/tile_config.h")

for f in "$logdir"/*.log; do
  obj=$(basename "$f" .log)
  awk -v obj="$obj" -v cfgs="$cfgs" '
    BEGIN {
      n = split(cfgs, lines, "\n")
      for (i = 1; i <= n; ++i) { split(lines[i], c, " "); m[c[1]] = c[2]; nn[c[1]] = c[3]; st[c[1]] = c[5]; gr[c[1]] = c[6] }
    }
    function flush() {
      if (kernel == "") return
      dyn = "-"
      if (match(kernel, /fc_sm80_fwd_kernelI[0-9A-Za-z_]*Li[0-9]+ELi[0-9]+E/)) {
        s = substr(kernel, RSTART, RLENGTH)
        split(s, parts, "Li"); hd = parts[2]; sub(/E.*/, "", hd); id = parts[3]; sub(/E.*/, "", id)
        if (id in m) {  # fc_cfg_smem_launch: per key group its tiles + a 16-byte slot
          dyn = (m[id] + 2 * st[id] * nn[id]) * hd * 2 + 16
          if (gr[id] > 1) dyn = gr[id] * int((dyn + 127) / 128) * 128
        }
      }
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", obj, arch, kernel, regs, smem, dyn, stack, sst, sld, bars
      kernel = ""
    }
    /Compiling entry function/ {
      flush()
      match($0, /function .[^'"'"']*/); kernel = substr($0, RSTART + 10, RLENGTH - 10)
      match($0, /for .sm_[0-9a-z]*/); arch = substr($0, RSTART + 5, RLENGTH - 5)
      regs = 0; smem = 0; stack = 0; sst = 0; sld = 0; bars = 0
    }
    /bytes stack frame/ {
      for (i = 1; i <= NF; ++i) {
        if ($(i + 1) == "bytes" && $(i + 2) == "stack") stack = $i
        if ($(i + 2) == "spill" && $(i + 3) == "stores") sst = $i
        if ($(i + 2) == "spill" && $(i + 3) == "loads") sld = $i
      }
    }
    /Used [0-9]+ registers/ {
      for (i = 1; i <= NF; ++i) {
        if ($(i + 1) ~ /^registers/) regs = $i
        if ($(i + 1) == "barriers" || $(i + 1) == "barriers,") bars = $i
        if ($(i + 1) == "bytes" && $(i + 2) ~ /^smem/) smem = $i
      }
    }
    END { flush() }
  ' "$f"
done > "$build/ptxas/.report.tsv.tmp"
mv "$build/ptxas/.report.tsv.tmp" "$build/resources.tsv"

awk -F'\t' '
  {
    short = $3
    sub(/^_Z[0-9]+/, "", short)
    gsub(/6__half/, "f16", short); gsub(/13__nv_bfloat16/, "bf16", short)
    gsub(/EEv12fc_sm80_args$/, "", short); gsub(/EEvRK14fc_fwd_params$/, "", short)
    if ($4 + 0 <= 8 && $10 + 0 == 0 && $8 + 0 == 0 && $9 + 0 == 0 && $7 + 0 == 0) { stubs++; next }
    rows++
    printf "%-32s %-7s %-48s %4s %8s %8s %6s %6s %6s\n", $1, $2, substr(short, 1, 48), $4, $5, $6, $7, $8, $9
    if ($7 + 0 != 0 || $8 + 0 != 0 || $9 + 0 != 0) { bad++; badlist = badlist "  " $1 " " $2 " " $3 "\n" }
  }
  BEGIN {
    printf "%-32s %-7s %-48s %4s %8s %8s %6s %6s %6s\n", "object", "arch", "kernel", "regs", "smem", "dynsmem", "stack", "spillS", "spillL"
  }
  END {
    printf "%d kernel bodies, %d empty stubs (archs that never launch them)\n", rows, stubs
    if (rows == 0) { print "FAIL: no kernels found in the ptxas logs"; exit 1 }
    if (bad) { printf "FAIL: %d kernel(s) with spills or a stack frame:\n%s", bad, badlist; exit 1 }
    print "PASS: no spills, no stack frames"
  }' "$build/resources.tsv"
