//! Every flag of `nats-server --help` (2.9.10), in each of Go's spellings, read as
//! nats-server reads it: the `Config` it yields, the command it selects, or the exact
//! refusal. Then the binary: refusals' exit status and streams, side by side with
//! nats-server where it is installed, and a start with the Rust client harness's flags.

mod common;

use ringmq::cli::{self, CliError, Command, FLAGS, USAGE};
use ringmq::config::{ClusterConfig, Config, JetStreamConfig, TlsConfig};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output, Stdio};
use std::time::{Duration, Instant};

/// What one flag given with the row's value must come to.
enum Expect {
    /// A server run whose config is the default changed by this, and only this.
    Set(fn(&mut Config)),
    /// A refusal: the flag names a feature ringmq does not have yet.
    Refused(&'static str),
    /// The outcome exactly as [`outcome`] describes it.
    Is(&'static str),
}

/// One flag name: the value given with it (`None` for a boolean flag), arguments given
/// after it in every form, and what it must come to.
struct Row {
    name: &'static str,
    value: Option<&'static str>,
    extra: &'static [&'static str],
    expect: Expect,
}

const fn row(name: &'static str, value: Option<&'static str>, expect: Expect) -> Row {
    Row {
        name,
        value,
        extra: &[],
        expect,
    }
}

/// A row whose flag needs others given after it (TLS: a certificate and a key).
const fn with(extra: &'static [&'static str], row: Row) -> Row {
    Row { extra, ..row }
}

const CERT_AND_KEY: &[&str] = &["--tlscert", "c.pem", "--tlskey", "k.pem"];

use Expect::{Is, Refused, Set};

/// Rewritten per test into the path of a real config file (`-c`).
const CONF: &str = "{conf}";

fn cluster(host: &str, port: u16) -> ClusterConfig {
    ClusterConfig {
        host: host.into(),
        port,
        ..ClusterConfig::new()
    }
}

fn tls(c: &mut Config) -> &mut TlsConfig {
    c.tls
        .get_or_insert_with(|| TlsConfig::new("c.pem", "k.pem"))
}

