//! Bill of materials, power and cost of a fabric, each line with the assumption it rests on.
//! Counts come from the generated nodes and links; unit figures from [`crate::catalogue`].

use crate::catalogue as cat;
use crate::model::*;
use std::collections::BTreeMap;
use units::{BytesPerSec, Usd, Watts};

/// One line of the bill of materials.
#[derive(Debug, Clone, PartialEq)]
pub struct BomLine {
    pub item: String,
    pub model: String,
    pub count: u64,
    pub unit_power: Watts,
    pub unit_price: Option<Usd>,
    pub basis: String,
}

/// Oversubscription of one switch tier: down bandwidth over up bandwidth.
#[derive(Debug, Clone, PartialEq)]
pub struct TierLoad {
    pub tier: String,
    pub net: Net,
    pub level: u8,
    pub switches: u64,
    pub down: BytesPerSec,
    pub up: BytesPerSec,
}

/// Everything `fabricsim topo` reports about a fabric.
#[derive(Debug, Clone, PartialEq)]
pub struct Bom {
    pub lines: Vec<BomLine>,
    /// Physical switch chips by tier name (scale-up and scale-out).
    pub switches_by_tier: BTreeMap<String, u64>,
    pub switch_count: u64,
    pub cables_by_medium: BTreeMap<String, u64>,
    pub transceivers_scale_up: u64,
    pub transceivers_scale_out: u64,
    pub transceivers_long_haul: u64,
    pub tiers: Vec<TierLoad>,
    pub power: Watts,
    pub cost: Usd,
    /// Items with no public price, left out of `cost`.
    pub unpriced: Vec<String>,
}

fn medium_name(m: Medium) -> &'static str {
    match m {
        Medium::Copper => "copper",
        Medium::Optical => "optical",
        Medium::OpticalOcs => "optical (OCS)",
        Medium::LongHaul => "long-haul fibre",
    }
}

