//! Command line flags, compatible with nats-server's for what ringmq implements.
//!
//! nats-server uses Go's flag package, which accepts long names with one dash
//! (`-port 4222`); clap wants two. [`normalize`] rewrites known single-dash long names before
//! clap sees them, leaving clusters of short flags (`-DV`) alone.

use crate::conf::{self, Diagnostic, Report};
use crate::config::{Config, TlsConfig};
use clap::{ArgAction, Parser};
use std::ffi::OsString;
use std::path::PathBuf;

/// ringmq: a NATS-protocol message broker on a thread-per-core io_uring runtime.
#[derive(Debug, Parser)]
#[command(
    name = "ringmq",
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Args {
    /// Bind to host address.
    #[arg(short = 'a', long = "addr", visible_alias = "net", value_name = "HOST")]
    pub addr: Option<String>,

    /// Use port for clients (-1 picks a free port).
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub port: Option<i32>,

    /// Server name (default: the server id).
    #[arg(
        short = 'n',
        long = "name",
        visible_alias = "server_name",
        value_name = "NAME"
    )]
    pub name: Option<String>,

    /// File to redirect log output to.
    #[arg(short = 'l', long = "log", value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// File to store the process id in.
    #[arg(short = 'P', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,

    /// Enable debugging output.
    #[arg(short = 'D', long = "debug", action = ArgAction::SetTrue)]
    pub debug: bool,

    /// Trace the raw protocol (-VV is accepted as in nats-server).
    #[arg(short = 'V', long = "trace", action = ArgAction::Count)]
    pub trace: u8,

    /// Timestamp log lines (default true; -T=false turns them off).
    #[arg(
        short = 'T',
        long = "logtime",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub logtime: Option<bool>,

    /// Configuration file (nats-server's format). Flags given as well override it.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Check the configuration file and exit: 0 if valid, 1 with the problems if not.
    #[arg(short = 't', action = ArgAction::SetTrue)]
    pub check: bool,
    /// HTTP monitoring port (-1 picks a free port; 0 or absent: off).
    #[arg(
        short = 'm',
        long = "http_port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub http_port: Option<i32>,

    /// User required for connections.
    #[arg(long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Password required for connections.
    #[arg(long = "pass", value_name = "PASSWORD")]
    pub pass: Option<String>,

    /// Authorization token required for connections.
    #[arg(long = "auth", value_name = "TOKEN")]
    pub auth: Option<String>,

    /// Worker cores, one thread and one io_uring each (default: available CPUs).
    #[arg(long = "cores", value_name = "N")]
    pub cores: Option<usize>,

    /// Send a signal to a running ringmq and exit: ldm, stop, quit, term, reopen or reload,
    /// optionally `=PID` or `=PIDFILE` (`-sl` works too).
    #[arg(long = "signal", value_name = "SIGNAL[=PID|PIDFILE]")]
    pub signal: Option<String>,

    /// Show version.
    #[arg(short = 'v', long = "version", action = ArgAction::SetTrue)]
    pub version: bool,

    /// Enable TLS (`--tls=false` turns TLS off whatever the other --tls* flags say).
    #[arg(long = "tls", value_name = "BOOL", num_args = 0..=1, require_equals = true,
        default_missing_value = "true", value_parser = parse_go_bool)]
    pub tls: Option<bool>,

    /// Server certificate file (PEM).
    #[arg(long = "tlscert", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// Private key for the server certificate (PEM).
    #[arg(long = "tlskey", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Enable TLS with client verification.
    #[arg(long = "tlsverify", value_name = "BOOL", num_args = 0..=1, require_equals = true,
        default_missing_value = "true", value_parser = parse_go_bool)]
    pub tls_verify: Option<bool>,

    /// Client certificate CA for verification (PEM).
    #[arg(long = "tlscacert", value_name = "FILE")]
    pub tls_ca_cert: Option<PathBuf>,
}

/// A boolean flag value as Go's `strconv.ParseBool` reads it (`-tls=false`, `-tls=1`, ...).
fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("invalid boolean value {text:?}")),
    }
}

/// Long option names that Go-style single-dash use may spell `-name`.
const LONG_NAMES: &[&str] = &[
    "addr",
    "net",
    "port",
    "name",
    "server_name",
    "log",
    "pid",
    "debug",
    "trace",
    "logtime",
    "config",
    "http_port",
    "cores",
    "signal",
    "user",
    "pass",
    "auth",
    "version",
    "help",
    "tls",
    "tlscert",
    "tlskey",
    "tlsverify",
    "tlscacert",
];

