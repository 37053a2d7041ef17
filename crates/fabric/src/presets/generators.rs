//! Generators: named recipes that turn parameters into a [`ClusterSpec`]. Presets (TOML files)
//! name a generator and its default parameters; users' cluster files do the same.

use super::params::Params;
use crate::catalogue::{self as cat, SwitchChip};
use crate::error::{FabricError, Result};
use crate::model::{Medium, RackSpec};
use crate::topology::clos::{ClosSpec, ClusterSpec, LeafOrder, SitesSpec, TierSpec};
use crate::topology::nodes::{self, NodeType, ScaleUpSpec};
use units::BytesPerSec;

/// The generator names a preset or cluster file may use.
pub const GENERATORS: &[&str] = &[
    "node",
    "hgx",
    "dgx-superpod",
    "gb200-superpod",
    "tpu-pod",
    "cloudmatrix",
    "hpn",
    "meta-roce",
    "fat-tree",
    "rail-optimized",
    "rail-only",
    "multi-site",
];

fn bad(p: &Params, key: &str, problem: String) -> FabricError {
    FabricError::BadParam {
        context: p.context.clone(),
        key: key.into(),
        problem,
    }
}

fn chip(p: &Params, id: &str) -> Result<&'static SwitchChip> {
    cat::switch_chip(id).ok_or_else(|| {
        let known: Vec<&str> = cat::switch_chips().iter().map(|c| c.id).collect();
        bad(
            p,
            "switch",
            format!(
                "unknown switch chip `{id}` (known: {}; part numbers such as qm9700 or sn5600 work too)",
                known.join(", ")
            ),
        )
    })
}

/// Run generator `generator` with `p`.
pub fn generate(generator: &str, name: &str, description: &str, p: &Params) -> Result<ClusterSpec> {
    let mut spec = match generator {
        "node" => single_node(p)?,
        "hgx" => {
            let gpu = p.choice("gpu", "h100", nodes::HGX_GPUS)?;
            single(nodes::hgx(&gpu)?)
        }
        "dgx-superpod" => dgx_superpod(p)?,
        "gb200-superpod" => gb200_superpod(p)?,
        "tpu-pod" => tpu_pod(p)?,
        "cloudmatrix" => cloudmatrix(p)?,
        "hpn" => hpn(p)?,
        "meta-roce" => meta_roce(p)?,
        "fat-tree" => generic(p, LeafOrder::Sequential, false)?,
        "rail-optimized" => generic(p, LeafOrder::RailOptimized, false)?,
        "rail-only" => generic(p, LeafOrder::RailOnly, false)?,
        "multi-site" => generic(p, LeafOrder::RailOptimized, true)?,
        other => {
            return Err(FabricError::BadField {
                context: p.context.clone(),
                field: "generator".into(),
                problem: format!("unknown generator `{other}` (known: {})", GENERATORS.join(", ")),
            })
        }
    };
    p.finish()?;
    spec.name = name.to_string();
    if spec.description.is_empty() {
        spec.description = description.to_string();
    }
    Ok(spec)
}

fn single(node: NodeType) -> ClusterSpec {
    ClusterSpec {
        name: String::new(),
        description: node.description.to_string(),
        node,
        domains: 1,
        scale_out: None,
        sites: None,
        assumptions: vec!["single scale-up domain: its scale-out NICs are counted but no switch is modelled".into()],
        racks: RackSpec::default(),
        ocs: 0,
        scale_up_transceiver: None,
        scale_out_transceiver: None,
    }
}

fn single_node(p: &Params) -> Result<ClusterSpec> {
    let id = p.string("node", "dgx-h100")?;
    Ok(single(node_param(p, &id)?))
}

fn node_param(p: &Params, id: &str) -> Result<NodeType> {
    nodes::node_type(id).map_err(|_| {
        bad(
            p,
            "node",
            format!("unknown node type `{id}` (known: {})", nodes::NODE_TYPES.join(", ")),
        )
    })
}

/// Default scale-out switch for an endpoint port speed.
fn default_switch(port: BytesPerSec) -> &'static str {
    if port.as_gbit() <= 200.0 {
        "quantum-qm8700"
    } else if port.as_gbit() <= 400.0 {
        "quantum2-qm9700"
    } else {
        "quantum-x800-q3400"
    }
}

/// Options of an automatic folded-Clos (fat-tree) layout.
struct FatTree<'a> {
    /// Endpoints of one domain on one rail: rail-optimized leaves fill in whole multiples of it
    /// (1 for sequential leaves and 8-GPU servers; 9 for NVL72 racks on 8 rails).
    per_rail: u64,
    /// Ports each top-tier switch keeps for links out of the tree (long-haul).
    top_reserved: u32,
    chip: &'a SwitchChip,
    port: BytesPerSec,
    tiers: Option<u32>,
    oversub: f64,
    oversub_at: u32,
    names: &'a [&'a str],
    medium: Medium,
}

