//! The symmetry shortcut (one pipeline stands for every identical data-parallel replica, its
//! sends pre-priced with every replica's flows at once) against the full simulation (every
//! replica's pipeline, every send a transfer on the fabric when it happens).

use fabricsim::train::{compute_model_for, simulate, TrainOptions};
use workload::{ParallelPlan, Precision, Recompute};

#[allow(clippy::too_many_arguments)]
fn step(cluster: &str, model: &str, tp: u32, pp: u32, dp: u32, vp: u32, gbs: u32, full: bool) -> f64 {
    let (_, f) = fabric::presets::build_preset(cluster).unwrap();
    let m = workload::registry::lookup(model).unwrap();
    let plan = ParallelPlan {
        tp,
        pp,
        dp,
        cp: 1,
        ep: 1,
        vp,
        mbs: 1,
        gbs,
        seq: 4096,
        zero: 1,
        recompute: Recompute::Selective,
        precision: Precision::Bf16,
        sequence_parallel: tp > 1,
        tp_comm_overlap: false,
        layers_per_stage: None,
        hsdp_shard: None,
    };
    let cm = compute_model_for(f.accel_model).unwrap();
    let opts = TrainOptions {
        fidelity: engine::Fidelity::Flow,
        allow_oom: true,
        full,
        in_network: collective::InNetwork::default(),
        moe_imbalance: 1.0,
        cross_site: Default::default(),
    };
    simulate(cluster, &f, &m, &plan, &cm, &opts).unwrap().step_time_s
}

#[test]
fn shortcut_matches_full_simulation_on_small_cases() {
    let cases = [
        ("dgx-h100-superpod:su=1", "llama-3.1-8b", 2, 2, 4, 1, 32),
        ("dgx-h100-superpod:su=1", "llama-3.1-8b", 8, 2, 8, 2, 64),
        ("fat-tree:gpus=256,oversub=4", "llama-3.1-8b", 4, 4, 16, 1, 128),
        ("rail-optimized:gpus=128", "llama-2-7b", 1, 4, 32, 1, 128),
    ];
    for (cluster, model, tp, pp, dp, vp, gbs) in cases {
        let sym = step(cluster, model, tp, pp, dp, vp, gbs, false);
        let full = step(cluster, model, tp, pp, dp, vp, gbs, true);
        let rel = (sym - full).abs() / full;
        eprintln!(
            "{cluster} {model} TP{tp} PP{pp} DP{dp} VP{vp}: shortcut {sym:.6} s, full {full:.6} s ({:.3} %)",
            rel * 100.0
        );
        assert!(rel < 0.01, "{cluster}: shortcut {sym} vs full {full}");
    }
}
