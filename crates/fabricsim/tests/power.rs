//! Power and energy (`fabricsim::power`) against the published figures of operations.md
//! "Power" (rows O053–O065) and the properties a wrong model would break: mean ≤ peak, the
//! power floor raising the mean and cutting the swing, ramp limits and storage, determinism.

use engine::Fidelity;
use fabric::catalogue::power::{
    ACCEL_COMPUTE_TDP_FRACTION, ACCEL_LOW_TDP_FRACTION, GB200_SU_TDP_W, META_GB200_FACILITY_W_PER_GPU,
    SEED_KWH_PER_DAY_PER_100K_CARDS,
};
use fabric::Fabric;
use fabricsim::power::{self, Load, PowerOptions};
use fabricsim::topo::{self, Pue, TopoOptions, TopoReport};
use fabricsim::train::{self, TrainOptions, TrainReport};
use workload::{ParallelPlan, Precision, Recompute};

fn cluster(spec: &str) -> (fabric::topology::clos::ClusterSpec, Fabric) {
    fabricsim::cluster::load(fabricsim::cluster::Source::Preset(spec)).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn topo_at(spec: &str, load: f64, pue: Option<f64>) -> TopoReport {
    let (cs, f) = cluster(spec);
    let opts = TopoOptions {
        pue: pue.map(|p| Pue::new(p).unwrap()),
    };
    topo::report_at(&cs, &f, &opts, Some(Load::new(load).unwrap()))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b
}

/// NVIDIA: "Each SU requires a TDP of 1.2 MW" — IT power at nameplate (load 1.0) of one
/// scalable unit of 8 GB200 NVL72 racks, within the 10 %.
#[test]
fn gb200_scalable_unit_is_within_10_percent_of_1_2_mw() {
    let r = topo_at("gb200-superpod:racks=8", 1.0, None);
    assert_eq!(r.accelerators.count, 576);
    assert_eq!(r.it_power_at_load_w, r.it_power_w, "load 1.0 is nameplate");
    let e = rel(r.it_power_at_load_w, GB200_SU_TDP_W);
    assert!(
        e <= 0.10,
        "SU IT {} W vs 1.2 MW: {:.1} %",
        r.it_power_at_load_w,
        e * 100.0
    );
}

/// Meta: 150 MW of site power for ~83k GB200 (~1.81 kW per GPU, facility, at site capacity).
/// The site must supply the training peak — every accelerator in its compute phase — at a
/// hyperscale PUE (1.1, the low end of operations.md's 1.1–1.3): within the issue's ±15 %.
#[test]
fn gb200_all_in_per_gpu_is_within_15_percent_of_meta() {
    let r = topo_at(
        "fat-tree:gpus=82944,node=gb200-nvl72",
        ACCEL_COMPUTE_TDP_FRACTION,
        Some(1.1),
    );
    let per_gpu = r.facility_power_at_load_w / r.accelerators.count as f64;
    let e = rel(per_gpu, META_GB200_FACILITY_W_PER_GPU);
    assert!(
        e <= 0.15,
        "GB200 all-in {per_gpu:.0} W/GPU vs 1.81 kW: {:.1} %",
        e * 100.0
    );
}

/// ~3 M kWh/day per 100k cards (O065, low confidence): 100k H100 at the default load and PUE
/// land within a loose band of it (the issue asks for the figure next to it, not a band); 100k
/// GB200 draw more than 100k H100.
#[test]
fn hundred_thousand_cards_per_day() {
    let h = topo_at("fat-tree:gpus=100000", 0.8, None);
    let g = topo_at("fat-tree:gpus=100008,node=gb200-nvl72", 0.8, None);
    let ratio = h.energy_kwh_per_day / SEED_KWH_PER_DAY_PER_100K_CARDS;
    assert!(
        (0.8..=1.5).contains(&ratio),
        "100k H100: {} kWh/day",
        h.energy_kwh_per_day
    );
    assert!(g.energy_kwh_per_day > h.energy_kwh_per_day);
    // kWh/day is the facility power over 24 h.
    assert!((h.energy_kwh_per_day - h.facility_power_at_load_w * 24.0 / 1000.0).abs() < 1e-6 * h.energy_kwh_per_day);
    // The load moves only the accelerators' share.
    let h1 = topo_at("fat-tree:gpus=100000", 1.0, None);
    assert!((h1.it_power_at_load_w - h1.it_power_w).abs() < 1e-6 * h1.it_power_w);
    assert!(h.it_power_at_load_w < h1.it_power_at_load_w);
}

/// Llama 3.1 405B on 16,384 H100 as Meta ran it (TP 8, PP 16, DP 128, 16 M-token batches of
/// 8k sequences), interleaved.
fn llama_405b_16k() -> (Fabric, TrainReport) {
    let spec = "fat-tree:gpus=16384";
    let (_, f) = cluster(spec);
    let m = workload::registry::lookup("llama-3.1-405b").expect("model");
    let p = ParallelPlan {
        tp: 8,
        pp: 16,
        dp: 128,
        cp: 1,
        ep: 1,
        vp: 4,
        mbs: 1,
        gbs: 2048,
        seq: 8192,
        zero: 1,
        recompute: Recompute::Full,
        precision: Precision::Bf16,
        sequence_parallel: true,
        tp_comm_overlap: false,
        layers_per_stage: None,
        hsdp_shard: None,
    };
    let cm = train::compute_model_for(f.accel_model).expect("compute model");
    let o = TrainOptions {
        allow_oom: true,
        ..TrainOptions::new(Fidelity::Analytical)
    };
    let r = train::simulate(spec, &f, &m, &p, &cm, &o).expect("simulate");
    (f, r)
}

#[test]
fn training_power_swing_of_a_16k_gpu_llama_405b_job() {
    let (f, r) = llama_405b_16k();
    let e = power::train_energy(&r, &f, &PowerOptions::default()).unwrap();
    // Synchronous training: at some instant every stage computes, at another none does (the
    // gradient sync), so the swing is every accelerator's phase difference: 16,384 × 700 W ×
    // (0.925 − 0.225) ≈ 8.0 MW, once per step.
    let full = 16384.0 * 700.0 * (ACCEL_COMPUTE_TDP_FRACTION - ACCEL_LOW_TDP_FRACTION);
    assert!(e.power_swing_w <= full * (1.0 + 1e-9), "{}", e.power_swing_w);
    assert!(e.power_swing_w >= 0.5 * full, "{}", e.power_swing_w);
    assert!((5e6..=9e6).contains(&e.power_swing_w), "{}", e.power_swing_w);
    assert_eq!(e.power_swing_period_s, r.step_time_s);
    assert!(e.it_power_trough_w <= e.it_power_w && e.it_power_w <= e.it_power_peak_w);
    assert!((e.it_power_peak_w - e.it_power_trough_w - e.power_swing_w).abs() < 1.0);
    assert!(e.accelerator_mean_tdp_fraction > ACCEL_LOW_TDP_FRACTION);
    assert!(e.accelerator_mean_tdp_fraction < ACCEL_COMPUTE_TDP_FRACTION);
    // Facility = IT × PUE; kWh/day and J/token follow from it.
    assert!((e.facility_power_w - e.it_power_w * e.pue).abs() < 1e-6 * e.facility_power_w);
    assert!((e.energy_j_per_token - e.facility_power_w * r.step_time_s / r.tokens_per_step).abs() < 1e-9);
    assert!(e.power_smoothing.power_floor.is_none() && e.power_smoothing.ramp_limit.is_none());
    // The levels add up to the step and span the peak and the trough.
    let t: f64 = e.power_levels.iter().map(|l| l.time_s).sum();
    assert!((t - r.step_time_s).abs() < 1e-9 * r.step_time_s);
    let hi = e.power_levels.iter().map(|l| l.it_power_w).fold(0.0, f64::max);
    assert_eq!(hi, e.it_power_peak_w);
    assert_eq!(e.power_levels.last().unwrap().stages_computing, 16);
    assert_eq!(e.power_levels[0].it_power_w, e.it_power_trough_w);
}

#[test]
fn smoothing_effects() {
    let (f, r) = llama_405b_16k();
    let base = power::train_energy(&r, &f, &PowerOptions::default()).unwrap();
    let floored = power::train_energy(
        &r,
        &f,
        &PowerOptions {
            floor: Some(0.3),
            ..Default::default()
        },
    )
    .unwrap();
    // The floor raises the average and cuts the swing.
    assert!(floored.it_power_w > base.it_power_w);
    assert!(floored.power_swing_w < base.power_swing_w);
    let fe = floored.power_smoothing.power_floor.as_ref().unwrap();
    assert_eq!(fe.it_power_before_w, base.it_power_w);
    assert!(fe.extra_energy_kwh_per_day > 0.0);
    // A floor below the low phase changes nothing.
    let low = power::train_energy(
        &r,
        &f,
        &PowerOptions {
            floor: Some(0.1),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(low.it_power_w, base.it_power_w);
    // A ramp limit burns energy and narrows the swing; a tighter one burns more.
    let ramp = |mw_s: f64| {
        power::train_energy(
            &r,
            &f,
            &PowerOptions {
                ramp_limit_w_per_s: Some(mw_s * 1e6),
                ..Default::default()
            },
        )
        .unwrap()
        .power_smoothing
        .ramp_limit
        .unwrap()
    };
    let (loose, tight) = (ramp(10.0), ramp(1.0));
    assert!(tight.extra_energy_j_per_step > loose.extra_energy_j_per_step);
    assert!(loose.extra_energy_j_per_step > 0.0);
    assert!(tight.power_swing_w < base.power_swing_w);
    // Storage cuts the peak grid demand, more storage more; never below the mean.
    let store = |kj: f64| {
        power::train_energy(
            &r,
            &f,
            &PowerOptions {
                rack_storage_j: Some(kj * 1e3),
                ..Default::default()
            },
        )
        .unwrap()
        .power_smoothing
        .rack_storage
        .unwrap()
    };
    let (small, big) = (store(1.0), store(10.0));
    assert!(small.peak_reduction_fraction > 0.0);
    assert!(big.peak_reduction_fraction > small.peak_reduction_fraction);
    // Enough storage holds the grid at the mean, never below it.
    let ample = store(1000.0);
    assert!(ample.peak_grid_demand_w >= base.it_power_w * (1.0 - 1e-9));
    assert!(ample.peak_grid_demand_w <= base.it_power_w * (1.0 + 1e-3));
    assert_eq!(store(0.0).peak_reduction_fraction, 0.0);
}

#[test]
fn energy_is_deterministic() {
    let (f, r) = llama_405b_16k();
    let o = PowerOptions {
        floor: Some(0.3),
        ramp_limit_w_per_s: Some(2e6),
        rack_storage_j: Some(1e6),
        pue: None,
    };
    let a = serde_json::to_string(&power::train_energy(&r, &f, &o).unwrap()).unwrap();
    let b = serde_json::to_string(&power::train_energy(&r, &f, &o).unwrap()).unwrap();
    assert_eq!(a, b);
    let (f2, r2) = llama_405b_16k();
    let c = serde_json::to_string(&power::train_energy(&r2, &f2, &o).unwrap()).unwrap();
    assert_eq!(a, c);
}
