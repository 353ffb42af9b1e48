#!/usr/bin/env bash
# Start the MBDS chains as zombienet networks (native provider), side by side:
#   hospital-a  (hospital-local,   chain id 1001, 4 validators)  RPC ws://127.0.0.1:21001..21004
#   hospital-b  (hospital-b-local, chain id 1002, 4 validators)  RPC ws://127.0.0.1:22001..22004
#   platform-p  (platform-local,   chain id 2001, 4 validators)  RPC ws://127.0.0.1:23001..23004
#   consortium  (consortium-local, chain id 1,    5 validators)  RPC ws://127.0.0.1:24001..24005
#
#   zombienet/run-all.sh [--once] [--journey] [NETWORK...]
#
# Waits until every network reports finalised blocks, prints each chain's RPC endpoints, then
# keeps running until Ctrl-C / SIGTERM, which stops all networks and their nodes.
# --once: stop as soon as all networks finalise (a smoke check).
# --journey: then register the private chains on the consortium, start the relayer and three
#   proxies and run the patient journey (`mbds-journey --attach`, all four networks needed);
#   with --once, stop everything after it; otherwise relayer and proxies run until Ctrl-C.
# Env: MBDS_NODE (node binary, default ${CARGO_TARGET_DIR:-$HOME/.cache/mbds-target}/release/mbds-node),
#      READY_TIMEOUT (seconds to wait for finalised blocks, default 900),
#      MIN_FINALISED (finalised height that counts as ready, default 2).
# Logs and node data: zombienet/tmp/run-<time>/<network>.log and <network>/.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

once=0
journey=0
journey_pid=""
nets=()
while (($#)); do
	case "$1" in
	--once) once=1; shift ;;
	--journey) journey=1; shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) zn_known "$1" || zn_die "unknown network '$1' (known: ${ZN_NETWORKS[*]})"; nets+=("$1"); shift ;;
	esac
