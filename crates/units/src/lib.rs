//! Unit newtypes shared by every fabricsim crate.
//!
//! Invariant: all quantities are stored in SI base units as `f64` (bytes, seconds,
//! bytes per second, FLOP per second, watts). Conversions live here, one function per pair,
//! so a reader never has to guess whether a figure is in Gb/s or GB/s.

use std::fmt;
use std::ops::{Add, AddAssign, Div, Mul, Sub};

macro_rules! unit {
    ($(#[$m:meta])* $name:ident, $sym:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
        pub struct $name(pub f64);
        impl $name {
            pub const ZERO: Self = Self(0.0);
            pub fn get(self) -> f64 { self.0 }
        }
        impl Add for $name { type Output = Self; fn add(self, o: Self) -> Self { Self(self.0 + o.0) } }
        impl AddAssign for $name { fn add_assign(&mut self, o: Self) { self.0 += o.0 } }
        impl Sub for $name { type Output = Self; fn sub(self, o: Self) -> Self { Self(self.0 - o.0) } }
        impl Mul<f64> for $name { type Output = Self; fn mul(self, k: f64) -> Self { Self(self.0 * k) } }
        impl Div<f64> for $name { type Output = Self; fn div(self, k: f64) -> Self { Self(self.0 / k) } }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}", si(self.0, $sym)) }
        }
    };
}

unit!(/// A number of bytes.
    Bytes, "B");
unit!(/// A duration in seconds.
    Seconds, "s");
unit!(/// A bandwidth in bytes per second, one direction unless a name says otherwise.
    BytesPerSec, "B/s");
unit!(/// A compute rate in floating-point operations per second.
    FlopsPerSec, "FLOP/s");
unit!(/// Electrical power in watts.
    Watts, "W");
unit!(/// Money in US dollars (approximate, public reporting).
    Usd, "USD");

impl BytesPerSec {
    /// A line rate in gigabits per second (as network ports are quoted), per direction.
    pub fn from_gbit(gbit: f64) -> Self {
        Self(gbit * 1e9 / 8.0)
    }
    /// A rate in gigabytes (1e9 bytes) per second.
    pub fn from_gbyte(gbyte: f64) -> Self {
        Self(gbyte * 1e9)
    }
    pub fn as_gbit(self) -> f64 {
        self.0 * 8.0 / 1e9
    }
    pub fn as_gbyte(self) -> f64 {
        self.0 / 1e9
    }
}

impl Div<BytesPerSec> for Bytes {
    type Output = Seconds;
    fn div(self, r: BytesPerSec) -> Seconds {
        Seconds(self.0 / r.0)
    }
}

impl Seconds {
    pub fn from_us(us: f64) -> Self {
        Self(us * 1e-6)
    }
    pub fn from_ns(ns: f64) -> Self {
        Self(ns * 1e-9)
    }
    pub fn as_us(self) -> f64 {
        self.0 * 1e6
    }
}

impl FlopsPerSec {
    pub fn from_tflops(t: f64) -> Self {
        Self(t * 1e12)
    }
    pub fn as_tflops(self) -> f64 {
        self.0 / 1e12
    }
}

impl Bytes {
    pub fn from_gib(g: f64) -> Self {
        Self(g * (1u64 << 30) as f64)
    }
    pub fn from_gb(g: f64) -> Self {
        Self(g * 1e9)
    }
}

/// Format a value with an SI prefix (k, M, G, T, P, E; m, µ, n for small values).
pub fn si(v: f64, unit: &str) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v} {unit}");
    }
    let a = v.abs();
    let (scale, p) = if a >= 1e18 {
        (1e18, "E")
    } else if a >= 1e15 {
        (1e15, "P")
    } else if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else if a >= 1.0 {
        (1.0, "")
    } else if a >= 1e-3 {
        (1e-3, "m")
    } else if a >= 1e-6 {
        (1e-6, "µ")
    } else {
        (1e-9, "n")
    };
    let x = v / scale;
    let digits = if x.abs() >= 100.0 {
        0
    } else if x.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{x:.digits$} {p}{unit}")
}

/// Light-in-fibre propagation delay, about 4.9 µs per km one way (group index ≈ 1.468).
/// Source: systems.md §8 ("5-microsecond rule"; Wikipedia, Latency (engineering)).
pub const FIBRE_DELAY_PER_KM: Seconds = Seconds(4.9e-6);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_speed_conversions() {
        assert_eq!(BytesPerSec::from_gbit(400.0).0, 50e9);
        assert_eq!(BytesPerSec::from_gbyte(450.0).as_gbit(), 3600.0);
        assert_eq!((Bytes(100e9) / BytesPerSec(50e9)).0, 2.0);
        assert_eq!(Bytes::from_gib(1.0).0, 1073741824.0);
    }

    #[test]
    fn si_formatting() {
        assert_eq!(si(24.0e12, "B/s"), "24.0 TB/s");
        assert_eq!(si(450e9, "B/s"), "450 GB/s");
        assert_eq!(si(3.5e-6, "s"), "3.50 µs");
    }
}

/// Fitted constants, overridable for one computation on this thread.
///
/// fabricsim's fitted constants (e.g. the share of NVLink bandwidth NCCL reaches) are `const`s
/// with their rule in docs/calibration.md. `fabricsim validate --cross-validate` refits them
/// without one group of measured rows and predicts that group: it runs the model with the
/// refitted values through [`calibration::with`], and the model reads each constant through
/// [`calibration::get`]. Outside `with`, `get` returns the shipped value. Thread-local and
/// scoped, so results stay deterministic and nothing leaks between runs.
pub mod calibration {
    use std::cell::RefCell;

    thread_local! {
        static OVERRIDES: RefCell<Vec<(&'static str, f64)>> = const { RefCell::new(Vec::new()) };
    }

    /// The value of the fitted constant `name`: the innermost override, else `shipped`.
    pub fn get(name: &str, shipped: f64) -> f64 {
        OVERRIDES.with(|o| {
            let o = o.borrow();
            if o.is_empty() {
                return shipped;
            }
            o.iter().rev().find(|(n, _)| *n == name).map_or(shipped, |(_, v)| *v)
        })
    }

    /// Run `f` with `values` overriding the named constants (restored afterwards, also on panic).
    pub fn with<T>(values: &[(&'static str, f64)], f: impl FnOnce() -> T) -> T {
        struct Restore(usize);
        impl Drop for Restore {
            fn drop(&mut self) {
                OVERRIDES.with(|o| o.borrow_mut().truncate(self.0));
            }
        }
        let before = OVERRIDES.with(|o| {
            let mut o = o.borrow_mut();
            let n = o.len();
            o.extend_from_slice(values);
            n
        });
        let _restore = Restore(before);
        f()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn overrides_are_scoped_and_nest() {
            assert_eq!(super::get("X", 1.0), 1.0);
            let v = super::with(&[("X", 2.0)], || {
                let inner = super::with(&[("X", 3.0)], || super::get("X", 1.0));
                (inner, super::get("X", 1.0), super::get("Y", 5.0))
            });
            assert_eq!(v, (3.0, 2.0, 5.0));
            assert_eq!(super::get("X", 1.0), 1.0);
        }
    }
}
