//! The power and energy flags of `train` and `serve` (`fabricsim::power`).

use crate::UserError;
use fabricsim::power::PowerOptions;

/// Power options of `train`: PUE and the smoothing of the iteration's power swing.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrainPowerFlags {
    /// Power usage effectiveness for facility power and energy, 1.0–3.0 (default: topo's, 1.3).
    #[arg(long)]
    pub pue: Option<f64>,
    /// Hold the accelerators at this fraction of TDP whenever they are not computing (0–1;
    /// e.g. 0.3): the power swing shrinks, the average rises. Reported with its effect.
    #[arg(long = "power-floor")]
    pub power_floor: Option<f64>,
    /// Limit how fast the job's IT power may change, MW per second: reports the energy burned
    /// (power held up before and after the compute phases) to respect it.
    #[arg(long = "ramp-limit-mw-s")]
    pub ramp_limit_mw_s: Option<f64>,
    /// Energy storage per compute rack, kJ, absorbing the swing: reports the peak grid demand
    /// it cuts (next to GB300 NVL72's published up to 30 %).
    #[arg(long = "rack-storage-kj")]
    pub rack_storage_kj: Option<f64>,
}

/// Power options of `serve`: PUE and the power floor.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServePowerFlags {
    /// Power usage effectiveness for facility power and energy, 1.0–3.0 (default: topo's, 1.3).
    #[arg(long)]
    pub pue: Option<f64>,
    /// Hold the accelerators at this fraction of TDP whenever they are not stepping (0–1).
    #[arg(long = "power-floor")]
    pub power_floor: Option<f64>,
}

fn pue(p: Option<f64>) -> Result<Option<fabricsim::topo::Pue>, UserError> {
    p.map(fabricsim::topo::Pue::new)
        .transpose()
        .map_err(|e| UserError(format!("--pue: {e}")))
}

/// Name the flag a range error comes from.
fn checked(o: PowerOptions) -> Result<PowerOptions, UserError> {
    o.validate().map_err(|e| {
        let flag = match e {
            fabricsim::power::PowerError::Floor(_) => "--power-floor",
            fabricsim::power::PowerError::Ramp(_) => "--ramp-limit-mw-s",
            fabricsim::power::PowerError::Storage(_) => "--rack-storage-kj",
            _ => "power",
        };
        UserError(format!("{flag}: {e}"))
    })?;
    Ok(o)
}

impl TrainPowerFlags {
    pub fn options(&self) -> Result<PowerOptions, UserError> {
        checked(PowerOptions {
            pue: pue(self.pue)?,
            floor: self.power_floor,
            ramp_limit_w_per_s: self.ramp_limit_mw_s.map(|x| x * 1e6),
            rack_storage_j: self.rack_storage_kj.map(|x| x * 1e3),
        })
    }
}

impl ServePowerFlags {
    pub fn options(&self) -> Result<PowerOptions, UserError> {
        checked(PowerOptions {
            pue: pue(self.pue)?,
            floor: self.power_floor,
            ..Default::default()
        })
    }
}

/// The text report's energy lines of `train`.
pub fn render_train(e: &fabricsim::power::TrainEnergy) -> String {
    use std::fmt::Write;
    use units::si;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "energy   IT {} mean (peak {}, trough {}) · facility {} (PUE {:.2}) · {:.0} kWh/day · {:.3} J per token · accelerators average {:.2} × TDP",
        si(e.it_power_w, "W"),
        si(e.it_power_peak_w, "W"),
        si(e.it_power_trough_w, "W"),
        si(e.facility_power_w, "W"),
        e.pue,
        e.energy_kwh_per_day,
        e.energy_j_per_token,
        e.accelerator_mean_tdp_fraction
    );
    let _ = writeln!(
        s,
        "  power swing {} every {} (one step: compute phases vs communication and bubbles)",
        si(e.power_swing_w, "W"),
        si(e.power_swing_period_s, "s")
    );
    if let (Some(lo), Some(hi)) = (e.power_levels.first(), e.power_levels.last()) {
        let _ = writeln!(
            s,
            "  waveform: {} stage(s) computing {} for {} per step … {} stage(s) computing {} for {} ({} levels)",
            hi.stages_computing,
            si(hi.it_power_w, "W"),
            si(hi.time_s, "s"),
            lo.stages_computing,
            si(lo.it_power_w, "W"),
            si(lo.time_s, "s"),
            e.power_levels.len()
        );
    }
    let sm = &e.power_smoothing;
    if let Some(f) = &sm.power_floor {
        let _ = writeln!(
            s,
            "  power floor {:.2} × TDP: swing {} → {}, mean IT {} → {} (+{:.0} kWh/day)",
            f.floor_tdp_fraction,
            si(f.power_swing_before_w, "W"),
            si(f.power_swing_w, "W"),
            si(f.it_power_before_w, "W"),
            si(f.it_power_w, "W"),
            f.extra_energy_kwh_per_day
        );
    }
    if let Some(r) = &sm.ramp_limit {
        let _ = writeln!(
            s,
            "  ramp limit {}/s: {} burned per step to respect it (+{} facility, +{:.0} kWh/day); swing {}",
            si(r.ramp_limit_w_per_s, "W"),
            si(r.extra_energy_j_per_step, "J"),
            si(r.extra_facility_power_w, "W"),
            r.extra_energy_kwh_per_day,
            si(r.power_swing_w, "W")
        );
    }
    if let Some(st) = &sm.rack_storage {
        let _ = writeln!(
            s,
            "  rack storage {} × {:.1} racks: peak grid demand {} → {} (−{:.1} %; GB300 NVL72 published: up to {:.0} %)",
            si(st.storage_j_per_rack, "J"),
            st.compute_racks,
            si(st.peak_grid_demand_before_w, "W"),
            si(st.peak_grid_demand_w, "W"),
            st.peak_reduction_fraction * 100.0,
            st.published_gb300_peak_reduction_fraction * 100.0
        );
    }
    let _ = writeln!(s, "  power basis: {}", e.power_basis);
    s
}

/// The text report's energy line of `serve`.
pub fn render_serve(e: &fabricsim::power::ServeEnergy) -> String {
    use units::si;
    format!(
        "energy (all-in): IT {} · facility {} (PUE {:.2}) · {:.0} kWh/day · {:.3} J per output token · accelerators average {:.2} × TDP\n  power basis: {}\n",
        si(e.it_power_w, "W"),
        si(e.facility_power_w, "W"),
        e.pue,
        e.energy_kwh_per_day,
        e.energy_j_per_output_token,
        e.accelerator_mean_tdp_fraction,
        e.power_basis
    )
}
