//! Training across sites (`train::sites`): the hierarchical synchronisation's DCI volume
//! against its closed form, the loss against one site, the placements `--cross-site pp` and
//! `diloco`, and the warning for TP across sites.

use collective::Op;
use engine::Fidelity;
use fabric::Fabric;
use fabricsim::train::layout::Dim;
use fabricsim::train::sites::{self, CrossSite};
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

fn plan(tp: u32, pp: u32, dp: u32, gbs: u32, seq: u64, zero: u8) -> ParallelPlan {
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
        zero,
        recompute: Recompute::Selective,
        precision: Precision::Bf16,
        sequence_parallel: tp > 1,
        tp_comm_overlap: false,
        layers_per_stage: None,
        hsdp_shard: None,
    }
}

/// The step on `spec` with `cross`, and its single-site baseline attached.
fn run(spec: &str, m: &ModelSpec, p: &ParallelPlan, cross: CrossSite, fidelity: Fidelity) -> TrainReport {
    let f = cluster(spec);
    let cm = train::compute_model_for(f.accel_model).expect("compute model");
    let o = TrainOptions {
        allow_oom: true,
        cross_site: cross,
        ..TrainOptions::new(fidelity)
    };
    let mut r = train::simulate_ordered(spec, &f, m, p, &cm, &o, train::DEFAULT_ORDER)
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    sites::run_baseline(
        &mut r,
        spec,
        &f,
        &mut |s: &str| Ok(cluster(s)),
        m,
        p,
        &cm,
        &o,
        train::DEFAULT_ORDER,
    )
    .unwrap();
    r
}

/// Bytes the flows of `plan` send from site `a` to other sites.
fn cross_bytes(f: &Fabric, plan: &collective::plan::Plan, a: u32) -> f64 {
    plan.phases
        .iter()
        .flat_map(|ph| ph.flows.iter())
        .filter(|fl| sites::site_of(f, fl.src) == a && sites::site_of(f, fl.dst) != a)
        .map(|fl| fl.bytes)
        .sum()
}

/// Each site moves 2(S−1)/S × one replica's gradient bytes across the DCI: the lowered
/// cross-site pieces of the hierarchical synchronisation, summed over every flow that leaves
/// the site, for 2 and 3 sites, all-reduce (ZeRO-0) and reduce-scatter + all-gather (ZeRO-1).
#[test]
fn hierarchical_volume_matches_the_closed_form() {
    let m = model("llama3-8b");
    for (spec, sites_n, dp) in [
        ("multi-site:gpus=64,sites=2,distance_km=30,wan_gbit=3200", 2u32, 8u32),
        ("multi-site:gpus=96,sites=3,distance_km=30,wan_gbit=3200", 3, 12),
    ] {
        let f = cluster(spec);
        for zero in [0u8, 1] {
            let p = plan(8, 1, dp, dp * 2, 2048, zero);
            let pl = train::layout::place(&f, &m, &p, train::DEFAULT_ORDER, false).unwrap();
            assert_eq!(pl.layout.slices(), sites_n, "{spec}: DP split over the sites");
            for g in pl.layout.groups(Dim::Dp).iter() {
                assert!(!sites::spans_sites(&f, g), "in-site groups stay inside a site");
            }
            let comm = train::comm::price(&f, &pl, &m, Fidelity::Flow).unwrap();
            let dcn: Vec<_> = comm.dp.iter().filter(|s| s.dim == Dim::Dcn).collect();
            let ops: Vec<Op> = dcn.iter().map(|s| s.op).collect();
            if zero == 0 {
                assert_eq!(ops, vec![Op::AllReduce]);
            } else {
                assert_eq!(ops, vec![Op::ReduceScatter, Op::AllGather]);
            }
            // One replica's gradients: every stage's and TP rank's dense BF16 gradients.
            let per_rank = m.params() / 8.0;
            let (dense, _) = fabricsim::train::memory::param_split(&m);
            let replica = per_rank * dense * 2.0 * 8.0;
            let want = sites::dci_bytes_per_site(replica, sites_n);
            let groups = pl.layout.groups(Dim::Dcn);
            for a in 0..sites_n {
                let mut got = 0.0;
                for s in &dcn {
                    let algo = s.cost.algo.unwrap();
                    let plan = train::merge_groups(&f, &groups, s.op, s.bytes, algo, 1).unwrap();
                    got += cross_bytes(&f, &plan, a);
                }
                assert!(
                    (got - want).abs() <= 1e-6 * want,
                    "{spec} ZeRO-{zero} site {a}: {got} B over the DCI, closed form {want}"
                );
            }
            let sc = comm.sites.as_ref().unwrap();
            assert!((sc.dci_bytes_per_site - want).abs() <= 1e-6 * want);
        }
    }
}

