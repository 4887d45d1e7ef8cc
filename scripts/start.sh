#!/usr/bin/env bash
# `pnpm start`: builds the server and the packages it uses when their sources changed, then
# runs pocketping-server (arguments are passed on; a literal `--` from pnpm is skipped).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cli=packages/server/dist/cli.js
if [ ! -f "$cli" ] || [ -n "$(find packages/*/src -newer "$cli" -type f -print -quit 2>/dev/null)" ]; then
  echo "[start] building packages…" >&2
  pnpm --filter '@pocketping/server...' build >/dev/null
fi
exec node "$cli" "$@"
