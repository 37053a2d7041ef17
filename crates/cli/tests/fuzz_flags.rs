//! Fuzzing the command line (the robustness issue's last input surface): random combinations
//! of every subcommand's flags with valid, edge and invalid values run the real binary, which
//! must end with exit 0 or 2 within a minute, never panic, and name the problem on stderr when
//! it refuses. Bounded for CI (`FABRICSIM_FUZZ_SCALE=N` runs N times more).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "8",
    "16",
    "-1",
    "99999999999",
    "abc",
    "1e9",
    "",
    "2.5",
];
const CLUSTERS: &[&str] = &[
    "dgx-h100",
    "fat-tree:gpus=64",
    "hgx:gpu=a100",
    "gb200-nvl72",
    "tpu-v5e-pod:slice=4x4",
    "mi300x-node",
    "no-such",
    "fat-tree:gpus=abc",
];
const MODELS: &[&str] = &["llama-3.1-8b", "mixtral-8x7b", "megatron-gpt-1.7b", "no-such-model"];

fn pick<'a>(v: &'a [&'a str], i: usize) -> &'a str {
    v[i % v.len()]
}

/// A random command line from indices.
fn command(kind: usize, picks: &[usize]) -> Vec<String> {
    let mut it = picks.iter().copied().cycle();
    let mut next = || it.next().unwrap_or(0);
    let num = |i: usize| pick(NUMBERS, i).to_string();
    let mut a: Vec<String> = Vec::new();
    let flags = |a: &mut Vec<String>, names: &[&str], next: &mut dyn FnMut() -> usize| {
        for _ in 0..(next() % 5) {
            let f = pick(names, next());
            a.push(f.to_string());
            a.push(num(next()));
        }
    };
    match kind % 4 {
        0 => {
            a.extend(["train".into(), "--cluster".into(), pick(CLUSTERS, next()).into()]);
            a.extend(["--model".into(), pick(MODELS, next()).into()]);
            flags(
                &mut a,
                &[
                    "--tp", "--pp", "--dp", "--cp", "--ep", "--vp", "--gbs", "--mbs", "--zero", "--gpus",
                ],
                &mut next,
            );
            a.extend(["--seq".into(), pick(&["512", "2048", "0", "-5"], next()).into()]);
            if next() % 2 == 0 {
                a.extend([
                    "--fidelity".into(),
                    pick(&["flow", "analytical", "exact"], next()).into(),
                ]);
            }
            if next() % 3 == 0 {
                a.extend(["--precision".into(), pick(&["bf16", "fp8", "fp4"], next()).into()]);
            }
            if next() % 3 == 0 {
                a.extend([
                    "--layers-per-stage".into(),
                    pick(&["16,16", "8,8,8,8", "0,32", "x"], next()).into(),
                ]);
            }
            a.push("--allow-oom".into());
            // Issue 8, parts 4–5 (drawn last, so the earlier draws of a command are unchanged).
            if next() % 3 == 0 {
                a.extend([
                    "--framework".into(),
                    pick(
                        &["megatron", "torchtitan", "torchtitan-compile", "maxtext", "jax"],
                        next(),
                    )
                    .into(),
                ]);
            }
            if next() % 4 == 0 {
                a.extend(["--hsdp-shard".into(), num(next())]);
            }
            if next() % 5 == 0 {
                a.push("--fsdp".into());
            }
        }
        1 => {
            a.extend(["collective".into(), "--cluster".into(), pick(CLUSTERS, next()).into()]);
            a.extend([
                "--op".into(),
                pick(
                    &[
                        "all_reduce",
                        "all_to_all",
                        "all_gather",
                        "broadcast",
                        "nope",
                        "moe_dispatch",
                        "moe_combine",
                    ],
                    next(),
                )
                .into(),
            ]);
            flags(
                &mut a,
                &["--ranks", "--channels", "--tokens", "--topk", "--experts", "--hidden"],
                &mut next,
            );
            if next() % 3 == 0 {
                a.extend([
                    "--kernel".into(),
                    pick(&["normal", "low-latency", "fast"], next()).into(),
                ]);
            }
            a.extend([
                "--size".into(),
                pick(&["1M", "0", "8", "1Q", "-1", "64G"], next()).into(),
            ]);
            if next() % 2 == 0 {
                a.extend([
                    "--algo".into(),
                    pick(&["ring", "Tree", "NVLS", "PAT", "magic"], next()).into(),
                ]);
            }
            if next() % 3 == 0 {
                a.extend([
                    "--proto".into(),
                    pick(&["LL", "ll128", "Simple", "LL256"], next()).into(),
                ]);
            }
            if next() % 3 == 0 {
                a.extend([
                    "--placement".into(),
                    pick(&["packed", "scattered", "scattered:7", "scattered:x"], next()).into(),
                ]);
            }
            if next() % 3 == 0 {
                a.extend([
                    "--routing".into(),
                    pick(&["ecmp", "adaptive", "spray", "Spray"], next()).into(),
                ]);
            }
        }
        2 => {
            a.extend([
                "nccl-tests".into(),
                pick(
                    &[
                        "all_reduce_perf",
                        "alltoall_perf",
                        "reduce_scatter_perf",
                        "sendrecv_perf",
                        "x_perf",
                    ],
                    next(),
                )
                .into(),
            ]);
            a.extend(["--cluster".into(), pick(CLUSTERS, next()).into()]);
            a.extend(["-b".into(), pick(&["8", "1M", "1Q", "0"], next()).into()]);
            a.extend(["-e".into(), pick(&["8", "16M", "1G", "-1"], next()).into()]);
            flags(&mut a, &["-f", "-g", "-t", "-N", "--np", "-r"], &mut next);
            if next() % 2 == 0 {
                a.extend(["-d".into(), pick(&["float", "bfloat16", "int3", "all"], next()).into()]);
            }
        }
        _ => {
            a.extend(["topo".into(), pick(CLUSTERS, next()).into()]);
            if next() % 2 == 0 {
                a.extend(["--pue".into(), pick(&["1.3", "0.5", "-1", "nan", "3"], next()).into()]);
            }
        }
    }
    if next() % 2 == 0 {
        a.push("--json".into());
    }
    a
}

fn run(args: &[String]) -> Option<(Option<i32>, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fabricsim");
    let mut err = child.stderr.take().unwrap();
    let t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return Some((s.code(), t.join().unwrap()));
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn random_command_lines_exit_0_or_2_without_panic() {
    let scale: u32 = std::env::var("FABRICSIM_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut runner = TestRunner::new(Config {
        cases: 64 * scale.max(1),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0usize..4, prop::collection::vec(0usize..1000, 8..24));
    runner
        .run(&strategy, |(kind, picks)| {
            let args = command(kind, &picks);
            let Some((code, err)) = run(&args) else {
                return Err(TestCaseError::fail(format!("{args:?}: still running after 60 s")));
            };
            prop_assert!(!err.contains("panicked"), "{args:?}: {err}");
            prop_assert!(code == Some(0) || code == Some(2), "{args:?}: exit {code:?}: {err}");
            if code == Some(2) {
                prop_assert!(err.trim().len() > 10, "{args:?}: no message");
            }
            Ok(())
        })
        .unwrap();
}
