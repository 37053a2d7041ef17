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
        let by_tier = j["switch_count_by_tier"]
            .as_object()
            .unwrap_or_else(|| panic!("{s}: switch_count_by_tier"));
        for (t, n) in c.tiers {
            let key = t.replace([' ', '-'], "_").to_lowercase();
            assert_eq!(
                by_tier.get(&key).and_then(Value::as_u64),
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

/// "What the user pays for": IT power counts every system at its published power plus the fabric,
/// facility power applies the PUE, racks are always counted, and every accelerator is priced or
/// says why not.
#[test]
fn topo_power_is_systems_plus_fabric_and_facility_applies_the_pue() {
    // 127 DGX H100 × 10.2 kW max (systems.md §1.1 [S]) + the fabric: 32 leaf + 16 spine QM9700 at
    // the 512 W switch rule [A] and 4,080 × 9 W 400G DR4 optics (§9.2 [P]).
    let systems = 127.0 * 10_200.0;
    let fabric = 48.0 * 512.0 + 4080.0 * 9.0;
    let j = json(&["topo", "dgx-h100-superpod:su=4", "--json"]);
    assert!(close(num(&j, "systems_power_w"), systems), "{}", j["systems_power_w"]);
    assert!(close(num(&j, "fabric_power_w"), fabric), "{}", j["fabric_power_w"]);
    assert!(close(num(&j, "it_power_w"), systems + fabric), "{}", j["it_power_w"]);
    assert!(
        close(num(&j, "power_w"), num(&j, "it_power_w")),
        "power_w keeps its meaning: IT power"
    );
    // Default PUE 1.3 [A], stated.
    assert!(close(num(&j, "pue"), 1.3));
    assert!(close(num(&j, "facility_power_w"), 1.3 * (systems + fabric)));
    assert!(
        j["pue_basis"].as_str().unwrap().contains("default"),
        "{}",
        j["pue_basis"]
    );
    // §1.2 [S]: the 4-SU SuperPOD uses 38 racks (32 of 4 DGX H100 + 6 network).
    assert_eq!(j["racks"].as_u64(), Some(38));
    assert_eq!(j["compute_racks"].as_u64(), Some(32));
    let text = ok(&["topo", "dgx-h100-superpod:su=4"]);
    for f in [
        "power (nameplate maximum)",
        "IT power           1.36 MW = systems 1.30 MW (127 × 10.2 kW per scale-up domain)",
        "facility power     1.76 MW = IT × PUE 1.30 (default",
        "racks 38 = 32 compute",
    ] {
        assert!(text.contains(f), "text lacks {f:?}:\n{text}");
    }
    // --pue overrides, in JSON and text.
    let j = json(&["topo", "dgx-h100-superpod:su=4", "--pue", "1.1", "--json"]);
    assert!(close(num(&j, "facility_power_w"), 1.1 * (systems + fabric)));
    assert!(j["pue_basis"].as_str().unwrap().contains("--pue"));
    let text = ok(&["topo", "dgx-h100-superpod:su=4", "--pue", "1.1"]);
    assert!(text.contains("IT × PUE 1.10 (set with --pue)"), "{text}");
    // One GB200 SuperPOD SU: "Each SU requires a TDP of 1.2 MW" (§2.2 [P]), within 10 %.
    let j = json(&["topo", "gb200-superpod:racks=8", "--json"]);
    let it = num(&j, "it_power_w");
    assert!((it / 1.2e6 - 1.0).abs() <= 0.10, "gb200 SU IT power {it} W");
    assert!(close(num(&j, "systems_power_w"), 8.0 * 132_000.0));
}

#[test]
fn topo_counts_racks_and_prices_every_preset() {
    for (name, _) in fabric::presets::PRESETS {
        let j = json(&["topo", name, "--json"]);
        let racks = j["racks"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: racks {}", j["racks"]));
        let parts = ["compute_racks", "network_racks", "extra_racks"]
            .iter()
            .map(|k| j[k].as_u64().unwrap())
            .sum::<u64>();
        assert!(racks > 0 && racks == parts, "{name}: racks {racks} vs parts {parts}");
        assert!(!j["rack_basis"].as_str().unwrap().is_empty(), "{name}");
        for item in j["bom"].as_array().unwrap() {
            let priced = item["unit_price_usd"].is_number();
            let note = item["price_note"].as_str();
            assert!(
                priced != note.is_some(),
                "{name}: a price or a note, not both or neither: {item}"
            );
        }
        for u in j["unpriced_items"].as_array().unwrap() {
            assert!(u.as_str().unwrap().contains(": "), "{name}: no reason in {u}");
        }
        assert!(
            close(num(&j, "power_w"), num(&j, "it_power_w")),
            "{name}: power_w is IT power"
        );
    }
    // H200, B200 and GB200 are priced; TPUs say why not.
    for spec in ["hgx:gpu=h200", "hgx:gpu=b200", "gb200-nvl72", "cloudmatrix384"] {
        let j = json(&["topo", spec, "--json"]);
        assert!(j["bom"][0]["unit_price_usd"].is_number(), "{spec}: {}", j["bom"][0]);
    }
    let j = json(&["topo", "tpu-v4-pod", "--json"]);
    assert!(
        j["bom"][0]["price_note"]
            .as_str()
            .unwrap()
            .contains("Google does not sell TPUs"),
        "{}",
        j["bom"][0]
    );
    let text = ok(&["topo", "tpu-v4-pod"]);
    assert!(text.contains("cost leaves out, for want of a public price:"), "{text}");
}

#[test]
fn pue_out_of_range_exits_2() {
    for bad in ["0.9", "3.5", "NaN", "inf", "-1"] {
        fails(
            &["topo", "dgx-h100", &format!("--pue={bad}")],
            &["--pue", "between 1.0 and 3.0"],
        );
    }
    fails(&["topo", "dgx-h100", "--pue", "abc"], &["--pue", "abc"]);
    ok(&["topo", "dgx-h100", "--pue", "1"]);
    ok(&["topo", "dgx-h100", "--pue", "3"]);
}

/// Run in `dir`, expect success, return (stdout, stderr).
fn ok_in(dir: &std::path::Path, args: &[&str]) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run fabricsim");
    assert!(o.status.success(), "{args:?} failed ({:?}): {}", o.status, stderr(&o));
    (stdout(&o), stderr(&o))
}

/// Regression (issue "Reports a user can act on", point 8): `validate` needed a file. With no
/// FILE it replays the bundled measurements, from any directory, and says which data set it
/// used and how many rows it has.
#[test]
fn validate_without_a_file_uses_the_bundled_data() {
    let dir = temp_dir("validate-bundled");
    let (out, err) = ok_in(&dir, &["validate", "--training"]);
    assert!(err.is_empty(), "progress or noise on a non-terminal stderr: {err:?}");
    let head = out.lines().next().unwrap_or("");
    assert!(
        head.starts_with("== training · bundled testdata/training.csv ("),
        "{head}"
    );
    // The row count is the file's: every data row is compared or skipped.
    let (j, _) = ok_in(&dir, &["validate", "--training", "--json"]);
    let v: Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["data_set"], "bundled testdata/training.csv");
    let n = v["summary"]["rows_compared"].as_u64().unwrap() + v["summary"]["rows_skipped"].as_u64().unwrap();
    assert!(head.ends_with(&format!("({n} rows)")), "{head} vs {n} rows");
    assert!(n >= 30, "{n}");

    let (j, _) = ok_in(&dir, &["validate", "--collectives", "--json"]);
    let v: Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["kind"], "collectives");
    assert_eq!(v["data_set"], "bundled testdata/collectives.csv");

    // No flag: both data sets; the same rows as the files themselves.
    let (j, _) = ok_in(&dir, &["validate", "--json"]);
    let v: Value = serde_json::from_str(&j).unwrap();
    let reports = v["reports"].as_array().unwrap();
    let sets: Vec<&str> = reports.iter().map(|r| r["data_set"].as_str().unwrap()).collect();
    assert_eq!(
        sets,
        ["bundled testdata/collectives.csv", "bundled testdata/training.csv"]
    );
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/collectives.csv");
    let from_file: Value = serde_json::from_str(&ok(&["validate", "--collectives", file, "--json"])).unwrap();
    assert_eq!(from_file["data_set"], file);
    assert_eq!(
        from_file["rows"], reports[0]["rows"],
        "bundled copy differs from testdata/"
    );
    let (text, _) = ok_in(&dir, &["validate"]);
    assert!(
        text.contains("== collectives · bundled testdata/collectives.csv ("),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression (issue "Reports a user can act on", point 8): `models` listed the registry in its
/// own order. Sorted by name, with total and active parameters in billions, text and JSON.
#[test]
fn models_sorted_with_parameter_counts() {
    let out = ok(&["models"]);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    for col in ["model", "params", "active"] {
        assert!(header.contains(col), "{header}");
    }
    let names: Vec<&str> = lines.clone().map(|l| l.split_whitespace().next().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let mixtral = lines
        .find(|l| l.starts_with("mixtral-8x7b "))
        .expect("mixtral-8x7b listed");
    assert!(mixtral.contains("46.7 B") && mixtral.contains("12.9 B"), "{mixtral}");

    let v = json(&["models", "--json"]);
    let models = v["models"].as_array().unwrap();
    let jnames: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(jnames, names);
    for m in models {
        assert!(m["params"].is_u64() && m["active_params"].is_u64(), "{m}");
        let (p, a) = (num(m, "params_billions"), num(m, "active_params_billions"));
        assert!(close(p, num(m, "params") / 1e9), "{m}");
        assert!(close(a, num(m, "active_params") / 1e9), "{m}");
        assert!(a <= p && a > 0.0, "{m}");
    }
    let m = models.iter().find(|m| m["name"] == "deepseek-v3").unwrap();
    assert_eq!(m["experts_per_token"], 8);
}

/// Every object key of `v`, with its path, that is not a snake_case identifier.
fn bad_keys(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let snake = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !snake {
                    out.push(format!("{path}.{k}"));
                }
                bad_keys(x, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| bad_keys(x, &format!("{path}[]"), out)),
        _ => {}
    }
}

/// Regression (issue "Reports a user can act on", point 8): `topo --json` keyed counts by
/// printed names (`"scale-up switch"`). Every JSON key is snake_case.
#[test]
fn json_keys_are_snake_case() {
    let commands: &[&[&str]] = &[
        &["presets", "--json"],
        &["models", "--json"],
        &["topo", "dgx-h100-superpod:su=1", "--json"],
        &["topo", "tpu-v4-pod", "--json"],
        &["topo", "multi-site:gpus=64", "--json"],
        &[
            "collective",
            "--cluster",
            "dgx-h100",
            "--op",
            "all_reduce",
            "--size",
            "1M",
            "--json",
        ],
        &["nccl-tests", "all_reduce_perf", "-g", "8", "--json"],
        &["validate", "--json"],
        &["train", "--model", "llama-3-8b", "--cluster", "dgx-h100", "--json"],
    ];
    for args in commands {
        let v = json(args);
        let mut bad = Vec::new();
        bad_keys(&v, "", &mut bad);
        assert!(bad.is_empty(), "{args:?}: keys {bad:?}");
    }
    let v = json(&["topo", "tpu-v4-pod", "--json"]);
    // The maps keyed by printed names (with spaces) left the JSON; the snake_case ones stay.
    for old in ["switches_by_tier", "cables_by_medium"] {
        assert!(v.get(old).is_none(), "{old} still in the JSON");
    }
    assert!(
        v["cable_count_by_medium"]["scale_up_optical_ocs"].as_u64().unwrap() > 0,
        "{v}"
    );
    let v = json(&["topo", "dgx-h100-superpod:su=1", "--json"]);
    assert_eq!(v["switch_count_by_tier"]["scale_up_switch"].as_u64(), Some(31 * 4));
}

/// Progress bars go to a terminal only: never into a pipe, a log or a test.
#[test]
fn no_progress_on_a_non_terminal_stderr() {
    for args in [
        &["validate", "--training"][..],
        &["collective", "--cluster", "fat-tree:gpus=64", "--op", "all_reduce"][..],
        &["topo", "dgx-h100-superpod:su=1"][..],
    ] {
        let o = run(args);
        assert!(o.status.success(), "{args:?}");
        assert!(o.stderr.is_empty(), "{args:?}: stderr {:?}", stderr(&o));
    }
}

/// The shipped example runs Meta's published Llama 3 405B layout and fits; its comments quote
/// this run, so a large move of the prediction shows here.
#[test]
fn llama3_example_runs_metas_layout() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/llama3-405b-16k.toml");
    let v = json(&["train", path, "--json"]);
    let p = &v["plan"];
    for (k, want) in [
        ("tp", 8),
        ("pp", 16),
        ("dp", 128),
        ("cp", 1),
        ("vp", 4),
        ("mbs", 1),
        ("gbs", 2048),
        ("seq", 8192),
    ] {
        assert_eq!(p[k], want, "plan.{k}: {p}");
    }
    assert_eq!(v["cluster"], "meta-roce-24k");
    assert_eq!(v["fits"], true);
    let mfu = num(&v, "mfu");
    assert!(
        (0.30..0.50).contains(&mfu),
        "MFU {mfu} far from the example's 39.6 % (Meta: 41 %)"
    );
}

/// Issue 8 part 7: `validate --explain` prints, under each row, the scenario it became — the
/// cluster spec, model, plan, framework, memory — and every assumption that filled a gap.
#[test]
fn validate_explain_prints_each_rows_scenario() {
    let out = ok(&["validate", "--training", "--explain"]);
    let block: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("T020 "))
        .take_while(|l| l.starts_with("T020 ") || l.starts_with("       "))
        .collect();
    let text = block.join("\n");
    for want in [
        "(assumed)",
        "cluster: rail-optimized:gpus=96,node=dgx-h100",
        "model: ",
        "plan: TP8 PP6 DP2",
        "framework: megatron",
        "memory: ",
        "assumed: layout not stated",
        "T017",
    ] {
        assert!(text.contains(want), "`{want}` missing from:\n{text}");
    }
    assert!(out.contains("assumed rows (T020, T021, T026"), "{out}");
    let out = ok(&["validate", "--collectives", "--explain"]);
    assert!(out.contains("       cluster: "), "{out}");
    // Without the flag, no scenario lines.
    assert!(!ok(&["validate", "--training"]).contains("       cluster: "));
}