/// Compute the bill of materials of `f`.
pub fn bom(f: &Fabric) -> Bom {
    let mut lines = Vec::new();
    let n_acc = f.accels.len() as u64;
    let acc = cat::accelerator(f.accel_model);
    lines.push(BomLine {
        item: "accelerator".into(),
        model: acc
            .map(|a| a.name.to_string())
            .unwrap_or_else(|| f.accel_model.to_string()),
        count: n_acc,
        unit_power: acc.map(|a| a.tdp).unwrap_or(Watts::ZERO),
        unit_price: acc.and_then(|a| a.price),
        basis: acc.map(|a| a.source.to_string()).unwrap_or_default(),
    });
    // Switch chips by model and tier.
    let mut by_tier: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_model: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    let mut loads: BTreeMap<(Net, u8, String), TierLoad> = BTreeMap::new();
    for (i, n) in f.nodes.iter().enumerate() {
        if n.kind != NodeKind::Switch || n.model == NONE {
            continue;
        }
        let m = &f.switch_models[n.model as usize];
        *by_tier.entry(m.role.clone()).or_default() += n.chips as u64;
        *by_model.entry((m.role.clone(), m.chip)).or_default() += n.chips as u64;
        let e = loads.entry((n.net, n.tier, m.role.clone())).or_insert(TierLoad {
            tier: m.role.clone(),
            net: n.net,
            level: n.tier,
            switches: 0,
            down: BytesPerSec::ZERO,
            up: BytesPerSec::ZERO,
        });
        e.switches += n.chips as u64;
        for l in f.out_links(NodeId(i as u32)) {
            let link = f.link(l);
            let other = f.node(link.dst);
            if other.tier > n.tier {
                e.up += link.capacity;
            } else if other.tier < n.tier {
                e.down += link.capacity;
            }
        }
    }
    by_tier.retain(|_, c| *c > 0);
    for ((role, chip), count) in &by_model {
        if *count == 0 {
            continue;
        }
        let c = cat::switch_chip(chip);
        lines.push(BomLine {
            item: format!("switch chip: {role}"),
            model: c.map(|c| c.name.to_string()).unwrap_or_else(|| chip.to_string()),
            count: *count,
            unit_power: c.map(|c| c.power).unwrap_or(Watts::ZERO),
            unit_price: c.and_then(|c| c.price),
            basis: c
                .map(|c| c.source.to_string())
                .unwrap_or_else(|| "not in the catalogue".into()),
        });
    }
    // Cables and optics: one cable per pair of directed links, `lanes` physical links each.
    let mut cables: BTreeMap<String, u64> = BTreeMap::new();
    let (mut t_up, mut t_out, mut t_long) = (0u64, 0u64, 0u64);
    for l in f.links.iter().step_by(2) {
        let lanes = l.lanes as u64;
        *cables
            .entry(format!("{} {}", net_name(l.net), medium_name(l.medium)))
            .or_default() += lanes;
        match (l.medium, l.net) {
            (Medium::Optical | Medium::OpticalOcs, Net::ScaleUp) => t_up += 2 * lanes,
            (Medium::Optical | Medium::OpticalOcs, _) => t_out += 2 * lanes,
            (Medium::LongHaul, _) => t_long += 2 * lanes,
            _ => {}
        }
    }
    let mut add_optics = |count: u64, id: Option<&'static str>, what: &str| {
        if count == 0 {
            return;
        }
        let t = id.and_then(cat::transceiver);
        lines.push(BomLine {
            item: format!("optical transceiver: {what}"),
            model: t.map(|t| t.name.to_string()).unwrap_or_else(|| "unspecified".into()),
            count,
            unit_power: t.map(|t| t.power).unwrap_or(Watts::ZERO),
            unit_price: t.and_then(|t| t.price),
            basis: format!(
                "one module at each end of every optical link; {}",
                t.map(|t| t.source).unwrap_or("no catalogue entry")
            ),
        });
    };
    add_optics(t_up, f.extras.scale_up_transceiver, "scale-up");
    add_optics(t_out, f.extras.scale_out_transceiver, "scale-out");
    add_optics(t_long, Some("osfp-400g-dr4"), "long-haul (DCI, counted as 400G-class)");
    if f.extras.nics > 0 {
        let nic = f.extras.nic_model.and_then(cat::nic);
        lines.push(BomLine {
            item: "scale-out NIC".into(),
            model: nic.map(|n| n.name.to_string()).unwrap_or_else(|| "unspecified".into()),
            count: f.extras.nics as u64,
            unit_power: nic.map(|n| n.power).unwrap_or(Watts::ZERO),
            unit_price: nic.and_then(|n| n.price),
            basis: nic.map(|n| n.source.to_string()).unwrap_or_default(),
        });
    }
    if f.extras.ocs > 0 {
        let o = f.extras.ocs_model.and_then(cat::ocs);
        lines.push(BomLine {
            item: "optical circuit switch".into(),
            model: o.map(|o| o.name.to_string()).unwrap_or_else(|| "OCS".into()),
            count: f.extras.ocs as u64,
            unit_power: o.map(|o| o.power).unwrap_or(Watts::ZERO),
            unit_price: o.and_then(|o| o.price),
            basis: o.map(|o| o.source.to_string()).unwrap_or_default(),
        });
    }
    let power = lines
        .iter()
        .fold(Watts::ZERO, |acc, l| acc + l.unit_power * l.count as f64);
    let cost = lines.iter().fold(Usd::ZERO, |acc, l| {
        acc + l.unit_price.unwrap_or(Usd::ZERO) * l.count as f64
    });
    let unpriced = lines
        .iter()
        .filter(|l| l.unit_price.is_none())
        .map(|l| format!("{} ({})", l.item, l.model))
        .collect();
    let switch_count = by_tier.values().sum();
    Bom {
        lines,
        switches_by_tier: by_tier,
        switch_count,
        cables_by_medium: cables,
        transceivers_scale_up: t_up,
        transceivers_scale_out: t_out,
        transceivers_long_haul: t_long,
        tiers: loads.into_values().collect(),
        power,
        cost,
        unpriced,
    }
}

pub fn net_name(n: Net) -> &'static str {
    match n {
        Net::ScaleUp => "scale-up",
        Net::ScaleOut => "scale-out",
        Net::LongHaul => "long-haul",
    }
}

/// Scale-up bandwidth of one domain, summed over its accelerators and both directions, as
/// vendors quote it (NVL72: 72 × 1.8 TB/s = 129.6 TB/s).
pub fn scale_up_aggregate(f: &Fabric) -> BytesPerSec {
    let mut total = BytesPerSec::ZERO;
    for r in 0..f.domain_size {
        total += f.accel_bandwidth(r, Net::ScaleUp);
    }
    total * 2.0
}
