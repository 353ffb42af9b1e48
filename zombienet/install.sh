#!/usr/bin/env bash
# Install zombienet (@zombienet/cli, pinned in package.json / package-lock.json) into
# zombienet/node_modules. Idempotent: does nothing when node_modules matches the lock file.
#
# package.json overrides `toml` with 3.0.0 from npm: @zombienet/utils depends on a `toml`
# fork hosted on GitHub, which may be unreachable (see ../../shared/NOTES.md, zombienet).
# Needs Node.js >= 18 and npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v node >/dev/null || { echo "[zombienet] error: node (Node.js >= 18) is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "[zombienet] error: npm is not installed" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
(( major >= 18 )) || { echo "[zombienet] error: Node.js $(node --version) is too old, need >= 18" >&2; exit 1; }

# npm writes node_modules/.package-lock.json on every install; if it is newer than the
# committed lock file and the CLI is there, the install is current.
if [[ -x node_modules/.bin/zombienet && node_modules/.package-lock.json -nt package-lock.json \
	&& node_modules/.package-lock.json -nt package.json ]]; then
	echo "[zombienet] node_modules is up to date with package-lock.json: nothing to do"
else
	echo "[zombienet] installing @zombienet/cli from package-lock.json: npm ci (into $(pwd)/node_modules)"
	npm ci --no-audit --no-fund
fi
echo "[zombienet] zombienet $(node_modules/.bin/zombienet version 2>/dev/null | tail -1) at $(pwd)/node_modules/.bin/zombienet"
