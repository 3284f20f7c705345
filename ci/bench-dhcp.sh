#!/usr/bin/env bash
# DHCPv4 benchmark: perfdhcp (Kea's own load generator, relay mode) against netbootd and then
# against Kea 2.2 with the same config, in network namespaces this script creates and removes.
# For each server it steps the offered rate up and reports the highest rate answered with
# under 0.1% drops (4-way exchanges per second = leases per second), then the ratio.
# Run as root: ci/bench-dhcp.sh [seconds-per-step]
set -euo pipefail
cd "$(dirname "$0")/.."
STEP_SECONDS="${1:-5}"
RATES=(1000 2000 4000 8000 12000 16000 24000)

for tool in perfdhcp kea-dhcp4 ip; do
  command -v "$tool" >/dev/null || { echo "bench-dhcp: $tool missing (ci/setup.sh)" >&2; exit 2; }
done
cargo build --release -q -p netbootd
NETBOOTD="$PWD/target/release/netbootd"

work="$(mktemp -d)"
srv="nbbench$$s"; cli="nbbench$$c"
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$srv"; ip netns add "$cli"
ip -n "$srv" link add nbbs type veth peer name nbbc netns "$cli"
ip -n "$srv" addr add 10.0.0.1/24 dev nbbs
ip -n "$cli" addr add 10.0.0.2/24 dev nbbc
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set nbbs up; ip -n "$cli" link set nbbc up

config() { # $1: lease file
  cat <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "nbbs" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "name": "$1", "lfc-interval": 0 },
  "valid-lifetime": 3600,
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "pools": [ { "pool": "10.1.0.0 - 10.255.255.254" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "stdout" } ] } ]
} }
JSON
}

# perfdhcp needs a core of its own, so on a small machine it may saturate before either
# server does; the CPU time each server spent per 1000 leases is printed as well, which
# compares the servers even when the client is the limit.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ="$(getconf CLK_TCK)"

# Prints "ACKs-per-second drop-percent acks" for one perfdhcp run at rate $1.
run_rate() {
  local out
  out="$(ip netns exec "$cli" perfdhcp -4 -l 10.0.0.2 -r "$1" -p "$STEP_SECONDS" -R 100000000 10.0.0.1 2>&1 || true)"
  echo "$out" | awk -v secs="$STEP_SECONDS" '
    /Statistics for: REQUEST-ACK/ { ack = 1 }
    ack && /^sent packets:/ { sent = $3 }
    ack && /^received packets:/ { got = $3; ack = 0 }
    END { if (sent == 0) { print "0 100 0" } else { printf "%d %.3f %d\n", got / secs, 100 * (sent - got) / sent, got } }'
}

bench() { # $1: name, rest: server command
  local name="$1"; shift
  ip netns exec "$srv" env KEA_LOCKFILE_DIR="$work" KEA_PIDFILE_DIR="$work" "$@" >"$work/$name.log" 2>&1 &
  server_pid=$!
  sleep 2
  local best=0 total=0 before after
  before="$(cpu_ticks "$server_pid")"
  for rate in "${RATES[@]}"; do
    read -r acks drops got < <(run_rate "$rate")
    total=$((total + got))
    printf '%-9s offered %6d/s  acked %6d/s  drops %7s%%\n' "$name" "$rate" "$acks" "$drops"
    if awk -v d="$drops" 'BEGIN { exit !(d < 0.1) }'; then best=$acks; else break; fi
  done
  after="$(cpu_ticks "$server_pid")"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  echo "$best" > "$work/$name.best"
  awk -v t="$((after - before))" -v hz="$HZ" -v n="$total" \
    'BEGIN { printf "%.1f\n", (n > 0) ? 1000 * 1000 * t / hz / n : 0 }' > "$work/$name.cpu"
  printf '%-9s %d leases acknowledged, %s ms of server CPU per 1000 leases\n' \
    "$name" "$total" "$(cat "$work/$name.cpu")"
}

config "$work/netbootd-leases.csv" > "$work/netbootd.json"
sed 's/output_options/output-options/' "$work/netbootd.json" > "$work/netbootd-3.json"
config "$work/kea-leases.csv" > "$work/kea.json"
bench netbootd "$NETBOOTD" serve --config "$work/netbootd-3.json"
bench kea kea-dhcp4 -c "$work/kea.json"
ours="$(cat "$work/netbootd.best")"; kea="$(cat "$work/kea.best")"
echo "sustained leases/s without drops: netbootd $ours, Kea $(kea-dhcp4 -v) $kea"
awk -v a="$ours" -v b="$kea" 'BEGIN { if (b > 0) printf "ratio netbootd/Kea: %.2f\n", a / b }'
awk -v a="$(cat "$work/netbootd.cpu")" -v b="$(cat "$work/kea.cpu")" \
  'BEGIN { if (a > 0) printf "server CPU per lease, Kea/netbootd: %.2f\n", b / a }'
