//! Power and energy of a job or a cluster, by phase (issue 12, part 2).
//!
//! An accelerator draws [`ACCEL_COMPUTE_TDP_FRACTION`] × TDP while it computes (forward,
//! backward, optimizer) and [`ACCEL_LOW_TDP_FRACTION`] × TDP while it communicates, waits in a
//! pipeline bubble or checkpoints (operations.md "Power", constants in
//! `fabric::catalogue::power` with their sources). Every other line of the bill of materials —
//! hosts, scale-up switches, NICs, scale-out switches, optics, OCS — draws its nameplate in every
//! phase. A job is charged its accelerators and its share (accelerators used ÷ accelerators in
//! the cluster) of every other line; facility power is IT power × PUE ([`Pue`]).
//!
//! - **Training** ([`train_energy`]): the step's [`Timeline`] says, per pipeline stage, when the
//!   compute stream runs; every stage holds the same number of accelerators (the job's ÷ PP),
//!   and every data-parallel replica runs the representative pipeline's schedule, so the job's
//!   IT power over one step is a piecewise-constant [`Waveform`]: its mean, peak, trough, swing
//!   (peak − trough, period = step time). Smoothing: a power floor (accelerators held at a
//!   given fraction of TDP whenever they are not computing), a ramp limit (the least energy to
//!   burn so the IT power never changes faster than the limit: the slope-limited upper envelope
//!   of the waveform) and rack energy storage (the lowest constant grid cap the storage can hold
//!   the peaks under, recharging below it).
//! - **Serving** ([`serve_energy`]): each role's accelerators at the compute fraction while its
//!   instances step (`busy_fraction`), at the low fraction otherwise.
//! - **A cluster at a load** ([`at_load`]): accelerators averaging a given fraction of TDP.
//!
//! No I/O; same input → same output.

use crate::serve::ServeReport;
use crate::topo::Pue;
use crate::train::TrainReport;
use fabric::bom::{self, Bom};
use fabric::catalogue::power::{
    ACCEL_COMPUTE_TDP_FRACTION, ACCEL_LOW_TDP_FRACTION, GB300_STORAGE_PEAK_REDUCTION_FRACTION, SECONDS_PER_DAY,
    TOPO_LOAD_DEFAULT,
};
use fabric::catalogue::{self as cat};
use fabric::Fabric;
use serde::Serialize;
use workload::schedule::Timeline;

/// Errors of the power options; the CLI prefixes the flag.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PowerError {
    #[error("load must be a fraction of TDP above 0 and at most 1 (what the accelerators average), got {0}")]
    Load(f64),
    #[error("power floor must be a fraction of TDP from 0 to 1 (what idle or communicating accelerators are held at), got {0}")]
    Floor(f64),
    #[error("ramp limit must be a positive number of MW per second, got {0}")]
    Ramp(f64),
    #[error("rack storage must be a non-negative number of kJ per compute rack, got {0}")]
    Storage(f64),
    #[error("the training report has no step timeline to derive power from")]
    NoTimeline,
    #[error("accelerator `{0}` is not in the catalogue: no TDP to derive power from")]
    NoTdp(String),
}

/// The fraction of TDP a cluster's accelerators average (`topo --load`), in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load(f64);

