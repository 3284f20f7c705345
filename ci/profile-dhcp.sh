#!/usr/bin/env bash
# Where netbootd's DHCP CPU goes: one netbootd (UDP sockets, memfile persistence, the same
# config as ci/bench-dhcp.sh) on CPU 1 and perfdhcp on CPU 0 at a fixed rate, in network
# namespaces this script creates and removes. Prints the server's CPU per 1,000 leases and,
# with a mode, a profile of the server only:
#   perf    perf record -g (DWARF call graphs) into $PROFILE_OUT (default /tmp/netbootd-dhcp.perf);
#           read it with `perf report -i FILE --no-children --sort sym`
#   strace  strace -c -f: system calls per kind (divide by the leases for calls per lease)
#   callgrind  the server under valgrind's callgrind, counting only while perfdhcp runs:
#           user-space instructions per lease, the same from run to run however busy the
#           machine is (CPU time is not, on a shared machine), for an A/B of small changes;
#           slow, so give a low rate (200); the CPU figure is then valgrind's. Profile in
#           $PROFILE_OUT (callgrind_annotate).
# Run as root: ci/profile-dhcp.sh [rate] [seconds] [none|perf|strace|callgrind]
# NETBOOTD=path profiles that build (default: target/release/netbootd, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib/dhcp-netns.sh
RATE="${1:-3000}"; SECS="${2:-8}"; MODE="${3:-none}"
OUT="${PROFILE_OUT:-/tmp/netbootd-dhcp.perf}"
dhcp_bench_tools profile-dhcp perfdhcp ip taskset
[ "$MODE" = callgrind ] && dhcp_bench_tools profile-dhcp valgrind callgrind_control
NETBOOTD="$(dhcp_bench_netbootd "${NETBOOTD:-}")"
work="$(mktemp -d)"
srv="nbprof$$s"; cli="nbprof$$c"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  sleep 0.3
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
dhcp_netns_up "$srv" "$cli" nbps nbpc
dhcp_bench_config nbps "$work/leases.csv" | sed 's/output_options/output-options/' >"$work/netbootd.json"
under=()
[ "$MODE" = callgrind ] && under=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT")
ip netns exec "$srv" taskset -c 1 "${under[@]}" "$NETBOOTD" serve --config "$work/netbootd.json" >"$work/log" 2>&1 &
pid=$!
sleep 1.5
[ "$MODE" = callgrind ] && sleep 5 # valgrind starts slowly
recorder=
case "$MODE" in
  perf) perf record -F 2000 -g --call-graph dwarf,16384 -o "$OUT" -p "$pid" 2>/dev/null & recorder=$! ;;
  strace) strace -c -f -p "$pid" -o "$work/strace" & recorder=$! ;;
  callgrind) callgrind_control -i on "$pid" >/dev/null 2>&1 ;;
  none) ;;
  *) echo "profile-dhcp: mode is none, perf, strace or callgrind" >&2; exit 2 ;;
esac
before="$(cpu_ns "$pid")"
out="$(ip netns exec "$cli" taskset -c 0 perfdhcp -4 -l 10.0.0.2 -r "$RATE" -p "$SECS" -W 300000 \
  -R 100000000 10.0.0.1 2>&1 || true)"
after="$(cpu_ns "$pid")"
if [ -n "$recorder" ]; then kill -INT "$recorder"; wait "$recorder" 2>/dev/null || true; fi
if [ "$MODE" = callgrind ]; then
  callgrind_control -i off "$pid" >/dev/null 2>&1
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=
fi
acks="$(echo "$out" | awk '/Statistics for: REQUEST-ACK/ { f = 1 } f && /^received packets:/ { print $3; exit }')"
echo "load $(cut -d' ' -f1-3 /proc/loadavg); offered $RATE/s for $SECS s; $acks leases;" \
  "server CPU $(awk -v t=$((after - before)) -v n="$acks" \
  'BEGIN { printf "%.1f ms per 1000 leases", (n > 0) ? t / 1000 / n : 0 }')"
case "$MODE" in
  perf) echo "profile: $OUT" ;;
  strace) cat "$work/strace" ;;
  callgrind) awk -v n="$acks" -v out="$OUT" '/^(summary|totals):/ { t = $2 } END {
      printf "user-space instructions: %d, %.0f per lease; profile: %s\n", t, (n > 0) ? t / n : 0, out }' "$OUT" ;;
esac
