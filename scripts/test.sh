#!/usr/bin/env bash
# The whole test suite: starts PostgreSQL and Redis (scripts/services.sh), runs every vitest
# project, and ends with one line `N passed, N failed`. Extra arguments go to vitest.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! bash scripts/services.sh >/dev/null; then
  if [ -n "${CI:-}" ]; then
    echo "[test] a required service (PostgreSQL or Redis) could not be started; failing because CI is set" >&2
    exit 1
  fi
  echo "[test] some services are missing; their tests will be skipped with a reason" >&2
fi
set -a
# shellcheck disable=SC1091
[ -f .services.env ] && . ./.services.env
set +a

# Some tests run the built CLI and packages as a user would; build first (skip with PP_SKIP_BUILD=1).
if [ -z "${PP_SKIP_BUILD:-}" ]; then
  pnpm -r --filter './packages/*' --filter ./examples/bridge-console build >/dev/null || { echo "[test] the build failed; run pnpm build to see why" >&2; exit 1; }
fi

# One lint and format setup for the whole repository (Biome); a finding fails the run.
npx biome check . >/dev/null 2>&1 || { echo "[test] lint or format findings: run npx biome check . to see them" >&2; npx biome check . 2>&1 | tail -20; exit 1; }

mkdir -p .test-results
rm -f .test-results/results.json
npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/results.json "$@"
status=$?
node scripts/summarize-tests.mjs .test-results/results.json || status=1
exit $status
