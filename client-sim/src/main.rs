//! bootsim: boot emulated firmware against a DHCP/TFTP configuration and say how it went.

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use bootsim::chain::{boot_with_keyboard, Client, Firmware};
use bootsim::disk::Disk;
use bootsim::firmware::ipxe::keyboard::{Input, Keyboard};
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::iface::Iface;
use bootsim::net::lan::{Frame, Lan};
use netbootd::kea::KeaVersion;
use netbootd::wire::pcap::CaptureWriter;

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

#[derive(clap::Args)]
struct QemuArgs {
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
    #[arg(long, default_value = "52:54:00:12:34:56", value_parser = parse_mac)]
    mac: [u8; 6],
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

fn run_qemu(args: QemuArgs) -> ExitCode {
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

#[derive(clap::Args)]
struct ReplayArgs {
    /// The capture (pcap or pcapng).
    capture: PathBuf,
    /// The kea-dhcp4.conf netbootd runs.
    #[arg(long)]
    config: PathBuf,
    /// The TFTP root netbootd serves; without it, transfers are not replayed.
    #[arg(long)]
    tftp_root: Option<PathBuf>,
    #[arg(long, default_value_t = KeaVersion::default())]
    kea_version: KeaVersion,
    /// The captured server netbootd stands in for (default: the one at netbootd's address,
    /// else the first that offered a boot file).
    #[arg(long)]
    replace: Option<std::net::Ipv4Addr>,
    #[arg(long)]
    json: bool,
}

fn run_replay(args: ReplayArgs) -> ExitCode {
    let req = bootsim::capture::replay::Request {
        capture: args.capture,
        config: args.config,
        tftp_root: args.tftp_root,
        kea_version: args.kea_version,
        replace: args.replace,
    };
    let replay = match bootsim::capture::replay::replay(&req) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&replay).unwrap_or_default()
        );
    } else {
        print!("{}", replay.render());
    }
    if replay.differences == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[derive(clap::Args)]
struct AuditArgs {
    /// Capture files (pcap or pcapng).
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Print the audits as JSON.
    #[arg(long)]
    json: bool,
    /// Write JUnit XML here: one test case per client.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Only this client.
    #[arg(long, value_parser = parse_mac)]
    client: Option<[u8; 6]>,
}

fn run_audit(args: AuditArgs) -> ExitCode {
    let mut audits = Vec::new();
    let mut unreadable = false;
    for path in &args.captures {
        match bootsim::capture::audit_file(path, args.client) {
            Ok(a) => audits.push(a),
            Err(e) => {
                eprintln!("bootsim: {e}");
                unreadable = true;
            }
        }
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, bootsim::junit::audit(&audits)) {
            eprintln!("bootsim: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if args.json {
        let clients: Vec<_> = audits.iter().flat_map(|a| a.clients.iter()).collect();
        let doc = serde_json::json!({ "captures": audits, "clients": clients });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        for (i, a) in audits.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", bootsim::capture::report::render(a));
        }
    }
    if unreadable {
        ExitCode::from(2)
    } else if audits.iter().any(|a| a.failed()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// The kea-dhcp4.conf to validate.
    config: PathBuf,
    /// The TFTP root it serves: then every chain is booted, not only the offers compared.
    #[arg(long)]
    tftp_root: Option<PathBuf>,
    /// The Kea release to validate against; by default the newest one whose grammar accepts
    /// the file.
    #[arg(long)]
    kea_version: Option<KeaVersion>,
    /// Warn when the pools hold fewer addresses than this many machines.
    #[arg(long, default_value_t = 50)]
    storm: u64,
    #[arg(long)]
    json: bool,
    /// Write JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
}

fn run_validate(args: ValidateArgs) -> ExitCode {
    let req = bootsim::validate::Request {
        config: args.config.clone(),
        kea_version: args.kea_version,
        tftp_root: args.tftp_root.clone(),
        storm: args.storm,
    };
    let report = match bootsim::validate::validate(&req) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, bootsim::junit::validate(&report)) {
            eprintln!("bootsim: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", report.render());
    }
    if report.errors() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[derive(clap::Args)]
struct StormArgs {
    /// How many machines.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// The kea-dhcp4.conf (its pools must hold the clients: fixtures/storm has a /16).
    #[arg(long)]
    config: PathBuf,
    /// The TFTP root; without it, the guide's refind.pxe and refind.conf with small
    /// synthetic ipxe.efi and refind_x64.efi.
    #[arg(long)]
    tftp_root: Option<PathBuf>,
    #[arg(long, default_value = "uefi-x64", value_parser = parse_firmware)]
    firmware: Firmware,
    #[arg(long)]
    disk: Vec<PathBuf>,
    #[arg(long, default_value_t = KeaVersion::default())]
    kea_version: KeaVersion,
    #[arg(long)]
    json: bool,
}

/// The guide's TFTP root with synthetic binaries, in a temporary directory.
fn synthetic_root() -> std::io::Result<tempfile::TempDir> {
    use bootsim::identify::synthetic;
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("refind.pxe"),
        include_str!("../../fixtures/seed/refind.pxe"),
    )?;
    std::fs::write(
        dir.path().join("refind.conf"),
        include_str!("../../fixtures/seed/refind.conf"),
    )?;
    std::fs::write(dir.path().join("ipxe.efi"), synthetic::ipxe_efi(0x8664))?;
    std::fs::write(
        dir.path().join("refind_x64.efi"),
        synthetic::refind_efi(0x8664),
    )?;
    Ok(dir)
}

