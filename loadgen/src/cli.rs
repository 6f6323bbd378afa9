//! Command line: one subcommand per workload. Parsing only; validation that needs more than
//! one flag happens in `validate`, so the workloads get consistent options.

use std::net::ToSocketAddrs;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::connection::{Credentials, Target};
use crate::ws_stream::WsTarget;

/// The placement rule, shown under `loadgen --help` (see `servers.rs`).
const SEVERAL_SERVERS: &str = "Several servers: --url repeats or takes URL,URL,... \
Connections form two sides: publishing (publishers, requesters) and subscribing \
(subscribers, responders, conns connections). Connection i of a side goes to URL i mod N \
of its side's list, in the order given; --pub-url / --sub-url give a side its own list \
(default: --url). Example: --pub-url nats://a:4222 --sub-url nats://b:4222 puts every \
publisher on a and every subscriber on b.";

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "NATS load generator (raw protocol over TCP or WebSocket)",
    flatten_help = true,
    after_help = SEVERAL_SERVERS
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publishers share --msgs messages; every plain subscriber must receive all of them.
    Pubsub(PubsubArgs),
    /// Requesters send requests to a queue group of responders and time the round trips.
    Reqrep(ReqrepArgs),
    /// Opens many idle connections and reports the server's memory per connection.
    Conns(ConnsArgs),
    /// JetStream workloads: `js pub` publishes to a stream and counts the PubAcks; `js consume` reads one back.
    #[command(flatten_help = true)]
    Js(JsArgs),
    /// Draws several --hdr-out files as one latency chart, a line and a legend entry each.
    Plot(PlotArgs),
}

#[derive(Debug, Args)]
pub struct Common {
    /// Server URL, nats://[USER:PASS@]HOST:PORT or ws://[USER:PASS@]HOST:PORT (WebSocket). Several servers: repeat the flag or separate URLs with commas; each side's connection i goes to URL i mod N (see --pub-url, --sub-url).
    #[arg(
        long,
        value_name = "URL[,URL...]",
        value_delimiter = ',',
        default_value = "nats://127.0.0.1:4222"
    )]
    pub url: Vec<String>,
    /// Print one JSON object as the last stdout line.
    #[arg(long)]
    pub json: bool,
    /// ws:// URLs: offer permessage-deflate (no context takeover) and require the server to
    /// take it; every frame loadgen writes is then deflated.
    #[arg(long)]
    pub ws_compression: bool,
}

/// Where each side's connections go (see `servers.rs` for the rule).
#[derive(Debug, Args)]
pub struct Placement {
    /// URLs for the publishing side only (publishers, requesters), round-robin; default: --url.
    #[arg(long, value_name = "URL[,URL...]", value_delimiter = ',')]
    pub pub_url: Vec<String>,
    /// URLs for the subscribing side only (subscribers, responders), round-robin; default: --url.
    #[arg(long, value_name = "URL[,URL...]", value_delimiter = ',')]
    pub sub_url: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PubsubArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub placement: Placement,
    /// Publishing connections, one thread each.
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// Subscribing connections, one thread each (0: publish only).
    #[arg(long, default_value_t = 1)]
    pub subscribers: usize,
    /// Messages in total, shared by the publishers.
    #[arg(long, default_value_t = 1_000_000)]
    pub msgs: u64,
    /// Payload bytes per message (16 or more carries sequence and send time).
    #[arg(long, default_value_t = 16)]
    pub size: usize,
    /// Subject published to and subscribed on.
    #[arg(long, default_value = "loadgen.bench")]
    pub subject: String,
    /// Subscribers join this queue group: the group receives --msgs in total.
    #[arg(long)]
    pub queue: Option<String>,
    /// Publish with HPUB and a small header block.
    #[arg(long)]
    pub headers: bool,
    /// Total publish rate, messages per second; latency then counts from the intended
    /// send time of each message (no coordinated omission).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Publish for this many seconds instead of a fixed count (with --rate: msgs = rate × duration).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Write the merged latency distribution (HdrHistogram percentile text) to this file.
    #[arg(long, value_name = "FILE")]
    pub hdr_out: Option<PathBuf>,
    /// Draw the latency percentile spectrum (HdrHistogram style) as SVG to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReqrepArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub placement: Placement,
    /// Requesting connections, each with its own reply inbox.
    #[arg(long, default_value_t = 1)]
    pub requesters: usize,
    /// Responding connections, one queue group that echoes each request.
    #[arg(long, default_value_t = 1)]
    pub responders: usize,
    /// Requests in total, shared by the requesters.
    #[arg(long, default_value_t = 100_000)]
    pub msgs: u64,
    /// Payload bytes per request and reply (at least 16: the stamp).
    #[arg(long, default_value_t = 16)]
    pub size: usize,
    /// Service subject the requests go to.
    #[arg(long, default_value = "loadgen.service")]
    pub subject: String,
    /// Total requests per second; without it each requester waits for each reply (closed loop).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Write the merged round-trip distribution (HdrHistogram percentile text) to this file.
    #[arg(long, value_name = "FILE")]
    pub hdr_out: Option<PathBuf>,
    /// Draw the round-trip percentile spectrum (HdrHistogram style) as SVG to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct JsArgs {
    #[command(subcommand)]
    pub command: JsCommand,
}

