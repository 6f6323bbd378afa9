//! Latency plots in hand-written SVG (self-contained, no scripts, no external fonts): the
//! classic HdrHistogram percentile spectrum, one polyline point per quantile step (the rows
//! of the `--hdr-out` text).
//!
//! - `--plot FILE.svg` draws a run's own histogram, under a heading that names the run.
//! - `loadgen plot` (`compare`) draws several `--hdr-out` files on one chart with a legend.
//!
//! Both go through one renderer (`render`); `axes` places points and draws the frame,
//! `legend` styles the lines and names them.

mod axes;
pub mod compare;
mod legend;
mod render;
#[cfg(test)]
mod testing;

use std::fs;
use std::io;
use std::path::Path;

use hdrhistogram::Histogram;

use crate::cli::{PubsubArgs, ReqrepArgs};
use crate::hdr_text::steps;
use crate::report::Summary;
pub use legend::SERIES_MAX;
use render::{Chart, Line};

/// What the plot is of, in two lines: the workload's shape, then its counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Title {
    /// Mode, connections, payload size, rate: `loadgen pubsub: 1 pub → 2 sub, 16 B`.
    pub setup: String,
    /// Messages sent and received: `10,000 sent, 20,000 received`.
    pub counts: String,
}

/// Escapes text for SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The percentile spectrum of `latency` (nanoseconds) as a complete SVG document: one line,
/// no legend, a heading of the setup, the counts and the key percentiles.
pub fn svg(latency: &Histogram<u64>, title: &Title) -> String {
    render::svg(&Chart {
        name: format!("{}: {}", title.setup, title.counts),
        heading: vec![
            title.setup.clone(),
            title.counts.clone(),
            percentiles(latency),
        ],
        lines: vec![Line {
            label: title.setup.clone(),
            steps: steps(latency),
        }],
        legend: false,
        log_y: false,
    })
}

/// Key percentiles and the sample count, under the title.
fn percentiles(latency: &Histogram<u64>) -> String {
    if latency.is_empty() {
        return "no latency samples".to_string();
    }
    let micros = |ns: u64| ns as f64 / 1000.0;
    format!(
        "latency p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs ({} samples)",
        micros(latency.value_at_quantile(0.50)),
        micros(latency.value_at_quantile(0.99)),
        micros(latency.value_at_quantile(0.999)),
        micros(latency.max()),
        grouped(latency.len())
    )
}

/// `1234567` as `1,234,567`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn pubsub_title(args: &PubsubArgs, summary: &Summary) -> Title {
    let mut setup = format!(
        "loadgen pubsub: {} pub → {} sub",
        args.publishers, args.subscribers
    );
    if let Some(queue) = &args.queue {
        setup.push_str(&format!(" (queue {queue})"));
    }
    setup.push_str(&format!(", {} B", args.size));
    if args.headers {
        setup.push_str(" + headers");
    }
    if let Some(rate) = args.rate {
        setup.push_str(&format!(", {} msgs/s", grouped(rate.round() as u64)));
    }
    Title {
        setup,
        counts: format!(
            "{} sent, {} received",
            grouped(summary.msgs_sent),
            grouped(summary.msgs_received)
        ),
    }
}

pub fn reqrep_title(args: &ReqrepArgs, summary: &Summary) -> Title {
    let mut setup = format!(
        "loadgen reqrep: {} req → {} resp, {} B",
        args.requesters, args.responders, args.size
    );
    match args.rate {
        Some(rate) => setup.push_str(&format!(", {} req/s", grouped(rate.round() as u64))),
        None => setup.push_str(", closed loop"),
    }
    Title {
        setup,
        counts: format!(
            "{} requests, {} replies",
            grouped(summary.msgs_sent),
            grouped(summary.msgs_received)
        ),
    }
}

pub fn write_svg(latency: &Histogram<u64>, title: &Title, path: &Path) -> io::Result<()> {
    fs::write(path, svg(latency, title))
}

#[cfg(test)]
mod tests {
    use super::axes::{LEFT, RIGHT, WIDTH};
    use super::testing::{only_points, well_formed};
    use super::*;
    use crate::hdr_text::TICKS_PER_HALF_DISTANCE;
    use crate::report::latency_histogram;
    use clap::Parser;

    /// The single plot's plot area starts under its three heading lines.
    const TOP: f64 = 80.0;

    fn title(setup: &str) -> Title {
        Title {
            setup: setup.to_string(),
            counts: "1 sent, 2 received".to_string(),
        }
    }

    /// 1..=100,000 µs uniformly, plus a tail.
    fn sample() -> Histogram<u64> {
        let mut latency = latency_histogram();
        for us in 1..=100_000u64 {
            latency.record(us * 1000).unwrap();
        }
        latency.record(2_500_000_000).unwrap();
        latency
    }

