//! The plot frame: where a (percentile, latency) point lands, and the grid, tick labels and
//! axis titles around it.
//!
//! ```text
//! x: percentile on a log scale of 1/(1-p): one decade per label 0%, 90%, 99%, 99.9%, ...
//! y: latency in µs, linear from 0, ticks at 1, 2 or 5 × 10^k
//!    or (`loadgen plot --log-y`) logarithmic over whole decades, ticks at 1, 2, 5 × 10^k
//! ```
//! The last step of a histogram is its maximum (100 %), which has no finite position on the
//! log scale; it is drawn at the right edge. The x axis ends at 99.999 %, or at the first
//! decade beyond the highest finite step of any line when a run has enough samples to go
//! further; the y axis ends at the first tick (log: decade) at or above the highest latency of
//! any line, and a log axis starts at the decade below the lowest.

use std::fmt::Write as _;

use crate::hdr_text::Step;

/// The x axis shows at least 0 % to 99.999 %.
const DECADES_MIN: u32 = 5;

/// Rough number of y ticks wanted; the step is the next 1, 2 or 5 × 10^k above max/this.
const Y_TICKS_WANTED: f64 = 6.0;

/// A log y axis spanning more decades than this labels only the powers of ten, so labels
/// stay at least 20 px apart.
const LOG_DECADES_LABELLED_MAX: i32 = 4;

pub const WIDTH: f64 = 800.0;
pub const LEFT: f64 = 80.0;
pub const RIGHT: f64 = 30.0;
/// Height of the plot area itself; the heading goes above, the legend below.
pub const PLOT_HEIGHT: f64 = 360.0;
/// Room under the plot area for the tick labels and the x axis title.
pub const BOTTOM: f64 = 60.0;

/// The plot area's place in the picture and the scales of its axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The plot area's top edge: the heading is above it.
    pub top: f64,
    x_decades: u32,
    y: YScale,
}

/// The latency axis.
#[derive(Debug, Clone, PartialEq)]
enum YScale {
    /// From 0 to `top`, a tick every `step`.
    Linear { step: f64, top: f64 },
    /// From 10^`low` to 10^`high` µs.
    Log { low: i32, high: i32 },
}

impl YScale {
    fn linear(micros_max: f64) -> YScale {
        let step = tick_step(micros_max);
        let ticks = (micros_max / step).ceil().max(1.0);
        YScale::Linear {
            step,
            top: ticks * step,
        }
    }

    /// Whole decades around the positive values (1 to 10 µs when there are none).
    fn log(micros_min: Option<f64>, micros_max: f64) -> YScale {
        let Some(micros_min) = micros_min else {
            return YScale::Log { low: 0, high: 1 };
        };
        let low = micros_min.log10().floor() as i32;
        let high = (micros_max.log10().ceil() as i32).max(low + 1);
        YScale::Log { low, high }
    }

    /// Height above the x axis as a fraction of the plot area's.
    fn fraction(&self, micros: f64) -> f64 {
        match *self {
            YScale::Linear { top, .. } => micros / top,
            YScale::Log { low, high } => {
                let floor = 10f64.powi(low);
                (micros.max(floor).log10() - f64::from(low)) / f64::from(high - low)
            }
        }
    }

    /// Tick values and their labels, bottom up.
    fn ticks(&self) -> Vec<(f64, String)> {
        match *self {
            YScale::Linear { step, top } => {
                let count = (top / step).round() as u32;
                (0..=count)
                    .map(|i| f64::from(i) * step)
                    .map(|value| (value, tick_label(value, step)))
                    .collect()
            }
            YScale::Log { low, high } => {
                let mantissas: &[f64] = if high - low > LOG_DECADES_LABELLED_MAX {
                    &[1.0]
                } else {
                    &[1.0, 2.0, 5.0]
                };
                let mut ticks = Vec::new();
                for exponent in low..=high {
                    let power = 10f64.powi(exponent);
                    for mantissa in mantissas {
                        if exponent == high && *mantissa > 1.0 {
                            break;
                        }
                        let value = mantissa * power;
                        ticks.push((value, tick_label(value, value)));
                    }
                }
                ticks
            }
        }
    }

