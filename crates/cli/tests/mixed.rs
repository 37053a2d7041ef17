//! `fabricsim train` on a mixed-accelerator cluster: the JSON keys, the sweep, exit 2 on bad
//! input, and single-accelerator clusters unchanged by the new flags' absence.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .output()
        .expect("run fabricsim")
}

const SMALL: &[&str] = &[
    "--model",
    "llama-3.1-8b",
    "--tp",
    "8",
    "--pp",
    "4",
    "--gbs",
    "64",
    "--seq",
    "4096",
    "--fidelity",
    "analytical",
];

#[test]
fn train_json_on_a_mixed_cluster_carries_the_efficiencies() {
    let mut a = vec![
        "train",
        "--cluster",
        "mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=64",
        "--json",
    ];
    a.extend_from_slice(SMALL);
    let o = run(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let eff = v["efficiency_vs_ideal_fraction"].as_f64().unwrap();
    let naive = v["naive_split_efficiency_fraction"].as_f64().unwrap();
    assert!(
        naive > 0.0 && naive < eff && eff <= 1.0,
        "naive {naive} < balanced {eff} ≤ 1"
    );
    assert_eq!(v["pools"].as_array().unwrap().len(), 2);
    assert_eq!(v["pools"][1]["accelerator"], "a100");
    assert!(v["tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(["pp", "dp"].contains(&v["balance"].as_str().unwrap()));
}

#[test]
fn mixed_sweep_prints_csv_rows_per_ratio_and_balance() {
    let mut a = vec![
        "train",
        "--cluster",
        "mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=64",
        "--mixed-sweep",
        "0.25,0.5",
        "--mixed-csv",
    ];
    a.extend_from_slice(SMALL);
    let o = run(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("first_pool_gpus,second_pool_gpus"));
    assert_eq!(lines.len(), 1 + 2 * 2, "{text}");
}

#[test]
fn mixed_bad_input_exits_2_naming_the_field() {
    for (cluster, want) in [
        ("mixed:link=none", "no link between pools"),
        ("mixed:link=rdma,link_nics=0", "nics = 0"),
        ("mixed:first=dgx-x999", "dgx-x999"),
        ("mixed:first_gpus=abc", "first_gpus"),
    ] {
        let mut a = vec!["train", "--cluster", cluster];
        a.extend_from_slice(SMALL);
        let o = run(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{cluster}: {err}");
        assert!(err.contains(want), "{cluster}: {err}");
    }
    let o = run(&[
        "train",
        "--cluster",
        "fat-tree:gpus=64",
        "--mixed-balance",
        "pp",
        "--model",
        "llama-3.1-8b",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a mixed cluster"));
    // --max-memory caps each pool's simulation, as on a sweep's mixed points.
    let mut a = vec![
        "train",
        "--cluster",
        "mixed:first_gpus=64,second_gpus=64",
        "--max-memory",
        "2M",
    ];
    a.extend_from_slice(SMALL);
    let o = run(&a);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("pool") && err.contains("above max_memory"), "{err}");
}

#[test]
fn ascend_and_h100_through_cpu_forwarding_balance_between_naive_and_ideal() {
    let mut a = vec![
        "train",
        "--cluster",
        "mixed:first=dgx-h100,first_gpus=64,second=ascend-910c,second_gpus=64,link=cpu-forwarding",
        "--json",
    ];
    a.extend_from_slice(SMALL);
    let o = run(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let eff = v["efficiency_vs_ideal_fraction"].as_f64().unwrap();
    let naive = v["naive_split_efficiency_fraction"].as_f64().unwrap();
    assert!(naive < eff && eff <= 1.0, "naive {naive} < balanced {eff} ≤ 1");
    assert_eq!(v["pools"][1]["accelerator"], "ascend-910c");
    assert_eq!(v["pool_link"]["kind"], "cpu-forwarding");
}

#[test]
fn mixed_clusters_refuse_the_multi_site_flags() {
    let mut a = vec![
        "train",
        "--cluster",
        "mixed:first_gpus=64,second_gpus=64",
        "--cross-site",
        "pp",
    ];
    a.extend_from_slice(SMALL);
    let o = run(&a);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not sites"));
}
