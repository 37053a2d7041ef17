//! `fabricsim train --framework`, `--fsdp`, `--hsdp-shard` (issue 8, parts 4–5): the flags reach
//! the report; bad values are in testdata/bad-inputs/corpus.toml.

use serde_json::Value;
use std::process::Command;

fn json(args: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .arg("train")
        .args(args)
        .arg("--json")
        .output()
        .expect("run fabricsim");
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json")
}

#[test]
fn framework_fsdp_and_hsdp_flags_reach_the_report() {
    let base = [
        "--cluster",
        "rail-optimized:gpus=16,node=dgx-h100",
        "--model",
        "llama-3.1-8b",
        "--tp",
        "1",
        "--pp",
        "1",
        "--seq",
        "4096",
        "--gbs",
        "32",
        "--allow-oom",
    ];
    let megatron = json(&base);
    assert_eq!(megatron["framework"], "megatron", "the default off TPUs");
    assert_eq!(megatron["plan"]["fsdp_shard_group"], 0);

    let mut a = base.to_vec();
    a.extend(["--framework", "torchtitan", "--fsdp"]);
    let tt = json(&a);
    assert_eq!(tt["framework"], "torchtitan");
    assert_eq!(tt["plan"]["zero"], 3);
    assert_eq!(tt["plan"]["fsdp_shard_group"], 16);
    assert!(tt["breakdown"]["fsdp_comm_s"].as_f64().unwrap() >= 0.0);
    assert!(tt["step_time_s"].as_f64().unwrap() > megatron["step_time_s"].as_f64().unwrap());

    let mut h = base.to_vec();
    h.extend(["--hsdp-shard", "8"]);
    let hsdp = json(&h);
    assert_eq!(hsdp["plan"]["zero"], 3, "--hsdp-shard implies ZeRO-3");
    assert_eq!(
        (
            hsdp["plan"]["fsdp_shard_group"].as_u64(),
            hsdp["plan"]["hsdp_replicas"].as_u64()
        ),
        (Some(8), Some(2))
    );
    let ar = hsdp["collectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["dimension"] == "ZeRO-3" && c["op"] == "all_reduce")
        .expect("the replicas' all-reduce");
    assert_eq!(ar["group_size"], 2);
}

/// torchtitan always shards with FSDP2: with no --zero, --fsdp or --hsdp-shard its runs are
/// ZeRO-3 (said in `derived`); an explicit --zero still wins.
#[test]
fn torchtitan_defaults_to_fsdp() {
    let base = [
        "--cluster",
        "dgx-h100",
        "--model",
        "llama-3.1-8b",
        "--tp",
        "1",
        "--framework",
        "torchtitan",
    ];
    let v = json(&base);
    assert_eq!(v["plan"]["zero"], 3, "{}", v["plan"]);
    assert!(v["derived"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d.as_str().unwrap().contains("FSDP2")));
    let mut with_zero = base.to_vec();
    with_zero.extend(["--zero", "1"]);
    assert_eq!(json(&with_zero)["plan"]["zero"], 1);
    let mega = json(&["--cluster", "dgx-h100", "--model", "llama-3.1-8b", "--tp", "1"]);
    assert_eq!(mega["plan"]["zero"], 1, "megatron keeps the scenario's ZeRO-1");
}
