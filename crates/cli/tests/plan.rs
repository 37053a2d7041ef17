//! `fabricsim plan`: the JSON schema, scenario files that `train` re-runs to the same step
//! time, byte-identical output whatever the thread count, and launch arguments.

use serde_json::Value;
use std::process::{Command, Output};

fn run(args: &[&str], threads: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("run fabricsim")
}

fn ok(args: &[&str]) -> String {
    let o = run(args, "2");
    assert!(
        o.status.success(),
        "{args:?} failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

const SMALL: [&str; 9] = [
    "plan",
    "--cluster",
    "fat-tree:gpus=64",
    "--model",
    "llama-3.1-8b",
    "--seq",
    "8192",
    "--gbs",
    "128",
];

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fabricsim-plan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn json_schema_and_scenarios_rerun_to_the_same_step() {
    let dir = tempdir("rerun");
    let d = dir.to_str().unwrap();
    let mut args = SMALL.to_vec();
    args.extend(["--json", "--top", "3", "--fix", "zero=1", "--out-dir", d]);
    let j: Value = serde_json::from_str(&ok(&args)).unwrap();
    assert!(j["schema_version"].as_u64().is_some());
    let plans = j["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 3);
    let mut last = 0.0;
    for (i, p) in plans.iter().enumerate() {
        let step = p["step_time_s"].as_f64().unwrap();
        assert!(step >= last, "plans best first");
        last = step;
        assert!(p["mfu"].as_f64().unwrap() > 0.0);
        assert!(p["memory_bytes_per_accel"].as_u64().unwrap() > 0);
        assert_eq!(p["fidelity"], "flow");
        assert!(p["launch"]["args"]
            .as_str()
            .unwrap()
            .contains("--tensor-model-parallel-size"));
        // The scenario file `train` runs reproduces the plan and its step time exactly.
        let path = dir.join(format!("plan-{}.toml", i + 1));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            p["scenario_toml"].as_str().unwrap()
        );
        let t: Value = serde_json::from_str(&ok(&["train", path.to_str().unwrap(), "--json"])).unwrap();
        assert_eq!(t["plan"], p["plan"], "plan {} as train prints it", i + 1);
        assert_eq!(
            t["step_time_s"].as_f64().unwrap(),
            step,
            "plan {} re-run by train",
            i + 1
        );
        assert!(dir.join(format!("plan-{}.launch.txt", i + 1)).exists());
    }
    assert!(j["rejected"].as_array().unwrap().iter().any(|r| r["family"] == "TP 16"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_is_byte_identical_for_any_thread_count() {
    let a = run(&SMALL, "1");
    let b = run(&SMALL, "2");
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8(a.stdout).unwrap();
    assert!(text.contains("rejected families"), "{text}");
    assert!(text.contains("launch   megatron"), "{text}");
}

#[test]
fn torchtitan_and_tpu_launch_arguments() {
    let mut args = SMALL.to_vec();
    args.extend(["--framework", "torchtitan", "--json", "--top", "1"]);
    let j: Value = serde_json::from_str(&ok(&args)).unwrap();
    let l = &j["plans"][0]["launch"];
    assert_eq!(l["format"], "toml");
    assert!(l["args"].as_str().unwrap().contains("[parallelism]"));
    assert_eq!(j["plans"][0]["plan"]["zero"], 3, "torchtitan shards with FSDP2");

    let j: Value = serde_json::from_str(&ok(&[
        "plan",
        "--cluster",
        "tpu-v5e-pod",
        "--model",
        "llama-3.1-8b",
        "--seq",
        "8192",
        "--gbs",
        "256",
        "--json",
        "--top",
        "2",
        "--fidelity",
        "analytical",
    ]))
    .unwrap();
    let p = &j["plans"][0];
    assert_eq!(p["launch"]["framework"], "maxtext");
    let args = p["launch"]["args"].as_str().unwrap();
    assert!(args.contains("ici_fsdp_parallelism="), "{args}");
    assert!(p["mesh"]["ici_tensor"].as_u64().is_some());
    // The TPU scenario re-runs to the same step too.
    let dir = tempdir("tpu");
    let path = dir.join("plan.toml");
    std::fs::write(&path, p["scenario_toml"].as_str().unwrap()).unwrap();
    let t: Value = serde_json::from_str(&ok(&["train", path.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(t["plan"], p["plan"]);
    assert_eq!(t["step_time_s"].as_f64(), p["step_time_s"].as_f64());
    let _ = std::fs::remove_dir_all(&dir);
}
