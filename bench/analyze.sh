#!/bin/bash
# `make bench-analyze`: the analyzer against the tools people use today, side by side in one run,
# on the same exec storm.
#
#  1. Records an exec storm (bench/storm.c -m exec, 2 workers, SECS seconds) twice, with the rule
#     set of bench/analyze/rules.txt: once as an auditd RAW log (auditd started here with a
#     temporary configuration and no plug-ins), once natively with `ctrace record -- storm`.
#  2. Times, best of RUNS (3), on that same log: laurel (Debian's, process enrichment on:
#     bench/analyze/laurel.toml), `ausearch -i` (for reference), `ctrace import`, and
#     `ctrace analyze` of the imported capture (text, and --format json); and `ctrace analyze` of
#     the native recording (text and JSON). The analyzer also runs with one worker
#     (CTRACE_ANALYZE_WORKERS=1), to show what the second core brings; the reports must be
#     byte-identical.
#     Each run starts once the machine is idle (other work on 2 cores skews a timing).
#  3. Checks that every exec of the log is in each tool's output (processes in the tree vs execs
#     in the log), runs the memory test (go test ./analyze -run TestPerfMemoryGrowsWithProcesses),
#     and prints a table: wall time, MB/s of input (for the native capture, of raw frames), peak
#     RSS (/usr/bin/time -v), execs found; then the issue's targets.
#
# Needs root, gcc, go, auditd (auditd, auditctl, ausearch), laurel and GNU time
# (apt-get install auditd laurel time). The audit part holds the kernel test lock
# (/run/ctrace-kernel-test.lock) and, while auditd runs, the recorder lock (/run/ctrace/record.lock);
# the audit rules and settings found are restored on every way out.
#
# Environment: SECS (storm length, default 8: about 25 MB of log), RUNS (3), WORK (directory for
# the logs, captures and outputs; default a new one under /tmp, kept), REUSE=1 (use the log and
# capture already in WORK instead of recording again), CTRACE (a ctrace binary to use instead of
# building one), IDLE_WAIT (seconds to wait for an idle machine before each run, 120).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE="$ROOT/bench/analyze"
SECS=${SECS:-8}
RUNS=${RUNS:-3}
WORK=${WORK:-$(mktemp -d /tmp/ctrace-bench-analyze.XXXXXX)}
mkdir -p "$WORK"
cd "$WORK" || exit 1

die() { echo "bench-analyze: $*" >&2; exit 1; }
for t in gcc go auditd auditctl ausearch laurel /usr/bin/time flock; do
	command -v "$t" >/dev/null || die "$t is missing (apt-get install auditd laurel time gcc)"
done
[ "$(id -u)" = 0 ] || die "needs root (audit)"

echo "== building (work directory $WORK)"
if [ -n "${CTRACE:-}" ]; then
	cp "$CTRACE" "$WORK/ctrace" || die "cannot copy $CTRACE"
else
	(cd "$ROOT" && go build -o "$WORK/ctrace" ./cmd/ctrace) || die "go build failed"
fi
(cd "$ROOT" && go build -o "$WORK/check" ./bench/analyze/check) || die "go build failed"
gcc -O2 -pthread -o "$WORK/storm" "$ROOT/bench/storm.c" || die "gcc failed"

# ---- 1. the recordings ----

# Audit state as found, restored on every way out of record_all.
SAVED_RULES="$WORK/rules.saved"
saved=""
save_audit() {
	local s
	s=$(auditctl -s) || die "auditctl -s failed"
	st_enabled=$(awk '/^enabled/{print $2}' <<<"$s")
	st_failure=$(awk '/^failure/{print $2}' <<<"$s")
	st_rate=$(awk '/^rate_limit/{print $2}' <<<"$s")
	st_backlog=$(awk '/^backlog_limit/{print $2}' <<<"$s")
	st_wait=$(awk '/^backlog_wait_time /{print $2}' <<<"$s")
	local pid
	pid=$(awk '/^pid/{print $2}' <<<"$s")
	[ "$st_enabled" = 2 ] && die "audit is immutable (enabled 2): cannot load rules"
	if [ "$pid" != 0 ] && kill -0 "$pid" 2>/dev/null; then
		die "an audit daemon runs (pid $pid): stop it first"
	fi
	auditctl -l | grep -v '^No rules' >"$SAVED_RULES"
	saved=1
}
restore_audit() {
	[ -n "$saved" ] || return 0
	[ -n "${AUDITD_PID:-}" ] && kill "$AUDITD_PID" 2>/dev/null && wait "$AUDITD_PID" 2>/dev/null
	AUDITD_PID=""
	auditctl -D >/dev/null
	while read -r l; do
		# shellcheck disable=SC2086
		[ -n "$l" ] && auditctl $l >/dev/null
	done <"$SAVED_RULES"
	auditctl -f "$st_failure" -r "$st_rate" -b "$st_backlog" --backlog_wait_time "$st_wait" >/dev/null
	auditctl -e "$st_enabled" >/dev/null
	saved=""
}
load_rules() {
	auditctl -D >/dev/null
	while read -r l; do
		# shellcheck disable=SC2086
		[ -n "$l" ] && { auditctl $l >/dev/null || return 1; }
	done <"$HERE/rules.txt"
	auditctl -b 8192 >/dev/null && auditctl -e 1 >/dev/null
}

