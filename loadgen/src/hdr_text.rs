//! The `--hdr-out` file: a latency histogram as HdrHistogram's percentile text (values in
//! µs), written after a run and read back by `loadgen plot`.
//!
//! ```text
//!        Value     Percentile TotalCount 1/(1-Percentile)
//!
//!       61.439 0.000000000000          1           1.00
//!       ...                                              one row per quantile step
//!     2303.999 1.000000000000          1
//! #[Mean    =      118.035, StdDeviation   =       40.211]
//! #[Max     =     2303.999, Total count    =        50000]
//! ```
//! The rows' counts add up to the total count, which is how a truncated file is told from
//! a complete one.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use hdrhistogram::Histogram;

/// Steps per halving of the distance to 100 %: the rows of the file, and the points of
/// every plot.
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// One step of the quantile iteration: the quantile reached and the latency there (µs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub quantile: f64,
    pub micros: f64,
}

/// A histogram as read back from its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Percentiles {
    pub steps: Vec<Step>,
    /// Samples in the histogram (the footer's total count).
    pub total_count: u64,
}

/// The histogram (nanoseconds) as its quantile steps, in order: the rows of the file.
pub fn steps(latency: &Histogram<u64>) -> Vec<Step> {
    latency
        .iter_quantiles(TICKS_PER_HALF_DISTANCE)
        .map(|step| Step {
            quantile: step.quantile_iterated_to(),
            micros: step.value_iterated_to() as f64 / 1000.0,
        })
        .collect()
}

/// Writes the distribution in HdrHistogram's percentile text format (values in µs), which
/// the usual HdrHistogram plotters read.
pub fn write_percentiles(latency: &Histogram<u64>, path: &Path) -> io::Result<()> {
    let mut out = io::BufWriter::new(fs::File::create(path)?);
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    for step in latency.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        let quantile = step.quantile_iterated_to();
        let inverse = if quantile < 1.0 {
            format!("{:>14.2}", 1.0 / (1.0 - quantile))
        } else {
            String::new()
        };
        writeln!(
            out,
            "{:>12.3} {:>14.12} {:>10} {}",
            step.value_iterated_to() as f64 / 1000.0,
            quantile,
            step.count_since_last_iteration(),
            inverse
        )?;
    }
    writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        latency.mean() / 1000.0,
        latency.stdev() / 1000.0
    )?;
    writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        latency.max() as f64 / 1000.0,
        latency.len()
    )?;
    out.flush()
}

/// Reads a file written by `write_percentiles`; the error names the file and the line.
pub fn read_percentiles(path: &Path) -> Result<Percentiles, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the percentile text: the heading, rows whose percentile and value never fall, and
/// the footer, whose total count the rows' counts must add up to.
pub fn parse(text: &str) -> Result<Percentiles, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    let heading = lines.find(|(_, line)| !line.trim().is_empty());
    let heading_is_ours = heading.is_some_and(|(_, line)| {
        let mut words = line.split_whitespace();
        words.next() == Some("Value") && words.next() == Some("Percentile")
    });
    if !heading_is_ours {
        return Err("not an HdrHistogram percentile file (--hdr-out): no \
                    \"Value Percentile\" heading"
            .to_string());
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut counted = 0u64;
    let mut total_count = None;
    for (number, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(footer) = line.strip_prefix("#[") {
            if let Some((_, count)) = footer.split_once("Total count") {
                let count = count.trim_start_matches([' ', '=']).trim_end_matches(']');
                let count = count
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("line {number}: bad total count in {line:?}"))?;
                total_count = Some(count);
            }
            continue;
        }
        if total_count.is_some() {
            return Err(format!("line {number}: a row after the footer: {line:?}"));
        }
        let (step, count) = parse_row(line).map_err(|e| format!("line {number}: {e}"))?;
        if let Some(last) = steps.last() {
            if step.quantile < last.quantile || step.micros < last.micros {
                return Err(format!(
                    "line {number}: percentile or value falls: {line:?}"
                ));
            }
        }
        counted = counted.saturating_add(count);
        steps.push(step);
    }
    let Some(total_count) = total_count else {
        return Err("no \"Total count\" footer (truncated?)".to_string());
    };
    if counted != total_count {
        return Err(format!(
            "the rows count {counted} samples, the footer {total_count} (truncated?)"
        ));
    }
    Ok(Percentiles { steps, total_count })
}

