//! Axes of the HTML charts: value → pixel scales (linear or logarithmic), "nice" ticks, and
//! number formatting with units (`350 ms`, `$1.2 M`, `80 GiB`, `45 %`).
//!
//! Every formatted number goes through a fixed-precision `format!`, so the same value always
//! gives the same text (the page is byte-for-byte deterministic).

use serde::{Deserialize, Serialize};

/// The unit of a chart's values: how ticks, labels and table cells print them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Unit {
    /// Seconds, with SI prefixes (`350 ms`, `1.20 s`).
    Seconds,
    /// Bytes, with binary prefixes (`80.0 GiB`).
    Bytes,
    /// Watts, with SI prefixes (`27.4 MW`).
    Watts,
    /// US dollars (`$1.23 M`, `$450 k`).
    Usd,
    /// A fraction 0–1 printed as a percentage (`45.0 %`).
    Fraction,
    /// A plain quantity with SI prefixes and this word after it (`1.23 M tokens/s`; empty for a
    /// bare number).
    Count(String),
}

/// How a number is printed: `Tick` trims trailing zeros (`2 ms`), `Value` keeps three
/// significant digits (`2.00 ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Tick,
    Value,
}

const SI: [(f64, &str); 9] = [
    (1e18, "E"),
    (1e15, "P"),
    (1e12, "T"),
    (1e9, "G"),
    (1e6, "M"),
    (1e3, "k"),
    (1.0, ""),
    (1e-3, "m"),
    (1e-6, "µ"),
];

/// `v / scale` with 3 significant digits, or trimmed for ticks.
fn digits(x: f64, style: Style) -> String {
    let d = if x.abs() >= 100.0 {
        0
    } else if x.abs() >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{x:.d$}");
    if style == Style::Tick && s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// (scaled value, prefix) for SI prefixes from nano up.
fn si_parts(v: f64) -> (f64, &'static str) {
    let a = v.abs();
    if a == 0.0 {
        return (0.0, "");
    }
    for (scale, p) in SI {
        if a >= scale {
            return (v / scale, p);
        }
    }
    (v / 1e-9, "n")
}

/// A non-finite value as a reader sees it.
pub(crate) fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "not a number"
    } else if v > 0.0 {
        "∞"
    } else {
        "−∞"
    }
}

/// `v` in `unit`, for a tick label, a value label or a table cell.
pub(crate) fn format(v: f64, unit: &Unit, style: Style) -> String {
    if !v.is_finite() {
        return non_finite(v).to_string();
    }
    match unit {
        Unit::Seconds => {
            let (x, p) = si_parts(v);
            format!("{} {p}s", digits(x, style))
        }
        Unit::Watts => {
            let (x, p) = si_parts(v);
            format!("{} {p}W", digits(x, style))
        }
        Unit::Bytes => {
            let a = v.abs();
            let (scale, p) = [
                (1u64 << 50, "PiB"),
                (1 << 40, "TiB"),
                (1 << 30, "GiB"),
                (1 << 20, "MiB"),
                (1 << 10, "KiB"),
            ]
            .into_iter()
            .find(|(s, _)| a >= *s as f64)
            .map(|(s, p)| (s as f64, p))
            .unwrap_or((1.0, "B"));
            format!("{} {p}", digits(v / scale, style))
        }
        Unit::Usd => {
            let sign = if v < 0.0 { "−" } else { "" };
            let a = v.abs();
            if a < 1e3 {
                format!("{sign}${}", digits(a, style))
            } else {
                let (x, p) = si_parts(a);
                // Dollars say billion, not giga.
                let p = if p == "G" { "B" } else { p };
                format!("{sign}${} {p}", digits(x, style))
            }
        }
        Unit::Fraction => {
            let pct = v * 100.0;
            let s = if style == Style::Tick {
                digits(pct, style)
            } else {
                format!("{pct:.1}")
            };
            format!("{s} %")
        }
        Unit::Count(word) => {
            // Whole numbers below 100,000 in full (1024 accelerators, not 1.02 k).
            // Counts take no milli- or micro- prefixes (0.50, not 500 m).
            let (x, p) = if (v.fract() == 0.0 && v.abs() < 1e5) || v.abs() < 1e3 {
                (v, "")
            } else {
                si_parts(v)
            };
            let n = if p.is_empty() && x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{}{}{p}", digits(x, style), if p.is_empty() { "" } else { " " })
            };
            let n = n.trim_end().to_string();
            if word.is_empty() {
                n
            } else {
                format!("{n} {word}")
            }
        }
    }
}

