#!/usr/bin/env bash
# `pnpm start`: builds what is missing and runs pocketping-server (arguments are passed on).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -f packages/server/dist/cli.js ] || [ ! -f packages/core/dist/index.js ]; then
  pnpm build >/dev/null
fi
exec node packages/server/dist/cli.js "$@"
