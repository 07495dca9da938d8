#!/usr/bin/env bash
# The one-box recipe without containers: N identical app processes on loopback ports behind
# Debian's nginx (run as you, not the system service), each student kept on one process.
#
#   scripts/serve.sh [N] [--port 8080] [--host 127.0.0.1] [--app-port 8601] [--run-dir DIR]
#
# N (default: the number of cores) Streamlit processes listen on 127.0.0.1:APP_PORT...APP_PORT+N-1;
# nginx listens on HOST:PORT (use --host 0.0.0.0 to let a classroom's devices in) with the config
# rendered from deploy/nginx/nnviz.conf.template, the same as docker-compose's. Logs, pid and temp
# files go to the run dir (a fresh temporary folder, removed on exit, unless --run-dir is given).
# Ctrl-C or SIGTERM stops everything. Needs nginx (Debian: apt-get install nginx; the system
# service can stay disabled) and the app's Python packages (PYTHON=/path/to/python to pick one).
set -euo pipefail
cd "$(dirname "$0")/.."

N=""
PORT="${NNVIZ_PORT:-8080}"
HOST="${NNVIZ_HOST:-127.0.0.1}"
APP_PORT="${NNVIZ_APP_PORT:-8601}"
RUN_DIR="${NNVIZ_RUN_DIR:-}"
PYTHON="${PYTHON:-python3}"
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --host) HOST="$2"; shift 2 ;;
    --app-port) APP_PORT="$2"; shift 2 ;;
    --run-dir) RUN_DIR="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *[!0-9]*|"") echo "serve.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    *) N="$1"; shift ;;
  esac
done
N="${N:-$(nproc 2>/dev/null || echo 2)}"
[ "$N" -ge 1 ] || { echo "serve.sh: N must be at least 1" >&2; exit 2; }

NGINX="${NGINX:-$(command -v nginx || true)}"
if [ -z "$NGINX" ] && [ -x /usr/sbin/nginx ]; then NGINX=/usr/sbin/nginx; fi
if [ -z "$NGINX" ] || ! "$NGINX" -v 2>/dev/null; then
  echo "serve.sh: nginx not found (Debian/Ubuntu: sudo apt-get install nginx)" >&2; exit 1
fi
# not in nginx's environment: nginx reads a variable NGINX as sockets inherited on a binary upgrade
# (an [emerg] "invalid socket number" line in its error log at every start)
export -n NGINX
if ! "$PYTHON" -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('streamlit') and u.find_spec('torch')))" 2>/dev/null; then
  echo "serve.sh: $PYTHON lacks the app's packages (pip install -r requirements.txt, or PYTHON=...)" >&2; exit 1
fi

if [ -z "$RUN_DIR" ]; then
  RUN_DIR="$(mktemp -d -t nnviz-serve.XXXXXX)"; REMOVE_RUN_DIR=1
else
  mkdir -p "$RUN_DIR"; RUN_DIR="$(cd "$RUN_DIR" && pwd)"; REMOVE_RUN_DIR=0
fi
mkdir -p "$RUN_DIR/tmp"
# nginx's own error log in the run dir from the start (-e: nginx >= 1.19.5; older ones still run,
# after a harmless alert about /var/log/nginx/error.log)
NGINX_E=()
if "$NGINX" -e "$RUN_DIR/error.log" -v 2>/dev/null; then NGINX_E=(-e "$RUN_DIR/error.log"); fi
# run as root, nginx's workers are `nobody`: they must reach the temp folders (uploads)
[ "$(id -u)" -ne 0 ] || chmod 755 "$RUN_DIR"

