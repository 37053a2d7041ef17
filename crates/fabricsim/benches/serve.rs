//! `fabricsim serve` speed (issue 9's targets, 2 cores):
//! - *window*: a 10-minute simulated window of DeepSeek-R1 on one GB200 NVL72 rack at
//!   saturating load (the built-in disaggregated deployment, 12,288 closed-loop users = every
//!   decode rank's 256-request limit), target ≤ 30 s wall;
//! - *sweep*: a 20-point concurrency sweep of the built-in scenario (60 s windows, on every
//!   core), target ≤ 60 s;
//! - peak resident memory of the process afterwards (target ≤ 2 GiB).
//!
//! Run with `cargo bench -p fabricsim --bench serve`. Under `cargo test --benches` (no
//! `--bench` argument) only a tiny case runs.

use std::time::Instant;

use fabricsim::cluster::{self, Source};
use fabricsim::serve::{self, inputs::ServeInputs};

fn scenario(concurrency: u32, duration: &str) -> serve::ServeScenario {
    let model = workload::registry::get("deepseek-r1").expect("model");
    ServeInputs {
        concurrency: Some(concurrency),
        duration: Some(duration.into()),
        ..ServeInputs::default()
    }
    .scenario(model, None)
    .expect("scenario")
}

/// Peak resident set of this process (Linux `VmHWM`), bytes.
fn peak_rss() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (_, f) = cluster::load(Source::Preset("gb200-nvl72")).expect("cluster");
    if !full {
        let r = serve::run(&scenario(64, "5s"), &f).expect("serve");
        println!("tiny: {:.1} output tokens/s per GPU", r.output_tokens_per_s_per_accel);
        return;
    }
    let t = Instant::now();
    let r = serve::run(&scenario(12_288, "10min"), &f).expect("serve");
    println!(
        "window: 10 min of DeepSeek-R1 on one NVL72 rack, 12,288 users: {:.2} s wall, {} requests, {} events, {:.0} output tokens/s per GPU",
        t.elapsed().as_secs_f64(),
        r.requests_arrived,
        r.events,
        r.output_tokens_per_s_per_accel
    );
    let loads = [
        48, 96, 192, 288, 384, 480, 576, 768, 960, 1152, 1536, 1920, 2304, 2880, 3456, 4096, 4800, 6144, 8192, 12288,
    ];
    let scenarios: Vec<_> = loads.iter().map(|&c| scenario(c, "60s")).collect();
    let t = Instant::now();
    let reps = serve::run_many(&scenarios, &f);
    let ok = reps.iter().filter(|r| r.is_ok()).count();
    println!(
        "sweep: 20 points × 60 s windows: {:.2} s wall ({ok} points, {} threads)",
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    if let Some(b) = peak_rss() {
        println!("peak resident memory: {:.0} MiB", b / 1_048_576.0);
    }
}
