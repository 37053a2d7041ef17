//! The host side of built fabrics: the host id a fabric carries, its KV tiers, and the PCIe
//! lines of its bill of materials (listed, included in the host line, totals unchanged).

use fabric::bom;
use fabric::catalogue::{self, KvTierKind, Price};
use fabric::presets;

fn build(spec: &str) -> fabric::Fabric {
    presets::build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}")).1
}

#[test]
fn fabrics_carry_their_host_id() {
    for (spec, host) in [
        ("dgx-h100-superpod:su=1", Some("dgx-h100")),
        ("gb200-nvl72", Some("gb200-nvl72")),
        ("cloudmatrix384", Some("cloudmatrix-node")),
        ("hgx:gpu=b200", Some("hgx-b200")),
        ("tpu-v4-pod", Some("tpu-host")),
    ] {
        let f = build(spec);
        assert_eq!(f.host_id(), host, "{spec}");
        assert_eq!(
            f.host_side().map(|h| h.host),
            host.filter(|h| *h != "tpu-host"),
            "{spec}"
        );
        assert_eq!(
            f.kv_tiers(),
            host.map(catalogue::kv_tiers).unwrap_or_default(),
            "{spec}"
        );
    }
    assert!(build("tpu-v4-pod").kv_tiers().is_empty());
    let t = build("gb200-nvl72").kv_tiers();
    assert_eq!(t.first().map(|t| t.kind), Some(KvTierKind::HostDram));
    assert_eq!(t.last().map(|t| t.kind), Some(KvTierKind::LocalSsd));
}

/// DGX SuperPOD 1 SU: 31 DGX H100 × (4 PCIe switches, 8 retimers), included in the host line at
/// zero power, so IT power and cost are those of the lines without them.
#[test]
fn pcie_lines_are_listed_and_leave_the_totals_unchanged() {
    let f = build("dgx-h100-superpod:su=1");
    let b = bom::bom(&f);
    let line = |item: &str| {
        b.lines
            .iter()
            .find(|l| l.item == item)
            .unwrap_or_else(|| panic!("no {item} line"))
    };
    for (item, per_host) in [("PCIe switch", 4), ("PCIe retimer", 8)] {
        let l = line(item);
        assert_eq!(l.count, per_host * f.extras.hosts as u64, "{item}");
        assert_eq!(l.power().0, 0.0, "{item}: power is in the host line");
        assert!(matches!(l.price, Price::Included { within } if within == "the host line"));
        assert!(l.basis.contains("[A]"), "{item}: {}", l.basis);
    }
    let others: Vec<_> = b.lines.iter().filter(|l| !l.item.starts_with("PCIe")).collect();
    let power: f64 = others.iter().map(|l| l.power().0).sum();
    let cost: f64 = others.iter().map(|l| l.cost().0).sum();
    assert!((power - b.power.0).abs() <= 1e-9 * b.power.0);
    assert!((cost - b.cost.0).abs() <= 1e-9 * b.cost.0);
    // No line where the catalogue does not count the tree (GB200 trays, TPU hosts).
    for spec in ["gb200-nvl72", "tpu-v4-pod", "cloudmatrix384"] {
        let b = bom::bom(&build(spec));
        assert!(!b.lines.iter().any(|l| l.item.starts_with("PCIe")), "{spec}");
    }
}
