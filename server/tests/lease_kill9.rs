//! A hundred kill -9s under load: perfdhcp leases continuously (a million distinct clients,
//! as a relay) while netbootd is killed with SIGKILL at random moments and restarted. After
//! each kill, every lease whose DHCPACK reached the client (recorded on the client's
//! interface) must be in the lease file with that client; at the end netbootd, restarted
//! once more, must offer every client the address it was acknowledged. This is the promise
//! of `--lease-sync write` (the default): the rows are written before the answer leaves, so
//! the kernel holds them when the process dies. Power loss is `lease_powercut.rs`.
//!
//! The random moments come from a seed printed with the figures (`--nocapture`);
//! NETBOOTD_KILL9_SEED replays those moments (perfdhcp's clients differ from run to run).

mod support;

use std::time::{Duration, Instant};

use support::lease_load::{
    self, holders, missing_from_file, not_offered_back, AckRecorder, FileFollower, Load,
};
use support::netns;
use support::process::Daemon;

const CYCLES: usize = 100;
/// DORAs per second perfdhcp attempts: enough that most kills land mid-exchange, few enough
/// that a debug build keeps up on a shared two-core machine.
const RATE: u32 = 200;

/// xorshift64*, for kill moments that differ from run to run but can be replayed.
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        low + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (high - low + 1)
    }
}

#[test]
fn a_hundred_kill_9s_under_load_lose_no_acknowledged_lease() {
    if !support::require_tool("perfdhcp") || !netns::available() {
        return;
    }
    let started = Instant::now();
    let seed = std::env::var("NETBOOTD_KILL9_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut moments = Moments(seed | 1); // xorshift stays at zero from zero
    let dir = tempfile::tempdir().unwrap();
    let leases = dir.path().join("kea-leases4.csv");
    let (server, client) = lease_load::link("k");
    let config = lease_load::config(dir.path(), &leases);
    let args = ["serve", "--config", config.to_str().unwrap()];

    let recorder = AckRecorder::start(&client);
    let load = Load::start(&client, RATE);
    let mut file = FileFollower::new(&leases);
    let mut checked = 0usize;
    let (mut t_start, mut t_check) = (Duration::ZERO, Duration::ZERO);
    for cycle in 0..CYCLES {
        let t = Instant::now();
        let mut d = Daemon::start(&server, &args, "DHCP4_STARTED");
        t_start += t.elapsed();
        std::thread::sleep(Duration::from_millis(moments.next_ms(20, 300)));
        d.child.kill().unwrap(); // SIGKILL, by PID
        d.child.wait().unwrap();
        // An ACK sent just before the kill may still be on the veth.
        std::thread::sleep(Duration::from_millis(20));
        let t = Instant::now();
        let acks = recorder.acks();
        holders(&acks);
        file.catch_up();
        let missing = file.missing(&acks);
        t_check += t.elapsed();
        assert!(
            missing.is_empty(),
            "cycle {cycle} (seed {seed}): {} of {} acknowledged leases not in the file: {:?}",
            missing.len(),
            acks.len(),
            &missing[..missing.len().min(10)]
        );
        checked += acks.len();
    }
    load.stop();
    let acks = recorder.stop();
    let clients = holders(&acks);
    assert!(
        clients.len() >= 500,
        "only {} leases acknowledged in {CYCLES} cycles: the load did not reach the server",
        clients.len()
    );
    // The whole file through netbootd's loader, as the next start reads it.
    let missing = missing_from_file(&leases, &clients);
    assert!(missing.is_empty(), "lost on a full load: {missing:?}");

    let d = Daemon::start(&server, &args, "DHCP4_STARTED");
    let not_back = not_offered_back(&client, &clients);
    drop(d);
    assert!(
        not_back.is_empty(),
        "{} of {} clients not offered their acknowledged address again: {:?}",
        not_back.len(),
        clients.len(),
        &not_back[..not_back.len().min(10)]
    );
    println!(
        "kill -9 x{CYCLES} (seed {seed}): {} ACKs observed, {} clients, {checked} lease checks \
         against the file, 0 lost, {} torn rows skipped, {} offered back; {:.1} s ({:.1} s waiting for starts, {:.1} s checking)",
        acks.len(),
        clients.len(),
        file.torn.len(),
        clients.len(),
        started.elapsed().as_secs_f64(),
        t_start.as_secs_f64(),
        t_check.as_secs_f64()
    );
}
