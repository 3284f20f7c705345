# Shared by ci/bench-dhcp.sh and ci/profile-dhcp.sh (sourced): the two network namespaces a
# DHCP benchmark runs in, the server's config, and a process's CPU time.
#
# dhcp_netns_up SRV CLI SIF CIF: namespaces SRV (10.0.0.1 on SIF) and CLI (10.0.0.2 on CIF)
# joined by a veth pair; the caller deletes them (`ip netns del`) on exit.
dhcp_netns_up() {
  local srv="$1" cli="$2" sif="$3" cif="$4"
  ip netns add "$srv"; ip netns add "$cli"
  ip -n "$srv" link add "$sif" type veth peer name "$cif" netns "$cli"
  ip -n "$srv" addr add 10.0.0.1/24 dev "$sif"
  ip -n "$cli" addr add 10.0.0.2/24 dev "$cif"
  for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
  ip -n "$srv" link set "$sif" up; ip -n "$cli" link set "$cif" up
}

# dhcp_bench_config IFACE LEASE-FILE [EXTRA]: the kea-dhcp4.conf every server gets (UDP
# sockets, memfile persistence with no LFC, a /8 pool perfdhcp's relayed clients fit in);
# EXTRA is top-level JSON ending in a comma (e.g. Kea's multi-threading block), or empty.
dhcp_bench_config() {
  cat <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "$1" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "name": "$2", "lfc-interval": 0 },
  "valid-lifetime": 3600,
  ${3:-}
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "pools": [ { "pool": "10.1.0.0 - 10.255.255.254" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "stdout" } ] } ]
} }
JSON
}

# cpu_ns PID: nanoseconds the process's threads have run, from the scheduler's own count
# (/proc/PID/task/*/schedstat, the first field): exact, where utime + stime in /proc/PID/stat
# are sampled at clock ticks (10 ms here) and swung a server's CPU per 1,000 leases by
# +-20% between identical steps of a few seconds. Work in interrupts taken while a thread
# runs counts for it, as it does in the ticks.
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ ns += $1 } END { printf "%.0f\n", ns }'; }

# dhcp_bench_tools NAME TOOL...: exit 2 (naming the script NAME) unless every TOOL is on PATH.
dhcp_bench_tools() {
  local name="$1"; shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$name: $tool missing (ci/setup.sh)" >&2; exit 2; }
  done
}

# dhcp_bench_netbootd [PATH]: PATH, or target/release/netbootd built now (an A/B passes the
# other commit's build as PATH).
dhcp_bench_netbootd() {
  if [ -n "${1:-}" ]; then echo "$1"; return; fi
  cargo build --release -q -p netbootd >&2
  echo "$PWD/target/release/netbootd"
}
