//! Command line flags, compatible with nats-server's for what ringmq implements.
//!
//! nats-server uses Go's flag package, which accepts long names with one dash
//! (`-port 4222`); clap wants two. [`normalize`] rewrites known single-dash long names before
//! clap sees them, leaving clusters of short flags (`-DV`) alone.

use crate::config::{Config, TlsConfig};
use clap::{ArgAction, Parser};
use std::ffi::OsString;
use std::path::PathBuf;

/// ringmq: a NATS-protocol message broker on a thread-per-core io_uring runtime.
#[derive(Debug, Parser)]
#[command(name = "ringmq", disable_version_flag = true)]
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

    /// Worker cores, one thread and one io_uring each (default: available CPUs).
    #[arg(long = "cores", value_name = "N")]
    pub cores: Option<usize>,

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
    "cores",
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
    Run(Box<Config>),
    Version,
}

/// Parses the command line into a configuration (flags override defaults).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, clap::Error> {
    let args = Args::try_parse_from(normalize(args))?;
    if args.version {
        return Ok(Command::Version);
    }
    let mut config = Config {
        tls: tls_from_flags(&args)?,
        ..Config::default()
    };
    if let Some(addr) = args.addr {
        config.host = addr;
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
    config.server_name = args.name;
    config.log_file = args.log;
    config.pid_file = args.pid;
    config.debug = args.debug;
    config.trace = args.trace > 0;
    if let Some(cores) = args.cores {
        config.cores = cores;
    }
    Ok(Command::Run(Box::new(config)))
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
            Command::Run(c) => *c,
            Command::Version => panic!("version"),
        }
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
    fn version_and_bad_port() {
        let argv = ["ringmq", "-v"].map(OsString::from);
        assert!(matches!(parse(argv).unwrap(), Command::Version));
        let argv = ["ringmq", "-p", "70000"].map(OsString::from);
        assert!(parse(argv).is_err());
    }
}
