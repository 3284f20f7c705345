#!/usr/bin/env bash
# Assembles the guide's TFTP root in target/seed-root: the guide's refind.pxe and refind.conf
# (fixtures/seed) with Debian's real ipxe.efi and refind_x64.efi (ci/firmware.sh unpacks the
# ipxe and refind packages without installing them). Prints the directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
firmware="$(bash "$root/ci/firmware.sh")"
dest="$root/target/seed-root"
mkdir -p "$dest"
cp "$root/fixtures/seed/refind.pxe" "$root/fixtures/seed/refind.conf" "$dest/"
cp "$firmware/boot/ipxe.efi" "$dest/ipxe.efi"
cp "$firmware/usr/share/refind/refind/refind_x64.efi" "$dest/refind_x64.efi"
echo "$dest"
