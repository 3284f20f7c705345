#!/usr/bin/env bash
# Calibrates the storm model against reality: N emulated machines (`bootsim storm --iface`,
# real time, distinct MACs) boot the guide's chain with Debian's real ipxe.efi and
# refind_x64.efi through a veth pair rate-limited with tc tbf (netem is not available here)
# against a real server in another network namespace; then the model (`bootsim storm`, the
# same N, rate and server) predicts the same storm. Last line:
#   predicted X s measured Y s ratio R      (R = predicted / measured)
# Usage (root): ci/storm-calibrate.sh [clients] [rate] [netbootd|kea-tftpd-hpa]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-50}"; RATE="${2:-100mbit}"; SERVER="${3:-netbootd}"
for tool in ip tc python3; do
  command -v "$tool" >/dev/null || { echo "storm-calibrate: $tool missing (ci/setup.sh)" >&2; exit 2; }
done
if [ "$SERVER" = kea-tftpd-hpa ]; then
  for tool in kea-dhcp4 in.tftpd; do
    command -v "$tool" >/dev/null || { echo "storm-calibrate: $tool missing (ci/setup.sh)" >&2; exit 2; }
  done
fi
cargo build --release -q -p bootsim -p netbootd
release="$(realpath "${CARGO_TARGET_DIR:-target}")/release"
BOOTSIM="$release/bootsim"; NETBOOTD="$release/netbootd"
seed_root="$(bash ci/seed-root.sh)"

work="$(mktemp -d)"; chmod 755 "$work"
srv="stcal$$s"; cli="stcal$$c"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/root"; cp "$seed_root"/* "$work/root/"; chmod -R a+rX "$work/root"
ip netns add "$srv"; ip netns add "$cli"
ip -n "$srv" link add stcals type veth peer name stcalc netns "$cli"
ip -n "$srv" addr add 10.0.0.1/16 dev stcals
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set stcals up; ip -n "$cli" link set stcalc up
# Both directions at RATE; the queue holds 100 ms at that rate before it drops.
for pair in "$srv stcals" "$cli stcalc"; do
  set -- $pair
  ip netns exec "$1" tc qdisc add dev "$2" root tbf rate "$RATE" burst 64kb latency 100ms
done

# The server's config on the veth; leases in the work directory.
sed -e 's/"eth1"/"stcals"/' -e "s|\"type\": \"memfile\",|\"type\": \"memfile\", \"name\": \"$work/leases.csv\",|" \
  fixtures/storm/kea-dhcp4.conf > "$work/kea-dhcp4.conf"
if [ "$SERVER" = netbootd ]; then
  ip netns exec "$srv" "$NETBOOTD" serve --config "$work/kea-dhcp4.conf" \
    --tftp-root "$work/root" --tftp-address 10.0.0.1:69 >"$work/server.log" 2>&1 &
  pids+=($!)
else
  sed -i 's/output-options/output_options/' "$work/kea-dhcp4.conf"
  ip netns exec "$srv" env KEA_LOCKFILE_DIR="$work" KEA_PIDFILE_DIR="$work" \
    kea-dhcp4 -c "$work/kea-dhcp4.conf" >"$work/server.log" 2>&1 &
  pids+=($!)
  ip netns exec "$srv" in.tftpd -L -s -a 10.0.0.1:69 "$work/root" >"$work/tftpd.log" 2>&1 &
  pids+=($!)
fi
sleep 2

common=(--clients "$N" --config fixtures/storm/kea-dhcp4.conf --disk fixtures/disks/debian.toml
        --power-on all-at-once --post 0s --json)
echo "== measured: $N machines through $RATE against $SERVER"
ip netns exec "$cli" "$BOOTSIM" storm --iface stcalc "${common[@]}" > "$work/measured.json" || true
echo "== predicted: the model with the same rate, N and server"
"$BOOTSIM" storm --tftp-root "$work/root" --server-model "$SERVER" --server-link "$RATE" \
  --client-link 10gbit --switch-buffer 16MiB "${common[@]}" > "$work/predicted.json" || true
python3 - "$work/measured.json" "$work/predicted.json" <<'PY'
import json, sys
def load(path):
    r = json.load(open(path))
    last = r["booted_by"][-1]["seconds"]
    print(f"{path.rsplit('/', 1)[1]}: {r['booted']}/{r['clients']} booted; "
          + ", ".join(f"{b['percent']}% {b['seconds']}" for b in r["booted_by"]))
    for s in r["steps"]:
        print(f"  {s['name']:<18} p50 {s['p50']:8.2f} p90 {s['p90']:8.2f} max {s['max']:8.2f}")
    if r["failures"]:
        print("  failures:", r["failures"])
    return last
measured, predicted = load(sys.argv[1]), load(sys.argv[2])
if measured is None or predicted is None:
    print("not every machine booted: no ratio")
    sys.exit(1)
print(f"predicted {predicted:.2f} s measured {measured:.2f} s ratio {predicted / measured:.2f}")
PY
