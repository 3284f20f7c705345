#!/usr/bin/env bash
# Measures the TFTP server costs the storm model charges (client-sim/src/net/capacity.rs):
# server CPU per DATA block (one 64 MiB download at blksize 1468, lock-step, curl as the
# client) and per request (400 downloads of a 1-byte file), for netbootd (release build)
# and tftpd-hpa (in.tftpd -l, whose children's CPU is read from the listener's cutime/cstime
# after they are reaped), in a network namespace this script creates and removes.
# Run as root: ci/storm-costs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in curl in.tftpd ip; do
  command -v "$tool" >/dev/null || { echo "storm-costs: $tool missing (ci/setup.sh)" >&2; exit 2; }
done
cargo build --release -q -p netbootd
NETBOOTD="$PWD/target/release/netbootd"
ns="stcost$$"
work="$(mktemp -d)"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
# in.tftpd resolves its address with AI_ADDRCONFIG: the namespace needs an address besides lo.
ip -n "$ns" link add stcost0 type veth peer name stcost1
ip -n "$ns" addr add 10.99.0.1/24 dev stcost0
ip -n "$ns" link set stcost0 up
head -c $((64 << 20)) /dev/urandom > "$work/big"
echo x > "$work/small"
chmod 755 "$work"; chmod 644 "$work/big" "$work/small"
HZ="$(getconf CLK_TCK)"
ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; }

small() { ip netns exec "$ns" curl -s -o /dev/null tftp://10.99.0.1/small; }

measure() { # $1: name
  sleep 1
  local a b c blocks=$(( (64 << 20) / 1468 + 1 ))
  # tftpd-hpa's listener reaps a finished child when the next request comes: a small request
  # after each phase brings the child's CPU into the listener's cutime/cstime.
  a="$(ticks "$pid")"
  for _ in $(seq 400); do small; done
  sleep 1; small; sleep 1
  b="$(ticks "$pid")"
  ip netns exec "$ns" curl -s --tftp-blksize 1468 -o /dev/null tftp://10.99.0.1/big &
  local get=$! child="" last=0 t
  # A forked transfer's CPU, read while it runs (tftpd-hpa's children are not reaped in
  # step with the transfers, so the listener's cutime misses them).
  while kill -0 "$get" 2>/dev/null; do
    for child in $(pgrep -P "$pid" || true); do
      t="$(ticks "$child" 2>/dev/null || echo 0)"; [ "$t" -gt "$last" ] && last="$t"
    done
    sleep 0.05
  done
  wait "$get"
  sleep 1; small; sleep 1
  c="$(( $(ticks "$pid") + last ))"
  awk -v n="$1" -v t1="$((c - b))" -v t2="$((b - a))" -v hz="$HZ" -v blocks="$blocks" \
    'BEGIN { r = t2 / hz / 401; printf "%-9s %.1f us of server CPU per block, %.0f us per request\n", n, 1e6 * (t1 / hz - r) / blocks, 1e6 * r }'
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

ip netns exec "$ns" "$NETBOOTD" serve --tftp-root "$work" --tftp-address 10.99.0.1:69 >"$work/netbootd.log" 2>&1 &
pid=$!
measure netbootd
ip netns exec "$ns" in.tftpd -L -s -a 10.99.0.1:69 "$work" >"$work/tftpd.log" 2>&1 &
pid=$!
measure tftpd-hpa
