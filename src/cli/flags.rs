//! nats-server 2.9.10's flag set, name for name, and what ringmq does with each flag.

use super::goflag::{Def, Kind};

/// The setting a flag writes. Aliases share a key, as they share a variable in nats-server;
/// the last one given wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Help,
    Version,
    HelpTls,
    Port,
    Host,
    ServerName,
    Config,
    Check,
    Signal,
    Pid,
    Log,
    Logtime,
    Debug,
    Trace,
    /// `-VV`: trace, system account included (ringmq has none, so: trace).
    TraceVerbose,
    /// `-DV`
    DebugTrace,
    /// `-DVV`
    DebugTraceVerbose,
    HttpPort,
    User,
    Pass,
    Auth,
    Tls,
    TlsVerify,
    TlsCert,
    TlsKey,
    TlsCaCert,
    /// `-sd`: JetStream's storage directory (kept without `-js` too).
    StoreDir,
    /// `-js`: JetStream on.
    JetStream,
    /// Ours: worker cores.
    Cores,
    // Features ringmq does not have yet: refused unless left at nats-server's default.
    HttpsPort,
    ClientAdvertise,
    PortsFileDir,
    LogSizeLimit,
    MaxTracedMsgLen,
    Syslog,
    RemoteSyslog,
    Routes,
    ClusterListen,
    ClusterName,
    ClusterAdvertise,
    NoAdvertise,
    ConnectRetries,
    Profile,
}

impl Key {
    /// For a flag ringmq refuses, the feature it would need; `None` for flags it reads.
    pub fn missing_feature(self) -> Option<&'static str> {
        Some(match self {
            Key::HttpsPort => "HTTPS monitoring",
            Key::ClientAdvertise => "advertised client URLs",
            Key::PortsFileDir => "ports files",
            Key::LogSizeLimit => "log file rotation by size",
            Key::MaxTracedMsgLen => "truncated trace lines",
            Key::Syslog | Key::RemoteSyslog => "syslog",
            Key::Profile => "profiling",
            _ => return None,
        })
    }
}

const fn flag(name: &'static str, kind: Kind, key: Key) -> Def<Key> {
    Def { name, kind, key }
}

use Kind::{Bool, Int, Text};

/// Every flag nats-server 2.9.10 registers (server/opts.go `ConfigureOptions`), plus ours
/// (`cores`).
pub const FLAGS: &[Def<Key>] = &[
    flag("h", Bool, Key::Help),
    flag("help", Bool, Key::Help),
    flag("port", Int, Key::Port),
    flag("p", Int, Key::Port),
    flag("n", Text, Key::ServerName),
    flag("name", Text, Key::ServerName),
    flag("server_name", Text, Key::ServerName),
    flag("addr", Text, Key::Host),
    flag("a", Text, Key::Host),
    flag("net", Text, Key::Host),
    flag("client_advertise", Text, Key::ClientAdvertise),
    flag("D", Bool, Key::Debug),
    flag("debug", Bool, Key::Debug),
    flag("V", Bool, Key::Trace),
    flag("VV", Bool, Key::TraceVerbose),
    flag("trace", Bool, Key::Trace),
    flag("DV", Bool, Key::DebugTrace),
    flag("DVV", Bool, Key::DebugTraceVerbose),
    flag("T", Bool, Key::Logtime),
    flag("logtime", Bool, Key::Logtime),
    flag("user", Text, Key::User),
    flag("pass", Text, Key::Pass),
    flag("auth", Text, Key::Auth),
    flag("m", Int, Key::HttpPort),
    flag("http_port", Int, Key::HttpPort),
    flag("ms", Int, Key::HttpsPort),
    flag("https_port", Int, Key::HttpsPort),
    flag("c", Text, Key::Config),
    flag("config", Text, Key::Config),
    flag("t", Bool, Key::Check),
    flag("sl", Text, Key::Signal),
    flag("signal", Text, Key::Signal),
    flag("P", Text, Key::Pid),
    flag("pid", Text, Key::Pid),
    flag("ports_file_dir", Text, Key::PortsFileDir),
    flag("l", Text, Key::Log),
    flag("log", Text, Key::Log),
    flag("log_size_limit", Int, Key::LogSizeLimit),
    flag("s", Bool, Key::Syslog),
    flag("syslog", Bool, Key::Syslog),
    flag("r", Text, Key::RemoteSyslog),
    flag("remote_syslog", Text, Key::RemoteSyslog),
    flag("version", Bool, Key::Version),
    flag("v", Bool, Key::Version),
    flag("profile", Int, Key::Profile),
    flag("routes", Text, Key::Routes),
    flag("cluster", Text, Key::ClusterListen),
    flag("cluster_listen", Text, Key::ClusterListen),
    flag("cluster_advertise", Text, Key::ClusterAdvertise),
    flag("no_advertise", Bool, Key::NoAdvertise),
    flag("connect_retries", Int, Key::ConnectRetries),
    flag("cluster_name", Text, Key::ClusterName),
    flag("help_tls", Bool, Key::HelpTls),
    flag("tls", Bool, Key::Tls),
    flag("tlsverify", Bool, Key::TlsVerify),
    flag("tlscert", Text, Key::TlsCert),
    flag("tlskey", Text, Key::TlsKey),
    flag("tlscacert", Text, Key::TlsCaCert),
    flag("max_traced_msg_len", Int, Key::MaxTracedMsgLen),
    flag("js", Bool, Key::JetStream),
    flag("jetstream", Bool, Key::JetStream),
    flag("sd", Text, Key::StoreDir),
    flag("store_dir", Text, Key::StoreDir),
    flag("cores", Int, Key::Cores),
];

/// `-h`: printed on stdout, as nats-server prints its usage (also after a flag error).
pub const USAGE: &str = "
Usage: ringmq [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1: any free port)
    -n, --name
        --server_name <server_name>  Server name (default: the server id)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to ringmq process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file
        --cores <n>                  Worker cores, one io_uring each (default: available CPUs)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Same as -V (ringmq has no system account)
    -DV                              Debug and trace
    -DVV                             Same as -DV

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help

nats-server's other flags (-js, --cluster, --routes, -s, -r, -ms, --profile, ...) are
refused with \"not supported yet\" unless given their default (off) value.

";

/// `--help_tls`: the config file's TLS block as ringmq reads it.
pub const TLS_HELP: &str = "
TLS configuration is specified in the tls section of a configuration file:

e.g.

    tls {
        cert_file:      \"./certs/server-cert.pem\"
        key_file:       \"./certs/server-key.pem\"
        ca_file:        \"./certs/ca.pem\"
        verify:         true
        timeout:        2
    }

ringmq reads cert_file, key_file, ca_file, verify and timeout; TLS 1.2 and 1.3 with
rustls's default cipher suites and curves.

";
