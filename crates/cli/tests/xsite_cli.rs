//! `fabricsim train` across sites: `--cross-site`, `--diloco-inner-steps`, `--dci-sweep` and the
//! multi-site keys of `train --json`.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .output()
        .expect("run fabricsim")
}

fn json(args: &[&str]) -> serde_json::Value {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON")
}

fn fails(args: &[&str], fragment: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains(fragment), "{args:?}: `{e}` lacks `{fragment}`");
}

const SMALL: &[&str] = &[
    "train",
    "--model",
    "llama3-8b",
    "--tp",
    "8",
    "--pp",
    "2",
    "--gbs",
    "64",
    "--seq",
    "2048",
    "--fidelity",
    "analytical",
];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    SMALL.iter().chain(extra.iter()).copied().collect()
}

#[test]
fn multi_site_keys_in_train_json() {
    let v = json(&with(&[
        "--cluster",
        "multi-site:gpus=128,sites=2,distance_km=30,wan_gbit=800",
        "--json",
    ]));
    let single = v["single_site_step_time_s"].as_f64().expect("single_site_step_time_s");
    let loss = v["multi_site_loss_fraction"]
        .as_f64()
        .expect("multi_site_loss_fraction");
    assert!(single > 0.0 && (0.0..=1.0).contains(&loss));
    let ms = &v["multi_site"];
    assert_eq!(ms["cross_site"], "dp");
    assert_eq!(ms["sites"], 2);
    for k in [
        "dci_bytes_per_s",
        "rtt_s",
        "dci_bytes_per_site_per_step",
        "dci_serialisation_s",
        "extra_bandwidth_s",
        "extra_latency_s",
        "extra_congestion_s",
    ] {
        assert!(ms[k].as_f64().is_some(), "multi_site.{k}");
    }
    // One site: the keys are there and null.
    let v = json(&with(&["--cluster", "fat-tree:gpus=128", "--json"]));
    assert!(v["single_site_step_time_s"].is_null() && v["multi_site_loss_fraction"].is_null());
    assert!(v["multi_site"].is_null());
}

#[test]
fn cross_site_modes_and_text() {
    let v = json(&with(&[
        "--cluster",
        "multi-site:gpus=128,sites=2,distance_km=400,wan_gbit=800",
        "--cross-site",
        "diloco",
        "--diloco-inner-steps",
        "50",
        "--json",
    ]));
    let ms = &v["multi_site"];
    assert_eq!(ms["cross_site"], "diloco");
    assert_eq!(ms["diloco_inner_steps"], 50);
    let u = ms["diloco_compute_utilisation_fraction"].as_f64().unwrap();
    assert!(u > 0.0 && u <= 1.0);
    let o = run(&with(&[
        "--cluster",
        "multi-site:gpus=128,sites=2,distance_km=400,wan_gbit=800",
        "--cross-site",
        "pp",
    ]));
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("cross-site pp") && text.contains("loss "), "{text}");
}

#[test]
fn bad_cross_site_input_is_exit_2() {
    fails(
        &with(&["--cluster", "multi-site:gpus=128,sites=2", "--cross-site", "tp"]),
        "--cross-site `tp`",
    );
    fails(
        &with(&["--cluster", "fat-tree:gpus=128", "--cross-site", "pp"]),
        "one site",
    );
    fails(
        &with(&["--cluster", "multi-site:gpus=128,sites=2", "--diloco-inner-steps", "10"]),
        "only with --cross-site diloco",
    );
    fails(&with(&["--cluster", "fat-tree:gpus=128", "--dci-sweep"]), "multi-site");
    fails(
        &with(&[
            "--cluster",
            "multi-site:gpus=128,sites=2",
            "--dci-sweep",
            "--dci-gbit",
            "a",
        ]),
        "--dci-gbit",
    );
}

