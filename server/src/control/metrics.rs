//! The statistics as a Prometheus text exposition (`netbootd serve --metrics ADDR`), so an
//! operator scrapes netbootd as they scrape Kea through an exporter: every Kea statistic as a
//! gauge `netbootd_<name>`, per-subnet ones with a `subnet` label, TFTP counters beside them.

use std::fmt::Write;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::stats::Statistics;
use crate::dhcp::stats::Shared;

/// The exposition text of `stats`.
pub fn exposition(stats: &Statistics) -> String {
    let mut out = String::new();
    let mut declared = std::collections::BTreeSet::new();
    for (name, value) in stats.latest() {
        let (metric, label) = match name
            .strip_prefix("subnet[")
            .and_then(|r| r.split_once("]."))
        {
            Some((id, rest)) => (
                format!("netbootd_subnet_{}", sanitize(rest)),
                format!("{{subnet=\"{id}\"}}"),
            ),
            None => (format!("netbootd_{}", sanitize(name)), String::new()),
        };
        if declared.insert(metric.clone()) {
            let _ = writeln!(out, "# TYPE {metric} gauge");
        }
        let _ = writeln!(out, "{metric}{label} {value}");
    }
    out
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Answers every HTTP request on `listener` with the exposition, until `stop` turns true.
pub async fn serve(listener: TcpListener, stats: Shared, mut stop: watch::Receiver<bool>) {
    loop {
        let mut stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf))
                .await;
            let body = stats.lock().map(|s| exposition(&s)).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_become_gauges_with_subnet_labels() {
        let mut s = Statistics::default();
        s.set("pkt4-received", 7);
        s.set("subnet[1].assigned-addresses", 3);
        s.set("subnet[2].assigned-addresses", 1);
        assert_eq!(
            exposition(&s),
            "# TYPE netbootd_pkt4_received gauge\nnetbootd_pkt4_received 7\n\
             # TYPE netbootd_subnet_assigned_addresses gauge\n\
             netbootd_subnet_assigned_addresses{subnet=\"1\"} 3\n\
             netbootd_subnet_assigned_addresses{subnet=\"2\"} 1\n"
        );
    }
}
