//! The plan search: the pruned search finds the exhaustive search's best plan, the lower bound
//! never exceeds the simulated step, the outcome does not depend on the thread count, and the
//! planner never loses to a published plan that fits.

use engine::Fidelity;
use fabricsim::plan::{self, bound, Constraints, Job, SearchOptions};
use fabricsim::train::{self, TrainOptions};
use proptest::prelude::*;
use workload::{ModelSpec, ParallelPlan, Precision, Recompute};

fn constraints(fix: &str) -> Constraints {
    let mut c = Constraints::default();
    if !fix.is_empty() {
        c.fix(fix).unwrap();
    }
    c
}

/// The pruned and the exhaustive search of `job` under `fix` return the same best plan (same
/// candidate, same step time) at `fidelity`.
fn check_same_best(job: &Job, fix: &str, fidelity: Fidelity) {
    let cons = constraints(fix);
    let pruned = plan::search(
        job,
        &cons,
        &SearchOptions {
            fidelity,
            ..Default::default()
        },
        &|_, _, _| {},
    )
    .unwrap();
    let exhaustive = plan::search(
        job,
        &cons,
        &SearchOptions {
            fidelity,
            exhaustive: true,
            ..Default::default()
        },
        &|_, _, _| {},
    )
    .unwrap();
    let (p, e) = (&pruned.ranked[0], &exhaustive.ranked[0]);
    assert_eq!(
        p.candidate.label(),
        e.candidate.label(),
        "{} on {}: pruned best {} s, exhaustive best {} s",
        job.model.name,
        job.cluster,
        p.report.step_time_s,
        e.report.step_time_s
    );
    assert_eq!(p.report.step_time_s, e.report.step_time_s);
    // The pruned search did prune (or the check says nothing).
    let simulated = pruned.stats.evaluated_analytical + pruned.stats.evaluated_rerank;
    let exhaustive_simulated = exhaustive.stats.evaluated_rerank + exhaustive.stats.evaluated_analytical;
    assert!(
        simulated < exhaustive_simulated,
        "pruned search simulated {simulated} of {exhaustive_simulated}"
    );
}

#[test]
fn pruned_equals_exhaustive_64_gpus_llama_8b_flow() {
    // Every candidate at flow fidelity; micro-batch and sharding fixed to keep the exhaustive
    // run short in debug builds (the space still spans TP, CP, PP, VP, recompute and order).
    let job = Job::for_preset("fat-tree:gpus=64", "llama-3.1-8b", 8192, 128, None).unwrap();
    check_same_best(&job, "mbs=1,zero=1", Fidelity::Flow);
}

#[test]
fn pruned_equals_exhaustive_256_gpus_llama_70b() {
    // Every candidate at analytical fidelity, the sharding fixed to keep it short.
    let job = Job::for_preset("fat-tree:gpus=256", "llama-3.1-70b", 8192, 256, None).unwrap();
    check_same_best(&job, "mbs=1,zero=1", Fidelity::Analytical);
}

#[test]
fn pruned_equals_exhaustive_512_gpus_mixtral() {
    let job = Job::for_preset("fat-tree:gpus=512", "mixtral-8x7b", 4096, 512, None).unwrap();
    check_same_best(&job, "mbs=1,vp=1,zero=1,cp=1", Fidelity::Analytical);
}

