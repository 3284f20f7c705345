//! bootsim: boot emulated firmware against a DHCP/TFTP configuration and say how it went.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod cli;

/// mimalloc instead of glibc's malloc: a storm of 10,000 machines allocates and frees in
/// bursts (each machine's firmware state, scripts and console lines as it boots) that
/// overflow glibc's per-thread cache into its slower bins. With mimalloc, 10,000 machines
/// (ci/bench-storm.sh's model-on run) took a median 0.78 of the time with glibc over five
/// alternating pairs, for 20 MiB more peak memory. Only this binary: the library (and so the
/// tests' own processes) and netbootd keep the system allocator (netbootd's peak memory
/// under a lease flood grew past its bound with mimalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use cli::audit::{run_audit, AuditArgs};
use cli::boot::{keyboard_in_order, run_boot, BootArgs};
use cli::qemu::{run_qemu, QemuArgs};
use cli::replay::{run_replay, ReplayArgs};
use cli::run::{run_scenarios, RunArgs};
use cli::storm::{run_storm, StormArgs};
use cli::validate::{run_validate, ValidateArgs};

#[derive(Parser)]
#[command(name = "bootsim", version, about = "Network-boot firmware simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot one machine against netbootd (in-process) built from a Kea config and a TFTP
    /// root: exit 0 when it reaches a disk loader, 1 when the boot fails, 2 on bad input.
    Boot(BootArgs),
    /// Run scenario files (scenarios/*.toml): a summary table, exit 0 when every scenario's
    /// expectations hold, 1 when one does not, 2 on a bad file.
    Run(RunArgs),
    /// Boot many machines at once against netbootd in-process and report per-step latency
    /// percentiles, frames, failures, wall time and peak memory.
    Storm(StormArgs),
    /// Check a Kea config against the firmware matrix (UEFI x64/IA32/AArch64, BIOS, iPXE EFI
    /// and BIOS, UEFI HTTP boot): exit 0 when no errors, 1 with errors, 2 when Kea would
    /// refuse the config.
    Validate(ValidateArgs),
    /// Explain field captures (pcap/pcapng): each client's boot chain as steps, its firmware,
    /// and why it stopped: exit 0 when every client handed off or the capture ends mid-chain,
    /// 1 when one failed, 2 when a file is unreadable.
    Audit(AuditArgs),
    /// Send each client's side of a capture to netbootd in-process running a config and diff
    /// every answer against the captured one: exit 0 when none differs, 1 when one does, 2
    /// on bad input.
    Replay(ReplayArgs),
    /// Boot the real firmware in QEMU (OVMF's UEFI PXE, or SeaBIOS with QEMU's iPXE ROM)
    /// against netbootd in-process, no root: exit 0 when the VM reached a disk loader, 1 when
    /// not, 2 on bad input.
    Qemu(QemuArgs),
}
fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Boot(mut args) => {
            if let Some(m) = matches.subcommand_matches("boot") {
                args.keyboard = keyboard_in_order(m);
            }
            run_boot(args)
        }
        Command::Run(args) => run_scenarios(args),
        Command::Storm(args) => run_storm(args),
        Command::Validate(args) => run_validate(args),
        Command::Audit(args) => run_audit(args),
        Command::Replay(args) => run_replay(args),
        Command::Qemu(args) => run_qemu(args),
    }
}
