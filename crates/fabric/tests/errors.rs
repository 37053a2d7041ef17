//! Bad input gives a clear error, never a panic.

use fabric::presets::{self, params, params::Value};
use fabric::{FabricBuilder, FabricError, Medium, Net, SwitchSpec, NONE};
use proptest::prelude::*;
use units::{BytesPerSec, Seconds};

/// Build `spec`, expect an error, and check that its message contains every fragment.
fn err(spec: &str, fragments: &[&str]) -> FabricError {
    let e = match presets::build_preset(spec) {
        Ok((_, f)) => panic!("{spec}: expected an error, built {} accelerators", f.accel_count()),
        Err(e) => e,
    };
    let msg = e.to_string();
    for frag in fragments {
        assert!(msg.contains(frag), "{spec}: message {msg:?} lacks {frag:?}");
    }
    e
}

#[test]
fn unknown_preset() {
    let e = err("no-such-cluster", &["no-such-cluster", "fabricsim presets"]);
    assert!(matches!(e, FabricError::UnknownPreset { .. }));
    err("no-such-cluster:gpus=8", &["no-such-cluster"]);
    assert!(matches!(
        presets::build_preset(""),
        Err(FabricError::UnknownPreset { .. })
    ));
    assert!(matches!(
        presets::build_preset(":gpus=8"),
        Err(FabricError::UnknownPreset { .. })
    ));
}

#[test]
fn unknown_parameter_lists_known_keys() {
    let e = err(
        "fat-tree:gpuz=64",
        &["fat-tree", "gpuz", "known:", "gpus", "oversub", "tiers"],
    );
    assert!(matches!(e, FabricError::UnknownParam { .. }));
    err("dgx-h100-superpod:sus=2", &["dgx-h100-superpod", "sus", "su"]);
    err("hpn7-pod:plane=1", &["hpn7-pod", "plane", "planes", "segments"]);
    err("tpu-v4-pod:gpus=8", &["tpu-v4-pod", "gpus", "slice"]);
    err("dgx-h100:gpu=b200", &["dgx-h100", "gpu", "node"]);
}

#[test]
fn malformed_parameters() {
    err("fat-tree:gpus", &["fat-tree", "gpus", "key=value"]);
    err("fat-tree:=8", &["fat-tree", "empty key"]);
}

#[test]
fn bad_value_types() {
    err(
        "fat-tree:gpus=lots",
        &["fat-tree", "gpus", "expected an integer", "lots"],
    );
    err("fat-tree:gpus=8.5", &["gpus", "expected an integer"]);
    err("fat-tree:oversub=high", &["oversub", "expected a number"]);
    err("fat-tree:oversub=true", &["oversub", "expected a number"]);
    err("tpu-v4-pod:twisted=maybe", &["twisted", "expected true or false"]);
    err("hgx:gpu=v100", &["gpu", "v100", "a100"]);
    err("hpn7-pod:planes=two", &["planes", "expected an integer"]);
    err("fat-tree:node=dgx-z9", &["node", "dgx-z9", "unknown node type"]);
    err(
        "fat-tree:switch=my-switch",
        &["switch", "my-switch", "unknown switch chip"],
    );
}

/// Regression (issue "Reports a user can act on", point 8): an unknown `switch=` did not say
/// which switches exist. Every enum-like preset parameter lists its valid values.
#[test]
fn enum_like_parameters_list_their_values() {
    let ids: Vec<&str> = fabric::catalogue::switch_chips().iter().map(|c| c.id).collect();
    let mut want = vec!["switch", "nope", "known:"];
    want.extend(&ids);
    err("fat-tree:gpus=64,switch=nope", &want);
    err("gb200-superpod:switch=nope", &want);
    let mut want = vec!["node", "nope", "known:"];
    want.extend(fabric::topology::nodes::NODE_TYPES);
    err("fat-tree:node=nope", &want);
    err("dgx-h100:node=nope", &want);
    err("dgx-h100-superpod:node=nope", &want);
    let mut want = vec!["gpu", "v100"];
    want.extend(fabric::topology::nodes::HGX_GPUS);
    err("hgx:gpu=v100", &want);
    err("tpu-v4-pod:gen=v9", &["gen", "v9", "v4", "v5p", "v5e", "v6e", "v7"]);
    err("tpu-v4-pod:twisted=maybe", &["twisted", "true or false"]);
    // A part number is as good as the id.
    assert!(presets::build_preset("fat-tree:gpus=64,switch=qm9700").is_ok());
}

