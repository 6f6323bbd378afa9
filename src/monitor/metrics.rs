//! `/metrics`: the /varz numbers in Prometheus text format 0.0.4. Names and the
//! `server_id` label are those prometheus-nats-exporter gives the same /varz fields
//! (`gnatsd_varz_in_msgs`, ...), so dashboards built for nats-server read ringmq directly.

use super::clock::between;
use super::document::{ServerFacts, VarzCounters};
use super::snapshot::CoreStats;
use std::fmt::Write;

/// Whether a series only grows (Prometheus `counter`) or goes up and down (`gauge`).
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

pub fn render(facts: &ServerFacts, counters: &VarzCounters, stats: &CoreStats) -> Vec<u8> {
    // Milliseconds are plenty, and print without binary-fraction noise.
    let uptime_seconds = between(facts.start, counters.now).as_millis() as f64 / 1000.0;
    let series: [(&str, Kind, &str, f64); 18] = [
        (
            "in_msgs",
            Kind::Counter,
            "Messages received from clients.",
            stats.in_msgs as f64,
        ),
        (
            "out_msgs",
            Kind::Counter,
            "Messages delivered to clients.",
            stats.out_msgs as f64,
        ),
        (
            "in_bytes",
            Kind::Counter,
            "Payload bytes received from clients.",
            stats.in_bytes as f64,
        ),
        (
            "out_bytes",
            Kind::Counter,
            "Payload bytes delivered to clients.",
            stats.out_bytes as f64,
        ),
        (
            "slow_consumers",
            Kind::Counter,
            "Connections closed as slow consumers.",
            counters.slow_consumers as f64,
        ),
        (
            "total_connections",
            Kind::Counter,
            "Client connections accepted since start.",
            counters.total_connections as f64,
        ),
        (
            "connections",
            Kind::Gauge,
            "Open client connections.",
            stats.connections as f64,
        ),
        (
            "subscriptions",
            Kind::Gauge,
            "Client subscriptions.",
            stats.subscriptions as f64,
        ),
        (
            "mem",
            Kind::Gauge,
            "Resident memory in bytes.",
            counters.mem as f64,
        ),
        (
            "cpu",
            Kind::Gauge,
            "CPU use in percent of one core.",
            counters.cpu,
        ),
        (
            "uptime_seconds",
            Kind::Gauge,
            "Seconds since the server started.",
            uptime_seconds,
        ),
        (
            "cores",
            Kind::Gauge,
            "CPUs of the machine.",
            facts.cpus as f64,
        ),
        (
            "gomaxprocs",
            Kind::Gauge,
            "Worker cores (threads with an io_uring each).",
            facts.worker_cores as f64,
        ),
        (
            "max_connections",
            Kind::Gauge,
            "Limit of client connections.",
            facts.max_connections as f64,
        ),
        (
            "max_payload",
            Kind::Gauge,
            "Largest message payload in bytes.",
            facts.max_payload as f64,
        ),
        (
            "max_pending",
            Kind::Gauge,
            "Outbound bytes per connection before it is a slow consumer.",
            facts.max_pending as f64,
        ),
        (
            "routes",
            Kind::Gauge,
            "Cluster routes.",
            counters.routes as f64,
        ),
        (
            "leafnodes",
            Kind::Gauge,
            "Leaf node connections.",
            counters.leafnodes as f64,
        ),
    ];
    let mut text = String::with_capacity(4096);
    for (name, kind, help, value) in series {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(text, "# HELP gnatsd_varz_{name} {help}");
        let _ = writeln!(text, "# TYPE gnatsd_varz_{name} {kind}");
        let _ = writeln!(
            text,
            "gnatsd_varz_{name}{{server_id=\"{}\"}} {value}",
            facts.server_id
        );
    }
    // ringmq's own series (no /varz field of nats-server's carries them).
    let own = [
        (
            "websocket_handshake_refusals_total",
            "WebSocket upgrade requests refused (bad request, origin, head too large, data \
             before the handshake, handshake timeout).",
            counters.websocket_refusals,
        ),
        (
            "websocket_framing_faults_total",
            "WebSocket connections closed for breaking the framing rules or sending bad \
             deflate data.",
            counters.websocket_faults,
        ),
    ];
    for (name, help, value) in own {
        let _ = writeln!(text, "# HELP ringmq_{name} {help}");
        let _ = writeln!(text, "# TYPE ringmq_{name} counter");
        let _ = writeln!(
            text,
            "ringmq_{name}{{server_id=\"{}\"}} {value}",
            facts.server_id
        );
    }
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_series_has_help_type_and_one_sample() {
        let facts = ServerFacts {
            server_id: "NID".into(),
            server_name: "n".into(),
            version: "2.9.10".into(),
            proto: 1,
            go: "ringmq".into(),
            host: "127.0.0.1".into(),
            port: 4222,
            max_connections: 65536,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            http_host: "127.0.0.1".into(),
            http_port: 8222,
            auth_timeout: 2.0,
            tls_timeout: 2.0,
            max_control_line: 4096,
            max_payload: 1 << 20,
            max_pending: 64 << 20,
            write_deadline: Duration::from_secs(10),
            start: 0,
            config_load_time: 0,
            cpus: 2,
            worker_cores: 2,
            leaf: Default::default(),
            cluster: Default::default(),
            websocket: Default::default(),
        };
        let counters = VarzCounters {
            now: 90_500_000_000,
            cpu: 12.5,
            routes: 2,
            leafnodes: 5,
            websocket_faults: 4,
            ..VarzCounters::default()
        };
        let stats = CoreStats {
            connections: 3,
            in_msgs: 7,
            ..CoreStats::default()
        };
        let text = String::from_utf8(render(&facts, &counters, &stats)).unwrap();
        assert!(text.contains(
            "# HELP gnatsd_varz_in_msgs Messages received from clients.\n\
             # TYPE gnatsd_varz_in_msgs counter\n\
             gnatsd_varz_in_msgs{server_id=\"NID\"} 7\n"
        ));
        assert!(text.contains("gnatsd_varz_connections{server_id=\"NID\"} 3\n"));
        assert!(text.contains("gnatsd_varz_cpu{server_id=\"NID\"} 12.5\n"));
        assert!(text.contains("gnatsd_varz_uptime_seconds{server_id=\"NID\"} 90.5\n"));
        assert!(text.contains("gnatsd_varz_routes{server_id=\"NID\"} 2\n"));
        assert!(text.contains("gnatsd_varz_leafnodes{server_id=\"NID\"} 5\n"));
        assert!(text.contains(
            "# TYPE ringmq_websocket_framing_faults_total counter\n\
             ringmq_websocket_framing_faults_total{server_id=\"NID\"} 4\n"
        ));
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 20);
        assert_eq!(text.matches("# TYPE ").count(), 20);
    }
}
