//! The compute model: fitted efficiency rules against the measured H100 kernel table.
//!
//! `cargo test -p workload --test compute fit_quality -- --nocapture` prints the fit-quality
//! table of docs/compute-model.md.

use workload::compute::{
    error_stats, reference_flops, Accel, ComputeModel, EfficiencyTable, ErrorStats, GemmRule, H100_ATTENTION_CSV,
    H100_GEMM_CSV, H100_MEMORY_CSV,
};
use workload::flops::{MemoryOp, OpDesc, OpKind, Pass};
use workload::{Precision, WorkloadError};

const PASSES: [Pass; 3] = [Pass::Fwd, Pass::Dgrad, Pass::Wgrad];

fn gemm_op(m: u64, n: u64, k: u64, pass: Pass) -> OpDesc {
    OpDesc {
        name: "gemm",
        kind: OpKind::Gemm { m, n, k, pass },
        flops: 2.0 * m as f64 * n as f64 * k as f64,
        bytes: 2.0 * (m * k + n * k + m * n) as f64,
    }
}

fn refit() -> EfficiencyTable {
    EfficiencyTable::from_csv(
        H100_GEMM_CSV,
        Some(H100_ATTENTION_CSV),
        Some(H100_MEMORY_CSV),
        "h100 refit",
    )
    .unwrap()
}

