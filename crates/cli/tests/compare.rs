//! `fabricsim compare`: determinism, the same-number-of-accelerators rule (a larger fabric takes
//! the job on part of itself and is charged that share; a smaller one is an error naming it),
//! the CSV and JSON shapes, collective jobs, compare files with per-row plans, and errors.

use serde_json::Value;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .arg("compare")
        .args(args)
        .output()
        .expect("run fabricsim")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "compare {args:?} failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

/// Expect exit 2 and every fragment on stderr.
fn fails(args: &[&str], fragments: &[&str]) {
    let o = run(args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "compare {args:?}: {e}");
    for f in fragments {
        assert!(e.contains(f), "compare {args:?}: stderr lacks `{f}`:\n{e}");
    }
}

/// A small training job (Llama 3.1 8B, TP 8 · DP 8 = 64 GPUs) over three fabrics, one of them
/// twice the size.
const JOB: &[&str] = &[
    "--model",
    "llama-3.1-8b",
    "--tp",
    "8",
    "--pp",
    "1",
    "--dp",
    "8",
    "--gbs",
    "64",
    "--seq",
    "4096",
    "--clusters",
    "fat-tree:gpus=64,rail-optimized:gpus=64,rail-only:gpus=128",
];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    JOB.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn output_is_deterministic_in_every_format() {
    for fmt in [&[][..], &["--json"][..], &["--csv"][..]] {
        let a = ok(&with(fmt));
        let b = ok(&with(fmt));
        assert_eq!(a, b, "{fmt:?}");
    }
}

#[test]
fn a_larger_fabric_takes_the_job_on_part_of_itself_and_pays_that_share() {
    let j: Value = serde_json::from_str(&ok(&with(&["--json"]))).unwrap();
    assert_eq!(j["accelerators"], 64);
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        assert_eq!(r["share"]["accelerators_used"], 64, "{}", r["label"]);
        let used = r["share"]["accelerators_used"].as_f64().unwrap();
        let all = r["share"]["accelerators_in_fabric"].as_f64().unwrap();
        let cp = &r["cost_power"];
        for key in ["capital_cost_usd", "it_power_w", "facility_power_w"] {
            let whole = cp[format!("whole_{key}")].as_f64().unwrap();
            let part = cp[key].as_f64().unwrap();
            assert!(
                (part - whole * used / all).abs() <= 1e-9 * whole,
                "{key}: {part} vs {whole}"
            );
        }
    }
    let big = &rows[2];
    assert_eq!(big["share"]["accelerators_in_fabric"], 128);
    assert_eq!(big["share"]["share_fraction"], 0.5);
    let notes = big["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("first 64 of the fabric's 128")),
        "{notes:?}"
    );
    assert!(rows[0]["notes"].as_array().unwrap().is_empty());
    // The text report says so too, and states its rules.
    let text = ok(JOB);
    assert!(text.contains("64/128") && text.contains("the job's share"), "{text}");
    assert!(
        text.contains("tokens per dollar = ") && text.contains("tokens per joule = "),
        "{text}"
    );
}

#[test]
fn a_smaller_fabric_is_an_error_naming_it() {
    fails(
        &[
            "--model",
            "llama-3.1-8b",
            "--tp",
            "8",
            "--dp",
            "8",
            "--pp",
            "1",
            "--clusters",
            "fat-tree:gpus=64,fat-tree:gpus=32",
        ],
        &["`fat-tree:gpus=32`", "32 accelerators", "fewer than the 64"],
    );
}

#[test]
fn errors_name_what_is_missing() {
    // No job size: the same job cannot be set on every fabric.
    fails(
        &["--model", "llama-3.1-8b", "--clusters", "fat-tree:gpus=64"],
        &["--gpus"],
    );
    // No fabric.
    fails(&["--model", "llama-3.1-8b", "--gpus", "64"], &["no fabric"]);
    // A bad fabric, named.
    fails(&with(&["--cluster", "no-such"]), &["`no-such`"]);
    fails(&with(&["--amortization-years", "0"]), &["--amortization-years"]);
    fails(&with(&["--pue", "9"]), &["--pue"]);
}

