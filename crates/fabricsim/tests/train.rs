//! `fabricsim train` as a library: accounting identities, scaling and schedule properties that
//! a wrong model would break (weak scaling, bubbles, fidelity and oversubscription orderings),
//! MoE / CP / ZeRO-3 plans, and accuracy against the published training runs.

use engine::Fidelity;
use fabric::Fabric;
use fabricsim::train::{self, TrainOptions, TrainReport};
use workload::{ModelSpec, ParallelPlan, Precision, Recompute};

fn cluster(spec: &str) -> Fabric {
    fabricsim::cluster::load(fabricsim::cluster::Source::Preset(spec))
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
        .1
}

fn model(name: &str) -> ModelSpec {
    workload::registry::lookup(name).unwrap_or_else(|| panic!("no model {name}"))
}

/// A plan with the defaults of the CLI (ZeRO-1, selective recompute, BF16, SP when TP > 1).
fn plan(tp: u32, pp: u32, dp: u32, gbs: u32, seq: u64) -> ParallelPlan {
    ParallelPlan {
        tp,
        pp,
        dp,
        cp: 1,
        ep: 1,
        vp: 1,
        mbs: 1,
        gbs,
        seq,
        zero: 1,
        recompute: Recompute::Selective,
        precision: Precision::Bf16,
        sequence_parallel: tp > 1,
        tp_comm_overlap: false,
        layers_per_stage: None,
        hsdp_shard: None,
    }
}

fn opts(fidelity: Fidelity) -> TrainOptions {
    TrainOptions {
        fidelity,
        allow_oom: true,
        full: false,
        in_network: collective::InNetwork::default(),
        moe_imbalance: 1.0,
        cross_site: Default::default(),
    }
}

fn sim_with(spec: &str, m: &ModelSpec, p: &ParallelPlan, fidelity: Fidelity) -> TrainReport {
    let f = cluster(spec);
    let cm = train::compute_model_for(f.accel_model).expect("compute model");
    train::simulate(spec, &f, m, p, &cm, &opts(fidelity)).unwrap_or_else(|e| panic!("{spec} {p:?}: {e}"))
}