/// The loss against one site is in 0–1 and grows as the DCI shrinks; its parts add up.
#[test]
fn loss_grows_as_the_dci_shrinks() {
    let m = model("llama3-8b");
    let p = plan(8, 2, 8, 64, 4096, 1);
    let mut last = -1.0;
    for gbit in [51200, 3200, 400, 100] {
        let spec = format!("multi-site:gpus=128,sites=2,distance_km=30,wan_gbit={gbit}");
        let r = run(&spec, &m, &p, CrossSite::Dp, Fidelity::Flow);
        let loss = r.multi_site_loss_fraction.expect("loss");
        let single = r.single_site_step_time_s.expect("baseline");
        assert!((0.0..1.0).contains(&loss), "{spec}: {loss}");
        assert!(loss >= last - 1e-9, "{spec}: loss {loss} below {last} at more capacity");
        let ms = r.multi_site.as_ref().unwrap();
        assert!((ms.extra_bandwidth_s + ms.extra_latency_s + ms.extra_congestion_s - ms.extra_s.max(0.0)).abs() < 1e-9);
        assert!(single > 0.0 && r.step_time_s >= single * (1.0 - 1e-3), "{spec}");
        last = loss;
    }
    assert!(last > 0.05, "at 100 Gb/s the DCI must cost something: {last}");
}

/// PP across sites: the stage boundary on the DCI costs the fibre delay on every send that
/// crosses it; at 2,000 km (9.8 ms one way) the step grows by at least the sends' delays on
/// the critical path, and DP stays inside a site.
#[test]
fn pp_across_sites_pays_the_crossing_latency() {
    let m = model("llama3-8b");
    let p = plan(8, 2, 8, 64, 4096, 1);
    let near = run(
        "multi-site:gpus=128,sites=2,distance_km=1,wan_gbit=51200",
        &m,
        &p,
        CrossSite::Pp,
        Fidelity::Flow,
    );
    let far = run(
        "multi-site:gpus=128,sites=2,distance_km=2000,wan_gbit=51200",
        &m,
        &p,
        CrossSite::Pp,
        Fidelity::Flow,
    );
    let ms = far.multi_site.as_ref().unwrap();
    assert_eq!(ms.cross_site, "pp");
    assert!(ms.latency_steps > 0);
    let one_way = ms.one_way_delay_s;
    assert!((one_way - 2000.0 * 4.9e-6).abs() < 1e-9);
    // At least the fill's forward and the drain's backward crossing sit on the critical path
    // of 1F1B; at most every send of the 8 micro-batches in both directions.
    let m_b = (64 / 8) as f64;
    let d_one_way = one_way - 4.9e-6;
    let grew = far.step_time_s - near.step_time_s;
    assert!(
        grew >= 2.0 * d_one_way * 0.99 && grew <= 2.0 * m_b * d_one_way * 1.01 + 1e-3,
        "step grew by {grew} s for a one-way delay {d_one_way} s longer"
    );
    // DP inside a site: no hierarchical cross-site sync.
    assert!(far.collectives.iter().all(|c| !c.dimension.contains("across sites")));
}

