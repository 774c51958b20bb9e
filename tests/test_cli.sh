#!/bin/sh
# Behaviour of the `flashcore` CLI on the CPU backend: info, check over the features, bench with
# JSON output, and usage errors (exit 2 with a usage message, never a crash).
#
#   sh tests/test_cli.sh <build dir> <source dir>      (ctest runs it so; exit 77 = skipped)

build=${1:?usage: test_cli.sh <build dir> <source dir>}
cli="$build/flashcore"
if [ ! -x "$cli" ]; then
    echo "test_cli: $cli not built (FLASHCORE_BUILD_TOOLS=OFF?): skipped"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fc_test_cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0
count=0

fail() {
    failures=$((failures + 1))
    echo "FAIL: $*"
    echo "  --- stdout"; sed 's/^/  | /' "$tmp/out"
    echo "  --- stderr"; sed 's/^/  | /' "$tmp/err"
}

# expect <exit code> <pattern in stdout+stderr, or ""> -- <args...>
expect() {
    want=$1
    pattern=$2
    shift 3
    count=$((count + 1))
    "$cli" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ge 128 ]; then
        fail "flashcore $* crashed (exit $rc)"
    elif [ "$rc" -ne "$want" ]; then
        fail "flashcore $*: exit $rc, expected $want"
    elif [ -n "$pattern" ] && ! cat "$tmp/out" "$tmp/err" | grep -q -- "$pattern"; then
        fail "flashcore $*: output lacks '$pattern'"
    fi
}

# ---- info, help ----
expect 0 "flashcore " -- info
expect 0 "backends: cpu" -- info
expect 0 "usage: flashcore <command>" -- help
expect 0 "usage: flashcore <command>" -- --help
expect 0 "usage: flashcore check" -- check --help
expect 0 "usage: flashcore bench" -- bench --help
expect 0 "usage: flashcore info" -- info --help

# ---- check: every feature on the CPU backend, odd shapes ----
c="--backend cpu"
expect 0 "^PASS" -- check $c
expect 0 "^PASS" -- check $c --causal
expect 0 "^PASS" -- check $c --causal --seqlen-q 65 --seqlen-k 200
expect 0 "^PASS" -- check $c --causal --seqlen-q 100 --seqlen-k 30 --lse
expect 0 "^PASS" -- check $c --window 16,0 --seqlen 130
expect 0 "^PASS" -- check $c --window 8,3 --seqlen-q 7 --seqlen-k 65
expect 0 "^PASS" -- check $c --softcap 30
expect 0 "^PASS" -- check $c --softcap 5 --scale 0.3 --dtype bf16
expect 0 "^PASS" -- check $c --heads 8 --kv-heads 2
expect 0 "^PASS" -- check $c --heads 6 --kv-heads 1 --causal --lse
expect 0 "^PASS" -- check $c --varlen --batch 5 --seqlen 100
expect 0 "^PASS" -- check $c --seqlens-q 1,7,65,0 --seqlens-k 3,100,65,9 --causal --lse
expect 0 "^PASS" -- check $c --dtype fp32
expect 0 "^PASS" -- check $c --dtype fp32 --lse --causal
expect 0 "^PASS" -- check $c --lse
expect 0 "^PASS" -- check $c --seqlen 1 --head-dim 8
expect 0 "^PASS" -- check $c --seqlen 7 --head-dim 136 --pad 3
expect 0 "untouched" -- check $c --seqlen 33 --pad 8 --dtype bf16 --causal
expect 0 "^PASS" -- check $c --head-dim 256 --seqlen 65 --dtype bf16
expect 0 "seed 12345" -- check $c --seed 12345

# The same seed twice gives the same inputs and (CPU) the same error: a moving error is a race.
"$cli" check $c --seed 777 --causal --lse --heads 8 --kv-heads 4 >"$tmp/a" 2>&1
"$cli" check $c --seed 777 --causal --lse --heads 8 --kv-heads 4 >"$tmp/b" 2>&1
count=$((count + 1))
if ! cmp -s "$tmp/a" "$tmp/b"; then
    cp "$tmp/a" "$tmp/out"; cp "$tmp/b" "$tmp/err"
    fail "check --seed 777 twice gave different results"
fi

# Arguments the library refuses: a clear error and exit 1, not a crash.
expect 1 "FC_ERROR_BAD_HEAD_DIM" -- check $c --head-dim 12
expect 1 "FC_ERROR_HEADS_NOT_DIVISIBLE" -- check $c --heads 6 --kv-heads 4