/// Tiers of a fat-tree for `endpoints` leaf endpoints (ports), chosen the smallest number of
/// tiers that fits unless `tiers` is given. Full bisection at every tier except `oversub` (down
/// : up bandwidth) at tier `oversub_at`.
fn fat_tree_tiers(p: &Params, endpoints: u64, f: &FatTree) -> Result<Vec<TierSpec>> {
    let k = f.chip.radix;
    let split = (f.chip.port_speed.0 / f.port.0).floor().max(1.0) as u32;
    let h = k / 2;
    let split_ports = |o: f64| -> (u32, u32) {
        let d = ((k as f64) * o / (1.0 + o)).round() as u32;
        let d = d.clamp(1, k - 1);
        (d, k - d)
    };
    let leaf = if f.oversub_at == 1 {
        split_ports(f.oversub)
    } else {
        (h, h)
    };
    let leaf_fanin = leaf.0 * split;
    // Endpoints a leaf actually takes: whole rails of domains.
    let per_rail = f.per_rail.max(1);
    let leaf_fill = (leaf_fanin as u64 / per_rail).max(1) * per_rail;
    let top_ports = k.saturating_sub(f.top_reserved).max(1) as u64;
    // Capacity with T tiers: leaf fill × h^(T-2) × top ports.
    let cap = |t: u32| -> u64 {
        if t == 1 {
            top_ports * split as u64
        } else {
            let mut c = leaf_fill;
            for i in 2..t {
                c *= if f.oversub_at == i { split_ports(f.oversub).0 } else { h } as u64;
            }
            c * top_ports
        }
    };
    let t = match f.tiers {
        Some(t) => {
            if cap(t) < endpoints {
                return Err(bad(
                    p,
                    "tiers",
                    format!(
                        "{t} tier(s) of {}-port switches reach at most {} endpoints, {} asked",
                        k,
                        cap(t),
                        endpoints
                    ),
                ));
            }
            t
        }
        None => (1..=4).find(|&t| cap(t) >= endpoints).ok_or_else(|| {
            bad(
                p,
                "gpus",
                format!("{endpoints} endpoints do not fit in 4 tiers of {k}-port switches"),
            )
        })?,
    };
    let tier = |i: u32, fanin: u32, up: u32| TierSpec {
        name: f.names.get(i as usize).copied().unwrap_or("tier").to_string(),
        chip: f.chip.id,
        radix: f.chip.radix as u64,
        port_speed: f.chip.port_speed,
        chips: 1,
        fanin,
        up,
        switches: None,
        up_speed: f.chip.port_speed,
        up_medium: Medium::Optical,
    };
    let mut out = Vec::new();
    if t == 1 {
        let mut only = tier(0, k * split, 0);
        only.fanin = endpoints.min((k * split) as u64) as u32;
        out.push(only);
        return Ok(out);
    }
    out.push(tier(0, leaf_fanin, leaf.1));
    for i in 2..t {
        let (d, u) = if f.oversub_at == i {
            split_ports(f.oversub)
        } else {
            (h, h)
        };
        out.push(tier(i - 1, d, u));
    }
    out.push(tier(t - 1, top_ports as u32, f.top_reserved));
    let _ = f.medium;
    Ok(out)
}