/// One row per flag name of `nats-server --help`, plus `--cores` (ours).
const TABLE: &[Row] = &[
    // Server options.
    row("a", Some("10.0.0.1"), Set(|c| c.host = "10.0.0.1".into())),
    row(
        "addr",
        Some("10.0.0.1"),
        Set(|c| c.host = "10.0.0.1".into()),
    ),
    row("net", Some("::1"), Set(|c| c.host = "::1".into())),
    row("p", Some("4333"), Set(|c| c.port = 4333)),
    row("port", Some("-1"), Set(|c| c.port = 0)),
    row(
        "n",
        Some("edge"),
        Set(|c| c.server_name = Some("edge".into())),
    ),
    row(
        "name",
        Some("edge"),
        Set(|c| c.server_name = Some("edge".into())),
    ),
    row(
        "server_name",
        Some("e"),
        Set(|c| c.server_name = Some("e".into())),
    ),
    row(
        "P",
        Some("/x.pid"),
        Set(|c| c.pid_file = Some("/x.pid".into())),
    ),
    row(
        "pid",
        Some("/x.pid"),
        Set(|c| c.pid_file = Some("/x.pid".into())),
    ),
    row("m", Some("8222"), Set(|c| c.http_port = Some(8222))),
    row("http_port", Some("0x10"), Set(|c| c.http_port = Some(16))),
    row("ms", Some("8443"), Refused("HTTPS monitoring")),
    row("https_port", Some("8443"), Refused("HTTPS monitoring")),
    row("c", Some(CONF), Set(|c| c.port = 4999)),
    row("config", Some(CONF), Set(|c| c.port = 4999)),
    row(
        "t",
        None,
        Is("check: must specify [-c, --config] option to check configuration file syntax"),
    ),
    row("sl", Some("ldm=42"), Is("signal ldm Some(\"42\")")),
    row("signal", Some("reload"), Is("signal reload None")),
    row(
        "client_advertise",
        Some("h:1"),
        Refused("advertised client URLs"),
    ),
    row("ports_file_dir", Some("/tmp"), Refused("ports files")),
    // Logging options.
    row(
        "l",
        Some("/x.log"),
        Set(|c| c.log_file = Some("/x.log".into())),
    ),
    row(
        "log",
        Some("/x.log"),
        Set(|c| c.log_file = Some("/x.log".into())),
    ),
    row("T", None, Set(|_| {})),
    row("logtime", None, Set(|_| {})),
    row("s", None, Refused("syslog")),
    row("syslog", None, Refused("syslog")),
    row("r", Some("udp://h:514"), Refused("syslog")),
    row("remote_syslog", Some("udp://h:514"), Refused("syslog")),
    row("D", None, Set(|c| c.debug = true)),
    row("debug", None, Set(|c| c.debug = true)),
    row("V", None, Set(|c| c.trace = true)),
    row("trace", None, Set(|c| c.trace = true)),
    row("VV", None, Set(|c| c.trace = true)),
    row("DV", None, Set(|c| (c.debug, c.trace) = (true, true))),
    row("DVV", None, Set(|c| (c.debug, c.trace) = (true, true))),
    row(
        "log_size_limit",
        Some("1000"),
        Refused("log file rotation by size"),
    ),
    row(
        "max_traced_msg_len",
        Some("10"),
        Refused("truncated trace lines"),
    ),
    // JetStream options.
    row(
        "js",
        None,
        Set(|c| c.jetstream = Some(JetStreamConfig::new())),
    ),
    row(
        "jetstream",
        None,
        Set(|c| c.jetstream = Some(JetStreamConfig::new())),
    ),
    row("sd", Some("/sd"), Set(|c| c.store_dir = Some("/sd".into()))),
    row(
        "store_dir",
        Some("/sd"),
        Set(|c| c.store_dir = Some("/sd".into())),
    ),
    // Authorization options.
    row("user", Some("al"), Set(|c| c.auth.user = Some("al".into()))),
    row(
        "pass",
        Some("pw"),
        Set(|c| c.auth.password = Some("pw".into())),
    ),
    row(
        "auth",
        Some("tok"),
        Set(|c| c.auth.token = Some("tok".into())),
    ),
    // TLS options: the row's flag, then a certificate and key.
    with(CERT_AND_KEY, row("tls", None, Set(|c| _ = tls(c)))),
    with(
        &["--tlskey", "k.pem"],
        row(
            "tlscert",
            Some("o.pem"),
            Set(|c| tls(c).cert_file = "o.pem".into()),
        ),
    ),
    with(
        &["--tlscert", "c.pem"],
        row(
            "tlskey",
            Some("o.pem"),
            Set(|c| tls(c).key_file = "o.pem".into()),
        ),
    ),
    with(
        CERT_AND_KEY,
        row("tlsverify", None, Set(|c| tls(c).verify = true)),
    ),
    with(
        CERT_AND_KEY,
        row(
            "tlscacert",
            Some("ca.pem"),
            Set(|c| tls(c).ca_file = Some("ca.pem".into())),
        ),
    ),
    // Cluster options.
    row(
        "cluster",
        Some("nats://h:1"),
        Set(|c| c.cluster = Some(cluster("h", 1))),
    ),
    row(
        "cluster_listen",
        Some("nats://h:1"),
        Set(|c| c.cluster = Some(cluster("h", 1))),
    ),
    with(
        &["--cluster", "nats://127.0.0.1:-1"],
        row(
            "cluster_name",
            Some("local"),
            Set(|c| {
                c.cluster = Some(ClusterConfig {
                    name: Some("local".into()),
                    ..cluster("127.0.0.1", 0)
                })
            }),
        ),
    ),
    with(
        &["--cluster", "nats://127.0.0.1:-1"],
        row(
            "routes",
            Some("nats://127.0.0.1:6001,nats-route://127.0.0.2:6002"),
            Set(|c| {
                c.cluster = Some(ClusterConfig {
                    routes: vec!["127.0.0.1:6001".into(), "127.0.0.2:6002".into()],
                    ..cluster("127.0.0.1", 0)
                })
            }),
        ),
    ),
    with(
        &["--cluster", "nats://127.0.0.1:-1"],
        row(
            "no_advertise",
            None,
            Set(|c| {
                c.cluster = Some(ClusterConfig {
                    no_advertise: true,
                    ..cluster("127.0.0.1", 0)
                })
            }),
        ),
    ),
    with(
        &["--cluster", "nats://127.0.0.1:-1"],
        row(
            "connect_retries",
            Some("3"),
            Set(|c| {
                c.cluster = Some(ClusterConfig {
                    connect_retries: 3,
                    ..cluster("127.0.0.1", 0)
                })
            }),
        ),
    ),
    with(
        &["--cluster", "nats://127.0.0.1:-1"],
        row(
            "cluster_advertise",
            Some("h:1"),
            Set(|c| {
                c.cluster = Some(ClusterConfig {
                    advertise: Some("h:1".into()),
                    ..cluster("127.0.0.1", 0)
                })
            }),
        ),
    ),
    // Profiling options.
    row("profile", Some("6060"), Refused("profiling")),
    // Common options.
    row("h", None, Is("help")),
    row("help", None, Is("help")),
    row("v", None, Is("version")),
    row("version", None, Is("version")),
    row("help_tls", None, Is("tls help")),
    // Ours.
    row("cores", Some("3"), Set(|c| c.cores = 3)),
];

