#!/usr/bin/env bash
# Boot-storm benchmark: `bootsim storm` in-process against netbootd (fixtures/storm: the
# guide's classes on a /16), release build, printing virtual time and, from /usr/bin/time,
# wall time, user CPU and peak memory of each run.
#   1. N machines with the guide's scripts and small synthetic ipxe.efi/refind_x64.efi,
#      with the model on (1 Gb/s machines, a 10 Gb/s server, netbootd's costs, all at once);
#   2. N machines with Debian's real ipxe.efi (830 KiB) and refind_x64.efi (309 KiB)
#      (ci/seed-root.sh), first with no model (--instant), then with the model on and the
#      machines powered on over 60 s (the speed goal: 10,000 in under 10 s and 1 GiB);
#   3. the same against the Kea 2.2 + tftpd-hpa server model.
# Usage: ci/bench-storm.sh [clients-synthetic] [clients-real]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p bootsim
bootsim="${CARGO_TARGET_DIR:-target}/release/bootsim"
common=(--config fixtures/storm/kea-dhcp4.conf --disk fixtures/disks/debian.toml)
summary() { grep -E "^(bottleneck|booted since|frames|[0-9]+ clients)" || true; }
# A storm where not every machine boots exits 1: a finding to print, not a reason to stop
# the other runs (the synthetic all-at-once one hits the TFTP transfer cap).
timed() {
  local rc=0
  /usr/bin/time -f "cost: wall %e s, user %U s, sys %S s, peak RSS %M KiB" "$bootsim" storm "$@" \
    2> >(grep '^cost:' >&2) | summary || rc=$?
  if [ "$rc" -ne 0 ]; then echo "exit $rc"; fi
}
seed_root="$(bash ci/seed-root.sh)"
echo "== ${1:-10000} clients, synthetic binaries, model on"
timed --clients "${1:-10000}" "${common[@]}"
echo "== ${2:-10000} clients, Debian's ipxe.efi and refind_x64.efi, no model (--instant)"
timed --clients "${2:-10000}" "${common[@]}" --tftp-root "$seed_root" --instant
echo "== ${2:-10000} clients, Debian's ipxe.efi and refind_x64.efi, model on (netbootd), power-on over 60 s"
timed --clients "${2:-10000}" "${common[@]}" --tftp-root "$seed_root" --power-on uniform:60s
echo "== ${2:-10000} clients, Debian's ipxe.efi and refind_x64.efi, model on (kea-tftpd-hpa), power-on over 60 s"
timed --clients "${2:-10000}" "${common[@]}" --tftp-root "$seed_root" --power-on uniform:60s \
  --server-model kea-tftpd-hpa