#[derive(Debug, Subcommand)]
pub enum JsCommand {
    /// (Re)creates a stream, publishes --msgs with a reply subject each, --window PubAcks outstanding; every one must come back.
    Pub(JsPubArgs),
    /// Fills a stream like js pub, then consumes it through a durable ack-explicit consumer (pull or push), acking each message.
    Consume(JsConsumeArgs),
}

/// How `js consume` gets its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsumeMode {
    /// `$JS.API.CONSUMER.MSG.NEXT` requests for --batch messages each.
    Pull,
    /// A deliver subject the consumer connection subscribes to.
    Push,
}

impl ConsumeMode {
    pub fn name(self) -> &'static str {
        match self {
            ConsumeMode::Pull => "pull",
            ConsumeMode::Push => "push",
        }
    }
}

#[derive(Debug, Args)]
pub struct JsConsumeArgs {
    #[command(flatten)]
    pub common: Common,
    /// Messages to store and then consume; the run fails unless exactly sequences 1..=MSGS arrive and all are acked.
    #[arg(long, default_value_t = 100_000)]
    pub msgs: u64,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 16)]
    pub size: usize,
    /// pull: fetch requests from the consume connection; push: deliveries to its deliver subject.
    #[arg(long, value_enum, default_value_t = ConsumeMode::Pull)]
    pub mode: ConsumeMode,
    /// pull: messages per request; a new request goes out once at most half a batch is still to come.
    #[arg(long, default_value_t = 256)]
    pub batch: u64,
    /// The consumer's max_ack_pending (the same for both servers, so neither default decides).
    #[arg(long, default_value_t = 20_000)]
    pub max_ack_pending: u64,
    /// PubAcks outstanding while the stream is filled (js pub's --window).
    #[arg(long, default_value_t = 256)]
    pub prefill_window: u64,
    /// Durable consumer to create on the freshly filled stream.
    #[arg(long, default_value = "LOADGEN_C")]
    pub consumer: String,
    /// Stream to delete (if it exists), create and fill.
    #[arg(long, default_value = "LOADGEN")]
    pub stream: String,
    /// The stream's one subject.
    #[arg(long, default_value = "loadgen.js")]
    pub subject: String,
    /// The stream's storage: file or memory.
    #[arg(long, default_value = "file", value_parser = ["file", "memory"])]
    pub storage: String,
}

