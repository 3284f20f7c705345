//! Boot storms: N machines (distinct MACs and UUIDs) power on against one server, and the
//! report says how long each step took across them (percentiles of virtual time), how long
//! until a share of them had booted, what held them up (the server's link, its queues,
//! retransmissions, drops, an exhausted pool) and which failed where. Wall time and peak
//! memory measure bootsim itself.
//!
//! With a [`StormModel`] the segment has rates and buffers ([`crate::net::link`]), the
//! server has CPU costs and workers ([`crate::net::capacity`]) and the machines power on
//! spread over a window with POST before their first DISCOVER ([`power`]); without one every
//! machine starts at once on an infinitely fast segment.

pub mod fleet;
pub mod power;
pub mod progress;
pub mod report;
pub mod timeline;

use std::time::Duration;

use netbootd::time::Instant;

use crate::chain::Client;
use crate::net::capacity::{Capacity, ServerLoad};
use crate::net::lan::{Lan, Run, Station};
use crate::net::link::{LinkModel, Links};
use crate::transcript::Transcript;

pub use power::{Post, PowerOn};
pub use report::{peak_rss_bytes, StepLatency, StormReport};

/// What the storm's world is like.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StormModel {
    /// `None`: an infinitely fast segment.
    pub links: Option<LinkModel>,
    /// `None`: the server answers instantly.
    pub capacity: Option<Capacity>,
    pub power_on: PowerOn,
    pub post: Post,
    /// Seeds the power-on schedule.
    pub seed: u64,
}

impl StormModel {
    /// Every machine at once, no POST, no link or server model: the segment as scenarios see
    /// it.
    pub fn instant() -> StormModel {
        StormModel {
            links: None,
            capacity: None,
            power_on: PowerOn::AllAtOnce,
            post: Post {
                min: Duration::ZERO,
                max: Duration::ZERO,
            },
            seed: 0,
        }
    }
}

/// How far a storm has got, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub now: Instant,
    pub finished: usize,
    pub clients: usize,
}

/// Virtual time a storm may take before it is cut.
const LIMIT: Duration = Duration::from_secs(3600);

/// `template`'s firmware and disks for `n` machines: MACs 02:00:xx:xx:xx:xx, UUIDs from them.
pub fn clients(template: &Client, n: usize) -> Vec<Client> {
    (0..n)
        .map(|i| {
            let b = (i as u32 + 1).to_be_bytes();
            let mac = netbootd::wire::MacAddr([0x02, 0x00, b[0], b[1], b[2], b[3]]);
            let mut uuid = template.uuid;
            uuid[12..16].copy_from_slice(&b);
            Client {
                mac,
                uuid,
                seed: template.seed ^ (i as u32).wrapping_mul(0x9e37_79b9),
                ..template.clone()
            }
        })
        .collect()
}

/// A finished storm.
pub struct Storm {
    pub report: StormReport,
    pub transcripts: Vec<Transcript>,
    /// Each machine's (power-on, network start), virtual time since the power cut.
    pub schedule: Vec<(Instant, Instant)>,
}

impl Storm {
    /// The timeline of machines per stage, as SVG.
    pub fn timeline_svg(&self) -> String {
        timeline::svg(&self.transcripts, &self.schedule)
    }
}

/// Boots every client at once on `lan` and reports.
pub fn storm(lan: &mut Lan, clients: &[Client]) -> (StormReport, Vec<Transcript>) {
    let s = storm_with(lan, clients, &StormModel::instant(), &mut |_| {});
    (s.report, s.transcripts)
}

