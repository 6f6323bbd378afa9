//! `loadgen plot`: several `--hdr-out` files on one chart, so a side-by-side run makes one
//! picture. Each file is one line, named in the legend by its label and sample count.

use std::fs;

use super::grouped;
use super::render::{self, Chart, Line};
use crate::cli::PlotArgs;
use crate::hdr_text::{self, Percentiles};

/// Reads every input (the first bad one ends the command, its path in the message), then
/// writes the chart to `--out`.
pub fn run(args: &PlotArgs) -> Result<(), String> {
    args.validate()?;
    let mut inputs = Vec::with_capacity(args.inputs.len());
    for input in &args.inputs {
        let percentiles = hdr_text::read_percentiles(&input.path)?;
        inputs.push((input.label.as_str(), percentiles));
    }
    fs::write(&args.out, svg(&args.title, &inputs, args.log_y))
        .map_err(|e| format!("--out {}: {e}", args.out.display()))
}

/// The chart of `(label, histogram)` pairs under `title`.
pub fn svg(title: &str, inputs: &[(&str, Percentiles)], log_y: bool) -> String {
    let lines = inputs
        .iter()
        .map(|(label, percentiles)| Line {
            label: legend_label(label, percentiles.total_count),
            steps: percentiles.steps.clone(),
        })
        .collect();
    render::svg(&Chart {
        name: title.to_string(),
        heading: vec![title.to_string()],
        lines,
        legend: true,
        log_y,
    })
}

/// `ringmq c1 (50,000 samples)`: how much the tail of each line rests on.
fn legend_label(label: &str, samples: u64) -> String {
    match samples {
        0 => format!("{label} (no samples)"),
        1 => format!("{label} (1 sample)"),
        _ => format!("{label} ({} samples)", grouped(samples)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::axes::{LEFT, RIGHT, WIDTH};
    use super::super::testing::{attribute, points, polylines, well_formed};
    use super::*;
    use crate::hdr_text::steps;
    use crate::report::latency_histogram;

    /// `count` samples from `low` µs up in steps of 1 µs.
    fn histogram(low: u64, count: u64) -> Percentiles {
        let mut latency = latency_histogram();
        for us in low..low + count {
            latency.record(us * 1000).unwrap();
        }
        Percentiles {
            steps: steps(&latency),
            total_count: latency.len(),
        }
    }

    #[test]
    fn one_line_per_input_with_a_legend_entry_each() {
        let inputs = [
            ("ringmq c1 <reqrep>", histogram(50, 1000)),
            ("ringmq c2 & \"friends\"", histogram(80, 5000)),
            ("nats-server 'reqrep'", histogram(100, 1)),
        ];
        let svg = svg("reqrep <5,000 req/s>", &inputs, false);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        let names = well_formed(&svg);
        assert_eq!(names.iter().filter(|n| *n == "svg").count(), 1);
        assert!(svg.contains("<title>reqrep &lt;5,000 req/s&gt;</title>"));
        assert!(svg.contains(">Latency (µs)</text>"));
        assert!(svg.contains(r#"font-weight="bold">reqrep &lt;5,000 req/s&gt;</text>"#));

        let lines = polylines(&svg);
        assert_eq!(lines.len(), 3);
        for (line, (_, percentiles)) in lines.iter().zip(&inputs) {
            let points = points(line);
            assert_eq!(points.len(), percentiles.steps.len());
            assert_eq!(points[0].0, LEFT);
            assert_eq!(points.last().unwrap().0, WIDTH - RIGHT);
        }
        // One sample: quantile steps 0 and 1 only.
        assert_eq!(points(lines[2]).len(), 2);
        let strokes: Vec<&str> = lines
            .iter()
            .map(|l| attribute(l, "stroke").unwrap())
            .collect();
        assert_eq!(strokes, ["#1f77b4", "#ff7f0e", "#2ca02c"]);
        let dashes: Vec<Option<&str>> = lines
            .iter()
            .map(|l| attribute(l, "stroke-dasharray"))
            .collect();
        assert_eq!(dashes, [None, Some("8 4"), Some("2 3")]);

        // The legend: a stroke sample in the line's style, then the escaped label.
        for (index, text) in [
            "ringmq c1 &lt;reqrep&gt; (1,000 samples)",
            "ringmq c2 &amp; &quot;friends&quot; (5,000 samples)",
            "nats-server &#39;reqrep&#39; (1 sample)",
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(svg.matches(&format!(">{text}</text>")).count(), 1, "{text}");
            let sample = svg
                .match_indices("<line ")
                .map(|(at, _)| &svg[at..])
                .filter(|tag| attribute(tag, "stroke") == Some(strokes[index]))
                .count();
            assert_eq!(sample, 1, "legend sample of line {index}");
        }
        // Legend rows go under the frame: 42 (one heading line) + 360 + 60, then 3 × 20 + 10.
        assert!(svg.contains(r#" width="800" height="532" "#), "{svg}");
        let legend_top = 42.0 + 360.0 + 60.0;
        let label_at = svg.find(">ringmq c1 &lt;").unwrap();
        let text_tag = &svg[svg[..label_at].rfind("<text").unwrap()..];
        let y: f64 = attribute(text_tag, "y").unwrap().parse().unwrap();
        assert_eq!(y, legend_top + 10.0 + 4.0);
    }

    #[test]
    fn empty_inputs_get_a_legend_entry_but_no_line() {
        let empty = Percentiles {
            steps: Vec::new(),
            total_count: 0,
        };
        let svg = svg("t", &[("a", histogram(1, 100)), ("b", empty.clone())], true);
        well_formed(&svg);
        assert_eq!(polylines(&svg).len(), 1);
        assert!(svg.contains(">b (no samples)</text>"));
        assert!(svg.contains(">Latency (µs, log scale)</text>"));
        assert!(!svg.contains(">no latency samples</text>"));
        let nothing = svg_of_empties(&empty);
        assert_eq!(polylines(&nothing).len(), 0);
        assert!(nothing.contains(">no latency samples</text>"));
        assert!(nothing.contains(">99.999%</text>"));
    }

    fn svg_of_empties(empty: &Percentiles) -> String {
        svg("t", &[("x", empty.clone()), ("y", empty.clone())], false)
    }
}