impl JsConsumeArgs {
    pub fn validate(&self) -> Result<(), String> {
        if self.msgs == 0 || self.batch == 0 || self.max_ack_pending == 0 {
            return Err("--msgs, --batch and --max-ack-pending must be positive".into());
        }
        if self.msgs > JS_CONSUME_MSGS_MAX {
            return Err(format!("--msgs must be at most {JS_CONSUME_MSGS_MAX}"));
        }
        let bad_name = self.consumer.is_empty()
            || self
                .consumer
                .bytes()
                .any(|b| b <= b' ' || matches!(b, b'.' | b'*' | b'>' | b'/' | b'\\'));
        if bad_name {
            return Err(format!(
                "--consumer {:?} is not a consumer name",
                self.consumer
            ));
        }
        Ok(())
    }
}

/// Largest `js consume --msgs`: one flag byte per sequence is kept to find duplicates.
pub const JS_CONSUME_MSGS_MAX: u64 = 100_000_000;

#[derive(Debug, Args)]
pub struct JsPubArgs {
    #[command(flatten)]
    pub common: Common,
    /// Messages to publish; the run fails unless each gets a PubAck without error.
    #[arg(long, default_value_t = 100_000)]
    pub msgs: u64,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 16)]
    pub size: usize,
    /// Publishing connections, one thread each, each with its own inbox and window; they share --msgs.
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// PubAcks outstanding at most per publisher: message n goes out once every message before n - WINDOW is answered.
    #[arg(long, default_value_t = 256)]
    pub window: u64,
    /// Stream to delete (if it exists) and create before publishing; it is kept afterwards.
    #[arg(long, default_value = "LOADGEN")]
    pub stream: String,
    /// The stream's one subject, which every message is published to.
    #[arg(long, default_value = "loadgen.js")]
    pub subject: String,
    /// The stream's storage: file or memory.
    #[arg(long, default_value = "file", value_parser = ["file", "memory"])]
    pub storage: String,
    /// Write the PubAck latency distribution (HdrHistogram percentile text) to this file.
    #[arg(long, value_name = "FILE")]
    pub hdr_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConnsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Idle connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Subscriptions per connection, each on its own subject.
    #[arg(long, default_value_t = 1)]
    pub subs_per_conn: usize,
    /// Server process whose VmRSS is read before and after.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Files written by --hdr-out, as PATH or LABEL=PATH (label: text before the first '=', else the file name without extension).
    #[arg(required = true, value_name = "[LABEL=]FILE", value_parser = parse_plot_input)]
    pub inputs: Vec<PlotInput>,
    /// The SVG file to write.
    #[arg(long, value_name = "FILE.svg")]
    pub out: PathBuf,
    /// Heading above the chart.
    #[arg(long, default_value = "Latency by percentile")]
    pub title: String,
    /// Latency axis on a log scale (for tails orders of magnitude above the median).
    #[arg(long)]
    pub log_y: bool,
}

/// One histogram file to plot and the legend text for its line.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotInput {
    pub label: String,
    pub path: PathBuf,
}

/// `LABEL=PATH` (split at the first `=`) or `PATH`, labelled with the file's name without
/// its extension. A path that contains `=` therefore needs a label in front.
fn parse_plot_input(text: &str) -> Result<PlotInput, String> {
    let (label, path) = match text.split_once('=') {
        Some((label, path)) => (label.to_string(), PathBuf::from(path)),
        None => {
            let path = PathBuf::from(text);
            let stem = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned());
            (stem.unwrap_or_default(), path)
        }
    };
    if label.trim().is_empty() {
        return Err(format!("{text:?}: no label (give one as LABEL=PATH)"));
    }
    if path.as_os_str().is_empty() {
        return Err(format!("{text:?}: no file after the label"));
    }
    Ok(PlotInput { label, path })
}

impl PlotArgs {
    pub fn validate(&self) -> Result<(), String> {
        if self.inputs.len() > crate::plot::SERIES_MAX {
            return Err(format!(
                "at most {} files per chart (one colour each), got {}",
                crate::plot::SERIES_MAX,
                self.inputs.len()
            ));
        }
        Ok(())
    }
}

