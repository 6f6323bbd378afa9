//! How each line looks (colour and dash pattern) and the legend that names the lines, one
//! row per line under the x axis title, so it can never cover a line.

use std::fmt::Write as _;

use super::axes::LEFT;
use super::escape;

/// Line colours, one per line, all distinct (Tableau 10; the first is the single plot's).
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Dash patterns (SVG stroke-dasharray), cycled, so neighbouring lines differ in print too.
const DASHES: [Option<&str>; 5] = [
    None,
    Some("8 4"),
    Some("2 3"),
    Some("10 3 2 3"),
    Some("4 4"),
];

/// The most lines one chart takes: one per colour. `loadgen plot` refuses more inputs (a
/// usage error) rather than draw two lines alike.
pub const SERIES_MAX: usize = PALETTE.len();

/// Height of one legend row.
const ROW: f64 = 20.0;

/// Room under the last legend row.
const PAD: f64 = 10.0;

/// Length of the line sample in front of each legend label.
const SAMPLE: f64 = 36.0;

/// The stroke attributes of line `index` (below `SERIES_MAX`).
pub fn stroke(index: usize) -> String {
    debug_assert!(index < SERIES_MAX, "line {index}");
    let colour = PALETTE[index % PALETTE.len()];
    match DASHES[index % DASHES.len()] {
        None => format!(r#"stroke="{colour}""#),
        Some(dash) => format!(r#"stroke="{colour}" stroke-dasharray="{dash}""#),
    }
}

/// Height the legend adds to the picture for `rows` lines (nothing for none).
pub fn height(rows: usize) -> f64 {
    if rows == 0 {
        0.0
    } else {
        rows as f64 * ROW + PAD
    }
}

/// One row per label, from `top` down: a sample of the line's stroke, then the label.
pub fn draw(out: &mut String, labels: &[&str], top: f64) {
    // Writing to a String cannot fail.
    for (index, label) in labels.iter().enumerate() {
        let y = top + ROW * (index as f64 + 0.5);
        let _ = writeln!(
            out,
            r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" {} stroke-width="2"/>"#,
            LEFT + SAMPLE,
            stroke(index)
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT + SAMPLE + 8.0,
            y + 4.0,
            escape(label)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_looks_different() {
        let strokes: Vec<String> = (0..SERIES_MAX).map(stroke).collect();
        assert_eq!(strokes[0], r##"stroke="#1f77b4""##);
        assert_eq!(strokes[1], r##"stroke="#ff7f0e" stroke-dasharray="8 4""##);
        assert_eq!(strokes[5], r##"stroke="#8c564b""##);
        let mut colours: Vec<&str> = PALETTE.to_vec();
        colours.sort_unstable();
        colours.dedup();
        assert_eq!(colours.len(), SERIES_MAX);
        let mut unique = strokes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), SERIES_MAX);
        assert_eq!(height(0), 0.0);
        assert_eq!(height(3), 70.0);
    }
}
