#!/usr/bin/env bash
# Installs the real peers the tests run against (Debian 12 packages).
# Run as root; a developer without root gets a list of what is missing instead.
set -euo pipefail

PACKAGES=(
  kea-dhcp4-server kea-common   # kea-dhcp4 -t, a running Kea, kea-lfc
  kea-admin                     # perfdhcp
  udhcpc                        # busybox's DHCP client, a real client in a namespace
  tftpd-hpa tftp-hpa            # in.tftpd and the tftp client
  curl                          # curl tftp://
  atftp                         # a TFTP client with RFC 7440 windowsize
  dnsmasq-base                  # dnsmasq: another DHCP+TFTP server bootsim --iface boots against
  iproute2                      # ip netns, veth
  gdisk dosfstools mtools       # sgdisk, mkfs.fat, mcopy: real GPT disk images with an ESP
  e2fsprogs mount               # mkfs.ext4, mount -o loop: the lease file's disk in lease_powercut.rs
  qemu-system-x86 ovmf          # bootsim qemu: real OVMF (UEFI PXE) in a VM, no root needed
  ipxe-qemu seabios             # the BIOS machine: SeaBIOS with QEMU's iPXE NIC ROM
  grub-efi-amd64-bin            # grub-mkstandalone: real EFI loaders that print a marker and halt
  build-essential               # cc and make: `cargo install cargo-afl` builds AFL++ (ci/fuzz.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "ci/setup.sh: not root; missing Debian packages: ${missing[*]}" >&2
  echo "ci/setup.sh: tests that need them skip on a developer machine and fail under CI=true" >&2
  exit 0
fi

# Installing a server package must not start its service on this machine.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
