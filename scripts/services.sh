#!/usr/bin/env bash
# Starts the services the test suite needs (PostgreSQL, Redis) when they are not running,
# installing them with apt-get when missing. Prints the URLs and writes them to
# .services.env (sourced by scripts/test.sh). Safe to run repeatedly.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
envfile="$root/.services.env"
: > "$envfile"
log() { printf '[services] %s\n' "$*" >&2; }

apt_ready=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || { log "apt-get is not available; install $* by hand"; return 1; }
  if [ "$apt_ready" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true; apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

# ---------------------------------------------------------------- PostgreSQL
start_postgres() {
  local host=127.0.0.1 port=${PGPORT_TEST:-5432}
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$host" -p "$port"; then
    log "PostgreSQL is already running on $host:$port"
  else
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
      log "PostgreSQL is not installed; installing it with apt-get"
      apt_install postgresql || { log "could not install PostgreSQL"; return 1; }
    fi
    # The packaged cluster first (that is what these machines run), then a throwaway one.
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
      local ver
      ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
    fi
    if ! pg_isready -q -h "$host" -p "$port" 2>/dev/null; then
      local bindir dir
      bindir="$(dirname "$(ls /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n 1)")"
      dir=/tmp/pocketping-pg
      if [ ! -f "$dir/PG_VERSION" ]; then
        rm -rf "$dir"; mkdir -p "$dir"; chown postgres "$dir" 2>/dev/null || true
        as_postgres "$bindir/initdb -D $dir -U postgres --auth=trust >/dev/null"
      fi
      as_postgres "$bindir/pg_ctl -D $dir -o \"-p $port -c listen_addresses=$host -k $dir\" -l $dir/log -w start >/dev/null"
    fi
    for _ in $(seq 1 50); do pg_isready -q -h "$host" -p "$port" && break; sleep 0.2; done
    pg_isready -q -h "$host" -p "$port" || { log "PostgreSQL did not start"; return 1; }
    log "PostgreSQL started on $host:$port"
  fi
  local user=postgres
  if ! psql -h "$host" -p "$port" -U "$user" -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    log "cannot log in to PostgreSQL as $user with trust auth on $host:$port"
    return 1
  fi
  if [ "$(psql -h "$host" -p "$port" -U "$user" -d postgres -tAc "select 1 from pg_database where datname='test'")" != 1 ]; then
    psql -h "$host" -p "$port" -U "$user" -d postgres -qc 'create database test' >/dev/null
  fi
  echo "DATABASE_URL=postgres://$user@$host:$port/test" >> "$envfile"
}

# ---------------------------------------------------------------- Redis
start_redis() {
  local host=127.0.0.1 port=${REDIS_PORT_TEST:-6379}
  if command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h "$host" -p "$port" ping 2>/dev/null)" = PONG ]; then
    log "Redis is already running on $host:$port"
  else
    if ! command -v redis-server >/dev/null 2>&1; then
      log "Redis is not installed; installing redis-server with apt-get"
      apt_install redis-server || { log "could not install Redis"; return 1; }
    fi
    local dir=/tmp/pocketping-redis
    mkdir -p "$dir"
    redis-server --daemonize yes --bind "$host" --port "$port" --save '' --appendonly no --dir "$dir" \
      --logfile "$dir/redis.log" >/dev/null
    for _ in $(seq 1 50); do [ "$(redis-cli -h "$host" -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
    [ "$(redis-cli -h "$host" -p "$port" ping 2>/dev/null)" = PONG ] || { log "Redis did not start"; return 1; }
    log "Redis started on $host:$port"
  fi
  echo "REDIS_URL=redis://$host:$port" >> "$envfile"
}

# ---------------------------------------------------------------- Chromium (browser tests)
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    log "Chromium is installed"
  else
    log "Chromium is not installed; installing Debian's chromium with apt-get (browser tests need it)"
    apt_install chromium || { log "could not install chromium"; return 1; }
  fi
  echo "CHROMIUM_PATH=/usr/bin/chromium" >> "$envfile"
}

status=0
start_postgres || status=1
start_redis || status=1
ensure_chromium || status=1
cat "$envfile"
exit $status