    #[test]
    fn svg_is_well_formed_with_one_point_per_step() {
        let latency = sample();
        let svg = svg(&latency, &title("t <&> \"q\""));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        let names = well_formed(&svg);
        assert_eq!(names.iter().filter(|n| *n == "polyline").count(), 1);
        assert!(svg.contains("t &lt;&amp;&gt; &quot;q&quot;"));
        let steps = steps(&latency);
        let expected = latency.iter_quantiles(TICKS_PER_HALF_DISTANCE).count();
        assert_eq!(steps.len(), expected);
        let points = only_points(&svg);
        assert_eq!(points.len(), expected);
        for pair in points.windows(2) {
            // x grows with the percentile; SVG y grows downwards, so latency not falling
            // means y not rising.
            assert!(pair[1].0 > pair[0].0, "x {pair:?}");
            assert!(pair[1].1 <= pair[0].1, "y {pair:?}");
        }
        for pair in steps.windows(2) {
            assert!(pair[1].quantile > pair[0].quantile, "{pair:?}");
            assert!(pair[1].micros >= pair[0].micros, "{pair:?}");
        }
        assert_eq!(steps[0].quantile, 0.0);
        assert_eq!(steps.last().unwrap().quantile, 1.0);
        // The first point sits on the left edge, the maximum (100 %) on the right edge.
        assert_eq!(points[0].0, LEFT);
        assert_eq!(points.last().unwrap().0, WIDTH - RIGHT);
        assert!(points.last().unwrap().1 >= TOP);
        // One line needs no legend: the heading names it, and the picture keeps its size.
        assert!(svg.contains(r#" width="800" height="500" "#), "{svg}");
        assert_eq!(
            names.iter().filter(|n| *n == "line").count(),
            grid_lines(&svg),
            "a legend"
        );
    }

    /// The frame's grid lines: the only `<line>` elements when there is no legend.
    fn grid_lines(svg: &str) -> usize {
        let grid = &svg[svg.find(r##"<g stroke="#dddddd""##).expect("grid")..];
        grid[..grid.find("</g>").expect("grid ends")]
            .matches("<line ")
            .count()
    }

    #[test]
    fn axes_are_labelled() {
        let svg = svg(&sample(), &title("setup"));
        for label in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
        assert!(svg.contains(">Percentile</text>"));
        assert!(svg.contains(">Latency (µs)</text>"));
        // Maximum just over 2,500,000 µs (3 significant digits): ticks of 500,000 µs up to
        // the first one above it.
        for tick in ["0", "500000", "1000000", "2500000", "3000000"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "{tick}");
        }
        assert!(!svg.contains(">3500000</text>"));
        assert!(svg.contains("<title>setup: 1 sent, 2 received</title>"));
        assert!(svg.contains(">setup</text>"));
        assert!(svg.contains(">1 sent, 2 received</text>"));
        assert!(svg.contains(">latency p50 "));
        assert!(svg.contains("(100,001 samples)</text>"));
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn small_and_empty_histograms() {
        let mut one = latency_histogram();
        one.record(42_000).unwrap();
        let svg_one = svg(&one, &title("one"));
        well_formed(&svg_one);
        let points = only_points(&svg_one);
        assert_eq!(
            points.len(),
            one.iter_quantiles(TICKS_PER_HALF_DISTANCE).count()
        );
        assert!(points.iter().all(|p| p.1 == points[0].1), "{points:?}");
        let empty = svg(&latency_histogram(), &title("none"));
        let names = well_formed(&empty);
        assert!(!names.iter().any(|n| n == "polyline"));
        assert!(empty.contains(">no latency samples</text>"));
        assert!(empty.contains(">99.999%</text>"));
    }

    #[test]
    fn long_tails_widen_the_x_axis() {
        // A million samples at 1 µs and ten stragglers of 1 to 10 ms: the steps reach past
        // 99.9999 %, one decade beyond the default axis.
        let mut latency = latency_histogram();
        latency.record_n(1000, 1_000_000).unwrap();
        for ms in 1..=10u64 {
            latency.record(ms * 1_000_000).unwrap();
        }
        let svg = svg(&latency, &title("wide"));
        assert!(svg.contains(">99.9999%</text>"));
        let points = only_points(&svg);
        assert_eq!(points.last().unwrap().0, WIDTH - RIGHT);
        assert!(points[points.len() - 2].0 < WIDTH - RIGHT);
    }

    #[test]
    fn titles_name_mode_sizes_and_counts() {
        let summary = Summary {
            msgs_sent: 10_000,
            msgs_received: 20_000,
            ..Summary::default()
        };
        let cli = crate::cli::Cli::parse_from(
            "loadgen pubsub --subscribers 2 --size 128 --queue g --rate 5000".split(' '),
        );
        let crate::cli::Command::Pubsub(args) = cli.command else {
            panic!("pubsub")
        };
        let title = pubsub_title(&args, &summary);
        assert_eq!(
            title.setup,
            "loadgen pubsub: 1 pub → 2 sub (queue g), 128 B, 5,000 msgs/s"
        );
        assert_eq!(title.counts, "10,000 sent, 20,000 received");
        let cli = crate::cli::Cli::parse_from("loadgen reqrep --responders 3".split(' '));
        let crate::cli::Command::Reqrep(args) = cli.command else {
            panic!("reqrep")
        };
        let title = reqrep_title(&args, &summary);
        assert_eq!(
            title.setup,
            "loadgen reqrep: 1 req → 3 resp, 16 B, closed loop"
        );
        assert_eq!(title.counts, "10,000 requests, 20,000 replies");
    }
}