#[test]
fn dci_sweep_json_and_csv() {
    let v = json(&with(&[
        "--cluster",
        "multi-site:gpus=128,sites=2",
        "--dci-sweep",
        "--dci-gbit",
        "100,6400",
        "--distance-km",
        "30,2000",
        "--bisect-steps",
        "2",
        "--json",
    ]));
    let pts = v["points"].as_array().unwrap();
    assert_eq!(pts.len(), 4);
    let l = |i: usize| pts[i]["multi_site_loss_fraction"].as_f64().unwrap();
    assert!(l(0) >= l(1), "less capacity, no less loss");
    let th = v["thresholds"].as_array().unwrap();
    assert_eq!(th.len(), 2);
    assert!(th[0]["closed_form_gbit_per_s"].as_f64().unwrap() > 0.0);
    let o = run(&with(&[
        "--cluster",
        "multi-site:gpus=128,sites=2",
        "--dci-sweep",
        "--dci-gbit",
        "800",
        "--distance-km",
        "30",
        "--bisect-steps",
        "0",
        "--csv",
    ]));
    assert!(o.status.success());
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(csv.starts_with("distance_km,dci_gbit_per_s,step_time_s,single_site_step_time_s,multi_site_loss_fraction"));
    assert_eq!(csv.lines().count(), 2);
}

#[test]
fn a_cluster_file_of_equal_sites_has_a_baseline() {
    let dir = std::env::temp_dir().join(format!("fabricsim-xsite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("two.toml");
    std::fs::write(
        &path,
        "name = \"two\"\n[[site]]\nname = \"a\"\ncluster = \"fat-tree:gpus=64\"\n[[site]]\nname = \"b\"\ncluster = \"fat-tree:gpus=64\"\n[[dci]]\nbetween = [\"a\", \"b\"]\ndistance_km = 30\ngbit = 400\n",
    )
    .expect("write");
    let p = path.to_str().expect("utf-8 path");
    let mut args = SMALL.to_vec();
    args.extend(["--cluster", p, "--json"]);
    let r = json(&args);
    let single = r["single_site_step_time_s"].as_f64().expect("a baseline step");
    let loss = r["multi_site_loss_fraction"].as_f64().expect("a loss");
    assert!(single > 0.0 && (0.0..1.0).contains(&loss), "{single} {loss}");
    assert!(r["step_time_s"].as_f64().unwrap() >= single);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pp_across_sites_needs_whole_stages_per_site() {
    let mut args: Vec<&str> = SMALL.iter().copied().filter(|a| *a != "2").collect();
    // SMALL without its `--pp 2` value: give --pp 1 instead.
    let i = args.iter().position(|a| *a == "--pp").expect("--pp");
    args.insert(i + 1, "1");
    args.extend([
        "--cluster",
        "multi-site:gpus=128,sites=2,distance_km=30,wan_gbit=400",
        "--cross-site",
        "pp",
    ]);
    fails(&args, "--cross-site pp: --pp 1");
}

#[test]
fn the_bisected_capacity_agrees_with_the_closed_form() {
    // The capacity that keeps the loss at the target, bisected on the simulated step, lands
    // near the closed form (the last stage's share of the DCI bytes in the allowed extra time;
    // all stages' bytes within the overlap window): within -10 % … +30 %.
    let r = json(&[
        "train",
        "--cluster",
        "multi-site:gpus=512,sites=2",
        "--model",
        "llama3-8b",
        "--tp",
        "8",
        "--pp",
        "4",
        "--gbs",
        "256",
        "--seq",
        "4096",
        "--fidelity",
        "analytical",
        "--dci-sweep",
        "--dci-gbit",
        "400,12800",
        "--distance-km",
        "30",
        "--bisect-steps",
        "8",
        "--json",
    ]);
    let t = &r["thresholds"][0];
    let needed = t["dci_gbit_per_s_needed"]
        .as_f64()
        .expect("a threshold inside the range");
    let closed = t["closed_form_gbit_per_s"].as_f64().expect("closed form");
    let ratio = needed / closed;
    assert!(
        (0.9..=1.3).contains(&ratio),
        "bisected {needed} vs closed form {closed}"
    );
}
