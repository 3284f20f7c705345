#!/usr/bin/env bash
# TFTP benchmark: netbootd beside tftpd-hpa (in.tftpd) on loopback in one run: one 100 MiB
# file at blksize 1468 (netbootd at windowsize 1 and 16) and 200 concurrent 1 MiB downloads.
# Prints times and ratios. Run as root (in.tftpd drops to nobody): ci/bench-tftp.sh
# BENCH_TFTP_QUICK=1 uses an 8 MiB file instead of 100 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v in.tftpd >/dev/null || { echo "bench-tftp: in.tftpd missing (ci/setup.sh)" >&2; exit 2; }
cargo bench -q -p netbootd --bench tftp