record_all() {
	exec 8>/run/ctrace-kernel-test.lock
	echo "== waiting for the kernel test lock"
	flock 8
	mkdir -p /run/ctrace
	exec 7>/run/ctrace/record.lock
	flock 7
	trap 'restore_audit; exit 130' INT TERM HUP
	trap 'restore_audit' EXIT
	save_audit

	echo "== auditd (RAW log), storm of ${SECS}s"
	mkdir -p "$WORK/auditd" "$WORK/auditd/plugins"
	rm -f "$WORK"/audit.log*
	sed -e 's/^log_format.*/log_format = RAW/' -e 's/^max_log_file .*/max_log_file = 4000/' \
		-e "s#^log_file.*#log_file = $WORK/audit.log#" -e 's/^max_log_file_action.*/max_log_file_action = IGNORE/' \
		-e "s#^plugin_dir.*#plugin_dir = $WORK/auditd/plugins#" -e 's/^write_logs.*/write_logs = yes/' \
		/etc/audit/auditd.conf >"$WORK/auditd/auditd.conf"
	auditd -n -s nochange -c "$WORK/auditd" &
	AUDITD_PID=$!
	for _ in $(seq 50); do
		[ "$(auditctl -s | awk '/^pid/{print $2}')" = "$AUDITD_PID" ] && break
		sleep 0.1
	done
	[ "$(auditctl -s | awk '/^pid/{print $2}')" = "$AUDITD_PID" ] || die "auditd did not start"
	load_rules || die "auditctl failed"
	"$WORK/storm" -w 2 -t "$SECS" -m exec | tee "$WORK/storm.auditd.out"
	auditctl -D >/dev/null
	sleep 1 # let auditd write what is queued
	kill "$AUDITD_PID"
	wait "$AUDITD_PID"
	AUDITD_PID=""
	restore_audit
	[ -s "$WORK/audit.log" ] || die "auditd wrote no log"
	flock -u 7
	exec 7>&-

	echo "== ctrace record -- storm (${SECS}s)"
	rm -f "$WORK/native.ctr"
	"$WORK/ctrace" record --rules "$HERE/rules.txt" -o "$WORK/native.ctr" -- \
		"$WORK/storm" -w 2 -t "$SECS" -m exec | tee "$WORK/storm.native.out" || die "ctrace record failed"
	trap - EXIT INT TERM HUP
	flock -u 8
	exec 8>&-
}

if [ -n "${REUSE:-}" ] && [ -s "$WORK/audit.log" ] && [ -s "$WORK/native.ctr" ]; then
	echo "== reusing $WORK/audit.log and $WORK/native.ctr"
else
	record_all
fi

# ---- 2. the timings ----

# cpu_busy prints the percentage of CPU time the machine spent busy over one second.
cpu_busy() {
	local a b i tot=0 idle
	read -ra a </proc/stat
	sleep 1
	read -ra b </proc/stat
	idle=$(((b[4] + b[5]) - (a[4] + a[5])))
	for i in 1 2 3 4 5 6 7 8; do tot=$((tot + b[i] - a[i])); done
	echo $((100 * (tot - idle) / (tot > 0 ? tot : 1)))
}
# wait_idle waits (at most IDLE_WAIT seconds, 120) until the machine is idle: other work on a
# 2-core machine would skew a timing. It says so when it gives up.
BUSY=""
wait_idle() {
	local deadline=$((SECONDS + ${IDLE_WAIT:-120})) ok=0
	while [ $SECONDS -lt $deadline ]; do
		if [ "$(cpu_busy)" -lt 10 ]; then ok=$((ok + 1)); else ok=0; fi
		[ $ok -ge 2 ] && return 0
	done
	echo "bench-analyze: the machine is busy (other processes use the CPU): timings are skewed" >&2
	BUSY=" (machine busy during the timings)"
}

