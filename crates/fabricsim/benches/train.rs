//! `fabricsim train` at scale.
//!
//! **Flow fidelity**: Llama 3.1 405B, TP 8 · PP 16, seq 8192, MBS 1, on a 16,384-GPU fat-tree
//! (DP 128, GBS 2048) and a 131,072-GPU fat-tree (DP 1024, GBS 16384). These plans do not fit
//! in 80 GB, so the CLI exits 2 without `--allow-oom`; the library call simulates regardless.
//! Prints the median wall time of 3 runs (fabric construction timed separately).
//!
//! **Analytical fidelity** (the planner's inner loop, issue 10): SimAI 1.6's analytical example
//! job (`testdata/benchmarks/simai-example-moe.json`, 9,216 H100, TP 2 · PP 12 · EP 16 · DP 384,
//! GBS 9216, seq 4096), two figures:
//! - *process*: what `fabricsim train … --fidelity analytical` does, as library calls — build
//!   the fabric, read the model file, the compute model, simulate (median of 3);
//! - *planner*: one step evaluation with the fabric, model and compute model built, as
//!   `train::simulate_ordered` (median of 3, nothing reused), and a sweep of 8 distinct plans
//!   through one `train::Evaluator` (twice: the second pass finds every collective memoised).
//!
//! The regression figure is the instruction count of the CLI run under callgrind
//! (`scripts/callgrind-analytical.sh`), repeatable on a loaded machine; these are wall times,
//! under the CLI's allocator (mimalloc) as the program the planner runs in.
//!
//! Run with `cargo bench -p fabricsim --bench train` (all) or `… -- analytical` / `… -- flow`.
//! Under `cargo test --benches` (no `--bench` argument) only tiny cases run.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// The allocator of the `fabricsim` binary (`crates/cli/src/main.rs`), which the planner and
/// `train` run in: these figures are that program's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use engine::Fidelity;
use fabricsim::train::{self, TrainOptions};
use workload::{ParallelPlan, Precision, Recompute};

struct Case {
    cluster: &'static str,
    model: &'static str,
    tp: u32,
    pp: u32,
    dp: u32,
    gbs: u32,
    seq: u64,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &Case, runs: usize) {
    let t0 = Instant::now();
    let (_, f) = fabricsim::cluster::load(fabricsim::cluster::Source::Preset(c.cluster)).expect("cluster");
    let build = t0.elapsed();
    let model = workload::registry::lookup(c.model).expect("model");
    let cm = train::compute_model_for(f.accel_model).expect("compute model");
    let plan = ParallelPlan {
        tp: c.tp,
        pp: c.pp,
        dp: c.dp,
        cp: 1,
        ep: 1,
        vp: 1,
        mbs: 1,
        gbs: c.gbs,
        seq: c.seq,
        zero: 1,
        recompute: Recompute::Selective,
        precision: Precision::Bf16,
        sequence_parallel: c.tp > 1,
        tp_comm_overlap: false,
        layers_per_stage: None,
        hsdp_shard: None,
    };
    let opts = TrainOptions {
        fidelity: Fidelity::Flow,
        allow_oom: true,
        full: false,
        in_network: collective::InNetwork::default(),
        moe_imbalance: 1.0,
        cross_site: Default::default(),
    };
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = train::simulate(c.cluster, &f, &model, &plan, &cm, &opts).expect("simulate");
        times.push(t.elapsed());
        last = Some(black_box(r));
    }
    let r = last.unwrap();
    println!(
        "train {} on {} (TP {} PP {} DP {}, GBS {}, seq {}): fabric {:.3} s, simulate median {:.3} s of {runs} \
         (min {:.3} s, max {:.3} s) · step {:.3} s · MFU {:.1} % · fits {}",
        c.model,
        c.cluster,
        c.tp,
        c.pp,
        c.dp,
        c.gbs,
        c.seq,
        build.as_secs_f64(),
        median(times.clone()).as_secs_f64(),
        times.iter().min().unwrap().as_secs_f64(),
        times.iter().max().unwrap().as_secs_f64(),
        r.step_time_s,
        r.mfu * 100.0,
        r.fits
    );
}

/// The SimAI example job's model file (relative to this crate).
const SIMAI_MOE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/benchmarks/simai-example-moe.json"
);