done
((${#nets[@]})) || nets=("${ZN_NETWORKS[@]}")
ready_timeout="${READY_TIMEOUT:-900}"
min_finalised="${MIN_FINALISED:-2}"
zn_check

# Ports must be free: another run (or anything else) on them would make nodes fail to start.
for n in "${nets[@]}"; do
	while read -r name port; do
		if zn_rpc "$port" system_name >/dev/null 2>&1; then
			zn_die "port $port ($n/$name) already answers JSON-RPC: is another run-all.sh or test.sh running?"
		fi
	done < <(zn_nodes "$n")
done

run_dir="$ZN_DIR/tmp/run-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$run_dir"
cd "$ZN_DIR"
zn_log "node binary: $MBDS_NODE"
zn_log "logs and node data: $run_dir"

declare -A pid_of=()
stopping=0

# Stop every network: SIGTERM to zombienet (it kills its nodes and exits), then make sure
# nothing of its process group is left, then check no mbds-node of this run survives.
stop_all() {
	local n i left
	((stopping)) && return
	stopping=1
	trap '' INT TERM
	if [[ -n "$journey_pid" ]] && kill -0 "$journey_pid" 2>/dev/null; then
		zn_log "stopping the journey's relayer and proxies"
		kill -TERM "$journey_pid" 2>/dev/null || true
		wait "$journey_pid" 2>/dev/null || true
	fi
	zn_log "stopping ${!pid_of[*]}"
	# First the nodes, with SIGTERM (a clean shutdown), while zombienet is alive to reap them;
	# zombienet itself would kill -9 them and exit, leaving <defunct> entries for PID 1 to reap.
	for n in "${!pid_of[@]}"; do
		# shellcheck disable=SC2046
		kill -TERM $(zn_nodes_in_group "${pid_of[$n]}") 2>/dev/null || true
	done
	for ((i = 0; i < 30; i++)); do
		left=0
		for n in "${!pid_of[@]}"; do [[ -n "$(zn_nodes_in_group "${pid_of[$n]}")" ]] && left=1; done
		((left)) || break
		sleep 1
	done
	# Then zombienet (its SIGTERM handler tears the network down and exits).
	for n in "${!pid_of[@]}"; do kill -TERM "${pid_of[$n]}" 2>/dev/null || true; done
	for ((i = 0; i < 60; i++)); do
		left=0
		for n in "${!pid_of[@]}"; do kill -0 "${pid_of[$n]}" 2>/dev/null && left=1; done
		((left)) || break
		sleep 1
	done
	for n in "${!pid_of[@]}"; do
		# The zombienet process leads its own group (setsid); kill whatever is left in it.
		kill -KILL -- "-${pid_of[$n]}" 2>/dev/null || true
		wait "${pid_of[$n]}" 2>/dev/null || true
	done
	sleep 1
	left=$(zn_leftover "$run_dir")
	if [[ -n "$left" ]]; then
		zn_log "warning: processes of this run still alive:"
		echo "$left" >&2
		return 1
	fi
	zn_log "all networks stopped; no process of this run is left (checked with ps: none under $run_dir)"
}
on_signal() {
	zn_log "got $1"
	stop_all && exit 0 || exit 1
}
trap 'on_signal SIGINT' INT
trap 'on_signal SIGTERM' TERM
trap 'stop_all || true' EXIT

t0=$SECONDS
for n in "${nets[@]}"; do
	# setsid: each network (zombienet and its nodes) is its own process group, so Ctrl-C in
	# the terminal reaches only this script, which then stops the networks in order.
	setsid "$ZN_BIN" --provider native --logType text --dir "$run_dir/$n" --force \
		spawn "$n.toml" >"$run_dir/$n.log" 2>&1 &
	pid_of[$n]=$!
	zn_log "spawning $n (zombienet pid ${pid_of[$n]}, log $run_dir/$n.log)"
done

# Wait until every network's first node reports finalised height >= min_finalised.
declare -A ready=()
while ((${#ready[@]} < ${#nets[@]})); do
	for n in "${nets[@]}"; do
		[[ -n "${ready[$n]:-}" ]] && continue
		if ! kill -0 "${pid_of[$n]}" 2>/dev/null; then
			zn_log "FAILED: zombienet for $n exited before the network was ready; last lines of its log:"
			tail -n 30 "$run_dir/$n.log" >&2
			exit 1
		fi
		read -r _ port < <(zn_nodes "$n" | head -1)
		fin=$(zn_finalised "$port")
		if [[ -n "$fin" ]] && ((fin >= min_finalised)); then
			ready[$n]=$((SECONDS - t0))
			zn_log "$n finalises (height $fin) after ${ready[$n]} s"
		fi
	done
	if ((SECONDS - t0 > ready_timeout)); then
		zn_log "FAILED: not finalising after $ready_timeout s: $(for n in "${nets[@]}"; do [[ -n "${ready[$n]:-}" ]] || printf '%s ' "$n"; done)"
		exit 1
	fi
	sleep 2
done

echo
echo "All ${#nets[@]} networks are up and finalising ($((SECONDS - t0)) s):"
for n in "${nets[@]}"; do
	read -r _ port0 < <(zn_nodes "$n" | head -1)
	chain=$(zn_rpc "$port0" system_chain | jq -r .)
	echo
	echo "  $n: $chain (best #$(zn_best "$port0"), finalised #$(zn_finalised "$port0"))"
	while read -r name port; do
		printf '    %-8s ws://127.0.0.1:%s  (http://127.0.0.1:%s)\n' "$name" "$port" "$port"
	done < <(zn_nodes "$n")
done
echo
echo "  node logs: $run_dir/<network>/<node>.log"

if ((journey)); then
	journey_bin="$(dirname "$MBDS_NODE")/mbds-journey"
	[[ -x "$journey_bin" ]] || zn_die "--journey: $journey_bin not built (scripts/test.sh or scripts/run.sh builds it)"
	urls=(http://127.0.0.1:23001 http://127.0.0.1:21001 http://127.0.0.1:22001 http://127.0.0.1:24001)
	if ((once)); then
		zn_log "running the patient journey on the zombienet networks (log also in $run_dir/journey.log)"
		"$journey_bin" --exit --dir "$run_dir/journey" --attach "${urls[@]}" 2>&1 | tee "$run_dir/journey.log"
		[[ ${PIPESTATUS[0]} -eq 0 ]] || { zn_log "FAILED: the journey failed"; exit 1; }
	else
		"$journey_bin" --dir "$run_dir/journey" --attach "${urls[@]}" >"$run_dir/journey.log" 2>&1 &
		journey_pid=$!
		zn_log "patient journey running (pid $journey_pid): tail -f $run_dir/journey.log"
	fi
fi

if ((once)); then
	zn_log "--once: stopping"
	stop_all
	trap - EXIT
	exit 0
fi
echo "  Ctrl-C stops all networks."
# Stay in the foreground; if a network dies, stop everything.
while :; do
	for n in "${nets[@]}"; do
		if ! kill -0 "${pid_of[$n]}" 2>/dev/null; then
			zn_log "zombienet for $n exited unexpectedly (see $run_dir/$n.log)"
			exit 1
		fi
	done
	sleep 2 &
	wait $! || true
done
