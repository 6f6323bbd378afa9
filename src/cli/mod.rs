//! Command line flags, read as nats-server 2.9.10 reads its own: Go's flag package rules
//! ([`goflag`]) over nats-server's flag set ([`flags`]). Flags of features ringmq does not
//! have yet are refused by name; the rest fill a [`Config`].

mod flags;
pub mod goflag;

pub use flags::{Key, FLAGS, TLS_HELP, USAGE};

use crate::conf::{self, Diagnostic, Report};
use crate::config::{ClusterConfig, Config, TlsConfig};
use goflag::{FlagError, Given, Value};
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Start the server. The report holds what the config file (if any) had to say: with
    /// errors in it, the server must not start.
    Run(Box<Startup>),
    /// `-t`: check the config file and exit.
    Check(Box<Startup>),
    Version,
    /// `-h`, or the argument `help`: print [`USAGE`] on stdout, exit 0.
    Help,
    /// `--help_tls`: print [`TLS_HELP`] on stdout, exit 0.
    TlsHelp,
    /// `--signal NAME[=PID|PIDFILE]`: signal a running ringmq.
    Signal {
        name: String,
        target: Option<String>,
    },
}

/// The configuration (defaults, then the file, then explicit flags) and the config file's
/// report.
#[derive(Debug)]
pub struct Startup {
    pub config: Config,
    pub report: Report,
}

/// A command line ringmq will not run.
#[derive(Debug, PartialEq, Eq)]
pub enum CliError {
    /// Refused by the flag rules. As nats-server: the message on stderr, then the usage on
    /// stdout, exit status 0.
    Flag(FlagError),
    /// A flag of a feature ringmq does not have yet, named as given (`-js`, `--cluster`).
    /// Printed `ringmq: {self}`, exit status 1.
    NotSupported { flag: String, feature: &'static str },
    /// Anything else (an argument that is no command, an unusable value): printed
    /// `ringmq: {self}`, exit status 1, as nats-server's `nats-server: ...`.
    Invalid(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Flag(error) => error.fmt(f),
            CliError::NotSupported { flag, feature } => {
                write!(f, "flag {flag} is not supported yet ({feature})")
            }
            CliError::Invalid(text) => f.write_str(text),
        }
    }
}

/// The flags given, by setting; the last given for a setting wins, as in Go.
struct Flags {
    given: Vec<Given<Key>>,
}

impl Flags {
    fn last(&self, key: Key) -> Option<&Given<Key>> {
        self.given.iter().rev().find(|given| given.key == key)
    }

    fn bool(&self, key: Key) -> Option<bool> {
        match self.last(key)?.value {
            Value::Bool(flag) => Some(flag),
            _ => None,
        }
    }

    fn int(&self, key: Key) -> Option<(i64, &str)> {
        let given = self.last(key)?;
        match given.value {
            Value::Int(number) => Some((number, given.spelled.as_str())),
            _ => None,
        }
    }

    /// A text flag's value; the empty text is Go's unset value, so `Some(None)`.
    fn text(&self, key: Key) -> Option<Option<OsString>> {
        match &self.last(key)?.value {
            Value::Text(text) if text.is_empty() => Some(None),
            Value::Text(text) => Some(Some(text.clone())),
            _ => None,
        }
    }

    fn string(&self, key: Key) -> Option<Option<String>> {
        self.text(key)
            .map(|text| text.map(|t| t.to_string_lossy().into_owned()))
    }

    fn path(&self, key: Key) -> Option<Option<PathBuf>> {
        self.text(key).map(|text| text.map(PathBuf::from))
    }
}

