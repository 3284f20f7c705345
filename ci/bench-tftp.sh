#!/usr/bin/env bash
# TFTP benchmark: netbootd beside tftpd-hpa (in.tftpd) on loopback. Run as root (in.tftpd
# drops to nobody, so the files are world-readable): ci/bench-tftp.sh [runs]
#
# 1. Windowsize 1, what firmware does: real clients download one file from each server in
#    turn (A B A B ...), each server pinned to one core and the client to the other
#    (taskset): curl at blksize 1468 (as iPXE and EDK2 ask) and tftp-hpa's client (no
#    options: 512-byte lock-step). Medians of `runs` (default 5) runs; the server CPU time
#    per download (in.tftpd: its reaped children; netbootd: the process) beside them.
# 2. cargo bench (server/benches/tftp.rs): the same file at windowsize 1 and 16 and 200
#    concurrent 1 MiB downloads with one async client for both servers, medians of 5.
# Last lines: `rate ratio X` (curl at blksize 1468: tftpd-hpa's median time divided by
# netbootd's, higher is better for netbootd) and `cpu ratio Y` (tftpd-hpa's server CPU per
# download divided by netbootd's).
# BENCH_TFTP_QUICK=1: an 8 MiB file instead of 64 MiB, and no cargo bench part.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
SERVER_CPU="${BENCH_SERVER_CPU:-1}"
CLIENT_CPU="${BENCH_CLIENT_CPU:-0}"
# BENCH_RT=1 runs servers and clients SCHED_FIFO (chrt -f 1), both servers alike: on a
# machine busy with other work a lock-step transfer otherwise measures the scheduler's
# queue more than the servers.
RT=()
[ -n "${BENCH_RT:-}" ] && RT=(chrt -f 1)
for tool in in.tftpd curl tftp taskset; do
  command -v "$tool" >/dev/null || { echo "bench-tftp: $tool missing (ci/setup.sh)" >&2; exit 2; }
done
# BENCH_NETBOOTD=path measures that build instead (an A/B of two commits).
if [ -z "${BENCH_NETBOOTD:-}" ]; then cargo build --release -q -p netbootd; fi
NETBOOTD="${BENCH_NETBOOTD:-$PWD/target/release/netbootd}"
MIB=64
[ -n "${BENCH_TFTP_QUICK:-}" ] && MIB=8

work="$(mktemp -d)"
cleanup() {
  for pid in ${hpa_pid:-} ${ours_pid:-}; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for g in ${hpa_group:-} ${ours_group:-}; do rmdir "$g" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/root"
chmod 755 "$work" "$work/root"
head -c "$((MIB << 20))" /dev/urandom > "$work/root/big.img"
chmod 644 "$work/root/big.img"

free_port() { python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
hpa_port="$(free_port)"; ours_port="$(free_port)"
"${RT[@]}" taskset -c "$SERVER_CPU" in.tftpd -L -s -a "127.0.0.1:$hpa_port" "$work/root" >/dev/null 2>&1 &
hpa_pid=$!
RUST_LOG=warn "${RT[@]}" taskset -c "$SERVER_CPU" "$NETBOOTD" serve --secure --tftp-root "$work/root" \
  --tftp-address "127.0.0.1:$ours_port" >/dev/null 2>&1 &
ours_pid=$!
# Server CPU: in.tftpd forks a child per transfer, so each server runs in a cpuacct cgroup
# of its own (cgroup v1) that its children join; without one, CPU is not compared.
acct=/sys/fs/cgroup/cpuacct
cpu_group() { # $1: name, $2: pid; prints the group's directory, or nothing
  local dir="$acct/pf-bench-$$-$1"
  if mkdir "$dir" 2>/dev/null && echo "$2" > "$dir/cgroup.procs" 2>/dev/null; then echo "$dir"; fi
}
hpa_group="$(cpu_group hpa "$hpa_pid")"; ours_group="$(cpu_group ours "$ours_pid")"
sleep 1
# Server CPU nanoseconds so far (0 without a cgroup).
ticks() { if [ -n "$1" ]; then cat "$1/cpuacct.usage"; else echo 0; fi; }

# Times one download by client $1 from port $2; appends "seconds ticks" to $work/$3.
fetch() {
  local client="$1" port="$2" out="$3" group="$4" t0 t1 c0 c1
  rm -f "$work/got"
  c0="$(ticks "$group")"; t0="$(date +%s.%N)"
  case "$client" in
    curl) "${RT[@]}" taskset -c "$CLIENT_CPU" curl -sS --tftp-blksize 1468 -o "$work/got" "tftp://127.0.0.1:$port/big.img" ;;
    tftp-hpa) "${RT[@]}" taskset -c "$CLIENT_CPU" tftp 127.0.0.1 "$port" -m binary -c get big.img "$work/got" >/dev/null ;;
  esac
  t1="$(date +%s.%N)"
  sleep 0.2 # in.tftpd's child ends a moment after the last ACK
  c1="$(ticks "$group")"
  cmp -s "$work/got" "$work/root/big.img" || { echo "bench-tftp: $client from port $port: wrong bytes" >&2; exit 1; }
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $((c1 - c0))" >> "$work/$out"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); servers on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU"
echo "windowsize 1, one $MIB MiB file, medians of $RUNS alternating runs:"
for client in curl tftp-hpa; do
  fetch "$client" "$hpa_port" warmup "$hpa_group"; fetch "$client" "$ours_port" warmup "$ours_group"
  for _ in $(seq 1 "$RUNS"); do
    fetch "$client" "$hpa_port" "$client.hpa" "$hpa_group"
    fetch "$client" "$ours_port" "$client.ours" "$ours_group"
  done
  for who in hpa ours; do
    awk '{ print $1 }' "$work/$client.$who" | median > "$work/$client.$who.s"
    awk '{ print $2 / 1e9 }' "$work/$client.$who" | median > "$work/$client.$who.cpu"
  done
  # Pair by pair, as the runs alternate: the median of tftpd-hpa's time over netbootd's.
  paste "$work/$client.hpa" "$work/$client.ours" | awk '{ print $1 / $3 }' | median > "$work/$client.ratio"
  for who in hpa ours; do
    name=$([ "$who" = hpa ] && echo tftpd-hpa || echo netbootd)
    printf '  %-8s %-9s %7.3f s  %7.1f MiB/s  server CPU %.3f s\n' "$client" "$name" \
      "$(cat "$work/$client.$who.s")" "$(awk -v s="$(cat "$work/$client.$who.s")" -v m="$MIB" 'BEGIN { print m / s }')" \
      "$(cat "$work/$client.$who.cpu")"
  done
  printf '  %-8s netbootd x%.2f tftpd-hpa (median of pairwise ratios)\n' "$client" "$(cat "$work/$client.ratio")"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -z "${BENCH_TFTP_QUICK:-}" ]; then
  cargo bench -q -p netbootd --bench tftp
fi
printf 'rate ratio %.2f\n' "$(cat "$work/curl.ratio")"
awk -v a="$(cat "$work/curl.hpa.cpu")" -v b="$(cat "$work/curl.ours.cpu")" \
  'BEGIN { if (b > 0) printf "cpu ratio %.2f\n", a / b; else print "cpu ratio n/a" }'