/// A plan of the SimAI job: `train`'s defaults for it (ZeRO-1, no recompute — the least that
/// fits —, BF16, sequence parallel).
fn moe_plan(tp: u32, pp: u32, ep: u32, mbs: u32) -> ParallelPlan {
    ParallelPlan {
        tp,
        pp,
        dp: 9216 / (tp * pp),
        cp: 1,
        ep,
        vp: 1,
        mbs,
        gbs: 9216,
        seq: 4096,
        zero: 1,
        recompute: Recompute::None,
        precision: Precision::Bf16,
        sequence_parallel: tp > 1,
        tp_comm_overlap: false,
        layers_per_stage: None,
        hsdp_shard: None,
    }
}

fn analytical_opts() -> TrainOptions {
    TrainOptions {
        allow_oom: true,
        ..TrainOptions::new(Fidelity::Analytical)
    }
}

/// The CLI run as library calls, from nothing: fabric, model file, compute model, step.
fn analytical_process(cluster: &str, runs: usize, p: &ParallelPlan) {
    let mut times = Vec::new();
    let mut step = 0.0;
    for _ in 0..runs {
        let t = Instant::now();
        let (_, f) = fabricsim::cluster::load(fabricsim::cluster::Source::Preset(cluster)).expect("cluster");
        let text = std::fs::read_to_string(SIMAI_MOE).expect("model file");
        let model = workload::hf::from_hf_config(&text, SIMAI_MOE).expect("model");
        let cm = train::compute_model_for(f.accel_model).expect("compute model");
        let r = train::simulate(cluster, &f, &model, p, &cm, &analytical_opts()).expect("simulate");
        times.push(t.elapsed());
        step = black_box(r).step_time_s;
    }
    println!(
        "analytical process ({cluster}, SimAI MoE TP {} PP {} EP {}): median {:.1} ms of {runs} (min {:.1} ms) · step {step:.4} s",
        p.tp,
        p.pp,
        p.ep,
        median(times.clone()).as_secs_f64() * 1e3,
        times.iter().min().unwrap().as_secs_f64() * 1e3,
    );
}

/// One planner-style evaluation (everything built), then a sweep through one `Evaluator`.
fn analytical_planner(cluster: &str, runs: usize, plans: &[ParallelPlan]) {
    let (_, f) = fabricsim::cluster::load(fabricsim::cluster::Source::Preset(cluster)).expect("cluster");
    let text = std::fs::read_to_string(SIMAI_MOE).expect("model file");
    let model = workload::hf::from_hf_config(&text, SIMAI_MOE).expect("model");
    let cm = train::compute_model_for(f.accel_model).expect("compute model");
    let opts = analytical_opts();
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let r = train::simulate_ordered(cluster, &f, &model, &plans[0], &cm, &opts, train::DEFAULT_ORDER)
            .expect("simulate");
        times.push(t.elapsed());
        black_box(r);
    }
    let one = median(times.clone()).as_secs_f64();
    println!(
        "analytical step evaluation, prebuilt ({cluster}): median {:.1} ms of {runs} (min {:.1} ms) · {:.1} plans/s",
        one * 1e3,
        times.iter().min().unwrap().as_secs_f64() * 1e3,
        1.0 / one
    );
    // As the planner's analytical pass runs it: no fidelity checks (its survivors are re-ranked
    // at flow fidelity), a fresh memo each time, on a worker of a rayon pool (one thread here:
    // the planner's workers each evaluate their own plans, so an evaluation gets one core and
    // does not price its pieces up front on the others as `train` does).
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    // A layout's first evaluation with nothing cached (a fresh evaluator each time): one
    // discarded to warm the process (its first run pays for pages the allocator has not yet
    // touched), then `fresh` timed — the minimum is the figure docs/performance.md compares.
    let fresh = if runs > 1 { 10 } else { 1 };
    let mut times = Vec::new();
    for i in 0..=fresh {
        let mut ev = train::Evaluator::new(&f);
        ev.set_fidelity_checks(false);
        let t = Instant::now();
        let r = one_thread.install(|| {
            ev.simulate_ordered(cluster, &model, &plans[0], &cm, &opts, train::DEFAULT_ORDER)
                .expect("simulate")
        });
        if i > 0 || fresh == 1 {
            times.push(t.elapsed());
        }
        black_box(r);
    }
    let one = median(times.clone()).as_secs_f64();
    println!(
        "analytical step evaluation, prebuilt, no fidelity checks, a fresh evaluator each ({cluster}): median {:.1} ms of {} after a warm-up (min {:.1} ms) · {:.1} plans/s",
        one * 1e3,
        times.len(),
        times.iter().min().unwrap().as_secs_f64() * 1e3,
        1.0 / one
    );
    let mut ev = train::Evaluator::new(&f);
    for pass in ["first", "second"] {
        let t = Instant::now();
        one_thread.install(|| {
            for p in plans {
                black_box(
                    ev.simulate_ordered(cluster, &model, p, &cm, &opts, train::DEFAULT_ORDER)
                        .expect("simulate"),
                );
            }
        });
        let per = t.elapsed().as_secs_f64() / plans.len() as f64;
        println!(
            "analytical sweep through one Evaluator, {} plans, {pass} pass: {:.1} ms per plan · {:.1} plans/s",
            plans.len(),
            per * 1e3,
            1.0 / per
        );
    }
}

