//! ringmq binary: command line → configuration → start the cores → wait for a signal → stop.

use ringmq::cli::{self, Command};
use ringmq::runtime::signals::{self, Signal};
use ringmq::{broker, error, fatal, info, log};
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match cli::parse(std::env::args_os()) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Version) => {
            println!(
                "ringmq: v{} (nats-server v{} protocol)",
                ringmq::VERSION,
                ringmq::COMPAT_VERSION
            );
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
        Err(error) => error.exit(),
    };
    log::set_levels(config.debug, config.trace);
    if let Some(path) = &config.log_file {
        if let Err(error) = log::set_file(path) {
            eprintln!("ringmq: cannot open log file {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
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
    let server = match broker::Server::start(*config) {
        Ok(server) => server,
        Err(error) => {
            fatal!("Error listening on port: {error}");
            return ExitCode::FAILURE;
        }
    };
    let log_file = server.shared().config.log_file.clone();
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
            Signal::User1 => match &log_file {
                None => info!("File log re-open ignored, not a file logger"),
                Some(path) => match log::set_file(path) {
                    Ok(()) => info!("File log re-opened"),
                    Err(e) => error!("Failed to re-open log file {}: {e}", path.display()),
                },
            },
            Signal::Hangup => error!(
                "Failed to reload server configuration: can only reload config when a file is \
                 provided using -c or --config"
            ),
        }
    }
    info!("Initiating Shutdown...");
    server.shutdown();
    info!("Server Exiting..");
    ExitCode::SUCCESS
}