/// Resolves `nats://HOST:PORT` (scheme optional, port 4222 by default) or `ws://HOST:PORT`
/// (port 80 by default).
pub fn resolve_url(url: &str) -> Result<Target, String> {
    if url.starts_with("wss://") {
        return Err(format!(
            "{url}: wss:// is not supported by loadgen (ws:// is)"
        ));
    }
    let (rest, websocket, default_port) = match url.strip_prefix("ws://") {
        Some(rest) => (rest, true, 80),
        None => (url.strip_prefix("nats://").unwrap_or(url), false, 4222),
    };
    let (userinfo, rest) = match rest.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, rest),
    };
    let rest = rest.trim_end_matches('/');
    let with_port = if rest
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        rest.to_string()
    } else {
        format!("{rest}:{default_port}")
    };
    let address = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url} resolves to no address"))?;
    let credentials = match userinfo {
        None => Credentials::default(),
        Some(userinfo) => match userinfo.split_once(':') {
            Some((user, pass)) => Credentials {
                user: Some(percent_decode(user)?),
                pass: Some(percent_decode(pass)?),
                token: None,
            },
            None => Credentials {
                token: Some(percent_decode(userinfo)?),
                ..Credentials::default()
            },
        },
    };
    let websocket = websocket.then(|| WsTarget {
        host: with_port.clone(),
        compression: false,
    });
    Ok(Target::new(address, &credentials, websocket))
}

/// `%XX` escapes of a URL's user information (as Go's url.Parse decodes them).
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text
                .get(index + 1..index + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| format!("bad %-escape in URL credentials: {text:?}"))?;
            out.push(hex);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("URL credentials are not UTF-8: {text:?}"))
}

impl PubsubArgs {
    pub fn validate(&self) -> Result<(), String> {
        if self.publishers == 0 || self.publishers > crate::stamp::PUBLISHERS_MAX {
            return Err("--publishers must be between 1 and 65536".into());
        }
        if self.duration.is_none() && self.msgs == 0 {
            return Err("--msgs must be positive".into());
        }
        if self.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            return Err("--rate must be positive".into());
        }
        if self.duration.is_some_and(|d| !(d > 0.0 && d.is_finite())) {
            return Err("--duration must be positive".into());
        }
        validate_subject(&self.subject)
    }

    /// Messages to publish in total, when known before the run.
    pub fn planned_msgs(&self) -> Option<u64> {
        match (self.duration, self.rate) {
            (None, _) => Some(self.msgs),
            (Some(seconds), Some(rate)) => Some((seconds * rate).round().max(1.0) as u64),
            (Some(_), None) => None,
        }
    }
}

impl ReqrepArgs {
    pub fn validate(&self) -> Result<(), String> {
        if self.requesters == 0 || self.responders == 0 || self.msgs == 0 {
            return Err("--requesters, --responders and --msgs must be positive".into());
        }
        if self.size < crate::stamp::STAMP_BYTES {
            return Err("reqrep needs --size 16 or more (the stamp carries the send time)".into());
        }
        if self.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            return Err("--rate must be positive".into());
        }
        validate_subject(&self.subject)
    }
}

impl JsPubArgs {
    pub fn validate(&self) -> Result<(), String> {
        if self.msgs == 0 || self.window == 0 {
            return Err("--msgs and --window must be positive".into());
        }
        if self.publishers == 0 || self.publishers as u64 > self.msgs {
            return Err("--publishers must be between 1 and --msgs".into());
        }
        if self.window > JS_WINDOW_MAX {
            return Err(format!("--window must be at most {JS_WINDOW_MAX}"));
        }
        let bad_name = self.stream.is_empty()
            || self
                .stream
                .bytes()
                .any(|b| b <= b' ' || matches!(b, b'.' | b'*' | b'>' | b'/' | b'\\'));
        if bad_name {
            return Err(format!("--stream {:?} is not a stream name", self.stream));
        }
        validate_subject(&self.subject)
    }
}