/// Issue 8 part 10: `expected_error_pct` in the JSON of `train` and `collective`, a ± on the text.
#[test]
fn predictions_carry_their_expected_error() {
    let v: Value = serde_json::from_str(&ok(&["train", "--json"])).unwrap();
    let e = v["expected_error_pct"].as_f64().expect("train expected_error_pct");
    assert!(e > 0.0 && e < 100.0, "{e}");
    assert!(v["expected_error_basis"]
        .as_str()
        .unwrap()
        .contains("validated training rows"));
    let text = ok(&["train"]);
    assert!(
        text.lines().any(|l| l.starts_with("step") && l.contains(" ± ")),
        "{text}"
    );
    let v: Value = serde_json::from_str(&ok(&[
        "collective",
        "--cluster",
        "dgx-h100",
        "--op",
        "all_reduce",
        "--sizes",
        "1M:1G",
        "--json",
    ]))
    .unwrap();
    for row in v["rows"].as_array().unwrap() {
        assert!(row["expected_error_pct"].as_f64().is_some(), "{row}");
    }
    let text = ok(&[
        "collective",
        "--cluster",
        "dgx-h100",
        "--op",
        "all_reduce",
        "--size",
        "1G",
    ]);
    assert!(text.contains("# expected error ± "), "{text}");
}

