#!/usr/bin/env bash
# Live latency and flow report from a running aitrapp's Prometheus endpoint.
#
#   tools/latency-report.sh                      one report from http://127.0.0.1:8000/metrics
#   tools/latency-report.sh --every 5            a report every 5 s with per-second rates
#   AITRAPP_URL=http://127.0.0.1:8001 tools/latency-report.sh
#
# Tick-to-order-intent quantiles come from the order stage's HDR histogram (updated every 64
# intents). For the full histogram of a synthetic day run `cargo bench --bench pipeline`.
set -euo pipefail
url="${AITRAPP_URL:-http://127.0.0.1:8000}/metrics"
every=0
while [ $# -gt 0 ]; do
  case "$1" in
    --every) every="${2:?--every needs seconds}"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

scrape() {
  curl -sf --max-time 2 "$url" | awk '!/^#/ && NF == 2 { sub(/^aitrapp_/, "", $1); print $1, $2 }' || {
    echo "cannot read $url (is aitrapp running?)" >&2
    exit 1
  }
}
val() { awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' <<<"$2"; }

report() { # now, previous (may be empty), seconds between them
  local now="$1" prev="$2" dt="$3"
  printf '%s\n' "$(date '+%H:%M:%S')  tick->intent p50 $(val tick_to_intent_p50_seconds "$now") s  p99 $(val tick_to_intent_p99_seconds "$now") s  max $(val tick_to_intent_max_seconds "$now") s"
  for k in feed_frames_total feed_ticks_total feed_malformed_frames_total 'ring_full_total{ring="feed_to_strategy"}' \
    'ring_full_total{ring="strategy_to_risk"}' 'ring_full_total{ring="risk_to_order"}' inbox_full_total 'orders_total{status="sent"}' 'orders_total{status="filled"}' \
    hot_log_dropped_total; do
    local n p rate=""
    n=$(val "$k" "$now")
    if [ -n "$prev" ] && [ "$dt" -gt 0 ]; then
      p=$(val "$k" "$prev")
      rate=$(awk -v a="$n" -v b="$p" -v t="$dt" 'BEGIN { printf "  (%.1f/s)", (a - b) / t }')
    fi
    printf '  %-28s %12s%s\n' "$k" "$n" "$rate"
  done
}

cur=$(scrape)
report "$cur" "" 0
while [ "$every" -gt 0 ]; do
  sleep "$every"
  prev="$cur"
  cur=$(scrape)
  report "$cur" "$prev" "$every"
done