# ---- bench ----
expect 0 "TFLOP/s" -- bench $c --batch 1 --heads 2 --seqlen 64 --repeats 3 --warmup 1 --json "$tmp/one.json"
expect 0 "S=256" -- bench $c --sweep seed --max-seqlen 256 --repeats 1 --warmup 0 --quiet --json "$tmp/sweep.json"
expect 0 "Sq=1 Sk=1024" -- bench $c --sweep decode --max-seqlen 1024 --repeats 1 --warmup 0 --quiet
expect 0 "TFLOP/s" -- bench --impl reference --batch 1 --heads 1 --seqlen 32 --repeats 2 --warmup 0 --json "$tmp/ref.json"
expect 0 "causal" -- bench $c --seqlens-q 5,60 --causal --lse --heads 2 --repeats 1 --warmup 0

if command -v python3 >/dev/null 2>&1; then
    for f in one sweep ref; do
        count=$((count + 1))
        if ! python3 - "$tmp/$f.json" >"$tmp/out" 2>"$tmp/err" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
assert set(doc) == {"device", "date", "commit", "rows"}, doc.keys()
assert doc["commit"] is None and doc["rows"], doc
keys = {"sweep", "batch", "heads_q", "heads_kv", "seqlen_q", "seqlen_k", "head_dim", "causal", "dtype",
        "mode", "impl", "us", "tflops", "max_err"}
for row in doc["rows"]:
    assert set(row) == keys, row
    assert row["mode"] == "fwd" and row["impl"] in ("flashcore", "reference-f64"), row
    assert row["us"] > 0 and row["tflops"] > 0 and row["max_err"] is None, row
    assert isinstance(row["causal"], bool), row
EOF
        then
            fail "bench --json wrote an invalid $f.json"
        fi
    done
    count=$((count + 1))
    if ! python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['rows']; assert len(r)==1 and r[0]['sweep']=='seed' and r[0]['seqlen_q']==256" "$tmp/sweep.json" >"$tmp/out" 2>"$tmp/err"; then
        fail "--sweep seed --max-seqlen 256 did not give the single S=256 row"
    fi
fi

# ---- usage errors: exit 2 and a usage message ----
expect 2 "usage:" --
expect 2 "usage:" -- frobnicate
expect 2 "usage:" -- check --frobnicate
expect 2 "usage:" -- check --batch
expect 2 "usage:" -- check --batch x
expect 2 "usage:" -- check --batch 0
expect 2 "usage:" -- check --batch=-3
expect 2 "usage:" -- check --seqlen 99999999999
expect 2 "usage:" -- check --head-dim 6x
expect 2 "usage:" -- check --dtype fp8
expect 2 "usage:" -- check --backend tpu
expect 2 "usage:" -- check --window 3
expect 2 "usage:" -- check --window a,b
expect 2 "usage:" -- check --window -2,0
expect 2 "usage:" -- check --softcap -1
expect 2 "usage:" -- check --scale nan
expect 2 "usage:" -- check --scale inf
expect 2 "usage:" -- check --seed -5
expect 2 "usage:" -- check --seqlens-k 3,4
expect 2 "usage:" -- check --seqlens-q 3,4 --seqlens-k 5
expect 2 "usage:" -- check --seqlens-q 3,,4
expect 2 "usage:" -- check --seqlens-q 0,0
expect 2 "usage:" -- check --causal=1
expect 2 "usage:" -- check stray
expect 2 "usage:" -- check --sweep fa
expect 2 "usage:" -- check --json x.json
expect 2 "usage:" -- bench --sweep nope
expect 2 "usage:" -- bench --sweep fa --heads 3
expect 2 "usage:" -- bench --sweep fa --max-seqlen 100
expect 2 "usage:" -- bench --max-seqlen 1024
expect 2 "usage:" -- bench --repeats 0
expect 2 "usage:" -- bench --warmup -1
expect 2 "usage:" -- bench --impl magic
expect 2 "usage:" -- bench --impl reference --backend cuda
expect 2 "usage:" -- bench --json
expect 2 "usage:" -- info --verbose

# Sizes that cannot fit fail cleanly (exit 1), before any allocation.
expect 1 "host memory" -- check $c --batch 100000 --heads 1000 --seqlen 100000

echo "test_cli: $count cases, $failures failed"
[ "$failures" -eq 0 ]