PIDS=()
NGINX_PID=""
cleanup() {
  trap - INT TERM EXIT
  [ -z "$NGINX_PID" ] || kill -TERM "$NGINX_PID" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$REMOVE_RUN_DIR" -eq 0 ] || rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'echo; echo "nnviz: stopping"; exit 0' INT TERM

health() { "$PYTHON" - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/_stcore/health", timeout=2) as r:
        sys.exit(0 if r.read().strip() == b"ok" else 1)
except OSError:
    sys.exit(1)
PY
}

# One torch thread per process unless told otherwise: a server's cores belong to its processes,
# and torch's intra-op threads stall when the other cores are busy (issue 10's measurements).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# Two malloc arenas per process: glibc would give each session's thread its own, each keeping what its tensors
# freed (nnviz/runtime.py; 30 different heavy links at once: 610 MB RSS per process instead of 900).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
BACKENDS=()
for i in $(seq 0 $((N - 1))); do
  p=$((APP_PORT + i))
  "$PYTHON" -m streamlit run app.py --server.port "$p" --server.address 127.0.0.1 \
    --server.headless true --server.fileWatcherType none --browser.gatherUsageStats false \
    >"$RUN_DIR/app-$p.log" 2>&1 &
  PIDS+=("$!")
  echo "$!" >"$RUN_DIR/app-$p.pid"
  BACKENDS+=(--backend "127.0.0.1:$p")
done

# The config holds the affinity hash's secret (NNVIZ_AFFINITY_SECRET if set, else a random one per start,
# from render_nginx.py): readable by its owner only
(umask 077 && "$PYTHON" deploy/render_nginx.py --run-dir "$RUN_DIR" --listen "$HOST:$PORT" "${BACKENDS[@]}" \
  >"$RUN_DIR/nginx.conf")
"$NGINX" -t -q "${NGINX_E[@]}" -p "$RUN_DIR/" -c "$RUN_DIR/nginx.conf"

# wait_healthy URL PID SECONDS LOG WHAT: until URL's health check answers ok; give up (showing LOG)
# when the process PID has died or SECONDS have passed.
wait_healthy() {
  local deadline=$((SECONDS + $3))
  until health "$1"; do
    if ! kill -0 "$2" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "serve.sh: $5 did not start; its log:" >&2
      tail -n 30 "$4" >&2; exit 1
    fi
    sleep 0.3
  done
}

for i in $(seq 0 $((N - 1))); do
  p=$((APP_PORT + i))
  wait_healthy "http://127.0.0.1:$p" "${PIDS[$i]}" 120 "$RUN_DIR/app-$p.log" "the app on port $p"
done
# Start each process's warm-up now (nnviz.ui.warm: every lesson link computed once, in the background, students
# first), not when its first student arrives; NNVIZ_WARM=0 turns it off. Its one session's output goes to the log.
if [ "${NNVIZ_WARM:-1}" != "0" ]; then
  for i in $(seq 0 $((N - 1))); do
    p=$((APP_PORT + i))
    "$PYTHON" -m nnviz.ui.warm "$p" >>"$RUN_DIR/app-$p.log" 2>&1 &
  done
fi

"$NGINX" "${NGINX_E[@]}" -p "$RUN_DIR/" -c "$RUN_DIR/nginx.conf" &
NGINX_PID=$!
echo "$NGINX_PID" >"$RUN_DIR/nginx.run.pid"
URL_HOST="$HOST"; [ "$HOST" != "0.0.0.0" ] || URL_HOST="127.0.0.1"
wait_healthy "http://$URL_HOST:$PORT" "$NGINX_PID" 20 "$RUN_DIR/error.log" "nginx"

echo "nnviz: $N app processes (ports $APP_PORT-$((APP_PORT + N - 1))) behind nginx; logs in $RUN_DIR"
if [ "$HOST" = "0.0.0.0" ]; then
  echo "nnviz: open http://$(hostname -I 2>/dev/null | awk '{print $1}'):$PORT/ (students) or http://127.0.0.1:$PORT/"
else
  echo "nnviz: open http://$HOST:$PORT/"
fi
echo "nnviz: Ctrl-C stops it"
# Runs until nginx exits or a signal arrives. An app process that dies is not restarted: nginx
# sends its students to the others (a process manager such as systemd can restart it instead).
wait "$NGINX_PID" || true
echo "serve.sh: nginx exited; its error log:" >&2
tail -n 10 "$RUN_DIR/error.log" >&2
exit 1
