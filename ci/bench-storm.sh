#!/usr/bin/env bash
# Boot-storm benchmark: `bootsim storm` in-process against netbootd (fixtures/storm: the
# guide's classes on a /16), release build, printing virtual time, wall time and peak memory.
#   1. 10,000 machines with the guide's scripts and small synthetic ipxe.efi/refind_x64.efi,
#      with the model on (1 Gb/s machines, a 10 Gb/s server, netbootd's costs, all at once);
#   2. 10,000 machines with Debian's real ipxe.efi (830 KiB) and refind_x64.efi (309 KiB),
#      first with no model (--instant), then with the model on;
#   3. the same against the Kea 2.2 + tftpd-hpa server model.
# Usage: ci/bench-storm.sh [clients-synthetic] [clients-real]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p bootsim
bootsim=target/release/bootsim
common=(--config fixtures/storm/kea-dhcp4.conf --disk fixtures/disks/debian.toml)
summary() { grep -E "^(bottleneck|booted since|frames|[0-9]+ clients)"; }
echo "== ${1:-10000} clients, synthetic binaries, model on"
"$bootsim" storm --clients "${1:-10000}" "${common[@]}" | summary || true
real_root="$(mktemp -d)"
trap 'rm -rf "$real_root"' EXIT
seed_root="$(bash ci/seed-root.sh)"
cp "$seed_root"/* "$real_root/"
echo "== ${2:-10000} clients, Debian's ipxe.efi and refind_x64.efi, no model (--instant)"
"$bootsim" storm --clients "${2:-10000}" "${common[@]}" --tftp-root "$real_root" --instant | summary || true
echo "== ${2:-10000} clients, Debian's ipxe.efi and refind_x64.efi, model on (netbootd)"
"$bootsim" storm --clients "${2:-10000}" "${common[@]}" --tftp-root "$real_root" | summary || true
echo "== ${2:-10000} clients, Debian's ipxe.efi and refind_x64.efi, model on (kea-tftpd-hpa)"
"$bootsim" storm --clients "${2:-10000}" "${common[@]}" --tftp-root "$real_root" \
  --server-model kea-tftpd-hpa | summary || true