#[test]
fn search_does_not_depend_on_the_thread_count() {
    let job = Job::for_preset("fat-tree:gpus=64", "llama-3.1-8b", 8192, 128, None).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let o = plan::search(&job, &Constraints::default(), &SearchOptions::default(), &|_, _, _| {}).unwrap();
            (
                o.ranked
                    .iter()
                    .map(|r| (r.candidate.label(), r.report.step_time_s.to_bits()))
                    .collect::<Vec<_>>(),
                o.stats,
                serde_json::to_string(&o.rejected).unwrap(),
            )
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn planner_never_loses_to_published_plans_cheap_rows() {
    // Rows on ≤ 128 accelerators; the full table: `fabricsim validate --planner`.
    let text = include_str!("../../../testdata/training.csv");
    let only = ["T001", "T002", "T011", "T022", "T050", "T056", "T064", "T067", "T073"];
    let (rows, skipped) = plan::published::compare(text, Some(&only), &SearchOptions::default(), &mut |_, _| {});
    assert!(rows.len() >= 6, "rows planned: {rows:?}, skipped: {skipped:?}");
    for r in &rows {
        assert!(
            !r.planner_loses(),
            "{}: planner {} ({} s) slower than published {} ({} s)",
            r.row_id,
            r.planner_plan,
            r.planner_step_time_s,
            r.published_plan,
            r.published_step_time_s
        );
    }
}

/// A small random dense or MoE model.
fn small_model() -> impl Strategy<Value = ModelSpec> {
    (
        2u32..=12,
        prop::sample::select(vec![4u32, 8, 16]),
        1u64..=4,
        any::<bool>(),
    )
        .prop_map(|(layers, heads, width, moe)| {
            let hidden = heads as u64 * 64 * width;
            let mut m = ModelSpec::gpt("random", layers, hidden, heads, 32000, 2048);
            if moe {
                m.moe = Some(workload::Moe {
                    experts: 8,
                    top_k: 2,
                    expert_ffn: hidden * 2,
                    shared_experts: 0,
                    shared_ffn: hidden * 2,
                    dense_layers: 0,
                });
            }
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// CORRECTNESS of the pruning: the lower bound never exceeds the step time `train`
    /// reports, at flow or analytical fidelity.
    #[test]
    fn bound_never_exceeds_simulated_step(
        model in small_model(),
        cluster in prop::sample::select(vec!["fat-tree:gpus=16", "fat-tree:gpus=32", "fat-tree:gpus=16,oversub=2", "rail-optimized:gpus=32", "dgx-h100"]),
        tp_pow in 0u32..=3,
        pp_pow in 0u32..=2,
        cp_pow in 0u32..=1,
        ep_pow in 0u32..=2,
        vp in 1u32..=3,
        mbs in 1u32..=2,
        mb_per_stage in 1u32..=3,
        zero in prop::sample::select(vec![1u8, 3]),
        recompute in prop::sample::select(vec![Recompute::None, Recompute::Selective, Recompute::Full]),
        dp_order in any::<bool>(),
        seq in prop::sample::select(vec![1024u64, 2048, 4096]),
    ) {
        let (_, f) = fabricsim::cluster::load(fabricsim::cluster::Source::Preset(cluster)).unwrap();
        let world = f.accel_count() as u32;
        let (tp, pp, cp) = (1u32 << tp_pow, 1u32 << pp_pow, 1u32 << cp_pow);
        prop_assume!(world % (tp * pp * cp) == 0);
        let dp = world / (tp * pp * cp);
        let ep = if model.moe.is_some() { (1u32 << ep_pow).min(dp) } else { 1 };
        let vp = if pp > 1 { vp } else { 1 };
        let m = pp * mb_per_stage;
        let plan = ParallelPlan {
            tp, pp, dp, cp, ep, vp, mbs,
            gbs: dp * mbs * m,
            seq,
            zero,
            recompute,
            precision: Precision::Bf16,
            sequence_parallel: tp > 1,
            tp_comm_overlap: false,
            layers_per_stage: None,
            hsdp_shard: None,
        };
        prop_assume!(train::check_plan(&f, &model, &plan).is_ok());
        let cm = train::compute_model_for(f.accel_model).unwrap();
        let b = bound::lower_bound(&model, &cm, &plan);
        let order = if dp_order { [0, 1, 2, 4, 3] } else { train::DEFAULT_ORDER };
        let mut ev = train::Evaluator::new(&f);
        for fidelity in [Fidelity::Flow, Fidelity::Analytical] {
            let mut opts = TrainOptions::new(fidelity);
            opts.allow_oom = true;
            let r = train::simulate_ordered(cluster, &f, &model, &plan, &cm, &opts, order).unwrap();
            prop_assert!(
                b.step_s <= r.step_time_s * (1.0 + 1e-12),
                "bound {} s > {:?} step {} s for {:?}",
                b.step_s, fidelity, r.step_time_s, plan
            );
            // With the TP collectives priced at this fidelity (the planner prices them
            // analytically and compares with analytical steps).
            let tp = ev
                .tp_per_layer(&model, &plan, order, fidelity, collective::InNetwork::default())
                .unwrap();
            let bt = bound::lower_bound_with(&model, &cm, &plan, tp);
            prop_assert!(bt.step_s >= b.step_s * (1.0 - 1e-12), "TP price lowered the bound");
            prop_assert!(
                bt.step_s <= r.step_time_s * (1.0 + 1e-12),
                "bound with TP {} s > {:?} step {} s for {:?}",
                bt.step_s, fidelity, r.step_time_s, plan
            );
            if plan.tp > 1 {
                prop_assert!(tp > 0.0);
            }
            // Evaluations without the fidelity checks give the same step.
            ev.set_fidelity_checks(false);
            let r2 = ev.simulate_ordered(cluster, &model, &plan, &cm, &opts, order).unwrap();
            ev.set_fidelity_checks(true);
            prop_assert_eq!(r2.step_time_s.to_bits(), r.step_time_s.to_bits());
            prop_assert_eq!(r2.mfu.to_bits(), r.mfu.to_bits());
        }
    }
}
