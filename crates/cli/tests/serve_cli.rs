//! `fabricsim serve` from the command line: the built-in scenario, the shipped example
//! scenarios (TOML with a trace beside it), `--sweep` as CSV, and exit code 2 with a clear
//! message for bad input.

use serde_json::Value;
mod common;

use std::process::Output;

fn run(args: &[&str]) -> Output {
    common::run_sub("serve", args)
}

fn json(args: &[&str]) -> Value {
    common::json_sub("serve", args)
}

#[test]
fn the_builtin_scenario_is_deepseek_on_an_nvl72_rack_disaggregated() {
    let v = json(&["--duration", "10s"]);
    assert_eq!(v["model"], "deepseek-r1");
    assert_eq!(v["accelerators"], 72);
    assert_eq!(v["deployment"]["mode"], "disaggregated");
    assert!(v["output_tokens_per_s_per_accel"].as_f64().unwrap() > 0.0);
}

#[test]
fn example_scenarios_run() {
    let v = json(&["--scenario", "examples/serve-trace.toml"]);
    assert_eq!(v["requests_finished"], 6);
    assert!(
        v["cached_input_fraction"].as_f64().unwrap() > 0.0,
        "sessions 1 and 2 reuse their context"
    );
    // A flag wins over the file.
    let v = json(&[
        "--scenario",
        "examples/serve-agents-h100.toml",
        "--duration",
        "40s",
        "--warmup",
        "10s",
    ]);
    assert_eq!(v["window_s"], 30.0);
    assert!(v["kv_cache_hit_fraction"].as_f64().unwrap() > 0.5);
}

#[test]
fn sweep_prints_a_csv_curve() {
    let o = run(&[
        "--cluster",
        "hgx:gpu=h100",
        "--model",
        "llama-3.1-8b",
        "--tp",
        "1",
        "--duration",
        "10s",
        "--sweep",
        "concurrency=1,16,64",
        "--csv",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("load,output_tokens_per_s_per_accel,output_tokens_per_s_per_user"));
    // More users: more throughput per GPU, less per user.
    let col = |l: &str, i: usize| l.split(',').nth(i).unwrap().parse::<f64>().unwrap();
    assert!(col(lines[3], 1) > col(lines[1], 1));
    assert!(col(lines[3], 2) < col(lines[1], 2));
    // Energy per point: facility power and J per output token; more users spread the idle
    // power over more tokens.
    assert!(
        lines[0].ends_with(",facility_power_w,energy_j_per_output_token"),
        "{}",
        lines[0]
    );
    assert!(col(lines[1], 9) > 0.0);
    assert!(col(lines[3], 10) < col(lines[1], 10));
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    for (args, needle) in [
        (vec!["--model", "gpt-9"], "unknown model"),
        (vec!["--cluster", "nope"], "nope"),
        (vec!["--precision", "fp2"], "--precision"),
        (vec!["--scenario", "/nonexistent.toml"], "cannot read"),
        (vec!["--trace", "/nonexistent.csv"], "--trace"),
        (
            vec![
                "--cluster",
                "hgx:gpu=h100",
                "--model",
                "llama-3.1-405b",
                "--precision",
                "bf16",
                "--tp",
                "8",
            ],
            "short by",
        ),
        (vec!["--sweep", "users=1,2"], "unknown key"),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle), "{args:?}: {e}");
    }
}
