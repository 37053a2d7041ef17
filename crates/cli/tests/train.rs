//! `fabricsim train`: the built-in scenario, text and JSON reports, determinism, Chrome traces,
//! scenario files (flags over them, inline models), Hugging Face configs, and errors (exit code 2
//! with a message naming the flag, field or file).

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .arg("train")
        .args(args)
        .output()
        .expect("run fabricsim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

/// Run `train`, expect success, return stdout.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "train {args:?} failed ({:?}): {}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

/// Run `train`, expect exit code 2 and a message on stderr containing every fragment.
fn fails(args: &[&str], fragments: &[&str]) -> Output {
    let o = run(args);
    let e = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "train {args:?}: status {:?}, stderr {e}",
        o.status
    );
    for f in fragments {
        assert!(e.contains(f), "train {args:?}: stderr {e:?} lacks {f:?}");
    }
    assert!(!e.contains("panicked"), "train {args:?}: {e}");
    o
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = ok(&a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

fn num(v: &Value, path: &str) -> f64 {
    let mut cur = v;
    for k in path.split('.') {
        cur = cur.get(k).unwrap_or_else(|| panic!("missing key `{path}` in {v}"));
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("`{path}` is not a number: {cur}"))
}

/// A fresh directory for one test's files.
fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &std::path::Path, file: &str, text: &str) -> String {
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// The schema every `train --json` report has, with sane values.
fn check_report(r: &Value) {
    for k in [
        "schema_version",
        "step_time_s",
        "tokens_per_s",
        "tokens_per_s_per_accel",
        "model_tflops_per_accel",
        "mfu",
        "hfu",
        "memory_bytes_per_accel",
    ] {
        assert!(r[k].is_number(), "`{k}` is not a number in {r}");
    }
    assert_eq!(r["schema_version"].as_u64(), Some(1));
    assert!(r["fits"].is_boolean());
    assert!(r["warnings"].is_array());
    assert!(r["assumptions"].is_array());
    let step = num(r, "step_time_s");
    assert!(step > 0.0 && step.is_finite(), "step {step}");
    let (mfu, hfu) = (num(r, "mfu"), num(r, "hfu"));
    assert!(mfu > 0.0 && mfu < 1.0, "mfu {mfu}");
    assert!(hfu >= mfu && hfu < 1.0, "hfu {hfu} mfu {mfu}");
    assert!(num(r, "tokens_per_s") > 0.0);
    assert!(num(r, "memory_bytes_per_accel") > 0.0);
    let world = num(r, "plan.accelerators_used");
    let tps = num(r, "tokens_per_s");
    assert!((num(r, "tokens_per_s_per_accel") * world / tps - 1.0).abs() < 1e-9);
    let tokens = num(r, "plan.gbs") * num(r, "plan.seq");
    assert!((tps * step / tokens - 1.0).abs() < 1e-9, "tokens/s × step ≠ GBS × seq");
    let b = r["breakdown"].as_object().expect("breakdown is an object");
    for k in [
        "compute_s",
        "tp_comm_s",
        "pp_comm_s",
        "pipeline_bubble_s",
        "dp_comm_s",
        "optimizer_s",
    ] {
        assert!(b.contains_key(k), "breakdown lacks {k}");
    }
    for (k, v) in b {
        let v = v.as_f64().unwrap_or_else(|| panic!("breakdown.{k} not a number"));
        assert!(
            v >= 0.0 && v <= step * (1.0 + 1e-9),
            "breakdown.{k} = {v} (step {step})"
        );
    }
    assert!(num(r, "breakdown.compute_s") > 0.0);
    // Every stage's accounting; the breakdown is the slowest stage's.
    let stages = r["stages"].as_array().expect("stages array");
    assert_eq!(stages.len() as f64, num(r, "plan.pp"));
    let k = num(r, "breakdown_stage") as usize;
    let busiest = stages.iter().map(|s| num(s, "busy_s")).fold(0.0, f64::max);
    assert!(num(&stages[k], "busy_s") >= busiest * (1.0 - 1e-9));
    for st in stages {
        let sum: f64 = ["busy_s", "pp_comm_s", "bubble_s", "dp_comm_s", "optimizer_s"]
            .iter()
            .map(|key| num(st, key))
            .sum();
        assert!(
            (sum / step - 1.0).abs() < 1e-9,
            "stage lines sum to {sum}, step {step}: {st}"
        );
        assert!(num(st, "layers") >= 1.0 && num(st, "memory_bytes") > 0.0);
    }
    assert!(r["collectives"].is_array() && r["fidelity_checks"].is_array());
    assert_eq!(
        r["fits"].as_bool().unwrap(),
        num(r, "memory.total_bytes") <= num(r, "memory.capacity_bytes")
    );
}

#[test]
fn default_scenario_text_report() {
    let out = ok(&[]);
    for frag in [
        "llama-3.1-70b",
        "dgx-h100-superpod:su=4",
        "TP 8 · PP 4 · DP 31",
        "step ",
        "tokens/s",
        "MFU",
        "HFU",
        "compute",
        "pipeline bubble",
        "exposed TP comm",
        "exposed DP comm",
        "optimizer",
        "memory per accelerator",
        "busiest links",
        "assumed ",
    ] {
        assert!(out.contains(frag), "report lacks {frag:?}:\n{out}");
    }
    // Breakdown lines carry a duration and a share of the step.
    assert!(
        out.lines().filter(|l| l.starts_with("  ") && l.contains(" %")).count() >= 5,
        "{out}"
    );
}

#[test]
fn default_scenario_json() {
    let r = json(&[]);
    check_report(&r);
    assert_eq!(r["model"], "llama-3.1-70b");
    assert_eq!(r["cluster"], "dgx-h100-superpod:su=4");
    assert_eq!(num(&r, "plan.accelerators_used"), 992.0);
    assert_eq!(num(&r, "plan.microbatches"), 32.0);
    assert_eq!(r["fits"], true);
    // Published Llama-class runs on H100 land at 35–55 % MFU; the default plan should too.
    let mfu = num(&r, "mfu");
    assert!(mfu > 0.3 && mfu < 0.6, "mfu {mfu}");
}

#[test]
fn deterministic_across_runs() {
    let plans: [&[&str]; 3] = [
        &[],
        &[
            "--cluster",
            "fat-tree:gpus=64",
            "--model",
            "mixtral-8x7b",
            "--tp",
            "2",
            "--pp",
            "2",
            "--dp",
            "16",
            "--ep",
            "4",
            "--gbs",
            "128",
        ],
        &[
            "--cluster",
            "fat-tree:gpus=64",
            "--model",
            "llama-3.1-8b",
            "--tp",
            "4",
            "--pp",
            "4",
            "--vp",
            "2",
            "--dp",
            "4",
            "--gbs",
            "64",
            "--recompute",
            "full",
            "--zero",
            "3",
        ],
    ];
    for p in plans {
        let mut j = p.to_vec();
        j.push("--json");
        let (a, b) = (ok(&j), ok(&j));
        assert_eq!(a, b, "{p:?}: JSON differs between runs");
        assert_eq!(ok(p), ok(p), "{p:?}: text differs between runs");
        check_report(&serde_json::from_str(&a).unwrap());
    }
}

/// Chrome trace-event format: {"traceEvents": [...]}, complete ("X") and metadata ("M") events.
#[test]
fn trace_is_chrome_trace_json() {
    let dir = temp_dir("trace");
    let path = dir.join("step.json");
    let p = path.to_str().unwrap();
    let out = ok(&[
        "--cluster",
        "fat-tree:gpus=64",
        "--model",
        "llama-3.1-8b",
        "--tp",
        "4",
        "--pp",
        "4",
        "--vp",
        "2",
        "--dp",
        "4",
        "--gbs",
        "32",
        "--json",
        "--trace",
        p,
    ]);
    let r: Value = serde_json::from_str(&out).unwrap();
    let step_us = num(&r, "step_time_s") * 1e6;
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("trace is JSON");
    let events = t["traceEvents"].as_array().expect("traceEvents array");
    let (mut x, mut procs, mut threads) = (0, 0, 0);
    let mut pids = std::collections::BTreeSet::new();
    for e in events {
        let ph = e["ph"].as_str().unwrap_or_else(|| panic!("event without ph: {e}"));
        match ph {
            "X" => {
                x += 1;
                assert!(e["name"].is_string(), "{e}");
                assert!(e["pid"].is_u64() && e["tid"].is_u64(), "{e}");
                let ts = e["ts"].as_f64().unwrap_or_else(|| panic!("ts: {e}"));
                let dur = e["dur"].as_f64().unwrap_or_else(|| panic!("dur: {e}"));
                assert!(ts >= 0.0 && dur >= 0.0, "{e}");
                assert!(
                    ts + dur <= step_us * (1.0 + 1e-9) + 1e-3,
                    "{e} ends after the step {step_us} µs"
                );
                pids.insert(e["pid"].as_u64().unwrap());
            }
            "M" => {
                let name = e["name"].as_str().unwrap();
                assert!(e["pid"].is_u64(), "{e}");
                match name {
                    "process_name" => {
                        assert!(e["args"]["name"].is_string(), "{e}");
                        procs += 1;
                    }
                    "thread_name" => {
                        assert!(e["args"]["name"].is_string(), "{e}");
                        assert!(e["tid"].is_u64(), "{e}");
                        threads += 1;
                    }
                    "process_sort_index" => assert!(e["args"]["sort_index"].is_u64(), "{e}"),
                    _ => panic!("unexpected metadata {e}"),
                }
            }
            "s" | "f" => assert!(e["id"].is_u64() && e["ts"].is_number(), "{e}"),
            "C" => assert!(e["args"]["utilisation"].is_number(), "{e}"),
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    // 4 stages × 2 · m · vp compute spans at least.
    assert!(x >= 4 * 2 * 8 * 2, "{x} complete events");
    // One process per stage and one for the busiest links' counters.
    assert_eq!(procs, 5);
    assert!(threads >= 4);
    assert_eq!(pids.len(), 4);
    // The last compute span ends with the step (within the optimizer step).
    let end = events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| e["ts"].as_f64().unwrap() + e["dur"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        (end - step_us).abs() / step_us < 1e-6,
        "last event ends at {end} µs, step {step_us} µs"
    );
    // An unwritable trace path is a user error.
    fails(
        &["--trace", dir.join("missing/dir/t.json").to_str().unwrap()],
        &["cannot write trace"],
    );
}

const SCENARIO: &str = r#"
cluster = "fat-tree:gpus=64"
model = "llama-3.1-8b"
fidelity = "analytical"
[parallel]
tp = 2
pp = 2
dp = 16
sequence_parallel = true
[batch]
gbs = 64
mbs = 1
seq = 4096
[training]
precision = "bf16"
recompute = "full"
zero = 2
"#;

#[test]
fn scenario_file_and_flag_overrides() {
    let dir = temp_dir("scenario");
    let s = write(&dir, "s.toml", SCENARIO);
    let r = json(&[&s]);
    check_report(&r);
    assert_eq!(r["cluster"], "fat-tree:gpus=64");
    assert_eq!(r["model"], "llama-3.1-8b");
    assert_eq!(r["fidelity"], "analytical");
    let p = &r["plan"];
    assert_eq!(
        (p["tp"].as_u64(), p["pp"].as_u64(), p["dp"].as_u64()),
        (Some(2), Some(2), Some(16))
    );
    assert_eq!((p["gbs"].as_u64(), p["seq"].as_u64()), (Some(64), Some(4096)));
    assert_eq!(p["recompute"], "full");
    assert_eq!(p["zero"], 2);
    assert_eq!(p["microbatches"], 4);
    // Flags win over the file.
    let o = json(&[
        &s,
        "--tp",
        "4",
        "--dp",
        "8",
        "--gbs",
        "32",
        "--seq",
        "2048",
        "--recompute",
        "none",
        "--fidelity",
        "flow",
        "--zero",
        "0",
    ]);
    check_report(&o);
    let p = &o["plan"];
    assert_eq!(
        (p["tp"].as_u64(), p["pp"].as_u64(), p["dp"].as_u64()),
        (Some(4), Some(2), Some(8))
    );
    assert_eq!((p["gbs"].as_u64(), p["seq"].as_u64()), (Some(32), Some(2048)));
    assert_eq!(p["recompute"], "none");
    assert_eq!(p["zero"], 0);
    assert_eq!(o["fidelity"], "flow");
    let (hfu, mfu) = (num(&o, "hfu"), num(&o, "mfu"));
    assert!(
        hfu >= mfu && hfu < mfu * 1.05,
        "no recompute: HFU {hfu} just above MFU {mfu} (FlashAttention's backward)"
    );
    let m = json(&[&s, "--model", "llama-3.1-70b", "--allow-oom"]);
    assert_eq!(m["model"], "llama-3.1-70b");
    let c = json(&[&s, "--cluster", "rail-optimized:gpus=64"]);
    assert_eq!(c["cluster"], "rail-optimized:gpus=64");
    assert_eq!(
        c["plan"]["dp"], 16,
        "a scenario's DP stays when only the cluster changes"
    );
}

#[test]
fn scenario_inline_model() {
    let dir = temp_dir("inline");
    let s = write(
        &dir,
        "inline.toml",
        r#"cluster = "hgx:gpu=h100"
[model_inline]
name = "tiny-gpt"
layers = 4
hidden = 1024
heads = 16
vocab = 32000
[parallel]
tp = 2
dp = 4
[batch]
gbs = 16
seq = 2048
"#,
    );
    let r = json(&[&s]);
    check_report(&r);
    assert_eq!(r["model"], "tiny-gpt");
    // GPT defaults: per layer 12h² + 13h, final LayerNorm 2h, embeddings (V + 2048 positions)·h
    // and an untied output layer V·h.
    let (l, h, v) = (4.0, 1024.0, 32000.0);
    let expect = l * (12.0 * h * h + 13.0 * h) + 2.0 * h + (v + 2048.0) * h + v * h;
    assert_eq!(num(&r, "model_params"), expect);
    assert_eq!(num(&r, "plan.accelerators_used"), 8.0);
    // Inline MoE: experts give an MoE model (active < total) and EP is accepted.
    let m = write(
        &dir,
        "moe.toml",
        r#"cluster = "hgx:gpu=h100"
[model_inline]
name = "tiny-moe"
layers = 4
hidden = 1024
heads = 16
vocab = 32000
experts = 8
top_k = 2
[parallel]
tp = 1
dp = 8
ep = 8
[batch]
gbs = 16
seq = 2048
"#,
    );
    let r = json(&[&m]);
    check_report(&r);
    assert!(num(&r, "model_active_params") < num(&r, "model_params"));
    assert!(num(&r, "breakdown.ep_comm_s") > 0.0);
    // A bad inline model names the file and the field.
    let bad = write(
        &dir,
        "bad.toml",
        "[model_inline]\nlayers = 4\nhidden = 1000\nheads = 16\n",
    );
    fails(&[&bad], &["bad.toml", "head_dim"]);
}

const LLAMA_8B_CONFIG: &str = r#"{
  "_name_or_path": "meta-llama/Llama-3.1-8B",
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}"#;

#[test]
fn hugging_face_config() {
    let dir = temp_dir("hf");
    let cfg = write(&dir, "config.json", LLAMA_8B_CONFIG);
    let args = [
        "--cluster",
        "fat-tree:gpus=64",
        "--tp",
        "2",
        "--pp",
        "1",
        "--dp",
        "32",
        "--gbs",
        "256",
        "--seq",
        "4096",
    ];
    let mut a = args.to_vec();
    a.extend(["--model", cfg.as_str()]);
    let from_hf = json(&a);
    check_report(&from_hf);
    let mut b = args.to_vec();
    b.extend(["--model", "llama-3.1-8b"]);
    let from_registry = json(&b);
    // The config is Llama 3.1 8B: same parameters and the same step as the registry entry.
    assert_eq!(num(&from_hf, "model_params"), num(&from_registry, "model_params"));
    assert_eq!(num(&from_hf, "step_time_s"), num(&from_registry, "step_time_s"));
    // An unsupported architecture names the file and the field.
    let bad = write(
        &dir,
        "bad.json",
        &LLAMA_8B_CONFIG.replace("\"model_type\": \"llama\"", "\"model_type\": \"gpt_neox\""),
    );
    let mut c = args.to_vec();
    c.extend(["--model", bad.as_str()]);
    fails(&c, &["bad.json"]);
}

#[test]
fn oom_needs_allow_oom() {
    let args = ["--model", "llama-3.1-405b", "--tp", "8", "--pp", "1"];
    let o = fails(&args, &["does not fit", "--allow-oom"]);
    // The report is still printed.
    let out = stdout(&o);
    assert!(out.contains("DOES NOT FIT") && out.contains("MFU"), "{out}");
    let mut a = args.to_vec();
    a.push("--allow-oom");
    let out = ok(&a);
    assert!(out.contains("DOES NOT FIT"), "{out}");
    assert!(out.contains("warning  plan does not fit"), "{out}");
    let r = json(&a);
    assert_eq!(r["fits"], false);
    assert!(num(&r, "memory_bytes_per_accel") > num(&r, "memory.capacity_bytes"));
    assert!(r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("does not fit")));
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    fails(
        &["--model", "no-such-model"],
        &["--model", "unknown model `no-such-model`"],
    );
    fails(&["--tp", "3"], &["--tp 3", "64 attention heads"]);
    fails(&["--gbs", "1000"], &["--gbs 1000", "DP × MBS"]);
    fails(&["--dp", "200"], &["1600 accelerators", "the cluster has 1016"]);
    fails(&["--ep", "2", "--dp", "30", "--gbs", "960"], &["--ep 2", "no experts"]);
    fails(&["--ep", "2"], &["--ep 2"]);
    fails(&["--precision", "fp16"], &["precision `fp16`", "bf16 or fp8"]);
    fails(
        &["--recompute", "partial"],
        &["recompute `partial`", "none, selective or full"],
    );
    fails(&["--fidelity", "exact"], &["fidelity `exact`", "flow or analytical"]);
    fails(&["--zero", "4"], &["--zero 4"]);
    fails(&["--seq", "0"], &["--seq 0"]);
    fails(&["--cp", "3"], &["--cp 3"]);
    fails(
        &["--pp", "4", "--dp", "31", "--vp", "2", "--gbs", "310"],
        &["multiple of PP"],
    );
    fails(
        &["--model", "/nonexistent/dir/config.json"],
        &["/nonexistent/dir/config.json"],
    );
    fails(&["/nonexistent/scenario.toml"], &["/nonexistent/scenario.toml"]);
    fails(&["--cluster", "no-such-preset"], &["no-such-preset"]);
    fails(
        &[
            "--cluster",
            "hgx:gpu=a100",
            "--pp",
            "1",
            "--model",
            "llama-3.1-8b",
            "--precision",
            "fp8",
        ],
        &["--precision fp8", "a100"],
    );
    // A layout larger than the cluster: the message says which flags to set.
    fails(
        &["--cluster", "hgx:gpu=a100", "--tp", "8", "--pp", "4"],
        &["8 × 4 × 1 = 32", "8 accelerators", "--pp"],
    );
    // Llama 3.1 70B on one 8-GPU server does not fit 80 GB even with full recomputation.
    fails(&["--cluster", "hgx:gpu=a100", "--pp", "1"], &["does not fit"]);
    // The same plan in BF16 runs.
    ok(&["--cluster", "hgx:gpu=a100", "--pp", "1", "--model", "llama-3.1-8b"]);
    // An unknown flag is clap's usage error (exit 2).
    let o = run(&["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    // Layer splits: not numbers, the wrong length, a zero, the wrong sum, interleaving.
    fails(
        &["--layers-per-stage", "20,x,20,20"],
        &["--layers-per-stage `20,x,20,20`", "`x` is not a whole number"],
    );
    fails(
        &["--layers-per-stage", "-20,20,20,20"],
        &["--layers-per-stage", "`-20`"],
    );
    fails(
        &["--pp", "4", "--layers-per-stage", "40,40"],
        &["--layers-per-stage 40,40", "2 entries for PP 4"],
    );
    fails(
        &["--layers-per-stage", "0,40,20,20"],
        &["--layers-per-stage 0,40,20,20", "entry 0 is 0"],
    );
    fails(
        &["--layers-per-stage", "20,20,20,21"],
        &["sums to 81, but the model has 80 layers"],
    );
    fails(
        &[
            "--pp",
            "4",
            "--vp",
            "2",
            "--gbs",
            "992",
            "--layers-per-stage",
            "20,20,20,20",
        ],
        &["with --vp 2 give PP × VP = 4 × 2 = 8"],
    );
    fails(&["--sharp", "maybe"], &["--sharp"]);
    fails(&["--nvls", "1"], &["--nvls"]);
}

#[test]
fn bad_scenario_files() {
    let dir = temp_dir("bad-scenario");
    let malformed = write(
        &dir,
        "malformed.toml",
        "cluster = \"fat-tree:gpus=64\"\n[parallel\ntp = 2\n",
    );
    fails(&[&malformed], &["malformed.toml", "malformed scenario"]);
    let unknown = write(
        &dir,
        "unknown.toml",
        "cluster = \"fat-tree:gpus=64\"\nmodel = \"llama-3.1-8b\"\n[parallel]\ntp = 2\ntensor_parallel = 4\n",
    );
    fails(&[&unknown], &["unknown.toml", "tensor_parallel"]);
    let top = write(&dir, "top.toml", "modle = \"llama-3.1-8b\"\n");
    fails(&[&top], &["top.toml", "modle"]);
    let wrong_type = write(&dir, "type.toml", "[parallel]\ntp = \"eight\"\n");
    fails(&[&wrong_type], &["type.toml", "tp"]);
    let no_model = write(&dir, "nomodel.toml", "cluster = \"fat-tree:gpus=64\"\n");
    fails(&[&no_model], &["nomodel.toml", "no model"]);
    let bad_prec = write(&dir, "prec.toml", &SCENARIO.replace("\"bf16\"", "\"int4\""));
    fails(&[&bad_prec], &["precision `int4`"]);
    // Regression (robustness issue): a scenario naming a model twice is an error.
    let both = write(
        &dir,
        "both.toml",
        "model = \"llama-3.1-8b\"\n[model_inline]\nlayers = 2\nhidden = 256\nheads = 4\n",
    );
    fails(&[&both], &["both.toml", "both `model` and `[model_inline]`"]);
    // Regression: vocab = 0 is an error, not the GPT default.
    let vocab = write(
        &dir,
        "vocab.toml",
        "cluster = \"fat-tree:gpus=64\"\n[model_inline]\nlayers = 2\nhidden = 256\nheads = 4\nvocab = 0\n",
    );
    fails(&[&vocab], &["vocab.toml", "vocab"]);
    // Regression: an absurd hidden size is blamed on `hidden`, not on the derived ffn.
    let hidden = write(
        &dir,
        "hidden.toml",
        "cluster = \"fat-tree:gpus=64\"\n[model_inline]\nlayers = 2\nhidden = 4611686018427387904\nheads = 4\n",
    );
    fails(&[&hidden], &["hidden.toml", "hidden"]);
    // Regression: `gpus` that disagrees with TP × PP × DP is an error, not silently ignored.
    let gpus = write(
        &dir,
        "gpus.toml",
        "cluster = \"fat-tree:gpus=64\"\nmodel = \"llama-3.1-8b\"\n[parallel]\ngpus = 64\ntp = 2\npp = 2\ndp = 4\n",
    );
    fails(&[&gpus], &["--gpus 64", "= 16"]);
}

/// Regressions of the robustness issue: values the tool used to accept silently.
#[test]
fn silently_accepted_values_are_errors() {
    fails(&["--gpus", "1017"], &["--gpus 1017", "1016 accelerators"]);
    fails(&["--gpus", "0"], &["--gpus 0", "at least 1"]);
    fails(&["--gpus", "1000"], &["--gpus 1000", "not a multiple of TP × PP × CP"]);
    fails(&["--vp", "32", "--pp", "1"], &["--vp 32", "--pp 2 or more"]);
}

/// Restating any default of the built-in scenario changes nothing, byte for byte.
#[test]
fn restating_a_default_changes_nothing() {
    let base = run(&["--json"]);
    assert!(base.status.success());
    for args in [
        &["--tp", "8"][..],
        &["--pp", "4"],
        &["--dp", "31"],
        &["--gbs", "992"],
        &["--mbs", "1"],
        &["--seq", "8192"],
        &["--model", "llama-3.1-70b"],
        &["--cluster", "dgx-h100-superpod:su=4"],
        &["--recompute", "none"],
        &["--zero", "1"],
        &["--precision", "bf16"],
        &["--fidelity", "flow"],
        &["--sharp", "on"],
        &["--nvls", "on"],
        &["--layers-per-stage", "20,20,20,20"],
        &["--cp", "1"],
        &["--ep", "1"],
        &["--vp", "1"],
    ] {
        let mut a = args.to_vec();
        a.push("--json");
        let o = run(&a);
        assert!(o.status.success(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&base.stdout),
            "restating {args:?} changed the report"
        );
    }
}

/// The breakdown names the slowest stage (on DeepSeek-V3 with PP 16 the last: it also runs the
/// MTP module) in text and JSON, and the text report has an aligned per-stage table;
/// `--layers-per-stage` moves layers.
#[test]
fn slowest_stage_and_stage_table() {
    let args = [
        "--cluster",
        "fat-tree:gpus=2048,node=hgx-h800",
        "--model",
        "deepseek-v3",
        "--tp",
        "1",
        "--pp",
        "16",
        "--ep",
        "64",
        "--seq",
        "4096",
        "--gbs",
        "1024",
        "--mbs",
        "1",
    ];
    let r = json(&args);
    check_report(&r);
    let k = num(&r, "breakdown_stage") as u64;
    assert!(k > 0, "slowest stage {k}");
    let out = ok(&args);
    assert!(
        out.contains(&format!("(pipeline stage {k} of 16, the slowest")),
        "{out}"
    );
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("pipeline stages"))
        .skip(1)
        .take(17)
        .collect();
    assert!(table[0].contains("stage") && table[0].contains("layers") && table[0].contains("busy"));
    assert!(table[0].contains("EP") && !table[0].contains(" TP "), "{}", table[0]);
    let width = table[1].chars().count();
    for (i, row) in table[1..].iter().enumerate() {
        assert!(row.trim_start().starts_with(&i.to_string()), "{row}");
        let w = row.chars().count()
            - if row.ends_with("◀ slowest") {
                "  ◀ slowest".chars().count()
            } else {
                0
            };
        assert_eq!(w, width, "misaligned row {row:?}");
    }
    assert!(table[k as usize + 1].ends_with("◀ slowest"));
    // An uneven split from the command line and from a scenario file: PP follows the list.
    let split = "3,4,4,4,4,4,4,4,4,4,4,4,4,4,4,2";
    let mut a = args.to_vec();
    a.extend(["--layers-per-stage", split]);
    let u = json(&a);
    check_report(&u);
    let layers: Vec<u64> = u["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["layers"].as_u64().unwrap())
        .collect();
    assert_eq!(layers, [3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2]);
    let busy = |r: &Value, s: usize| num(&r["stages"][s], "busy_s");
    assert!(busy(&u, 0) < busy(&r, 0) && busy(&u, 15) < busy(&r, 15) && busy(&u, 14) > busy(&r, 14));
    let dir = temp_dir("layers");
    let s = write(
        &dir,
        "ds.toml",
        &format!(
            "cluster = \"fat-tree:gpus=2048,node=hgx-h800\"\nmodel = \"deepseek-v3\"\n[parallel]\ntp = 1\nep = 64\nlayers_per_stage = [{split}]\n[batch]\ngbs = 1024\nseq = 4096\n"
        ),
    );
    let f = json(&[&s]);
    assert_eq!(f["plan"]["pp"], 16, "PP from the list");
    assert_eq!(f["stages"], u["stages"]);
    assert!(
        f["derived"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().contains("--layers-per-stage entry")),
        "{}",
        f["derived"]
    );
    let bad = write(
        &dir,
        "bad.toml",
        &format!("model = \"deepseek-v3\"\n[parallel]\npp = 16\nlayers_per_stage = [{split},1]\n"),
    );
    fails(&[&bad], &["--layers-per-stage", "17 entries for PP 16"]);
    let neg = write(
        &dir,
        "neg.toml",
        "model = \"deepseek-v3\"\n[parallel]\nlayers_per_stage = [-3, 64]\n",
    );
    fails(&[&neg], &["neg.toml", "layers_per_stage"]);
}

/// `--sharp off` and `--nvls off` remove the in-network reductions: the data-parallel
/// all-reduce changes algorithm on an InfiniBand fat-tree and inside an NVSwitch node, and the
/// assumptions say which reduction served which dimension.
#[test]
fn sharp_and_nvls_switches() {
    let dp_algo = |r: &Value| -> String {
        r["collectives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["dimension"] == "DP" && c["op"] == "all_reduce")
            .unwrap_or_else(|| panic!("no DP all-reduce in {}", r["collectives"]))["algorithm"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let said = |r: &Value, frag: &str| {
        r["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains(frag))
    };
    let ib = [
        "--cluster",
        "fat-tree:gpus=64",
        "--model",
        "llama-3.1-8b",
        "--tp",
        "2",
        "--pp",
        "1",
        "--dp",
        "32",
        "--zero",
        "0",
        "--gbs",
        "256",
        "--allow-oom",
    ];
    let on = json(&ib);
    let mut a = ib.to_vec();
    a.extend(["--sharp", "off"]);
    let off = json(&a);
    assert_eq!(dp_algo(&on), "collnet");
    assert_ne!(dp_algo(&off), "collnet");
    assert!(said(&on, "SHARP (CollNet) used for DP all-reduce"));
    assert!(said(&off, "SHARP (CollNet) off (--sharp off)"));
    let node = [
        "--cluster",
        "hgx",
        "--model",
        "llama-3.1-8b",
        "--tp",
        "1",
        "--pp",
        "1",
        "--dp",
        "8",
        "--zero",
        "0",
        "--gbs",
        "64",
        "--allow-oom",
    ];
    let on = json(&node);
    let mut a = node.to_vec();
    a.extend(["--nvls", "off"]);
    let off = json(&a);
    assert_eq!(dp_algo(&on), "nvls");
    assert_ne!(dp_algo(&off), "nvls");
    assert!(said(&on, "NVLS (NVLink SHARP) used for DP all-reduce"));
    assert!(said(&off, "NVLS (NVLink SHARP) off (--nvls off)"));
    let text = ok(&node);
    assert!(
        text.contains("assumed  in-network reduction: NVLS (NVLink SHARP) used for DP all-reduce"),
        "{text}"
    );
}

/// `--fidelity analytical` warns when contention it does not model matters (the pipeline
/// stages' gradient syncs sharing an oversubscribed spine), naming the dimension and both times.
#[test]
fn analytical_warns_when_flow_disagrees() {
    let args = [
        "--cluster",
        "fat-tree:gpus=1024,oversub=7",
        "--model",
        "llama-3.1-8b",
        "--tp",
        "4",
        "--pp",
        "4",
        "--dp",
        "64",
        "--gbs",
        "256",
        "--seq",
        "4096",
    ];
    let mut a = args.to_vec();
    a.extend(["--fidelity", "analytical"]);
    let out = ok(&a);
    let w = out
        .lines()
        .find(|l| l.starts_with("warning  analytical fidelity: DP"))
        .unwrap_or_else(|| panic!("no fidelity warning:\n{out}"));
    assert!(
        w.contains("ms") && w.contains("--fidelity flow") && w.contains("%"),
        "{w}"
    );
    let r = json(&a);
    let checks = r["fidelity_checks"].as_array().unwrap();
    assert!(
        checks.iter().any(|c| c["warned"] == true && c["dimension"] == "DP"),
        "{checks:?}"
    );
    let flow = json(&args);
    assert!(flow["fidelity_checks"].as_array().unwrap().is_empty());
    assert!(num(&flow, "step_time_s") > 1.1 * num(&r, "step_time_s"));
}

/// The trace is the step's full story and agrees with the report: per (stage, chunk,
/// micro-batch) slices with nested layers and their exposed TP/EP communication, pipeline sends
/// with flow arrows, gradient syncs whose exposed parts are the report's DP time, link counters.
#[test]
fn trace_explains_the_step() {
    let dir = temp_dir("trace-full");
    let path = dir.join("moe.json");
    let out = ok(&[
        "--cluster",
        "fat-tree:gpus=64",
        "--model",
        "mixtral-8x7b",
        "--tp",
        "2",
        "--pp",
        "2",
        "--dp",
        "16",
        "--ep",
        "4",
        "--gbs",
        "128",
        "--json",
        "--trace",
        path.to_str().unwrap(),
    ]);
    let r: Value = serde_json::from_str(&out).unwrap();
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let ev = t["traceEvents"].as_array().unwrap();
    let m = num(&r, "plan.microbatches");
    assert_eq!(t["otherData"]["layer_detail_microbatches"].as_f64(), Some(m));
    assert_eq!(t["otherData"]["microbatches_drawn"].as_f64(), Some(m));
    let k = num(&r, "breakdown_stage") as u64;
    let xs: Vec<&Value> = ev.iter().filter(|e| e["ph"] == "X").collect();
    fn in_cat<'a>(xs: &'a [&'a Value], c: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        xs.iter().filter(move |e| e["cat"] == c).copied()
    }
    let cat = |c: &'static str| in_cat(&xs, c);
    for c in [
        "forward",
        "backward",
        "layer",
        "compute",
        "tp",
        "ep",
        "pp",
        "dp",
        "dp_exposed",
        "optimizer",
    ] {
        assert!(cat(c).next().is_some(), "no `{c}` slices");
    }
    // Slices carry what they move or compute.
    for e in cat("tp").chain(cat("ep")).chain(cat("pp")).chain(cat("dp")) {
        let c = &e["args"]["collectives"][0];
        assert!(
            c["bytes"].as_f64().unwrap() > 0.0 && !c["algorithm"].as_str().unwrap().is_empty(),
            "{e}"
        );
    }
    // (The embedding is a lookup: no FLOPs.)
    for e in cat("layer")
        .filter(|e| e["args"]["layer"].is_u64())
        .chain(cat("forward"))
    {
        assert!(e["args"]["flops"].as_f64().unwrap() > 0.0, "{e}");
    }
    // Layers nest inside a forward/backward slice of their stage.
    for l in cat("layer") {
        let (ts, end) = (
            l["ts"].as_f64().unwrap(),
            l["ts"].as_f64().unwrap() + l["dur"].as_f64().unwrap(),
        );
        assert!(
            cat("forward").chain(cat("backward")).any(|p| p["pid"] == l["pid"]
                && p["ts"].as_f64().unwrap() <= ts
                && end <= p["ts"].as_f64().unwrap() + p["dur"].as_f64().unwrap() + 1e-6),
            "{l} outside every pass"
        );
    }
    // Slice sums on the breakdown stage are the report's breakdown.
    let sum = |c: &'static str| -> f64 {
        cat(c)
            .filter(|e| e["pid"].as_u64() == Some(k))
            .map(|e| e["dur"].as_f64().unwrap())
            .sum::<f64>()
            / 1e6
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1e-9);
    for (c, key) in [
        ("compute", "breakdown.compute_s"),
        ("tp", "breakdown.tp_comm_s"),
        ("ep", "breakdown.ep_comm_s"),
        ("dp_exposed", "breakdown.dp_comm_s"),
        ("optimizer", "breakdown.optimizer_s"),
    ] {
        assert!(
            close(sum(c), num(&r, key)),
            "{c}: slices {} vs {key} {}",
            sum(c),
            num(&r, key)
        );
    }
    let busy = num(&r["stages"][k as usize], "busy_s");
    assert!(close(sum("forward") + sum("backward"), busy));
    // Flow arrows: each id starts once and finishes once, finishing on an enclosing slice.
    let mut ids: std::collections::BTreeMap<u64, (u32, u32)> = Default::default();
    for e in ev {
        match e["ph"].as_str().unwrap() {
            "s" => ids.entry(e["id"].as_u64().unwrap()).or_default().0 += 1,
            "f" => {
                assert_eq!(e["bp"], "e", "{e}");
                ids.entry(e["id"].as_u64().unwrap()).or_default().1 += 1
            }
            _ => {}
        }
    }
    assert!(
        ids.len() >= 2 * cat("pp").count(),
        "{} flows for {} sends",
        ids.len(),
        cat("pp").count()
    );
    assert!(ids.values().all(|&v| v == (1, 1)));
    // Counters: the busiest links' utilisation over the step, within [0, 1], some busy.
    let counters: Vec<&Value> = ev.iter().filter(|e| e["ph"] == "C").collect();
    let names: std::collections::BTreeSet<&str> = counters.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(!names.is_empty() && names.len() <= 5, "{names:?}");
    assert!(counters
        .iter()
        .all(|e| (0.0..=1.0).contains(&e["args"]["utilisation"].as_f64().unwrap())));
    assert!(counters
        .iter()
        .any(|e| e["args"]["utilisation"].as_f64().unwrap() > 0.0));
}

/// Big jobs keep the trace bounded: only the first micro-batches are nested per layer, and the
/// trace says so.
#[test]
fn trace_is_bounded_on_big_jobs() {
    let dir = temp_dir("trace-big");
    let path = dir.join("big.json");
    ok(&[
        "--cluster",
        "hgx",
        "--model",
        "llama-3.1-70b",
        "--tp",
        "8",
        "--pp",
        "1",
        "--dp",
        "1",
        "--gbs",
        "1024",
        "--allow-oom",
        "--trace",
        path.to_str().unwrap(),
    ]);
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let o = &t["otherData"];
    let nested = o["layer_detail_microbatches"].as_u64().unwrap();
    assert!((1..1024).contains(&nested), "{o}");
    assert_eq!(o["microbatches_drawn"].as_u64(), Some(1024));
    assert!(o["note"].as_str().unwrap().contains("nested per layer"));
    let ev = t["traceEvents"].as_array().unwrap();
    let layer = o["event_caps"]["layers"].as_u64().unwrap() as usize;
    let layers = ev.iter().filter(|e| e["cat"] == "layer").count();
    assert!(layers > 0 && layers <= layer, "{layers} layer slices, cap {layer}");
    assert!(ev.len() < 400_000, "{} events", ev.len());
}