impl Load {
    pub fn new(x: f64) -> Result<Load, PowerError> {
        // CORRECTNESS: NaN fails both comparisons and is rejected.
        if x > 0.0 && x <= 1.0 {
            Ok(Load(x))
        } else {
            Err(PowerError::Load(x))
        }
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for Load {
    /// [`TOPO_LOAD_DEFAULT`] with its source.
    fn default() -> Self {
        Load(TOPO_LOAD_DEFAULT)
    }
}

/// Options of the energy figures of `train` and `serve`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PowerOptions {
    /// `None`: the catalogue's default PUE.
    pub pue: Option<Pue>,
    /// Fraction of TDP accelerators are held at when not computing (`--power-floor`).
    pub floor: Option<f64>,
    /// Largest change of the job's IT power, W/s (`--ramp-limit-mw-s` × 1e6).
    pub ramp_limit_w_per_s: Option<f64>,
    /// Energy storage per compute rack, J (`--rack-storage-kj` × 1e3).
    pub rack_storage_j: Option<f64>,
}

impl PowerOptions {
    /// Check every option's range.
    pub fn validate(&self) -> Result<(), PowerError> {
        if let Some(f) = self.floor {
            if !(0.0..=1.0).contains(&f) {
                return Err(PowerError::Floor(f));
            }
        }
        if let Some(r) = self.ramp_limit_w_per_s {
            if !(r > 0.0 && r.is_finite()) {
                return Err(PowerError::Ramp(r / 1e6));
            }
        }
        if let Some(s) = self.rack_storage_j {
            if !(s >= 0.0 && s.is_finite()) {
                return Err(PowerError::Storage(s / 1e3));
            }
        }
        Ok(())
    }
}

/// A job's share of a cluster's power lines.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPower {
    /// Accelerators the job uses.
    pub accelerators: f64,
    pub tdp_w: f64,
    /// The job's share of every non-accelerator line at nameplate, W.
    pub rest_w: f64,
    /// The job's share of the compute racks (for rack storage).
    pub compute_racks: f64,
    pub pue: f64,
    pub pue_basis: String,
}

/// The job's share of `f`'s bill of materials for `accelerators` accelerators.
pub fn job_power(f: &Fabric, accelerators: u64, pue: Option<Pue>) -> Result<JobPower, PowerError> {
    let b = bom::bom(f);
    job_power_of(f, &b, accelerators, pue)
}

fn job_power_of(f: &Fabric, b: &Bom, accelerators: u64, pue: Option<Pue>) -> Result<JobPower, PowerError> {
    let acc = cat::accelerator(f.accel_model).ok_or_else(|| PowerError::NoTdp(f.accel_model.to_string()))?;
    let total = (f.accels.len() as f64).max(1.0);
    let used = (accelerators as f64).min(total);
    let share = used / total;
    let accel_line = acc.tdp.0 * f.accels.len() as f64;
    let (pue, pue_basis) = match pue {
        Some(p) => (p.get(), "set with --pue".to_string()),
        None => (Pue::default().get(), cat::PUE_DEFAULT_BASIS.to_string()),
    };
    Ok(JobPower {
        accelerators: used,
        tdp_w: acc.tdp.0,
        rest_w: (b.power.0 - accel_line).max(0.0) * share,
        compute_racks: b.racks.compute as f64 * share,
        pue,
        pue_basis,
    })
}

/// kWh in a day of `w` watts.
pub fn kwh_per_day(w: f64) -> f64 {
    w * SECONDS_PER_DAY / 3.6e6
}

/// A cluster's power with its accelerators averaging `load` × TDP and every other line at
/// nameplate: (IT W, facility W, facility kWh per day).
pub fn at_load(f: &Fabric, b: &Bom, load: Load, pue: Pue) -> (f64, f64, f64) {
    let tdp = cat::accelerator(f.accel_model).map_or(0.0, |a| a.tdp.0);
    let accel = tdp * f.accels.len() as f64;
    let it = b.power.0 - accel + accel * load.get();
    let fac = it * pue.get();
    (it, fac, kwh_per_day(fac))
}

/// The job's IT power over one period: pieces `(start_s, end_s, W)` covering `[0, period_s)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Waveform {
    pub period_s: f64,
    pub pieces: Vec<(f64, f64, f64)>,
}