/// Boots the clients on `lan` as `model` says, calling `progress` now and then.
pub fn storm_with(
    lan: &mut Lan,
    clients: &[Client],
    model: &StormModel,
    progress: &mut dyn FnMut(Progress),
) -> Storm {
    let wall = std::time::Instant::now();
    lan.keep_frames = false;
    lan.links = model.links.clone().map(Links::new);
    lan.load = model.capacity.clone().map(ServerLoad::new);
    let schedule = power::schedule(clients.len(), model.power_on, model.post, model.seed);
    let mut machines: Vec<power::Machine> = clients
        .iter()
        .zip(&schedule)
        .map(|(c, (_, start))| power::Machine::new(c.clone(), *start))
        .collect();
    {
        let mut refs: Vec<&mut dyn Station> =
            machines.iter_mut().map(|s| s as &mut dyn Station).collect();
        drive(lan, &mut refs, progress);
    }
    conclude(machines, &*lan, Some(&*lan), schedule, wall)
}

/// Boots the clients in real time on a real network (`net`: a packet socket on an
/// interface), powered on as `model` says (its link and server models do not apply: the
/// wire and the server are real). The report's link and server figures stay empty.
pub fn storm_real(
    net: &mut dyn crate::net::Network,
    clients: &[Client],
    model: &StormModel,
) -> Storm {
    let wall = std::time::Instant::now();
    let start = net.now();
    let schedule: Vec<(Instant, Instant)> =
        power::schedule(clients.len(), model.power_on, model.post, model.seed)
            .into_iter()
            .map(|(on, s)| (start + on.since_origin(), start + s.since_origin()))
            .collect();
    let machines = clients
        .iter()
        .zip(&schedule)
        .map(|(c, (_, s))| power::Machine::new(c.clone(), *s))
        .collect();
    let mut fleet = fleet::Fleet::new(machines);
    net.run(&mut fleet, LIMIT);
    conclude(fleet.machines, &*net, None, schedule, wall)
}

/// Ends a storm, simulated or real: each machine's transcript as `net` saw it, and the
/// report (with the segment's link and server figures when it ran on `lan`) and its cost.
fn conclude(
    machines: Vec<power::Machine>,
    net: &dyn crate::net::Network,
    lan: Option<&Lan>,
    schedule: Vec<(Instant, Instant)>,
    wall: std::time::Instant,
) -> Storm {
    let transcripts: Vec<Transcript> = machines
        .into_iter()
        .map(|m| m.into_chain().finish(net))
        .collect();
    let mut report = StormReport::new(lan, &transcripts, &schedule);
    report.wall_seconds = wall.elapsed().as_secs_f64();
    report.peak_rss_bytes = peak_rss_bytes();
    Storm {
        report,
        transcripts,
        schedule,
    }
}

/// The segment's event loop (as [`Lan::run_all`]), reporting progress every few thousand
/// events.
fn drive(lan: &mut Lan, stations: &mut [&mut dyn Station], progress: &mut dyn FnMut(Progress)) {
    let end = lan.now() + LIMIT;
    let mut run = Run::new(stations);
    let mut events = 0u64;
    while let Some(next) = lan.poll(&mut run, stations) {
        if next > end {
            lan.advance_to(end);
            break;
        }
        lan.advance_to(next);
        lan.step(&mut run, stations);
        events += 1;
        if events % 65_536 == 0 {
            progress(Progress {
                now: lan.now(),
                finished: stations.len() - run.unfinished(),
                clients: stations.len(),
            });
        }
    }
}

/// Makes `server`'s TFTP engine refuse RFC 7440 windowsize, as tftpd-hpa does: its option
/// table (tftp-hpa tftpd/tftpd.c `options[]`; the names in Debian 12's in.tftpd 5.2 binary)
/// has blksize, blksize2, tsize, timeout, utimeout and rollover only, so a client asking
/// for a window gets lock-step.
pub fn refuse_windowsize(server: &mut crate::net::lan::Server) {
    if let Some(tftp) = server.tftp.as_mut() {
        let mut config = tftp.config().clone();
        config.limits.refused.push("windowsize".into());
        *tftp = netbootd::tftp::engine::TftpEngine::new(
            config,
            Box::new(netbootd::tftp::files::Cached::default()),
        );
    }
}
