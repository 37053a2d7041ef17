//! Power and energy on the command line: `topo --load`, `train` and `serve` energy keys and
//! lines, the smoothing flags, and exit code 2 naming the flag for bad values.

use serde_json::Value;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(args)
        .output()
        .expect("run fabricsim")
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let o = run(&a);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json")
}

fn text(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("no number `{k}`"))
}

fn fails(args: &[&str], fragment: &str) {
    let o = run(args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    assert!(e.contains(fragment), "{args:?}: stderr lacks `{fragment}`:\n{e}");
}

#[test]
fn topo_reports_energy_at_a_stated_load() {
    let v = json(&["topo", "gb200-superpod:racks=8"]);
    for k in [
        "it_power_w",
        "facility_power_w",
        "energy_kwh_per_day",
        "it_power_at_load_w",
    ] {
        assert!(f(&v, k) > 0.0, "{k}");
    }
    assert_eq!(f(&v, "load_fraction"), 0.8);
    assert!(f(&v, "it_power_at_load_w") < f(&v, "it_power_w"));
    let v1 = json(&["topo", "gb200-superpod:racks=8", "--load", "1"]);
    assert_eq!(f(&v1, "it_power_at_load_w"), f(&v1, "it_power_w"));
    let t = text(&["topo", "gb200-superpod:racks=8", "--load", "0.6"]);
    assert!(t.contains("at load 0.60"), "{t}");
    assert!(t.contains("kWh/day"), "{t}");
    fails(&["topo", "gb200-superpod:racks=8", "--load", "1.5"], "--load");
    fails(&["topo", "gb200-superpod:racks=8", "--load", "0"], "--load");
}

const TRAIN: &[&str] = &[
    "train",
    "--cluster",
    "fat-tree:gpus=64",
    "--model",
    "llama-3.1-8b",
    "--tp",
    "2",
    "--pp",
    "2",
    "--gbs",
    "128",
    "--seq",
    "4096",
];

#[test]
fn train_carries_energy_and_smoothing() {
    let mut a = TRAIN.to_vec();
    a.extend([
        "--power-floor",
        "0.3",
        "--ramp-limit-mw-s",
        "0.05",
        "--rack-storage-kj",
        "500",
    ]);
    let v = json(&a);
    for k in [
        "it_power_w",
        "facility_power_w",
        "energy_kwh_per_day",
        "energy_j_per_token",
        "power_swing_w",
        "power_swing_period_s",
    ] {
        assert!(f(&v, k) > 0.0, "{k}");
    }
    assert_eq!(f(&v, "power_swing_period_s"), f(&v, "step_time_s"));
    assert!(f(&v, "it_power_w") <= f(&v, "it_power_peak_w"));
    let s = &v["power_smoothing"];
    assert_eq!(s["power_floor"]["floor_tdp_fraction"], 0.3);
    assert!(s["ramp_limit"]["extra_energy_j_per_step"].as_f64().unwrap() >= 0.0);
    assert!(s["rack_storage"]["peak_reduction_fraction"].as_f64().unwrap() >= 0.0);
    // Same input, same bytes.
    let o1 = run(&[a.clone(), vec!["--json"]].concat());
    let o2 = run(&[a.clone(), vec!["--json"]].concat());
    assert_eq!(o1.stdout, o2.stdout);
    let t = text(&a);
    assert!(t.contains("energy   IT"), "{t}");
    assert!(t.contains("power swing"), "{t}");
    assert!(t.contains("power floor 0.30"), "{t}");
    assert!(t.contains("ramp limit"), "{t}");
    assert!(t.contains("rack storage"), "{t}");
    for (flag, val) in [
        ("--power-floor", "1.2"),
        ("--ramp-limit-mw-s", "0"),
        ("--rack-storage-kj", "-5"),
        ("--pue", "0.5"),
    ] {
        let mut b = TRAIN.to_vec();
        b.extend([flag, val]);
        fails(&b, flag);
    }
}

#[test]
fn serve_carries_energy() {
    let v = json(&["serve", "--duration", "10s"]);
    for k in [
        "it_power_w",
        "facility_power_w",
        "energy_kwh_per_day",
        "energy_j_per_output_token",
    ] {
        assert!(f(&v, k) > 0.0, "{k}");
    }
    // All-in energy per token (hosts, network, idle time, PUE) is above the accelerators' alone.
    assert!(f(&v, "energy_j_per_output_token") > f(&v, "accel_energy_j_per_output_token"));
    let floored = json(&["serve", "--duration", "10s", "--power-floor", "0.5"]);
    assert!(f(&floored, "it_power_w") > f(&v, "it_power_w"));
    fails(&["serve", "--duration", "10s", "--power-floor", "-1"], "--power-floor");
}