impl Waveform {
    pub fn mean(&self) -> f64 {
        if self.period_s <= 0.0 {
            return self.peak();
        }
        self.pieces.iter().map(|(a, b, w)| (b - a) * w).sum::<f64>() / self.period_s
    }
    pub fn peak(&self) -> f64 {
        self.pieces
            .iter()
            .map(|p| p.2)
            .fold(f64::NEG_INFINITY, f64::max)
            .max(0.0)
    }
    pub fn trough(&self) -> f64 {
        let m = self.pieces.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
        if m.is_finite() {
            m
        } else {
            0.0
        }
    }
    pub fn swing(&self) -> f64 {
        self.peak() - self.trough()
    }
    /// `n` equal bins over the period, each the mean power over its bin (the integral is kept).
    pub fn bins(&self, n: usize) -> Vec<f64> {
        let mut out = vec![0.0; n];
        if self.period_s <= 0.0 {
            out.iter_mut().for_each(|x| *x = self.peak());
            return out;
        }
        let dt = self.period_s / n as f64;
        for &(a, b, w) in &self.pieces {
            if b <= a {
                continue;
            }
            let first = ((a / dt) as usize).min(n - 1);
            let last = ((b / dt) as usize).min(n - 1);
            for (i, o) in out.iter_mut().enumerate().take(last + 1).skip(first) {
                let lo = a.max(i as f64 * dt);
                let hi = if i == n - 1 { b } else { b.min((i + 1) as f64 * dt) };
                if hi > lo {
                    *o += w * (hi - lo) / dt;
                }
            }
        }
        out
    }
}