/// A value → pixel map over one axis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    /// Ticks step in multiples of this: 1, or a power of 1024 for bytes (ticks at 16 GiB, not
    /// 18.6 GiB).
    pub base: f64,
    /// Pixel of `lo` and of `hi` (the y axis runs from bottom to top: px0 > px1).
    pub px0: f64,
    pub px1: f64,
}

/// 1, 2 or 5 × 10^k at or above `x` (x > 0).
fn nice_step(x: f64) -> f64 {
    let e = x.log10().floor();
    let base = 10f64.powf(e);
    let f = x / base;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * base
}

impl Scale {
    /// A scale covering `[min, max]` (finite; for log, positive), widened to nice bounds.
    /// `zero`: include 0 (bars grow from it; ignored on a log axis). Bytes get binary steps.
    pub fn new(min: f64, max: f64, log: bool, zero: bool, unit: &Unit, px0: f64, px1: f64) -> Self {
        let binary = *unit == Unit::Bytes;
        let base = |span: f64| {
            if binary {
                let k = (span.max(1.0).log2() / 10.0).floor().clamp(0.0, 5.0);
                2f64.powf(10.0 * k)
            } else {
                1.0
            }
        };
        let (lo, hi) = if log {
            // A quarter of a step beyond the data on both sides, so no point sits on the frame.
            let (lo, hi) = (min / 1.25, max * 1.25);
            if lo > 0.0 && hi.is_finite() {
                (lo, hi)
            } else {
                (1.0, 10.0)
            }
        } else {
            // Points: 5 % beyond the data, so none sits on the frame (bars end where they end).
            let pad = if zero { 0.0 } else { (max - min) * 0.05 };
            let (mut a, mut b) = (min - pad, max + pad);
            if zero {
                a = a.min(0.0);
                b = b.max(0.0);
            }
            if b <= a {
                let pad = if a == 0.0 { 1.0 } else { a.abs() * 0.1 };
                a -= pad;
                b += pad;
                if zero && min >= 0.0 {
                    a = a.max(0.0);
                }
            }
            let u = base((b - a) / 5.0);
            let step = nice_step((b - a) / 5.0 / u) * u;
            ((a / step).floor() * step, (b / step).ceil() * step)
        };
        let base = if log { 1.0 } else { base((hi - lo) / 5.0) };
        Scale {
            lo,
            hi,
            log,
            base,
            px0,
            px1,
        }
    }

