#!/usr/bin/env bash
# DHCPv4 benchmark: perfdhcp (Kea's own load generator, relay mode) against netbootd, Kea 2.2
# single-threaded and Kea 2.2 multi-threaded (`multi-threading` on, as Kea 2.4+ defaults),
# all with the same config and memfile persistence, in network namespaces this script
# creates and removes. Each server is pinned to one core and perfdhcp to the other
# (taskset), so neither steals the other's CPU.
#
# As ISC's performance reports do, the offered rate steps up until more than 2.5% of the
# 4-way exchanges go unanswered; a server's figure is the highest rate of acknowledged
# leases per second below that. Server CPU per 1,000 leases is taken from /proc/PID/stat
# over the steps every server passed (the same offered load for each; when none did, the
# first step alone).
# Servers alternate in every round; with several rounds the medians are compared.
#
# Run as root: ci/bench-dhcp.sh [seconds-per-step] [rounds]
# Last lines: `rate ratio X` and `cpu ratio Y`, Kea single-threaded's figure divided by
# netbootd's (rates inverted), so higher is better for netbootd.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib/dhcp-netns.sh
STEP_SECONDS="${1:-4}"
ROUNDS="${2:-1}"
RATES=(2000 4000 6000 8000 10000 12000 14000 16000 18000 20000 22000 24000 26000 28000 32000 36000 40000)
MAX_DROPS=2.5
SERVER_CPU="${BENCH_SERVER_CPU:-1}"
CLIENT_CPU="${BENCH_CLIENT_CPU:-0}"

dhcp_bench_tools bench-dhcp perfdhcp kea-dhcp4 ip taskset
# BENCH_NETBOOTD=path measures that build instead (an A/B of two commits).
NETBOOTD="$(dhcp_bench_netbootd "${BENCH_NETBOOTD:-}")"

work="$(mktemp -d)"
srv="pfbench$$s"; cli="pfbench$$c"
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
dhcp_netns_up "$srv" "$cli" pfbs pfbc

config() { dhcp_bench_config pfbs "$1" "$2"; } # $1: lease file, $2: extra top-level JSON

# Prints "ACKs-per-second drop-percent acks" for one perfdhcp run at rate $1.
run_rate() {
  local out
  out="$(ip netns exec "$cli" taskset -c "$CLIENT_CPU" perfdhcp -4 -l 10.0.0.2 -r "$1" \
    -p "$STEP_SECONDS" -W 300000 -R 100000000 10.0.0.1 2>&1 || true)"
  echo "$out" | awk -v secs="$STEP_SECONDS" '
    /Statistics for: REQUEST-ACK/ { ack = 1 }
    ack && /^sent packets:/ { sent = $3 }
    ack && /^received packets:/ { got = $3; ack = 0 }
    END { if (sent == 0) { print "0 100 0" } else { printf "%d %.3f %d\n", got / secs, 100 * (sent - got) / sent, got } }'
}

# One stepped run of server $1 (round $2); the command follows. Writes $work/$1.$2.best (the
# rate) and $work/$1.$2.steps (rate, acks, CPU nanoseconds per passed step).
bench() {
  local name="$1" round="$2"; shift 2
  rm -f "$work"/*-leases.csv*
  ip netns exec "$srv" env KEA_LOCKFILE_DIR="$work" KEA_PIDFILE_DIR="$work" \
    taskset -c "$SERVER_CPU" "$@" >"$work/$name.log" 2>&1 &
  server_pid=$!
  sleep 2
  local best=0 before after acks drops got
  : > "$work/$name.$round.steps"
  for rate in "${RATES[@]}"; do
    before="$(cpu_ns "$server_pid")"
    read -r acks drops got < <(run_rate "$rate")
    after="$(cpu_ns "$server_pid")"
    printf '%-12s round %d offered %6d/s  acked %6d/s  drops %7s%%  CPU %5.2f s\n' \
      "$name" "$round" "$rate" "$acks" "$drops" "$(awk -v t=$((after - before)) 'BEGIN { printf "%.3f", t / 1e9 }')"
    if awk -v d="$drops" -v m="$MAX_DROPS" 'BEGIN { exit !(d <= m) }'; then
      best=$acks
      echo "$rate $got $((after - before)) 1" >> "$work/$name.$round.steps"
    else
      echo "$rate $got $((after - before)) 0" >> "$work/$name.$round.steps"
      break
    fi
  done
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  echo "$best" > "$work/$name.$round.best"
}

config "$work/netbootd-leases.csv" "" | sed 's/output_options/output-options/' > "$work/netbootd.json"
config "$work/kea-leases.csv" "" > "$work/kea.json"
config "$work/kea-leases.csv" \
  '"multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },' \
  > "$work/kea-mt.json"
SERVERS=(netbootd kea kea-mt)
run_server() { # $1: name, $2: round
  case "$1" in
    netbootd) bench netbootd "$2" "$NETBOOTD" serve --config "$work/netbootd.json" ;;
    kea) bench kea "$2" kea-dhcp4 -c "$work/kea.json" ;;
    kea-mt) bench kea-mt "$2" kea-dhcp4 -c "$work/kea-mt.json" ;;
  esac
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); server on CPU $SERVER_CPU, perfdhcp on CPU $CLIENT_CPU; $(kea-dhcp4 -v)"
for round in $(seq 1 "$ROUNDS"); do
  # Alternate the order round by round so drift in the machine's load hits every server.
  if [ $((round % 2)) -eq 1 ]; then order=("${SERVERS[@]}"); else order=(kea-mt kea netbootd); fi
  for s in "${order[@]}"; do run_server "$s" "$round"; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Server CPU-seconds per 1000 leases of server $1 in round $2, over the rates every server
# passed; when none did (a machine busy with other work), over the first rate alone.
cpu_per_1000() {
  local common
  common="$(cat "$work"/*."$2".steps | awk '$4 == 1 { print $1 }' | sort -n | uniq -c | awk -v n="${#SERVERS[@]}" '$1 == n { print $2 }' | tr '\n' ' ')"
  [ -n "$common" ] || common="${RATES[0]}"
  awk -v rates="$common" '
    BEGIN { split(rates, r, " "); for (i in r) ok[r[i]] = 1 }
    ($1 in ok) { leases += $2; ns += $3 }
    END { printf "%.4f\n", (leases > 0) ? 1000 * ns / 1e9 / leases : 0 }' "$work/$1.$2.steps"
}
for s in "${SERVERS[@]}"; do
  for round in $(seq 1 "$ROUNDS"); do cat "$work/$s.$round.best"; done | median > "$work/$s.best"
  for round in $(seq 1 "$ROUNDS"); do cpu_per_1000 "$s" "$round"; done | median > "$work/$s.cpu"
  printf '%-12s %6s leases/s below %s%% drops, %s server CPU-seconds per 1000 leases (median of %d)\n' \
    "$s" "$(cat "$work/$s.best")" "$MAX_DROPS" "$(cat "$work/$s.cpu")" "$ROUNDS"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "n/a" }'; }
echo "Kea multi-threaded: rate ratio $(ratio "$(cat "$work/netbootd.best")" "$(cat "$work/kea-mt.best")"), cpu ratio $(ratio "$(cat "$work/kea-mt.cpu")" "$(cat "$work/netbootd.cpu")")"
echo "rate ratio $(ratio "$(cat "$work/netbootd.best")" "$(cat "$work/kea.best")")"
echo "cpu ratio $(ratio "$(cat "$work/kea.cpu")" "$(cat "$work/netbootd.cpu")")"