/// Largest `--window`: the send-time ring holds one slot per outstanding PubAck, and no
/// server keeps more than this many publishes of one connection in flight usefully.
pub const JS_WINDOW_MAX: u64 = 1 << 20;

fn validate_subject(subject: &str) -> Result<(), String> {
    let bad = subject.is_empty()
        || subject.bytes().any(|b| b <= b' ' || b == b'*' || b == b'>')
        || subject.split('.').any(str::is_empty);
    if bad {
        return Err(format!("--subject {subject:?} is not a literal subject"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(line.split_whitespace())
    }

    #[test]
    fn pubsub_flags_parse() {
        let cli = parse(
            "loadgen pubsub --url nats://127.0.0.1:5000 --publishers 3 --subscribers 4 \
             --msgs 500 --size 128 --subject a.b --queue q --headers --rate 1000 \
             --duration 2.5 --json --hdr-out /tmp/h.txt --plot /tmp/p.svg",
        )
        .unwrap();
        let Command::Pubsub(args) = cli.command else {
            panic!("not pubsub")
        };
        assert_eq!(args.common.url, ["nats://127.0.0.1:5000"]);
        assert_eq!((args.publishers, args.subscribers, args.msgs), (3, 4, 500));
        assert_eq!(args.size, 128);
        assert_eq!(args.subject, "a.b");
        assert_eq!(args.queue.as_deref(), Some("q"));
        assert!(args.headers && args.common.json);
        assert_eq!(args.rate, Some(1000.0));
        assert_eq!(args.duration, Some(2.5));
        assert_eq!(args.hdr_out, Some(PathBuf::from("/tmp/h.txt")));
        assert_eq!(args.plot, Some(PathBuf::from("/tmp/p.svg")));
        assert_eq!(args.planned_msgs(), Some(2500));
        assert_eq!(args.validate(), Ok(()));
    }

    /// `--url` repeats and splits at commas, in order; `--pub-url` / `--sub-url` likewise,
    /// for pubsub and reqrep only.
    #[test]
    fn several_urls_parse_in_order() {
        let Command::Pubsub(args) =
            parse("loadgen pubsub --url nats://a:1,nats://b:2 --url c:3 --sub-url d:4,e:5")
                .unwrap()
                .command
        else {
            panic!("not pubsub")
        };
        assert_eq!(args.common.url, ["nats://a:1", "nats://b:2", "c:3"]);
        assert!(args.placement.pub_url.is_empty());
        assert_eq!(args.placement.sub_url, ["d:4", "e:5"]);
        let Command::Reqrep(args) = parse("loadgen reqrep --pub-url a:1 --pub-url b:2")
            .unwrap()
            .command
        else {
            panic!("not reqrep")
        };
        assert_eq!(args.common.url, ["nats://127.0.0.1:4222"]);
        assert_eq!(args.placement.pub_url, ["a:1", "b:2"]);
        let Command::Conns(args) = parse("loadgen conns --url a:1,b:2").unwrap().command else {
            panic!("not conns")
        };
        assert_eq!(args.common.url, ["a:1", "b:2"]);
        let error = parse("loadgen conns --pub-url a:1").unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn pubsub_defaults() {
        let Command::Pubsub(args) = parse("loadgen pubsub").unwrap().command else {
            panic!("not pubsub")
        };
        assert_eq!((args.publishers, args.subscribers), (1, 1));
        assert_eq!((args.msgs, args.size), (1_000_000, 16));
        assert_eq!(args.queue, None);
        assert_eq!((&args.hdr_out, &args.plot), (&None, &None));
        assert!(!args.headers && !args.common.json);
        assert_eq!(args.planned_msgs(), Some(1_000_000));
        assert_eq!(args.common.url, ["nats://127.0.0.1:4222"]);
        assert!(args.placement.pub_url.is_empty() && args.placement.sub_url.is_empty());
    }

    #[test]
    fn reqrep_and_conns_parse() {
        let Command::Reqrep(args) =
            parse("loadgen reqrep --requesters 2 --responders 3 --msgs 10 --rate 50 --plot r.svg")
                .unwrap()
                .command
        else {
            panic!("not reqrep")
        };
        assert_eq!((args.requesters, args.responders, args.msgs), (2, 3, 10));
        assert_eq!(args.rate, Some(50.0));
        assert_eq!(args.plot, Some(PathBuf::from("r.svg")));
        assert_eq!(args.validate(), Ok(()));
        let Command::Conns(args) =
            parse("loadgen conns --count 10000 --subs-per-conn 2 --server-pid 42")
                .unwrap()
                .command
        else {
            panic!("not conns")
        };
        assert_eq!((args.count, args.subs_per_conn), (10_000, 2));
        assert_eq!(args.server_pid, Some(42));
    }

    #[test]
    fn js_pub_flags_parse_and_validate() {
        let js_pub = |line: &str| match parse(line).unwrap().command {
            Command::Js(JsArgs {
                command: JsCommand::Pub(args),
            }) => args,
            _ => panic!("not js pub"),
        };
        let args = js_pub("loadgen js pub");
        assert_eq!((args.msgs, args.size, args.window), (100_000, 16, 256));
        assert_eq!(args.publishers, 1);
        assert_eq!(
            (args.stream.as_str(), args.subject.as_str()),
            ("LOADGEN", "loadgen.js")
        );
        assert_eq!((args.storage.as_str(), &args.hdr_out), ("file", &None));
        assert_eq!(args.validate(), Ok(()));
        let args = js_pub(
            "loadgen js pub --url nats://127.0.0.1:5000 --msgs 10 --size 1024 --window 8 \
             --publishers 3 --stream B --subject b.c --storage memory --hdr-out /tmp/h.txt \
             --json",
        );
        assert_eq!(args.common.url, ["nats://127.0.0.1:5000"]);
        assert_eq!((args.msgs, args.size, args.window), (10, 1024, 8));
        assert_eq!(args.publishers, 3);
        assert_eq!((args.stream.as_str(), args.subject.as_str()), ("B", "b.c"));
        assert_eq!(args.storage, "memory");
        assert_eq!(args.hdr_out, Some(PathBuf::from("/tmp/h.txt")));
        assert!(args.common.json);
        assert!(parse("loadgen js pub --storage disk").is_err());
        assert!(parse("loadgen js").is_err());
        for line in [
            "loadgen js pub --msgs 0",
            "loadgen js pub --window 0",
            "loadgen js pub --window 1048577",
            "loadgen js pub --publishers 0",
            "loadgen js pub --msgs 2 --publishers 3",
            "loadgen js pub --stream a.b",
            "loadgen js pub --subject a.>",
        ] {
            assert!(js_pub(line).validate().is_err(), "{line}");
        }
    }

    #[test]
    fn plot_parses_labels_and_paths() {
        let Command::Plot(args) = parse(
            "loadgen plot results/reqrep-nats-run2.hdr ringmq-c1=/tmp/a=b.hdr \
             --out /tmp/r.svg --title reqrep --log-y",
        )
        .unwrap()
        .command
        else {
            panic!("not plot")
        };
        let input = |label: &str, path: &str| PlotInput {
            label: label.to_string(),
            path: PathBuf::from(path),
        };
        assert_eq!(
            args.inputs,
            [
                input("reqrep-nats-run2", "results/reqrep-nats-run2.hdr"),
                input("ringmq-c1", "/tmp/a=b.hdr"),
            ]
        );
        assert_eq!(args.out, PathBuf::from("/tmp/r.svg"));
        assert_eq!(args.title, "reqrep");
        assert!(args.log_y);
        assert_eq!(args.validate(), Ok(()));
        // Labels with spaces come as one argument from the shell.
        let args =
            Cli::try_parse_from(["loadgen", "plot", "ringmq c2=x.hdr", "--out", "o.svg"]).unwrap();
        let Command::Plot(args) = args.command else {
            panic!("not plot")
        };
        assert_eq!(args.inputs, [input("ringmq c2", "x.hdr")]);
        assert_eq!(args.title, "Latency by percentile");
        assert!(!args.log_y);
    }

    #[test]
    fn plot_usage_errors() {
        use clap::error::ErrorKind;
        let kind = |line: &str| parse(line).unwrap_err().kind();
        assert_eq!(
            kind("loadgen plot --out o.svg"),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind("loadgen plot a.hdr"),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind("loadgen plot =a.hdr --out o.svg"),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind("loadgen plot a= --out o.svg"),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind("loadgen plot .. --out o.svg"),
            ErrorKind::ValueValidation
        );
        // Usage errors exit with status 2, as loadgen's own errors do.
        assert_eq!(
            parse("loadgen plot --out o.svg").unwrap_err().exit_code(),
            2
        );
        let files: Vec<String> = (0..=crate::plot::SERIES_MAX)
            .map(|i| format!("f{i}.hdr"))
            .collect();
        let line = format!("loadgen plot {} --out o.svg", files.join(" "));
        let Command::Plot(args) = parse(&line).unwrap().command else {
            panic!("not plot")
        };
        assert_eq!(
            args.validate(),
            Err("at most 10 files per chart (one colour each), got 11".to_string())
        );
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse("loadgen pubsub --msgs lots").is_err());
        assert!(parse("loadgen pubsub --bogus").is_err());
        assert!(parse("loadgen").is_err());
        let invalid = [
            "loadgen pubsub --publishers 0",
            "loadgen pubsub --msgs 0",
            "loadgen pubsub --rate 0",
            "loadgen pubsub --subject a.*",
            "loadgen pubsub --subject a..b",
        ];
        for line in invalid {
            let Command::Pubsub(args) = parse(line).unwrap().command else {
                panic!("not pubsub")
            };
            assert!(args.validate().is_err(), "{line}");
        }
        let Command::Reqrep(args) = parse("loadgen reqrep --size 8").unwrap().command else {
            panic!("not reqrep")
        };
        assert!(args.validate().is_err());
    }

    #[test]
    fn urls_resolve() {
        let expected: std::net::SocketAddr = "127.0.0.1:4333".parse().unwrap();
        let resolved = |url: &str| resolve_url(url).map(|target| target.address);
        assert_eq!(resolved("nats://127.0.0.1:4333"), Ok(expected));
        assert_eq!(resolved("127.0.0.1:4333"), Ok(expected));
        assert_eq!(resolved("nats://user:pw@127.0.0.1:4333/"), Ok(expected));
        assert_eq!(resolved("nats://127.0.0.1").unwrap().port(), 4222);
        assert_eq!(
            resolve_url("nats://127.0.0.1:4333").unwrap().websocket,
            None
        );
    }

    /// `ws://` asks for the upgrade (Host: the URL's host and port, port 80 by default);
    /// `wss://` is refused.
    #[test]
    fn websocket_urls_resolve() {
        let target = resolve_url("ws://u:p@127.0.0.1:4333/").unwrap();
        assert_eq!(target.address, "127.0.0.1:4333".parse().unwrap());
        let websocket = |host: &str| {
            Some(WsTarget {
                host: host.into(),
                compression: false,
            })
        };
        assert_eq!(target.websocket, websocket("127.0.0.1:4333"));
        assert!(String::from_utf8_lossy(target.connect_line()).contains("\"user\":\"u\""));
        assert_eq!(
            resolve_url("ws://127.0.0.1").unwrap().websocket,
            websocket("127.0.0.1:80")
        );
        assert_eq!(
            resolve_url("wss://127.0.0.1:443").unwrap_err(),
            "wss://127.0.0.1:443: wss:// is not supported by loadgen (ws:// is)"
        );
    }

    /// Credentials in the URL go into every CONNECT, JSON-escaped, %-escapes decoded.
    #[test]
    fn url_credentials_go_into_the_connect_line() {
        let line = |url: &str| {
            String::from_utf8(resolve_url(url).unwrap().connect_line().to_vec()).unwrap()
        };
        let plain = line("nats://127.0.0.1:4333");
        assert!(plain.starts_with("CONNECT {\"verbose\":false,"), "{plain}");
        assert!(plain.ends_with(",\"protocol\":1}\r\n"), "{plain}");
        assert_eq!(
            line("nats://al%40ice:p%22w@127.0.0.1:4333"),
            plain.replace("}\r\n", ",\"user\":\"al@ice\",\"pass\":\"p\\\"w\"}\r\n")
        );
        assert_eq!(
            line("nats://s3cr3t@127.0.0.1:4333"),
            plain.replace("}\r\n", ",\"auth_token\":\"s3cr3t\"}\r\n")
        );
        assert!(resolve_url("nats://a:%zz@127.0.0.1:4333").is_err());
    }

    /// `loadgen --help` alone documents the whole tool: every subcommand and every flag,
    /// each with a one-line description.
    #[test]
    fn top_level_help_lists_every_subcommand_and_flag() {
        use clap::CommandFactory;
        let mut command = Cli::command();
        let help = command.render_help().to_string();
        assert!(
            help.contains("Connection i of a side goes to URL i mod N"),
            "{help}"
        );
        let (mut flags, mut positionals) = (0, 0);
        // `js` only groups its own subcommands; they are listed as `loadgen js pub`.
        let mut subcommands = Vec::new();
        for subcommand in command.get_subcommands() {
            let nested: Vec<_> = subcommand.get_subcommands().collect();
            if nested.is_empty() || subcommand.get_name() == "help" {
                subcommands.push((subcommand.get_name().to_string(), subcommand));
            } else {
                let about = subcommand.get_about().expect("group about").to_string();
                assert!(help.contains(&about), "{about} in\n{help}");
                for inner in nested
                    .into_iter()
                    .filter(|inner| inner.get_name() != "help")
                {
                    let name = format!("{} {}", subcommand.get_name(), inner.get_name());
                    subcommands.push((name, inner));
                }
            }
        }
        for (name, subcommand) in subcommands {
            let name = name.as_str();
            let about = subcommand
                .get_about()
                .expect("subcommand about")
                .to_string();
            assert!(!about.contains('\n'), "{name}: {about}");
            assert!(
                help.contains(&format!("loadgen {name}")),
                "{name} in\n{help}"
            );
            for arg in subcommand.get_arguments() {
                // clap's own `help` subcommand takes a subcommand name; it is not ours.
                if arg.is_positional() && name != "help" {
                    let text = arg.get_help().expect("positional help").to_string();
                    assert!(
                        help.contains(&text),
                        "{name} {} help in\n{help}",
                        arg.get_id()
                    );
                    positionals += 1;
                    continue;
                }
                let Some(long) = arg.get_long() else { continue };
                if long == "help" {
                    continue;
                }
                let text = arg.get_help().map(ToString::to_string);
                let text = text.unwrap_or_else(|| panic!("{name} --{long} has no help"));
                assert!(!text.contains('\n'), "{name} --{long}: {text}");
                assert!(help.contains(&format!("--{long}")), "--{long} in\n{help}");
                assert!(help.contains(&text), "{name} --{long} help in\n{help}");
                flags += 1;
            }
        }
        // pubsub 16, reqrep 13 (--pub-url and --sub-url in both), js pub 11, js consume 13,
        // conns 6 (--url, --json and --ws-compression in each), plot 3 and its files.
        assert_eq!((flags, positionals), (16 + 13 + 11 + 13 + 6 + 3, 1));
    }
}