/// DiLoCo: the inner step syncs inside each site only; the outer sync is one fp32 model copy;
/// utilisation and the per-step equivalent follow the formula.
#[test]
fn diloco_reports_its_utilisation() {
    let m = model("llama3-8b");
    let p = plan(8, 1, 16, 64, 4096, 0);
    let spec = "multi-site:gpus=128,sites=2,distance_km=400,wan_gbit=400";
    let d = run(spec, &m, &p, CrossSite::Diloco { inner_steps: 100 }, Fidelity::Flow);
    let dp = run(spec, &m, &p, CrossSite::Dp, Fidelity::Flow);
    let ms = d.multi_site.as_ref().unwrap();
    let sync = ms.diloco_outer_sync_s.unwrap();
    let u = ms.diloco_compute_utilisation_fraction.unwrap();
    let want = 100.0 * d.step_time_s / (100.0 * d.step_time_s + sync);
    assert!((u - want).abs() < 1e-12);
    assert!((ms.diloco_step_equivalent_s.unwrap() - (d.step_time_s + sync / 100.0)).abs() < 1e-12);
    // fp32 pseudo-gradients of the whole model: twice the BF16 gradient volume, once per H.
    assert_eq!(ms.diloco_outer_bytes_per_param, Some(4.0));
    let per_site = 2.0 * (2.0 - 1.0) / 2.0 * m.params() * 4.0;
    assert!((ms.dci_bytes_per_site_per_step * 100.0 - per_site).abs() < 1e-6 * per_site);
    // The outer sync crosses a 400 Gb/s DCI: at least its serialisation.
    assert!(sync >= per_site / (400e9 / 8.0));
    // Over a thin DCI, DiLoCo loses less than synchronous DP.
    assert!(d.multi_site_loss_fraction.unwrap() < dp.multi_site_loss_fraction.unwrap());
    assert!(d.step_time_s < dp.step_time_s);
}

/// TP across sites is allowed, with a warning that shows its cost.
#[test]
fn tp_across_sites_warns_with_its_cost() {
    let m = model("llama3-8b");
    let p = plan(16, 1, 1, 8, 2048, 1);
    let r = run(
        "multi-site:gpus=16,sites=2,distance_km=30,wan_gbit=3200",
        &m,
        &p,
        CrossSite::Dp,
        Fidelity::Analytical,
    );
    let w = r
        .warnings
        .iter()
        .find(|w| w.contains("TP groups of 16 span sites"))
        .unwrap_or_else(|| panic!("no warning in {:?}", r.warnings));
    assert!(w.contains("per step") && w.contains("one-way fibre delays"), "{w}");
}

/// Single-site fabrics carry no multi-site keys.
#[test]
fn one_site_has_no_loss() {
    let m = model("llama3-8b");
    let p = plan(8, 1, 2, 8, 2048, 1);
    let r = run("fat-tree:gpus=16", &m, &p, CrossSite::Dp, Fidelity::Analytical);
    assert!(r.multi_site.is_none() && r.single_site_step_time_s.is_none() && r.multi_site_loss_fraction.is_none());
}

