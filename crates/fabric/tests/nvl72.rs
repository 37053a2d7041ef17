//! Jobs on part of NVL72 racks (issue 8, part 2): `gb200-superpod:gpus=N` spreads N GPUs evenly
//! over the fewest racks, `racks=R,per_rack=K` takes K GPUs of each rack (NVL4 / NVL8
//! partitions); racks talk over InfiniBand, one NIC per GPU (400G on GB200, 800G on GB300).

use fabric::presets;
use fabric::Net;

/// (accelerators, domains, GPUs per domain, NICs) of a spec.
fn counts(spec: &str) -> (usize, u32, u32, u32) {
    let (_, f) = presets::build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    (f.accel_count(), f.domain_count(), f.domain_size, f.extras.nics)
}

#[test]
fn partial_racks_build_with_the_right_counts() {
    for (gpus, racks, per) in [
        (4, 1, 4),
        (8, 1, 8),
        (64, 1, 64),
        (128, 2, 64),
        (256, 4, 64),
        (1440, 20, 72),
    ] {
        let spec = format!("gb200-superpod:gpus={gpus}");
        assert_eq!(
            counts(&spec),
            (gpus as usize, racks, per, gpus),
            "{spec}: (accelerators, racks, per rack, NICs)"
        );
    }
    // NVL4 / NVL8 partitions on three racks.
    assert_eq!(counts("gb200-superpod:racks=3,per_rack=4"), (12, 3, 4, 12));
    assert_eq!(counts("gb200-superpod:racks=3,per_rack=8"), (24, 3, 8, 24));
    assert_eq!(counts("gb200-superpod:gpus=24,racks=3"), (24, 3, 8, 24));
    // Whole racks, as before.
    assert_eq!(counts("gb200-superpod"), (576, 8, 72, 576));
    assert_eq!(counts("gb200-superpod:racks=2"), (144, 2, 72, 144));
}

#[test]
fn a_partition_keeps_each_gpus_nvlink_and_nic() {
    let (_, f) = presets::build_preset("gb200-superpod:racks=3,per_rack=4").unwrap();
    let (_, whole) = presets::build_preset("gb200-nvl72").unwrap();
    // 18 NVLink5 links of 50 GB/s/dir per GPU, partition or not.
    assert_eq!(
        f.accel_bandwidth(0, Net::ScaleUp),
        whole.accel_bandwidth(0, Net::ScaleUp)
    );
    assert!((f.accel_bandwidth(0, Net::ScaleUp).0 - 900e9).abs() < 1.0);
    // One 400G NDR NIC per GPU (catalogue CX7_400G).
    assert!((f.accel_bandwidth(0, Net::ScaleOut).0 - 50e9).abs() < 1.0);
    assert!(
        f.assumptions.iter().any(|a| a.contains("4 GPUs of each of 3 rack(s)")),
        "{:?}",
        f.assumptions
    );
}

#[test]
fn gb300_racks_get_800g_xdr_on_quantum_x800() {
    let (_, f) = presets::build_preset("gb200-superpod:node=gb300-nvl72,gpus=64").unwrap();
    assert_eq!(f.accel_model, "gb300");
    assert!((f.accel_bandwidth(0, Net::ScaleOut).0 - 100e9).abs() < 1.0);
    assert!(f.switch_models.iter().any(|m| m.chip == "quantum-x800-q3400"));
}

#[test]
fn impossible_shares_name_the_parameter() {
    for (spec, frags) in [
        (
            "gb200-superpod:gpus=73",
            &["gpus", "do not spread evenly", "racks=2,per_rack=36"][..],
        ),
        ("gb200-superpod:racks=2,per_rack=73", &["per_rack", "out of range"][..]),
        ("gb200-superpod:racks=2,per_rack=0", &["per_rack"][..]),
        (
            "gb200-superpod:gpus=8,racks=2,per_rack=4",
            &["per_rack", "not all three"][..],
        ),
        ("gb200-superpod:gpus=3,racks=4", &["gpus", "do not spread evenly"][..]),
        ("gb200-superpod:gpus=0", &["gpus"][..]),
    ] {
        let e = presets::build_preset(spec)
            .err()
            .unwrap_or_else(|| panic!("{spec} built"))
            .to_string();
        for f in frags {
            assert!(e.contains(f), "{spec}: {e} lacks {f}");
        }
    }
}
