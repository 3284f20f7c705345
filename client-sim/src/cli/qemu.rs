//! `bootsim qemu`: real firmware under QEMU against netbootd in-process or a bridge.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use netbootd::kea::KeaVersion;
use netbootd::wire::MacAddr;

use super::write_pcap;

#[derive(clap::Args)]
pub struct QemuArgs {
    /// The kea-dhcp4.conf the in-process server runs (with --iface: what --compare simulates).
    #[arg(long, required_unless_present = "iface")]
    config: Option<PathBuf>,
    /// The TFTP root it serves (real ipxe.efi, refind_x64.efi...).
    #[arg(long, required_unless_present = "iface")]
    tftp_root: Option<PathBuf>,
    /// Put the VM on a tap on this Linux bridge instead of the in-process segment, to boot
    /// against whatever serves it (real Kea, tftpd-hpa, dnsmasq). Needs CAP_NET_ADMIN.
    #[arg(long)]
    iface: Option<String>,
    /// A disk of the VM: a GPT image, or a recipe (.toml, built into an image whose x86_64
    /// loaders print a marker and halt). Repeat for more disks.
    #[arg(long)]
    disk: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "uefi-x64")]
    firmware: bootsim::qemu::VmFirmware,
    #[arg(long, default_value_t = KeaVersion::default())]
    kea_version: KeaVersion,
    /// The VM's MAC address.
    #[arg(long, default_value = "52:54:00:12:34:56", value_parser = clap::value_parser!(MacAddr))]
    mac: MacAddr,
    /// Use KVM (default TCG: a /dev/kvm that opens may still fail to run the guest).
    #[arg(long)]
    kvm: bool,
    /// Seconds before the VM is stopped.
    #[arg(long, default_value_t = 180)]
    timeout: u64,
    /// Print the transcript as JSON.
    #[arg(long)]
    json: bool,
    /// Also print the serial console.
    #[arg(long)]
    console: bool,
    /// Write every frame the segment carried to this pcap file.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Also boot the models with the same inputs and print every difference (exit 1 when
    /// there is one).
    #[arg(long)]
    compare: bool,
}

pub fn run_qemu(args: QemuArgs) -> ExitCode {
    let work = match tempfile::tempdir() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    let req = bootsim::qemu::Request {
        config: args.config,
        tftp_root: args.tftp_root,
        iface: args.iface,
        kea_version: args.kea_version,
        disks: args.disk,
        firmware: args.firmware,
        mac: args.mac,
        timeout: Duration::from_secs(args.timeout),
        files: Default::default(),
        kvm: args.kvm,
    };
    let run = match bootsim::qemu::run(&req, work.path()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.pcap {
        if let Err(e) = write_pcap(path, &run.frames) {
            eprintln!("bootsim: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if run.transcript.steps.is_empty() && !run.qemu_stderr.trim().is_empty() {
        // Nothing reached the network: what QEMU said is the likeliest reason.
        eprintln!("qemu-system-x86_64: {}", run.qemu_stderr.trim());
    }
    let comparison = if args.compare {
        match bootsim::qemu::compare::simulate(&req, &run.disks) {
            Ok((sim, wire)) => Some(bootsim::qemu::compare::compare(&run, sim, &wire)),
            Err(e) => {
                eprintln!("bootsim: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    if args.json {
        let value = match &comparison {
            Some(c) => serde_json::json!({
                "real": c.real,
                "simulated": c.simulated,
                "differences": c.differences,
                "gaps": c.gaps,
                "guest_clock": c.guest_clock,
                "real_wire": run.wire,
                "ignored": run.ignored,
                "stopped": run.stopped,
            }),
            None => serde_json::json!({
                "transcript": run.transcript,
                "wire": run.wire,
                "ignored": run.ignored,
                "arp_answered": run.arp_answered,
                "stopped": run.stopped,
            }),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print!("{}", run.transcript.render(args.console));
        println!(
            "stopped: {}; frames not carried: {} IPv6, {} ARP, {} other; ARP answered: {}",
            run.stopped,
            run.ignored.ipv6,
            run.ignored.arp,
            run.ignored.ipv4_other + run.ignored.other,
            run.arp_answered
        );
        if let Some(c) = &comparison {
            print!("{}", c.render());
        }
    }
    let same = comparison.as_ref().is_none_or(|c| c.differences.is_empty());
    if run.transcript.booted() && same {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