    fn title(&self) -> &'static str {
        match self {
            YScale::Linear { .. } => "Latency (µs)",
            YScale::Log { .. } => "Latency (µs, log scale)",
        }
    }
}

impl Frame {
    /// Axes wide and tall enough for every line; with `log_y` a logarithmic latency axis.
    pub fn fit<'a>(
        top: f64,
        lines: impl Iterator<Item = &'a [Step]> + Clone,
        log_y: bool,
    ) -> Frame {
        let steps = lines.flat_map(|line| line.iter());
        let finite_max = steps
            .clone()
            .filter_map(|step| decades(step.quantile))
            .fold(0.0f64, f64::max);
        let micros_max = steps.clone().map(|step| step.micros).fold(0.0f64, f64::max);
        let y = if log_y {
            let positive = steps.map(|step| step.micros).filter(|&micros| micros > 0.0);
            YScale::log(positive.reduce(f64::min), micros_max)
        } else {
            YScale::linear(micros_max)
        };
        Frame {
            top,
            x_decades: DECADES_MIN.max(finite_max.floor() as u32 + 1),
            y,
        }
    }

    fn width() -> f64 {
        WIDTH - LEFT - RIGHT
    }

    /// The plot area's bottom edge (the x axis).
    pub fn bottom(&self) -> f64 {
        self.top + PLOT_HEIGHT
    }

    fn px(&self, decade: f64) -> f64 {
        LEFT + decade / f64::from(self.x_decades) * Self::width()
    }

    fn py(&self, micros: f64) -> f64 {
        self.bottom() - self.y.fraction(micros) * PLOT_HEIGHT
    }

    /// Where a step lands; the maximum (quantile 1) on the right edge.
    pub fn point(&self, step: &Step) -> (f64, f64) {
        let decade = decades(step.quantile).unwrap_or(f64::from(self.x_decades));
        (self.px(decade), self.py(step.micros))
    }

    /// The middle of the plot area.
    pub fn centre(&self) -> (f64, f64) {
        (LEFT + Self::width() / 2.0, self.top + PLOT_HEIGHT / 2.0)
    }

    /// Grid, tick labels, the plot area's border and both axis titles.
    pub fn draw(&self, out: &mut String) {
        let (top, bottom, right) = (self.top, self.bottom(), LEFT + Self::width());
        // Writing to a String cannot fail.
        let _ = writeln!(out, r##"<g stroke="#dddddd" stroke-width="1">"##);
        for k in 0..=self.x_decades {
            let x = self.px(f64::from(k));
            let _ = writeln!(
                out,
                r#"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom:.1}"/>"#
            );
        }
        let y_ticks = self.y.ticks();
        for (value, _) in &y_ticks {
            let y = self.py(*value);
            let _ = writeln!(
                out,
                r#"<line x1="{LEFT}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}"/>"#
            );
        }
        let _ = writeln!(out, "</g>");
        let _ = writeln!(out, r#"<g text-anchor="middle">"#);
        for k in 0..=self.x_decades {
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                self.px(f64::from(k)),
                bottom + 18.0,
                decade_label(k)
            );
        }
        let _ = writeln!(out, "</g>");
        let _ = writeln!(out, r#"<g text-anchor="end">"#);
        for (value, label) in &y_ticks {
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}">{label}</text>"#,
                LEFT - 6.0,
                self.py(*value) + 4.0,
            );
        }
        let _ = writeln!(out, "</g>");
        let _ = writeln!(
            out,
            r#"<rect x="{LEFT}" y="{top}" width="{}" height="{PLOT_HEIGHT}" fill="none" stroke="black"/>"#,
            Self::width()
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">Percentile</text>"#,
            self.centre().0,
            bottom + 44.0
        );
        let _ = writeln!(
            out,
            r#"<text x="20" y="{0:.1}" text-anchor="middle" transform="rotate(-90 20 {0:.1})">{1}</text>"#,
            self.centre().1,
            self.y.title()
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    /// The axes fit the widest and the tallest line, whichever lines those are.
    #[test]
    fn frame_fits_every_line() {
        let step = |quantile, micros| Step { quantile, micros };
        let short_and_tall = [step(0.0, 10.0), step(0.99, 900.0), step(1.0, 1000.0)];
        let long_and_low = [step(0.0, 1.0), step(0.99999995, 5.0), step(1.0, 6.0)];
        let lines = [&short_and_tall[..], &long_and_low[..]];
        let frame = Frame::fit(40.0, lines.iter().copied(), false);
        // 1/(1-0.99999995) is 2 × 10^7, past seven decades: the axis goes to eight.
        assert_eq!(frame.x_decades, 8);
        assert_eq!(
            frame.y,
            YScale::Linear {
                step: 200.0,
                top: 1000.0
            }
        );
        let labels: Vec<String> = frame.y.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["0", "200", "400", "600", "800", "1000"]);
        assert_eq!(frame.point(&step(0.0, 0.0)), (LEFT, 40.0 + PLOT_HEIGHT));
        assert_eq!(frame.point(&step(1.0, 1000.0)), (WIDTH - RIGHT, 40.0));
        let (x, y) = frame.point(&step(0.99, 500.0));
        assert!((x - (LEFT + 2.0 / 8.0 * (WIDTH - LEFT - RIGHT))).abs() < 1e-9);
        assert!((y - (40.0 + PLOT_HEIGHT / 2.0)).abs() < 1e-9);
        let only_short = Frame::fit(40.0, [&short_and_tall[..]].into_iter(), false);
        assert_eq!(only_short.x_decades, DECADES_MIN);
        let none = Frame::fit(40.0, std::iter::empty(), false);
        assert_eq!(none.x_decades, 5);
        assert_eq!(
            none.y,
            YScale::Linear {
                step: 1.0,
                top: 1.0
            }
        );
    }

    /// A log axis covers whole decades from below the lowest value to above the highest,
    /// labels 1, 2 and 5 × 10^k while that fits and only powers of ten beyond.
    #[test]
    fn log_axis() {
        let step = |quantile, micros| Step { quantile, micros };
        let line = [step(0.0, 80.0), step(0.99, 250.0), step(1.0, 3000.0)];
        let frame = Frame::fit(40.0, [&line[..]].into_iter(), true);
        assert_eq!(frame.y, YScale::Log { low: 1, high: 4 });
        let labels: Vec<String> = frame.y.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(
            labels,
            ["10", "20", "50", "100", "200", "500", "1000", "2000", "5000", "10000"]
        );
        assert_eq!(frame.point(&step(0.0, 10.0)).1, 40.0 + PLOT_HEIGHT);
        assert_eq!(frame.point(&step(1.0, 10_000.0)).1, 40.0);
        let (_, y) = frame.point(&step(0.5, 100.0));
        assert!((y - (40.0 + PLOT_HEIGHT * 2.0 / 3.0)).abs() < 1e-9, "{y}");
        // Below the axis (0 µs has no logarithm) sits on the x axis.
        assert_eq!(frame.point(&step(0.0, 0.0)).1, 40.0 + PLOT_HEIGHT);

        let wide = [step(0.0, 0.0), step(0.5, 0.5), step(1.0, 25_000.0)];
        let frame = Frame::fit(40.0, [&wide[..]].into_iter(), true);
        assert_eq!(frame.y, YScale::Log { low: -1, high: 5 });
        let labels: Vec<String> = frame.y.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["0.1", "1", "10", "100", "1000", "10000", "100000"]);
        let flat = [step(0.0, 100.0), step(1.0, 100.0)];
        let frame = Frame::fit(40.0, [&flat[..]].into_iter(), true);
        assert_eq!(frame.y, YScale::Log { low: 2, high: 3 });
        let frame = Frame::fit(40.0, std::iter::empty(), true);
        assert_eq!(frame.y, YScale::Log { low: 0, high: 1 });
        assert_eq!(frame.y.title(), "Latency (µs, log scale)");
    }
}
