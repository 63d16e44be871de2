#!/usr/bin/env bash
# Distributed Locust runs of loadtests/locustfile.py, for when one load-generator process
# (one core: Python's GIL) is no longer enough to load the proxy fleet.
#
#   loadtests/distributed.sh local  N HOST_URL [locust options]   one machine: a master + N worker processes
#   loadtests/distributed.sh master N HOST_URL [locust options]   coordinate; start once N workers joined
#   loadtests/distributed.sh worker MASTER_ADDR [locust options]  one worker per core of this machine
#
# Examples (see docs/load-testing.md):
#   loadtests/distributed.sh local 4 http://proxy.internal:3000 -u 2000 -r 200 -t 5m --tags chat-stream
#   loadtests/distributed.sh master 8 http://proxy.internal:3000 -u 10000 -r 500 -t 10m --csv run1
#   loadtests/distributed.sh worker 10.0.0.5          # on each load machine, after the master
#
# The API key comes from --api-key or LOCUST_API_KEY (default sim-key). Workers need the
# same checkout (or `--locustfile -` to fetch the file from the master) and a route to
# the master's port 5557. Results are the master's: its CSVs (--csv) and summary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
locust="${LOCUST:-$here/../.venv/bin/locust}"
[ -x "$locust" ] || locust="$(command -v locust || true)"
[ -n "$locust" ] || { echo "distributed.sh: locust not found; run 'make install' or set LOCUST=/path/to/locust" >&2; exit 2; }
file="$here/locustfile.py"
usage() { sed -n '5,7p' "$0" | sed 's/^# //' >&2; exit 2; }
[ $# -ge 2 ] || usage
mode="$1"; shift
case "$mode" in
  local)
    n="$1"; host="$2"; shift 2
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "distributed.sh: N must be a positive number of worker processes" >&2; exit 2; }
    exec "$locust" -f "$file" --headless -H "$host" --processes "$n" "$@"
    ;;
  master)
    [ $# -ge 2 ] || usage
    n="$1"; host="$2"; shift 2
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "distributed.sh: N must be a positive number of workers" >&2; exit 2; }
    exec "$locust" -f "$file" --master --headless -H "$host" --expect-workers "$n" "$@"
    ;;
  worker)
    master="$1"; shift
    exec "$locust" -f "$file" --worker --master-host "$master" --processes -1 "$@"
    ;;
  *) usage ;;
esac