/// `fat-tree:`, `rail-optimized:`, `rail-only:`, `multi-site:` — generic sized clusters.
fn generic(p: &Params, order: LeafOrder, multi_site: bool) -> Result<ClusterSpec> {
    let node_id = p.string("node", "dgx-h100")?;
    let node = node_param(p, &node_id)?;
    let ds = node.scale_up.size();
    // 2^20 accelerators: the largest fabric that builds within the default 2 GiB (≈ 500 B each).
    let gpus = p.uint("gpus", if multi_site { 16384 } else { 1024 }, 1, 1 << 20)?;
    if gpus % ds != 0 {
        return Err(bad(
            p,
            "gpus",
            format!(
                "{gpus} is not a multiple of the {ds} accelerators of a `{}` domain",
                node.id
            ),
        ));
    }
    let sites = if multi_site { p.uint("sites", 2, 2, 64)? } else { 1 };
    let domains = gpus / ds;
    if domains % sites != 0 {
        return Err(bad(
            p,
            "sites",
            format!("{domains} domains do not split evenly over {sites} sites"),
        ));
    }
    let port_gbit = p.float("port_gbit", node.port.as_gbit(), 1.0, 12_800.0)?;
    let mut node = node;
    node.port = BytesPerSec::from_gbit(port_gbit);
    let chip = chip(p, &p.string("switch", default_switch(node.port))?)?;
    if node.port.0 > chip.port_speed.0 * (1.0 + 1e-9) {
        return Err(bad(
            p,
            "port_gbit",
            format!(
                "{port_gbit} Gb/s is faster than the {:.0}G ports of switch `{}` (use port_gbit ≤ {:.0}, or a switch= with faster ports)",
                chip.port_speed.as_gbit(),
                chip.id,
                chip.port_speed.as_gbit()
            ),
        ));
    }
    let optics = optics_param(p, node.port)?;
    let oversub = p.float("oversub", 1.0, 1.0, 64.0)?;
    let tiers = p.opt_uint("tiers", 1, 4)?;
    let oversub_at_given = p.opt_uint("oversub_at", 1, 3)?;
    let oversub_at = oversub_at_given.unwrap_or(1);
    if tiers == Some(1) && oversub > 1.0 {
        return Err(bad(
            p,
            "oversub",
            format!("{oversub}:1 needs up-links, and tiers=1 has none (use tiers=2 or more)"),
        ));
    }
    let names: &[&str] = &["leaf", "spine", "core", "super-core"];
    let per_site = gpus as u64 / sites as u64 * node.ports_per_accel as u64;
    let endpoints = match order {
        LeafOrder::RailOnly => per_site / crate::topology::clos::rail_count(ds) as u64,
        _ => per_site,
    };
    let per_rail = match order {
        LeafOrder::Sequential => 1,
        _ => (ds / crate::topology::clos::rail_count(ds)) as u64,
    };
    // `dci_gbit`: this cluster is one site of a DCI join (`multi-site:`, `[[site]]` files):
    // its top tier keeps ports for that much long-haul capacity, as `multi-site` always did.
    let dci_gbit = if multi_site {
        0.0
    } else {
        p.float("dci_gbit", 0.0, 0.0, 1e9)?
    };
    let f = FatTree {
        per_rail,
        top_reserved: u32::from(multi_site || dci_gbit > 0.0),
        chip,
        port: node.port,
        tiers,
        oversub,
        oversub_at,
        names,
        medium: Medium::Optical,
    };
    let mut tier_specs = fat_tree_tiers(p, endpoints, &f)?;
    let mut notes = Vec::new();
    if tiers.is_none() && order == LeafOrder::RailOptimized && ds > 1 && tier_specs.len() == 1 {
        // One tier of rail-optimized leaves is one leaf per rail with nothing joining the rails:
        // a rail-optimized network needs at least a spine.
        tier_specs = fat_tree_tiers(p, endpoints, &FatTree { tiers: Some(2), ..f })?;
    }
    if tiers.is_none() && oversub > 1.0 && tier_specs.len() as u32 <= oversub_at {
        // One switch tier has no up-links to oversubscribe: add the tier the ratio applies to.
        let want = oversub_at + 1;
        tier_specs = fat_tree_tiers(p, endpoints, &FatTree { tiers: Some(want), ..f })?;
        notes.push(format!(
            "{want} tiers built (fewer would fit {endpoints} endpoints, but oversub={oversub} needs up-links at tier {oversub_at})"
        ));
    }
    let t = tier_specs.len() as u32;
    if let Some(at) = oversub_at_given {
        if at >= t {
            return Err(bad(
                p,
                "oversub_at",
                format!(
                    "tier {at} does not exist below the top of this {t}-tier fabric (the top tier has no up-links): use 1..{}",
                    t.saturating_sub(1).max(1)
                ),
            ));
        }
    }
    // The ratio built: ports come in whole numbers and leaves take whole rails of domains, so
    // it may differ from the one asked.
    let built_oversub = if t >= 2 {
        let ti = &tier_specs[oversub_at as usize - 1];
        let up = ti.up as f64 * ti.up_speed.0;
        if up <= 0.0 {
            1.0
        } else if oversub_at == 1 {
            // Over the whole leaf tier: every endpoint's port down, every leaf's up-links (the
            // last leaf may be partly filled).
            let fill = (ti.fanin as u64 / per_rail.max(1)).max(1) * per_rail.max(1);
            let leaves = endpoints.div_ceil(fill);
            endpoints as f64 * node.port.0 / (leaves as f64 * up)
        } else {
            ti.fanin as f64 * ti.port_speed.0 / up
        }
    } else {
        1.0
    };
    // (With several sites each top-tier switch keeps one port for its long-haul link:
    // `top_reserved` above.)
    let ratio = if (built_oversub - oversub).abs() > 0.005 * oversub {
        format!(
            "oversubscription {built_oversub:.2}:1 built at tier {oversub_at} ({oversub}:1 asked: switch ports come in whole numbers, leaves take whole rails of domains and the last leaf may be partly filled)"
        )
    } else {
        format!("oversubscription {oversub}:1 at tier {oversub_at}")
    };
    let mut assumptions = vec![format!(
        "{} tier(s) of {} ({} × {:.0}G), {ratio}",
        tier_specs.len(),
        chip.name,
        chip.radix,
        chip.port_speed.as_gbit(),
    )];
    assumptions.extend(notes);
    let sites_spec = if multi_site {
        let km = p.float("distance_km", 50.0, 0.0, 20_000.0)?;
        let wan_gbit = p.float("wan_gbit", 51_200.0, 1.0, 1e9)?;
        assumptions.push(format!(
            "{sites} sites, {km} km apart in all (each {:.0} km from the WAN meeting point)",
            km / 2.0
        ));
        Some(SitesSpec {
            count: sites,
            distance_km: km / 2.0,
            bandwidth: BytesPerSec::from_gbit(wan_gbit),
        })
    } else if dci_gbit > 0.0 {
        Some(SitesSpec {
            count: 1,
            distance_km: 0.0,
            bandwidth: BytesPerSec::from_gbit(dci_gbit),
        })
    } else {
        None
    };
    let kind = match order {
        LeafOrder::Sequential => "fat-tree",
        LeafOrder::RailOptimized => "rail-optimized",
        LeafOrder::RailOnly => "rail-only",
    };
    Ok(ClusterSpec {
        name: String::new(),
        description: format!(
            "{gpus} × {} in {domains} `{}` domains, {kind} scale-out",
            node.accel, node.id
        ),
        node,
        domains,
        scale_out: Some(ClosSpec {
            tiers: tier_specs,
            order,
            planes: 1,
            endpoint_medium: Medium::Optical,
        }),
        sites: sites_spec,
        assumptions,
        racks: RackSpec::default(),
        ocs: 0,
        scale_up_transceiver: None,
        scale_out_transceiver: optics,
    })
}

/// `optics=ID`: the catalogue's optical module on every scale-out optical link (default: chosen
/// by port speed when the fabric is built, a 400G DR4 at 400G). The BOM counts one module per
/// link end, so only single-port modules of the port's speed are accepted.
fn optics_param(p: &Params, port: BytesPerSec) -> Result<Option<&'static str>> {
    let id = p.string("optics", "")?;
    if id.is_empty() {
        return Ok(None);
    }
    let fits = |t: &cat::Transceiver| (t.speed.0 - port.0).abs() <= 1e-9 * port.0;
    let known: Vec<&str> = cat::transceivers().iter().filter(|t| fits(t)).map(|t| t.id).collect();
    match cat::transceiver(&id) {
        Some(t) if fits(t) => Ok(Some(t.id)),
        Some(t) => Err(bad(
            p,
            "optics",
            format!(
                "`{}` is a {:.0}G module, but the scale-out ports run at {:.0}G (modules of that speed: {})",
                t.id,
                t.speed.as_gbit(),
                port.as_gbit(),
                known.join(", ")
            ),
        )),
        None => Err(bad(
            p,
            "optics",
            format!(
                "unknown optical module `{id}` (modules of the {:.0}G port speed: {})",
                port.as_gbit(),
                known.join(", ")
            ),
        )),
    }
}

