//! Collective-layer benchmarks, timed with `std::time::Instant` (no criterion/divan in the
//! local registry). `cargo bench -p collective` runs the full sizes; `cargo test --benches`
//! (no `--bench` argument) runs the same code on small fabrics so it stays cheap.
//!
//! (a) one 1 GiB all_reduce over every GPU of `fat-tree:gpus=131072`, flow fidelity, algorithm
//!     chosen like NCCL (= `fabricsim collective --cluster fat-tree:gpus=131072 --op all_reduce
//!     --size 1G --fidelity flow --json`);
//! (b) all_to_all in EP groups of 64 on `fat-tree:gpus=8192`, all 128 groups at once in one
//!     engine run (`run_groups`, direct algorithm: 128 × 64 × 63 = 516,096 flows);
//! (c) the default size sweep (8 B … 8 GiB) of all_reduce on `fat-tree:gpus=1024`;
//! (d) one all_to_all over every GPU of `fat-tree:gpus=2048`, flow fidelity (= `fabricsim
//!     collective --cluster fat-tree:gpus=2048 --op all_to_all --size 1M`: one phase of
//!     4,192,256 flows), with the memory estimate of `collective::memory` beside it.
//!
//! `cargo bench -p collective -- b` runs only (b) (any of a, b, c, d).

use collective::simulate::run_sizes;
use collective::{estimate_memory_bytes, run_groups, simulate, Algo, Op, Options};
use fabric::presets::build_preset;
use std::hint::black_box;
use std::time::Instant;

fn time<T>(label: &str, reps: usize, mut f: impl FnMut() -> T) -> T {
    let mut out = None;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        out = Some(black_box(f()));
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{label:<60} min {:>9.3} s  median {:>9.3} s  ({reps} runs)",
        times[0],
        times[times.len() / 2]
    );
    out.unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let picked: Vec<&str> = args
        .iter()
        .map(|s| s.as_str())
        .filter(|a| matches!(*a, "a" | "b" | "c" | "d"))
        .collect();
    let run = |k: &str| picked.is_empty() || picked.contains(&k);
    let (gpus_a, gpus_b, gpus_c, gpus_d, reps) = if full {
        (131072u32, 8192u32, 1024u32, 2048u32, 3)
    } else {
        (1024, 512, 64, 256, 1)
    };
    let g = 1073741824.0;

    if run("a") {
        bench_a(gpus_a, reps, g);
    }
    if run("b") {
        bench_b(gpus_b, reps, g);
    }
    if run("c") {
        bench_c(gpus_c, reps);
    }
    if run("d") {
        bench_d(gpus_d, 1);
    }
}

fn bench_d(gpus_d: u32, reps: usize) {
    let spec = format!("fat-tree:gpus={gpus_d}");
    let f = build_preset(&spec).unwrap().1;
    let ranks: Vec<u32> = (0..gpus_d).collect();
    let r = time(&format!("(d) all_to_all 1 MiB, {gpus_d} ranks, flow"), reps, || {
        simulate(&f, &ranks, Op::AllToAll, 1048576.0, None, Options::default()).unwrap()
    });
    let mem = estimate_memory_bytes(&f, &ranks, Op::AllToAll, None, Options::default()).unwrap();
    println!(
        "    → {}: {:.1} µs, busbw {:.1} GB/s, {} flows, memory estimate {:.0} MB",
        r.algo,
        r.time_s * 1e6,
        r.busbw_bytes_per_s / 1e9,
        r.flows,
        mem as f64 / 1e6
    );
}

fn bench_a(gpus_a: u32, reps: usize, g: f64) {
    let spec = format!("fat-tree:gpus={gpus_a}");
    let f = time(&format!("build {spec}"), reps, || build_preset(&spec).unwrap().1);
    let ranks: Vec<u32> = (0..gpus_a).collect();
    let r = time(&format!("(a) all_reduce 1 GiB, {gpus_a} ranks, flow"), reps, || {
        simulate(&f, &ranks, Op::AllReduce, g, None, Options::default()).unwrap()
    });
    println!(
        "    → {} / {:?}: {:.1} µs, busbw {:.1} GB/s, {} flows",
        r.algo,
        r.protocol,
        r.time_s * 1e6,
        r.busbw_bytes_per_s / 1e9,
        r.flows
    );
}

fn bench_b(gpus_b: u32, reps: usize, g: f64) {
    let spec = format!("fat-tree:gpus={gpus_b}");
    let f = build_preset(&spec).unwrap().1;
    let groups: Vec<Vec<u32>> = (0..gpus_b / 64).map(|k| (k * 64..k * 64 + 64).collect()).collect();
    let r = time(
        &format!("(b) all_to_all 1 GiB, {} EP groups of 64, {gpus_b} GPUs", groups.len()),
        reps,
        || run_groups(&f, &groups, Op::AllToAll, g, Some(Algo::Direct), Options::default()).unwrap(),
    );
    println!(
        "    → {:.1} µs, busbw {:.1} GB/s per group, {} flows",
        r.time_s * 1e6,
        r.busbw_bytes_per_s / 1e9,
        r.flows
    );
}

fn bench_c(gpus_c: u32, reps: usize) {
    let spec = format!("fat-tree:gpus={gpus_c}");
    let f = build_preset(&spec).unwrap().1;
    let ranks: Vec<u32> = (0..gpus_c).collect();
    let sizes: Vec<f64> = (3..=33).map(|k| (1u64 << k) as f64).collect();
    let rows = time(
        &format!("(c) all_reduce default sweep (31 sizes), {gpus_c} ranks"),
        reps.max(5),
        || run_sizes(&f, &ranks, Op::AllReduce, &sizes, None, Options::default()).unwrap(),
    );
    let last = rows.last().unwrap();
    println!(
        "    → 8 GiB: {} busbw {:.1} GB/s",
        last.algo,
        last.busbw_bytes_per_s / 1e9
    );
}
