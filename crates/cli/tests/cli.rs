//! The `fabricsim` binary: `presets` and `topo`, text and JSON, determinism, and errors
//! (exit code 2 with a message naming the preset or file and the parameter).

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
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

/// Run, expect success, return stdout.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?} failed ({:?}): {}", o.status, stderr(&o));
    stdout(&o)
}

/// Run, expect exit code 2 and a message on stderr containing every fragment.
fn fails(args: &[&str], fragments: &[&str]) {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}: status {:?}, stdout {}",
        o.status,
        stdout(&o)
    );
    let e = stderr(&o);
    for f in fragments {
        assert!(e.contains(f), "{args:?}: stderr {e:?} lacks {f:?}");
    }
    assert!(!e.contains("panicked"), "{args:?}: {e}");
}

fn json(args: &[&str]) -> Value {
    let out = ok(args);
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

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// A fresh temporary directory for this test.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fabricsim-cli-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn presets_lists_every_preset() {
    let out = ok(&["presets"]);
    for (name, _) in fabric::presets::PRESETS {
        assert!(
            out.lines().any(|l| l.split_whitespace().next() == Some(*name)),
            "`{name}` missing from:\n{out}"
        );
    }
    assert_eq!(out.lines().count(), fabric::presets::PRESETS.len());
    let j = json(&["presets", "--json"]);
    assert!(j["schema_version"].is_u64());
    let names: Vec<&str> = j["presets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = fabric::presets::PRESETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, want);
}

#[test]
fn topo_text_shows_key_figures() {
    let cases: &[(&str, &[&str])] = &[
        ("hpn7-pod", &["hpn7-pod", "15360 ×", "ToR", "aggregation", "2 plane(s)"]),
        (
            "tpu-v4-pod",
            &[
                "tpu-v4-pod",
                "4096 ×",
                "OCS                  48",
                "optical transceivers 6144 (scale-up 6144",
            ],
        ),
        (
            "cloudmatrix384",
            &[
                "cloudmatrix384",
                "384 ×",
                "optical transceivers 6912 (scale-up 5376, scale-out 1536",
                "UB L1",
                "UB L2",
            ],
        ),
        (
            "gb200-nvl72",
            &[
                "gb200-nvl72",
                "72 ×",
                "900 GB/s per accelerator",
                "nvlink5",
                "switch chips         18",
            ],
        ),
        (
            "dgx-h100-superpod:su=4",
            &["dgx-h100-superpod:su=4", "1016 ×", "leaf", "spine"],
        ),
    ];
    for (spec, frags) in cases {
        let out = ok(&["topo", spec]);
        for f in *frags {
            assert!(out.contains(f), "topo {spec}: output lacks {f:?}:\n{out}");
        }
        for section in ["tiers", "counts", "bill of materials", "total"] {
            assert!(out.contains(section), "topo {spec}: no `{section}` section");
        }
    }
}

#[test]
fn topo_json_has_the_schema_and_right_values() {
    struct Case {
        spec: &'static str,
        count: u64,
        model: &'static str,
        tiers: &'static [(&'static str, u64)],
        ocs: u64,
        optics: (u64, u64, u64),
        su_per_accel: f64,
        aggregate: f64,
        bisection: Option<f64>,
    }
    let cases = [
        Case {
            spec: "hpn7-pod",
            count: 15_360,
            model: "h100",
            tiers: &[("ToR", 240), ("aggregation", 120), ("scale-up switch", 7680)],
            ocs: 0,
            optics: (90_240, 0, 90_240),
            su_per_accel: 450e9,
            aggregate: 7.2e12,
            bisection: Some(15_360.0 * 50e9 / 2.0 * 120.0 / 128.0),
        },
        Case {
            spec: "tpu-v4-pod",
            count: 4096,
            model: "tpu-v4",
            tiers: &[],
            ocs: 48,
            optics: (6144, 6144, 0),
            su_per_accel: 300e9,
            aggregate: 4096.0 * 600e9,
            bisection: Some(25.6e12),
        },
        Case {
            spec: "cloudmatrix384",
            count: 384,
            model: "ascend-910c",
            tiers: &[("UB L1", 336), ("UB L2", 112)],
            ocs: 0,
            optics: (6912, 5376, 1536),
            su_per_accel: 350e9,
            aggregate: 268.8e12,
            bisection: None,
        },
        Case {
            spec: "gb200-nvl72",
            count: 72,
            model: "gb200",
            tiers: &[("scale-up switch", 18)],
            ocs: 0,
            optics: (0, 0, 0),
            su_per_accel: 900e9,
            aggregate: 129.6e12,
            bisection: Some(36.0 * 900e9),
        },
        Case {
            spec: "dgx-h100-superpod:su=4",
            count: 1016,
            model: "h100",
            tiers: &[("leaf", 32), ("spine", 16), ("scale-up switch", 508)],
            ocs: 0,
            optics: (2 * (1016 + 1024), 0, 2 * (1016 + 1024)),
            su_per_accel: 450e9,
            aggregate: 7.2e12,
            bisection: Some(1016.0 * 50e9 / 2.0),
        },
    ];
    for c in &cases {
        let j = json(&["topo", c.spec, "--json"]);
        let s = c.spec;
        assert_eq!(j["schema_version"].as_u64(), Some(1), "{s}");
        assert_eq!(j["name"].as_str(), Some(s), "{s}");
        assert_eq!(j["accelerators"]["count"].as_u64(), Some(c.count), "{s}");
        assert_eq!(j["accelerators"]["model"].as_str(), Some(c.model), "{s}");
        let by_tier = j["switches_by_tier"]
            .as_object()
            .unwrap_or_else(|| panic!("{s}: switches_by_tier"));
        for (t, n) in c.tiers {
            assert_eq!(
                by_tier.get(*t).and_then(Value::as_u64),
                Some(*n),
                "{s}: tier {t} in {by_tier:?}"
            );
        }
        let sum: u64 = by_tier.values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(
            j["switch_count"].as_u64(),
            Some(sum),
            "{s}: switch_count is the sum over tiers"
        );
        assert_eq!(j["ocs_count"].as_u64(), Some(c.ocs), "{s}");
        let t = &j["optical_transceivers"];
        assert_eq!(
            (t["total"].as_u64(), t["scale_up"].as_u64(), t["scale_out"].as_u64()),
            (Some(c.optics.0), Some(c.optics.1), Some(c.optics.2)),
            "{s}: {t}"
        );
        assert!(
            close(num(&j, "scale_up_bytes_per_s_per_accel"), c.su_per_accel),
            "{s}: {}",
            j["scale_up_bytes_per_s_per_accel"]
        );
        assert!(
            close(num(&j, "scale_up_aggregate_bytes_per_s"), c.aggregate),
            "{s}: {}",
            j["scale_up_aggregate_bytes_per_s"]
        );
        let bis = num(&j, "bisection_bytes_per_s");
        assert!(bis > 0.0, "{s}");
        if let Some(b) = c.bisection {
            assert!(close(bis, b), "{s}: bisection {bis} vs {b}");
        }
        let power = num(&j, "power_w");
        assert!(power > 0.0, "{s}: power");
        assert!(num(&j, "cost_usd") >= 0.0, "{s}: cost");
    }
}