/// A config file for the `-c` rows.
fn conf_file() -> PathBuf {
    let path = std::env::temp_dir().join(format!("ringmq-cli-flags-{}.conf", std::process::id()));
    std::fs::write(&path, "port: 4999\n").unwrap();
    path
}

/// A parse result as one comparable line; a run is the whole `Config`'s `Debug`.
fn outcome(result: Result<Command, CliError>) -> String {
    match result {
        Ok(Command::Run(startup)) => {
            assert!(startup.report.is_ok(), "{:?}", startup.report);
            format!("run {:?}", startup.config)
        }
        Ok(Command::Check(startup)) => {
            let errors: Vec<String> = startup
                .report
                .errors
                .iter()
                .map(|e| e.to_string())
                .collect();
            format!("check: {}", errors.join("; "))
        }
        Ok(Command::Version) => "version".into(),
        Ok(Command::Help) => "help".into(),
        Ok(Command::TlsHelp) => "tls help".into(),
        Ok(Command::Signal { name, target }) => format!("signal {name} {target:?}"),
        Err(error) => format!("error {error}"),
    }
}

fn parse(args: &[String]) -> Result<Command, CliError> {
    let argv = std::iter::once("ringmq".to_string()).chain(args.iter().cloned());
    cli::parse(argv.map(OsString::from))
}

/// The forms Go reads alike: `-name V`, `--name V`, `-name=V`, `--name=V`; a boolean flag
/// as `-name`, `--name`, `-name=true`, `--name=true`.
fn forms(name: &str, value: Option<&str>) -> Vec<(String, Vec<String>)> {
    let mut forms = Vec::new();
    for dashes in ["-", "--"] {
        let spelled = format!("{dashes}{name}");
        match value {
            Some(value) => {
                forms.push((spelled.clone(), vec![spelled.clone(), value.to_string()]));
                forms.push((spelled.clone(), vec![format!("{spelled}={value}")]));
            }
            None => {
                forms.push((spelled.clone(), vec![spelled.clone()]));
                forms.push((spelled.clone(), vec![format!("{spelled}=true")]));
            }
        }
    }
    forms
}

#[test]
fn every_nats_server_flag_in_every_form() {
    let conf = conf_file();
    let conf_text = conf.to_str().unwrap();
    let mut checked = 0;
    for row in TABLE {
        let value = row.value.map(|v| if v == CONF { conf_text } else { v });
        for (spelled, mut args) in forms(row.name, value) {
            args.extend(row.extra.iter().map(|a| a.to_string()));
            let expected = match &row.expect {
                Set(change) => {
                    let mut config = Config::default();
                    if row.value == Some(CONF) {
                        config.config_file = Some(conf.clone());
                    }
                    change(&mut config);
                    format!("run {config:?}")
                }
                Refused(feature) => {
                    format!("error flag {spelled} is not supported yet ({feature})")
                }
                Is(text) => text.to_string(),
            };
            let result = parse(&args);
            // Debug hides secrets: compare the auth settings themselves too.
            if let (Set(change), Ok(Command::Run(startup))) = (&row.expect, &result) {
                let mut config = Config::default();
                change(&mut config);
                assert_eq!(startup.config.auth, config.auth, "{args:?}");
            }
            assert_eq!(outcome(result), expected, "{args:?}");
            checked += 1;
        }
    }
    std::fs::remove_file(conf).unwrap();
    assert_eq!((TABLE.len(), checked), (64, 256));
}

#[test]
fn the_table_covers_every_flag_ringmq_defines() {
    let mut table: Vec<&str> = TABLE.iter().map(|row| row.name).collect();
    let mut defined: Vec<&str> = FLAGS.iter().map(|def| def.name).collect();
    table.sort_unstable();
    defined.sort_unstable();
    assert_eq!(table, defined);
}