/// NVIDIA's multi-data-centre Nemotron-4 340B run: 96 % of single-site (`operations.csv` O002;
/// baseline O003: 6,144 H100, TP 8 · PP 12 · DP 64, GBS 2,304, 8.0 s per step). Assumptions
/// (ours, not the source's): the 6,144 GPUs split over two sites 2,000 km apart (RTT 19.6 ms,
/// "often ≥ 20 ms"), BF16 gradients, hierarchical all-reduce overlapped as the 1F1B schedule
/// allows, analytical fidelity (every stage's cross-site piece queues on one shared DCI). The
/// source does not state its DCI capacity, so the check is where 96 % is reached: between 8 and
/// 16 400ZR wavelengths per site (3.2 → 6.4 Tb/s; the sweep's bisection puts it at ≈ 3.85 Tb/s,
/// closed form 3.52), with the baseline within ±25 % of 8.0 s.
#[test]
fn nemotron_multi_dc_efficiency_band() {
    let m = model("nemotron-4-340b");
    let p = plan(8, 12, 64, 2304, 4096, 1);
    let eff = |gbit: u32| {
        let r = run(
            &format!("multi-site:gpus=6144,sites=2,distance_km=2000,wan_gbit={gbit}"),
            &m,
            &p,
            CrossSite::Dp,
            Fidelity::Analytical,
        );
        let single = r.single_site_step_time_s.unwrap();
        assert!(
            (6.0..10.0).contains(&single),
            "single-site step {single} s vs 8.0 s published"
        );
        1.0 - r.multi_site_loss_fraction.unwrap()
    };
    let (e8, e16) = (eff(3200), eff(6400));
    assert!((0.90..0.96).contains(&e8), "8 wavelengths: efficiency {e8}");
    assert!(
        (0.96..=1.0).contains(&e16),
        "16 wavelengths: efficiency {e16} vs 0.96 published"
    );
}

/// The baseline's step-time-only path (`train::step_time_ordered`, which does not simulate the
/// flat DP synchronisations on their own nor run the fidelity checks) gives the step time the
/// full simulation reports, bit for bit: dense and MoE (expert-DP rings), all-reduce and ZeRO-1
/// (reduce-scatter + all-gather), interleaved, both fidelities, another placement order, and a
/// TPU slice (which keeps the full pricing: XLA's overlap reads the priced synchronisation).
#[test]
fn step_time_only_equals_the_simulated_step() {
    let moe = ParallelPlan {
        ep: 8,
        ..plan(1, 2, 32, 256, 2048, 0)
    };
    let vp2 = ParallelPlan {
        vp: 2,
        ..plan(2, 4, 8, 64, 4096, 1)
    };
    let zero3_moe = ParallelPlan {
        ep: 8,
        ..plan(1, 2, 32, 256, 2048, 3)
    };
    let hsdp = ParallelPlan {
        hsdp_shard: Some(8),
        ..plan(1, 1, 64, 128, 4096, 3)
    };
    let cp = ParallelPlan {
        cp: 2,
        ..plan(2, 2, 8, 64, 8192, 1)
    };
    let uneven = ParallelPlan {
        layers_per_stage: Some(vec![12, 20]),
        ..plan(4, 2, 8, 64, 4096, 0)
    };
    let cases: Vec<(&str, &str, ParallelPlan, [usize; 5])> = vec![
        (
            "fat-tree:gpus=64",
            "llama-3.1-8b",
            plan(4, 2, 8, 64, 4096, 0),
            train::DEFAULT_ORDER,
        ),
        (
            "fat-tree:gpus=64",
            "llama-3.1-8b",
            plan(2, 2, 16, 64, 4096, 1),
            train::DEFAULT_ORDER,
        ),
        (
            "fat-tree:gpus=64",
            "llama-3.1-8b",
            plan(2, 2, 16, 64, 4096, 0),
            [0, 1, 2, 4, 3],
        ),
        ("fat-tree:gpus=64", "mixtral-8x7b", moe, train::DEFAULT_ORDER),
        ("rail-optimized:gpus=64", "llama-3.1-8b", vp2, train::DEFAULT_ORDER),
        (
            "tpu-v5p-pod:slice=4x4x4",
            "llama-3.1-8b",
            plan(1, 1, 64, 128, 2048, 0),
            train::DEFAULT_ORDER,
        ),
        // ZeRO-3 (dense DP in the backward, expert DP through the DP sync), HSDP, CP, uneven layers.
        (
            "fat-tree:gpus=64",
            "llama-3.1-8b",
            plan(2, 1, 32, 64, 4096, 3),
            train::DEFAULT_ORDER,
        ),
        ("fat-tree:gpus=64", "mixtral-8x7b", zero3_moe, train::DEFAULT_ORDER),
        ("fat-tree:gpus=64", "llama-3.1-8b", hsdp, train::DEFAULT_ORDER),
        ("fat-tree:gpus=64", "llama-3.1-8b", cp, train::DEFAULT_ORDER),
        ("fat-tree:gpus=64", "llama-3.1-8b", uneven, train::DEFAULT_ORDER),
    ];
    // Cases × fidelities whose step-only pricing left a simulated DP sync out.
    let mut skipping = 0;
    for (spec, name, p, order) in cases {
        let f = cluster(spec);
        let m = model(name);
        let cm = train::compute_model_for(f.accel_model).expect("compute model");
        for fidelity in [Fidelity::Flow, Fidelity::Analytical] {
            let o = TrainOptions {
                allow_oom: true,
                ..TrainOptions::new(fidelity)
            };
            let full = train::simulate_ordered(spec, &f, &m, &p, &cm, &o, order)
                .unwrap_or_else(|e| panic!("{spec} {name}: {e}"));
            let only = train::step_time_ordered(&f, &m, &p, &cm, &o, order).unwrap();
            // Not vacuous: off the TPU, the step-time-only pricing really leaves the DP
            // synchronisations unsimulated (0 s) where the report's pricing has them.
            let pl = train::layout::place(&f, &m, &p, order, false).unwrap();
            let opts = train::CommOptions {
                fidelity_checks: false,
                ..fidelity.into()
            };
            let priced = train::comm::price_with(&f, &pl, &m, opts, &mut train::comm::Memo::new()).unwrap();
            let skipped = train::comm::price_with(&f, &pl, &m, opts, &mut train::comm::Memo::step_time_only()).unwrap();
            let torus = spec.starts_with("tpu-");
            if torus {
                assert_eq!(skipped.dp_total.to_bits(), priced.dp_total.to_bits(), "{spec} {name}");
            } else {
                assert_eq!(skipped.dp_total, 0.0, "{spec} {name} {fidelity:?}");
                if priced.dp_total > 0.0 {
                    skipping += 1;
                }
            }
            assert_eq!(
                only.to_bits(),
                full.step_time_s.to_bits(),
                "{spec} {name} {fidelity:?}: {only} vs {}",
                full.step_time_s
            );
        }
    }
    // All but dense ZeRO-3 and HSDP (whose gradients go in the backward) and the TPU slice.
    assert_eq!(skipping, 2 * 8);
}

