#!/usr/bin/env bash
# Run the zombienet tests (<network>.zndsl) of the MBDS chains and exit non-zero if any fails.
#
#   zombienet/test.sh [-j N] [NETWORK...]
#
# NETWORK: hospital-a hospital-b platform-p consortium (default: all four).
# -j N: how many networks run at once (default 2; the networks use distinct fixed ports, so
#       up to 4 can run side by side). Each test spawns its network (native provider),
#       checks it, and tears it down.
# Env: MBDS_NODE (node binary, default ${CARGO_TARGET_DIR:-$HOME/.cache/mbds-target}/release/mbds-node).
# Logs and node data: zombienet/tmp/test-<time>/<network>.log and <network>/.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

jobs_max=2
nets=()
while (($#)); do
	case "$1" in
	-j) jobs_max="$2"; shift 2 ;;
	-j*) jobs_max="${1#-j}"; shift ;;
	-h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) zn_known "$1" || zn_die "unknown network '$1' (known: ${ZN_NETWORKS[*]})"; nets+=("$1"); shift ;;
	esac
done
((${#nets[@]})) || nets=("${ZN_NETWORKS[@]}")
[[ "$jobs_max" =~ ^[1-9][0-9]*$ ]] || zn_die "-j needs a positive number"
zn_check

run_dir="$ZN_DIR/tmp/test-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"
cd "$ZN_DIR"
zn_log "node binary: $MBDS_NODE"
zn_log "testing ${nets[*]} ($jobs_max at a time); logs in $run_dir"

declare -A pid_of=() start_of=() rc_of=() secs_of=()
groups=() # process groups of all tests (pid of each zombienet = its group id)

# On Ctrl-C / SIGTERM: stop the running tests (each in its own process group, with its nodes).
stop_all() {
	local n
	trap - INT TERM
	zn_log "interrupted: stopping running tests"
	for n in "${!pid_of[@]}"; do kill -TERM "${pid_of[$n]}" 2>/dev/null || true; done
	sleep 5
	for n in "${!pid_of[@]}"; do kill -KILL -- "-${pid_of[$n]}" 2>/dev/null || true; done
	exit 130
}
trap stop_all INT TERM

start_test() {
	local n="$1"
	# setsid: the test (zombienet and the nodes it starts) is its own process group.
	setsid "$ZN_BIN" --provider native --logType text --dir "$run_dir/$n" --force \
		test "$n.zndsl" >"$run_dir/$n.log" 2>&1 &
	pid_of[$n]=$!
	groups+=("$!")
	start_of[$n]=$SECONDS
	zn_log "started $n (log: $run_dir/$n.log)"
}

# Wait for any running test to end and record it.
reap_one() {
	local n rc
	while :; do
		for n in "${!pid_of[@]}"; do
			if ! kill -0 "${pid_of[$n]}" 2>/dev/null; then
				rc=0
				wait "${pid_of[$n]}" || rc=$?
				# leftover processes of that group (there should be none)
				kill -KILL -- "-${pid_of[$n]}" 2>/dev/null || true
				rc_of[$n]=$rc
				secs_of[$n]=$((SECONDS - start_of[$n]))
				unset "pid_of[$n]"
				if ((rc == 0)); then
					zn_log "PASS $n in ${secs_of[$n]} s ($(grep -ao 'Result: [0-9]*/[0-9]*' "$run_dir/$n.log" | tail -1))"
				else
					if grep -aq '❌' "$run_dir/$n.log"; then
						zn_log "FAIL $n (exit $rc) after ${secs_of[$n]} s; failed assertions:"
						grep -a '❌' "$run_dir/$n.log" | sed 's/^/    /' >&2
					else
						zn_log "FAIL $n (exit $rc) after ${secs_of[$n]} s; end of its log:"
						grep -av '^[[:space:]]*$' "$run_dir/$n.log" | tail -n 8 | sed 's/^/    /' >&2
					fi
					zn_log "    see $run_dir/$n.log"
				fi
				return
			fi
		done
		sleep 1
	done
}

t0=$SECONDS
for n in "${nets[@]}"; do
	while ((${#pid_of[@]} >= jobs_max)); do reap_one; done
	start_test "$n"
done
while ((${#pid_of[@]})); do reap_one; done
trap - INT TERM

failed=()
echo
printf '%-12s %-6s %s\n' network result seconds
for n in "${nets[@]}"; do
	if ((rc_of[$n] == 0)); then r=pass; else r=FAIL; failed+=("$n"); fi
	printf '%-12s %-6s %s\n' "$n" "$r" "${secs_of[$n]}"
done
echo "wall time: $((SECONDS - t0)) s ($jobs_max at a time)"
# zombienet ends a test with kill -9 of its nodes and exits without reaping them, so they
# stay <defunct> until PID 1 reaps them; wait (up to 60 s) so that pgrep is clean afterwards.
for ((i = 0; i < 60; i++)); do
	ps -eo pgid=,comm= | awk -v g=" ${groups[*]} " '$2 == "mbds-node" && index(g, " " $1 " ")' | grep -q . || break
	sleep 1
done
left=$(zn_leftover "$run_dir")
[[ -z "$left" ]] || { zn_log "warning: processes of this run still alive:"; echo "$left" >&2; }
if ((${#failed[@]})); then
	zn_log "FAILED: ${failed[*]}"
	exit 1
fi
zn_log "all ${#nets[@]} network tests passed"