/// The flag names `nats-server --help` lists, from its left column.
fn help_flag_names(help: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in help.lines() {
        let left = line.get(..37).unwrap_or(line);
        for token in left.split([' ', ',']) {
            if let Some(name) = token.strip_prefix('-') {
                names.push(name.trim_start_matches('-').to_string());
            }
        }
    }
    names
}

#[test]
fn the_table_covers_every_flag_of_nats_server_help() {
    let Some(nats) = nats_server() else {
        eprintln!("nats-server not installed: skipped");
        return;
    };
    let help = Process::new(nats).arg("--help").output().unwrap();
    let mut listed = help_flag_names(&String::from_utf8(help.stdout).unwrap());
    listed.sort_unstable();
    let mut table: Vec<String> = TABLE
        .iter()
        .map(|row| row.name.to_string())
        .filter(|name| name != "cores")
        .collect();
    table.sort_unstable();
    assert_eq!(listed.len(), 63);
    assert_eq!(listed, table);
}

/// `ringmq ARGS` as one line, as in [`outcome`].
fn run(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    outcome(parse(&args))
}

/// The default config changed by `change`, as [`outcome`] prints a run.
fn runs(change: impl FnOnce(&mut Config)) -> String {
    let mut config = Config::default();
    change(&mut config);
    format!("run {config:?}")
}

#[test]
fn refused_flags_at_their_default_leave_the_feature_off_and_are_accepted() {
    let off = [
        ["-js=false"].as_slice(),
        &["--jetstream=0"],
        &["-s=false"],
        &["-no_advertise=f"],
        &["-ms", "0"],
        &["--profile=0"],
        &["-log_size_limit", "0"],
        &["-max_traced_msg_len=0"],
        &["-connect_retries", "0"],
        &["--cluster", ""],
        &["-routes="],
        &["-cluster_name", ""],
        &["-client_advertise="],
        &["-ports_file_dir", ""],
        &["-r", ""],
        // The last one given wins, as in Go.
        &["-js", "-js=false"],
    ];
    for args in off {
        assert_eq!(run(args), runs(|_| {}), "{args:?}");
    }
    assert_eq!(
        run(&["-js=false", "--js"]),
        runs(|c| c.jetstream = Some(JetStreamConfig::new()))
    );
    // -sd names the store directory of -js.
    assert_eq!(
        run(&["-js", "-sd", "/sd"]),
        runs(|c| {
            c.store_dir = Some("/sd".into());
            c.jetstream = Some(JetStreamConfig {
                store_dir: Some("/sd".into()),
                ..JetStreamConfig::new()
            });
        })
    );
    // Without a route port no cluster starts, as in nats-server: these change nothing.
    for args in [
        ["--routes", "nats://h:1"].as_slice(),
        &["-cluster_name", "local"],
        &["-no_advertise"],
        &["--connect_retries", "3"],
    ] {
        assert_eq!(run(args), runs(|_| {}), "{args:?}");
    }
    // The issue's command line: -cluster is the flag, not -c with "luster".
    assert_eq!(
        run(&[
            "-cluster",
            "nats://127.0.0.1:6222",
            "-cluster_name",
            "local"
        ]),
        runs(|c| {
            c.cluster = Some(ClusterConfig {
                name: Some("local".into()),
                ..cluster("127.0.0.1", 6222)
            })
        })
    );
}

#[test]
fn unknown_and_malformed_flags_are_refused_in_go_words() {
    let cases = [
        (["-foo"].as_slice(), "flag provided but not defined: -foo"),
        (&["--foo=1"], "flag provided but not defined: -foo"),
        // Never bundled: each is one (undefined) name.
        (&["-DVX"], "flag provided but not defined: -DVX"),
        (&["-VVV"], "flag provided but not defined: -VVV"),
        (&["-VD"], "flag provided but not defined: -VD"),
        (&["-p4222"], "flag provided but not defined: -p4222"),
        (&["-j"], "flag provided but not defined: -j"),
        (&["---p", "1"], "bad flag syntax: ---p"),
        (&["-=1"], "bad flag syntax: -=1"),
        (&["-p"], "flag needs an argument: -p"),
        (&["--cluster"], "flag needs an argument: -cluster"),
        (
            &["-p", "abc"],
            "invalid value \"abc\" for flag -p: parse error",
        ),
        (&["-p=08"], "invalid value \"08\" for flag -p: parse error"),
        (
            &["-m", "99999999999999999999"],
            "invalid value \"99999999999999999999\" for flag -m: value out of range",
        ),
        (
            &["-js=maybe"],
            "invalid boolean value \"maybe\" for -js: parse error",
        ),
        (&["-D="], "invalid boolean value \"\" for -D: parse error"),
    ];
    for (args, message) in cases {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        match parse(&args) {
            Err(CliError::Flag(error)) => assert_eq!(error.to_string(), message, "{args:?}"),
            other => panic!("{args:?}: {other:?}"),
        }
    }
    // A flag's value is the next argument, whatever it looks like.
    assert_eq!(
        run(&["-n", "-js"]),
        runs(|c| c.server_name = Some("-js".into()))
    );
}

