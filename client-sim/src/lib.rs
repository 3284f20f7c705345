//! bootsim: prove in `cargo test` that every machine on your network still boots.
//!
//! Your infrastructure repository keeps `kea-dhcp4.conf`, the TFTP root (iPXE scripts,
//! `refind.conf`, the binaries) and perhaps `/etc/default/tftpd-hpa`. bootsim runs that
//! config with netbootd in-process (a DHCPv4 server that reads Kea's file as Kea does) and
//! boots emulated firmware against it on the wire: UEFI PXE (EDK2/OVMF), BIOS PXE, iPXE and
//! rEFInd, stage after stage, in virtual time, down to the loader on a disk. When a boot
//! fails, the transcript says at which step and what to change in your files.
//!
//! # Add it to your repository
//!
//! ```toml
//! [dev-dependencies]
//! bootsim = { git = "<URL of netboot-harness>" }   # or { path = "..." }
//! insta = "1"                                        # for snapshots in your own tests
//!
//! [[test]]
//! name = "scenarios"
//! harness = false
//! ```
//!
//! # Every scenario file a test
//!
//! A scenario (`scenarios/*.toml`) declares the server, the machines, faults and what must
//! happen (see `scenarios/` of bootsim's repository for the format). One line in
//! `tests/scenarios.rs` makes each file a test named after it, with an
//! [insta](https://insta.rs) snapshot of its transcript:
//!
//! ```ignore
//! bootsim::scenario_tests!("scenarios/*.toml");
//! ```
//!
//! # A boot in Rust
//!
//! A [`Network`](prelude::Network) from your Kea config and TFTP files, a
//! [`Machine`](prelude::Machine), then assertions in the domain's words:
//!
//! ```
//! use std::time::Duration;
//! use bootsim::prelude::*;
//!
//! let net = Network::kea("../fixtures/seed/kea-dhcp4.conf")
//!     .file("ipxe.efi", "ipxe:x64")
//!     .file("refind.pxe", "file:../fixtures/seed/refind.pxe")
//!     .file("refind.conf", "file:../fixtures/seed/refind.conf")
//!     .file("refind_x64.efi", "refind:x64");
//! let uefi = Machine::new(Firmware::UefiX64).disk("../fixtures/disks/debian.toml");
//! net.boot(&uefi)
//!     .unwrap()
//!     .assert_booted(r"EFI\debian\grubx64.efi")
//!     .assert_class("PXE UEFI")
//!     .assert_within(Duration::from_secs(30));
//! // The guide's network has nothing for an ARM machine, and the transcript says so.
//! net.boot(&Machine::new(Firmware::UefiArm64))
//!     .unwrap()
//!     .assert_failed_at(Stage::PxeDhcp, "client-system 0x000b");
//! ```
//!
//! A [`Boot`](prelude::Boot) displays as its transcript, so `insta::assert_snapshot!(boot)`
//! pins a whole chain. [`Validation`](prelude::Validation) runs `bootsim validate`'s
//! firmware matrix and asserts that the firmware you care about gets no error.
//!
//! # Features
//!
//! - `harness` (default): [`scenario_tests!`].
//! - `qemu`: `Network::boot_in_qemu`, real OVMF, iPXE and rEFInd under QEMU, read back
//!   into the same [`Boot`](prelude::Boot) (Debian packages `qemu-system-x86`, `ovmf`,
//!   `ipxe-qemu`; about 40 s a boot).
//! - `audit`: `bootsim::prelude::audit`, a field capture (pcap/pcapng) read into each
//!   client's chain, and `Audit::assert_no_failures`.
//!
//! # In CI
//!
//! `cargo test` needs nothing outside cargo unless the `qemu` feature is on. For the JUnit
//! report CI systems show, the `bootsim` command runs the same scenario files
//! (`cargo install --locked --git <URL of netboot-harness> bootsim`; exit 1 when an
//! expectation breaks). A GitHub Actions job:
//!
//! ```yaml
//! netboot:
//!   runs-on: ubuntu-latest
//!   steps:
//!     - uses: actions/checkout@v4
//!     # Only with the qemu feature:
//!     - run: sudo apt-get update && sudo apt-get install -y qemu-system-x86 ovmf ipxe-qemu
//!     - run: cargo test
//!     - run: cargo install --locked --git "$BOOTSIM_GIT" bootsim
//!       env: { BOOTSIM_GIT: "<URL of netboot-harness>" }
//!     - run: bootsim run scenarios/*.toml --junit bootsim.xml
//!     - uses: mikepenz/action-junit-report@v4
//!       if: always()
//!       with: { report_paths: bootsim.xml }
//! ```
//!
//! A GitLab CI job:
//!
//! ```yaml
//! netboot:
//!   image: rust:1-bookworm
//!   variables:
//!     BOOTSIM_GIT: "<URL of netboot-harness>"
//!   before_script:
//!     # Only with the qemu feature:
//!     - apt-get update && apt-get install -y qemu-system-x86 ovmf ipxe-qemu
//!     - cargo install --locked --git "$BOOTSIM_GIT" bootsim
//!   script:
//!     - cargo test
//!     - bootsim run scenarios/*.toml --junit bootsim.xml
//!   artifacts:
//!     when: always
//!     reports:
//!       junit: bootsim.xml
//! ```
//!
//! `bootsim validate kea-dhcp4.conf --tftp-root tftp --junit validate.xml` and
//! `bootsim audit field.pcapng --junit audit.xml` write reports the same way.
//!
//! Everything else the crate holds (the firmware models, the segment, capture reading) is
//! the machinery behind the `bootsim` command: public for its own binary and tests, hidden
//! from these docs, and not a stable API.

pub mod prelude;

mod api;
#[cfg(feature = "harness")]
#[doc(hidden)]
pub mod harness;

#[doc(hidden)]
pub mod capture;
#[doc(hidden)]
pub mod chain;
#[doc(hidden)]
pub mod content;
#[doc(hidden)]
pub mod disk;
#[doc(hidden)]
pub mod firmware;
#[doc(hidden)]
pub mod identify;
#[doc(hidden)]
pub mod junit;
#[doc(hidden)]
pub mod net;
#[doc(hidden)]
pub mod qemu;
#[doc(hidden)]
pub mod recipe;
#[doc(hidden)]
pub mod scenario;
#[doc(hidden)]
pub mod storm;
#[doc(hidden)]
pub mod transcript;
#[doc(hidden)]
pub mod validate;
