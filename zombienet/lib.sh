# Shared settings of the zombienet scripts (sourced, not run).
# shellcheck shell=bash

ZN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ZN_BIN="$ZN_DIR/node_modules/.bin/zombienet"

# The node binary: MBDS_NODE, else the release build in the cargo target directory.
export MBDS_NODE="${MBDS_NODE:-${CARGO_TARGET_DIR:-$HOME/.cache/mbds-target}/release/mbds-node}"

# The networks: name, zombienet file stem, RPC port of the first node (alice).
ZN_NETWORKS=(hospital-a hospital-b platform-p consortium)

zn_log() { printf '[zombienet] %s\n' "$*" >&2; }
zn_die() { printf '[zombienet] error: %s\n' "$*" >&2; exit 1; }

zn_check() {
	[[ -x "$MBDS_NODE" ]] || zn_die "node binary $MBDS_NODE not found or not executable (set MBDS_NODE, or build it: cargo build --release -p mbds-node)"
	[[ -x "$ZN_BIN" ]] || zn_die "zombienet is not installed: run $ZN_DIR/install.sh"
}

zn_known() {
	local n
	for n in "${ZN_NETWORKS[@]}"; do [[ "$n" == "$1" ]] && return 0; done
	return 1
}

# `name port` for every node of a network, read from its .toml.
zn_nodes() {
	awk -F' *= *' '
		/^name *=/ { gsub(/"/, "", $2); name = $2 }
		/^rpc_port *=/ { print name, $2 }
	' "$ZN_DIR/$1.toml"
}

# JSON-RPC call over HTTP: zn_rpc PORT METHOD [PARAMS-JSON]; prints the result as JSON.
zn_rpc() {
	curl -sf --max-time 5 -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" \
		"http://127.0.0.1:$1" | jq -c '.result'
}

# Finalised block number seen by the node at PORT (empty if it does not answer).
zn_finalised() {
	local hash
	hash=$(zn_rpc "$1" chain_getFinalizedHead 2>/dev/null) || return 0
	[[ -n "$hash" && "$hash" != null ]] || return 0
	zn_rpc "$1" chain_getHeader "[$hash]" 2>/dev/null | jq -r '.number' | xargs printf '%d\n' 2>/dev/null || true
}

# Best block number seen by the node at PORT.
zn_best() {
	zn_rpc "$1" chain_getHeader 2>/dev/null | jq -r '.number' | xargs printf '%d\n' 2>/dev/null || true
}

# Live (not zombie) processes whose command line mentions DIR (nodes of a run have their
# --base-path and --chain under it). Killed nodes may linger a few seconds as <defunct>
# zombies until PID 1 reaps them; those are dead and not listed.
zn_leftover() {
	# DIR goes through the environment, so this awk's own command line does not match.
	ps -eo pid=,stat=,args= | ZN_D="$1" awk 'index($0, ENVIRON["ZN_D"]) && $2 !~ /^Z/ { print }'
}

# PIDs of the live mbds-node processes in process group PGID.
zn_nodes_in_group() {
	ps -eo pid=,pgid=,stat=,comm= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ && $4 == "mbds-node" { print $1 }'
}