#[test]
fn arguments_after_the_flags() {
    // A boolean flag takes no separate value: "false" ends the flags.
    assert_eq!(
        run(&["-T", "false"]),
        "error unrecognized command: \"false\""
    );
    assert_eq!(run(&["-", "-js"]), "error unrecognized command: \"-\"");
    assert_eq!(run(&["--", "-js"]), "error unrecognized command: \"-js\"");
    assert_eq!(run(&["-p", "1", "VERSION"]), "version");
    assert_eq!(run(&["help", "-js"]), "help");
    // -v and -h win over a refused flag, as they exit before nats-server looks at it.
    assert_eq!(run(&["-js", "-v"]), "version");
    assert_eq!(run(&["-cluster", "x", "-h"]), "help");
    assert_eq!(run(&["-h=false", "-help=0"]), runs(|_| {}));
}

#[test]
fn booleans_and_their_combinations_as_nats_server_applies_them() {
    assert_eq!(run(&["-T=false"]), runs(|c| c.logtime = false));
    assert_eq!(run(&["--logtime=0", "-T"]), runs(|_| {}));
    assert_eq!(run(&["-D", "--debug=false"]), runs(|_| {}));
    // -DV, -DVV and -VV are applied after -D and -V, in that order, whatever the order given.
    assert_eq!(run(&["-DV=false", "-D", "-V"]), runs(|_| {}));
    assert_eq!(run(&["-VV", "-DVV=false"]), runs(|c| c.trace = true));
    assert_eq!(run(&["-DV", "-VV=false"]), runs(|c| c.debug = true));
    // -tls=false turns TLS off whatever the other TLS flags say.
    assert_eq!(
        run(&["-tls=false", "--tlsverify", "--tlscert", "c"]),
        runs(|_| {})
    );
    assert_eq!(
        run(&["--tlscacert", "ca.pem"]),
        "error TLS Server certificate must be present and valid"
    );
    assert_eq!(
        run(&["-tlscert=c", "-tlsverify=false"]),
        "error TLS Server private key must be present and valid"
    );
}

#[test]
fn integers_and_empty_values_as_go_and_nats_server_read_them() {
    assert_eq!(run(&["-p", "010"]), runs(|c| c.port = 8));
    assert_eq!(run(&["-p=0x1_0"]), runs(|c| c.port = 16));
    assert_eq!(run(&["-p", "0"]), runs(|_| {}));
    assert_eq!(run(&["-m", "-1"]), runs(|c| c.http_port = Some(0)));
    assert_eq!(
        run(&["--port", "70000"]),
        "error invalid port 70000 for --port: use 1-65535, or -1 for a random port"
    );
    assert_eq!(
        run(&["-cores=-2"]),
        "error invalid value -2 for -cores: use 1 or more"
    );
    // An empty text is Go's unset value: the default again.
    assert_eq!(run(&["-a", "10.0.0.1", "-a="]), runs(|_| {}));
    assert_eq!(run(&["-n", "", "-l", "", "-sd", ""]), runs(|_| {}));
}

// ---- the binary ----

fn nats_server() -> Option<&'static str> {
    let path = "/usr/sbin/nats-server";
    Path::new(path).exists().then_some(path)
}

