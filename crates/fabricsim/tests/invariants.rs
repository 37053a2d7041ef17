//! Physical invariants over random valid fabrics, groups, sizes and training plans, at both
//! fidelities (the robustness issue): no bus bandwidth above what a rank's links can carry (twice
//! that for in-network reduction, which halves what a rank sends), no collective faster than its
//! latency floor, analytical never slower than flow and equal to it where nothing is shared,
//! HFU ≤ 1 and MFU ≤ HFU, a step no shorter than its busiest stage's work, memory parts that sum.

use collective::simulate::{run_sizes, Options};
use collective::{Algo, Op};
use engine::Fidelity;
use fabric::Fabric;
use fabricsim::train::{self, TrainOptions};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use workload::{ParallelPlan, Precision, Recompute};

const FABRICS: &[&str] = &[
    "hgx:gpu=h100",
    "hgx:gpu=a100",
    "mi300x-node",
    "gaudi3-node",
    "gb200-nvl72",
    "fat-tree:gpus=32",
    "fat-tree:gpus=64,oversub=2",
    "rail-optimized:gpus=64",
    "rail-only:gpus=64",
    "tpu-v5e-pod:slice=4x4",
    "hpn7-pod:segments=1",
];

/// Fabrics are built once per process (they are immutable).
fn fabric(spec: &str) -> &'static Fabric {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static Fabric>>> = OnceLock::new();
    let m = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut g = m.lock().unwrap();
    g.entry(spec.to_string()).or_insert_with(|| {
        let (_, f) = fabric::presets::build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        Box::leak(Box::new(f))
    })
}

/// What one rank can inject: the sum of its accelerator's out-link capacities.
fn injection(f: &Fabric, acc: u32) -> f64 {
    let node = f.accels[acc as usize];
    f.out_links(node).map(|l| f.link(l).capacity.0).sum()
}

const OPS: &[Op] = &[
    Op::AllReduce,
    Op::AllGather,
    Op::ReduceScatter,
    Op::AllToAll,
    Op::Broadcast,
    Op::Reduce,
];

