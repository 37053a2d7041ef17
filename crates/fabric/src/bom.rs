//! Bill of materials, power, racks and cost of a fabric, each line with the assumption it rests
//! on. Counts come from the generated nodes and links; unit figures from [`crate::catalogue`].
//!
//! Power is nameplate (maximum) IT power: each line's unit power times its count. A line is part
//! of a *system* — what a vendor ships as a server or rack: accelerators, host CPUs, the rest of
//! the hosts, scale-up switch chips, compute NICs — or of the *fabric* that joins systems:
//! scale-out and long-haul switches, optics, optical circuit switches. Host figures are derived
//! in the catalogue so that a system adds up to its published power, which makes a DGX
//! SuperPOD's IT power read as "127 × 10.2 kW + the fabric".
//!
//! Cost adds the lines with a unit price. A line paid for within another (the NVSwitch chips of
//! an HGX board, in its host line) adds nothing; a line without a public price adds nothing and
//! is listed in [`Bom::unpriced`] with the catalogue's reason.
//!
//! A host's PCIe tree (switches and retimers, where `catalogue::host_side` counts them) is listed
//! on lines of its own for the record, at zero power and `Included` in the host line: the host's
//! overhead and price are already what the system's published power and price leave after the
//! other lines, so the totals do not change.

use crate::catalogue::{self as cat, Housing, Price};
use crate::model::*;
use std::collections::BTreeMap;
use units::{BytesPerSec, Usd, Watts};

/// Which side of the IT power a line is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Inside a server or rack system: accelerators, hosts, scale-up switches, compute NICs.
    System,
    /// Joining systems: scale-out and long-haul switches, optics, optical circuit switches.
    Fabric,
}

/// One line of the bill of materials.
#[derive(Debug, Clone, PartialEq)]
pub struct BomLine {
    pub item: String,
    pub model: String,
    pub count: u64,
    pub unit_power: Watts,
    pub price: Price,
    pub part: Part,
    pub basis: String,
}

impl BomLine {
    /// Power of all units of the line.
    pub fn power(&self) -> Watts {
        self.unit_power * self.count as f64
    }
    /// What the line adds to the cost (zero where included elsewhere or unpriced).
    pub fn cost(&self) -> Usd {
        self.price.cost() * self.count as f64
    }
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

/// Racks, by the rules in the catalogue (`Host::hosts_per_rack`, [`cat::Housing`]) or the
/// cluster's own ([`RackSpec`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Racks {
    /// Racks of hosts (with the switches that sit in them, where the source says so).
    pub compute: u64,
    /// Racks of switches and optical circuit switches outside the systems.
    pub network: u64,
    /// Racks the cluster's source names beyond those (CloudMatrix384's communication racks).
    pub extra: u64,
    /// The compute-rack rule with its source, and the network-rack rule.
    pub basis: String,
    pub network_basis: String,
}

impl Racks {
    pub fn total(&self) -> u64 {
        self.compute + self.network + self.extra
    }
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
    /// IT power at nameplate: every line.
    pub power: Watts,
    /// The system lines and the fabric lines of `power`.
    pub systems_power: Watts,
    pub fabric_power: Watts,
    pub cost: Usd,
    /// Lines with no public price, left out of `cost`: "item (model): reason".
    pub unpriced: Vec<String>,
    pub racks: Racks,
}

fn medium_name(m: Medium) -> &'static str {
    match m {
        Medium::Copper => "copper",
        Medium::Optical => "optical",
        Medium::OpticalOcs => "optical (OCS)",
        Medium::LongHaul => "long-haul fibre",
    }
}