/// How many pipeline stages compute over one step: pieces `(start_s, end_s, stages)` covering
/// `[0, step)`, a stage computing while its compute or optimizer stream runs.
pub fn stages_computing(tl: &Timeline, pp: u32) -> Vec<(f64, f64, u32)> {
    let period = tl.step_time.max(0.0);
    let pp = pp.max(1) as usize;
    // Each stage's compute intervals, merged.
    let mut events: Vec<(f64, i32)> = Vec::new();
    for s in 0..pp {
        let mut iv: Vec<(f64, f64)> = tl
            .spans
            .iter()
            .filter(|x| x.stage as usize == s && (x.stream == "compute" || x.stream == "optimizer"))
            .map(|x| (x.start.clamp(0.0, period), x.end.clamp(0.0, period)))
            .filter(|(a, b)| b > a)
            .collect();
        iv.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut merged: Vec<(f64, f64)> = Vec::new();
        for (a, b) in iv {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        for (a, b) in merged {
            events.push((a, 1));
            events.push((b, -1));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut pieces = Vec::new();
    let (mut t, mut n) = (0.0, 0i32);
    for (at, d) in events {
        if at > t {
            pieces.push((t, at, n.max(0) as u32));
            t = at;
        }
        n += d;
    }
    if period > t || pieces.is_empty() {
        pieces.push((t, period.max(t), n.max(0) as u32));
    }
    pieces
}

/// The job's IT power with `n` of `pp` stages computing, the others at `low` × TDP.
fn level(jp: &JobPower, pp: u32, low: f64, n: u32) -> f64 {
    let pp = pp.max(1) as f64;
    let per_stage = jp.accelerators / pp * jp.tdp_w;
    let n = n as f64;
    jp.rest_w + per_stage * (n * ACCEL_COMPUTE_TDP_FRACTION + (pp - n) * low)
}

/// The job's IT power over one training step: stage `s`'s accelerators (the job's ÷ PP) at the
/// compute fraction while its compute or optimizer stream runs, at `low` × TDP otherwise.
pub fn train_waveform(tl: &Timeline, pp: u32, jp: &JobPower, low: f64) -> Waveform {
    let pieces = stages_computing(tl, pp)
        .into_iter()
        .map(|(a, b, n)| (a, b, level(jp, pp, low, n)))
        .collect();
    Waveform {
        period_s: tl.step_time.max(0.0),
        pieces,
    }
}

/// The step's power levels: for each number of stages computing, the job's IT power and the
/// time per step spent there (the waveform's shape without its order).
pub fn train_levels(tl: &Timeline, pp: u32, jp: &JobPower, low: f64) -> Vec<PowerLevel> {
    let top = pp.max(1) as usize;
    let mut time = vec![0.0; top + 1];
    for (a, b, n) in stages_computing(tl, pp) {
        time[(n as usize).min(top)] += b - a;
    }
    time.iter()
        .enumerate()
        .filter(|(_, t)| **t > 0.0)
        .map(|(n, t)| PowerLevel {
            stages_computing: n as u32,
            it_power_w: level(jp, pp, low, n as u32),
            time_s: *t,
        })
        .collect()
}

/// One level of the step's power waveform.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PowerLevel {
    /// Pipeline stages computing (of PP); the others communicate or wait.
    pub stages_computing: u32,
    pub it_power_w: f64,
    /// Time per step at this level.
    pub time_s: f64,
}

/// Bins for ramp and storage: fine enough that a step of tens of seconds is cut into ms.
const BINS: usize = 8192;

/// The least power above `w` (bins of `dt` s, periodic) whose change between bins is at most
/// `r`·`dt`: the slope-limited upper envelope, `max_j (w_j − r·|i − j|·dt)`.
pub fn ramp_envelope(w: &[f64], dt: f64, r: f64) -> Vec<f64> {
    let n = w.len();
    let mut q = w.to_vec();
    if n == 0 {
        return q;
    }
    let d = r * dt;
    for _ in 0..2 {
        for i in 0..n {
            let prev = q[(i + n - 1) % n] - d;
            if prev > q[i] {
                q[i] = prev;
            }
        }
    }
    for _ in 0..2 {
        for i in (0..n).rev() {
            let next = q[(i + 1) % n] - d;
            if next > q[i] {
                q[i] = next;
            }
        }
    }
    q
}

/// The lowest constant grid cap that storage of `s` J (starting full, recharging below the cap
/// without loss) holds the periodic demand `w` (bins of `dt` s) under.
pub fn storage_cap(w: &[f64], dt: f64, s: f64) -> f64 {
    let peak = w.iter().copied().fold(0.0, f64::max);
    let mean = if w.is_empty() {
        0.0
    } else {
        w.iter().sum::<f64>() / w.len() as f64
    };
    let feasible = |g: f64| {
        let mut level = s;
        for _ in 0..3 {
            for &p in w {
                level -= (p - g) * dt;
                if level < -1e-9 * s.max(1.0) {
                    return false;
                }
                level = level.min(s);
            }
        }
        true
    };
    if s <= 0.0 {
        return peak;
    }
    let (mut lo, mut hi) = (mean, peak);
    if feasible(lo) {
        return lo;
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if feasible(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// `--power-floor`: accelerators held at a fraction of TDP when not computing.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FloorEffect {
    pub floor_tdp_fraction: f64,
    /// Without the floor (the low phase at the catalogue's fraction) and with it.
    pub it_power_before_w: f64,
    pub it_power_w: f64,
    pub power_swing_before_w: f64,
    pub power_swing_w: f64,
    /// Facility energy the floor adds per day.
    pub extra_energy_kwh_per_day: f64,
}

/// `--ramp-limit-mw-s`: the energy burned so the job's IT power never changes faster.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RampEffect {
    pub ramp_limit_w_per_s: f64,
    /// IT energy burned per step above the waveform to respect the limit.
    pub extra_energy_j_per_step: f64,
    /// Facility power and energy that adds.
    pub extra_facility_power_w: f64,
    pub extra_energy_kwh_per_day: f64,
    /// The limited waveform's peak − trough.
    pub power_swing_w: f64,
}

/// `--rack-storage-kj`: rack energy storage holding the grid demand under a constant cap.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StorageEffect {
    pub storage_j_per_rack: f64,
    /// The job's share of compute racks and their storage.
    pub compute_racks: f64,
    pub storage_j: f64,
    /// IT peak without storage and the lowest cap the storage holds the demand under.
    pub peak_grid_demand_before_w: f64,
    pub peak_grid_demand_w: f64,
    pub peak_reduction_fraction: f64,
    /// NVIDIA's published "up to 30 %" for GB300 NVL72 rack storage (O058), for comparison.
    pub published_gb300_peak_reduction_fraction: f64,
}

/// The smoothing options' effects (`null` when not asked for).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Smoothing {
    pub power_floor: Option<FloorEffect>,
    pub ramp_limit: Option<RampEffect>,
    pub rack_storage: Option<StorageEffect>,
}

/// Power and energy of a training job (appended to `train --json`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrainEnergy {
    /// The job's mean IT power over a step (with `--power-floor` when given) and at the facility
    /// (× `pue`); facility energy per day.
    pub it_power_w: f64,
    pub facility_power_w: f64,
    pub energy_kwh_per_day: f64,
    /// Facility energy per training token.
    pub energy_j_per_token: f64,
    /// IT power's highest and lowest level over the step.
    pub it_power_peak_w: f64,
    pub it_power_trough_w: f64,
    /// Peak − trough of the job's IT power within a step, and its period (the step time).
    pub power_swing_w: f64,
    pub power_swing_period_s: f64,
    /// The fraction of TDP the job's accelerators average over the step.
    pub accelerator_mean_tdp_fraction: f64,
    /// The waveform's levels by stages computing, with the time per step at each.
    pub power_levels: Vec<PowerLevel>,
    pub pue: f64,
    pub power_basis: String,
    pub power_smoothing: Smoothing,
}