/// The planner's throughput on the SimAI job (`model` `None`; else a registry model):
/// `plan::search` of its neighbourhood (`fix` the
/// given dimensions; the rest — CP, VP, micro-batch, recompute, order — searched), analytical
/// final ranking, on a one-thread pool (per core). Everything the search does is counted
/// (enumeration, bounds, the final reports with their fidelity checks) against its analytical
/// evaluations.
fn planner_search(cluster: &str, model: Option<&str>, gbs: u32, fix: &str, runs: usize) {
    use fabricsim::plan;
    let mut job = plan::Job::for_preset(cluster, model.unwrap_or("mixtral-8x7b"), 4096, gbs, None).expect("job");
    if model.is_none() {
        let text = std::fs::read_to_string(SIMAI_MOE).expect("model file");
        job.model = workload::hf::from_hf_config(&text, SIMAI_MOE).expect("model");
        job.model_name = None;
    }
    let name = model.unwrap_or("SimAI MoE");
    let mut cons = plan::Constraints::default();
    cons.fix(fix).expect("fix");
    let opts = plan::SearchOptions {
        top: 1,
        rerank: 1,
        fidelity: Fidelity::Analytical,
        ..Default::default()
    };
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    let mut times = Vec::new();
    let mut evals = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = one_thread
            .install(|| plan::search(&job, &cons, &opts, &|_, _, _| {}))
            .expect("search");
        times.push(t.elapsed());
        evals = out.stats.evaluated_analytical;
    }
    let whole = median(times).as_secs_f64();
    println!(
        "planner search ({cluster}, {name}, --fix {fix}, one thread): {evals} analytical evaluations in {:.2} s (median of {runs}) · {:.1} ms per evaluation · {:.1} plans/s per core",
        whole,
        whole / evals.max(1) as f64 * 1e3,
        evals as f64 / whole
    );
}

fn main() {
    // Under `cargo test --benches` the harness gets no `--bench`; keep it tiny.
    let full = std::env::args().any(|a| a == "--bench");
    let only = |name: &str| {
        let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
        filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
    };
    if !full {
        let small = |tp, pp, ep| ParallelPlan {
            dp: 64 / (tp * pp),
            gbs: 64,
            ..moe_plan(tp, pp, ep, 1)
        };
        analytical_process("fat-tree:gpus=64", 1, &small(2, 4, 8));
        analytical_planner("fat-tree:gpus=64", 1, &[small(2, 4, 8), small(2, 2, 16)]);
        planner_search(
            "fat-tree:gpus=64",
            Some("mixtral-8x7b"),
            256,
            "tp=2,ep=8,zero=1,pp=4",
            1,
        );
        bench(
            &Case {
                cluster: "fat-tree:gpus=64",
                model: "llama-3.1-8b",
                tp: 8,
                pp: 2,
                dp: 4,
                gbs: 16,
                seq: 2048,
            },
            1,
        );
        return;
    }
    if only("analytical") {
        analytical_process("fat-tree:gpus=9216", 3, &moe_plan(2, 12, 16, 1));
        let plans = [
            moe_plan(2, 12, 16, 1),
            moe_plan(2, 12, 16, 2),
            moe_plan(2, 12, 8, 1),
            moe_plan(4, 12, 16, 1),
            moe_plan(2, 24, 16, 1),
            moe_plan(4, 6, 16, 1),
            moe_plan(8, 12, 16, 1),
            moe_plan(2, 8, 16, 1),
        ];
        analytical_planner("fat-tree:gpus=9216", 3, &plans);
        planner_search("fat-tree:gpus=9216", None, 9216, "tp=2,ep=16,zero=1,pp=12", 3);
    }
    if !only("flow") {
        return;
    }
    for c in [
        Case {
            cluster: "fat-tree:gpus=16384",
            model: "llama-3.1-405b",
            tp: 8,
            pp: 16,
            dp: 128,
            gbs: 2048,
            seq: 8192,
        },
        Case {
            cluster: "fat-tree:gpus=131072",
            model: "llama-3.1-405b",
            tp: 8,
            pp: 16,
            dp: 1024,
            gbs: 16384,
            seq: 8192,
        },
    ] {
        bench(&c, 3);
    }
}
