//! `fabricsim sweep` and `fabricsim merge`: four shards merged equal the unsharded run byte for
//! byte (CSV and JSON); a sweep's rows carry what `train --json` and `collective --json` print
//! for the same values; bad grids, bad shards and incomplete merges exit 2 naming the problem.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .output()
        .expect("run fabricsim")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

/// Run, expect exit code 2 and every fragment in stderr.
fn fails(args: &[&str], fragments: &[&str]) {
    let o = run(args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    for f in fragments {
        assert!(e.contains(f), "{args:?}: `{e}` lacks `{f}`");
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sweep-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A small grid of both kinds (13 points, so shares are uneven), one point of which fails.
const GRID: &str = r#"
[[train]]
clusters = ["fat-tree:gpus=64"]
models = ["llama-3.1-8b"]
gpus = [32, 64]
plans = [{ tp = 8, pp = 1 }, { tp = 4, pp = 2 }, { tp = 3 }]
seq = 4096
gbs = 64
fidelity = "analytical"

[[collective]]
clusters = ["dgx-h100", "fat-tree:gpus=64"]
ops = ["all_reduce"]
ranks = [8]
sizes = [1048576, "16M", "1G"]
fidelity = "analytical"

[[collective]]
clusters = ["no-such-preset"]
ops = ["all_gather"]
sizes = ["1M"]
"#;

#[test]
fn four_shards_merged_equal_the_unsharded_run_byte_for_byte() {
    let dir = temp_dir("shards");
    let grid = dir.join("grid.toml");
    std::fs::write(&grid, GRID).unwrap();
    for json in [false, true] {
        let ext = if json { "json" } else { "csv" };
        let fmt: &[&str] = if json { &["--json"] } else { &[] };
        let whole = dir.join(format!("whole.{ext}"));
        ok(&[&["sweep", s(&grid), "-o", s(&whole)], fmt].concat());
        let mut parts = Vec::new();
        for i in 0..4 {
            let p = dir.join(format!("part{i}.{ext}"));
            ok(&[&["sweep", s(&grid), "--shard", &format!("{i}/4"), "-o", s(&p)], fmt].concat());
            parts.push(p);
        }
        // Any order of the inputs.
        let merged = dir.join(format!("merged.{ext}"));
        ok(&[
            "merge",
            s(&parts[2]),
            s(&parts[0]),
            s(&parts[3]),
            s(&parts[1]),
            "-o",
            s(&merged),
        ]);
        let (a, b) = (std::fs::read(&whole).unwrap(), std::fs::read(&merged).unwrap());
        assert!(a == b, "{ext}: merged differs from the unsharded run");
        // Standard output is the same bytes as -o.
        let to_stdout = ok(&[&["sweep", s(&grid)], fmt].concat());
        assert_eq!(to_stdout.as_bytes(), &a[..]);
        // 13 points, one per row; the failing point carries its error.
        if json {
            let v: Value = serde_json::from_slice(&a).unwrap();
            let rows = v["rows"].as_array().unwrap();
            assert_eq!(rows.len(), 13);
            assert_eq!(v["points_total"], 13);
            for (i, r) in rows.iter().enumerate() {
                assert_eq!(r["point"], i as u64);
            }
            // tp = 3 does not divide the heads: an error, not results.
            assert!(rows[2]["error"].as_str().unwrap().len() > 5, "{}", rows[2]);
            assert!(rows[2]["step_time_s"].is_null());
            assert!(
                rows[12]["error"].as_str().unwrap().contains("no-such-preset"),
                "{}",
                rows[12]
            );
            assert!(rows[0]["step_time_s"].as_f64().unwrap() > 0.0);
            assert!(rows[8]["busbw_bytes_per_s"].as_f64().unwrap() > 0.0);
        } else {
            assert_eq!(String::from_utf8(a).unwrap().lines().count(), 14);
        }
        // Merge refuses a missing, a duplicate and a foreign share (exit 2, naming it).
        fails(
            &["merge", s(&parts[0]), s(&parts[1]), s(&parts[2])],
            &["merge:", "missing"],
        );
        fails(
            &[
                "merge",
                s(&parts[0]),
                s(&parts[1]),
                s(&parts[2]),
                s(&parts[3]),
                s(&parts[1]),
            ],
            &["merge:", "part1"],
        );
        let other_grid = dir.join("other.toml");
        std::fs::write(&other_grid, GRID.replace("gbs = 64", "gbs = 128")).unwrap();
        let foreign = dir.join(format!("foreign.{ext}"));
        ok(&[&["sweep", s(&other_grid), "--shard", "3/4", "-o", s(&foreign)], fmt].concat());
        fails(
            &["merge", s(&parts[0]), s(&parts[1]), s(&parts[2]), s(&foreign)],
            &["merge:", "another grid"],
        );
    }
}

/// A training point's row is what `fabricsim train --json` prints for the same values, and a
/// collective point's what `fabricsim collective --json` prints.
#[test]
fn rows_are_what_train_and_collective_print() {
    let dir = temp_dir("same");
    let grid = dir.join("grid.toml");
    std::fs::write(&grid, GRID).unwrap();
    let v: Value = serde_json::from_str(&ok(&["sweep", s(&grid), "--json"])).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let t: Value = serde_json::from_str(&ok(&[
        "train",
        "--cluster",
        "fat-tree:gpus=64",
        "--model",
        "llama-3.1-8b",
        "--gpus",
        "64",
        "--tp",
        "4",
        "--pp",
        "2",
        "--seq",
        "4096",
        "--gbs",
        "64",
        "--fidelity",
        "analytical",
        "--json",
    ]))
    .unwrap();
    let r = &rows[4];
    assert_eq!(r["gpus"], 64);
    assert_eq!(r["plan"], "tp=4,pp=2");
    for k in ["step_time_s", "tokens_per_s", "mfu", "memory_bytes_per_accel", "fits"] {
        assert_eq!(r[k], t[k], "{k}");
    }
    for k in ["tp", "pp", "dp", "mbs", "gbs", "seq", "zero", "recompute"] {
        assert_eq!(r[k], t["plan"][k], "{k}");
    }
    for k in ["compute_s", "tp_comm_s", "dp_comm_s", "pipeline_bubble_s"] {
        assert_eq!(r[k], t["breakdown"][k], "{k}");
    }
    let c: Value = serde_json::from_str(&ok(&[
        "collective",
        "--cluster",
        "fat-tree:gpus=64",
        "--op",
        "all_reduce",
        "--ranks",
        "8",
        "--size",
        "16M",
        "--fidelity",
        "analytical",
        "--json",
    ]))
    .unwrap();
    let r = &rows[10];
    assert_eq!(r["cluster"], "fat-tree:gpus=64");
    assert_eq!(r["size_bytes"], 16 * 1048576);
    let row = &c["rows"][0];
    for k in [
        "time_s",
        "algbw_bytes_per_s",
        "busbw_bytes_per_s",
        "algorithm",
        "protocol",
    ] {
        assert_eq!(r[k], row[k], "{k}");
    }
}

#[test]
fn bad_grids_and_shards_exit_2_naming_file_field_and_problem() {
    let dir = temp_dir("bad");
    let cases: &[(&str, &[&str])] = &[
        (
            "[[train]]\nclusters = [\"x\"]\nmodel = [\"llama-3.1-8b\"]\n",
            &["unknown field `model`"],
        ),
        (
            "[[train]]\nclusters = [\"x\"]\nmodels = [\"gpt-5\"]\n",
            &["train[0].models[0]", "unknown model `gpt-5`"],
        ),
        (
            "[[collective]]\nclusters = [\"x\"]\nops = [\"all_reduce\"]\nsizes = []\n",
            &["collective[0].sizes", "empty"],
        ),
        ("[[train]\n", &["TOML parse error"]),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let f = dir.join(format!("bad{i}.toml"));
        std::fs::write(&f, text).unwrap();
        let mut w = vec![s(&f)];
        w.extend_from_slice(want);
        fails(&["sweep", s(&f)], &w);
    }
    fails(
        &["sweep", "/no/such/grid.toml"],
        &["cannot read grid file `/no/such/grid.toml`"],
    );
    let g = dir.join("ok.toml");
    std::fs::write(&g, GRID).unwrap();
    fails(&["sweep", s(&g), "--shard", "4/4"], &["--shard", "0/4 … 3/4"]);
    fails(&["sweep", s(&g), "--shard", "two"], &["--shard", "INDEX/COUNT"]);
    fails(&["merge", "/no/such/part.csv"], &["cannot read shard output"]);
}

/// Distance × DCI capacity through the sweep machinery: multi-site clusters as the `clusters`
/// list, `cross_site` as a table key; every row carries the loss against one site.
#[test]
fn multi_site_grid_rows_carry_the_loss() {
    let dir = temp_dir("multisite");
    let grid = dir.join("g.toml");
    std::fs::write(
        &grid,
        r#"
[[train]]
clusters = ["multi-site:gpus=128,sites=2,distance_km=30,wan_gbit=100",
            "multi-site:gpus=128,sites=2,distance_km=2000,wan_gbit=100",
            "multi-site:gpus=128,sites=2,distance_km=30,wan_gbit=3200"]
models = ["llama-3.1-8b"]
plans = [{tp = 8, pp = 2}]
gbs = 64
seq = 2048
fidelity = "analytical"
cross_site = "pp"
"#,
    )
    .expect("write grid");
    let out = dir.join("rows.json");
    ok(&["sweep", s(&grid), "--json", "-o", s(&out)]);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("rows")).expect("JSON");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    let loss: Vec<f64> = rows
        .iter()
        .map(|r| {
            r["multi_site_loss_fraction"]
                .as_f64()
                .unwrap_or_else(|| panic!("no loss in {r}"))
        })
        .collect();
    // More distance costs more; more capacity costs less.
    assert!(loss[1] > loss[0] && loss[2] < loss[0], "{loss:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