/// Power and energy of a serving deployment (appended to `serve --json`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServeEnergy {
    pub it_power_w: f64,
    pub facility_power_w: f64,
    pub energy_kwh_per_day: f64,
    /// Facility energy per served output token (all-in: idle time, hosts, network, PUE).
    pub energy_j_per_output_token: f64,
    pub accelerator_mean_tdp_fraction: f64,
    pub pue: f64,
    pub power_basis: String,
}

fn basis(jp: &JobPower, low: f64, what: &str) -> String {
    format!(
        "accelerators at {:.3} × TDP ({:.0} W) {what}, {:.3} × TDP otherwise (operations.md Power: the middle of 0.85–1.0 and 0.15–0.3 × TDP{}); hosts, switches, NICs and optics at nameplate, the job's share ({:.0} of its accelerators); facility = IT × PUE {:.2} ({})",
        ACCEL_COMPUTE_TDP_FRACTION,
        jp.tdp_w,
        low,
        if low > ACCEL_LOW_TDP_FRACTION { ", raised to the power floor" } else { "" },
        jp.accelerators,
        jp.pue,
        jp.pue_basis
    )
}

/// Power and energy of the training step `r` ran on `f`.
pub fn train_energy(r: &TrainReport, f: &Fabric, opts: &PowerOptions) -> Result<TrainEnergy, PowerError> {
    train_energy_with(r, f, &bom::bom(f), opts)
}

