#!/usr/bin/env bash
# Side-by-side load benchmark: a live `idp serve` (one gunicorn worker) against the reference peer
# (panva oidc-provider, from ../shared/peers), same driver, same machine, same pinning, interleaved.
#
#   bench/run.sh                                  # RUNS=1 DURATION=10 WARMUP=2 CONC=16
#   RUNS=3 DURATION=15 bench/run.sh               # more runs, longer
#   WORKLOADS=discovery,jwks bench/run.sh         # a subset
#   DB=postgres bench/run.sh                      # the IdP on a fresh PostgreSQL database (PG_URL)
#   WORKERS=2 SERVER_CPU=0,1 bench/run.sh         # more gunicorn workers, on more cores
#   PROFILE=1 bench/run.sh                        # py-spy samples the IdP in each measured window
#   WORKERS_LIST=1,2,4 bench/run.sh               # the workers table: the IdP with 1, 2, 4 workers on 2 cores
#
# Everything listens on and targets 127.0.0.1 only. Every process started here runs under
# `timeout` and is stopped by PID on exit (trap). Results go to bench/results/<stamp>/; the final
# markdown table is printed at the end and kept in summary.md. See bench/README.md.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$BENCH" rev-parse --show-toplevel 2>/dev/null || (cd "$BENCH/.." && pwd))
PEERS_SRC=${PEERS_DIR:-$ROOT/../shared/peers}
PEERS=${PEERS_WORK:-$BENCH/.peers}          # writable run-time copy (node_modules/, .venv/ live here)
IDP=${IDP_BIN:-$ROOT/.venv/bin/idp}

RUNS=${RUNS:-1}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONC=${CONC:-16}
QUIET_WAIT=${QUIET_WAIT:-10}                 # driver waits (bounded) for the machine to go idle
# WORKERS_LIST=1,2,4: the workers table. The IdP runs once per worker count (on SERVER_CPU, 0,1 by
# default), the peer once per run as the one-core reference (PEER_CPU); see README, "Workers table".
WORKERS_LIST=${WORKERS_LIST:-}
if [ -n "$WORKERS_LIST" ]; then
  WORKLOADS=${WORKLOADS:-refresh,userinfo,discovery}
  SERVER_CPU=${SERVER_CPU:-0,1}
fi
WORKLOADS=${WORKLOADS:-discovery,jwks,introspect,authcode,refresh,userinfo}
IFS=, read -ra WL <<<"$WORKLOADS"
# engines for the single-request workloads (discovery, jwks, introspect); authcode, refresh and
# userinfo always run on the driver's aiohttp engine. autocannon has the higher ceiling (req/s),
# aiohttp gives valid latencies against servers that close every connection (see README).
ENGINES=${ENGINES:-autocannon,aiohttp}
IFS=, read -ra ENG <<<"$ENGINES"
for e in "${ENG[@]}"; do
  [[ $e == autocannon || $e == aiohttp ]] || { echo "ENGINES: autocannon and/or aiohttp, got '$e'" >&2; exit 2; }
done
IDP_PORT=${IDP_PORT:-5055}
PEER_PORT=${PEER_PORT:-3055}
SERVER_CPU=${SERVER_CPU:-0}
if [ -n "$WORKERS_LIST" ]; then PEER_CPU=${PEER_CPU:-${SERVER_CPU%%,*}}; else PEER_CPU=${PEER_CPU:-$SERVER_CPU}; fi
WORKERS=${WORKERS:-1}                        # gunicorn workers of the IdP
THREADS=${THREADS:-4}                        # threads per worker (idp serve's default)
DB=${DB:-sqlite}                             # sqlite (the instance's file) or postgres
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
DRIVER_CPU=${DRIVER_CPU:-1}
PROFILE=${PROFILE:-0}                        # 1: py-spy records the IdP during each measured window
PROFILE_RATE=${PROFILE_RATE:-100}            # py-spy samples per second
PROFILE_ARGS=${PROFILE_ARGS:-}               # more py-spy record arguments, space separated (e.g. --idle)
BENCH_EMAIL=${BENCH_EMAIL:-bench-user@example.test}
BENCH_PASSWORD=${BENCH_PASSWORD:-Bench-passw0rd-for-load-tests}
REDIRECT_URI=${REDIRECT_URI:-http://127.0.0.1:8999/cb}   # never contacted
SERVER_TIMEOUT=${SERVER_TIMEOUT:-1800}       # hard cap on each server process (s)
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-$BENCH/results/$STAMP}