/// The price of something the catalogue does not know.
const NOT_CATALOGUED: Price = Price::Unpriced {
    reason: "not in the catalogue",
};

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
        price: acc.map(|a| a.price).unwrap_or(NOT_CATALOGUED),
        part: Part::System,
        basis: acc.map(|a| a.source.to_string()).unwrap_or_default(),
    });
    let host = f.extras.host.and_then(cat::host);
    if let Some(h) = host {
        if f.extras.cpus > 0 {
            let c = cat::cpu(h.cpu);
            lines.push(BomLine {
                item: "host CPU".into(),
                model: c.map(|c| c.name.to_string()).unwrap_or_else(|| h.cpu.to_string()),
                count: f.extras.cpus as u64,
                unit_power: c.map(|c| c.tdp).unwrap_or(Watts::ZERO),
                price: Price::Included {
                    within: "the host line",
                },
                part: Part::System,
                basis: c.map(|c| c.source.to_string()).unwrap_or_default(),
            });
        }
        if f.extras.hosts > 0 {
            lines.push(BomLine {
                item: "host: memory, storage, fans, PSUs".into(),
                model: h.name.to_string(),
                count: f.extras.hosts as u64,
                unit_power: h.overhead,
                price: h.price,
                part: Part::System,
                basis: h.source.to_string(),
            });
        }
    }
    // The PCIe tree of each host (switches, retimers), where the catalogue counts it: paid for
    // and powered within the host line, so the lines add nothing to the totals.
    if let Some(side) = f.host_side().filter(|_| f.extras.hosts > 0) {
        let p = &side.pcie;
        for (item, per_host) in [("PCIe switch", p.switches), ("PCIe retimer", p.retimers)] {
            let Some(n) = per_host.filter(|n| *n > 0) else {
                continue;
            };
            lines.push(BomLine {
                item: item.into(),
                model: format!("{} {} (model not published)", p.generation, &item[5..]),
                count: n as u64 * f.extras.hosts as u64,
                unit_power: Watts::ZERO,
                price: Price::Included {
                    within: "the host line",
                },
                part: Part::System,
                basis: format!(
                    "{n} per host; price and power within the host line (its overhead and price are \
                     what the system's published figures leave after the listed parts); {}",
                    p.basis
                ),
            });
        }
    }
    // Switch chips by model and tier; network-rack slots by housing.
    let mut by_tier: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_model: BTreeMap<(String, &'static str, Net), u64> = BTreeMap::new();
    let mut loads: BTreeMap<(Net, u8, String), TierLoad> = BTreeMap::new();
    let (mut boxes, mut chassis) = (0u64, 0u64);
    for (i, n) in f.nodes.iter().enumerate() {
        if n.kind != NodeKind::Switch || n.model == NONE {
            continue;
        }
        let m = &f.switch_models[n.model as usize];
        *by_tier.entry(m.role.clone()).or_default() += n.chips as u64;
        *by_model.entry((m.role.clone(), m.chip, n.net)).or_default() += n.chips as u64;
        let in_compute_rack = f.extras.racks.leaf_in_compute_rack && n.net == Net::ScaleOut && n.tier == 1;
        match cat::switch_chip(m.chip).map(|c| c.housing) {
            Some(Housing::Box) if !in_compute_rack => boxes += n.chips as u64,
            Some(Housing::Chassis) if !in_compute_rack => chassis += n.chips as u64,
            _ => {}
        }
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
    for ((role, chip, net), count) in &by_model {
        if *count == 0 {
            continue;
        }
        let c = cat::switch_chip(chip);
        lines.push(BomLine {
            item: format!("switch chip: {role}"),
            model: c.map(|c| c.name.to_string()).unwrap_or_else(|| chip.to_string()),
            count: *count,
            unit_power: c.map(|c| c.power).unwrap_or(Watts::ZERO),
            price: c.map(|c| c.price).unwrap_or(NOT_CATALOGUED),
            part: if *net == Net::ScaleUp {
                Part::System
            } else {
                Part::Fabric
            },
            basis: c
                .map(|c| c.source.to_string())
                .unwrap_or_else(|| "not in the catalogue".into()),
        });
    }
    // Cables and optics: one cable per pair of directed links, `lanes` physical links each.
    // Counted per (network, medium) names, then keyed by their joined name (no string per link).
    let mut by_kind: BTreeMap<(&'static str, &'static str), u64> = BTreeMap::new();
    let (mut t_up, mut t_out, mut t_long) = (0u64, 0u64, 0u64);
    for l in f.links.iter().step_by(2) {
        let lanes = l.lanes as u64;
        *by_kind.entry((net_name(l.net), medium_name(l.medium))).or_default() += lanes;
        match (l.medium, l.net) {
            (Medium::Optical | Medium::OpticalOcs, Net::ScaleUp) => t_up += 2 * lanes,
            (Medium::Optical | Medium::OpticalOcs, _) => t_out += 2 * lanes,
            (Medium::LongHaul, _) => t_long += 2 * lanes,
            _ => {}
        }
    }
    let cables: BTreeMap<String, u64> = by_kind
        .into_iter()
        .map(|((net, medium), lanes)| (format!("{net} {medium}"), lanes))
        .collect();
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
            price: t.map(|t| t.price).unwrap_or(NOT_CATALOGUED),
            part: Part::Fabric,
            basis: format!(
                "one module at each end of every optical link; {}",
                t.map(|t| t.source).unwrap_or("no catalogue entry")
            ),
        });
    };
    add_optics(t_up, f.extras.scale_up_transceiver, "scale-up");
    add_optics(t_out, f.extras.scale_out_transceiver, "scale-out");
    match f.extras.long_haul_transceiver {
        Some(id) => add_optics(t_long, Some(id), "long-haul (DCI)"),
        None => add_optics(t_long, Some("osfp-400g-dr4"), "long-haul (DCI, counted as 400G-class)"),
    }
    if f.extras.nics > 0 {
        let nic = f.extras.nic_model.and_then(cat::nic);
        lines.push(BomLine {
            item: "scale-out NIC".into(),
            model: nic.map(|n| n.name.to_string()).unwrap_or_else(|| "unspecified".into()),
            count: f.extras.nics as u64,
            unit_power: nic.map(|n| n.power).unwrap_or(Watts::ZERO),
            price: nic.map(|n| n.price).unwrap_or(NOT_CATALOGUED),
            part: Part::System,
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
            price: o.map(|o| o.price).unwrap_or(NOT_CATALOGUED),
            part: Part::Fabric,
            basis: o.map(|o| o.source.to_string()).unwrap_or_default(),
        });
        boxes += f.extras.ocs as u64;
    }
    let sum = |part: Option<Part>| {
        lines
            .iter()
            .filter(|l| part.is_none_or(|p| l.part == p))
            .fold(Watts::ZERO, |acc, l| acc + l.power())
    };
    let power = sum(None);
    let systems_power = sum(Some(Part::System));
    let fabric_power = sum(Some(Part::Fabric));
    let cost = lines.iter().fold(Usd::ZERO, |acc, l| acc + l.cost());
    let unpriced = lines
        .iter()
        .filter(|l| l.count > 0)
        .filter_map(|l| match l.price {
            Price::Unpriced { reason } => Some(format!("{} ({}): {reason}", l.item, l.model)),
            _ => None,
        })
        .collect();
    let switch_count = by_tier.values().sum();
    let racks = racks(f, host, boxes, chassis);
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
        systems_power,
        fabric_power,
        cost,
        unpriced,
        racks,
    }
}

/// Racks: hosts by the cluster's rule or its host's, switch boxes and chassis by their housing.
fn racks(f: &Fabric, host: Option<&cat::Host>, boxes: u64, chassis: u64) -> Racks {
    let spec = &f.extras.racks;
    let per_rack = spec
        .hosts_per_rack
        .or(host.map(|h| h.hosts_per_rack))
        .unwrap_or(1)
        .max(1);
    let basis = spec
        .basis
        .clone()
        .or(host.map(|h| h.rack_basis.to_string()))
        .unwrap_or_else(|| "one host per rack (no host type)".into());
    let network = boxes.div_ceil(cat::A_BOXES_PER_NETWORK_RACK as u64) + chassis;
    Racks {
        compute: (f.extras.hosts as u64).div_ceil(per_rack as u64),
        network,
        extra: spec.extra as u64,
        basis,
        network_basis: format!(
            "{} switch boxes or OCS per network rack, a modular chassis per rack [A]",
            cat::A_BOXES_PER_NETWORK_RACK
        ),
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
