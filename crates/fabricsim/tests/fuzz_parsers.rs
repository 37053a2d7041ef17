//! Bounded mutation fuzzing of every parser and entry point that reads user input, run in CI
//! (the coverage-guided harnesses of `fuzz/` go deeper; `docs/fuzzing.md`). Each case takes a
//! valid seed from `testdata/fuzz-seeds/`, applies a few random edits (byte flips, insertions of
//! characters and tokens that parsers trip on, deletions, duplicated or swapped lines) and feeds
//! it to the entry point, which must return `Ok` or an error — never panic. Errors must name
//! where they come from (a non-empty message).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn seed(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fuzz-seeds")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Tokens that parsers trip on.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "nan",
    "inf",
    "99999999999999999999",
    "4294967296",
    "\"",
    "'",
    "=",
    ",",
    "[",
    "]",
    "{",
    "}",
    "\n",
    "\r\n",
    ":",
    "x",
    "\u{0}",
    "é",
    "#",
    "true",
    "-0.0",
    "0.5",
];

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, usize),
    Delete(usize, usize),
    DupLine(usize),
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Flip(a, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), 1usize..12).prop_map(|(a, n)| Edit::Delete(a, n)),
        any::<usize>().prop_map(Edit::DupLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b: Vec<u8> = text.as_bytes().to_vec();
    for e in edits {
        let n = b.len().max(1);
        match *e {
            Edit::Flip(i, v) => {
                if !b.is_empty() {
                    b[i % n] = v;
                }
            }
            Edit::Insert(i, t) => {
                let at = i % (b.len() + 1);
                b.splice(at..at, TOKENS[t].bytes());
            }
            Edit::Delete(i, k) => {
                let at = i % n;
                let end = (at + k).min(b.len());
                if at < end {
                    b.drain(at..end);
                }
            }
            Edit::DupLine(i) | Edit::SwapLines(i, _) => {
                let s = String::from_utf8_lossy(&b).to_string();
                let mut lines: Vec<&str> = s.split('\n').collect();
                let l = lines.len();
                if let Edit::SwapLines(_, j) = *e {
                    lines.swap(i % l, j % l);
                } else {
                    let x = lines[i % l];
                    lines.insert(i % l, x);
                }
                b = lines.join("\n").into_bytes();
            }
        }
    }
    String::from_utf8_lossy(&b).to_string()
}

/// Run `target` on `cases` mutations of `seed`.
fn fuzz(name: &str, seeds: &[&str], cases: u32, target: impl Fn(&str) -> Result<(), String>) {
    let texts: Vec<String> = seeds.iter().map(|s| seed(s)).collect();
    // Every seed is valid input.
    for (s, t) in seeds.iter().zip(&texts) {
        if let Err(e) = target(t) {
            panic!("{name}: seed {s} is rejected: {e}");
        }
    }
    // FABRICSIM_FUZZ_SCALE=N runs N times the CI's cases (a local campaign).
    let scale: u32 = std::env::var("FABRICSIM_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut runner = TestRunner::new(Config {
        cases: cases.saturating_mul(scale.max(1)),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..texts.len(), prop::collection::vec(edit(), 1..6));
    runner
        .run(&strategy, |(i, edits)| {
            let input = apply(&texts[i], &edits);
            if let Err(e) = target(&input) {
                prop_assert!(!e.trim().is_empty(), "{name}: empty error message for {input:?}");
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn preset_specs() {
    fuzz("preset spec", &["specs.txt"], 200, |text| {
        for line in text.lines().take(4) {
            // Bound the work: a mutated size may ask for a large (valid) fabric.
            if line.len() > 200 {
                continue;
            }
            if let Err(e) = fabric::presets::build_preset(line) {
                if e.to_string().is_empty() {
                    return Err(String::new());
                }
            }
        }
        Ok(())
    });
}

#[test]
fn cluster_toml() {
    fuzz("cluster TOML", &["cluster.toml"], 200, |text| {
        fabricsim::cluster::load(fabricsim::cluster::Source::File {
            path: "c.toml",
            text,
            overrides: "",
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
    });
}

#[test]
fn scenario_toml() {
    fuzz(
        "scenario TOML",
        &["scenario.toml", "scenario-inline.toml"],
        300,
        |text| {
            let sc = fabricsim::scenario::parse(text, "s.toml")?;
            let Some(field) = fabricsim::scenario::model_field(&sc, "s.toml")? else {
                return Ok(());
            };
            let model = fabricsim::scenario::model(&field, "s.toml")?;
            fabricsim::scenario::plan(&sc, 64, 8, 80e9, &model).map(|_| ())
        },
    );
}

#[test]
fn hf_config_json() {
    fuzz("HF config.json", &["config.json", "config-moe.json"], 300, |text| {
        workload::hf::from_hf_config(text, "config.json")
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[test]
fn validation_csvs() {
    fuzz("training CSV", &["training.csv"], 60, |text| {
        fabricsim::validate_training::training(text).map(|_| ())
    });
    fuzz("collectives CSV", &["collectives.csv"], 60, |text| {
        fabricsim::validate::collectives(text, collective::simulate::Options::default()).map(|_| ())
    });
}

#[test]
fn placement_files() {
    fuzz("placement", &["placement.txt"], 300, |text| {
        fabricsim::collective::parse_placement(text).map(|_| ())
    });
}

#[test]
fn calibration_csvs() {
    let (gemm, att, mem) = (seed("gemm.csv"), seed("attention.csv"), seed("memory.csv"));
    fuzz("gemm.csv", &["gemm.csv"], 100, |text| {
        workload::compute::EfficiencyTable::from_csv(text, Some(&att), Some(&mem), "cal")
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    fuzz("attention.csv", &["attention.csv"], 100, |text| {
        workload::compute::EfficiencyTable::from_csv(&gemm, Some(text), Some(&mem), "cal")
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    fuzz("memory.csv", &["memory.csv"], 100, |text| {
        workload::compute::EfficiencyTable::from_csv(&gemm, Some(&att), Some(text), "cal")
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[test]
fn serve_scenario_toml() {
    fuzz("serve scenario TOML", &["serve-scenario.toml"], 300, |text| {
        let i = fabricsim::serve::inputs::ServeInputs::from_toml(text, "s.toml")?;
        i.scenario_from_registry(None).map(|_| ())
    });
}

#[test]
fn serve_trace_csv() {
    fuzz("serve trace CSV", &["serve-trace.csv"], 300, |text| {
        fabricsim::serve::requests::parse_trace(text, "t.csv").map(|_| ())
    });
}
