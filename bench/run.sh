#!/usr/bin/env bash
# PocketPing benchmarks (`pnpm bench`; never part of the test command).
#   bash bench/run.sh          full suite (~20 min): HTTP with memory, Postgres and Redis;
#                              realtime at 1,000 and 10,000 sockets and across instances;
#                              memory per idle WebSocket / SSE stream at 10,000
#   bash bench/run.sh quick    ~3 min subset (memory storage, 1,000 sockets, 2,000 for memory)
# Env: BENCH_SKIP_BUILD=1 uses the existing dist even when sources are newer.
# Servers run on core 0, wrk and the client pools on core 1. Figures go to bench/results/*.json
# and into the figures section of bench/RESULTS.md.
set -euo pipefail
mode="${1:-full}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '[bench] %s\n' "$*" >&2; }

ulimit -Sn 20000 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
log "open files limit: $(ulimit -Sn)"
command -v wrk >/dev/null || { log "wrk is missing: apt-get install -y wrk"; exit 1; }
command -v taskset >/dev/null || { log "taskset is missing (util-linux)"; exit 1; }

# Build the packages the bench loads when a source is newer than its dist.
stale=0
for pkg in core server storage-postgres storage-redis; do
  dist="packages/$pkg/dist/index.js"
  if [ ! -f "$dist" ] || [ -n "$(find "packages/$pkg/src" -newer "$dist" -print -quit)" ]; then stale=1; fi
done
if [ "$stale" = 1 ] && [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building core, server and storages (sources are newer than dist)"
  pnpm --filter @pocketping/core --filter @pocketping/storage-postgres --filter @pocketping/storage-redis \
    --filter @pocketping/server build >/dev/null 2>&1 || log "BUILD FAILED: benchmarking the existing dist"
fi

if [ ! -f .services.env ] || ! grep -q DATABASE_URL .services.env; then bash scripts/services.sh >/dev/null || true; fi
set -a; . ./.services.env; set +a

mkdir -p bench/results
rm -f bench/results/*.json
echo "{\"mode\":\"$mode\",\"loadBefore\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"node\":\"$(node --version)\",\"cpus\":$(nproc),\"commit\":\"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\",\"started\":\"$(date -u +%FT%TZ)\"}" > bench/results/run.json
start=$(date +%s)
failed=()
# A failing step is reported and the others still run.
load() { taskset -c "${BENCH_LOAD_CPU:-1}" node "$@" || { failed+=("$*"); log "FAILED: $*"; }; }

if [ "$mode" = quick ]; then
  load bench/http-bench.mjs --storage memory --pairs 5 --duration 2 --warmup 1 --sizes 100,50000
  load bench/realtime-bench.mjs --sizes 1000 --pairs 5 --samples 100 --rounds 2 --cross redis --cross-samples 200
  load bench/memory-bench.mjs --size 2000
else
  for storage in memory postgres redis; do
    load bench/http-bench.mjs --storage "$storage" --pairs 5 --duration 4 --warmup 2 --sizes 100,10000,50000
  done
  load bench/realtime-bench.mjs --sizes 1000,10000 --pairs 5 --samples 200 --rounds 3 --cross redis,postgres
  load bench/memory-bench.mjs --size 10000 --dead
fi

node -e '
const fs=require("fs");const f="bench/results/run.json";const r=JSON.parse(fs.readFileSync(f));
r.loadAfter=fs.readFileSync("/proc/loadavg","utf8").split(" ").slice(0,3).join(" ");r.seconds=Number(process.argv[1]);
fs.writeFileSync(f,JSON.stringify(r,null,2)+"\n");' "$(( $(date +%s) - start ))"
node bench/report.mjs "bash bench/run.sh $mode"
log "done in $(( $(date +%s) - start )) s; figures in bench/RESULTS.md"
if [ "${#failed[@]}" -gt 0 ]; then log "failed steps: ${failed[*]}"; exit 1; fi
