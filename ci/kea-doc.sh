#!/usr/bin/env bash
# Unpacks Debian's kea-doc (Kea's own example configs) into target/kea-doc without installing it.
# Prints the directory holding the kea4 examples.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/target/kea-doc"
if [ ! -d "$dest/usr/share/doc/kea/examples/kea4" ]; then
  mkdir -p "$dest"
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download kea-doc >/dev/null 2>&1)
  dpkg-deb -x "$tmp"/kea-doc_*.deb "$dest"
  rm -rf "$tmp"
fi
echo "$dest/usr/share/doc/kea/examples/kea4"