/// Parses the command line (program name first) and reads the config file it names. As in
/// nats-server, flags given on the command line override the file; flags left out do not
/// reset it.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, CliError> {
    let parsed = goflag::parse(FLAGS, args.into_iter().skip(1)).map_err(CliError::Flag)?;
    let flags = Flags {
        given: parsed.given,
    };
    // nats-server's order: version, help, TLS help, then a leftover argument.
    if flags.bool(Key::Version) == Some(true) {
        return Ok(Command::Version);
    }
    if flags.bool(Key::Help) == Some(true) {
        return Ok(Command::Help);
    }
    if flags.bool(Key::HelpTls) == Some(true) {
        return Ok(Command::TlsHelp);
    }
    if let Some(arg) = parsed.rest.first() {
        let arg = arg.to_string_lossy();
        return match arg.to_lowercase().as_str() {
            "version" => Ok(Command::Version),
            "help" => Ok(Command::Help),
            _ => Err(CliError::Invalid(format!(
                "unrecognized command: {}",
                goflag::quote(&arg)
            ))),
        };
    }
    if let Some(Some(signal)) = flags.string(Key::Signal) {
        let (name, target) = match signal.split_once('=') {
            Some((name, target)) => (name.to_string(), Some(target.to_string())),
            None => (signal, None),
        };
        return Ok(Command::Signal { name, target });
    }
    refuse_missing_features(&flags)?;
    let check = flags.bool(Key::Check) == Some(true);
    let mut config = Config::default();
    let mut report = Report::default();
    match flags.path(Key::Config).flatten() {
        Some(path) => report = conf::load(&path, &mut config),
        None if check => report.errors.push(Diagnostic {
            pos: None,
            message: "must specify [-c, --config] option to check configuration file syntax".into(),
        }),
        None => {}
    }
    apply_flags(&flags, &mut config)?;
    let startup = Box::new(Startup { config, report });
    Ok(if check {
        Command::Check(startup)
    } else {
        Command::Run(startup)
    })
}

/// A flag of a feature ringmq lacks is refused unless its final value is nats-server's
/// default, which leaves the feature off (`-js=false`, `-ms 0`, `--cluster ""`).
fn refuse_missing_features(flags: &Flags) -> Result<(), CliError> {
    for (index, given) in flags.given.iter().enumerate() {
        let Some(feature) = given.key.missing_feature() else {
            continue;
        };
        let overridden = flags.given[index + 1..].iter().any(|g| g.key == given.key);
        let off = match &given.value {
            Value::Bool(flag) => !flag,
            Value::Int(number) => *number == 0,
            Value::Text(text) => text.is_empty(),
        };
        if !overridden && !off {
            return Err(CliError::NotSupported {
                flag: given.spelled.clone(),
                feature,
            });
        }
    }
    Ok(())
}

/// A port flag's value: 0 means nats-server's default, -1 any free port (0 in `Config`).
fn port(number: i64, spelled: &str) -> Result<Option<u16>, CliError> {
    match number {
        -1 => Ok(Some(0)),
        0 => Ok(None),
        p if (1..=65_535).contains(&p) => Ok(Some(p as u16)),
        p => Err(CliError::Invalid(format!(
            "invalid port {p} for {spelled}: use 1-65535, or -1 for a random port"
        ))),
    }
}

