#!/usr/bin/env bash
# Boot-storm benchmark: `bootsim storm` in-process against netbootd (fixtures/storm: the
# guide's classes on a /16), release build, printing wall time and peak memory.
#   1. 10,000 machines with the guide's scripts and small synthetic ipxe.efi/refind_x64.efi;
#   2. 10,000 machines with Debian's real ipxe.efi (830 KiB) and refind_x64.efi (309 KiB).
# Usage: ci/bench-storm.sh [clients-synthetic] [clients-real]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p bootsim
bootsim=target/release/bootsim
echo "== ${1:-10000} clients, synthetic binaries"
"$bootsim" storm --clients "${1:-10000}" --config fixtures/storm/kea-dhcp4.conf \
  --disk fixtures/disks/debian.toml
real_root="$(mktemp -d)"
trap 'rm -rf "$real_root"' EXIT
seed_root="$(bash ci/seed-root.sh)"
cp "$seed_root"/* "$real_root/"
echo "== ${2:-10000} clients, Debian's ipxe.efi and refind_x64.efi"
"$bootsim" storm --clients "${2:-10000}" --config fixtures/storm/kea-dhcp4.conf \
  --tftp-root "$real_root" --disk fixtures/disks/debian.toml
