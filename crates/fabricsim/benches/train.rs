//! `fabricsim train` at scale: Llama 3.1 405B, TP 8 · PP 16, seq 8192, MBS 1, flow fidelity, on
//! a 16,384-GPU fat-tree (DP 128, GBS 2048) and a 131,072-GPU fat-tree (DP 1024, GBS 16384).
//! These plans do not fit in 80 GB, so the CLI exits 2 without `--allow-oom`; the library call
//! simulates regardless. Run with `cargo bench -p fabricsim --bench train`; prints the median
//! wall time of 3 runs (fabric construction timed separately). Under `cargo test --benches`
//! (no `--bench` argument) only a tiny case runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

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

fn main() {
    // Under `cargo test --benches` the harness gets no `--bench`; keep it tiny.
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
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