/// `--routing` is a property of the cluster: `topo` shows the preset's default and the flag's
/// choice, in text and JSON; `collective` reports it, and its output is byte-identical from run
/// to run in every mode.
#[test]
fn routing_mode_is_shown_and_reproducible() {
    let v = json(&["topo", "fat-tree:gpus=64", "--json"]);
    assert_eq!(v["routing"], "ecmp");
    let v = json(&["topo", "dgx-h100-superpod:su=1", "--json"]);
    assert_eq!(v["routing"], "adaptive");
    let v = json(&["topo", "fat-tree:gpus=64", "--routing", "spray", "--json"]);
    assert_eq!(v["routing"], "spray");
    assert!(ok(&["topo", "fat-tree:gpus=64", "--routing", "adaptive"]).contains("routing adaptive"));
    let mut busbw = Vec::new();
    for m in ["ecmp", "adaptive", "spray"] {
        let args = [
            "collective",
            "--cluster",
            "fat-tree:gpus=256",
            "--op",
            "all_to_all",
            "--size",
            "256M",
            "--routing",
            m,
            "--json",
        ];
        let a = ok(&args);
        assert_eq!(a, ok(&args), "--routing {m}: same input, same bytes");
        let v: Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["routing"], m);
        busbw.push(v["rows"][0]["busbw_bytes_per_s"].as_f64().unwrap());
    }
    assert!(busbw[0] < busbw[1] && busbw[1] <= busbw[2], "{busbw:?}");
}

/// Issue 8 part 2: whole NVL72 racks plus a partial one — 256 GPUs on 4 racks fill them in
/// order (72 + 72 + 72 + 40), for `train --gpus` and `collective --ranks` alike.
#[test]
fn whole_racks_plus_a_partial_one() {
    let v = json(&[
        "train",
        "--cluster",
        "gb200-superpod:racks=4",
        "--gpus",
        "256",
        "--model",
        "llama-3.1-8b",
        "--seq",
        "4096",
        "--json",
    ]);
    assert_eq!(
        v["plan"]["tp"].as_u64().unwrap() * v["plan"]["pp"].as_u64().unwrap() * v["plan"]["dp"].as_u64().unwrap(),
        256
    );
    assert!(v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("256 of the cluster's 288")));
    let c = json(&[
        "collective",
        "--cluster",
        "gb200-superpod:racks=4",
        "--ranks",
        "256",
        "--op",
        "all_reduce",
        "--size",
        "1G",
        "--json",
    ]);
    assert_eq!(c["ranks"], 256);
    assert!(c["rows"][0]["busbw_bytes_per_s"].as_f64().unwrap() > 0.0);
}