# measure NAME INPUT_BYTES OUTPUT CMD...: runs CMD RUNS times (stdin from $IN when set) on an
# idle machine, keeps the best wall time and the peak RSS of all runs (/usr/bin/time -v).
declare -A WALL RSS MBS
measure() {
	local name=$1 bytes=$2 out=$3
	shift 3
	local best="" rss=0 i
	for i in $(seq "$RUNS"); do
		[ -n "${PRE:-}" ] && eval "$PRE"
		wait_idle
		local t0 t1
		t0=$EPOCHREALTIME
		if [ -n "${IN:-}" ]; then
			/usr/bin/time -v -o "$WORK/time.$name" "$@" <"$IN" >"$out" 2>"$WORK/stderr.$name" || die "$name failed: $(tail -3 "$WORK/stderr.$name")"
		else
			/usr/bin/time -v -o "$WORK/time.$name" "$@" >"$out" 2>"$WORK/stderr.$name" || die "$name failed: $(tail -3 "$WORK/stderr.$name")"
		fi
		t1=$EPOCHREALTIME
		local w
		w=$(echo "$t1 - $t0" | bc)
		if [ -z "$best" ] || [ "$(echo "$w < $best" | bc)" = 1 ]; then best=$w; fi
		local r
		r=$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORK/time.$name")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	WALL[$name]=$best
	RSS[$name]=$rss
	MBS[$name]=$(echo "scale=1; $bytes / 1000000 / $best" | bc)
	printf '%-42s best %6.3f s  %7.1f MB/s  peak RSS %6d MB\n' "$name" "$best" "${MBS[$name]}" $((rss / 1024))
}

LOG="$WORK/audit.log"
LOG_BYTES=$(stat -c %s "$LOG")
sync
cat "$LOG" "$WORK/native.ctr" >/dev/null # warm the page cache for everyone alike
echo "== timings, best of $RUNS (log: $((LOG_BYTES / 1000000)) MB, $(wc -l <"$LOG") lines)"

mkdir -p "$WORK/laurel-out"
sed -e "s#@DIR@#$WORK/laurel-out#" "$HERE/laurel.toml" >"$WORK/laurel.toml"
PRE='rm -f "$WORK"/laurel-out/*' IN="$LOG" measure laurel "$LOG_BYTES" /dev/null laurel -c "$WORK/laurel.toml"
measure "ausearch -i" "$LOG_BYTES" "$WORK/ausearch.out" ausearch -i -if "$LOG"
measure "ctrace import" "$LOG_BYTES" /dev/null "$WORK/ctrace" import --force -o "$WORK/imported.ctr" "$LOG"
measure "analyze (import)" "$LOG_BYTES" "$WORK/imported.txt" "$WORK/ctrace" analyze "$WORK/imported.ctr"
measure "analyze --format json (import)" "$LOG_BYTES" "$WORK/imported.json" "$WORK/ctrace" analyze --format json "$WORK/imported.ctr"
measure "analyze --format json (import), 1 worker" "$LOG_BYTES" "$WORK/imported.1.json" \
	env CTRACE_ANALYZE_WORKERS=1 "$WORK/ctrace" analyze --format json "$WORK/imported.ctr"
FRAMES=$("$WORK/check" frames "$WORK/native.ctr") || die "check frames failed"
FRAME_BYTES=$(awk '{print $1}' <<<"$FRAMES")
measure "analyze (native)" "$FRAME_BYTES" "$WORK/native.txt" "$WORK/ctrace" analyze "$WORK/native.ctr"
measure "analyze --format json (native)" "$FRAME_BYTES" "$WORK/native.json" "$WORK/ctrace" analyze --format json "$WORK/native.ctr"
measure "analyze --format json (native), 1 worker" "$FRAME_BYTES" "$WORK/native.1.json" \
	env CTRACE_ANALYZE_WORKERS=1 "$WORK/ctrace" analyze --format json "$WORK/native.ctr"

