//! ringmq binary: command line → configuration → start the cores → wait for a signal → stop.

use ringmq::cli::{self, CliError, Command, Startup};
use ringmq::conf::Report;
use ringmq::config::ConfigError;
use ringmq::runtime::signals::{self, Signal};
use ringmq::{broker, error, fatal, info, log, warn};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let startup = match cli::parse(args.clone()) {
        Ok(Command::Run(startup)) => startup,
        Ok(Command::Check(startup)) => return check(&startup),
        Ok(Command::Version) => {
            println!(
                "ringmq: v{} (nats-server v{} protocol)",
                ringmq::VERSION,
                ringmq::COMPAT_VERSION
            );
            return ExitCode::SUCCESS;
        }
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::TlsHelp) => {
            print!("{}", cli::TLS_HELP);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Signal { name, target }) => {
            return match ringmq::control::send(&name, target.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("ringmq: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        // As nats-server: a flag error, then the usage, and exit status 0.
        Err(CliError::Flag(error)) => {
            eprintln!("{error}");
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("ringmq: {error}");
            return ExitCode::FAILURE;
        }
    };
    let Startup { config, report } = *startup;
    if !report.is_ok() {
        // Before the logger is set up, as nats-server: the file may name the log file.
        print_problems(&report, None);
        return ExitCode::FAILURE;
    }
    log::set_levels(config.debug, config.trace);
    log::set_logtime(config.logtime);
    if let Some(path) = &config.log_file {
        if let Err(error) = log::set_file(path) {
            eprintln!("ringmq: cannot open log file {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    for warning in &report.warnings {
        warn!("{warning}");
    }
    if let Some(path) = &config.config_file {
        info!("Using configuration file: {}", path.display());
    }
    if let Err(error) = config.validate() {
        fatal!("{error}");
        return ExitCode::FAILURE;
    }
    // Before any thread exists, so that every core thread inherits the mask and only the
    // main thread sees SIGINT/SIGTERM.
    signals::block_signals();
    if let Err(error) = ringmq::runtime::probe() {
        fatal!("{error}");
        return ExitCode::FAILURE;
    }
    if let Some(path) = &config.pid_file {
        if let Err(error) = std::fs::write(path, std::process::id().to_string()) {
            fatal!("Could not write pidfile: {error}");
            return ExitCode::FAILURE;
        }
    }
    let server = match broker::Server::start(config) {
        Ok(server) => server,
        // Unusable settings (TLS files among them) say so themselves.
        Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => {
            fatal!("{error}");
            return ExitCode::FAILURE;
        }
        Err(error) => {
            fatal!("Error listening on port: {error}");
            return ExitCode::FAILURE;
        }
    };
    loop {
        match signals::wait() {
            Signal::Interrupt | Signal::Terminate => break,
            Signal::User2 => {
                // Lame duck: waits (still answering SIGINT/SIGTERM) until every client is
                // gone, then shuts down.
                server.lame_duck(|pause| {
                    !matches!(
                        signals::wait_timeout(pause),
                        Some(Signal::Interrupt | Signal::Terminate)
                    )
                });
                break;
            }
            Signal::User1 => match &server.shared().live.load().config.log_file {
                None => info!("File log re-open ignored, not a file logger"),
                Some(path) => match log::set_file(path) {
                    Ok(()) => info!("File log re-opened"),
                    Err(e) => error!("Failed to re-open log file {}: {e}", path.display()),
                },
            },
            Signal::Hangup => {
                if let Err(reason) = server.reload(|| reread(&args)) {
                    error!("Failed to reload server configuration: {reason}");
                }
            }
        }
    }
    info!("Initiating Shutdown...");
    server.shutdown();
    info!("Server Exiting..");
    ExitCode::SUCCESS
}

/// The configuration a reload would start with: the same command line, the file read
/// again. Warnings are logged; the first error refuses the reload.
fn reread(args: &[std::ffi::OsString]) -> Result<ringmq::config::Config, String> {
    let startup = match cli::parse(args.iter().cloned()) {
        Ok(Command::Run(startup)) => startup,
        Ok(_) => return Err("the command line no longer starts a server".into()),
        Err(error) => return Err(error.to_string()),
    };
    let Startup { config, report } = *startup;
    for warning in &report.warnings {
        warn!("{warning}");
    }
    match report.errors.first() {
        Some(error) => Err(error.to_string()),
        None => Ok(config),
    }
}

/// `-t`: nats-server's messages and exit status. Warnings fail the check too, as they do
/// there; unlike nats-server, the cross-field rules start-up applies (`max_payload` within
/// `max_pending`, ...) are checked as well, so a file that passes also starts.
fn check(startup: &Startup) -> ExitCode {
    let report = &startup.report;
    // Cross-field rules only on a file without errors: on a half-read one they mislead.
    let invalid = report
        .is_ok()
        .then(|| startup.config.validate().err())
        .flatten();
    let clean = report.is_ok() && report.warnings.is_empty() && invalid.is_none();
    // Without -c the report holds an error, so a clean check always has a file.
    if let (true, Some(file)) = (clean, &startup.config.config_file) {
        eprintln!("ringmq: configuration file {} is valid", file.display());
        return ExitCode::SUCCESS;
    }
    print_problems(report, invalid.as_ref());
    ExitCode::FAILURE
}

/// Warnings, then errors, one per line after a `ringmq: ` prefix, on stderr (nats-server's
/// layout).
fn print_problems(report: &Report, invalid: Option<&ConfigError>) {
    let lines: Vec<String> = report
        .warnings
        .iter()
        .chain(&report.errors)
        .map(ToString::to_string)
        .chain(invalid.map(ToString::to_string))
        .collect();
    eprintln!("ringmq: {}", lines.join("\n"));
}
