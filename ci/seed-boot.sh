#!/usr/bin/env bash
# The guide's boot, simulated: a UEFI x86_64 machine against netbootd (in-process) running the
# guide's kea-dhcp4.conf, with the guide's TFTP root (refind.pxe, refind.conf, and Debian's
# ipxe.efi and refind_x64.efi) and a Debian disk (fixtures/disks/debian.toml).
# Extra arguments go to `bootsim boot` (--json, --console, --pcap FILE, --firmware ...).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(bash ci/seed-root.sh)"
exec cargo run -q -p bootsim -- boot --config fixtures/seed/kea-dhcp4.conf \
  --tftp-root "$root" --disk fixtures/disks/debian.toml "$@"