fn exec(program: &str, args: &[&str]) -> Output {
    Process::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn streams(output: &Output) -> (Option<i32>, String, String) {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

const RINGMQ: &str = env!("CARGO_BIN_EXE_ringmq");

#[test]
fn binary_refuses_a_flag_of_a_missing_feature_by_name() {
    let cases = [
        (
            ["-ms", "8443"].as_slice(),
            "ringmq: flag -ms is not supported yet (HTTPS monitoring)\n",
        ),
        (
            &["-client_advertise", "h:1"],
            "ringmq: flag -client_advertise is not supported yet (advertised client URLs)\n",
        ),
    ];
    for (args, stderr) in cases {
        let output = exec(RINGMQ, args);
        assert_eq!(
            streams(&output),
            (Some(1), String::new(), stderr.to_string()),
            "{args:?}"
        );
    }
}

/// Command lines both servers refuse before starting: the same exit status and, with the
/// program's name swapped, the same stderr; a flag error prints the usage on stdout.
#[test]
fn binary_refuses_bad_command_lines_as_nats_server_does() {
    let cases: &[&[&str]] = &[
        &["-foo"],
        &["--foo=1"],
        &["-DVX"],
        &["-p4222"],
        &["-j", "s"],
        &["---p"],
        &["-p"],
        &["-p", "abc"],
        &["-m", "99999999999999999999"],
        &["-js=maybe"],
        &["-T", "false"],
        &["-tls"],
        &["--tlscert", "c.pem"],
    ];
    let nats = nats_server();
    for args in cases {
        let (code, stdout, stderr) = streams(&exec(RINGMQ, args));
        let flag_error = !stderr.starts_with("ringmq: ");
        if flag_error {
            assert_eq!((code, stdout.as_str()), (Some(0), USAGE), "{args:?}");
        } else {
            assert_eq!((code, stdout.as_str()), (Some(1), ""), "{args:?}");
        }
        let Some(nats) = nats else { continue };
        let (nats_code, nats_stdout, nats_stderr) = streams(&exec(nats, args));
        assert_eq!(
            (code, stderr),
            (
                nats_code,
                nats_stderr.replacen("nats-server: ", "ringmq: ", 1)
            ),
            "{args:?}"
        );
        assert_eq!(
            nats_stdout.starts_with("\nUsage: nats-server [options]\n"),
            flag_error,
            "{args:?}"
        );
    }
}

#[test]
fn binary_prints_the_usage_and_tls_help() {
    assert_eq!(
        streams(&exec(RINGMQ, &["-h"])),
        (Some(0), USAGE.into(), String::new())
    );
    assert_eq!(
        streams(&exec(RINGMQ, &["help"])),
        (Some(0), USAGE.into(), String::new())
    );
    let tls = streams(&exec(RINGMQ, &["--help_tls"]));
    assert_eq!(tls, (Some(0), cli::TLS_HELP.into(), String::new()));
}

/// Reads `path` until it holds `needle`, up to a deadline; returns the text from `needle` on.
fn wait_for_file_text(path: &Path, needle: &str, child: &mut std::process::Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(at) = text.find(needle) {
            return text[at + needle.len()..].to_string();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("server exited with {status} before logging {needle:?}: {text}");
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in {path:?}: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The Rust client's test harness (nats.rs `nats-server` crate) starts every server as
/// `--store_dir DIR -p -1 -l LOG -P PID --debug --trace`, then reads the client port from
/// the log; it works with ringmq as with nats-server.
fn start_as_the_rust_client_harness_does(program: &str) {
    let dir = std::env::temp_dir()
        .join(format!("ringmq-cli-sd-{}-{program}", std::process::id()).replace("/usr/sbin/", ""));
    std::fs::create_dir_all(&dir).unwrap();
    let (store, log, pid) = (dir.join("store"), dir.join("log"), dir.join("pid"));
    let path = |p: &PathBuf| p.to_str().unwrap().to_string();
    let mut child = Process::new(program)
        .args(["--store_dir", &path(&store), "-p", "-1", "-l", &path(&log)])
        .args(["-P", &path(&pid), "--debug", "--trace"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rest = wait_for_file_text(&log, common::READY_LINE, &mut child);
    let addr = rest.lines().next().unwrap();
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    assert!(addr.starts_with("0.0.0.0:"), "{addr}");
    let mut client = common::RawClient::connect_quiet(port, b"");
    assert_eq!(common::text(&client.send_and_sync(b"")), "PONG\r\n");
    assert_eq!(
        std::fs::read_to_string(&pid).unwrap(),
        child.id().to_string()
    );
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn store_dir_without_jetstream_starts_and_serves_clients() {
    start_as_the_rust_client_harness_does(RINGMQ);
    if let Some(nats) = nats_server() {
        start_as_the_rust_client_harness_does(nats);
    }
}
