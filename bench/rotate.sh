#!/bin/bash
# `make bench-rotate`: the rotating recorder (record --rotate) through an exec storm, against a plain
# recording of the same storm in the same run.
#
# For each of ROUNDS rounds, in turn: `ctrace record -o FILE -- storm` and `ctrace record --rotate
# SIZE -o DIR -- storm`, the latter also sent SIGHUP every HUP seconds (each SIGHUP starts a new
# capture, with its /proc snapshot), 2 storm workers for SECS seconds. Then, for each recording:
# the execs the storm counted (its own output) against the `true` processes `ctrace analyze
# --format json` finds with exit status 0, the losses it reports, and the number of captures.
# Prints a table and the ratio of the storm's exec rate under rotation to the plain one's.
# Nothing lost means: every exec found, and 0 lost (kernel counter, ENOBUFS, recorder drops, audit
# serial gaps, proc sequence gaps), in every round.
#
# Needs root, gcc, go, python3. Holds the kernel test lock (/run/ctrace-kernel-test.lock).
# Environment: SECS (10), ROUNDS (3), SIZE (1MiB), HUP (0.1), WORK (a new directory under /tmp,
# kept), CTRACE (a ctrace binary instead of building one).
set -eu -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-1MiB}
HUP=${HUP:-0.1}
WORK=${WORK:-$(mktemp -d /tmp/ctrace-bench-rotate.XXXXXX)}
if [ "$(id -u)" != 0 ]; then
  echo "bench-rotate: needs root" >&2
  exit 1
fi
CTRACE=${CTRACE:-}
if [ -z "$CTRACE" ]; then
  (cd "$ROOT" && go build -o "$WORK/ctrace" ./cmd/ctrace)
  CTRACE=$WORK/ctrace
fi
gcc -O2 -o "$WORK/storm" "$ROOT/bench/storm.c" -lpthread
exec 9>/run/ctrace-kernel-test.lock
flock 9

count() { # capture(s) -> "processes lost files"
  "$CTRACE" analyze --format json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
n = sum(1 for p in d["processes"] if p["exe"] and p["exe"].endswith("/true") and p["exit_code"] == 0)
print(n, d["capture"]["lost"], max(len(d["capture"].get("files") or []), 1))'
}

printf '%-6s %-7s %8s %8s %8s %6s %9s\n' round mode execs found lost files execs/s
fail=0
ratios=()
for r in $(seq 1 "$ROUNDS"); do
  declare -A rate
  for mode in plain rotate; do
    out=$WORK/r$r-$mode
    rm -rf "$out" "$out.ctr"
    if [ $mode = plain ]; then
      "$CTRACE" record -o "$out.ctr" -- "$WORK/storm" -m exec -w 2 -t "$SECS" >"$out.storm" 2>"$out.err"
      in=$out.ctr
    else
      "$CTRACE" record --rotate "$SIZE" -o "$out" -- sh -c \
        '( while :; do sleep '"$HUP"'; kill -HUP $PPID 2>/dev/null || exit 0; done ) & h=$!; "$0" -m exec -w 2 -t '"$SECS"'; s=$?; kill $h; exit $s' \
        "$WORK/storm" >"$out.storm" 2>"$out.err"
      in=$out
    fi
    execs=$(grep -o 'iterations=[0-9]*' "$out.storm" | head -1 | cut -d= -f2)
    rate[$mode]=$(grep -o 'rate=[0-9.]*' "$out.storm" | head -1 | cut -d= -f2)
    read -r found lost files < <(count "$in")
    printf '%-6s %-7s %8s %8s %8s %6s %9s\n' "$r" "$mode" "$execs" "$found" "$lost" "$files" "${rate[$mode]}"
    if [ "$found" != "$execs" ] || [ "$lost" != 0 ]; then
      fail=1
    fi
  done
  ratios+=("$(python3 -c "print(f'{${rate[rotate]}/${rate[plain]}:.2f}')")")
done
echo "exec rate under rotation / plain recording, per round: ${ratios[*]}"
if [ $fail != 0 ]; then
  echo "bench-rotate: an exec was missing or something was lost (outputs in $WORK)" >&2
  exit 1
fi
echo "nothing lost in $ROUNDS rounds (outputs in $WORK)"
