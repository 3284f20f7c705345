//! `bootsim boot`: one machine against netbootd in-process or a real interface.

use bootsim::net::embedded::SIMULATION_EPOCH;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ArgMatches;

use bootsim::chain::{boot_with_keyboard, Client, Firmware};
use bootsim::firmware::ipxe::keyboard::{Input, Keyboard};
use bootsim::net::embedded::{build, ServerSpec};
use bootsim::net::iface::Iface;
use bootsim::net::lan::Lan;
use netbootd::kea::KeaVersion;
use netbootd::wire::MacAddr;

use super::{load_disks, parse_firmware, write_pcap};

#[derive(clap::Args)]
pub struct BootArgs {
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
    #[arg(long, default_value = "52:54:00:12:34:56", value_parser = clap::value_parser!(MacAddr))]
    mac: MacAddr,
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
    pub keyboard: Keyboard,
}

/// `--choose` and `--keys` values as one keyboard, in the order they were given.
pub fn keyboard_in_order(matches: &ArgMatches) -> Keyboard {
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

pub fn run_boot(args: BootArgs) -> ExitCode {
    let disks = match load_disks(&args.disk) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bootsim: {e}");
            return ExitCode::from(2);
        }
    };
    let client = Client {
        firmware: args.firmware,
        mac: args.mac,
        uuid: bootsim::firmware::MACHINE_UUID,
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
