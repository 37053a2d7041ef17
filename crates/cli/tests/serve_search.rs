//! `fabricsim serve --search` and `--compare-fabrics` on the command line: JSON keys, CSV
//! header, byte-identical output, and refused flag combinations (exit 2).

use serde_json::Value;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .arg("serve")
        .args(args)
        .output()
        .expect("run fabricsim")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "serve {args:?} failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

fn fails(args: &[&str], fragments: &[&str]) {
    let o = run(args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "serve {args:?}: {e}");
    for f in fragments {
        assert!(e.contains(f), "serve {args:?}: stderr lacks `{f}`:\n{e}");
    }
}

/// Llama 3.1 8B on one HGX H100 server: a search of a few seconds.
const SMALL: &[&str] = &[
    "--search",
    "--cluster",
    "hgx:gpu=h100",
    "--model",
    "llama-3.1-8b",
    "--input-len",
    "512",
    "--output-len",
    "128",
    "--search-levels",
    "1,16",
    "--search-survivors",
    "4",
    "--duration",
    "10s",
    "--warmup",
    "2s",
];

#[test]
fn search_json_keys_and_determinism() {
    let mut args = SMALL.to_vec();
    args.push("--json");
    let a = ok(&args);
    assert_eq!(a, ok(&args), "same flags, different JSON");
    let v: Value = serde_json::from_str(&a).unwrap();
    assert!(v["schema_version"].is_u64());
    let env = v["envelope"].as_array().unwrap();
    assert!(!env.is_empty());
    for key in [
        "deployment",
        "output_tokens_per_s_per_accel",
        "output_tokens_per_s_per_user",
        "ttft_s",
        "tpot_s",
        "slo_met",
        "max_running_per_rank",
        "concurrency",
    ] {
        assert!(!env[0][key].is_null(), "envelope point lacks `{key}`");
    }
    assert!(env[0]["ttft_s"]["p99"].is_f64());
    assert!(v["chosen"]["statement"].is_string());
    assert!(v["configs"]["sglang"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().starts_with("python -m sglang.launch_server")));
    assert!(v["configs"]["vllm"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().starts_with("vllm serve")));
}

#[test]
fn search_csv_and_text() {
    let mut args = SMALL.to_vec();
    args.push("--csv");
    let csv = ok(&args);
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("deployment,accelerators,max_running_per_rank"));
    assert!(lines.next().is_some(), "no envelope row:\n{csv}");
    let text = ok(SMALL);
    assert!(text.contains("Pareto envelope"), "{text}");
    assert!(text.contains("SGLang:") && text.contains("vLLM:"), "{text}");
}

#[test]
fn search_refuses_what_it_chooses_itself() {
    let mut args = SMALL.to_vec();
    args.extend(["--tp", "8"]);
    fails(&args, &["--search chooses the deployment", "--tp"]);
    let mut args = SMALL.to_vec();
    args.extend(["--concurrency", "8"]);
    fails(&args, &["--concurrency"]);
    let mut args = SMALL.to_vec();
    let i = args.iter().position(|a| *a == "1,16").unwrap();
    args[i] = "0";
    fails(&args, &["--search-levels"]);
    fails(
        &[
            "--search",
            "--cluster",
            "hgx:gpu=h100",
            "--model",
            "deepseek-v3",
            "--precision",
            "bf16",
        ],
        &["fits no deployment", "short by"],
    );
    fails(
        &[
            "--compare-fabrics",
            "hgx-h100-ib,no-such-preset",
            "--model",
            "llama-3.1-8b",
        ],
        &["no-such-preset"],
    );
}

#[test]
fn compare_fabrics_json() {
    let args = [
        "--compare-fabrics",
        "hgx:gpu=h100;hgx:gpu=b200",
        "--model",
        "llama-3.1-8b",
        "--input-len",
        "512",
        "--output-len",
        "128",
        "--search-levels",
        "1,16",
        "--search-survivors",
        "3",
        "--duration",
        "10s",
        "--warmup",
        "2s",
        "--json",
    ];
    let a = ok(&args);
    assert_eq!(a, ok(&args), "same flags, different JSON");
    let v: Value = serde_json::from_str(&a).unwrap();
    let f = v["fabrics"].as_array().unwrap();
    assert_eq!(f.len(), 2);
    assert_eq!(f[0]["label"], "hgx:gpu=h100");
    assert_eq!(f[0]["precision"], "fp8");
    assert_eq!(
        f[1]["precision"], "fp4",
        "Blackwell serves in FP4 unless --precision is given"
    );
    assert!(!f[1]["search"]["envelope"].as_array().unwrap().is_empty());
    // No GB200 fabric in the list: no InferenceX check.
    assert!(v["inferencex"].is_null());
}
