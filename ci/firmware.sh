#!/usr/bin/env bash
# Unpacks Debian's ipxe and refind packages (real ipxe.efi, undionly.kpxe, refind_x64.efi...)
# into target/firmware without installing them (refind's postinst would touch the ESP).
# Prints the directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/target/firmware"
if [ ! -f "$dest/.done" ]; then
  mkdir -p "$dest"
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download ipxe refind >/dev/null 2>&1)
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$dest"; done
  rm -rf "$tmp"
  touch "$dest/.done"
fi
echo "$dest"
