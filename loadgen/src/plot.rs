//! `--plot FILE.svg`: the merged latency histogram as a percentile spectrum, the classic
//! HdrHistogram plot, in hand-written SVG (self-contained, no scripts, no external fonts).
//!
//! ```text
//! x: percentile on a log scale of 1/(1-p): one decade per label 0%, 90%, 99%, 99.9%, ...
//! y: latency in µs, linear from 0, ticks at 1, 2 or 5 × 10^k
//! one polyline point per step of HdrHistogram's quantile iteration (the `--hdr-out` rows)
//! ```
//! The last step is the maximum (100 %), which has no finite position on the log scale; it
//! is drawn at the right edge. The axis ends at 99.999 %, or at the first decade beyond the
//! highest finite step when the run has enough samples to go further.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use hdrhistogram::Histogram;

use crate::cli::{PubsubArgs, ReqrepArgs};
use crate::report::Summary;

/// Steps per halving of the distance to 100 %, as in the `--hdr-out` text.
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The x axis shows at least 0 % to 99.999 %.
const DECADES_MIN: u32 = 5;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 500.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
/// Room for three heading lines: the setup, the counts, the key percentiles.
const TOP: f64 = 80.0;
const BOTTOM: f64 = 60.0;

/// Rough number of y ticks wanted; the step is the next 1, 2 or 5 × 10^k above max/this.
const Y_TICKS_WANTED: f64 = 6.0;

/// What the plot is of, in two lines: the workload's shape, then its counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Title {
    /// Mode, connections, payload size, rate: `loadgen pubsub: 1 pub → 2 sub, 16 B`.
    pub setup: String,
    /// Messages sent and received: `10,000 sent, 20,000 received`.
    pub counts: String,
}

/// One step of the quantile iteration: the quantile reached and the latency there (µs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub quantile: f64,
    pub micros: f64,
}

/// The histogram (nanoseconds) as HdrHistogram's quantile steps, in order.
pub fn steps(latency: &Histogram<u64>) -> Vec<Step> {
    latency
        .iter_quantiles(TICKS_PER_HALF_DISTANCE)
        .map(|step| Step {
            quantile: step.quantile_iterated_to(),
            micros: step.value_iterated_to() as f64 / 1000.0,
        })
        .collect()
}

/// Position on the x axis in decades of 1/(1-q); `None` for q = 1.
fn decades(quantile: f64) -> Option<f64> {
    (quantile < 1.0).then(|| (1.0 / (1.0 - quantile)).log10())
}

/// The label of decade `k`: 0%, 90%, 99%, 99.9%, ...
pub fn decade_label(k: u32) -> String {
    match k {
        0 => "0%".to_string(),
        1 => "90%".to_string(),
        _ => format!(
            "99{}{}%",
            if k > 2 { "." } else { "" },
            "9".repeat(k as usize - 2)
        ),
    }
}

/// The y tick step for values up to `max`: 1, 2 or 5 × 10^k.
fn tick_step(max: f64) -> f64 {
    let raw = max / Y_TICKS_WANTED;
    if !(raw > 0.0 && raw.is_finite()) {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    let factor = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|f| f * base >= raw)
        .unwrap_or(10.0);
    factor * base
}

/// A tick label with as many decimals as the step needs.
fn tick_label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{value:.decimals$}")
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

