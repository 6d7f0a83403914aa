#!/usr/bin/env bash
# CPU use and tick-to-intent latency of each pipeline.wait strategy, side by side, on the
# shipped config (PAPER, synthetic market at its default pace): for each strategy a fresh
# copy of configs/ with only `wait:` (and the ports) changed, a warm-up, then SECS seconds
# measured: CPU from /proc (the process, and its feed and stage threads), latency from the
# run's tick_to_intent histogram on /metrics. Usage: tools/wait-compare.sh [SECS] [WAITS...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
waits=("$@")
[ ${#waits[@]} -gt 0 ] || waits=(adaptive yield "sleep_us:50" busy_spin)
bin=target/release/aitrapp
[ -x "$bin" ] || cargo build --release --quiet
hz=$(getconf CLK_TCK)

ticks_of() { # pid [tid]: utime + stime in clock ticks
  local f="/proc/$1/stat"
  [ -n "${2:-}" ] && f="/proc/$1/task/$2/stat"
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$f"
}
tid_of() { # pid thread-name
  for t in /proc/"$1"/task/*; do
    if [ "$(cat "$t/comm")" = "$2" ]; then basename "$t"; return; fi
  done
}
quantile() { # metrics-text q: the histogram's q-quantile, microseconds (bucket upper bound)
  awk -v q="$2" '/^aitrapp_tick_to_intent_seconds_bucket/ {
      le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); n[++k] = $2; b[k] = le }
    END { total = n[k]; if (total == 0) { print "n/a"; exit }
      for (i = 1; i <= k; i++) if (n[i] >= q * total) { printf "<= %g", b[i] * 1e6; exit } }' <<<"$1"
}

printf '| wait | process CPU (%% of one core) | feed thread | stage thread | intents | tick->intent p50 (us) | p99 (us) |\n'
printf '|---|---|---|---|---|---|---|\n'
for w in "${waits[@]}"; do
  dir=$(mktemp -d)
  cp -r configs "$dir/"
  port=$((20000 + RANDOM % 20000))
  sed -i "s/^  wait: .*/  wait: \"$w\"/; s/^  api_port: .*/  api_port: $port/; s/^  dashboard_port: .*/  dashboard_port: $((port + 1))/" "$dir/configs/app.yaml"
  (cd "$dir" && exec "$OLDPWD/$bin" run --config configs/app.yaml >/dev/null 2>&1) &
  pid=$!
  sleep 8 # start-up and warm-up
  feed=$(tid_of "$pid" aitrapp-feed); stage=$(tid_of "$pid" aitrapp-stages)
  p0=$(ticks_of "$pid"); f0=$(ticks_of "$pid" "$feed"); s0=$(ticks_of "$pid" "$stage")
  sleep "$secs"
  p1=$(ticks_of "$pid"); f1=$(ticks_of "$pid" "$feed"); s1=$(ticks_of "$pid" "$stage")
  m=$(curl -sf "http://127.0.0.1:$port/metrics" || true)
  kill -TERM "$pid"; wait "$pid" || true
  pct() { awk -v a="$1" -v b="$2" -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.1f", (b - a) / hz / s * 100 }'; }
  n=$(awk '/^aitrapp_tick_to_intent_seconds_count/ { print $2 }' <<<"$m")
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$w" "$(pct "$p0" "$p1")" "$(pct "$f0" "$f1")" \
    "$(pct "$s0" "$s1")" "${n:-0}" "$(quantile "$m" 0.5)" "$(quantile "$m" 0.99)"
  rm -rf "$dir"
done