#[test]
fn json_has_units_in_its_keys() {
    let j: Value = serde_json::from_str(&ok(&with(&["--json"]))).unwrap();
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["job_kind"], "training");
    let r = &j["rows"][0];
    for key in ["step_time_s", "tokens_per_s", "mfu", "memory_bytes_per_accel"] {
        assert!(r["training"][key].is_number(), "{key}");
    }
    for key in ["tp_s", "cp_s", "ep_s", "pp_s", "dp_s", "pipeline_bubble_s"] {
        assert!(r["training"]["exposed_comm"][key].is_number(), "{key}");
    }
    for key in ["tokens_per_s_per_musd", "tokens_per_usd", "tokens_per_j"] {
        assert!(r["efficiency"][key].as_f64().unwrap() > 0.0, "{key}");
    }
    for key in ["scale_out_switch_chips", "optical_transceivers", "nics"] {
        assert!(r["bom"][key].is_u64(), "{key}");
    }
    // tokens/s per M$ is tokens/s over the capital share in millions.
    let tps = r["training"]["tokens_per_s"].as_f64().unwrap();
    let cost = r["cost_power"]["capital_cost_usd"].as_f64().unwrap();
    let per = r["efficiency"]["tokens_per_s_per_musd"].as_f64().unwrap();
    assert!((per - tps / (cost / 1e6)).abs() < 1e-9 * per);
}

#[test]
fn csv_has_one_line_per_fabric_and_a_fixed_header() {
    let out = ok(&with(&["--csv"]));
    let lines: Vec<Vec<String>> = out.lines().map(split_csv).collect();
    assert_eq!(lines.len(), 4, "{out}");
    let header = &lines[0];
    assert_eq!(header[0], "label");
    for want in [
        "step_time_s",
        "tokens_per_s",
        "capital_cost_usd",
        "tokens_per_usd",
        "tokens_per_j",
    ] {
        assert!(header.iter().any(|h| h == want), "{want}");
    }
    for rec in &lines[1..] {
        assert_eq!(rec.len(), header.len());
        let col = |name: &str| rec[header.iter().position(|h| h == name).unwrap()].clone();
        assert!(col("step_time_s").parse::<f64>().unwrap() > 0.0);
        assert_eq!(col("accelerators_used"), "64");
        assert_eq!(col("op"), "");
    }
}

/// Split one CSV line (quoted fields may hold commas, as the `csv` crate writes them).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                out.last_mut().unwrap().push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[test]
fn a_collective_job_compares_time_and_bus_bandwidth() {
    let args = [
        "--op",
        "all_reduce",
        "--size",
        "64M",
        "--gpus",
        "64",
        "--clusters",
        "fat-tree:gpus=64,fat-tree:gpus=128,oversub=4",
        "--json",
    ];
    let j: Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(j["job_kind"], "collective");
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert!(r["training"].is_null() && r["efficiency"].is_null());
        assert!(r["collective"]["busbw_bytes_per_s"].as_f64().unwrap() > 0.0);
        assert_eq!(r["collective"]["size_bytes"], 67108864);
    }
    assert_eq!(rows[1]["share"]["share_fraction"], 0.5);
    // Ranks are required for a collective.
    fails(&["--op", "all_reduce", "--clusters", "fat-tree:gpus=64"], &["--gpus"]);
}

#[test]
fn a_compare_file_sets_rows_with_their_own_plans() {
    let dir = std::env::temp_dir().join(format!("fabricsim-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("job.toml"),
        "model = \"llama-3.1-8b\"\n[parallel]\ntp = 8\npp = 1\ndp = 8\n[batch]\ngbs = 64\nseq = 4096\n",
    )
    .unwrap();
    let file = dir.join("cmp.toml");
    std::fs::write(
        &file,
        "scenario = \"job.toml\"\n[[fabric]]\ncluster = \"fat-tree:gpus=64\"\nlabel = \"TP 8\"\n[[fabric]]\ncluster = \"fat-tree:gpus=64\"\nlabel = \"TP 4\"\ntp = 4\ndp = 16\n",
    )
    .unwrap();
    let j: Value = serde_json::from_str(&ok(&["--file", file.to_str().unwrap(), "--json"])).unwrap();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows[0]["label"], "TP 8");
    assert!(rows[0]["training"]["plan"].as_str().unwrap().starts_with("TP 8 "));
    assert!(rows[1]["training"]["plan"].as_str().unwrap().starts_with("TP 4 "));
    // A row whose plan does not use the job's accelerators is refused, named.
    std::fs::write(
        &file,
        "scenario = \"job.toml\"\n[[fabric]]\ncluster = \"fat-tree:gpus=128\"\nlabel = \"bigger plan\"\ndp = 16\n",
    )
    .unwrap();
    fails(&["--file", file.to_str().unwrap()], &["bigger plan"]);
    // Unknown keys are errors.
    std::fs::write(&file, "[[fabric]]\ncluster = \"fat-tree:gpus=64\"\ntpp = 4\n").unwrap();
    fails(&["--file", file.to_str().unwrap(), "--gpus", "64"], &["tpp"]);
    let _ = std::fs::remove_dir_all(&dir);
}