/// [`train_energy`] with `f`'s bill of materials `b` (`bom::bom(f)`) already computed: a
/// caller that has a spare thread computes it there while the step simulates (on a 16k-GPU
/// fabric it costs about as much as a tenth of the step's flow schedule).
pub fn train_energy_with(r: &TrainReport, f: &Fabric, b: &Bom, opts: &PowerOptions) -> Result<TrainEnergy, PowerError> {
    opts.validate()?;
    let tl = r.timeline.as_ref().ok_or(PowerError::NoTimeline)?;
    let jp = job_power_of(f, b, r.plan.accelerators_used, opts.pue)?;
    let pp = r.plan.pp.max(1);
    let base = train_waveform(tl, pp, &jp, ACCEL_LOW_TDP_FRACTION);
    let low = opts
        .floor
        .map_or(ACCEL_LOW_TDP_FRACTION, |x| x.max(ACCEL_LOW_TDP_FRACTION));
    let w = if opts.floor.is_some() {
        train_waveform(tl, pp, &jp, low)
    } else {
        base.clone()
    };
    let it = w.mean();
    let fac = it * jp.pue;
    let step = w.period_s;
    let accel_w = jp.accelerators * jp.tdp_w;
    let floor = opts.floor.map(|x| FloorEffect {
        floor_tdp_fraction: x,
        it_power_before_w: base.mean(),
        it_power_w: it,
        power_swing_before_w: base.swing(),
        power_swing_w: w.swing(),
        extra_energy_kwh_per_day: kwh_per_day((it - base.mean()) * jp.pue),
    });
    let dt = step / BINS as f64;
    let bins = if opts.ramp_limit_w_per_s.is_some() || opts.rack_storage_j.is_some() {
        w.bins(BINS)
    } else {
        Vec::new()
    };
    let ramp = opts.ramp_limit_w_per_s.map(|rl| {
        let q = ramp_envelope(&bins, dt, rl);
        let extra_j: f64 = q.iter().zip(&bins).map(|(a, b)| (a - b) * dt).sum();
        let extra_w = if step > 0.0 { extra_j / step * jp.pue } else { 0.0 };
        let (hi, lo) = q
            .iter()
            .fold((f64::NEG_INFINITY, f64::INFINITY), |(h, l), &x| (h.max(x), l.min(x)));
        RampEffect {
            ramp_limit_w_per_s: rl,
            extra_energy_j_per_step: extra_j,
            extra_facility_power_w: extra_w,
            extra_energy_kwh_per_day: kwh_per_day(extra_w),
            power_swing_w: if q.is_empty() { 0.0 } else { hi - lo },
        }
    });
    let storage = opts.rack_storage_j.map(|per_rack| {
        let s = per_rack * jp.compute_racks;
        let cap = storage_cap(&bins, dt, s);
        let peak = w.peak();
        StorageEffect {
            storage_j_per_rack: per_rack,
            compute_racks: jp.compute_racks,
            storage_j: s,
            peak_grid_demand_before_w: peak,
            peak_grid_demand_w: cap.min(peak),
            peak_reduction_fraction: if peak > 0.0 { (1.0 - cap / peak).max(0.0) } else { 0.0 },
            published_gb300_peak_reduction_fraction: GB300_STORAGE_PEAK_REDUCTION_FRACTION,
        }
    });
    Ok(TrainEnergy {
        it_power_w: it,
        facility_power_w: fac,
        energy_kwh_per_day: kwh_per_day(fac),
        energy_j_per_token: if r.tokens_per_step > 0.0 {
            fac * step / r.tokens_per_step
        } else {
            0.0
        },
        it_power_peak_w: w.peak(),
        it_power_trough_w: w.trough(),
        power_swing_w: w.swing(),
        power_swing_period_s: step,
        accelerator_mean_tdp_fraction: if accel_w > 0.0 { (it - jp.rest_w) / accel_w } else { 0.0 },
        power_levels: train_levels(tl, pp, &jp, low),
        pue: jp.pue,
        power_basis: basis(&jp, low, "while their stage computes (forward, backward, optimizer)"),
        power_smoothing: Smoothing {
            power_floor: floor,
            ramp_limit: ramp,
            rack_storage: storage,
        },
    })
}

