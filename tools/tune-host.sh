#!/usr/bin/env bash
# Host tuning for aitrapp's pinned, busy-polling threads.
#
#   tools/tune-host.sh                 check: print each setting, what it is and what we want
#   sudo tools/tune-host.sh --apply --cpus 2,3,4,5
#                                      apply the runtime settings (lost on reboot) and print the
#                                      kernel command line the isolated cores need
#
# --cpus lists the cores configured in pipeline.cpus (the spinning threads). Everything else
# (IRQs, kernel threads, the control/logger side threads) is steered to the remaining cores.
set -euo pipefail

apply=0
cpus=""
while [ $# -gt 0 ]; do
  case "$1" in
    --apply) apply=1 ;;
    --cpus) cpus="${2:?--cpus needs a list like 2,3,4,5}"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$apply" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "--apply needs root" >&2
  exit 2
fi

ncpu=$(nproc --all)
warn=0
row() { # name, current, wanted
  local mark="ok  "
  if [ "$2" != "$3" ]; then mark="WANT"; warn=$((warn + 1)); fi
  printf '%s %-34s now: %-24s want: %s\n' "$mark" "$1" "$2" "$3"
}
readf() { cat "$1" 2>/dev/null || echo "n/a"; }

echo "host: $(uname -n), kernel $(uname -r), $ncpu cpus, allowed: $(taskset -pc $$ 2>/dev/null | sed 's/.*: //')"

# CPU frequency governor: performance keeps the spinning cores at full clock.
gov=$(readf /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor)
if [ "$gov" = "n/a" ]; then
  echo "info cpufreq governor                  not exposed (VM or fixed clock)"
else
  row "cpufreq governor (cpu0)" "$gov" "performance"
  if [ "$apply" = 1 ]; then
    for g in /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor; do echo performance > "$g"; done
  fi
fi

# Clock source: tsc makes clock_gettime a vDSO call (~20 ns), others are syscalls.
row "clocksource" "$(readf /sys/devices/system/clocksource/clocksource0/current_clocksource)" "tsc"

# Transparent huge pages: khugepaged compaction stalls; madvise leaves it to the program.
thp=$(readf /sys/kernel/mm/transparent_hugepage/enabled | sed 's/.*\[\(.*\)\].*/\1/')
row "transparent_hugepage" "$thp" "madvise"
[ "$apply" = 1 ] && [ -w /sys/kernel/mm/transparent_hugepage/enabled ] && echo madvise > /sys/kernel/mm/transparent_hugepage/enabled

# Swapping a hot thread's pages costs milliseconds.
row "vm.swappiness" "$(readf /proc/sys/vm/swappiness)" "1"
[ "$apply" = 1 ] && echo 1 > /proc/sys/vm/swappiness

# Timer migration moves timers onto busy cores.
row "kernel.timer_migration" "$(readf /proc/sys/kernel/timer_migration)" "0"
[ "$apply" = 1 ] && [ -w /proc/sys/kernel/timer_migration ] && echo 0 > /proc/sys/kernel/timer_migration

# irqbalance would move IRQs back onto the isolated cores.
if command -v systemctl >/dev/null 2>&1; then
  irqb=$(systemctl is-active irqbalance 2>/dev/null || true)
  row "irqbalance" "${irqb:-inactive}" "inactive"
  [ "$apply" = 1 ] && systemctl stop irqbalance 2>/dev/null || true
fi

cmdline=$(cat /proc/cmdline)
for k in isolcpus nohz_full rcu_nocbs; do
  v=$(printf '%s\n' "$cmdline" | tr ' ' '\n' | sed -n "s/^$k=//p")
  row "kernel $k" "${v:-unset}" "${cpus:-<pipeline.cpus>}"
done

if [ -n "$cpus" ]; then
  # Steer every IRQ to the housekeeping cores (the complement of --cpus).
  house=""
  for ((c = 0; c < ncpu; c++)); do
    case ",$cpus," in *",$c,"*) ;; *) house="${house:+$house,}$c" ;; esac
  done
  echo "info housekeeping cores (IRQs, side threads): ${house:-none}"
  if [ -z "$house" ]; then
    echo "WANT at least one core outside --cpus for IRQs and the side threads" >&2
    warn=$((warn + 1))
  elif [ "$apply" = 1 ]; then
    for f in /proc/irq/*/smp_affinity_list; do echo "$house" > "$f" 2>/dev/null || true; done
    echo "done IRQ affinity -> $house"
  fi
  echo "kernel command line for the isolated cores (add to GRUB_CMDLINE_LINUX, then reboot):"
  echo "  isolcpus=nohz,domain,managed_irq,$cpus nohz_full=$cpus rcu_nocbs=$cpus intel_idle.max_cstate=1 processor.max_cstate=1"
fi

if [ "$apply" = 1 ]; then
  echo "applied the runtime settings; run again without --apply to check"
fi
echo "$warn setting(s) differ from what aitrapp wants"