/// Keep the header and the data lines (0-based data index `j`) for which `keep` holds.
fn filter_csv(text: &str, keep: impl Fn(usize, &str) -> bool) -> String {
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for (j, l) in lines.enumerate() {
        if keep(j, l) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

fn model_of(line: &str) -> &str {
    line.split(',').nth(6).unwrap()
}

fn stats_of(t: &EfficiencyTable, csv: &str, p: Precision, uncensored_only: bool) -> ErrorStats {
    let errs = t.gemm_errors(csv, "check").unwrap();
    error_stats(
        errs.iter()
            .filter(|e| e.precision == p && !(uncensored_only && e.censored))
            .map(|e| e.rel_err),
    )
}

fn line(label: &str, s: ErrorStats) -> String {
    format!(
        "| {label:<44} | {:>5} | {:>6.1}% | {:>6.1}% | {:>7.1}% |",
        s.n,
        100.0 * s.median,
        100.0 * s.p90,
        100.0 * s.max
    )
}

#[test]
fn fit_quality() {
    let t = EfficiencyTable::default_h100();
    let r = refit();
    println!("refit bf16: {:?}", r.bf16);
    println!("refit fp8:  {:?}", r.fp8);
    println!("refit attention: {:?}", r.attention);
    println!("refit attention alt: {:?}", r.attention_alt);
    println!("refit memory: {:?}", r.memory);
    println!("| rows                                         |     n | median  |   p90   |   max    |");
    println!("|----------------------------------------------|-------|---------|---------|----------|");
    let mut bounds = Vec::new();
    for (p, name) in [(Precision::Bf16, "bf16"), (Precision::Fp8, "fp8_e4m3")] {
        let all = stats_of(&t, H100_GEMM_CSV, p, false);
        let unc = stats_of(&t, H100_GEMM_CSV, p, true);
        println!("{}", line(&format!("GEMM {name}, all rows"), all));
        println!("{}", line(&format!("GEMM {name}, excluding host-floor rows"), unc));
        for pass in PASSES {
            let errs = t.gemm_errors(H100_GEMM_CSV, "check").unwrap();
            let s = error_stats(
                errs.iter()
                    .filter(|e| e.precision == p && e.pass == pass)
                    .map(|e| e.rel_err),
            );
            println!("{}", line(&format!("GEMM {name} {pass:?}"), s));
        }
        bounds.push((name, all));
    }
    // Held out 1: fit on half of the shapes (alternate shape pairs), check the other half.
    let train = filter_csv(H100_GEMM_CSV, |j, _| (j / 2) % 2 == 0);
    let test = filter_csv(H100_GEMM_CSV, |j, _| (j / 2) % 2 == 1);
    let half = EfficiencyTable::from_csv(&train, None, None, "even shapes").unwrap();
    // Held out 2: fit on some model families, check on the others.
    let held = ["nemotron-4-340b", "qwen2.5-72b", "deepseek-v3"];
    let train_f = filter_csv(H100_GEMM_CSV, |_, l| !held.contains(&model_of(l)));
    let test_f = filter_csv(H100_GEMM_CSV, |_, l| held.contains(&model_of(l)));
    let fam = EfficiencyTable::from_csv(&train_f, None, None, "families").unwrap();
    for (p, name) in [(Precision::Bf16, "bf16"), (Precision::Fp8, "fp8_e4m3")] {
        let s = stats_of(&half, &test, p, false);
        println!("{}", line(&format!("held out: odd shapes, GEMM {name}"), s));
        bounds.push(("held-out shapes", s));
        let s = stats_of(&fam, &test_f, p, false);
        println!("{}", line(&format!("held out: nemotron/qwen/deepseek, {name}"), s));
        bounds.push(("held-out families", s));
    }
    for backend in ["cudnn", "flash"] {
        let errs = r.attention_errors(H100_ATTENTION_CSV, backend, "check").unwrap();
        for bwd in [false, true] {
            let s = error_stats(errs.iter().filter(|e| e.0 == bwd).map(|e| e.1));
            println!(
                "{}",
                line(&format!("attention {backend} {}", if bwd { "bwd" } else { "fwd" }), s)
            );
            bounds.push((if bwd { "attention bwd" } else { "attention fwd" }, s));
        }
    }
    // Bounds slightly above what was measured (docs/compute-model.md), so a worse rule fails.
    for (label, s) in bounds {
        let (med, p90) = match label {
            "bf16" => (0.022, 0.062),
            "fp8_e4m3" => (0.028, 0.077),
            "held-out shapes" => (0.031, 0.090),
            "held-out families" => (0.035, 0.092),
            "attention fwd" => (0.047, 0.072),
            "attention bwd" => (0.036, 0.126),
            _ => unreachable!(),
        };
        assert!(
            s.median <= med && s.p90 <= p90,
            "{label}: {s:?} above median {med} / p90 {p90}"
        );
    }
}

/// The rows of the embedded gemm.csv as (dtype, pass, M, N, K, time_us).
fn gemm_rows() -> Vec<(Precision, Pass, u64, u64, u64, f64)> {
    H100_GEMM_CSV
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let p = if f[1] == "bf16" {
                Precision::Bf16
            } else {
                Precision::Fp8
            };
            let pass = match f[2] {
                "fwd" => Pass::Fwd,
                "dgrad" => Pass::Dgrad,
                _ => Pass::Wgrad,
            };
            (
                p,
                pass,
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
                f[10].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn op_time_reproduces_measured_gemm_times() {
    let cm = ComputeModel::h100();
    for p in [Precision::Bf16, Precision::Fp8] {
        let errs = gemm_rows()
            .into_iter()
            .filter(|r| r.0 == p)
            .map(|(_, pass, m, n, k, t_us)| {
                let mut op = gemm_op(m, n, k, pass);
                if p == Precision::Fp8 {
                    op.bytes = (m * k + n * k + 2 * m * n) as f64; // FP8 inputs, BF16 output
                }
                cm.op_time(&op, p) / (t_us * 1e-6) - 1.0
            });
        let s = error_stats(errs);
        println!("{p:?} op_time vs measured: {s:?}");
        assert_eq!(s.n, 1066);
        let (med, p90) = if p == Precision::Bf16 {
            (0.022, 0.062)
        } else {
            (0.028, 0.077)
        };
        assert!(s.median <= med && s.p90 <= p90, "{p:?}: {s:?}");
    }
}

#[test]
fn bigger_gemms_are_never_less_efficient() {
    let t = EfficiencyTable::default_h100();
    let dims: Vec<f64> = (6..=17).map(|e| 2f64.powi(e)).collect(); // 64 … 131072
    for (rule, name) in [(&t.bf16, "bf16"), (t.fp8.as_ref().unwrap(), "fp8")] {
        // Efficiency peaks in K at sqrt(k0·long_k) (FP8's long-reduction penalty; ∞ for BF16).
        let k_peak = (rule.k0 * rule.long_k).sqrt();
        assert!(k_peak > 8192.0, "{name}: efficiency falls from K = {k_peak}");
        for pass in PASSES {
            for &m in &dims {
                for &n in &dims {
                    for &k in &dims {
                        let e = rule.efficiency(m, n, k, pass);
                        assert!(e > 0.0 && e < 0.75, "{name} {m} {n} {k}: {e}");
                        assert!(rule.efficiency(2.0 * m, n, k, pass) >= e, "{name}: M {m} {n} {k}");
                        assert!(rule.efficiency(m, 2.0 * n, k, pass) >= e, "{name}: N {m} {n} {k}");
                        if 2.0 * k <= k_peak {
                            assert!(rule.efficiency(m, n, 2.0 * k, pass) >= e, "{name}: K {m} {n} {k}");
                        }
                    }
                }
            }
            // Every GEMM with all dimensions in 4096…131072 beats every one with all dimensions ≤ 1024.
            let big: Vec<f64> = dims.iter().copied().filter(|d| *d >= 4096.0).collect();
            let mut min_big = f64::INFINITY;
            for &m in &big {
                for &n in &big {
                    for &k in &big {
                        min_big = min_big.min(rule.efficiency(m, n, k, pass));
                    }
                }
            }
            let tiny: Vec<f64> = dims.iter().copied().filter(|d| *d <= 1024.0).collect();
            let mut max_tiny: f64 = 0.0;
            for &m in &tiny {
                for &n in &tiny {
                    for &k in &tiny {
                        max_tiny = max_tiny.max(rule.efficiency(m, n, k, pass));
                    }
                }
            }
            assert!(min_big > max_tiny, "{name} {pass:?}: big {min_big} vs tiny {max_tiny}");
        }
    }
}

#[test]
fn fp8_is_faster_than_bf16_for_large_gemms_but_less_than_twice() {
    let cm = ComputeModel::h100();
    for (m, n, k) in [
        (8192, 8192, 8192),
        (16384, 53248, 16384),
        (8192, 28672, 8192),
        (16384, 16384, 4096),
        (8192, 8192, 128256),
    ] {
        for pass in PASSES {
            let op = gemm_op(m, n, k, pass);
            let ratio = cm.op_time(&op, Precision::Bf16) / cm.op_time(&op, Precision::Fp8);
            assert!(
                ratio > 1.3 && ratio < 2.0,
                "{m}x{n}x{k} {pass:?}: BF16/FP8 time {ratio}"
            );
        }
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

fn same_gemm_rule(a: &GemmRule, b: &GemmRule) {
    for i in 0..3 {
        assert!(close(a.e_max[i], b.e_max[i], 1e-3), "e_max {a:?} vs {b:?}");
    }
    assert!(
        close(a.m0, b.m0, 1e-3) && close(a.n0, b.n0, 1e-3) && close(a.k0, b.k0, 1e-3),
        "{a:?} vs {b:?}"
    );
    // The long-K penalty at the longest measured reduction (256,000).
    assert!(
        (256_000.0 / a.long_k - 256_000.0 / b.long_k).abs() < 1e-3,
        "{a:?} vs {b:?}"
    );
    assert_eq!((a.rows, a.censored), (b.rows, b.censored));
}

#[test]
fn refit_of_embedded_data_gives_the_default_parameters() {
    let d = EfficiencyTable::default_h100();
    let r = refit();
    same_gemm_rule(&d.bf16, &r.bf16);
    same_gemm_rule(d.fp8.as_ref().unwrap(), r.fp8.as_ref().unwrap());
    for (a, b) in [
        (&d.attention, &r.attention),
        (d.attention_alt.as_ref().unwrap(), r.attention_alt.as_ref().unwrap()),
    ] {
        assert_eq!((&a.backend, a.rows), (&b.backend, b.rows));
        for (x, y) in [(&a.fwd, &b.fwd), (&a.bwd, &b.bwd)] {
            assert!(
                close(x.e_max, y.e_max, 1e-3) && close(x.s0, y.s0, 1e-3) && close(x.u0, y.u0, 1e-3),
                "{x:?} {y:?}"
            );
            assert!((x.gamma - y.gamma).abs() < 1e-3, "{x:?} {y:?}");
        }
    }
    let (a, b) = (&d.memory, &r.memory);
    for (x, y) in [
        (a.norm, b.norm),
        (a.elementwise, b.elementwise),
        (a.copy, b.copy),
        (a.cross_entropy, b.cross_entropy),
        (a.optimizer, b.optimizer),
    ] {
        assert!(close(x, y, 1e-3), "memory {a:?} vs {b:?}");
    }
    assert_eq!(r.device, "h100 refit");
}

#[test]
fn default_table_names_what_was_measured() {
    let t = EfficiencyTable::default_h100();
    assert!(
        t.device.contains("NVIDIA H100 80GB HBM3") && t.device.contains("132 SMs"),
        "{}",
        t.device
    );
    assert_eq!(t.measured, "2026-11-23");
    assert!(t.fit.contains("2026-11-29"));
    assert_eq!(t.attention.backend, "cudnn");
}

fn expect_err(r: Result<EfficiencyTable, WorkloadError>, needles: &[&str]) {
    let msg = r.expect_err("malformed calibration accepted").to_string();
    for n in needles {
        assert!(msg.contains(n), "`{msg}` does not mention `{n}`");
    }
}

#[test]
fn malformed_csv_gives_a_clear_error() {
    let header = H100_GEMM_CSV.lines().next().unwrap();
    let good: Vec<&str> = H100_GEMM_CSV.lines().skip(1).take(20).collect();
    let with = |i: usize, bad: &str| {
        let mut lines = vec![header.to_string()];
        lines.extend(good.iter().map(|s| s.to_string()));
        lines[i] = bad.to_string();
        lines.join("\n")
    };
    // Line 4 of the file (header = line 1): a non-number M.
    let bad_m = with(
        3,
        "gemm,bf16,dgrad,4O96,4096,6144,llama-3.1-8b,qkv,1,4096,293.93,292.62,86,701.4,0.7089,",
    );
    expect_err(
        EfficiencyTable::from_csv(&bad_m, None, None, "my-gpu"),
        &["my-gpu", "gemm.csv line 4", "`M`", "4O96"],
    );
    let short = with(7, "gemm,bf16,fwd,1,2");
    expect_err(
        EfficiencyTable::from_csv(&short, None, None, "my-gpu"),
        &["my-gpu", "gemm.csv line 8", "found 5"],
    );
    let dtype = with(
        2,
        "gemm,fp16,fwd,4096,6144,4096,llama-3.1-8b,qkv,1,4096,164.13,163.45,134,1256.1,0.6347,",
    );
    expect_err(
        EfficiencyTable::from_csv(&dtype, None, None, "my-gpu"),
        &["gemm.csv line 3", "dtype", "fp16"],
    );
    let negative = with(
        5,
        "gemm,bf16,fwd,4096,6144,4096,llama-3.1-8b,qkv,1,4096,-1,163.45,134,1256.1,0.6347,",
    );
    expect_err(
        EfficiencyTable::from_csv(&negative, None, None, "my-gpu"),
        &["gemm.csv line 6", "time_us", "positive"],
    );
    let no_col = H100_GEMM_CSV.replacen("frac_of_peak", "fraction", 1);
    expect_err(
        EfficiencyTable::from_csv(&no_col, None, None, "my-gpu"),
        &["my-gpu", "gemm.csv", "frac_of_peak"],
    );
    expect_err(
        EfficiencyTable::from_csv("", None, None, "my-gpu"),
        &["my-gpu", "gemm.csv", "empty"],
    );
    let few = H100_GEMM_CSV.lines().take(13).collect::<Vec<_>>().join("\n");
    expect_err(
        EfficiencyTable::from_csv(&few, None, None, "my-gpu"),
        &["my-gpu", "6 usable bf16 rows", "8"],
    );
    let att = H100_ATTENTION_CSV.replacen("attention,cudnn,4,2048,4,1,128", "attention,cudnn,4,2048,x,1,128", 1);
    expect_err(
        EfficiencyTable::from_csv(H100_GEMM_CSV, Some(&att), None, "my-gpu"),
        &["my-gpu", "attention.csv line 2", "q_heads"],
    );
    let mem = H100_MEMORY_CSV.replacen("copy,4096x4096,67108864", "copy,4096x4096,lots", 1);
    expect_err(
        EfficiencyTable::from_csv(H100_GEMM_CSV, None, Some(&mem), "my-gpu"),
        &["memory.csv line 2", "bytes"],
    );
    // Error rows (a kernel that failed to run) are skipped, not errors.
    let errored = with(
        1,
        "gemm,bf16,fwd,4096,6144,4096,llama-3.1-8b,qkv,1,4096,,,,,,\"RuntimeError: out of memory, sorry\"",
    );
    assert!(EfficiencyTable::from_csv(&errored, None, None, "my-gpu").is_ok());
}

#[test]
fn memory_op_time_is_bytes_over_fraction_of_bandwidth() {
    let cm = ComputeModel::h100();
    for what in [
        MemoryOp::Norm,
        MemoryOp::Elementwise,
        MemoryOp::Copy,
        MemoryOp::CrossEntropy,
        MemoryOp::Optimizer,
    ] {
        let op = OpDesc {
            name: "mem",
            kind: OpKind::Memory { what },
            flops: 1e9,
            bytes: 3e9,
        };
        let frac = cm.table.memory.get(what);
        assert!(frac > 0.0 && frac < 1.0);
        assert_eq!(cm.efficiency(&op, Precision::Bf16), frac);
        let want = 3e9 / (frac * 3.35e12);
        for p in [Precision::Bf16, Precision::Fp8] {
            assert!(close(cm.op_time(&op, p), want, 1e-12), "{what:?}");
        }
    }
    // The measured fractions (memory.csv): copy ≈ 0.79–0.89, add ≈ 0.83–0.91, norms 0.52–0.69,
    // fused AdamW ≈ 0.75–0.78 of 3.35 TB/s.
    let m = &cm.table.memory;
    assert!(m.copy > 0.79 && m.copy < 0.89 && m.elementwise > 0.83 && m.elementwise < 0.91);
    assert!(m.norm > 0.52 && m.norm < 0.69 && m.optimizer > 0.75 && m.optimizer < 0.79);
    // Fused AdamW on 2³⁰ parameters (28 bytes each): 11.5 ms measured.
    let bytes = 28.0 * 2f64.powi(30);
    let adam = OpDesc {
        name: "adamw",
        kind: OpKind::Memory {
            what: MemoryOp::Optimizer,
        },
        flops: 0.0,
        bytes,
    };
    assert!(close(cm.op_time(&adam, Precision::Bf16), 11.5e-3, 0.03));
    // Cross-entropy fwd+bwd on 8192 × 128256 fp32 logits: 19.9 ms measured.
    let ce = OpDesc {
        name: "ce",
        kind: OpKind::Memory {
            what: MemoryOp::CrossEntropy,
        },
        flops: 0.0,
        bytes: workload::compute::CROSS_ENTROPY_BYTES_PER_LOGIT * 8192.0 * 128256.0,
    };
    assert!(close(cm.op_time(&ce, Precision::Bf16), 19.87e-3, 0.02));
}

fn attention_op(seq: u64, heads: u64, kv_heads: u64, backward: bool) -> OpDesc {
    let kind = OpKind::Attention {
        batch: 1,
        heads,
        kv_heads,
        seq_q: seq,
        seq_kv: seq,
        head_dim_qk: 128,
        head_dim_v: 128,
        causal: true,
        backward,
    };
    OpDesc {
        name: "attention",
        flops: reference_flops(&kind).unwrap(),
        kind,
        bytes: 0.0,
    }
}

#[test]
fn attention_stays_bf16_and_matches_the_cudnn_measurements() {
    let cm = ComputeModel::h100();
    // cuDNN, batch 1, seq 8192, 32 query / 8 kv heads, d 128: 899.0 µs forward, 2744.1 µs backward.
    let (f, b) = (attention_op(8192, 32, 8, false), attention_op(8192, 32, 8, true));
    assert!(
        close(cm.op_time(&f, Precision::Bf16), 899.0e-6, 0.08),
        "{}",
        cm.op_time(&f, Precision::Bf16)
    );
    assert!(
        close(cm.op_time(&b, Precision::Bf16), 2744.1e-6, 0.08),
        "{}",
        cm.op_time(&b, Precision::Bf16)
    );
    for op in [&f, &b] {
        assert_eq!(cm.op_time(op, Precision::Fp8), cm.op_time(op, Precision::Bf16));
        assert_eq!(cm.peak(op, Precision::Fp8), 989.4e12);
    }
    // Longer sequences and more heads are never less efficient.
    let mut last = 0.0;
    for s in [1024, 2048, 4096, 8192, 16384, 32768, 65536] {
        let e = cm.efficiency(&attention_op(s, 8, 1, true), Precision::Bf16);
        assert!(e >= last && e < 0.65, "seq {s}: {e}");
        last = e;
    }
    // FLOP accounting: causal is half of full, backward 2.5 × forward.
    let full = OpKind::Attention {
        batch: 2,
        heads: 4,
        kv_heads: 4,
        seq_q: 1024,
        seq_kv: 1024,
        head_dim_qk: 128,
        head_dim_v: 128,
        causal: false,
        backward: false,
    };
    let fl = reference_flops(&full).unwrap();
    assert_eq!(fl, 4.0 * 2.0 * 4.0 * 1024.0 * 1024.0 * 128.0);
    let causal_bwd = OpKind::Attention {
        batch: 2,
        heads: 4,
        kv_heads: 4,
        seq_q: 1024,
        seq_kv: 1024,
        head_dim_qk: 128,
        head_dim_v: 128,
        causal: true,
        backward: true,
    };
    assert_eq!(reference_flops(&causal_bwd).unwrap(), fl * 0.5 * 2.5);
}

#[test]
fn other_accelerators_use_the_same_rule_on_their_own_peaks() {
    let h100 = ComputeModel::h100();
    let a100 = ComputeModel::from_peaks("A100-SXM-80GB", 312e12, None, 2.039e12);
    let op = gemm_op(8192, 8192, 8192, Pass::Fwd);
    assert_eq!(
        a100.efficiency(&op, Precision::Bf16),
        h100.efficiency(&op, Precision::Bf16)
    );
    assert!(close(
        a100.op_time(&op, Precision::Bf16) / h100.op_time(&op, Precision::Bf16),
        989.4 / 312.0,
        1e-12
    ));
    // No FP8 tensor cores: FP8 plans run their GEMMs at the BF16 rule and peak.
    assert_eq!(a100.op_time(&op, Precision::Fp8), a100.op_time(&op, Precision::Bf16));
    // A small GEMM is memory-bound on the roofline when its bytes dominate.
    let mut thin = gemm_op(16, 8192, 8192, Pass::Fwd);
    thin.bytes = 1e12;
    assert_eq!(h100.op_time(&thin, Precision::Bf16), 1e12 / 3.35e12);
    // The per-kernel overhead adds to every op.
    let mut slow = ComputeModel::new(Accel::h100(), EfficiencyTable::default_h100());
    slow.kernel_overhead_s = 5e-6;
    assert!(close(
        slow.op_time(&op, Precision::Bf16) - h100.op_time(&op, Precision::Bf16),
        5e-6,
        1e-6
    ));
}
