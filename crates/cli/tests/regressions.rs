//! Numeric regressions of the robustness issue ("impossible numbers with exit 0"), each named
//! after what it pinned. The bad-input corpus (`bad_inputs.rs`) holds the error cases.

use serde_json::Value;
use std::process::Command;

fn json(args: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .arg("--json")
        .output()
        .expect("run fabricsim");
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON")
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// HFU was 109–121 % at a 512k-token sequence (attention counted over the full score matrix).
#[test]
fn hfu_at_seq_524288_stays_below_one() {
    let r = json(&[
        "train",
        "--cluster",
        "dgx-h100",
        "--model",
        "megatron-gpt-1.7b",
        "--seq",
        "524288",
        "--tp",
        "8",
        "--recompute",
        "full",
    ]);
    let (mfu, hfu) = (num(&r, "mfu"), num(&r, "hfu"));
    assert!(hfu <= 1.0 && mfu <= hfu, "mfu {mfu} hfu {hfu}");
}

/// Analytical busbw was far above the links: all_to_all 1 GiB on gb200-nvl72 32,567 GB/s against
/// 900, on tpu-v5e 9,168 against 200, an A100 tree all_reduce 775 against 300.
#[test]
fn analytical_busbw_stays_within_the_links() {
    for (cluster, op, algo, link_gbps) in [
        ("gb200-nvl72", "all_to_all", None, 900.0),
        ("tpu-v5e-pod", "all_to_all", None, 200.0),
        ("hgx:gpu=a100", "all_reduce", Some("tree"), 300.0),
    ] {
        let mut args = vec![
            "collective",
            "--cluster",
            cluster,
            "--op",
            op,
            "--size",
            "1G",
            "--fidelity",
            "analytical",
        ];
        if let Some(a) = algo {
            args.extend(["--algo", a]);
        }
        let r = json(&args);
        let row = &r["rows"][0];
        let busbw = row["busbw_bytes_per_s"].as_f64().unwrap() / 1e9;
        assert!(
            busbw <= link_gbps,
            "{cluster} {op}: busbw {busbw} GB/s above {link_gbps}"
        );
    }
}

/// One-rank collectives reported 263,819 GB/s busbw and zero-time all_reduce.
#[test]
fn one_rank_collectives_are_a_local_copy() {
    let r = json(&[
        "collective",
        "--cluster",
        "dgx-h100",
        "--op",
        "all_reduce",
        "--ranks",
        "1",
        "--size",
        "1G",
    ]);
    let row = &r["rows"][0];
    assert!(row["time_s"].as_f64().unwrap() > 0.0);
    assert_eq!(row["busbw_bytes_per_s"].as_f64().unwrap(), 0.0);
}

/// `--fidelity analytical` is never slower than flow for the same training step.
#[test]
fn analytical_training_step_not_slower_than_flow() {
    let base = [
        "train",
        "--cluster",
        "fat-tree:gpus=64,oversub=4",
        "--model",
        "llama-3.1-8b",
        "--tp",
        "2",
        "--pp",
        "2",
    ];
    let flow = json(&base);
    let mut a = base.to_vec();
    a.extend(["--fidelity", "analytical"]);
    let ana = json(&a);
    assert!(num(&ana, "step_time_s") <= num(&flow, "step_time_s") * (1.0 + 1e-9));
}
