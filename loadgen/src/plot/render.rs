//! The one renderer behind `--plot` and `loadgen plot`: a heading, the frame, one polyline
//! per line (one point per quantile step), and for several lines a legend.

use std::fmt::Write as _;

use super::axes::{Frame, BOTTOM, WIDTH};
use super::{escape, legend};
use crate::hdr_text::Step;

/// Baseline of the first heading line; the next is `HEADING_SECOND` lower, the rest
/// `HEADING_STEP` apart.
const HEADING_FIRST: f64 = 22.0;
const HEADING_SECOND: f64 = 20.0;
const HEADING_STEP: f64 = 18.0;

/// Space between the last heading line's baseline and the plot area.
const HEADING_GAP: f64 = 20.0;

/// What one picture shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The document's `<title>`.
    pub name: String,
    /// Lines above the plot: the first bold, the second plain, the rest grey.
    pub heading: Vec<String>,
    pub lines: Vec<Line>,
    /// One legend row per line, under the plot. Off for `--plot`, whose heading already says
    /// what its single line is.
    pub legend: bool,
    /// Latency on a log scale, for tails orders of magnitude above the median.
    pub log_y: bool,
}

/// One latency distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Its legend entry.
    pub label: String,
    /// Its points, in quantile order; none for a histogram without samples.
    pub steps: Vec<Step>,
}

fn heading_baseline(index: usize) -> f64 {
    match index {
        0 => HEADING_FIRST,
        _ => HEADING_FIRST + HEADING_SECOND + HEADING_STEP * (index - 1) as f64,
    }
}

/// The chart as a complete, self-contained SVG document.
pub fn svg(chart: &Chart) -> String {
    let top = heading_baseline(chart.heading.len().max(1) - 1) + HEADING_GAP;
    let frame = Frame::fit(
        top,
        chart.lines.iter().map(|line| &line.steps[..]),
        chart.log_y,
    );
    let legend_rows = if chart.legend { chart.lines.len() } else { 0 };
    let height = frame.bottom() + BOTTOM + legend::height(legend_rows);
    let points: usize = chart.lines.iter().map(|line| line.steps.len()).sum();
    let mut out = String::with_capacity(4096 + points * 16);
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&chart.name));
    let _ = writeln!(
        out,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    for (index, text) in chart.heading.iter().enumerate() {
        let style = match index {
            0 => r#" font-size="15" font-weight="bold""#,
            1 => "",
            _ => r##" fill="#444""##,
        };
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle"{style}>{}</text>"#,
            WIDTH / 2.0,
            heading_baseline(index),
            escape(text)
        );
    }
    frame.draw(&mut out);
    if points == 0 {
        let (x, y) = frame.centre();
        let _ = writeln!(
            out,
            r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" fill="#888">no latency samples</text>"##
        );
    }
    for (index, line) in chart.lines.iter().enumerate() {
        if line.steps.is_empty() {
            continue;
        }
        let mut coordinates = String::with_capacity(line.steps.len() * 14);
        for step in &line.steps {
            let (x, y) = frame.point(step);
            if !coordinates.is_empty() {
                coordinates.push(' ');
            }
            let _ = write!(coordinates, "{x:.1},{y:.1}");
        }
        let _ = writeln!(
            out,
            r#"<polyline fill="none" {} stroke-width="2" stroke-linejoin="round" points="{coordinates}"/>"#,
            legend::stroke(index)
        );
    }
    if chart.legend {
        let labels: Vec<&str> = chart.lines.iter().map(|line| &line.label[..]).collect();
        legend::draw(&mut out, &labels, frame.bottom() + BOTTOM);
    }
    out.push_str("</svg>\n");
    out
}