[[ $DB == sqlite || $DB == postgres ]] || { echo "DB: sqlite or postgres, got '$DB'" >&2; exit 2; }
[[ $PROFILE == 0 || $PROFILE == 1 ]] || { echo "PROFILE: 0 or 1, got '$PROFILE'" >&2; exit 2; }
WLIST=()
if [ -n "$WORKERS_LIST" ]; then
  IFS=, read -ra WLIST <<<"$WORKERS_LIST"
  for w in "${WLIST[@]}"; do
    [[ $w =~ ^[0-9]+$ ]] && (( w >= 1 && w <= 16 )) || { echo "WORKERS_LIST: whole numbers 1..16, got '$w'" >&2; exit 2; }
  done
fi
for v in RUNS DURATION WARMUP CONC QUIET_WAIT IDP_PORT PEER_PORT SERVER_TIMEOUT WORKERS THREADS PROFILE_RATE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a whole number (autocannon takes whole seconds), got '${!v}'" >&2; exit 2; }
done
(( RUNS >= 1 && RUNS <= 20 && DURATION >= 1 && DURATION <= 300 && CONC >= 1 && CONC <= 256 )) \
  || { echo "bounds: 1<=RUNS<=20, 1<=DURATION<=300, 1<=CONC<=256" >&2; exit 2; }
# one driver call per workload: warmup + measured + quiet wait + pre-check/setup flows + slack
DRIVER_TIMEOUT=$(( WARMUP + DURATION + QUIET_WAIT + 120 ))

[ -d "$PEERS_SRC/node-oidc-provider" ] && [ -f "$PEERS_SRC/driver/oidc_load.py" ] \
  || { echo "peers not found at $PEERS_SRC (set PEERS_DIR)" >&2; exit 1; }
[ -x "$IDP" ] || { echo "missing $IDP: create $ROOT/.venv and pip install -e . there" >&2; exit 1; }
for t in taskset timeout node npm curl python3; do
  command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
done

mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }

# ----------------------------------------------------------------------------- process bookkeeping
PIDS=()          # everything started in the background here (servers, driver), by PID
INST=""          # the IdP's temporary instance dir
BENCH_DB=""      # the IdP's temporary PostgreSQL database (DB=postgres)

tree_pids() {    # a PID and all its descendants (live)
  local p=$1 c
  echo "$p"
  for c in $(pgrep -P "$p" 2>/dev/null); do tree_pids "$c"; done
}

stop_pid() {     # TERM the process tree of one PID we started; KILL what is left after 10 s
  local p=$1 tree i
  kill -0 "$p" 2>/dev/null || return 0
  tree=$(tree_pids "$p" | tr '\n' ' ')
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  for i in $tree; do kill -KILL "$i" 2>/dev/null || true; done
  wait "$p" 2>/dev/null || true
}