#[test]
fn out_of_range_values() {
    err(
        "dgx-h100-superpod:su=0",
        &["dgx-h100-superpod", "su", "out of range 1..=64"],
    );
    err("dgx-h100-superpod:su=65", &["su", "out of range"]);
    err("dgx-h100-superpod:su=-1", &["su", "out of range"]);
    err("fat-tree:gpus=0", &["fat-tree", "gpus", "out of range"]);
    err("fat-tree:gpus=12", &["gpus", "12 is not a multiple of the 8"]);
    err("fat-tree:gpus=100000000", &["gpus", "out of range"]);
    err("fat-tree:gpus=99999999999999999999", &["gpus"]);
    err("gb200-superpod:racks=129", &["racks", "out of range"]);
    err(
        "fat-tree:node=gb200-nvl72,gpus=100",
        &["gpus", "not a multiple of the 72"],
    );
    err("fat-tree:oversub=0.5", &["oversub", "out of range"]);
    err("fat-tree:oversub=NaN", &["oversub", "out of range"]);
    err("fat-tree:oversub=inf", &["oversub", "out of range"]);
    err("fat-tree:port_gbit=0", &["port_gbit", "out of range"]);
    err("fat-tree:tiers=5", &["tiers", "out of range"]);
    err("hpn7-pod:planes=3", &["planes", "out of range"]);
    err("hpn7-pod:segments=16", &["segments", "out of range"]);
    err("meta-roce-24k:pods=0", &["pods", "out of range"]);
    err("multi-site:sites=1", &["sites", "out of range"]);
    err("multi-site:gpus=24,sites=2", &["sites", "do not split evenly"]);
    err("multi-site:distance_km=-5", &["distance_km", "out of range"]);
    err("cloudmatrix384:nodes=49", &["nodes", "out of range"]);
}

#[test]
fn bad_tpu_slices() {
    err("tpu-v4-pod:slice=5x5x5", &["slice", "multiple of 4"]);
    err("tpu-v4-pod:slice=4x4x4x4", &["slice", "not AxB or AxBxC"]);
    err("tpu-v4-pod:slice=4", &["slice", "not AxB or AxBxC"]);
    err("tpu-v4-pod:slice=0x4x4", &["slice", "out of range"]);
    err("tpu-v4-pod:slice=axbxc", &["slice", "not a positive integer"]);
    err("tpu-v4-pod:slice=32x32x32", &["slice"]);
    err("tpu-v4-pod:slice=16x16x20", &["slice", "exceeds"]);
    err("tpu-v4-pod:slice=4x4x4,twisted=true", &["twisted", "k×k×2k"]);
    err("tpu-v5e-pod:slice=32x32", &["slice"]);
}

#[test]
fn too_many_ports_for_a_switch() {
    // One tier of 64-port switches cannot hold 1024 endpoints.
    let e = err(
        "fat-tree:gpus=1024,tiers=1",
        &[
            "tiers",
            "1 tier(s) of 64-port switches reach at most 64 endpoints, 1024 asked",
        ],
    );
    assert!(matches!(e, FabricError::BadParam { .. }));
    // Regression (robustness issue, "port_gbit=401 → switch `leaf` needs 65 ports"): NICs
    // faster than the switch's ports are refused naming the parameter and the switch.
    let e = err(
        "fat-tree:gpus=1024,switch=nvswitch3",
        &["port_gbit", "400 Gb/s", "nvswitch3", "200G ports"],
    );
    assert!(matches!(e, FabricError::BadParam { .. }), "{e:?}");
    err(
        "fat-tree:gpus=1024,port_gbit=401,switch=quantum2-qm9700",
        &["port_gbit", "401", "quantum2-qm9700", "400G"],
    );
    // Rail-optimized leaves with nothing above them leave the rails apart.
    err("rail-optimized:gpus=64,tiers=1", &["separate blocks"]);
}

