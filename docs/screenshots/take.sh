#!/usr/bin/env bash
# Screenshots of the Dagster UI for the README, after `./dev run`: headless Chromium against `parlay ui`.
#   docs/screenshots/take.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/../.."
port=${1:-3070}
out=docs/screenshots
.venv/bin/parlay ui --port "$port" --no-daemon >/tmp/parlay-ui-screenshots.log 2>&1 &
ui=$!
trap 'kill "$ui" 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do curl -sf "http://127.0.0.1:$port/server_info" >/dev/null && break; sleep 1; done
shot() {  # shot NAME PATH [HEIGHT]
  /usr/bin/chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1900,"${3:-1000}" \
    --virtual-time-budget=40000 --screenshot="$out/$1.png" "http://127.0.0.1:$port$2" 2>/dev/null
}
shot asset-graph "/asset-groups" 1000
shot pnl-inline-plot "/assets/ledger/pnl" 1250
shot ensemble-table-with-schema "/assets/pricing/ensemble" 1150
shot jobs-runs "/locations/parlay/jobs/main_prepare/runs" 700