/// Overrides `config` with the flags that were given.
fn apply_flags(flags: &Flags, config: &mut Config) -> Result<(), CliError> {
    if let Some(host) = flags.string(Key::Host) {
        config.host = host.unwrap_or_else(|| Config::default().host);
    }
    if let Some((number, spelled)) = flags.int(Key::Port) {
        config.port = port(number, spelled)?.unwrap_or(Config::default().port);
    }
    if let Some((number, spelled)) = flags.int(Key::HttpPort) {
        // As nats-server: 0 leaves monitoring off, -1 picks a free port.
        config.http_port = port(number, spelled)?;
    }
    if let Some(name) = flags.string(Key::ServerName) {
        config.server_name = name;
    }
    if let Some(log) = flags.path(Key::Log) {
        config.log_file = log;
    }
    if let Some(pid) = flags.path(Key::Pid) {
        config.pid_file = pid;
    }
    if let Some(enabled) = flags.bool(Key::JetStream) {
        // A `jetstream {}` block's settings stay; -js=false turns it off.
        match (enabled, config.jetstream.is_some()) {
            (true, false) => config.jetstream = Some(crate::config::JetStreamConfig::new()),
            (false, _) => config.jetstream = None,
            (true, true) => {}
        }
    }
    if let Some(dir) = flags.path(Key::StoreDir) {
        config.store_dir = dir;
    }
    // As nats-server: the flag's or the top-level `store_dir` is the store directory unless
    // the block names one; a flag wins over the block.
    if let (Some(js), Some(dir)) = (config.jetstream.as_mut(), config.store_dir.as_ref()) {
        if js.store_dir.is_none() || flags.path(Key::StoreDir).is_some() {
            js.store_dir = Some(dir.clone());
        }
    }
    if let Some(logtime) = flags.bool(Key::Logtime) {
        config.logtime = logtime;
    }
    // -D/-V first, then -DV, -DVV, -VV (nats-server applies those last, in name order).
    if let Some(debug) = flags.bool(Key::Debug) {
        config.debug = debug;
    }
    if let Some(trace) = flags.bool(Key::Trace) {
        config.trace = trace;
    }
    for key in [Key::DebugTrace, Key::DebugTraceVerbose] {
        if let Some(both) = flags.bool(key) {
            (config.debug, config.trace) = (both, both);
        }
    }
    if let Some(trace) = flags.bool(Key::TraceVerbose) {
        config.trace = trace;
    }
    if let Some((number, spelled)) = flags.int(Key::Cores) {
        config.cores = usize::try_from(number).map_err(|_| {
            CliError::Invalid(format!(
                "invalid value {number} for {spelled}: use 1 or more"
            ))
        })?;
    }
    // As nats-server: the flags fill the single user and the token (flags override a file).
    if let Some(user) = flags.string(Key::User) {
        config.auth.user = user;
    }
    if let Some(pass) = flags.string(Key::Pass) {
        config.auth.password = pass.map(crate::auth::Secret);
    }
    if let Some(token) = flags.string(Key::Auth) {
        config.auth.token = token.map(crate::auth::Secret);
    }
    apply_cluster(flags, config)?;
    apply_tls(flags, config)
}

/// `--cluster nats://HOST:PORT` (the route port, `-1` a free one), `--cluster_name`,
/// `--routes URL,URL`, `--cluster_advertise`, `--no_advertise`, `--connect_retries`, over
/// the file's `cluster`.
/// As in nats-server, routes without a route port are ignored (no cluster starts).
fn apply_cluster(flags: &Flags, config: &mut Config) -> Result<(), CliError> {
    if let Some(Some(url)) = flags.string(Key::ClusterListen) {
        let cluster = config.cluster.get_or_insert_with(ClusterConfig::new);
        let rest = url
            .strip_prefix("nats://")
            .or_else(|| url.strip_prefix("nats-route://"))
            .unwrap_or(&url);
        // As nats-server: credentials in the URL are the route port's user.
        let (credentials, rest) = match rest.rsplit_once('@') {
            Some((userinfo, rest)) => (userinfo.split_once(':'), rest),
            None => (None, rest),
        };
        if let Some((user, password)) = credentials {
            cluster.authorization = Some(crate::config::RouteAuthorization {
                user: user.to_string(),
                password: password.to_string(),
                timeout: None,
            });
        }
        let rest = rest.trim_end_matches('/');
        let parsed = rest.rsplit_once(':').and_then(|(host, port)| {
            let port: i64 = port.parse().ok()?;
            Some((host, port))
        });
        let Some((host, number)) = parsed else {
            return Err(CliError::Invalid(format!(
                "invalid value {url:?} for --cluster: expected nats://HOST:PORT"
            )));
        };
        if !host.is_empty() {
            cluster.host = host.to_string();
        }
        cluster.port = port(number, "--cluster")?.unwrap_or(crate::config::DEFAULT_CLUSTER_PORT);
    }
    let Some(cluster) = config.cluster.as_mut() else {
        return Ok(());
    };
    if let Some(name) = flags.string(Key::ClusterName) {
        cluster.name = name;
    }
    if let Some(Some(routes)) = flags.string(Key::Routes) {
        let routes: Vec<crate::conf::RouteUrl> = routes
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(crate::conf::route_url)
            .collect::<Result<_, _>>()
            .map_err(CliError::Invalid)?;
        cluster.routes = routes.iter().map(|(url, _)| url.clone()).collect();
        cluster.credentials = routes
            .into_iter()
            .filter_map(|(url, credentials)| credentials.map(|c| (url, c)))
            .collect();
        cluster.addresses.clear();
        cluster.resolve_names();
    }
    if let Some(Some(advertise)) = flags.string(Key::ClusterAdvertise) {
        cluster.advertise = Some(advertise);
    }
    cluster
        .advertised(cluster.port)
        .map_err(|e| CliError::Invalid(format!("{e} (--cluster_advertise)")))?;
    if let Some(on) = flags.bool(Key::NoAdvertise) {
        cluster.no_advertise = on;
    }
    if let Some((number, spelled)) = flags.int(Key::ConnectRetries) {
        cluster.connect_retries = u32::try_from(number)
            .map_err(|_| CliError::Invalid(format!("invalid value {number} for {spelled}")))?;
    }
    Ok(())
}