/// A multi-site `train` run's memory estimate counts the cross-site piece of the DP sync and
/// the single-site baseline that runs beside the step; one site's estimate is unchanged.
#[test]
fn train_memory_estimate_counts_the_baseline() {
    let p = plan(8, 4, 64, 512, 8192, 0);
    let m = model("llama-3.1-70b");
    let one = cluster("fat-tree:gpus=2048");
    for beside in [false, true] {
        assert_eq!(
            train::estimate_train_memory(&one, &m, &p, false, beside),
            train::estimate_memory(&one, &m, &p, false)
        );
    }
    let two = cluster("multi-site:gpus=2048,sites=2,distance_km=400,wan_gbit=3200");
    let flat = train::estimate_memory(&two, &m, &p, false);
    let ring = 2048.0 * 4.0 * train::layout::BYTES_PER_FLOW;
    let after = train::estimate_train_memory(&two, &m, &p, false, false);
    assert_eq!(after.bytes.to_bits(), (flat.bytes + 2.0 * ring).to_bits());
    assert_eq!(after.largest, flat.largest);
    let est = train::estimate_train_memory(&two, &m, &p, false, true);
    let expected = flat.bytes + 2.0 * ring + (flat.bytes - train::layout::BASE_BYTES);
    assert_eq!(est.bytes.to_bits(), expected.to_bits());
    assert!(est.largest.contains("single-site baseline"), "{}", est.largest);
}