fn run_storm(args: StormArgs) -> ExitCode {
    let synthetic = match &args.tftp_root {
        Some(_) => None,
        None => match synthetic_root() {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("bootsim: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let root = args
        .tftp_root
        .clone()
        .unwrap_or_else(|| synthetic.as_ref().expect("made above").path().to_path_buf());
    let server = match build(&ServerSpec {
        config: args.config.clone(),
        kea_version: args.kea_version,
        tftp_root: Some(root),
        server_addr: None,
        epoch: SIMULATION_EPOCH,
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    let disks = match args
        .disk
        .iter()
        .map(|d| load_disk(d))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    let template = Client {
        firmware: args.firmware,
        mac: [0; 6],
        uuid: [
            0x4c, 0x4c, 0x45, 0x44, 0x00, 0x42, 0x35, 0x10, 0x80, 0x52, 0xb4, 0xc0, 0, 0, 0, 0,
        ],
        disks,
        seed: 0x5eed_0001,
    };
    let clients = bootsim::storm::clients(&template, args.clients);
    let mut lan = Lan::new(server);
    let (report, _) = bootsim::storm::storm(&mut lan, &clients);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", report.render());
    }
    if report.booted == report.clients {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print every scenario's transcripts.
    #[arg(long)]
    verbose: bool,
    /// Print the runs as JSON.
    #[arg(long)]
    json: bool,
    /// Write JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write one pcap per scenario into this directory.
    #[arg(long)]
    pcap: Option<PathBuf>,
}

fn run_scenarios(args: RunArgs) -> ExitCode {
    let mut runs = Vec::new();
    for file in &args.files {
        let run = bootsim::scenario::Scenario::load(file).and_then(|s| s.run());
        match run {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("bootsim: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(dir) = &args.pcap {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("bootsim: {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        for r in &runs {
            let stem = Path::new(&r.file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into());
            if let Err(e) = write_pcap(&dir.join(format!("{stem}.pcap")), &r.frames) {
                eprintln!("bootsim: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, bootsim::junit::scenarios(&runs)) {
            eprintln!("bootsim: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
    } else {
        for r in &runs {
            if args.verbose {
                println!("{}", r.render(false));
            }
            let booted = r.transcripts.iter().filter(|t| t.booted()).count();
            println!(
                "{}  {:<28} {:<44} {}/{} booted",
                if r.passed() { "PASS" } else { "FAIL" },
                Path::new(&r.file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                r.name,
                booted,
                r.transcripts.len()
            );
            for c in r.checks.iter().filter(|c| !c.ok) {
                println!("      {}: {}", c.what, c.detail);
            }
        }
    }
    if runs.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[derive(clap::Args)]
struct BootArgs {
    /// The kea-dhcp4.conf the in-process server runs.
    #[arg(long, required_unless_present = "iface")]
    config: Option<PathBuf>,
    /// The TFTP root the in-process server serves (tftpd-hpa --secure rules).
    #[arg(long, required_unless_present = "iface")]
    tftp_root: Option<PathBuf>,
    /// Boot against whatever answers on this interface (AF_PACKET; real Kea, dnsmasq,
    /// tftpd-hpa...) instead of netbootd in-process. Needs CAP_NET_RAW; real time.
    #[arg(long, conflicts_with_all = ["config", "tftp_root"])]
    iface: Option<String>,
    /// uefi-x64, uefi-ia32, uefi-arm64, bios, ipxe-efi or ipxe-bios.
    #[arg(long, default_value = "uefi-x64", value_parser = parse_firmware)]
    firmware: Firmware,
    /// A disk of the client: a GPT image, or a recipe (.toml, see fixtures/disks). Repeat
    /// for more disks; the first is disk 0.
    #[arg(long)]
    disk: Vec<PathBuf>,
    /// Kea release whose grammar reads the config.
    #[arg(long, default_value_t = KeaVersion::default())]
    kea_version: KeaVersion,
    /// The server's address (default: the first host of the first subnet).
    #[arg(long)]
    server_addr: Option<std::net::Ipv4Addr>,
    /// The client's MAC address.
    #[arg(long, default_value = "52:54:00:12:34:56", value_parser = parse_mac)]
    mac: [u8; 6],
    /// Print the transcript as JSON.
    #[arg(long)]
    json: bool,
    /// Also print every console line of every stage.
    #[arg(long)]
    console: bool,
    /// Write every frame on the simulated wire to this pcap file.
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// A menu item an iPXE `choose` picks, by its label. Repeatable; `--choose` and
    /// `--keys` are consumed in the order given, one per command that waits for input.
    #[arg(long, value_name = "ITEM")]
    choose: Vec<String>,
    /// A key for an iPXE `prompt` or menu (`enter`, `esc`, `ctrl-b`, `0x02`, a character),
    /// or a line of text for `read`. Repeatable.
    #[arg(long, value_name = "KEY")]
    keys: Vec<String>,
    /// The scripted keyboard, in command-line order (filled from `choose` and `keys`).
    #[arg(skip)]
    keyboard: Keyboard,
}

/// `--choose` and `--keys` values as one keyboard, in the order they were given.
fn keyboard_in_order(matches: &ArgMatches) -> Keyboard {
    let mut inputs: Vec<(usize, Input)> = Vec::new();
    for (id, make) in [
        ("choose", Input::Item as fn(String) -> Input),
        ("keys", Input::Key as fn(String) -> Input),
    ] {
        if let (Some(values), Some(indices)) =
            (matches.get_many::<String>(id), matches.indices_of(id))
        {
            inputs.extend(indices.zip(values.cloned().map(make)));
        }
    }
    inputs.sort_by_key(|(i, _)| *i);
    Keyboard::new(inputs.into_iter().map(|(_, input)| input))
}

fn parse_firmware(s: &str) -> Result<Firmware, String> {
    Firmware::parse(s).ok_or_else(|| {
        format!("{s}: expected uefi-x64, uefi-ia32, uefi-arm64, bios, ipxe-efi or ipxe-bios")
    })
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bytes: Vec<u8> = s
        .split([':', '-'])
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{s}: not a MAC address"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{s}: a MAC address has six bytes"))
}

fn load_disk(path: &Path) -> Result<Disk, String> {
    if path.extension().is_some_and(|e| e == "toml") {
        bootsim::recipe::load(path).map_err(|e| e.to_string())
    } else {
        Disk::from_image(path, true).map_err(|e| e.to_string())
    }
}

fn run_boot(args: BootArgs) -> ExitCode {
    let disks = match args
        .disk
        .iter()
        .map(|d| load_disk(d))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    let client = Client {
        firmware: args.firmware,
        mac: args.mac,
        uuid: [
            0x4c, 0x4c, 0x45, 0x44, 0x00, 0x42, 0x35, 0x10, 0x80, 0x52, 0xb4, 0xc0, 0x4f, 0x38,
            0x4d, 0x32,
        ],
        disks,
        seed: 0x1d2c_3b4a,
    };
    let (transcript, frames) = if let Some(name) = &args.iface {
        let mut iface = match Iface::open(name) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("bootsim: {name}: {e}");
                return ExitCode::from(2);
            }
        };
        let t = boot_with_keyboard(&mut iface, &client, args.keyboard.clone());
        (t, iface.frames)
    } else {
        let (Some(config), Some(root)) = (&args.config, &args.tftp_root) else {
            eprintln!("bootsim: give --config and --tftp-root, or --iface");
            return ExitCode::from(2);
        };
        let spec = ServerSpec {
            config: config.clone(),
            kea_version: args.kea_version,
            tftp_root: Some(root.clone()),
            server_addr: args.server_addr,
            epoch: SIMULATION_EPOCH,
        };
        let server = match build(&spec) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bootsim: {e}");
                return ExitCode::from(2);
            }
        };
        let mut lan = Lan::new(server);
        let t = boot_with_keyboard(&mut lan, &client, args.keyboard.clone());
        (t, lan.frames)
    };
    if let Some(path) = &args.pcap {
        if let Err(e) = write_pcap(path, &frames) {
            eprintln!("bootsim: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if args.json {
        match serde_json::to_string_pretty(&transcript) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("bootsim: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", transcript.render(args.console));
    }
    if transcript.booted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn write_pcap(path: &Path, frames: &[Frame]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut writer = CaptureWriter::new(file).map_err(|e| e.to_string())?;
    for f in frames {
        writer
            .write(f.at + Duration::ZERO, &f.datagram.to_frame())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
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