/// `dgx-superpod:su=N` — NVIDIA DGX SuperPOD (H100 RA): SU = 32 node slots (31 nodes + UFM),
/// rail-optimized NDR fat-tree; spines per NVIDIA's table for 1–4 SU (4, 8, 16, 16); beyond 4 SU
/// pods of 4 SU with a core tier as in the B200 RA's larger table (16 SU = 128/128/64).
fn dgx_superpod(p: &Params) -> Result<ClusterSpec> {
    let su = p.uint("su", 4, 1, 64)?;
    let node_id = p.string("node", "dgx-h100")?;
    let node = node_param(p, &node_id)?;
    let ds = node.scale_up.size();
    if ds != 8 || node.ports_per_accel != 1 {
        return Err(bad(
            p,
            "node",
            format!(
                "the SuperPOD's rail-optimized layout takes 8-GPU servers with one NIC per GPU; `{node_id}` has {ds} accelerators per domain and {} NIC port(s) per accelerator (use rail-optimized:gpus=N,node={node_id})",
                node.ports_per_accel
            ),
        ));
    }
    let nodes = su * 32 - 1; // one node slot per SU-set is given up for UFM (RA Table 4 footnote)
    let chip = cat::switch_chip("quantum2-qm9700").ok_or_else(|| bad(p, "switch", "catalogue lacks QM9700".into()))?;
    let leaf = TierSpec {
        name: "leaf".into(),
        chip: chip.id,
        radix: chip.radix as u64,
        port_speed: chip.port_speed,
        chips: 1,
        fanin: 32,
        up: 32,
        switches: None,
        up_speed: chip.port_speed,
        up_medium: Medium::Optical,
    };
    let mut tiers = vec![leaf.clone()];
    if su <= 4 {
        let spines = [4, 8, 16, 16][su as usize - 1];
        tiers.push(TierSpec {
            name: "spine".into(),
            fanin: 8 * su,
            up: 0,
            switches: Some(spines),
            ..leaf.clone()
        });
    } else {
        tiers.push(TierSpec {
            name: "spine".into(),
            fanin: 32,
            up: 32,
            switches: Some(32),
            ..leaf.clone()
        });
        tiers.push(TierSpec {
            name: "core".into(),
            fanin: su.div_ceil(4),
            up: 0,
            switches: None,
            ..leaf
        });
    }
    Ok(ClusterSpec {
        name: String::new(),
        description: if node_id == "dgx-h100" {
            format!(
                "DGX SuperPOD (H100 RA), {su} SU: {nodes} DGX nodes, {} GPUs, rail-optimized NDR fat-tree",
                nodes * 8
            )
        } else {
            format!(
                "DGX SuperPOD layout (H100 RA) with `{node_id}` nodes in place of DGX H100, {su} SU: {nodes} nodes, {} {}, rail-optimized NDR fat-tree",
                nodes * 8,
                node.accel
            )
        },
        node,
        domains: nodes,
        scale_out: Some(ClosSpec {
            tiers,
            order: LeafOrder::RailOptimized,
            planes: 1,
            endpoint_medium: Medium::Optical,
        }),
        sites: None,
        assumptions: vec![
            "SU = 32 node slots, one given up for UFM: 31/63/95/127 nodes for 1–4 SU (RA Table 4)".into(),
            "leaf-to-spine wiring: every leaf to every spine, links spread evenly (RA gives counts, not the pattern)"
                .into(),
        ],
        racks: RackSpec::default(),
        ocs: 0,
        scale_up_transceiver: None,
        scale_out_transceiver: None,
    })
}

/// `gb200-superpod:racks=N` — DGX SuperPOD with GB200 NVL72 racks (8 racks = 576 GPUs per SU,
/// up to 128 racks = 9,216 GPUs), NDR fat-tree over one 400G NIC per GPU (800G XDR on a
/// `node=gb300-nvl72` rack, on Quantum-X800 switches by default).
///
/// Jobs on part of a rack (see [`rack_share`]): `gpus=N` spreads N GPUs evenly over the fewest
/// racks that hold them (4 → one rack's 4, 256 → 4 racks × 64, 1,440 → 20 whole racks);
/// `racks=R,per_rack=K` takes K GPUs of each of R racks (NVL4 / NVL8 partitions: `per_rack=4`
/// or `8`). Each rack's share is one NVLink domain of K GPUs (NVLink does not leave a rack, or a
/// partition); racks talk over the InfiniBand fat-tree, one NIC per GPU.
fn gb200_superpod(p: &Params) -> Result<ClusterSpec> {
    let mut node = node_param(p, &p.string("node", "gb200-nvl72")?)?;
    let (racks, per_rack) = rack_share(p, node.scale_up.size())?;
    let mut notes = Vec::new();
    if per_rack < node.scale_up.size() {
        shrink_domain(&mut node, per_rack);
        notes.push(format!(
            "{per_rack} GPUs of each of {racks} rack(s): each rack's share is one NVLink domain of {per_rack} (an NVL{per_rack} partition when the rest of the rack runs other jobs); the rest of each rack is not modelled (its GPUs, trays and NICs are not counted)"
        ));
    }
    let chip = chip(p, &p.string("switch", default_switch(node.port))?)?;
    let names: &[&str] = &["leaf", "spine", "core"];
    let endpoints = racks as u64 * node.scale_up.size() as u64;
    let f = FatTree {
        per_rail: 1,
        top_reserved: 0,
        chip,
        port: node.port,
        tiers: None,
        oversub: 1.0,
        oversub_at: 1,
        names,
        medium: Medium::Optical,
    };
    let tiers = fat_tree_tiers(p, endpoints, &f)?;
    Ok(ClusterSpec {
        name: String::new(),
        description: if notes.is_empty() && node.id == "gb200-nvl72" {
            format!(
                "DGX SuperPOD with {racks} GB200 NVL72 racks ({} GPUs), NDR fat-tree",
                endpoints
            )
        } else {
            format!(
                "{endpoints} GPUs on {racks} {} rack(s), {per_rack} per rack, {:.0}G fat-tree",
                node.id,
                node.port.as_gbit()
            )
        },
        node,
        domains: racks,
        scale_out: Some(ClosSpec {
            tiers,
            order: LeafOrder::Sequential,
            planes: 1,
            endpoint_medium: Medium::Optical,
        }),
        sites: None,
        assumptions: {
            let mut a = vec![if chip.id == "quantum2-qm9700" {
                "GB200 RA leaf/spine counts not public: fewest 64-port NDR switches for a full-bisection fat-tree (1 SU: 18 leaves, 9 spines)".to_string()
            } else {
                format!(
                    "leaf/spine counts not public: fewest {}-port {} switches for a full-bisection fat-tree",
                    chip.radix, chip.name
                )
            }];
            a.extend(notes);
            a
        },
        racks: RackSpec::default(),
        ocs: 0,
        scale_up_transceiver: None,
        scale_out_transceiver: None,
    })
}