cmp -s "$WORK/imported.json" "$WORK/imported.1.json" || die "analyze (import): 1 worker and 2 give different reports"
cmp -s "$WORK/native.json" "$WORK/native.1.json" || die "analyze (native): 1 worker and 2 give different reports"

# ---- 3. completeness, memory and the table ----

"$WORK/ctrace" dump --source audit "$WORK/native.ctr" >"$WORK/native.log" || die "ctrace dump failed"
C_LAUREL=$("$WORK/check" laurel "$LOG" "$WORK"/laurel-out/audit.log*) || die "check laurel failed"
C_AUSEARCH=$("$WORK/check" ausearch "$LOG" "$WORK/ausearch.out") || die "check ausearch failed"
C_IMPORT=$("$WORK/check" model "$LOG" "$WORK/imported.json") || die "check import failed"
C_NATIVE=$("$WORK/check" model "$WORK/native.log" "$WORK/native.json") || die "check native failed"

echo "== memory: go test ./analyze -run TestPerfMemoryGrowsWithProcesses"
if (cd "$ROOT" && go test -count=1 -run TestPerfMemoryGrowsWithProcesses -v ./analyze/) >"$WORK/memory.out" 2>&1; then
	MEM=$(grep -o 'long-lived: .*' "$WORK/memory.out" | head -1)
else
	MEM="the test failed or did not build: see $WORK/memory.out"
fi

row() { # name input found
	printf '| %s | %s | %.3f | %s | %d | %s |\n' "$1" "$2" "${WALL[$1]}" "${MBS[$1]}" $((RSS[$1] / 1024)) "$3"
}
{
	echo "Exec storm (bench/storm.c -m exec, 2 workers, ${SECS}s): $(cat "$WORK/storm.auditd.out") under auditd; $(cat "$WORK/storm.native.out") under ctrace record."
	echo "Log: $(echo "scale=1; $LOG_BYTES / 1000000" | bc) MB, $(wc -l <"$LOG") lines; native capture: $(awk '{printf "%.1f MB of raw frames, %d frames", $1/1e6, $2}' <<<"$FRAMES"), $(stat -c %s "$WORK/native.ctr" | awk '{printf "%.1f MB", $1/1e6}') on disk.$BUSY"
	echo
	echo "| tool | input | wall s (best of $RUNS) | MB/s | peak RSS MB | execs found / in the log |"
	echo "|---|---|---|---|---|---|"
	row laurel "auditd log" "$C_LAUREL (events with EXECVE)"
	row "ausearch -i" "auditd log" "$C_AUSEARCH (execve events)"
	row "ctrace import" "auditd log" "-"
	row "analyze (import)" "imported log" "(text report)"
	row "analyze --format json (import)" "imported log" "$C_IMPORT"
	row "analyze --format json (import), 1 worker" "imported log" "$C_IMPORT"
	row "analyze (native)" "native capture (raw frames)" "$C_NATIVE"
	row "analyze --format json (native)" "native capture (raw frames)" "$C_NATIVE"
	row "analyze --format json (native), 1 worker" "native capture (raw frames)" "$C_NATIVE"
	echo
	ok() { if [ "$(echo "$1" | bc)" = 1 ]; then echo met; else echo "NOT met"; fi; }
	ratio=$(echo "scale=3; ${WALL[analyze --format json (import)]} / ${WALL[laurel]}" | bc)
	echo "- analyze --format json of the imported log: ${ratio}x laurel's wall time (target <= 0.33x: $(ok "$ratio <= 0.33"))"
	echo "- native capture: ${MBS[analyze (native)]} MB/s of raw frames (text report), ${MBS[analyze --format json (native)]} MB/s (JSON report) (target >= 100 MB/s: $(ok "${MBS[analyze (native)]} >= 100") for text, $(ok "${MBS[analyze --format json (native)]} >= 100") for JSON)"
	echo "- both cores: $(echo "scale=2; ${WALL[analyze --format json (native), 1 worker]} / ${WALL[analyze --format json (native)]}" | bc)x faster than one worker on the native capture, $(echo "scale=2; ${WALL[analyze --format json (import), 1 worker]} / ${WALL[analyze --format json (import)]}" | bc)x on the imported log; reports byte-identical (checked)"
	echo "- memory (synthetic captures, TestPerfMemoryGrowsWithProcesses): $MEM"
} | tee "$WORK/table.md"
echo "work directory: $WORK"
