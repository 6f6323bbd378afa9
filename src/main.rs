//! ringmq binary: command line → configuration → start the cores → wait for a signal → stop.

use ringmq::cli::{self, Command};
use ringmq::runtime::signals::{self, Signal};
use ringmq::{broker, fatal, info, log};
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
            other => info!("Ignoring signal {other:?}"),
        }
    }
    info!("Initiating Shutdown...");
    server.shutdown();
    info!("Server Exiting..");
    ExitCode::SUCCESS
}
