//! bootsim on a real interface (AF_PACKET) against servers it did not write, in network
//! namespaces this test creates: Debian's Kea 2.2 running the guide's config with tftpd-hpa
//! serving the guide's TFTP root (Debian's ipxe.efi and refind_x64.efi), and dnsmasq doing
//! both jobs with the equivalent dnsmasq configuration. The same nine steps as in-process.

mod real_servers;
#[path = "../../server/tests/support/mod.rs"]
mod support;

use std::process::Stdio;
use std::time::Duration;

use real_servers::{fixture, kea_and_tftpd_available, seed_root, Guard, GuideNetwork};
use support::netns::{self, Netns};

#[test]
fn the_guides_boot_against_real_kea_and_tftpd_hpa() {
    if !kea_and_tftpd_available() {
        return;
    }
    let net = GuideNetwork::start("nbk");
    let (client, dir) = (&net.client, &net.dir);
    let run = client
        .command(env!("CARGO_BIN_EXE_bootsim"))
        .args(["boot", "--iface", "nbk1", "--disk"])
        .arg(fixture("disks/debian.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    eprintln!("{text}");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let steps: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(|c: char| c == ' ' || c.is_ascii_digit()) && l.contains("s  "))
        .collect();
    assert_eq!(steps.len(), 9, "{text}");
    assert!(
        text.contains("ipxe.efi from 192.168.1.1: 850528 bytes (x86_64 EFI, iPXE)"),
        "{text}"
    );
    assert!(text.contains("file refind.pxe"), "{text}");
    assert!(
        text.contains("booted EFI\\debian\\grubx64.efi on disk 0 (sda, volume ESP)"),
        "{text}"
    );
    // Kea's lease file has the client's lease.
    let leases = std::fs::read_to_string(dir.path().join("leases.csv")).unwrap();
    assert!(leases.contains("192.168.1.2,52:54:00:12:34:56"), "{leases}");
}

#[test]
fn the_guides_boot_against_dnsmasq() {
    if !support::require_tool("dnsmasq") || !support::require_tool("apt-get") || !netns::available()
    {
        return;
    }
    let root = seed_root();
    let dir = tempfile::tempdir().unwrap();
    let server = Netns::new("s");
    let client = Netns::new("c");
    netns::veth(
        &server,
        "nbd0",
        Some("192.168.1.1/28"),
        &client,
        "nbd1",
        None,
    );
    // The guide's classes in dnsmasq's words: iPXE (user-class "iPXE") gets refind.pxe, a
    // UEFI x64 firmware (client-arch 7) ipxe.efi.
    let _dnsmasq = Guard(
        server
            .command("dnsmasq")
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--port=0",
                "--interface=nbd0",
                "--bind-interfaces",
                "--dhcp-range=192.168.1.2,192.168.1.14,255.255.255.240,1h",
                "--dhcp-userclass=set:ipxe,iPXE",
                "--dhcp-match=set:efi64,option:client-arch,7",
                "--dhcp-boot=tag:ipxe,refind.pxe,,192.168.1.1",
                "--dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi,,192.168.1.1",
                "--enable-tftp",
                "--user=root",
            ])
            .arg(format!("--tftp-root={}", root.display()))
            .arg(format!(
                "--dhcp-leasefile={}",
                dir.path().join("leases").display()
            ))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let run = client
        .command(env!("CARGO_BIN_EXE_bootsim"))
        .args(["boot", "--iface", "nbd1", "--disk"])
        .arg(fixture("disks/debian.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        text.contains("ipxe.efi from 192.168.1.1: 850528 bytes (x86_64 EFI, iPXE)"),
        "{text}"
    );
    assert!(text.contains("file refind.pxe"), "{text}");
    assert!(
        text.contains("booted EFI\\debian\\grubx64.efi on disk 0"),
        "{text}"
    );
}
