//! loadgen: a NATS load generator that speaks the raw protocol over blocking TCP sockets
//! (or WebSocket over them),
//! one thread per connection, so it costs less CPU per message than the server it measures.
//!
//! # Layout
//! - `cli`: flags per subcommand. `pubsub`, `reqrep`, `conns`, `js_pub`, `js_consume`: the workloads.
//! - `js_api`: the JetStream API requests `js pub` makes, and the PubAck parser.
//! - `servers`: which of several `--url`s each connection goes to.
//! - `connection`: a socket plus handshake; `frame`: zero-copy MSG/HMSG scanner.
//! - `transport`: TCP or WebSocket under a connection; `ws_stream`: the upgrade and the
//!   framed socket; `ws_frame`: RFC 6455 frames and permessage-deflate, without sockets.
//! - `stamp`: sequence and send time in each payload; `sequence`: loss/dup accounting.
//! - `pacer`: open-loop schedule for `--rate`; `report`: JSON and text results, /proc reads.
//! - `progress`: the stderr progress line (terminals only).
//! - `hdr_text`: the `--hdr-out` percentile text, written and read back.
//! - `plot`: the `--plot` SVG, and `loadgen plot` (several `--hdr-out` files on one chart).
#![deny(unsafe_code)]

mod cli;
mod connection;
mod conns;
mod frame;
mod hdr_text;
mod js_api;
mod js_consume;
mod js_pub;
mod pacer;
mod plot;
mod progress;
mod pubsub;
mod report;
mod reqrep;
mod sequence;
mod servers;
mod stamp;
mod transport;
mod ws_frame;
mod ws_stream;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, JsCommand};
use servers::Servers;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::from(2)
        }
    }
}

fn run(command: &Command) -> Result<ExitCode, String> {
    let (summary, json, hdr_out, plot) = match command {
        Command::Pubsub(args) => {
            let placement = &args.placement;
            let servers =
                Servers::resolve(&args.common.url, &placement.pub_url, &placement.sub_url)?
                    .ws_compression(args.common.ws_compression)?;
            let summary = pubsub::run(args, &servers)?;
            let plot = args.plot.as_deref().map(|path| {
                let title = plot::pubsub_title(args, &summary);
                (path, title)
            });
            (summary, args.common.json, args.hdr_out.as_deref(), plot)
        }
        Command::Reqrep(args) => {
            let placement = &args.placement;
            let servers =
                Servers::resolve(&args.common.url, &placement.pub_url, &placement.sub_url)?
                    .ws_compression(args.common.ws_compression)?;
            let summary = reqrep::run(args, &servers)?;
            let plot = args.plot.as_deref().map(|path| {
                let title = plot::reqrep_title(args, &summary);
                (path, title)
            });
            (summary, args.common.json, args.hdr_out.as_deref(), plot)
        }
        Command::Js(js) => match &js.command {
            JsCommand::Pub(args) => {
                let servers = Servers::resolve(&args.common.url, &[], &[])?
                    .ws_compression(args.common.ws_compression)?;
                let summary = js_pub::run(args, &servers)?;
                (summary, args.common.json, args.hdr_out.as_deref(), None)
            }
            JsCommand::Consume(args) => {
                let servers = Servers::resolve(&args.common.url, &[], &[])?
                    .ws_compression(args.common.ws_compression)?;
                let summary = js_consume::run(args, &servers)?;
                (summary, args.common.json, None, None)
            }
        },
        Command::Conns(args) => {
            let servers = Servers::resolve(&args.common.url, &[], &[])?
                .ws_compression(args.common.ws_compression)?;
            let result = conns::run(args, &servers)?;
            if !args.common.json {
                println!("{}", serde_json::to_string_pretty(&result).expect("json"));
            }
            if args.common.json {
                println!("{result}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Plot(args) => {
            plot::compare::run(args)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let mut stdout = io::stdout().lock();
    summary
        .print_human(&mut stdout)
        .map_err(|e| e.to_string())?;
    if json {
        writeln!(stdout, "{}", summary.to_json()).map_err(|e| e.to_string())?;
    }
    // Files last: a bad path costs the file, not the results already printed.
    if let Some(path) = hdr_out {
        hdr_text::write_percentiles(&summary.latency, path)
            .map_err(|e| format!("--hdr-out {}: {e}", path.display()))?;
    }
    if let Some((path, title)) = plot {
        plot::write_svg(&summary.latency, &title, path)
            .map_err(|e| format!("--plot {}: {e}", path.display()))?;
    }
    Ok(if summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