    /// The pixel of `v` (clamped to the axis for a log scale's non-positive values, which
    /// callers never draw).
    pub fn px(&self, v: f64) -> f64 {
        let t = if self.log {
            (v.max(f64::MIN_POSITIVE).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.px0 + t * (self.px1 - self.px0)
    }

    /// Tick values: 1-2-5 steps on a linear axis; decades on a log axis (with 2 and 5 between
    /// when it spans at most two decades).
    pub fn ticks(&self) -> Vec<f64> {
        if self.log {
            let d0 = self.lo.log10().floor() as i32;
            let d1 = self.hi.log10().ceil() as i32;
            let within = |mantissas: &[f64]| -> Vec<f64> {
                (d0..=d1)
                    .flat_map(|d| mantissas.iter().map(move |m| m * 10f64.powi(d)))
                    .filter(|v| *v >= self.lo * (1.0 - 1e-12) && *v <= self.hi * (1.0 + 1e-12))
                    .collect()
            };
            let decades = within(&[1.0]);
            if decades.len() >= 3 {
                return decades;
            }
            let t = within(&[1.0, 2.0, 5.0]);
            if t.len() >= 3 {
                t
            } else {
                within(&[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
            }
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0 / self.base) * self.base;
            let n = ((self.hi - self.lo) / step).round() as i64;
            (0..=n.clamp(0, 50))
                .map(|i| {
                    let v = self.lo + i as f64 * step;
                    // CORRECTNESS: snap tiny residues (0.1 + 0.2) so a tick at zero prints "0".
                    if v.abs() < step * 1e-9 {
                        0.0
                    } else {
                        v
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_units() {
        let cases: &[(f64, Unit, Style, &str)] = &[
            (0.35, Unit::Seconds, Style::Value, "350 ms"),
            (0.002, Unit::Seconds, Style::Tick, "2 ms"),
            (0.002, Unit::Seconds, Style::Value, "2.00 ms"),
            (12.5, Unit::Seconds, Style::Value, "12.5 s"),
            (80.0 * 1073741824.0, Unit::Bytes, Style::Value, "80.0 GiB"),
            (1.234e6, Unit::Usd, Style::Value, "$1.23 M"),
            (450.0, Unit::Usd, Style::Value, "$450"),
            (2.74e7, Unit::Watts, Style::Value, "27.4 MW"),
            (0.45, Unit::Fraction, Style::Value, "45.0 %"),
            (0.4, Unit::Fraction, Style::Tick, "40 %"),
            (1.234e6, Unit::Count("tokens/s".into()), Style::Value, "1.23 M tokens/s"),
            (12.0, Unit::Count(String::new()), Style::Tick, "12"),
            (1024.0, Unit::Count(String::new()), Style::Value, "1024"),
            (131072.0, Unit::Count(String::new()), Style::Value, "131 k"),
            (0.5, Unit::Count(String::new()), Style::Value, "0.50"),
            (f64::NAN, Unit::Seconds, Style::Value, "not a number"),
            (f64::INFINITY, Unit::Seconds, Style::Value, "∞"),
        ];
        for (v, u, st, want) in cases {
            assert_eq!(format(*v, u, *st), *want, "{v} {u:?}");
        }
    }

    #[test]
    fn linear_ticks_are_nice_and_cover_the_data() {
        let s = Scale::new(0.13, 0.87, false, true, &Unit::Seconds, 0.0, 100.0);
        assert_eq!(s.lo, 0.0);
        assert!(s.hi >= 0.87);
        let t = s.ticks();
        assert_eq!(t.first(), Some(&0.0));
        assert!((t.last().unwrap() - s.hi).abs() < 1e-12);
        assert!(t.len() >= 3 && t.len() <= 11, "{t:?}");
        // One value: a visible range around it.
        let s = Scale::new(5.0, 5.0, false, false, &Unit::Seconds, 0.0, 100.0);
        assert!(s.lo < 5.0 && s.hi > 5.0);
    }

    #[test]
    fn log_ticks_are_decades() {
        let s = Scale::new(3.0, 4000.0, true, false, &Unit::Seconds, 0.0, 300.0);
        assert_eq!((s.lo, s.hi), (2.4, 5000.0));
        assert_eq!(s.ticks(), vec![10.0, 100.0, 1000.0]);
        assert!((s.px(s.hi) - 300.0).abs() < 1e-9);
        let s = Scale::new(2.0, 30.0, true, false, &Unit::Seconds, 0.0, 300.0);
        assert_eq!(s.ticks(), vec![2.0, 5.0, 10.0, 20.0]);
        let s = Scale::new(1024.0, 1500.0, true, false, &Unit::Seconds, 0.0, 300.0);
        assert_eq!(s.ticks(), vec![900.0, 1000.0, 1500.0]);
    }

    #[test]
    fn byte_ticks_are_binary() {
        let g = 1073741824.0;
        let s = Scale::new(0.0, 80.0 * g, false, true, &Unit::Bytes, 0.0, 100.0);
        let t: Vec<String> = s
            .ticks()
            .iter()
            .map(|&v| format(v, &Unit::Bytes, Style::Tick))
            .collect();
        assert_eq!(t, ["0 B", "20 GiB", "40 GiB", "60 GiB", "80 GiB"]);
    }
}