/// Racks and GPUs per rack of a job on NVL racks of `size` GPUs: `gpus=N` alone spreads N
/// evenly over the fewest racks that hold it (the rule CoreWeave's 128-GPU GB200 job states:
/// "32 workers across 2 NVL72 racks with only 16 workers per rack", topology spread with
/// `maxSkew: 1` "prevents uneven splits"; coreweave/nccl-tests
/// mpi-operator/nccl-test-distributed-gb200-128-multirack-mpijob.yaml); `gpus=N,racks=R` splits
/// N over R racks; `racks=R,per_rack=K` takes K of each rack; `racks=R` alone, whole racks.
pub fn rack_share(p: &Params, size: u32) -> Result<(u32, u32)> {
    let max_racks = 128;
    let gpus = p.opt_uint("gpus", 1, max_racks * size)?;
    let racks = p.opt_uint("racks", 1, max_racks)?;
    let per_rack = p.opt_uint("per_rack", 1, size)?;
    match (gpus, racks, per_rack) {
        (Some(_), Some(_), Some(_)) => Err(bad(
            p,
            "per_rack",
            "give two of gpus, racks and per_rack, not all three".into(),
        )),
        (Some(g), r, k) => {
            let r = match (r, k) {
                (Some(r), _) => r,
                (None, Some(k)) => g.div_ceil(k),
                (None, None) => g.div_ceil(size),
            };
            if g % r != 0 || g / r > size || g < r {
                return Err(bad(
                    p,
                    "gpus",
                    format!(
                        "{g} GPUs do not spread evenly over {r} rack(s) of {size} (give racks=R,per_rack=K, e.g. racks={},per_rack={})",
                        g.div_ceil(size),
                        (g / g.div_ceil(size)).max(1)
                    ),
                ));
            }
            Ok((r, g / r))
        }
        (None, r, k) => Ok((r.unwrap_or(8), k.unwrap_or(size))),
    }
}

/// A domain of `k` GPUs of an NVL rack: the same NVLink per GPU, its trays (4 GPUs each for
/// NVL72 racks: 18 trays of 72) and their CPUs.
fn shrink_domain(node: &mut NodeType, k: u32) {
    let full = node.scale_up.size().max(1);
    if let ScaleUpSpec::Star { size, .. } = &mut node.scale_up {
        *size = k;
    }
    let per_host = (full / node.hosts.max(1)).max(1);
    let cpus_per_host = node.cpus / node.hosts.max(1);
    node.hosts = k.div_ceil(per_host);
    node.cpus = node.hosts * cpus_per_host;
}