/// nats-server's rule: `--tls=false` turns TLS off (the file's too); otherwise any `--tls*`
/// flag turns it on, and then a certificate and a key are required, with its messages when
/// one is missing.
fn apply_tls(flags: &Flags, config: &mut Config) -> Result<(), CliError> {
    if flags.bool(Key::Tls) == Some(false) {
        config.tls = None;
        return Ok(());
    }
    let keys = [
        Key::Tls,
        Key::TlsVerify,
        Key::TlsCert,
        Key::TlsKey,
        Key::TlsCaCert,
    ];
    if !keys.iter().any(|&key| flags.last(key).is_some()) {
        return Ok(());
    }
    let invalid = |text: &str| CliError::Invalid(text.to_string());
    let cert_file = flags
        .path(Key::TlsCert)
        .flatten()
        .ok_or_else(|| invalid("TLS Server certificate must be present and valid"))?;
    let key_file = flags
        .path(Key::TlsKey)
        .flatten()
        .ok_or_else(|| invalid("TLS Server private key must be present and valid"))?;
    let mut tls = TlsConfig::new(cert_file, key_file);
    tls.ca_file = flags.path(Key::TlsCaCert).flatten();
    tls.verify = flags.bool(Key::TlsVerify) == Some(true);
    config.tls = Some(tls);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Config {
        let argv = std::iter::once("ringmq")
            .chain(args.iter().copied())
            .map(OsString::from);
        match parse(argv).unwrap() {
            Command::Run(startup) => {
                assert_eq!(startup.report, Report::default());
                startup.config
            }
            other => panic!("not a run: {other:?}"),
        }
    }

    fn signal(args: &[&str]) -> (String, Option<String>) {
        let argv = std::iter::once("ringmq")
            .chain(args.iter().copied())
            .map(OsString::from);
        match parse(argv).unwrap() {
            Command::Signal { name, target } => (name, target),
            other => panic!("not a signal: {other:?}"),
        }
    }

    #[test]
    fn signal_flag_in_nats_spellings() {
        let ldm = ("ldm".to_string(), Some("42".to_string()));
        assert_eq!(signal(&["--signal", "ldm=42"]), ldm);
        assert_eq!(signal(&["-sl", "ldm=42"]), ldm);
        assert_eq!(signal(&["-sl=ldm=42"]), ldm);
        assert_eq!(signal(&["-signal", "ldm=42"]), ldm);
        assert_eq!(
            signal(&["--signal", "reload"]),
            ("reload".to_string(), None)
        );
        assert_eq!(
            signal(&["--signal", "stop=/run/ringmq.pid"]),
            ("stop".to_string(), Some("/run/ringmq.pid".to_string()))
        );
    }

    #[test]
    fn nats_style_flags() {
        let c = run(&[
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-n",
            "edge1",
            "-DV",
            "--cores",
            "2",
        ]);
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 0);
        assert_eq!(c.server_name.as_deref(), Some("edge1"));
        assert!(c.debug && c.trace);
        assert_eq!(c.cores, 2);
    }

    #[test]
    fn go_style_single_dash_long_names() {
        let c = run(&[
            "-port",
            "4333",
            "-addr=10.0.0.1",
            "-pid",
            "/tmp/x.pid",
            "-log",
            "/tmp/l",
        ]);
        assert_eq!(c.port, 4333);
        assert_eq!(c.host, "10.0.0.1");
        assert_eq!(
            c.pid_file.as_deref(),
            Some(std::path::Path::new("/tmp/x.pid"))
        );
        assert_eq!(c.log_file.as_deref(), Some(std::path::Path::new("/tmp/l")));
    }

    #[test]
    fn aliases_and_defaults() {
        let c = run(&["--net", "::1", "--server_name", "x", "-p", "0"]);
        assert_eq!(c.host, "::1");
        assert_eq!(c.server_name.as_deref(), Some("x"));
        assert_eq!(c.port, 4222);
        let d = run(&[]);
        assert_eq!(
            (d.host.as_str(), d.port, d.debug, d.trace),
            ("0.0.0.0", 4222, false, false)
        );
    }

    fn refused(args: &[&str]) -> String {
        let argv = std::iter::once("ringmq")
            .chain(args.iter().copied())
            .map(OsString::from);
        parse(argv).unwrap_err().to_string()
    }

    #[test]
    fn tls_flags() {
        assert_eq!(run(&[]).tls, None);
        let c = run(&["--tls", "--tlscert", "c.pem", "--tlskey", "k.pem"]);
        assert_eq!(c.tls, Some(TlsConfig::new("c.pem", "k.pem")));
        // Go-style spellings; --tlsverify alone turns TLS on.
        let c = run(&[
            "-tlsverify",
            "-tlscert=c.pem",
            "-tlskey",
            "k.pem",
            "-tlscacert",
            "ca.pem",
        ]);
        let tls = c.tls.expect("TLS on");
        assert!(tls.verify);
        assert_eq!(tls.ca_file.as_deref(), Some(std::path::Path::new("ca.pem")));
        assert_eq!(tls.timeout, TlsConfig::DEFAULT_TIMEOUT);
        let c = run(&[
            "--tlscert",
            "c.pem",
            "--tlskey",
            "k.pem",
            "--tlsverify=false",
        ]);
        assert!(!c.tls.expect("TLS on").verify);
        // -tls=false wins over every other --tls* flag.
        assert_eq!(run(&["-tls=false", "--tlscert", "c.pem"]).tls, None);
        assert_eq!(run(&["--tls=0", "--tlsverify"]).tls, None);
    }

    #[test]
    fn tls_flags_without_certificate_or_key_are_refused_in_nats_words() {
        assert!(refused(&["--tls"]).contains("TLS Server certificate must be present and valid"));
        assert!(refused(&["--tlscacert", "ca.pem"])
            .contains("TLS Server certificate must be present and valid"));
        assert!(refused(&["--tls", "--tlscert", "c.pem"])
            .contains("TLS Server private key must be present and valid"));
        assert!(refused(&["--tls=maybe"]).contains("invalid boolean value"));
    }

    #[test]
    fn http_port_flag() {
        assert_eq!(run(&["-m", "8222"]).http_port, Some(8222));
        assert_eq!(run(&["--http_port", "-1"]).http_port, Some(0));
        assert_eq!(run(&["-http_port=8223"]).http_port, Some(8223));
        assert_eq!(run(&["-m", "0"]).http_port, None);
        assert_eq!(run(&[]).http_port, None);
        let argv = ["ringmq", "-m", "65536"].map(OsString::from);
        assert!(parse(argv).is_err());
    }

    #[test]
    fn auth_flags_fill_the_auth_config() {
        let c = run(&["--user", "alice", "--pass", "secret"]);
        assert_eq!(c.auth.user.as_deref(), Some("alice"));
        assert_eq!(c.auth.password, Some("secret".into()));
        assert!(c.auth.token.is_none());
        let t = run(&["-auth", "s3cr3t"]);
        assert_eq!(t.auth.token, Some("s3cr3t".into()));
        assert!(t.auth.is_enabled());
        assert!(!run(&[]).auth.is_enabled());
    }

    #[test]
    fn version_and_bad_port() {
        let argv = ["ringmq", "-v"].map(OsString::from);
        assert!(matches!(parse(argv).unwrap(), Command::Version));
        let argv = ["ringmq", "-p", "70000"].map(OsString::from);
        assert!(parse(argv).is_err());
    }

    /// Writes `text` to a file of this test's own and returns its path.
    fn conf_file(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("ringmq-cli-{name}-{}.conf", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn startup(args: &[&str]) -> Command {
        let argv = std::iter::once("ringmq")
            .chain(args.iter().copied())
            .map(OsString::from);
        parse(argv).unwrap()
    }

    #[test]
    fn config_file_then_explicit_flags() {
        let path = conf_file(
            "override",
            "host: 10.1.1.1\nport: 4333\nserver_name: file\ndebug: false\ntrace: true\n\
             logtime: false\nmax_payload: 100\n",
        );
        let file = path.to_str().unwrap();
        let c = run(&["-c", file]);
        assert_eq!((c.host.as_str(), c.port), ("10.1.1.1", 4333));
        assert_eq!(c.server_name.as_deref(), Some("file"));
        assert!(!c.debug && c.trace && !c.logtime);
        assert_eq!(c.limits.max_payload, 100);
        assert_eq!(c.config_file.as_deref(), Some(path.as_path()));
        // Given flags win; flags left out (trace here) keep the file's value.
        let c = run(&[
            "-config",
            file,
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-n",
            "flag",
            "-D",
            "-T",
        ]);
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 0));
        assert_eq!(c.server_name.as_deref(), Some("flag"));
        assert!(c.debug && c.trace && c.logtime);
        assert_eq!(c.limits.max_payload, 100);
        let c = run(&["--config", file, "-T=false", "--logtime=false"]);
        assert!(!c.logtime);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn false_flags_override_the_file_too() {
        let path = conf_file(
            "false-flags",
            "debug: true\ntrace: true\ntls { cert_file: c.pem\n key_file: k.pem }\n",
        );
        let file = path.to_str().unwrap();
        let c = run(&["-c", file]);
        assert!(c.debug && c.trace && c.tls.is_some());
        // As nats-server: an explicit false wins over the file; -tls=false drops its TLS.
        let c = run(&["-c", file, "-D=false", "--tls=false"]);
        assert!(!c.debug && c.trace && c.tls.is_none());
        let c = run(&["-c", file, "-DV=false"]);
        assert!(!c.debug && !c.trace && c.tls.is_some());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn check_flag_and_config_problems() {
        let Command::Check(s) = startup(&["-t"]) else {
            panic!("not a check")
        };
        assert_eq!(
            s.report.errors[0].to_string(),
            "must specify [-c, --config] option to check configuration file syntax"
        );
        let path = conf_file("problems", "bogus: 1\nmax_payload: x\n");
        let file = path.to_str().unwrap();
        let Command::Check(s) = startup(&["-t", "-c", file]) else {
            panic!("not a check")
        };
        assert_eq!(s.report.warnings.len(), 1);
        assert_eq!(s.report.errors.len(), 1);
        assert!(s.report.errors[0]
            .to_string()
            .starts_with(&format!("{file}:2:14: max_payload: ")));
        // Without -t the problems come back for main to report and refuse to start.
        let Command::Run(s) = startup(&["-c", file]) else {
            panic!("not a run")
        };
        assert!(!s.report.is_ok());
        std::fs::remove_file(path).unwrap();
    }
}