#[test]
fn malformed_toml() {
    let cases: &[(&str, &[&str])] = &[
        ("generator = ", &["my.toml", "malformed TOML"]),
        ("name = \"x\"\n", &["my.toml", "malformed TOML", "generator"]),
        ("generator = \"fat-tree\"\nsurprise = 1\n", &["my.toml", "surprise"]),
        (
            "generator = \"fat-tree\"\n[params]\ngpus = [64]\n",
            &["my.toml", "params.gpus", "expected an integer"],
        ),
        (
            "generator = \"fat-tree\"\n[params]\ngpus = \"64\"\n",
            &["my.toml", "gpus", "expected an integer"],
        ),
        (
            "generator = \"fat-tree\"\n[params]\ngpus = 63\n",
            &["my.toml", "gpus", "multiple"],
        ),
        (
            "generator = \"fat-tree\"\n[params]\nflavour = 1\n",
            &["my.toml", "flavour", "known:"],
        ),
        (
            "generator = \"warp-drive\"\n",
            &["my.toml", "generator", "warp-drive", "fat-tree"],
        ),
        ("\u{0}\u{1}", &["my.toml"]),
    ];
    for (text, frags) in cases {
        let e = presets::from_toml(text, "my.toml", &[]).expect_err(text);
        let msg = e.to_string();
        for f in *frags {
            assert!(msg.contains(f), "{text:?}: {msg:?} lacks {f:?}");
        }
    }
    // A good file, with an override, builds.
    let ok = "generator = \"fat-tree\"\n[params]\ngpus = 64\n";
    let (_, f) = presets::from_toml(ok, "my.toml", &[]).unwrap();
    assert_eq!(f.accel_count(), 64);
    let (_, f) = presets::from_toml(ok, "my.toml", &[("gpus".into(), Value::Int(128))]).unwrap();
    assert_eq!(f.accel_count(), 128);
    let e = presets::from_toml(ok, "my.toml", &[("gpux".into(), Value::Int(128))]).unwrap_err();
    assert!(
        e.to_string().contains("my.toml") && e.to_string().contains("gpux"),
        "{e}"
    );
}

fn sw(b: &mut FabricBuilder, model: u32) -> fabric::NodeId {
    let scope = b.scope(NONE);
    b.switch(SwitchSpec {
        net: Net::ScaleOut,
        tier: 1,
        chips: 1,
        model,
        domain: NONE,
        plane: 0,
        pod: NONE,
        site: 0,
        scope,
    })
}