/// `tpu-pod:gen=v4|v5p|v5e|v6e|v7,slice=AxBxC,slices=N` — TPU pods: 3D tori of 4×4×4 cubes joined by OCS
/// (v4, v5p, v7) or 16×16 2D tori (v5e, v6e).
fn tpu_pod(p: &Params) -> Result<ClusterSpec> {
    let gen = p.choice("gen", "v4", &["v4", "v5p", "v5e", "v6e", "v7"])?;
    // Racks: the TPU host's rule (catalogue `TPU_HOST`), 16 hosts of 4 chips = one 4×4×4 cube
    // per rack (v4: 64 racks for 4,096 chips, systems.md §3.1).
    let (accel, link, full, cube, ocs) = match gen.as_str() {
        // v4: 4,096 chips = 64 cubes of 4×4×4, 48 OCS; Cloud TPU v4 docs; HPCwire [P(S)].
        "v4" => ("tpu-v4", cat::ICI_V4, [16, 16, 16], Some([4, 4, 4]), 48),
        // v5p: 8,960 chips = 140 cubes [P]; as one torus of 4×5×7 cubes [A] (Google's largest
        // single slice is 16×16×24).
        "v5p" => ("tpu-v5p", cat::ICI_V5P, [16, 20, 28], Some([4, 4, 4]), 48),
        // v5e / v6e: 256 chips per pod, 2D torus 16×16 (4 ICI ports) [P/S].
        "v5e" => ("tpu-v5e", cat::ICI_V5E, [16, 16, 1], None, 0),
        "v6e" => ("tpu-v6e", cat::ICI_V6E, [16, 16, 1], None, 0),
        // Ironwood: 9,216 chips [P]; 144 cubes as 4×6×6 cubes [D/U].
        _ => ("tpu-v7", cat::ICI_V7, [16, 24, 24], Some([4, 4, 4]), 48),
    };
    let slice = p.string("slice", "")?;
    let dims: [u32; 3] = if slice.is_empty() {
        full
    } else {
        let parts: Vec<&str> = slice.split('x').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(bad(p, "slice", format!("`{slice}` is not AxB or AxBxC")));
        }
        // A 2D torus (v5e, v6e) takes AxB slices; a 3D one (v4, v5p, Ironwood) AxBxC.
        let want = if full[2] == 1 { 2 } else { 3 };
        if parts.len() != want {
            return Err(bad(
                p,
                "slice",
                format!(
                    "`{slice}`: a TPU {gen} pod is a {want}D torus, give {}",
                    if want == 2 {
                        "AxB (e.g. 8x16)"
                    } else {
                        "AxBxC (e.g. 4x4x8)"
                    }
                ),
            ));
        }
        let mut d = [1u32; 3];
        for (i, s) in parts.iter().enumerate() {
            d[i] = s
                .parse()
                .map_err(|_| bad(p, "slice", format!("`{s}` in `{slice}` is not a positive integer")))?;
            if d[i] == 0 || d[i] > full[i].max(full[0]) * 2 {
                return Err(bad(
                    p,
                    "slice",
                    format!("dimension {} of `{slice}` is out of range", d[i]),
                ));
            }
        }
        d
    };
    let n: u32 = dims.iter().product();
    let full_n: u32 = full.iter().product();
    if n > full_n {
        return Err(bad(
            p,
            "slice",
            format!("{slice} = {n} chips exceeds the {gen} pod of {full_n}"),
        ));
    }
    if let Some(c) = cube {
        if n > 64 && dims.iter().zip(c).any(|(d, c)| d % c != 0) {
            return Err(bad(
                p,
                "slice",
                format!(
                    "slices above 64 chips must be whole 4×4×4 cubes (each dimension a multiple of 4), got {slice}"
                ),
            ));
        }
    }
    // Twisted tori: allowed by Google for k×k×2k and k×2k×2k shapes (Cloud TPU v4 docs).
    let twisted_ok = {
        let mut s = dims;
        s.sort_unstable();
        (2 * s[0] == s[1] && s[1] == s[2]) || (s[0] == s[1] && 2 * s[1] == s[2])
    } && n > 64;
    let twist_on = p.boolean("twisted", twisted_ok)?;
    if twist_on && !twisted_ok {
        return Err(bad(
            p,
            "twisted",
            format!("Google allows twisted tori only for k×k×2k and k×2k×2k shapes above 64 chips, not {slice}"),
        ));
    }
    let mut twist = [0u32; 3];
    if twist_on {
        let long = crate::routing::long_dim(dims);
        for d in 0..3 {
            if d != long && dims[d] * 2 == dims[long] {
                twist[d] = dims[d];
            }
        }
    }
    // Wrap-around only where the slice closes a ring: slices of whole 4×4×4 cubes close every
    // dimension through the OCS (smaller ones are meshes); on v5e/v6e (no OCS) only a dimension
    // as long as the pod's (16) closes, a partial one is a mesh line.
    let wrap: [bool; 3] = match cube {
        Some(_) => [n >= 64; 3],
        None => [dims[0] == full[0], dims[1] == full[1], dims[2] == full[2]],
    };
    // Multislice: `slices` identical slices joined by the data-center network (DCN), each chip
    // with its share of its host's DCN NICs (catalogue `TPU_CORES`).
    let slices = p.uint("slices", 1, 1, 64)?;
    let core = cat::tpu_core(accel).ok_or_else(|| bad(p, "gen", format!("no TPU figures for {accel}")))?;
    let dcn_port = core.dcn_per_chip();
    let node = NodeType {
        id: "tpu",
        description: "TPU chips on ICI",
        accel,
        link_tech: Some(link.id),
        scale_up: ScaleUpSpec::Torus {
            dims,
            wrap,
            twist,
            lane: link.per_link,
            cube,
        },
        ports_per_accel: u32::from(slices > 1),
        port: if slices > 1 { dcn_port } else { BytesPerSec::ZERO },
        nic: "none",
        nics_per_accel: 0,
        hosts: n.div_ceil(4),
        cpus: n.div_ceil(4),
        host: "tpu-host",
        source: "Cloud TPU docs; Jouppi et al. ISCA 2023",
    };
    let is_full = dims == full;
    let mut assumptions = vec!["dimension-order routing; per-hop latency not published (\"sub-µs\")".to_string()];
    if twist_on {
        assumptions.push(format!(
            "twisted torus: wraparound of the short dimensions shifted by {:?} along the long one",
            twist
        ));
    }
    if !is_full && ocs > 0 {
        assumptions.push("a slice borrows ports of its pod's OCS; OCS are counted only for a full pod".into());
    }
    let scale_out = if slices > 1 {
        assumptions.push(format!(
            "multislice: {slices} slices over the data-center network, {:.0} Gb/s per chip ({:.0} Gb/s per {}-chip host, {}); DCN as a non-blocking Tomahawk-5 fat-tree [A] (Jupiter's switches are not public), NICs counted with the host",
            dcn_port.0 * 8.0 / 1e9,
            core.dcn_per_host.0 * 8.0 / 1e9,
            core.chips_per_host,
            core.source
        ));
        let f = FatTree {
            per_rail: 1,
            top_reserved: 0,
            chip: &cat::TOMAHAWK5,
            port: dcn_port,
            tiers: None,
            oversub: 1.0,
            oversub_at: 1,
            names: &["DCN leaf", "DCN spine", "DCN core"],
            medium: Medium::Optical,
        };
        let tiers = fat_tree_tiers(p, slices as u64 * n as u64, &f)?;
        Some(ClosSpec {
            tiers,
            order: LeafOrder::Sequential,
            planes: 1,
            endpoint_medium: Medium::Optical,
        })
    } else {
        None
    };
    Ok(ClusterSpec {
        name: String::new(),
        description: format!(
            "TPU {gen} {}x{}x{} ({n} chips){}{}",
            dims[0],
            dims[1],
            dims[2],
            if twist_on { ", twisted" } else { "" },
            if slices > 1 {
                format!(", {slices} slices over DCN")
            } else {
                String::new()
            }
        ),
        node,
        domains: slices,
        scale_out,
        sites: None,
        assumptions,
        racks: RackSpec::default(),
        ocs: if is_full { ocs } else { 0 },
        // [A] ICI optics modelled as 400G-class OSFP modules (the v4 board has 16 OSFP cages).
        scale_up_transceiver: if cube.is_some() { Some("osfp-400g-dr4") } else { None },
        scale_out_transceiver: None,
    })
}