fn run(f: &Fabric, ranks: &[u32], op: Op, size: f64, fidelity: Fidelity) -> collective::simulate::CollectiveResult {
    let opts = Options {
        fidelity,
        ..Default::default()
    };
    run_sizes(f, ranks, op, &[size], None, opts)
        .unwrap_or_else(|e| panic!("{op:?} on {} ranks: {e}", ranks.len()))
        .remove(0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn collectives_stay_within_physics(
        fi in 0..FABRICS.len(),
        oi in 0..OPS.len(),
        n_frac in 0.0f64..1.0,
        log_size in 10u32..31,
    ) {
        let spec = FABRICS[fi];
        let f = fabric(spec);
        let total = f.accel_count().min(64) as u32;
        let n = 2 + ((total - 2) as f64 * n_frac) as u32;
        let ranks: Vec<u32> = (0..n).collect();
        let op = OPS[oi];
        let size = f64::from(1u32 << log_size);
        let flow = run(f, &ranks, op, size, Fidelity::Flow);
        let ana = run(f, &ranks, op, size, Fidelity::Analytical);
        let floor = collective::constants::base_lat(false, collective::constants::Protocol::Ll)
            .min(collective::constants::base_lat(true, collective::constants::Protocol::Ll));
        for r in [&flow, &ana] {
            let inject = ranks.iter().map(|&a| injection(f, a)).fold(f64::INFINITY, f64::min);
            let in_network = matches!(r.algo, Algo::Nvls | Algo::CollNet);
            let bound = inject * if in_network { 2.0 } else { 1.0 };
            prop_assert!(
                r.busbw_bytes_per_s <= bound * (1.0 + 1e-9),
                "{spec} {op:?} n={n} {size} B {:?}: busbw {:.3e} above {:.3e} ({:?})",
                r.algo, r.busbw_bytes_per_s, bound, r
            );
            prop_assert!(r.time_s >= floor * (1.0 - 1e-12), "{spec} {op:?}: {} s below the floor {floor}", r.time_s);
            prop_assert!(r.time_s.is_finite() && r.busbw_bytes_per_s.is_finite());
        }
        prop_assert!(
            ana.time_s <= flow.time_s * (1.0 + 1e-9),
            "{spec} {op:?} n={n} {size} B: analytical {} ({:?}) slower than flow {} ({:?})",
            ana.time_s, ana.algo, flow.time_s, flow.algo
        );
    }

    /// Inside one switched scale-up domain nothing is shared but each rank's own links, so the
    /// two fidelities agree (the closed forms of DESIGN.md) for every algorithm they both pick.
    #[test]
    fn fidelities_agree_where_nothing_is_shared(
        fi in 0..3usize,
        oi in 0..OPS.len(),
        log_size in 20u32..31,
    ) {
        let spec = ["hgx:gpu=h100", "hgx:gpu=a100", "gb200-nvl72"][fi];
        let f = fabric(spec);
        let ranks: Vec<u32> = (0..8).collect();
        let op = OPS[oi];
        let size = f64::from(1u32 << log_size);
        let flow = run(f, &ranks, op, size, Fidelity::Flow);
        let opts = Options { fidelity: Fidelity::Analytical, ..Default::default() };
        let ana = run_sizes(f, &ranks, op, &[size], Some(flow.algo), opts).unwrap().remove(0);
        let rel = (ana.time_s - flow.time_s).abs() / flow.time_s;
        prop_assert!(rel < 0.01, "{spec} {op:?} {:?} {size} B: analytical {} vs flow {}", flow.algo, ana.time_s, flow.time_s);
    }
}

const MODELS: &[&str] = &["llama-3.1-8b", "megatron-gpt-1.7b", "mixtral-8x7b", "llama-3.1-70b"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn training_steps_stay_within_physics(
        mi in 0..MODELS.len(),
        tp_log in 0u32..4,
        pp_log in 0u32..3,
        ep_log in 0u32..3,
        seq_log in 10u32..15,
        mbs in 1u32..3,
        m_per_stage in 1u32..4,
        zero in 0u8..4,
        ri in 0usize..3,
        fp8 in any::<bool>(),
        spec_i in 0usize..3,
    ) {
        let spec = ["fat-tree:gpus=64", "fat-tree:gpus=64,oversub=4", "rail-optimized:gpus=64"][spec_i];
        let f = fabric(spec);
        let model = workload::registry::lookup(MODELS[mi]).unwrap();
        let (tp, pp) = (1u32 << tp_log, 1u32 << pp_log);
        let ep = if model.moe.is_some() { 1u32 << ep_log } else { 1 };
        let dp = 64 / (tp * pp);
        prop_assume!(model.heads % tp == 0 && dp % ep == 0 && model.layers >= pp);
        let plan = ParallelPlan {
            tp, pp, dp, cp: 1, ep, vp: 1, mbs,
            gbs: dp * mbs * m_per_stage * pp,
            seq: 1 << seq_log,
            zero,
            recompute: [Recompute::None, Recompute::Selective, Recompute::Full][ri],
            precision: if fp8 { Precision::Fp8 } else { Precision::Bf16 },
            sequence_parallel: tp > 1,
            tp_comm_overlap: false,
            layers_per_stage: None,
            hsdp_shard: None,
        };
        let cm = train::compute_model_for(f.accel_model).unwrap();
        let mut steps = Vec::new();
        for fidelity in [Fidelity::Flow, Fidelity::Analytical] {
            let opts = TrainOptions { allow_oom: true, ..TrainOptions::new(fidelity) };
            let r = train::simulate(spec, f, &model, &plan, &cm, &opts).unwrap();
            prop_assert!(r.hfu <= 1.0 + 1e-9, "{plan:?}: HFU {}", r.hfu);
            prop_assert!(r.mfu <= r.hfu * (1.0 + 1e-9), "{plan:?}: MFU {} above HFU {}", r.mfu, r.hfu);
            prop_assert!(r.mfu > 0.0 && r.step_time_s.is_finite());
            let tl = r.timeline.as_ref().unwrap();
            let busiest = tl.busy.iter().copied().fold(0.0, f64::max);
            prop_assert!(r.step_time_s >= busiest * (1.0 - 1e-9), "{plan:?}: step {} below stage work {busiest}", r.step_time_s);
            let m = &r.memory;
            let sum = m.weights_bytes + m.gradients_bytes + m.optimizer_bytes + m.activations_bytes + m.buffers_bytes;
            prop_assert!((sum - m.total_bytes).abs() <= 1e-6 * m.total_bytes, "memory parts {sum} vs total {}", m.total_bytes);
            steps.push(r.step_time_s);
        }
        prop_assert!(steps[1] <= steps[0] * (1.0 + 1e-9), "{plan:?} on {spec}: analytical step {} slower than flow {}", steps[1], steps[0]);
    }
}
