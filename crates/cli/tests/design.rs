//! `fabricsim design` on a small case (1,024 H100, one or two workloads): the Pareto front is
//! non-dominated and sorted by cost, the non-blocking reference is on it, the cheapest design
//! within the slowdown is confirmed at flow fidelity, the output is deterministic, and bad
//! flags are errors naming them.

use serde_json::Value;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .arg("design")
        .args(args)
        .output()
        .expect("run fabricsim")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "design {args:?} failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

fn fails(args: &[&str], fragment: &str) {
    let o = run(args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "design {args:?}: {e}");
    assert!(e.contains(fragment), "design {args:?}: stderr lacks `{fragment}`:\n{e}");
}

/// Llama 3.1 8B with DP over the whole network (TP 8 · DP 128), so that oversubscription shows.
const SMALL: &[&str] = &[
    "--gpus",
    "1024",
    "--model",
    "llama-3.1-8b",
    "--tp",
    "8",
    "--pp",
    "1",
    "--gbs",
    "1024",
    "--seq",
    "4096",
];

fn small(extra: &[&'static str]) -> Vec<&'static str> {
    SMALL.iter().copied().chain(extra.iter().copied()).collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

#[test]
fn front_is_non_dominated_sorted_and_holds_the_reference() {
    let j: Value = serde_json::from_str(&ok(&small(&["--json"]))).unwrap();
    assert_eq!(j["schema_version"], 1);
    let front = j["front"].as_array().unwrap();
    assert!(front.len() >= 2, "{front:?}");
    let key = |p: &Value| {
        (
            f(&p["capital_cost_usd"]),
            f(&p["facility_power_w"]),
            f(&p["objective_slowdown_fraction"]),
        )
    };
    // Sorted by cost.
    for w in front.windows(2) {
        assert!(key(&w[0]).0 <= key(&w[1]).0, "front not sorted by cost");
    }
    // No front point is dominated by another front point, except the reference when flagged.
    for a in front {
        if a["dominated"] == true {
            assert_eq!(a["spec"], j["reference"]["spec"], "only the reference may be flagged");
            continue;
        }
        for b in front {
            let (x, y) = (key(a), key(b));
            let dominated = y.0 <= x.0 && y.1 <= x.1 && y.2 <= x.2 && (y.0 < x.0 || y.1 < x.1 || y.2 < x.2);
            assert!(!dominated, "{} is dominated by {}", a["spec"], b["spec"]);
        }
    }
    // The reference is non-blocking, has slowdown 0 and is on the front.
    let r = &j["reference"];
    assert_eq!(r["non_blocking"], true);
    assert_eq!(f(&r["objective_slowdown_fraction"]), 0.0);
    assert!(
        front.iter().any(|p| p["spec"] == r["spec"]),
        "reference not on the front"
    );
    // Every front design is at least as slow as the reference (it is the fastest non-blocking
    // design, and oversubscription does not speed a job up).
    for p in front {
        assert!(f(&p["objective_slowdown_fraction"]) >= -1e-9, "{}", p["spec"]);
    }
}

#[test]
fn cheapest_within_the_limit_is_confirmed_at_flow() {
    let j: Value = serde_json::from_str(&ok(&small(&["--json", "--max-slowdown", "5%"]))).unwrap();
    let c = &j["cheapest_within"];
    assert!(f(&c["objective_slowdown_fraction"]) <= 0.05);
    assert!(f(&c["capital_cost_usd"]) <= f(&j["reference"]["capital_cost_usd"]));
    let conf = &j["confirmation"];
    assert_eq!(conf["spec"], c["spec"]);
    assert_eq!(conf["confirmed"], f(&conf["objective_slowdown_fraction"]) <= 0.05);
    // Nothing on the front within the limit is cheaper than the chosen design.
    for p in j["front"].as_array().unwrap() {
        if f(&p["objective_slowdown_fraction"]) <= 0.05 {
            assert!(f(&p["capital_cost_usd"]) >= f(&c["capital_cost_usd"]), "{}", p["spec"]);
        }
    }
    // A zero limit leaves only designs as fast as the reference.
    let z: Value = serde_json::from_str(&ok(&small(&["--json", "--max-slowdown", "0"]))).unwrap();
    assert!(f(&z["cheapest_within"]["objective_slowdown_fraction"]) <= 0.0);
}

#[test]
fn output_is_deterministic() {
    let args = small(&["--families", "fat-tree,rail-only", "--oversub", "1,3"]);
    assert_eq!(ok(&args), ok(&args));
}

#[test]
fn two_workloads_take_the_worst_slowdown() {
    let j: Value = serde_json::from_str(&ok(&small(&[
        "--families",
        "fat-tree",
        "--switches",
        "default",
        "--optics",
        "default",
        "--oversub",
        "1,4",
        "--oversub-at",
        "1",
        "--json",
    ])))
    .unwrap();
    assert_eq!(j["designs_evaluated"], 2);
    let w = std::env::temp_dir().join(format!("fabricsim-design-{}.toml", std::process::id()));
    std::fs::write(
        &w,
        "model = \"llama-3.1-8b\"\n[parallel]\ntp = 4\npp = 2\n[batch]\ngbs = 1024\nseq = 2048\n",
    )
    .unwrap();
    let two: Value = serde_json::from_str(&ok(&[
        "--gpus",
        "1024",
        "--workload",
        w.to_str().unwrap(),
        "--workload",
        w.to_str().unwrap(),
        "--families",
        "fat-tree",
        "--oversub",
        "1,4",
        "--oversub-at",
        "1",
        "--json",
    ]))
    .unwrap();
    let _ = std::fs::remove_file(&w);
    assert_eq!(two["workloads"].as_array().unwrap().len(), 2);
    for p in two["front"].as_array().unwrap() {
        let s: Vec<f64> = p["slowdown_fraction"].as_array().unwrap().iter().map(f).collect();
        let worst = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(f(&p["objective_slowdown_fraction"]), worst);
        assert_eq!(p["step_time_s"].as_array().unwrap().len(), 2);
    }
}

#[test]
fn bad_flags_are_errors_naming_them() {
    fails(&["--model", "llama-3.1-8b"], "--gpus");
    fails(&small(&["--max-slowdown", "five"]), "--max-slowdown");
    fails(&small(&["--objective", "best"]), "--objective");
    fails(&small(&["--families", "torus"]), "--families");
    fails(&small(&["--oversub", "0.5"]), "--oversub");
    // A workload that cannot run on the designs is one clear error.
    fails(
        &[
            "--gpus",
            "1024",
            "--model",
            "llama-3.1-8b",
            "--tp",
            "8",
            "--pp",
            "1",
            "--dp",
            "64",
        ],
        "workload",
    );
}