/// Power and energy of the serving run `r` on `f`: each role's accelerators at the compute
/// fraction while its instances step (`busy_fraction`), at the low fraction (or the floor)
/// otherwise. Ramp limit and rack storage are training options and are ignored here.
pub fn serve_energy(r: &ServeReport, f: &Fabric, opts: &PowerOptions) -> Result<ServeEnergy, PowerError> {
    opts.validate()?;
    let jp = job_power(f, r.accelerators, opts.pue)?;
    let low = opts
        .floor
        .map_or(ACCEL_LOW_TDP_FRACTION, |x| x.max(ACCEL_LOW_TDP_FRACTION));
    let mut accel_w = 0.0;
    let mut counted = 0.0;
    for role in &r.roles {
        let n = role.accelerators as f64;
        let busy = role.busy_fraction.clamp(0.0, 1.0);
        accel_w += n * jp.tdp_w * (busy * ACCEL_COMPUTE_TDP_FRACTION + (1.0 - busy) * low);
        counted += n;
    }
    // Accelerators of the deployment no role names (none today) idle.
    accel_w += (jp.accelerators - counted).max(0.0) * jp.tdp_w * low;
    let it = jp.rest_w + accel_w;
    let fac = it * jp.pue;
    let tokens_per_s = r.output_tokens_per_s_per_accel * r.accelerators as f64;
    Ok(ServeEnergy {
        it_power_w: it,
        facility_power_w: fac,
        energy_kwh_per_day: kwh_per_day(fac),
        energy_j_per_output_token: if tokens_per_s > 0.0 { fac / tokens_per_s } else { 0.0 },
        accelerator_mean_tdp_fraction: if jp.accelerators > 0.0 {
            accel_w / (jp.accelerators * jp.tdp_w)
        } else {
            0.0
        },
        pue: jp.pue,
        power_basis: basis(&jp, low, "while their instance steps"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(period: f64, hi: f64, lo: f64, duty: f64) -> Waveform {
        Waveform {
            period_s: period,
            pieces: vec![(0.0, period * duty, hi), (period * duty, period, lo)],
        }
    }

    #[test]
    fn waveform_statistics() {
        let w = square(2.0, 10.0, 4.0, 0.75);
        assert!((w.mean() - 8.5).abs() < 1e-12);
        assert_eq!(w.peak(), 10.0);
        assert_eq!(w.trough(), 4.0);
        assert_eq!(w.swing(), 6.0);
        let b = w.bins(8);
        assert!((b.iter().sum::<f64>() / 8.0 - 8.5).abs() < 1e-12);
        assert!(w.mean() <= w.peak());
    }

    #[test]
    fn ramp_envelope_limits_slope_and_burns_energy() {
        let w = square(10.0, 10.0, 0.0, 0.5).bins(1000);
        let dt = 0.01;
        // The low half (5–10 s) is filled by a fall from 10 W after 5 s and a rise to 10 W at
        // 10 s, both at 2 W/s, meeting at 7.5 s and 5 W: 2 × ∫₀^2.5 (10 − 2u) du = 2 × 18.75 J.
        let q = ramp_envelope(&w, dt, 2.0);
        for i in 0..q.len() {
            let d = (q[(i + 1) % q.len()] - q[i]).abs();
            assert!(d <= 2.0 * dt + 1e-9, "slope at {i}: {d}");
            assert!(q[i] >= w[i]);
        }
        let extra: f64 = q.iter().zip(&w).map(|(a, b)| (a - b) * dt).sum();
        assert!((extra - 37.5).abs() < 0.2, "{extra}");
        // A loose limit changes nothing.
        let q = ramp_envelope(&w, dt, 1e6);
        assert_eq!(q, w);
    }

    #[test]
    fn storage_caps_the_peak_down_to_the_mean() {
        let w = square(10.0, 10.0, 0.0, 0.5).bins(1000);
        let dt = 0.01;
        assert!((storage_cap(&w, dt, 0.0) - 10.0).abs() < 1e-9);
        // 5 s above the mean of 5 W by 5 W: 25 J holds the demand at the mean.
        assert!((storage_cap(&w, dt, 25.0) - 5.0).abs() < 1e-6);
        // 10 J: 5 s × (10 − g) ≤ 10 → g = 8.
        assert!((storage_cap(&w, dt, 10.0) - 8.0).abs() < 1e-3);
    }

    #[test]
    fn options_are_checked() {
        assert!(Load::new(0.0).is_err());
        assert!(Load::new(f64::NAN).is_err());
        assert!(Load::new(1.0).is_ok());
        let bad = PowerOptions {
            floor: Some(1.5),
            ..Default::default()
        };
        assert_eq!(bad.validate(), Err(PowerError::Floor(1.5)));
        let bad = PowerOptions {
            ramp_limit_w_per_s: Some(0.0),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = PowerOptions {
            rack_storage_j: Some(-1.0),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