fn sim(spec: &str, m: &ModelSpec, p: &ParallelPlan) -> TrainReport {
    sim_with(spec, m, p, Fidelity::Flow)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn bubble_share(r: &TrainReport) -> f64 {
    r.breakdown.pipeline_bubble_s / r.step_time_s
}

/// Every number in the report is finite and in range.
fn sane(r: &TrainReport) {
    let b = &r.breakdown;
    assert!(
        r.step_time_s.is_finite() && r.step_time_s > 0.0,
        "step {}",
        r.step_time_s
    );
    for (name, v) in [
        ("compute", b.compute_s),
        ("recompute", b.recompute_s),
        ("tp", b.tp_comm_s),
        ("cp", b.cp_comm_s),
        ("ep", b.ep_comm_s),
        ("pp", b.pp_comm_s),
        ("bubble", b.pipeline_bubble_s),
        ("dp", b.dp_comm_s),
        ("optimizer", b.optimizer_s),
    ] {
        assert!(v.is_finite() && v >= 0.0, "{name}: {v}");
        assert!(v <= r.step_time_s * (1.0 + 1e-9), "{name} {v} > step {}", r.step_time_s);
    }
    assert!(r.mfu > 0.0 && r.mfu < 1.0, "mfu {}", r.mfu);
    assert!(r.hfu >= r.mfu && r.hfu < 1.0, "hfu {} mfu {}", r.hfu, r.mfu);
    assert!(r.memory_bytes_per_accel > 0.0);
    assert_eq!(r.fits, r.memory.total_bytes <= r.memory.capacity_bytes);
    for l in &r.busiest_links {
        assert!(
            l.utilisation.is_finite() && l.utilisation > 0.0,
            "{}: {}",
            l.name,
            l.utilisation
        );
    }
}

/// (a) MFU = model FLOPs / (step · world · peak); tokens/s = GBS · seq / step; the per-accelerator
/// figures divide by the world; the model FLOPs are 6·N per token plus attention.
#[test]
fn accounting_identities() {
    let cases: Vec<(&str, ModelSpec, ParallelPlan)> = vec![
        (
            "dgx-h100-superpod:su=4",
            model("llama-3.1-70b"),
            plan(8, 4, 31, 992, 8192),
        ),
        ("fat-tree:gpus=64", model("llama-3.1-8b"), plan(2, 1, 32, 256, 4096)),
        ("hgx:gpu=a100", model("llama-3.1-8b"), plan(8, 1, 1, 8, 4096)),
        ("fat-tree:gpus=128", model("gpt-3-175b"), {
            let mut p = plan(8, 8, 2, 64, 2048);
            p.recompute = Recompute::Full;
            p
        }),
    ];
    for (spec, m, p) in &cases {
        let r = sim(spec, m, p);
        sane(&r);
        let world = p.world() as f64;
        assert_eq!(r.plan.accelerators_used, p.world());
        let f = cluster(spec);
        let peak = train::compute_model_for(f.accel_model).unwrap().accel.peak_bf16;
        let mfu = r.model_flops_per_step / (r.step_time_s * world * peak);
        assert!(rel(r.mfu, mfu) < 1e-9, "{spec}: mfu {} vs {mfu}", r.mfu);
        let tokens = p.gbs as f64 * p.seq as f64;
        assert!(rel(r.tokens_per_step, tokens) < 1e-12);
        assert!(rel(r.tokens_per_s, tokens / r.step_time_s) < 1e-9, "{spec}");
        assert!(rel(r.tokens_per_s_per_accel, tokens / r.step_time_s / world) < 1e-9);
        assert!(rel(r.model_tflops_per_accel, r.mfu * peak / 1e12) < 1e-9);
        assert!(rel(r.hardware_tflops_per_accel / r.model_tflops_per_accel, r.hfu / r.mfu) < 1e-9);
        // Model FLOPs per token: at least 6 × the non-embedding active parameters, at most
        // 6 × all active parameters plus the causal attention score FLOPs 6·l·h·s.
        let per_token = r.model_flops_per_step / tokens;
        let lo = 6.0 * m.active_non_embedding_params();
        let hi = 6.0 * m.active_params() + 6.0 * m.layers as f64 * m.hidden as f64 * p.seq as f64;
        assert!(
            per_token >= lo && per_token <= hi,
            "{spec}: {per_token:e} outside [{lo:e}, {hi:e}]"
        );
        // Full recompute repeats the whole forward: HFU/MFU about 4/3; selective a little above 1.
        let ratio = r.hfu / r.mfu;
        match p.recompute {
            Recompute::Full => assert!(ratio > 1.25 && ratio < 1.34, "{spec}: hfu/mfu {ratio}"),
            Recompute::Selective => assert!(ratio > 1.0 && ratio < 1.1, "{spec}: hfu/mfu {ratio}"),
            // FlashAttention's backward recomputes the scores: executed FLOPs a little above.
            Recompute::None => assert!((1.0..1.05).contains(&ratio), "{spec}: hfu/mfu {ratio}"),
        }
    }
}

/// The breakdown accounts for the slowest stage's whole step: its lines add up to the step time
/// (with PP = 1 the stage holds the embedding and output layer too).
#[test]
fn breakdown_adds_up_to_the_step() {
    for (spec, m, p) in [
        (
            "dgx-h100-superpod:su=4",
            model("llama-3.1-70b"),
            plan(8, 4, 31, 992, 8192),
        ),
        ("fat-tree:gpus=64", model("llama-3.1-8b"), plan(2, 1, 32, 256, 4096)),
    ] {
        let r = sim(spec, &m, &p);
        let b = &r.breakdown;
        let sum = b.compute_s
            + b.recompute_s
            + b.tp_comm_s
            + b.cp_comm_s
            + b.ep_comm_s
            + b.pp_comm_s
            + b.pipeline_bubble_s
            + b.dp_comm_s
            + b.optimizer_s;
        assert!(
            rel(sum, r.step_time_s) < 0.01,
            "{spec} pp {}: breakdown sums to {sum} of a {} s step",
            p.pp,
            r.step_time_s
        );
    }
}

/// (b) Weak scaling: doubling DP and the global batch keeps the step time (each replica does the
/// same work; ring all-reduce time grows only as 2(n−1)/n). Analytical fidelity: within 1 %.
/// Flow fidelity on a non-blocking fat-tree: within 5 % (static ECMP hashing collides some
/// flows on leaf up-links, differently for each DP size).
#[test]
fn weak_scaling_on_a_non_blocking_fat_tree() {
    let m = model("llama-3.1-8b");
    for (fidelity, tol) in [(Fidelity::Analytical, 0.01), (Fidelity::Flow, 0.05)] {
        let mut prev: Option<(u32, f64)> = None;
        for dp in [8u32, 16, 32, 64] {
            let p = plan(8, 2, dp, 8 * dp, 4096);
            let r = sim_with("fat-tree:gpus=1024", &m, &p, fidelity);
            sane(&r);
            assert_eq!(r.plan.microbatches, 8);
            if let Some((pdp, pstep)) = prev {
                assert!(
                    rel(r.step_time_s, pstep) < tol,
                    "{fidelity:?}: DP {pdp} → {dp}: step {pstep} → {}",
                    r.step_time_s
                );
            }
            prev = Some((dp, r.step_time_s));
        }
    }
}

/// (c) More micro-batches shrink the bubble share; interleaving (VP 2) shrinks it against VP 1 at
/// the same micro-batch count, and roughly halves the bubble time.
#[test]
fn bubble_shrinks_with_microbatches_and_interleaving() {
    let m = model("llama-3.1-8b");
    let spec = "fat-tree:gpus=64";
    let mut prev = f64::INFINITY;
    for mb in [4u32, 8, 16, 32] {
        let p = plan(8, 4, 2, 2 * mb, 4096);
        let r = sim(spec, &m, &p);
        sane(&r);
        assert_eq!(r.plan.microbatches, mb);
        let share = bubble_share(&r);
        assert!(share > 0.0, "m {mb}: no bubble with PP 4");
        assert!(share < prev, "m {mb}: bubble share {share} not below {prev}");
        prev = share;
    }
    for mb in [8u32, 16] {
        let p1 = plan(8, 4, 2, 2 * mb, 4096);
        let mut p2 = p1.clone();
        p2.vp = 2;
        let (r1, r2) = (sim(spec, &m, &p1), sim(spec, &m, &p2));
        sane(&r2);
        assert!(r2.plan.schedule.contains("interleaved"), "{}", r2.plan.schedule);
        assert!(
            bubble_share(&r2) < bubble_share(&r1),
            "m {mb}: vp 2 bubble share {} vs vp 1 {}",
            bubble_share(&r2),
            bubble_share(&r1)
        );
        assert!(r2.step_time_s < r1.step_time_s, "m {mb}");
    }
    // With balanced stages (small vocabulary, 16 layers a stage, so the output layer on the last
    // stage adds little) the bubble time follows Megatron's (p − 1)(tf + tb)/v: VP 2 about halves
    // it. (Llama 3.1 8B's 128k-vocabulary output layer makes the last stage ~30 % slower, and
    // that imbalance idles the first stage whatever the interleaving.)
    let g = ModelSpec::gpt("balanced-gpt", 64, 4096, 32, 51200, 4096);
    for mb in [8u32, 16] {
        let p1 = plan(8, 4, 2, 2 * mb, 4096);
        let mut p2 = p1.clone();
        p2.vp = 2;
        let (r1, r2) = (sim(spec, &g, &p1), sim(spec, &g, &p2));
        let ratio = r2.breakdown.pipeline_bubble_s / r1.breakdown.pipeline_bubble_s;
        assert!(ratio > 0.4 && ratio < 0.65, "m {mb}: bubble vp2/vp1 = {ratio}");
        // 1F1B bubble against the closed form (p − 1)/(m + p − 1) of the compute, within 3 points.
        let work = r1.step_time_s - r1.breakdown.pipeline_bubble_s;
        let expect = 3.0 / (mb as f64 + 3.0) * (work + r1.breakdown.pipeline_bubble_s);
        let got = r1.breakdown.pipeline_bubble_s;
        assert!(
            (got - expect).abs() / r1.step_time_s < 0.03,
            "m {mb}: bubble {got} vs closed form {expect}"
        );
    }
}

/// (d) Flow fidelity (contention) is never faster than analytical (no contention).
#[test]
fn flow_is_never_faster_than_analytical() {
    let mut moe = plan(2, 1, 32, 256, 4096);
    moe.ep = 8;
    let mut cp = plan(2, 1, 16, 128, 8192);
    cp.cp = 2;
    for (spec, m, p) in [
        (
            "dgx-h100-superpod:su=1",
            model("llama-3.1-70b"),
            plan(8, 4, 7, 56, 8192),
        ),
        ("fat-tree:gpus=1024", model("llama-3.1-8b"), plan(8, 2, 64, 512, 4096)),
        (
            "fat-tree:gpus=1024,oversub=7",
            model("llama-3.1-8b"),
            plan(4, 1, 256, 512, 4096),
        ),
        ("fat-tree:gpus=64", model("mixtral-8x7b"), moe),
        ("fat-tree:gpus=64", model("llama-3.1-8b"), cp),
        (
            "rail-optimized:gpus=256",
            model("llama-3.1-70b"),
            plan(8, 8, 4, 64, 4096),
        ),
    ] {
        let fl = sim_with(spec, &m, &p, Fidelity::Flow);
        let an = sim_with(spec, &m, &p, Fidelity::Analytical);
        sane(&fl);
        sane(&an);
        assert_eq!(fl.fidelity, "flow");
        assert_eq!(an.fidelity, "analytical");
        assert!(
            fl.step_time_s >= an.step_time_s * (1.0 - 1e-9),
            "{spec} {}: flow {} < analytical {}",
            m.name,
            fl.step_time_s,
            an.step_time_s
        );
    }
}

/// (e) A 1:7 oversubscribed fat-tree never gives a shorter step than a non-blocking one when the
/// data-parallel groups cross the leaf tier; it is strictly slower when DP dominates.
#[test]
fn oversubscription_never_helps() {
    let m = model("llama-3.1-8b");
    let mut strictly = false;
    for p in [
        plan(8, 2, 64, 512, 4096),
        plan(8, 1, 128, 1024, 4096),
        plan(4, 1, 256, 512, 4096),
        plan(1, 1, 1024, 1024, 4096),
    ] {
        for fidelity in [Fidelity::Flow, Fidelity::Analytical] {
            let a = sim_with("fat-tree:gpus=1024,oversub=1", &m, &p, fidelity);
            let b = sim_with("fat-tree:gpus=1024,oversub=7", &m, &p, fidelity);
            sane(&a);
            sane(&b);
            assert!(
                b.step_time_s >= a.step_time_s * (1.0 - 1e-9),
                "{fidelity:?} TP {} DP {}: oversub 7 {} < oversub 1 {}",
                p.tp,
                p.dp,
                b.step_time_s,
                a.step_time_s
            );
            if fidelity == Fidelity::Flow && b.step_time_s > a.step_time_s * 1.05 {
                strictly = true;
            }
        }
    }
    assert!(strictly, "oversubscription 1:7 never slowed a DP-heavy plan by 5 %");
}

/// (f) MoE with expert parallelism reports exposed all-to-all time; CP and ZeRO-3 plans run,
/// ZeRO-3 holds less memory than ZeRO-1.
#[test]
fn moe_cp_and_zero3_plans() {
    let mix = model("mixtral-8x7b");
    assert!(mix.is_moe());
    let mut p = plan(2, 1, 32, 256, 4096);
    p.ep = 8;
    let r = sim("fat-tree:gpus=64", &mix, &p);
    sane(&r);
    assert_eq!(r.plan.ep, 8);
    assert!(r.breakdown.ep_comm_s > 0.0, "no exposed EP comm: {:?}", r.breakdown);
    assert!(
        r.busiest_links.iter().any(|l| l.during == "EP"),
        "{:?}",
        r.busiest_links
    );
    assert!(r.model_active_params < r.model_params);
    // EP = 1 on the same MoE model: no all-to-all.
    let mut p1 = p.clone();
    p1.ep = 1;
    let r1 = sim("fat-tree:gpus=64", &mix, &p1);
    assert_eq!(r1.breakdown.ep_comm_s, 0.0);
    // EP shards the experts: less memory per accelerator.
    assert!(r.memory.weights_bytes < r1.memory.weights_bytes);

    // Context parallelism.
    let l8 = model("llama-3.1-8b");
    let mut c = plan(2, 1, 16, 128, 8192);
    c.cp = 2;
    let rc = sim("fat-tree:gpus=64", &l8, &c);
    sane(&rc);
    assert_eq!(rc.plan.cp, 2);
    assert_eq!(rc.plan.accelerators_used, 64);
    let c1 = plan(2, 1, 16, 128, 8192);
    let rc1 = sim("fat-tree:gpus=64", &l8, &c1);
    assert!(
        rc.memory.activations_bytes < rc1.memory.activations_bytes,
        "CP 2 activations {} vs CP 1 {}",
        rc.memory.activations_bytes,
        rc1.memory.activations_bytes
    );

    // ZeRO-3 against ZeRO-1 on the same plan.
    let l70 = model("llama-3.1-70b");
    let mut z1 = plan(8, 1, 16, 128, 4096);
    z1.zero = 1;
    let mut z3 = z1.clone();
    z3.zero = 3;
    let (r1, r3) = (sim("fat-tree:gpus=128", &l70, &z1), sim("fat-tree:gpus=128", &l70, &z3));
    sane(&r3);
    assert_eq!(r3.plan.zero, 3);
    assert!(r3.memory.weights_bytes < r1.memory.weights_bytes);
    assert!(r3.memory_bytes_per_accel < r1.memory_bytes_per_accel);
    assert!(
        r3.assumptions.iter().any(|a| a.contains("ZeRO-3")),
        "{:?}",
        r3.assumptions
    );
}

/// The report does not depend on anything but its inputs.
#[test]
fn deterministic() {
    let m = model("mixtral-8x7b");
    let mut p = plan(2, 2, 16, 128, 4096);
    p.ep = 4;
    let a = serde_json::to_string(&sim("fat-tree:gpus=64", &m, &p)).unwrap();
    let b = serde_json::to_string(&sim("fat-tree:gpus=64", &m, &p)).unwrap();
    assert_eq!(a, b);
}

/// Every routing mode (adaptive routes read bytes; spray also on a fabric of two ports per GPU,
/// where a flow splits into two shares).
const ROUTING_CASES: [(&str, fabric::RoutingMode); 5] = [
    ("fat-tree:gpus=64", fabric::RoutingMode::Ecmp),
    ("fat-tree:gpus=64", fabric::RoutingMode::Spray),
    ("fat-tree:gpus=64", fabric::RoutingMode::Adaptive),
    ("hpn7-pod:hosts=8,segments=1", fabric::RoutingMode::Spray),
    ("hpn7-pod:hosts=8,segments=1", fabric::RoutingMode::Ecmp),
];

/// On two sites, where a step's in-site reduce-scatter and all-gather lower to the same ring
/// flows (the schedule prices such a piece once, `pipeline::route_all`'s `same`), and with
/// other numbers of virtual stages (pieces whose bytes differ by a power of two, kept under one
/// normalised signature): an evaluator's reports, plan after plan, are fresh runs' bytes.
#[test]
fn evaluator_matches_fresh_simulations_across_sites() {
    let spec = "multi-site:gpus=256,sites=2,distance_km=10";
    let f = cluster(spec);
    let m = model("llama-3.1-8b");
    let cm = train::compute_model_for(f.accel_model).expect("compute model");
    let plans = [
        plan(2, 2, 64, 128, 4096),
        ParallelPlan {
            vp: 2,
            ..plan(2, 2, 64, 128, 4096)
        },
        ParallelPlan {
            vp: 4,
            ..plan(2, 4, 32, 128, 4096)
        },
        plan(2, 4, 32, 128, 4096),
        ParallelPlan {
            mbs: 2,
            ..plan(2, 2, 64, 128, 4096)
        },
        plan(2, 2, 64, 128, 4096),
    ];
    for fidelity in [Fidelity::Analytical, Fidelity::Flow] {
        let mut ev = train::Evaluator::new(&f);
        for p in &plans {
            let o = opts(fidelity);
            let fresh = train::simulate_ordered(spec, &f, &m, p, &cm, &o, train::DEFAULT_ORDER).unwrap();
            let reused = ev.simulate_ordered(spec, &m, p, &cm, &o, train::DEFAULT_ORDER).unwrap();
            assert_eq!(
                serde_json::to_string(&fresh).unwrap(),
                serde_json::to_string(&reused).unwrap(),
                "{fidelity:?} {p:?}"
            );
        }
    }
}

/// A planner's evaluator reuses merged plans, their runs and DeepEP runs across plans: every
/// report is byte-identical to a fresh `simulate_ordered` of the same plan, at both fidelities,
/// for plans that share groups, repeat, or change only the batch.
#[test]
fn evaluator_matches_fresh_simulations() {
    let m = model("mixtral-8x7b");
    let cm = train::compute_model_for(cluster("fat-tree:gpus=64").accel_model).expect("compute model");
    let moe = |tp: u32, pp: u32, dp: u32, ep: u32, mbs: u32| ParallelPlan {
        ep,
        mbs,
        ..plan(tp, pp, dp, 128, 4096)
    };
    let plans = [
        moe(2, 2, 16, 4, 1),
        moe(2, 2, 16, 4, 2),
        moe(2, 2, 16, 8, 1),
        moe(4, 2, 8, 4, 1),
        moe(2, 4, 8, 4, 1),
        // Another number of virtual stages: the schedule's pieces with other bytes (their
        // paths reused under ECMP and spray).
        ParallelPlan {
            vp: 2,
            ..moe(2, 4, 8, 4, 1)
        },
        ParallelPlan {
            vp: 4,
            ..moe(2, 4, 8, 4, 2)
        },
        moe(2, 2, 16, 4, 1),
        ParallelPlan {
            zero: 3,
            ..moe(2, 2, 16, 4, 1)
        },
    ];
    // Every routing mode (adaptive routes read bytes: no path reuse there; spray also on a
    // fabric of two ports per GPU, where a flow splits into two shares), both fidelities, and
    // two evaluators sharing their route caches taking the plans in turn (a search's threads).
    // Flows whose runs took another plan's routes kept in the same step (an all-gather after
    // its reduce-scatter), by routing mode.
    let mut lent = std::collections::BTreeMap::new();
    for (spec, routing) in ROUTING_CASES {
        let mut f = cluster(spec);
        f.routing = routing;
        let ports = f.scale_out_ports(0).len();
        assert!(spec.starts_with("fat") || ports == 2, "{spec}: {ports} ports");
        for fidelity in [Fidelity::Analytical, Fidelity::Flow] {
            let mut ev = train::Evaluator::new(&f);
            let mut other = ev.sharing_routes();
            // The other starts its memo afresh at every plan (its bound at one flow).
            other.set_memo_bound(1);
            // Every route computed (no lent routes, no caches across plans): what lending
            // must give.
            let mut plain = train::Evaluator::new(&f);
            plain.set_route_lending(false);
            for (i, p) in plans.iter().enumerate() {
                let o = opts(fidelity);
                let fresh =
                    train::simulate_ordered("fat-tree:gpus=64", &f, &m, p, &cm, &o, train::DEFAULT_ORDER).unwrap();
                let e = if i % 2 == 0 { &mut ev } else { &mut other };
                let reused = e
                    .simulate_ordered("fat-tree:gpus=64", &m, p, &cm, &o, train::DEFAULT_ORDER)
                    .unwrap();
                plain.set_memo_bound(1);
                let routed = plain
                    .simulate_ordered("fat-tree:gpus=64", &m, p, &cm, &o, train::DEFAULT_ORDER)
                    .unwrap();
                assert_eq!(
                    serde_json::to_string(&fresh).unwrap(),
                    serde_json::to_string(&reused).unwrap(),
                    "{routing:?} {fidelity:?} {p:?}"
                );
                assert_eq!(
                    serde_json::to_string(&routed).unwrap(),
                    serde_json::to_string(&reused).unwrap(),
                    "{routing:?} {fidelity:?} {p:?}: lent routes"
                );
            }
            assert_eq!(plain.lent_flows(), 0);
            // Not vacuous: the second micro-batch size reuses DeepEP's routes, the repeated
            // layouts the schedule's pieces (shared: both evaluators count the same caches).
            let (moe_hits, piece_hits) = ev.route_reuse();
            assert!(
                moe_hits > 0 && piece_hits > 0,
                "{routing:?} {fidelity:?}: {moe_hits} {piece_hits}"
            );
            assert_eq!(other.route_reuse(), (moe_hits, piece_hits));
            let (paths, scaled) = (ev.piece_path_reuse(), ev.piece_scaled_reuse());
            *lent.entry(format!("{routing:?}")).or_insert(0) += ev.lent_flows() + other.lent_flows();
            if routing == fabric::RoutingMode::Adaptive {
                assert_eq!((paths, scaled), (0, 0), "{fidelity:?}: adaptive routes read bytes");
            } else if fidelity == Fidelity::Analytical {
                // VP 2 and 4 sync the VP 1 pieces' flows with half and a quarter of the bytes:
                // their durations come from the kept ones, scaled (the JSON above equal).
                assert!(scaled > 0, "{routing:?}: no priced piece was scaled");
            } else {
                // VP 2 and 4's pieces take the VP 1 pieces' paths: from the routes an earlier
                // step kept for a plan the memo ran (`past_route_claims`; `other` starts its
                // memo afresh at every plan, so its own step's), or from the pieces' paths
                // cache where none were kept (`pipeline`'s tests).
                let taken = paths + ev.past_route_claims();
                assert!(taken > 0, "{routing:?} {fidelity:?}: no piece took its paths");
                assert_eq!(scaled, 0, "{routing:?}: flow fidelity keeps flows, not durations");
            }
        }
    }
    // Not vacuous either: under ECMP and spray some runs took lent routes (the JSON above
    // equal); adaptive routes read bytes and lend none.
    assert!(lent["Ecmp"] > 0 && lent["Spray"] > 0, "{lent:?}");
    assert_eq!(lent["Adaptive"], 0);
}

/// With the fidelity checks off (a search's evaluations), the schedule's data-parallel pieces
/// take the paths the pricing routed for the same plan: the step time is `step_time_ordered`'s
/// bit for bit (whose pricing does not run the flat data-parallel synchronisations, so its
/// schedule routes every piece itself), and the report a fresh simulation's but for the checks,
/// under every routing mode (adaptive keeps no routes). The pieces themselves are compared
/// with routed ones in `pipeline::tests`.
#[test]
fn schedule_pieces_from_the_pricing_routes_match_fresh() {
    let m = model("mixtral-8x7b");
    let moe = |tp: u32, pp: u32, dp: u32, vp: u32, mbs: u32| ParallelPlan {
        ep: 4,
        vp,
        mbs,
        ..plan(tp, pp, dp, 128, 4096)
    };
    let plans = [
        moe(2, 2, 16, 1, 1),
        moe(2, 4, 8, 2, 1),
        moe(4, 2, 8, 1, 2),
        ParallelPlan {
            zero: 3,
            ..moe(2, 2, 16, 1, 1)
        },
        ParallelPlan {
            zero: 0,
            ..moe(2, 4, 8, 4, 1)
        },
    ];
    for (spec, routing) in ROUTING_CASES {
        let mut f = cluster(spec);
        f.routing = routing;
        let cm = train::compute_model_for(f.accel_model).expect("compute model");
        // A fresh evaluator per plan: every plan's pieces are routed (or taken) anew.
        let mut taken = 0;
        for (p, fidelity) in plans
            .iter()
            .flat_map(|p| [(p, Fidelity::Analytical), (p, Fidelity::Flow)])
        {
            let o = opts(fidelity);
            let mut ev = train::Evaluator::new(&f);
            ev.set_fidelity_checks(false);
            let mut quick = ev.simulate_ordered(spec, &m, p, &cm, &o, train::DEFAULT_ORDER).unwrap();
            taken += ev.piece_pre_reuse();
            let mut fresh = train::simulate_ordered(spec, &f, &m, p, &cm, &o, train::DEFAULT_ORDER).unwrap();
            let step = train::step_time_ordered(&f, &m, p, &cm, &o, train::DEFAULT_ORDER).unwrap();
            assert_eq!(
                quick.step_time_s.to_bits(),
                step.to_bits(),
                "{spec} {routing:?} {fidelity:?} {p:?}"
            );
            quick.fidelity_checks.clear();
            fresh.fidelity_checks.clear();
            assert_eq!(
                serde_json::to_string(&quick).unwrap(),
                serde_json::to_string(&fresh).unwrap(),
                "{spec} {routing:?} {fidelity:?} {p:?}"
            );
        }
        // Not vacuous: under ECMP and spray the pieces took the pricing's paths.
        if routing == fabric::RoutingMode::Adaptive {
            assert_eq!(taken, 0, "{spec}: adaptive routes read the load");
        } else {
            assert!(taken > 0, "{spec} {routing:?}: no piece took the pricing's paths");
        }
    }
}

/// A search's later step of a layout whose data-parallel runs the memo already holds takes the
/// routes an earlier step kept for them (its schedule's pieces copy their paths from there, as
/// the first step's did): under ECMP and spray, not adaptive routing (no routes kept); every
/// report a fresh simulation's, the checks on and off.
#[test]
fn later_steps_take_the_routes_earlier_steps_kept() {
    let m = model("mixtral-8x7b");
    let moe = |vp: u32, mbs: u32| ParallelPlan {
        ep: 4,
        vp,
        mbs,
        ..plan(2, 2, 16, 128, 4096)
    };
    // The same layout: another micro-batch, and another number of virtual stages (pieces with
    // other bytes).
    let plans = [moe(1, 1), moe(1, 2), moe(2, 1), moe(1, 1)];
    for (spec, routing) in ROUTING_CASES {
        let mut f = cluster(spec);
        f.routing = routing;
        let cm = train::compute_model_for(f.accel_model).expect("compute model");
        for (checks, fidelity) in [
            (false, Fidelity::Analytical),
            (true, Fidelity::Analytical),
            (false, Fidelity::Flow),
        ] {
            let mut ev = train::Evaluator::new(&f);
            ev.set_fidelity_checks(checks);
            for (i, p) in plans.iter().enumerate() {
                let o = opts(fidelity);
                let (claims, taken) = (ev.past_route_claims(), ev.piece_pre_reuse());
                let mut got = ev.simulate_ordered(spec, &m, p, &cm, &o, train::DEFAULT_ORDER).unwrap();
                // At flow fidelity the VP 2 step's pieces (new flows: other bytes) copy their
                // paths from the routes the first step kept.
                if fidelity == Fidelity::Flow && i == 2 && routing != fabric::RoutingMode::Adaptive {
                    assert!(
                        ev.past_route_claims() > claims,
                        "{spec} {routing:?}: no kept routes claimed"
                    );
                    assert!(
                        ev.piece_pre_reuse() > taken,
                        "{spec} {routing:?}: no piece took the kept paths"
                    );
                }
                let mut fresh = train::simulate_ordered(spec, &f, &m, p, &cm, &o, train::DEFAULT_ORDER).unwrap();
                if !checks {
                    got.fidelity_checks.clear();
                    fresh.fidelity_checks.clear();
                }
                assert_eq!(
                    serde_json::to_string(&got).unwrap(),
                    serde_json::to_string(&fresh).unwrap(),
                    "{spec} {routing:?} {fidelity:?} checks {checks} {p:?}"
                );
            }
            let claims = ev.past_route_claims();
            if routing == fabric::RoutingMode::Adaptive {
                assert_eq!(claims, 0, "{spec}: adaptive routes are not kept");
            } else {
                assert!(
                    claims > 0,
                    "{spec} {routing:?} checks {checks}: no later step took kept routes"
                );
            }
        }
    }
}

/// A search evaluates with the fidelity checks off, then reports its best plans through the
/// same evaluators with them on (`plan::search`): those reports are fresh simulations' too.
#[test]
fn evaluator_with_checks_after_checks_off_matches_fresh() {
    let m = model("mixtral-8x7b");
    let f = cluster("fat-tree:gpus=64");
    let cm = train::compute_model_for(f.accel_model).expect("compute model");
    let moe = |pp: u32, dp: u32, vp: u32, mbs: u32| ParallelPlan {
        ep: 4,
        vp,
        mbs,
        ..plan(2, pp, dp, 128, 4096)
    };
    let o = opts(Fidelity::Analytical);
    let mut ev = train::Evaluator::new(&f);
    ev.set_fidelity_checks(false);
    for p in [moe(2, 16, 1, 1), moe(4, 8, 2, 1), moe(4, 8, 1, 2)] {
        ev.simulate_ordered("fat-tree:gpus=64", &m, &p, &cm, &o, train::DEFAULT_ORDER)
            .unwrap();
    }
    ev.set_fidelity_checks(true);
    for p in [moe(4, 8, 2, 1), moe(2, 16, 1, 1), moe(4, 8, 2, 2)] {
        let fresh = train::simulate_ordered("fat-tree:gpus=64", &f, &m, &p, &cm, &o, train::DEFAULT_ORDER).unwrap();
        let reused = ev
            .simulate_ordered("fat-tree:gpus=64", &m, &p, &cm, &o, train::DEFAULT_ORDER)
            .unwrap();
        assert!(!fresh.fidelity_checks.is_empty(), "{p:?}: no fidelity check to compare");
        assert_eq!(
            serde_json::to_string(&fresh).unwrap(),
            serde_json::to_string(&reused).unwrap(),
            "{p:?}"
        );
    }
}

/// The trace's compute spans stay inside the step; the step is the last span's end.
#[test]
fn timeline_matches_the_step() {
    let mut p = plan(8, 4, 2, 16, 4096);
    p.vp = 2;
    let r = sim("fat-tree:gpus=64", &model("llama-3.1-8b"), &p);
    let tl = r.timeline.as_ref().expect("timeline");
    assert!(rel(tl.step_time, r.step_time_s) < 1e-12);
    let end = tl.spans.iter().map(|s| s.end).fold(0.0, f64::max);
    assert!(
        rel(end, r.step_time_s) < 1e-9,
        "last span ends at {end}, step {}",
        r.step_time_s
    );
    for s in &tl.spans {
        assert!(
            s.start >= 0.0 && s.end >= s.start && s.end <= r.step_time_s * (1.0 + 1e-12),
            "{s:?}"
        );
    }
    // Each stage runs 2 · m · vp forward/backward spans.
    for st in 0..4 {
        let n = tl
            .spans
            .iter()
            .filter(|s| s.stage == st && s.stream == "compute")
            .count();
        assert_eq!(n as u32, 2 * r.plan.microbatches * 2, "stage {st}");
    }
}

/// Bad plans are rejected with a message naming the flag.
#[test]
fn check_plan_errors() {
    let f = cluster("fat-tree:gpus=64");
    let l8 = model("llama-3.1-8b");
    let cm = train::compute_model_for(f.accel_model).unwrap();
    let run = |m: &ModelSpec, p: &ParallelPlan| train::simulate("x", &f, m, p, &cm, &opts(Fidelity::Flow));
    let mut cases: Vec<(ModelSpec, ParallelPlan, &str)> = Vec::new();
    cases.push((l8.clone(), plan(3, 1, 1, 8, 4096), "--tp 3"));
    cases.push((l8.clone(), plan(8, 1, 8, 100, 4096), "--gbs 100"));
    cases.push((l8.clone(), plan(8, 1, 16, 128, 4096), "the cluster has 64"));
    let mut ep = plan(8, 1, 8, 64, 4096);
    ep.ep = 2;
    cases.push((l8.clone(), ep, "no experts"));
    let mut vp = plan(8, 4, 2, 12, 4096);
    vp.vp = 2;
    cases.push((l8.clone(), vp, "multiple of PP"));
    let mut z = plan(8, 1, 8, 64, 4096);
    z.zero = 4;
    cases.push((l8.clone(), z, "--zero 4"));
    for (m, p, frag) in &cases {
        let e = run(m, p).expect_err(frag);
        assert!(e.contains(frag), "{p:?}: {e:?} lacks {frag:?}");
    }
    let a100 = cluster("hgx:gpu=a100");
    let mut fp8 = plan(8, 1, 1, 8, 4096);
    fp8.precision = Precision::Fp8;
    let cm = train::compute_model_for(a100.accel_model).unwrap();
    let e = train::simulate("x", &a100, &l8, &fp8, &cm, &opts(Fidelity::Flow)).unwrap_err();
    assert!(e.contains("fp8"), "{e}");
}

/// (g) Accuracy against the published training runs.
#[test]
fn validate_training_within_ten_percent() {
    let r = fabricsim::validate_training::training(include_str!("../../../testdata/training.csv")).unwrap();
    let median = r.summary.median_abs_error_pct.expect("rows compared");
    eprintln!(
        "validate --training: {} rows compared, {} skipped, median |error| {median:.2} %, max {:.2} %",
        r.summary.rows_compared,
        r.summary.rows_skipped,
        r.summary.max_abs_error_pct.unwrap()
    );
    assert!(r.summary.rows_compared >= 25, "{} rows", r.summary.rows_compared);
    assert!(median <= 10.0, "median |error| {median} %");
    assert_eq!(r.kind, "training");
    assert_eq!(r.rows.len(), r.summary.rows_compared);
    assert_eq!(r.skipped.len(), r.summary.rows_skipped);
    const METRICS: [&str; 5] = [
        "step_time_s",
        "tokens_per_s_per_accel",
        "tflops_per_accel",
        "mfu_pct",
        "hfu_pct",
    ];
    for c in &r.rows {
        assert!(
            METRICS.contains(&c.metric.as_str()),
            "{}: metric {}",
            c.row_id,
            c.metric
        );
        assert!(
            c.measured > 0.0 && c.predicted.is_finite() && c.predicted > 0.0,
            "{}",
            c.row_id
        );
        assert!(rel(c.error_pct, (c.predicted - c.measured) / c.measured * 100.0) < 1e-9);
    }
    // The headline max is over the rows that state their setup (assumed rows are summarised
    // on their own line).
    let max = r
        .rows
        .iter()
        .filter(|c| c.assumptions.is_empty())
        .map(|c| c.error_pct.abs())
        .fold(0.0, f64::max);
    assert!(rel(max, r.summary.max_abs_error_pct.unwrap()) < 1e-12);
}

/// The stages of a step compose: each pipeline stage's accounted work (stage timings) is what
/// the schedule keeps its compute stream busy with, on every stage — not only the first — and
/// the report's compute + recompute + exposed TP/EP/CP equal the slowest stage's work.
#[test]
fn stage_work_matches_the_schedule_on_every_stage() {
    let f = cluster("fat-tree:gpus=64");
    let cm = train::compute_model_for(f.accel_model).unwrap();
    let mut mixtral = plan(2, 4, 8, 64, 4096);
    mixtral.ep = 4;
    let mut cp = plan(2, 2, 8, 32, 8192);
    cp.cp = 2;
    cp.dp = 8;
    for (m, p) in [
        (model("llama-3.1-8b"), plan(2, 4, 8, 64, 4096)),
        (model("mixtral-8x7b"), mixtral),
        (model("llama-3.1-8b"), cp),
    ] {
        let pl = train::layout::place(&f, &m, &p, train::DEFAULT_ORDER, false).unwrap();
        let comm = train::comm::price(&f, &pl, &m, Fidelity::Flow).unwrap();
        let t = train::timing::stage_timings(&pl, &m, &cm, &comm);
        let tl = train::pipeline::run(&f, &pl, &t, &comm, Fidelity::Flow, false).unwrap();
        assert_eq!(t.stages.len(), p.pp as usize);
        for (s, w) in t.stages.iter().enumerate() {
            assert!(
                rel(w.busy_s(), tl.busy[s]) < 1e-9,
                "stage {s}: {} vs {}",
                w.busy_s(),
                tl.busy[s]
            );
        }
        let r = train::simulate("x", &f, &m, &p, &cm, &opts(Fidelity::Flow)).unwrap();
        let b = &r.breakdown;
        assert_eq!(r.breakdown_stage, t.slowest_stage());
        let w0 = t.stages[t.slowest_stage() as usize];
        assert!(
            rel(
                b.compute_s + b.recompute_s + b.tp_comm_s + b.ep_comm_s + b.cp_comm_s,
                w0.busy_s() - w0.zero3_comm_s
            ) < 1e-9
        );
        assert_eq!(r.step_time_s, tl.step_time);
    }
}

/// DeepSeek-V3 on 2048 H800s, TP 1 · PP 16 · EP 64 (the DeepSeek-V3 report's layout), with a
/// small global batch for speed.
const DSV3_CLUSTER: &str = "fat-tree:gpus=2048,node=hgx-h800";

fn dsv3_plan(gbs: u32) -> ParallelPlan {
    let mut p = plan(1, 16, 128, gbs, 4096);
    p.ep = 64;
    p.recompute = Recompute::None;
    p
}

/// Every stage's lines add up to the step, and its busy time is its parts.
fn stages_close(r: &TrainReport) {
    assert_eq!(r.stages.len() as u32, r.plan.pp);
    for st in &r.stages {
        let busy = st.compute_s + st.recompute_s + st.tp_comm_s + st.ep_comm_s + st.cp_comm_s + st.zero3_comm_s;
        assert!(
            rel(busy, st.busy_s) < 1e-9,
            "stage {}: parts {busy} busy {}",
            st.stage,
            st.busy_s
        );
        let sum = st.busy_s + st.pp_comm_s + st.bubble_s + st.dp_comm_s + st.optimizer_s;
        assert!(
            rel(sum, r.step_time_s) < 1e-9,
            "stage {}: lines sum to {sum} of a {} s step",
            st.stage,
            r.step_time_s
        );
        assert!(st.bubble_s >= 0.0 && st.pp_comm_s >= 0.0 && st.dp_comm_s >= 0.0);
    }
}

/// The breakdown describes the stage with the most busy time. On DeepSeek-V3 with PP 16 (its
/// MTP module left out: it makes the last stage the slowest, see train_moe.rs) the first stage
/// holds the three dense layers and is light; a middle stage sets the pace, and the breakdown is
/// that stage's line by line.
#[test]
fn the_slowest_stage_sets_the_breakdown() {
    let mut m = model("deepseek-v3");
    m.mtp_layers = 0;
    let r = sim(DSV3_CLUSTER, &m, &dsv3_plan(1024));
    sane(&r);
    stages_close(&r);
    let k = r.breakdown_stage as usize;
    assert!(k > 0 && k < 15, "slowest stage {k} is not a middle one");
    let max = r.stages.iter().map(|s| s.busy_s).fold(0.0, f64::max);
    assert!(
        r.stages[k].busy_s >= max * (1.0 - 1e-9),
        "{} < {max}",
        r.stages[k].busy_s
    );
    assert!(
        r.stages[0].busy_s < 0.75 * max,
        "stage 0 busy {} vs slowest {max}",
        r.stages[0].busy_s
    );
    assert_eq!(r.stages.iter().map(|s| s.layers).sum::<u32>(), 61);
    let (b, st) = (&r.breakdown, &r.stages[k]);
    for (name, a, x) in [
        ("compute", b.compute_s, st.compute_s),
        ("recompute", b.recompute_s, st.recompute_s),
        ("tp", b.tp_comm_s, st.tp_comm_s),
        ("ep", b.ep_comm_s, st.ep_comm_s),
        ("cp", b.cp_comm_s, st.cp_comm_s),
        ("pp", b.pp_comm_s, st.pp_comm_s),
        ("bubble", b.pipeline_bubble_s, st.bubble_s),
        ("dp", b.dp_comm_s, st.dp_comm_s + st.zero3_comm_s),
        ("optimizer", b.optimizer_s, st.optimizer_s),
    ] {
        assert_eq!(a, x, "breakdown.{name} is not stage {k}'s");
    }
    // The expert all-to-all, not the bubble, is the slowest stage's largest communication.
    assert!(b.ep_comm_s > r.stages[0].ep_comm_s * 2.0);
    // The memory figures are the heaviest stage's (not the first's: it holds dense layers).
    let heaviest = r.stages.iter().map(|s| s.memory_bytes).fold(0.0, f64::max);
    assert_eq!(r.memory.total_bytes, heaviest);
    assert_eq!(r.stages[r.memory.stage as usize].memory_bytes, heaviest);
    assert_ne!(r.memory.stage, 0);
}

/// `layers_per_stage` moves layers, and with them time and memory, between stages: Megatron's
/// and Llama 3's lighter first and last stages.
#[test]
fn uneven_layers_move_time_between_stages() {
    let m = model("deepseek-v3");
    let even = sim(DSV3_CLUSTER, &m, &dsv3_plan(1024));
    let mut p = dsv3_plan(1024);
    let mut split = vec![4u32; 16];
    split[0] = 3;
    split[15] = 2;
    p.layers_per_stage = Some(split.clone());
    let uneven = sim(DSV3_CLUSTER, &m, &p);
    stages_close(&uneven);
    let layers: Vec<u32> = uneven.stages.iter().map(|s| s.layers).collect();
    assert_eq!(layers, split);
    let busy = |r: &TrainReport, s: usize| r.stages[s].busy_s;
    // Fewer layers on the first and last stages, more on 13 and 14 (3 → 4), the rest unchanged.
    assert!(busy(&uneven, 0) < busy(&even, 0));
    assert!(busy(&uneven, 15) < busy(&even, 15));
    for s in [13, 14] {
        assert!(busy(&uneven, s) > busy(&even, s) * 1.2, "stage {s}");
        assert!(uneven.stages[s].memory_bytes > even.stages[s].memory_bytes, "stage {s}");
    }
    for s in 1..13 {
        assert!(rel(busy(&uneven, s), busy(&even, s)) < 1e-9, "stage {s}");
    }
    assert!(uneven.stages[0].memory_bytes < even.stages[0].memory_bytes);
    assert!(uneven
        .assumptions
        .iter()
        .any(|a| a.contains("layers per pipeline stage: 3,4,")));
    assert!(!uneven.warnings.iter().any(|w| w.contains("do not split evenly")));
    assert!(even.warnings.iter().any(|w| w.contains("--layers-per-stage")));
}

/// Interleaving takes PP × VP chunk sizes, entry v on stage v mod PP; wrong lists are errors
/// naming the flag and the problem.
#[test]
fn layers_per_stage_lists() {
    let f = cluster("fat-tree:gpus=64");
    let l8 = model("llama-3.1-8b");
    let cm = train::compute_model_for(f.accel_model).unwrap();
    let run = |p: &ParallelPlan| train::simulate("x", &f, &l8, p, &cm, &opts(Fidelity::Flow));
    let mut p = plan(2, 4, 8, 64, 4096);
    p.vp = 2;
    p.layers_per_stage = Some(vec![3, 4, 4, 5, 4, 4, 4, 4]);
    let r = run(&p).unwrap();
    stages_close(&r);
    let layers: Vec<u32> = r.stages.iter().map(|s| s.layers).collect();
    assert_eq!(layers, [7, 8, 8, 9]);
    assert_eq!(r.breakdown_stage, 3, "9 layers and the output layer");
    let cases: [(u32, Vec<u32>, &str); 5] = [
        (1, vec![8, 8, 8], "3 entries for PP 4"),
        (1, vec![8, 8, 16, 0], "entry 3 is 0"),
        (1, vec![8, 8, 8, 9], "sums to 33, but the model has 32 layers"),
        (2, vec![8, 8, 8, 8], "PP × VP = 4 × 2 = 8"),
        (1, vec![], "0 entries for PP 4"),
    ];
    for (vp, list, frag) in cases {
        let mut p = plan(2, 4, 8, 64, 4096);
        p.vp = vp;
        p.layers_per_stage = Some(list);
        let e = run(&p).expect_err(frag);
        assert!(e.contains("--layers-per-stage") && e.contains(frag), "{e}");
    }
}

/// An analytical result says when contention it does not model matters: on a 1:7 oversubscribed
/// fat-tree the pipeline stages' gradient syncs overlap and share the spine, which the
/// analytical schedule ignores; the warning names the dimension and both times, and the flow
/// fidelity indeed gives a longer step. Where the fidelities agree (DeepSeek-V3's expert
/// all-to-all on a non-blocking fat-tree) the largest communication is checked and nothing is
/// said.
#[test]
fn fidelities_that_disagree_say_so() {
    let m = model("llama-3.1-8b");
    let p = plan(4, 4, 64, 256, 4096);
    let an = sim_with("fat-tree:gpus=1024,oversub=7", &m, &p, Fidelity::Analytical);
    let fl = sim_with("fat-tree:gpus=1024,oversub=7", &m, &p, Fidelity::Flow);
    assert!(
        fl.step_time_s > an.step_time_s * 1.1,
        "flow {} analytical {}",
        fl.step_time_s,
        an.step_time_s
    );
    let warned: Vec<_> = an.fidelity_checks.iter().filter(|c| c.warned).collect();
    assert!(!warned.is_empty(), "{:?}", an.fidelity_checks);
    assert!(warned
        .iter()
        .all(|c| c.dimension == "DP" && c.scope == "stages_together"));
    let (a, f): (f64, f64) = warned
        .iter()
        .fold((0.0, 0.0), |x, c| (x.0 + c.analytical_s, x.1 + c.flow_s));
    let w = an
        .warnings
        .iter()
        .find(|w| w.starts_with("analytical fidelity:"))
        .expect("a fidelity warning");
    for frag in ["DP", &units::si(a, "s"), &units::si(f, "s"), "--fidelity flow"] {
        assert!(w.contains(frag), "{w:?} lacks {frag:?}");
    }
    assert!(fl.fidelity_checks.is_empty());
    assert!(!fl.warnings.iter().any(|w| w.starts_with("analytical fidelity:")));

    let ds_an = sim_with(
        DSV3_CLUSTER,
        &model("deepseek-v3"),
        &dsv3_plan(1024),
        Fidelity::Analytical,
    );
    let ds_fl = sim(DSV3_CLUSTER, &model("deepseek-v3"), &dsv3_plan(1024));
    assert!(
        ds_an.fidelity_checks.iter().any(|c| c.dimension == "EP"),
        "{:?}",
        ds_an.fidelity_checks
    );
    assert!(
        ds_an.fidelity_checks.iter().all(|c| !c.warned),
        "{:?}",
        ds_an.fidelity_checks
    );
    assert!(!ds_an.warnings.iter().any(|w| w.starts_with("analytical fidelity:")));
    assert!(rel(ds_an.step_time_s, ds_fl.step_time_s) < 0.1);
}

/// `--sharp` / `--nvls`: switching an in-network reduction off changes the algorithm of the
/// collectives that used it, and the assumptions say which reduction served which dimension.
#[test]
fn in_network_reductions_on_and_off() {
    let m = model("llama-3.1-8b");
    let run = |spec: &str, p: &ParallelPlan, sharp: bool, nvls: bool| {
        let f = cluster(spec);
        let cm = train::compute_model_for(f.accel_model).unwrap();
        let o = TrainOptions {
            in_network: collective::InNetwork { sharp, nvls },
            ..opts(Fidelity::Flow)
        };
        train::simulate(spec, &f, &m, p, &cm, &o).unwrap()
    };
    let algo = |r: &TrainReport, dim: &str, op: &str| -> String {
        r.collectives
            .iter()
            .find(|c| c.dimension == dim && c.op == op)
            .unwrap_or_else(|| panic!("no {dim} {op} in {:?}", r.collectives))
            .algorithm
            .clone()
    };
    let said = |r: &TrainReport, frag: &str| r.assumptions.iter().any(|a| a.contains(frag));
    // InfiniBand fat-tree: the DP all-reduce (ZeRO-0) over 8 nodes × 4 ranks uses SHARP.
    let mut dp = plan(2, 1, 32, 256, 4096);
    dp.zero = 0;
    let on = run("fat-tree:gpus=64", &dp, true, true);
    let off = run("fat-tree:gpus=64", &dp, false, true);
    assert_eq!(algo(&on, "DP", "all_reduce"), "collnet");
    assert_ne!(algo(&off, "DP", "all_reduce"), "collnet");
    assert!(
        said(&on, "SHARP (CollNet) used for DP all-reduce"),
        "{:?}",
        on.assumptions
    );
    assert!(said(&off, "SHARP (CollNet) off (--sharp off)"), "{:?}", off.assumptions);
    assert!(off.breakdown.dp_comm_s > on.breakdown.dp_comm_s);
    // NVSwitch node: the DP all-reduce inside the node and, without sequence parallelism, the
    // TP all-reduce use NVLS.
    let mut node_dp = plan(1, 1, 8, 64, 4096);
    node_dp.zero = 0;
    let on = run("hgx", &node_dp, true, true);
    let off = run("hgx", &node_dp, true, false);
    assert_eq!(algo(&on, "DP", "all_reduce"), "nvls");
    assert_ne!(algo(&off, "DP", "all_reduce"), "nvls");
    assert!(
        said(&on, "NVLS (NVLink SHARP) used for DP all-reduce"),
        "{:?}",
        on.assumptions
    );
    assert!(said(&off, "NVLS (NVLink SHARP) off (--nvls off)"));
    assert!(said(&on, "SHARP (CollNet) not available on this fabric"));
    let mut tp = plan(8, 1, 1, 8, 4096);
    tp.sequence_parallel = false;
    let on = run("hgx", &tp, true, true);
    let off = run("hgx", &tp, true, false);
    assert_eq!(algo(&on, "TP", "all_reduce"), "nvls");
    assert_ne!(algo(&off, "TP", "all_reduce"), "nvls");
    assert!(
        said(&on, "NVLS (NVLink SHARP) used for TP all-reduce"),
        "{:?}",
        on.assumptions
    );
}