#[test]
fn builder_rejects_disconnected_fabric() {
    let mut b = FabricBuilder::new("islands", "h100");
    let m = b.switch_model("quantum2-qm9700", "leaf", 64, BytesPerSec::from_gbit(400.0));
    let a0 = b.accel(0, NONE, 0);
    let a1 = b.accel(1, NONE, 0);
    let s0 = sw(&mut b, m);
    let s1 = sw(&mut b, m);
    b.cable(
        a0,
        s0,
        BytesPerSec::from_gbit(400.0),
        Seconds(1e-7),
        Medium::Optical,
        Net::ScaleOut,
        1,
    );
    b.cable(
        a1,
        s1,
        BytesPerSec::from_gbit(400.0),
        Seconds(1e-7),
        Medium::Optical,
        Net::ScaleOut,
        1,
    );
    let e = b.build().unwrap_err();
    assert!(matches!(e, FabricError::Disconnected { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("islands") && msg.contains("disconnected") && msg.contains("accelerator 1"),
        "{msg}"
    );
}

#[test]
fn builder_rejects_bad_capacities() {
    for cap in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut b = FabricBuilder::new("bad-cap", "h100");
        let a0 = b.accel(0, NONE, 0);
        let a1 = b.accel(0, NONE, 0);
        b.cable(a0, a1, BytesPerSec(cap), Seconds(1e-7), Medium::Copper, Net::ScaleUp, 1);
        let e = b.build().unwrap_err();
        assert!(matches!(e, FabricError::BadCapacity { .. }), "{cap}: {e:?}");
        assert!(
            e.to_string().contains("bad-cap") && e.to_string().contains("positive and finite"),
            "{e}"
        );
    }
}

#[test]
fn builder_rejects_other_impossible_fabrics() {
    // No accelerators.
    let e = FabricBuilder::new("empty", "h100").build().unwrap_err();
    assert!(e.to_string().contains("no accelerators"), "{e}");
    // Domains that do not divide the accelerators.
    let mut b = FabricBuilder::new("odd", "h100");
    let a0 = b.accel(0, NONE, 0);
    let a1 = b.accel(0, NONE, 0);
    let a2 = b.accel(0, NONE, 0);
    b.cable(a0, a1, BytesPerSec(1e9), Seconds(0.0), Medium::Copper, Net::ScaleUp, 1);
    b.cable(a1, a2, BytesPerSec(1e9), Seconds(0.0), Medium::Copper, Net::ScaleUp, 1);
    b.domain_size = 2;
    assert!(b.build().unwrap_err().to_string().contains("do not split"));
    // A switch with more links than ports.
    let mut b = FabricBuilder::new("small-switch", "h100");
    let m = b.switch_model("tiny", "leaf", 2, BytesPerSec(1e9));
    let s = sw(&mut b, m);
    for d in 0..3 {
        let a = b.accel(d, NONE, 0);
        b.cable(a, s, BytesPerSec(1e9), Seconds(0.0), Medium::Optical, Net::ScaleOut, 1);
    }
    let e = b.build().unwrap_err();
    assert!(
        matches!(
            e,
            FabricError::RadixExceeded {
                needed: 3,
                radix: 2,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn parse_spec_splits_name_and_params() {
    let (n, p) = params::parse_spec(" fat-tree : gpus = 64 , oversub=1.5, node=dgx-h100 ,twisted=true").unwrap();
    assert_eq!(n, "fat-tree");
    assert_eq!(
        p,
        vec![
            ("gpus".into(), Value::Int(64)),
            ("oversub".into(), Value::Float(1.5)),
            ("node".into(), Value::Str("dgx-h100".into())),
            ("twisted".into(), Value::Bool(true)),
        ]
    );
}

/// Keys any generator reads, plus some no generator knows.
const KEYS: &[&str] = &[
    "gpus",
    "su",
    "racks",
    "node",
    "switch",
    "oversub",
    "oversub_at",
    "tiers",
    "port_gbit",
    "slice",
    "twisted",
    "gen",
    "gpu",
    "segments",
    "planes",
    "pods",
    "hosts",
    "tor_up",
    "nodes",
    "sites",
    "distance_km",
    "wan_gbit",
    "bogus",
    "",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-3i64..300).prop_map(|i| i.to_string()),
        prop::sample::select(vec![
            "0", "1", "2", "4", "8", "64", "-0", "1e3", "0.5", "NaN", "inf", "-inf", "true", "false", "", "x"
        ])
        .prop_map(String::from),
        prop::sample::select(vec![
            "4x4x8", "2x2x1", "16x16", "4x4x4x4", "0x0", "x", "8x8x8", "1x1x1", "4x8x8"
        ])
        .prop_map(String::from),
        prop::sample::select(vec![
            "dgx-h100",
            "gb200-nvl72",
            "mi300x",
            "gaudi3",
            "nvswitch3",
            "quantum-qm8700",
            "quantum2-qm9700",
            "tomahawk5-51t",
            "arista-7800",
            "v5e",
            "b300"
        ])
        .prop_map(String::from),
        "[ -~]{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any string: `parse_spec` and `build_preset` answer without panicking.
    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
        let _ = params::parse_spec(&s);
        if let Err(e) = presets::build_preset(&s) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// Real presets with random (small) parameters: a fabric or an error, never a panic.
    #[test]
    fn random_params_never_panic(preset in prop::sample::select(presets::PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>()), kv in prop::collection::vec((prop::sample::select(KEYS.to_vec()), value()), 0..3)) {
        // Keep sizes small so a case builds in milliseconds.
        let mut parts = vec![];
        for (k, v) in &kv {
            parts.push(format!("{k}={v}"));
        }
        let small = match preset {
            "multi-site" | "fat-tree" | "rail-optimized" | "rail-only" if !kv.iter().any(|(k, _)| *k == "gpus") => vec!["gpus=64".to_string()],
            "tpu-v5p-pod" | "tpu-v7-pod" | "tpu-v4-pod" if !kv.iter().any(|(k, _)| *k == "slice") => vec!["slice=4x4x4".to_string()],
            "hpn7-pod" | "meta-roce-24k" if !kv.iter().any(|(k, _)| *k == "segments" || *k == "pods") => vec![],
            _ => vec![],
        };
        let spec = format!("{preset}:{}", small.into_iter().chain(parts).collect::<Vec<_>>().join(","));
        match presets::build_preset(&spec) {
            Ok((_, f)) => prop_assert!(f.accel_count() > 0),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