/// `cloudmatrix` — Huawei CloudMatrix384: 48 nodes × 8 Ascend 910C on a UB network of 7
/// planes (L1 per node, 16 L2 per plane), plus a 2-tier 400G RoCE scale-out plane.
fn cloudmatrix(p: &Params) -> Result<ClusterSpec> {
    let nodes = p.uint("nodes", 48, 1, 48)?;
    let chip = cat::UB_SWITCH_910C;
    // 7 UB links per NPU at 400G = 350 GB/s/dir (SemiAnalysis model, reference table §4 [S/C]).
    let lane = BytesPerSec::from_gbit(400.0);
    // L1 uplinks sized so each L1 is non-blocking (8 × 400G down = 16 × 200G up), as the paper
    // states the UB network has no oversubscription [S/D].
    let l1_up = BytesPerSec::from_gbit(200.0);
    let node = NodeType {
        id: "cloudmatrix-node",
        description: "8 × Ascend 910C + 4 Kunpeng, 7 UB planes",
        accel: "ascend-910c",
        link_tech: Some("ub-910c"),
        scale_up: ScaleUpSpec::UbClos {
            nodes,
            per_node: 8,
            planes: 7,
            l2_per_plane: 16,
            lane,
            l1_up,
            chip: chip.id,
            chip_radix: chip.radix as u64,
        },
        ports_per_accel: 1,
        port: BytesPerSec::from_gbit(400.0),
        nic: "cx7-400g",
        nics_per_accel: 1,
        hosts: nodes,
        cpus: nodes * 4,
        host: "cloudmatrix-node",
        source: "Zuo et al. arXiv 2506.12708; SemiAnalysis 2025-04-16",
    };
    let qm = chip_default(p)?;
    let names: &[&str] = &["RDMA leaf", "RDMA spine"];
    let f = FatTree {
        per_rail: 1,
        top_reserved: 0,
        chip: qm,
        port: node.port,
        tiers: Some(2),
        oversub: 1.0,
        oversub_at: 1,
        names,
        medium: Medium::Optical,
    };
    let tiers = fat_tree_tiers(p, nodes as u64 * 8, &f)?;
    // The single UB domain plus a scale-out plane: build as one domain with the RDMA Clos.
    Ok(ClusterSpec {
        name: String::new(),
        description: format!("Huawei CloudMatrix384: {} Ascend 910C on a 7-plane UB Clos, 400G RDMA plane", nodes * 8),
        node,
        domains: 1,
        scale_out: Some(ClosSpec { tiers, order: LeafOrder::Sequential, planes: 1, endpoint_medium: Medium::Optical }),
        sites: None,
        assumptions: vec![
            "UB at 7 × 400G per NPU = 350 GB/s/dir (SemiAnalysis) rather than the paper's 392 GB/s".into(),
            "optics counted as SemiAnalysis does: a module at each end of every NPU UB link (5,376) and 4 per NPU on the 2-tier 400G scale-out (1,536)".into(),
            "7 UB planes folded into one logical plane (traffic sprays over all planes)".into(),
        ],
        // 12 compute racks of 4 nodes (the host's rule) + 4 communication racks of L2 UB
        // switches: 16 racks (systems.md §4 [S]).
        racks: RackSpec {
            extra: 4,
            basis: Some("4 nodes per compute rack + 4 communication racks (L2 UB switches): systems.md §4 [S]".into()),
            ..RackSpec::default()
        },
        ocs: 0,
        // SemiAnalysis: 6,912 × 400G LPO modules for scale-up and scale-out alike.
        scale_up_transceiver: Some("lpo-400g"),
        scale_out_transceiver: Some("lpo-400g"),
    })
}

fn chip_default(p: &Params) -> Result<&'static SwitchChip> {
    chip(p, "quantum2-qm9700")
}