/// `VALUE PERCENTILE COUNT [1/(1-PERCENTILE)]`.
fn parse_row(line: &str) -> Result<(Step, u64), String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let bad = || format!("expected \"VALUE PERCENTILE COUNT [INVERSE]\", got {line:?}");
    if !(3..=4).contains(&fields.len()) {
        return Err(bad());
    }
    let micros: f64 = fields[0].parse().map_err(|_| bad())?;
    let quantile: f64 = fields[1].parse().map_err(|_| bad())?;
    let count: u64 = fields[2].parse().map_err(|_| bad())?;
    if !(micros.is_finite() && micros >= 0.0 && (0.0..=1.0).contains(&quantile)) {
        return Err(bad());
    }
    if fields.len() == 4 && fields[3].parse::<f64>().is_err() {
        return Err(bad());
    }
    Ok((Step { quantile, micros }, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::latency_histogram;

    fn written(latency: &Histogram<u64>, name: &str) -> String {
        let path = std::env::temp_dir().join(format!(
            "loadgen-hdr-text-{}-{name}.hdr",
            std::process::id()
        ));
        write_percentiles(latency, &path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        fs::remove_file(&path).unwrap();
        text
    }

    /// What is written reads back as the same steps (to the file's 3 decimals) and count.
    #[test]
    fn round_trip() {
        let mut latency = latency_histogram();
        for us in 1..=10_000u64 {
            latency.record(us * 1000 + 123).unwrap();
        }
        latency.record(2_500_000_000).unwrap();
        let text = written(&latency, "round-trip");
        let read = parse(&text).unwrap();
        let expected = steps(&latency);
        assert_eq!(read.total_count, 10_001);
        assert_eq!(read.steps.len(), expected.len());
        assert_eq!(
            read.steps.len(),
            latency.iter_quantiles(TICKS_PER_HALF_DISTANCE).count()
        );
        for (read, expected) in read.steps.iter().zip(&expected) {
            assert!((read.micros - expected.micros).abs() < 0.0005, "{read:?}");
            assert!(
                (read.quantile - expected.quantile).abs() < 1e-12,
                "{read:?}"
            );
        }
        assert_eq!(read.steps.last().unwrap().quantile, 1.0);
    }

    #[test]
    fn empty_histogram_has_no_rows() {
        let text = written(&latency_histogram(), "empty");
        assert_eq!(
            parse(&text),
            Ok(Percentiles {
                steps: Vec::new(),
                total_count: 0
            })
        );
    }

    #[test]
    fn garbled_files_are_refused_with_the_line() {
        let mut latency = latency_histogram();
        for us in 1..=100u64 {
            latency.record(us * 1000).unwrap();
        }
        let text = written(&latency, "garbled");
        let lines: Vec<&str> = text.lines().collect();
        // Heading, blank, rows..., two footer lines.
        let rows = lines.len() - 4;
        assert!(rows > 10);
        let without = |skip: usize| {
            let kept: Vec<&str> = (0..lines.len())
                .filter(|&i| i != skip)
                .map(|i| lines[i])
                .collect();
            kept.join("\n")
        };
        assert_eq!(
            parse(&without(lines.len() - 1)),
            Err("no \"Total count\" footer (truncated?)".to_string())
        );
        let missing_row = parse(&without(5)).unwrap_err();
        assert!(
            missing_row.starts_with("the rows count ")
                && missing_row.ends_with(", the footer 100 (truncated?)"),
            "{missing_row}"
        );
        assert_eq!(
            parse("{\"msgs_sent\": 1}\n"),
            Err(
                "not an HdrHistogram percentile file (--hdr-out): no \"Value Percentile\" \
                 heading"
                    .to_string()
            )
        );
        assert!(parse("").is_err());
        let mut swapped = lines.clone();
        swapped.swap(4, 8);
        let swapped = parse(&swapped.join("\n")).unwrap_err();
        assert!(
            swapped.starts_with("line 6: percentile or value falls: "),
            "{swapped}"
        );
        let mut bad_row = lines.clone();
        bad_row[2] = "  12.000 zero 1";
        assert_eq!(
            parse(&bad_row.join("\n")),
            Err(
                "line 3: expected \"VALUE PERCENTILE COUNT [INVERSE]\", got \"12.000 zero 1\""
                    .to_string()
            )
        );
        let mut out_of_range = lines.clone();
        out_of_range[2] = "  12.000 1.5 1";
        assert!(parse(&out_of_range.join("\n"))
            .unwrap_err()
            .starts_with("line 3: expected"));
        let mut after_footer = lines.clone();
        after_footer.push("  99.000 1.0 1");
        assert_eq!(
            parse(&after_footer.join("\n")),
            Err(format!(
                "line {}: a row after the footer: \"99.000 1.0 1\"",
                lines.len() + 1
            ))
        );
    }

    #[test]
    fn unreadable_files_are_named() {
        let missing = Path::new("/nonexistent/loadgen/x.hdr");
        let error = read_percentiles(missing).unwrap_err();
        assert!(
            error.starts_with("/nonexistent/loadgen/x.hdr: No such file or directory"),
            "{error}"
        );
    }
}
