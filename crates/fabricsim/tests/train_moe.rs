//! MoE expert parallelism in a training step (train/moe.rs): DeepEP dispatch/combine priced on
//! the fabric, their overlap with computation, routing imbalance.

use engine::Fidelity;
use fabricsim::train::{self, TrainOptions, TrainReport};
use workload::{ParallelPlan, Precision, Recompute};

const CLUSTER: &str = "fat-tree:gpus=2048,node=hgx-h800";

fn plan() -> ParallelPlan {
    ParallelPlan {
        tp: 1,
        pp: 16,
        dp: 128,
        cp: 1,
        ep: 64,
        vp: 1,
        mbs: 1,
        gbs: 512,
        seq: 4096,
        zero: 1,
        recompute: Recompute::None,
        precision: Precision::Bf16,
        sequence_parallel: false,
        tp_comm_overlap: false,
        layers_per_stage: None,
        hsdp_shard: None,
    }
}

fn run(imbalance: f64, p: &ParallelPlan) -> TrainReport {
    let (_, f) = fabric::presets::build_preset(CLUSTER).unwrap();
    let m = workload::registry::get("deepseek-v3").unwrap();
    let cm = train::compute_model_for(f.accel_model).unwrap();
    let o = TrainOptions {
        allow_oom: true,
        moe_imbalance: imbalance,
        ..TrainOptions::new(Fidelity::Flow)
    };
    train::simulate(CLUSTER, &f, &m, p, &cm, &o).unwrap()
}

#[test]
fn dispatch_and_combine_are_deepep_kernels_on_the_fabric() {
    let r = run(1.0, &plan());
    let ep: Vec<_> = r.collectives.iter().filter(|c| c.dimension == "EP").collect();
    assert_eq!(ep.len(), 2, "dispatch and combine: {:?}", r.collectives);
    // BF16 training: 4096 tokens × top-8 × 2 × 7168 B per rank per kernel.
    assert_eq!(ep[0].size_bytes, 4096.0 * 8.0 * 14336.0);
    assert!(ep.iter().all(|c| c.algorithm == "deepep-normal" && c.time_s > 0.0));
    // The same dispatch as `collective --op moe_dispatch` on one EP group of 8 nodes alone
    // is no slower than all 32 groups together.
    let (_, f) = fabric::presets::build_preset(CLUSTER).unwrap();
    let mut s = collective::moe::MoeSpec::new(
        collective::moe::MoeOp::Dispatch,
        collective::moe::MoeKernel::Normal,
        4096,
        7168,
        8,
        256,
    );
    s.dtype = collective::moe::MoeDtype::Bf16;
    let one = collective::moe::run(&f, &[(0..64).collect()], &s, Fidelity::Flow).unwrap();
    assert!(
        one.time_s <= ep[0].time_s * (1.0 + 1e-9),
        "{} vs {}",
        one.time_s,
        ep[0].time_s
    );
    assert!(r.busiest_links.iter().any(|l| l.during == "EP"));
}

#[test]
fn imbalance_slows_the_hottest_rank() {
    let p = plan();
    let even = run(1.0, &p);
    let hot = run(2.0, &p);
    assert!(
        hot.step_time_s > even.step_time_s * 1.05,
        "{} vs {}",
        hot.step_time_s,
        even.step_time_s
    );
    assert!(hot.stages[5].compute_s > even.stages[5].compute_s * 1.1);
    // Model FLOPs do not change; MFU falls.
    assert_eq!(hot.model_flops_per_step, even.model_flops_per_step);
    assert!(hot.mfu < even.mfu);
    let t = |r: &TrainReport| r.collectives.iter().find(|c| c.dimension == "EP").unwrap().time_s;
    assert!(t(&hot) > t(&even) * 1.1);
}

#[test]
fn overlap_hides_most_of_the_all_to_all() {
    // 120 micro-batches: all but the 1F1B warm-up and cool-down passes are paired.
    let p = ParallelPlan { gbs: 15360, ..plan() };
    let r = run(1.0, &p);
    let ep_per_kernel: f64 = r
        .collectives
        .iter()
        .filter(|c| c.dimension == "EP")
        .map(|c| c.time_s)
        .sum();
    // Unhidden, a middle stage (4 MoE layers) would carry 2 passes × (dispatch + combine) per
    // layer and micro-batch.
    let m = (15360 / 128) as f64;
    let unhidden = 2.0 * ep_per_kernel * 4.0 * m;
    assert!(
        r.breakdown.ep_comm_s < 0.5 * unhidden,
        "{} vs {unhidden}",
        r.breakdown.ep_comm_s
    );
    assert!(r.breakdown.ep_comm_s > 0.0);
}

/// DeepSeek-V3's multi-token-prediction module runs after the output layer on the last stage:
/// a projection, one MoE layer (with its dispatch and combine) and the output head again. It adds
/// compute there and, with an even split, makes the last stage the slowest; model FLOPs (37B
/// active) do not count it.
#[test]
fn the_mtp_module_loads_the_last_stage() {
    let p = ParallelPlan { gbs: 2048, ..plan() };
    let with = run(1.0, &p);
    let (_, f) = fabric::presets::build_preset(CLUSTER).unwrap();
    let mut m = workload::registry::get("deepseek-v3").unwrap();
    assert_eq!(m.mtp_layers, 1);
    m.mtp_layers = 0;
    let cm = train::compute_model_for(f.accel_model).unwrap();
    let o = TrainOptions {
        allow_oom: true,
        ..TrainOptions::new(Fidelity::Flow)
    };
    let without = train::simulate(CLUSTER, &f, &m, &p, &cm, &o).unwrap();
    let last = |r: &TrainReport| r.stages[15].compute_s;
    assert!(
        last(&with) > last(&without) * 1.3,
        "{} vs {}",
        last(&with),
        last(&without)
    );
    assert!(with.stages[15].ep_comm_s > without.stages[15].ep_comm_s);
    for s in 0..15 {
        assert_eq!(with.stages[s].compute_s, without.stages[s].compute_s, "stage {s}");
    }
    assert_eq!(with.breakdown_stage, 15);
    assert_eq!(with.model_flops_per_step, without.model_flops_per_step);
}