/// Rewrites `-port 4222` / `-port=4222` into `--port …` for known long names.
pub fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter()
        .map(|arg| {
            let Some(text) = arg.to_str() else {
                return arg;
            };
            if text.starts_with("--") || !text.starts_with('-') {
                return arg;
            }
            let name = text[1..].split('=').next().unwrap_or("");
            if name == "sl" {
                // nats-server's two-letter short form of --signal.
                return OsString::from(format!("--signal{}", &text[3..]));
            }
            if LONG_NAMES.contains(&name) {
                OsString::from(format!("-{text}"))
            } else {
                arg
            }
        })
        .collect()
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Start the server. The report holds what the config file (if any) had to say: with
    /// errors in it, the server must not start.
    Run(Box<Startup>),
    /// `-t`: check the config file and exit.
    Check(Box<Startup>),
    Version,
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

/// Parses the command line and reads the config file it names. As in nats-server, flags
/// given on the command line override the file; flags left out do not reset it.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, clap::Error> {
    let args = Args::try_parse_from(normalize(args))?;
    if args.version {
        return Ok(Command::Version);
    }
    if let Some(signal) = args.signal {
        let (name, target) = match signal.split_once('=') {
            Some((name, target)) => (name.to_string(), Some(target.to_string())),
            None => (signal, None),
        };
        return Ok(Command::Signal { name, target });
    }
    let mut config = Config::default();
    let mut report = Report::default();
    match &args.config {
        Some(path) => report = conf::load(path, &mut config),
        None if args.check => report.errors.push(Diagnostic {
            pos: None,
            message: "must specify [-c, --config] option to check configuration file syntax".into(),
        }),
        None => {}
    }
    apply_flags(&args, &mut config)?;
    let startup = Box::new(Startup { config, report });
    Ok(if args.check {
        Command::Check(startup)
    } else {
        Command::Run(startup)
    })
}

/// Overrides `config` with the flags that were given.
fn apply_flags(args: &Args, config: &mut Config) -> Result<(), clap::Error> {
    if let Some(addr) = &args.addr {
        config.host = addr.clone();
    }
    if let Some(tls) = tls_from_flags(args)? {
        config.tls = Some(tls);
    }
    if let Some(port) = args.port {
        config.port = match port {
            -1 => 0,
            0 => 4222,
            p if (1..=65_535).contains(&p) => p as u16,
            p => {
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::ValueValidation,
                    format!("invalid port {p}: use 1-65535, or -1 for a random port\n"),
                ))
            }
        };
    }
    if let Some(port) = args.http_port {
        // As nats-server: 0 leaves monitoring off, -1 picks a free port.
        config.http_port = match port {
            -1 => Some(0),
            0 => None,
            p if (1..=65_535).contains(&p) => Some(p as u16),
            p => {
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::ValueValidation,
                    format!("invalid http port {p}: use 1-65535, or -1 for a random port\n"),
                ))
            }
        };
    }
    if let Some(name) = &args.name {
        config.server_name = Some(name.clone());
    }
    if let Some(log) = &args.log {
        config.log_file = Some(log.clone());
    }
    if let Some(pid) = &args.pid {
        config.pid_file = Some(pid.clone());
    }
    // -D and -V can only turn on what the file turned off, as in nats-server.
    if args.debug {
        config.debug = true;
    }
    if args.trace > 0 {
        config.trace = true;
    }
    if let Some(logtime) = args.logtime {
        config.logtime = logtime;
    }
    if let Some(cores) = args.cores {
        config.cores = cores;
    }
    // As nats-server: the flags fill the single user and the token (flags override a file).
    if let Some(user) = args.user.clone() {
        config.auth.user = Some(user);
    }
    if let Some(pass) = args.pass.clone() {
        config.auth.password = Some(crate::auth::Secret(pass));
    }
    if let Some(token) = args.auth.clone() {
        config.auth.token = Some(crate::auth::Secret(token));
    }
    Ok(())
}

/// nats-server's rule: any `--tls*` flag turns TLS on, unless `--tls=false` is given; then a
/// certificate and a key are required, with its messages when one is missing.
fn tls_from_flags(args: &Args) -> Result<Option<TlsConfig>, clap::Error> {
    let any_flag = args.tls.is_some()
        || args.tls_cert.is_some()
        || args.tls_key.is_some()
        || args.tls_verify.is_some()
        || args.tls_ca_cert.is_some();
    if !any_flag || args.tls == Some(false) {
        return Ok(None);
    }
    let invalid =
        |text: &str| clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{text}\n"));
    let cert_file = args
        .tls_cert
        .clone()
        .ok_or_else(|| invalid("TLS Server certificate must be present and valid"))?;
    let key_file = args
        .tls_key
        .clone()
        .ok_or_else(|| invalid("TLS Server private key must be present and valid"))?;
    let mut tls = TlsConfig::new(cert_file, key_file);
    tls.ca_file = args.tls_ca_cert.clone();
    tls.verify = args.tls_verify == Some(true);
    Ok(Some(tls))
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