/// The percentile spectrum of `latency` (nanoseconds) as a complete SVG document.
pub fn svg(latency: &Histogram<u64>, title: &Title) -> String {
    let steps = steps(latency);
    let finite_max = steps
        .iter()
        .filter_map(|s| decades(s.quantile))
        .fold(0.0f64, f64::max);
    let x_decades = DECADES_MIN.max(finite_max.floor() as u32 + 1);
    let micros_max = steps.iter().map(|s| s.micros).fold(0.0f64, f64::max);
    let y_step = tick_step(micros_max);
    let y_ticks = ((micros_max / y_step).ceil() as u32).max(1);
    let y_top = f64::from(y_ticks) * y_step;
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let px = |decade: f64| LEFT + decade / f64::from(x_decades) * plot_w;
    let py = |micros: f64| TOP + plot_h - micros / y_top * plot_h;

    let mut out = String::with_capacity(4096 + steps.len() * 16);
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        "<title>{}: {}</title>",
        escape(&title.setup),
        escape(&title.counts)
    );
    let _ = writeln!(
        out,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        WIDTH / 2.0,
        escape(&title.setup)
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="42" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(&title.counts)
    );
    let _ = writeln!(
        out,
        r##"<text x="{}" y="60" text-anchor="middle" fill="#444">{}</text>"##,
        WIDTH / 2.0,
        escape(&percentiles(latency))
    );

    // Grid and tick labels.
    let _ = writeln!(out, r##"<g stroke="#dddddd" stroke-width="1">"##);
    for k in 0..=x_decades {
        let x = px(f64::from(k));
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}"/>"#,
            TOP + plot_h
        );
    }
    for i in 0..=y_ticks {
        let y = py(f64::from(i) * y_step);
        let _ = writeln!(
            out,
            r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"#,
            LEFT + plot_w
        );
    }
    let _ = writeln!(out, "</g>");
    let _ = writeln!(out, r#"<g text-anchor="middle">"#);
    for k in 0..=x_decades {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            px(f64::from(k)),
            TOP + plot_h + 18.0,
            decade_label(k)
        );
    }
    let _ = writeln!(out, "</g>");
    let _ = writeln!(out, r#"<g text-anchor="end">"#);
    for i in 0..=y_ticks {
        let value = f64::from(i) * y_step;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT - 6.0,
            py(value) + 4.0,
            tick_label(value, y_step)
        );
    }
    let _ = writeln!(out, "</g>");

    // Axes and their titles.
    let _ = writeln!(
        out,
        r#"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">Percentile</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 16.0
    );
    let _ = writeln!(
        out,
        r#"<text x="20" y="{0:.1}" text-anchor="middle" transform="rotate(-90 20 {0:.1})">Latency (µs)</text>"#,
        TOP + plot_h / 2.0
    );

    // The spectrum itself.
    if steps.is_empty() {
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#888">no latency samples</text>"##,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    } else {
        let mut points = String::with_capacity(steps.len() * 14);
        for step in &steps {
            let decade = decades(step.quantile).unwrap_or(f64::from(x_decades));
            if !points.is_empty() {
                points.push(' ');
            }
            let _ = write!(points, "{:.1},{:.1}", px(decade), py(step.micros));
        }
        let _ = writeln!(
            out,
            r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" stroke-linejoin="round" points="{points}"/>"##
        );
    }
    out.push_str("</svg>\n");
    out
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
    use super::*;
    use crate::report::latency_histogram;
    use clap::Parser;

    /// Checks that tags nest and close, that every `&` starts an entity, and returns the
    /// element names in document order.
    fn well_formed(svg: &str) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            check_entities(&rest[..start]);
            let end = start + rest[start..].find('>').expect("tag ends");
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "close tag {name}");
                continue;
            }
            assert!(!tag.contains('<'), "{tag}");
            check_entities(tag);
            assert_eq!(tag.matches('"').count() % 2, 0, "quotes in {tag}");
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(!name.is_empty(), "{tag}");
            if names.is_empty() {
                assert_eq!(name, "svg");
            } else {
                assert!(!open.is_empty(), "{name} outside <svg>");
            }
            names.push(name.clone());
            if !tag.ends_with('/') {
                open.push(name);
            }
        }
        check_entities(rest);
        assert!(open.is_empty(), "unclosed {open:?}");
        assert!(rest.trim().is_empty());
        names
    }

    fn check_entities(text: &str) {
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            let known = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];
            assert!(known.contains(&entity), "bare & in {text}");
        }
    }

    /// The polyline's points in SVG coordinates.
    fn points(svg: &str) -> Vec<(f64, f64)> {
        let polyline = &svg[svg.find("<polyline").expect("a polyline")..];
        let start = polyline.find("points=\"").expect("points") + "points=\"".len();
        let end = start + polyline[start..].find('"').expect("closing quote");
        polyline[start..end]
            .split(' ')
            .map(|pair| {
                let (x, y) = pair.split_once(',').expect("x,y");
                (x.parse().expect("x"), y.parse().expect("y"))
            })
            .collect()
    }

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
        let points = points(&svg);
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
    fn labels_and_ticks() {
        let labels: Vec<String> = (0..=7).map(decade_label).collect();
        assert_eq!(
            labels,
            [
                "0%",
                "90%",
                "99%",
                "99.9%",
                "99.99%",
                "99.999%",
                "99.9999%",
                "99.99999%"
            ]
        );
        assert_eq!(tick_step(2500.0), 500.0);
        assert_eq!(tick_step(100.0), 20.0);
        assert_eq!(tick_step(6.0), 1.0);
        assert_eq!(tick_step(0.0), 1.0);
        assert_eq!(tick_label(0.4, 0.2), "0.4");
        assert_eq!(tick_label(0.05, 0.05), "0.05");
        assert_eq!(tick_label(1500.0, 500.0), "1500");
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
        let points = points(&svg_one);
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
        let points = points(&svg);
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