/// `hpn:segments=N,planes=2|1,pods=N` — Alibaba HPN 7.0: segments of 128 hosts × 8 GPUs, NIC
/// 2 × 200G per GPU to a dual ToR (one per plane), 51.2T switches, aggregation per plane.
fn hpn(p: &Params) -> Result<ClusterSpec> {
    let planes = p.uint("planes", 2, 1, 2)?;
    // One plane of 128-port aggregation switches takes at most 7 segments' ToR pairs
    // (7 × 16 = 112 ToR links + 8 up-links); dual-plane halves the ToRs per plane, reaching 15.
    let max_segments = if planes == 2 { 15 } else { 7 };
    let segments = p.uint("segments", max_segments, 1, 15)?;
    if segments > max_segments {
        return Err(bad(
            p,
            "segments",
            format!("{segments} segments do not fit one aggregation plane of 128-port switches with planes=1 (at most {max_segments}); dual-plane (planes=2) reaches 15"),
        ));
    }
    let pods = p.uint("pods", 1, 1, 16)?;
    let hosts = p.uint("hosts", 128, 1, 128)?;
    let tor_up = p.uint("tor_up", 60, 1, 64)?;
    let chip = cat::HPN_51T;
    let mut node = nodes::node_type("hgx-h100")?;
    node.ports_per_accel = 2;
    node.port = BytesPerSec::from_gbit(200.0);
    node.nic = "bf3-2x200g";
    node.description = "8 × H100-class GPU, 8 × (2 × 200G) NICs, dual-ToR";
    let tier = |name: &str, fanin: u32, up: u32, switches: Option<u32>| TierSpec {
        name: name.into(),
        chip: chip.id,
        radix: chip.radix as u64,
        port_speed: chip.port_speed,
        chips: 1,
        fanin,
        up,
        switches,
        up_speed: chip.port_speed,
        up_medium: Medium::Optical,
    };
    let tors_per_pod_plane = segments * 8 * (3 - planes);
    let agg_up = if pods > 1 { 8 } else { 0 };
    let mut tiers = vec![
        tier("ToR", hosts, tor_up, None),
        tier("aggregation", tors_per_pod_plane, agg_up, Some(tor_up)),
    ];
    if pods > 1 {
        tiers.push(tier("core", pods, 0, None));
    }
    let domains = pods * segments * hosts;
    Ok(ClusterSpec {
        name: String::new(),
        description: format!(
            "Alibaba HPN 7.0: {pods} pod(s) × {segments} segments × {hosts} hosts × 8 GPUs = {} GPUs, dual-ToR, {}",
            domains * 8,
            if planes == 2 { "dual-plane" } else { "single plane" }
        ),
        node,
        domains,
        scale_out: Some(ClosSpec { tiers, order: LeafOrder::RailOptimized, planes, endpoint_medium: Medium::Optical }),
        sites: None,
        assumptions: vec![
            format!("ToR: 128 × 200G down + {tor_up} × 400G up (paper notes: 60 of 64 up-ports used) [D/U]"),
            "aggregation: one 400G link from every ToR of its plane; 8 × 400G up to the core when pods > 1 (15:1) [D/U]".into(),
        ],
        racks: RackSpec {
            basis: Some("4 hosts per rack [A], as DGX H100 (~42 kW); the HPN paper does not say".into()),
            ..RackSpec::default()
        },
        ocs: 0,
        scale_up_transceiver: None,
        scale_out_transceiver: None,
    })
}

/// `meta-roce:pods=N` — Meta's Llama 3 RoCE cluster: racks of 16 GPUs (2 × 8-GPU servers) under
/// one RTSW, 192 racks per full-bisection pod via CTSW, pods joined by ATSW at 1:7.
fn meta_roce(p: &Params) -> Result<ClusterSpec> {
    let pods = p.uint("pods", 8, 1, 16)?;
    let racks = p.uint("racks", 192, 1, 192)?;
    let oversub = p.float("oversub", 7.0, 1.0, 64.0)?;
    let node = nodes::node_type("dgx-h100")?;
    let rtsw = cat::MINIPACK2;
    let ctsw = cat::ARISTA_7800;
    let ctsw_per_pod = 16;
    let ctsw_up = ((racks as f64) / oversub).round().max(1.0) as u32;
    let mut tiers = vec![
        TierSpec {
            name: "RTSW".into(),
            chip: rtsw.id,
            radix: rtsw.radix as u64,
            port_speed: rtsw.port_speed,
            chips: 1,
            fanin: 16,
            up: 16,
            switches: None,
            up_speed: rtsw.port_speed,
            up_medium: Medium::Optical,
        },
        TierSpec {
            name: "CTSW".into(),
            chip: ctsw.id,
            radix: ctsw.radix as u64,
            port_speed: ctsw.port_speed,
            chips: 1,
            fanin: racks,
            up: if pods > 1 { ctsw_up } else { 0 },
            switches: Some(ctsw_per_pod),
            up_speed: ctsw.port_speed,
            up_medium: Medium::Optical,
        },
    ];
    if pods > 1 {
        tiers.push(TierSpec {
            name: "ATSW".into(),
            fanin: pods,
            up: 0,
            switches: None,
            ..tiers[1].clone()
        });
    }
    Ok(ClusterSpec {
        name: String::new(),
        description: format!("Meta RoCE (Llama 3): {pods} pods × {racks} racks × 16 H100 = {} GPUs, 1:{oversub} between pods", pods * racks * 16),
        node,
        domains: pods * racks * 2,
        scale_out: Some(ClosSpec { tiers, order: LeafOrder::Sequential, planes: 1, endpoint_medium: Medium::Copper }),
        sites: None,
        assumptions: vec![
            "RTSW: 16 × 400G copper down, 16 × 400G up (1:1; the sources say 'undersubscribed') [U]".into(),
            format!("{ctsw_per_pod} CTSW per pod, each one link from every RTSW; {ctsw_up} × 400G up per CTSW for 1:{oversub} [A]"),
        ],
        // Rack = 2 servers + 1 RTSW (systems.md §6.1 [P(S)]): 1,536 racks for 24,576 GPUs.
        racks: RackSpec {
            hosts_per_rack: Some(2),
            leaf_in_compute_rack: true,
            basis: Some("2 servers (16 GPUs) + 1 Minipack2 RTSW per rack: systems.md §6.1 [P(S)] Llama 3 paper".into()),
            ..RackSpec::default()
        },
        ocs: 0,
        scale_up_transceiver: None,
        scale_out_transceiver: None,
    })
}
