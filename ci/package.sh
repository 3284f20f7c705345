#!/usr/bin/env bash
# Builds netbootd's Debian package with cargo-deb: target/debian/netbootd_*.deb.
#   ci/package.sh            release build
#   ci/package.sh --dev      debug build (what the install test uses: no second full build)
# Installs cargo-deb from crates.io when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
[ "${1:-}" = --dev ] && profile=dev
dir=$([ "$profile" = dev ] && echo debug || echo release)
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
cargo build -q --profile "$profile" -p netbootd
mkdir -p target/assets
bin="target/$dir/netbootd"
"$bin" man > target/assets/netbootd.8
"$bin" completions bash > target/assets/netbootd.bash
"$bin" completions zsh > target/assets/_netbootd
cargo deb -q -p netbootd --no-build --profile "$profile" --no-strip
ls target/debian/netbootd_*.deb