#[test]
fn output_is_deterministic() {
    for args in [
        &["topo", "hpn7-pod:segments=2", "--json"][..],
        &["topo", "tpu-v4-pod:slice=4x4x8"],
        &["topo", "multi-site:gpus=512", "--json"],
        &["presets"],
    ] {
        let a = run(args);
        let b = run(args);
        assert!(a.status.success(), "{args:?}: {}", stderr(&a));
        assert_eq!(a.stdout, b.stdout, "{args:?}: output differs between runs");
    }
}

#[test]
fn errors_exit_2_with_a_clear_message() {
    fails(
        &["topo", "no-such-cluster"],
        &["error:", "unknown preset `no-such-cluster`"],
    );
    fails(
        &["topo", "fat-tree:gpuz=64"],
        &["fat-tree", "unknown parameter `gpuz`", "gpus"],
    );
    fails(
        &["topo", "dgx-h100-superpod:su=0"],
        &["dgx-h100-superpod", "`su`", "out of range"],
    );
    fails(
        &["topo", "fat-tree:gpus=lots"],
        &["fat-tree", "`gpus`", "expected an integer"],
    );
    fails(&["topo", "fat-tree:gpus=12"], &["`gpus`", "multiple"]);
    fails(&["topo", "fat-tree:gpus"], &["fat-tree", "gpus", "key=value"]);
    // clap usage errors use code 2 as well.
    fails(&["topo"], &["SPEC"]);
    fails(&["frobnicate"], &["frobnicate"]);
}

#[test]
fn cluster_files() {
    let dir = temp_dir("files");
    // A user's cluster file that works.
    let good = dir.join("mine.toml");
    std::fs::write(
        &good,
        "name = \"mine\"\ngenerator = \"fat-tree\"\n[params]\ngpus = 64\n",
    )
    .unwrap();
    let g = good.to_str().unwrap();
    let j = json(&["topo", g, "--json"]);
    assert_eq!(j["accelerators"]["count"].as_u64(), Some(64));
    // FILE.toml:key=value overrides.
    let j = json(&["topo", &format!("{g}:gpus=128"), "--json"]);
    assert_eq!(j["accelerators"]["count"].as_u64(), Some(128));
    let j = json(&["topo", &format!("{g}:gpus=128,oversub=3"), "--json"]);
    assert_eq!(j["accelerators"]["count"].as_u64(), Some(128));
    // An override with an unknown key names the file and the key.
    fails(&["topo", &format!("{g}:gpux=128")], &["mine.toml", "gpux"]);
    fails(
        &["topo", &format!("{g}:gpus=0")],
        &["mine.toml", "gpus", "out of range"],
    );
    // A file with a bad parameter names the file and the parameter.
    let bad_param = dir.join("badparam.toml");
    std::fs::write(&bad_param, "generator = \"fat-tree\"\n[params]\ngpus = 63\n").unwrap();
    fails(
        &["topo", bad_param.to_str().unwrap()],
        &["badparam.toml", "gpus", "multiple"],
    );
    // Malformed TOML.
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "generator = \"fat-tree\"\n[params\ngpus = 64\n").unwrap();
    fails(&["topo", broken.to_str().unwrap()], &["broken.toml", "malformed TOML"]);
    // Unknown generator.
    let gen = dir.join("gen.toml");
    std::fs::write(&gen, "generator = \"warp-drive\"\n").unwrap();
    fails(&["topo", gen.to_str().unwrap()], &["gen.toml", "warp-drive"]);
    // A missing file.
    let missing = dir.join("missing.toml");
    fails(&["topo", missing.to_str().unwrap()], &["missing.toml", "cannot read"]);
    let _ = std::fs::remove_dir_all(&dir);
}