cleanup() {
  local p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$p"; done
  PIDS=()
  if [ -n "$INST" ]; then rm -rf "$INST"; INST=""; fi
  if [ -n "$BENCH_DB" ]; then
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 || true; BENCH_DB=""
  fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

forget_pid() {
  local p=$1 keep=() q
  for q in "${PIDS[@]+"${PIDS[@]}"}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

port_free() { ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; }

wait_http() {    # bounded readiness probe: URL PID
  local i
  for i in $(seq 1 200); do
    curl -sf -o /dev/null --max-time 2 "$1" && return 0
    kill -0 "$2" 2>/dev/null || { log "server exited before it was ready ($1)"; return 1; }
    sleep 0.1
  done
  log "not ready after 20 s: $1"; return 1
}

pin_report() {   # which cores every process of the server's tree may run on
  local p
  for p in $(tree_pids "$1"); do
    printf '  pid %s %s: %s\n' "$p" "$(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-80)" \
      "$(taskset -pc "$p" 2>/dev/null | sed 's/.*: //')"
  done
}

# ----------------------------------------------------------------------------- peers: copy + install
log "peers: $PEERS_SRC -> $PEERS"
mkdir -p "$PEERS"
# refresh the sources each run (so a changed peer is picked up); keep installed deps
(cd "$PEERS_SRC" && tar cf - --exclude=node_modules --exclude=.venv --exclude=results --exclude='*.db' .) \
  | (cd "$PEERS" && tar xf - --no-same-owner)
find "$PEERS" \( -name node_modules -o -name .venv \) -prune -o -exec chmod u+w {} +

installed() {    # installed DIR LOCKFILE: true when DIR was installed from this exact lock file
  [ -f "$1/.bench-installed" ] && [ "$(cat "$1/.bench-installed")" = "$(sha256sum "$2" | cut -d' ' -f1)" ]
}
mark_installed() { sha256sum "$2" | cut -d' ' -f1 >"$1/.bench-installed"; }

if ! installed "$PEERS/.venv" "$PEERS/requirements.txt"; then
  log "driver venv: pip install -r requirements.txt"
  rm -rf "$PEERS/.venv"
  timeout 600 python3 -m venv "$PEERS/.venv"
  timeout 600 "$PEERS/.venv/bin/pip" install -q --disable-pip-version-check -r "$PEERS/requirements.txt" >>"$OUT/install.log" 2>&1 \
    || { log "pip install failed, see $OUT/install.log"; exit 1; }
  mark_installed "$PEERS/.venv" "$PEERS/requirements.txt"
fi
for d in node-oidc-provider driver; do
  if ! installed "$PEERS/$d/node_modules" "$PEERS/$d/package-lock.json"; then
    log "npm ci in $d"
    (cd "$PEERS/$d" && timeout 600 npm ci --no-audit --no-fund) >>"$OUT/install.log" 2>&1 \
      || { log "npm ci failed in $d, see $OUT/install.log"; exit 1; }
    mark_installed "$PEERS/$d/node_modules" "$PEERS/$d/package-lock.json"
  fi
done
(cd "$PEERS/node-oidc-provider" && node -e "require.resolve('argon2')" 2>/dev/null) \
  || { log "the peer's optional argon2 package is missing (needed for LOGIN_ARGON2=1)"; exit 1; }
PY=$PEERS/.venv/bin/python
PYSPY=${PYSPY:-$PEERS/.venv/bin/py-spy}
if [ "$PROFILE" = 1 ] && [ ! -x "$PYSPY" ]; then
  log "py-spy: pip install into $PEERS/.venv"
  timeout 600 "$PEERS/.venv/bin/pip" install -q --disable-pip-version-check 'py-spy>=0.4,<0.5' >>"$OUT/install.log" 2>&1 \
    || { log "pip install py-spy failed, see $OUT/install.log"; exit 1; }
fi

# ----------------------------------------------------------------------------- the IdP instance
INST=$(mktemp -d /tmp/idp-bench.XXXXXX)
export IDP_ISSUER="http://127.0.0.1:$IDP_PORT" IDP_INSTANCE_PATH="$INST" IDP_KEYS_DIR="$INST/keys"
log "idp instance: $INST"
if [ "$DB" = postgres ]; then
  BENCH_DB="idp_bench_$$"
  psql -q "$PG_URL" -c "CREATE DATABASE $BENCH_DB" >/dev/null || { log "cannot create a database at $PG_URL"; exit 1; }
  export IDP_DATABASE_URL="${PG_URL%/*}/$BENCH_DB"
  log "idp database: PostgreSQL ${IDP_DATABASE_URL%%@*}@…/$BENCH_DB"
fi
timeout 120 "$IDP" init --json >"$OUT/idp-init.json"
timeout 60 "$IDP" users create --email "$BENCH_EMAIL" --password "$BENCH_PASSWORD" --name "Bench User" --json >"$OUT/idp-user.json"
timeout 60 "$IDP" clients add --name bench --redirect-uri "$REDIRECT_URI" --trusted --json >"$INST/client.json"
CLIENT_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_id"])' "$INST/client.json")
CLIENT_SECRET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_secret"])' "$INST/client.json")

# ----------------------------------------------------------------------------- machine notes
{
  echo "stamp: $STAMP"
  echo "repo: $ROOT @ $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo ' (work tree has local changes)')"
  echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  echo "node: $(node --version); python (driver): $("$PY" -c 'import sys; print(sys.version.split()[0])'); python (idp): $("$ROOT/.venv/bin/python" -c 'import sys; print(sys.version.split()[0])')"
  echo "oidc-provider: $(node -p "require('$PEERS/node-oidc-provider/node_modules/oidc-provider/package.json').version")"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "settings: RUNS=$RUNS DURATION=$DURATION WARMUP=$WARMUP CONC=$CONC QUIET_WAIT=$QUIET_WAIT SERVER_CPU=$SERVER_CPU PEER_CPU=$PEER_CPU DRIVER_CPU=$DRIVER_CPU DB=$DB WORKERS=${WORKERS_LIST:-$WORKERS} THREADS=$THREADS PROFILE=$PROFILE"
  [ "$PROFILE" = 1 ] && echo "profiler: $("$PYSPY" --version) record --nonblocking --subprocesses --rate $PROFILE_RATE $PROFILE_ARGS (ptrace_scope: $(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 'no Yama'))"
  echo "workloads: $WORKLOADS (single-request ones on: $ENGINES)"
} >"$OUT/meta.txt"
cat "$OUT/meta.txt" >&2

# ----------------------------------------------------------------------------- argon2id alone
# The code flow checks one argon2id hash per sign-in: its ceiling on this core, with the IdP's own
# parameters (idp.accounts.passwords), so the report can say how close the flow comes to it.
IDP_PY=$(dirname "$IDP")/python
taskset -c "$SERVER_CPU" timeout 60 "$IDP_PY" - >"$OUT/argon2.txt" 2>>"$OUT/install.log" <<'PYEOF' || log "argon2id measurement failed"
import time
from idp.accounts import passwords
stored = passwords.hash_password("Bench-passw0rd-for-load-tests")
passwords.verify_password("Bench-passw0rd-for-load-tests", expected_hash=stored)
count, started = 0, time.perf_counter()
while time.perf_counter() - started < 3:
    passwords.verify_password("Bench-passw0rd-for-load-tests", expected_hash=stored)
    count += 1
print(f"{count / (time.perf_counter() - started):.2f} checks/s")
PYEOF
[ -s "$OUT/argon2.txt" ] && log "argon2id alone on core $SERVER_CPU: $(cat "$OUT/argon2.txt")"

# ----------------------------------------------------------------------------- servers
SRV_PID=""
start_idp() {    # start_idp [WORKERS]
  port_free "$IDP_PORT" || { log "port $IDP_PORT is busy"; return 1; }
  # taskset outermost: the timeout wrapper, gunicorn's master and its workers all inherit the core(s)
  taskset -c "$SERVER_CPU" timeout "$SERVER_TIMEOUT" "$IDP" serve --host 127.0.0.1 --port "$IDP_PORT" --workers "${1:-$WORKERS}" --threads "$THREADS" \
    >>"$OUT/idp-serve.log" 2>&1 &
  SRV_PID=$!; PIDS+=("$SRV_PID")
  wait_http "http://127.0.0.1:$IDP_PORT/.well-known/openid-configuration" "$SRV_PID"
}

start_peer() {
  port_free "$PEER_PORT" || { log "port $PEER_PORT is busy"; return 1; }
  (cd "$PEERS/node-oidc-provider" && \
    exec env -u IDP_ISSUER -u IDP_INSTANCE_PATH -u IDP_KEYS_DIR \
      PORT="$PEER_PORT" HOST=127.0.0.1 CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" REDIRECT_URI="$REDIRECT_URI" \
      LOGIN_ARGON2=1 LOGIN_PASSWORD="$BENCH_PASSWORD" ROTATE_REFRESH_TOKEN=1 \
      taskset -c "$PEER_CPU" timeout "$SERVER_TIMEOUT" node provider.mjs) >>"$OUT/peer.log" 2>&1 &
  SRV_PID=$!; PIDS+=("$SRV_PID")
  wait_http "http://127.0.0.1:$PEER_PORT/.well-known/openid-configuration" "$SRV_PID"
}

stop_server() {
  stop_pid "$SRV_PID"; forget_pid "$SRV_PID"; SRV_PID=""
}

# ----------------------------------------------------------------------------- driver
: >"$OUT/failures.tsv"
PROFILE_PID=""   # the IdP's gunicorn master while PROFILE=1 and py-spy can attach to it (bench_target)
drive_one() {   # drive_one RUN TARGET ISSUER WORKLOAD ENGINE: one driver process, so that a
  local run=$1 target=$2 issuer=$3 wl=$4 eng=$5 rc drv logf why   # failed pre-check stops only it
  local driver=("$PEERS/driver/oidc_load.py")
  logf="$OUT/run$run-$target-$wl-$eng.log"
  if [ -n "$PROFILE_PID" ]; then   # the same driver, with py-spy on the master and workers in the measured window
    local extra=() a
    for a in $PROFILE_ARGS; do extra+=(--py-spy-arg="$a"); done
    driver=("$BENCH/profiled_driver.py" --driver "$PEERS/driver/oidc_load.py" --py-spy "$PYSPY" --pid "$PROFILE_PID"
            --rate "$PROFILE_RATE" --out "$OUT/profile-run$run-$target-$wl-$eng.txt" "${extra[@]+"${extra[@]}"}" --)
  fi
  taskset -c "$DRIVER_CPU" timeout "$DRIVER_TIMEOUT" "$PY" "${driver[@]}" \
    --issuer="$issuer" --client-id="$CLIENT_ID" --client-secret="$CLIENT_SECRET" \
    --redirect-uri="$REDIRECT_URI" --username="$BENCH_EMAIL" --password="$BENCH_PASSWORD" \
    --engine "$eng" --workloads "$wl" --introspect-via authcode \
    --duration "$DURATION" --warmup "$WARMUP" --concurrency "$CONC" --quiet-wait "$QUIET_WAIT" \
    --server-pid "$SRV_PID" --label "run$run $target" --json-out "$OUT/load.jsonl" >"$logf" 2>&1 &
  drv=$!; PIDS+=("$drv")
  rc=0; wait "$drv" || rc=$?
  forget_pid "$drv"
  if [ "$rc" = 0 ] && grep -q "^| $wl |" "$logf"; then
    log "run$run $target $(grep "^| $wl |" "$logf" | tail -1)"
  else
    why=$(grep -v '^[[:space:]]*$' "$logf" | tail -1 | tr '\t' ' ' | cut -c1-400)
    [ "$rc" = 124 ] && why="driver timed out after ${DRIVER_TIMEOUT}s; $why"
    log "run$run $target $wl ($eng) FAILED (rc=$rc): $why"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "run$run" "$target" "$wl" "$eng" "$rc" "$why" >>"$OUT/failures.tsv"
  fi
}

drive_all() {   # drive_all RUN TARGET ISSUER
  local run=$1 target=$2 issuer=$3 wl eng
  for wl in "${WL[@]}"; do
    case $wl in
      authcode|refresh|userinfo) drive_one "$run" "$target" "$issuer" "$wl" aiohttp ;;  # stateful: aiohttp only
      *) for eng in "${ENG[@]}"; do drive_one "$run" "$target" "$issuer" "$wl" "$eng"; done ;;
    esac
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      log "run$run $target: the server died during $wl"; return 1
    fi
  done
}

bench_target() {  # bench_target RUN TARGET (idp, idp-wN: N workers, or peer)
  local run=$1 target=$2 issuer
  case $target in
    idp) start_idp; issuer="http://127.0.0.1:$IDP_PORT" ;;
    idp-w*) start_idp "${target#idp-w}"; issuer="http://127.0.0.1:$IDP_PORT" ;;
    *) start_peer; issuer="http://127.0.0.1:$PEER_PORT" ;;
  esac
  { echo "run$run $target pinning:"; pin_report "$SRV_PID"; } >>"$OUT/meta.txt"
  PROFILE_PID=""
  if [ "$PROFILE" = 1 ] && [[ $target == idp* ]]; then
    # the gunicorn master: the only child of `timeout` (SRV_PID; taskset exec'd it); py-spy follows its workers
    local master; master=$(pgrep -P "$SRV_PID" | head -1)
    if [ -n "$master" ] && timeout 30 "$PYSPY" dump --nonblocking --pid "$master" >"$OUT/py-spy-check.log" 2>&1; then
      PROFILE_PID=$master
    else
      log "PROFILE=1 but py-spy cannot attach to pid ${master:-?} (see $OUT/py-spy-check.log and README, 'ptrace'): no profile for run$run $target"
      printf 'run%s %s: py-spy could not attach: %s\n' "$run" "$target" "$(tail -1 "$OUT/py-spy-check.log" 2>/dev/null)" >>"$OUT/profile-failures.txt"
    fi
  fi
  # does the server keep connections alive? (gunicorn's sync worker closes each one; autocannon
  # then mis-measures latency, see README)
  local conn; conn=$(curl -s -D - -o /dev/null --max-time 5 "$issuer/.well-known/openid-configuration" \
    | tr -d '\r' | awk -F': *' 'tolower($1)=="connection" {print tolower($2)}')
  printf '%s\t%s\t%s\n' "run$run" "$target" "${conn:-keep-alive}" >>"$OUT/connection.tsv"
  log "run$run $target up (pid $SRV_PID, $issuer)"
  drive_all "$run" "$target" "$issuer" || true
  stop_server
}

for run in $(seq 1 "$RUNS"); do
  # interleave, alternating who goes first so neither always gets the quieter slot
  if [ -n "$WORKERS_LIST" ]; then
    idps=""; for w in "${WLIST[@]}"; do idps="$idps idp-w$w"; done
    if (( run % 2 == 1 )); then order="peer$idps"; else order="$(echo "$idps" | tr ' ' '\n' | tac | tr '\n' ' ') peer"; fi
  elif (( run % 2 == 1 )); then order="idp peer"; else order="peer idp"; fi
  for target in $order; do bench_target "$run" "$target"; done
done

cleanup
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
"$PY" "$BENCH/report.py" "$OUT" | tee "$OUT/summary.md"
log "results: $OUT"
