//! Scale-out networks: folded Clos of 1–4 tiers built bottom-up from leaves, with rail-optimized
//! or sequential leaf assignment, one or two planes (dual-ToR), rail-only (each rail its own
//! tree). A site of a multi-site cluster reserves top-tier ports for its DCI share; the join
//! itself is `topology::sites`.
//!
//! Wiring rule (tier t ≥ 2): consecutive tier-(t−1) blocks are grouped `fanin` at a time into a
//! tier-t block with `switches` switches; up-link `v` of the switch with index `s` in a sub-block
//! goes to switch `(p·up + v) mod switches` of the block, where `p` counts the lower switches
//! across the block's sub-blocks. For a k-ary fat-tree this is the
//! textbook wiring (spine j meets leaf j's group in every pod); with fewer switches it spreads
//! the up-links round-robin, several parallel links per pair where they divide evenly.

use super::nodes::NodeType;
use super::scaleup;
use crate::builder::{FabricBuilder, SwitchSpec};
use crate::error::{FabricError, Result};
use crate::model::*;
use units::{BytesPerSec, Seconds};

/// Per switch hop latency of the scale-out network: 0.3 µs. IB NDR switches are quoted at
/// "< 150 ns" port to port and Ethernet at 200–500 ns (reference table §9.1 [S]/[U]); 0.3 µs
/// also covers the few metres of cable. Collective timing uses NCCL's constants instead.
pub const SCALE_OUT_HOP: Seconds = Seconds(0.3e-6);

/// One tier of switches.
#[derive(Debug, Clone, PartialEq)]
pub struct TierSpec {
    /// Name shown in summaries ("leaf", "spine", "core", "ToR", "aggregation").
    pub name: String,
    /// Catalogue id of the switch chip, the ports one chip has and their speed.
    pub chip: &'static str,
    pub radix: u64,
    pub port_speed: BytesPerSec,
    /// Physical chips per logical switch (a modular chassis counts its chips).
    pub chips: u32,
    /// Tier 1: endpoints (ports) per leaf; tier ≥ 2: sub-blocks per block.
    pub fanin: u32,
    /// Up-links per switch (0 at the top tier).
    pub up: u32,
    /// Switches per block; `None` derives the fewest that have enough ports.
    pub switches: Option<u32>,
    /// Capacity of this tier's up-links, per direction.
    pub up_speed: BytesPerSec,
    pub up_medium: Medium,
}

/// How endpoints are assigned to leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafOrder {
    /// Accelerators fill leaves in rank order.
    Sequential,
    /// Leaf = (group of domains, rail = accelerator index in its domain).
    RailOptimized,
    /// Like rail-optimized, but each rail is its own tree (no tier joins rails).
    RailOnly,
}

/// Long-haul join of several sites. With `count` 1 the cluster is one site whose top tier
/// reserves ports for `bandwidth` of DCI capacity (the join itself is `topology::sites`).
#[derive(Debug, Clone, PartialEq)]
pub struct SitesSpec {
    pub count: u32,
    /// Fibre route distance from each site to the WAN meeting point, km.
    pub distance_km: f64,
    /// Long-haul capacity per site, per direction.
    pub bandwidth: BytesPerSec,
}

/// A scale-out network.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosSpec {
    pub tiers: Vec<TierSpec>,
    pub order: LeafOrder,
    /// Number of planes; ports of an accelerator are split evenly over planes (dual-plane:
    /// port 0 → plane 0, port 1 → plane 1).
    pub planes: u32,
    /// Medium of accelerator-to-leaf links.
    pub endpoint_medium: Medium,
}

/// A whole cluster: domains of a node type, a scale-out network, optional sites.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    pub name: String,
    pub description: String,
    pub node: NodeType,
    pub domains: u32,
    pub scale_out: Option<ClosSpec>,
    pub sites: Option<SitesSpec>,
    pub assumptions: Vec<String>,
    /// Racks, where the cluster's source says more than the node type's host rule.
    pub racks: RackSpec,
    pub ocs: u32,
    /// Catalogue ids of the optical modules on scale-up links and (overriding the default
    /// chosen by port speed) on scale-out links.
    pub scale_up_transceiver: Option<&'static str>,
    pub scale_out_transceiver: Option<&'static str>,
}

fn ctx_err(name: &str, problem: String) -> FabricError {
    FabricError::Impossible {
        context: name.to_string(),
        problem,
    }
}

/// Generate the fabric of a cluster.
pub fn build(spec: &ClusterSpec) -> Result<Fabric> {
    let node = &spec.node;
    let ds = node.scale_up.size();
    if spec.domains == 0 {
        return Err(ctx_err(&spec.name, "the cluster has no scale-up domains".into()));
    }
    let total = spec.domains as u64 * ds as u64;
    if total > 4_000_000 {
        return Err(ctx_err(
            &spec.name,
            format!("{total} accelerators is beyond what fabricsim models (4,000,000)"),
        ));
    }
    let sites = spec.sites.as_ref().map(|s| s.count).unwrap_or(1).max(1);
    if sites > 1 {
        // Sites are built one by one and joined by `topology::sites::join` (the `multi-site`
        // preset and `[[site]]` files do this); a spec of several sites is a description only.
        return Err(ctx_err(
            &spec.name,
            format!("{sites} sites: build each site and join them with topology::sites::join"),
        ));
    }
    if spec.domains % sites != 0 {
        return Err(ctx_err(
            &spec.name,
            format!("{} domains do not split evenly over {} sites", spec.domains, sites),
        ));
    }
    let mut b = FabricBuilder::new(spec.name.clone(), node.accel);
    b.description = spec.description.clone();
    b.scale_up_link = node.link_tech;
    b.domain_size = ds;
    b.scale_up = Some(scaleup::kind(&node.scale_up));
    b.assumptions = spec.assumptions.clone();
    let models = scaleup::register_models(&mut b, &node.scale_up);
    let per_site = spec.domains / sites;
    let mut site_accels: Vec<Vec<NodeId>> = vec![Vec::new(); sites as usize];
    for d in 0..spec.domains {
        let site = d / per_site;
        let a = scaleup::add_domain(&mut b, &node.scale_up, models, d, NONE, site);
        site_accels[site as usize].extend(a);
    }
    let mut so_bisection = f64::INFINITY;
    if let Some(so) = &spec.scale_out {
        let tier_models: Vec<u32> = so
            .tiers
            .iter()
            .map(|t| b.switch_model(t.chip, t.name.clone(), t.radix, t.port_speed))
            .collect();
        let mut up_cap = vec![0.0f64; so.tiers.len() + 1];
        for (site, accels) in site_accels.iter().enumerate() {
            build_site(&mut b, spec, so, &tier_models, accels, site as u32, &mut up_cap)?;
        }
        // Bisection across whole tier blocks: half of the capacity leaving each tier
        // (tier 0 = accelerator injection); the minimum over tiers is the worst balanced cut.
        for &c in up_cap.iter().take(so.tiers.len()) {
            if c > 0.0 {
                so_bisection = so_bisection.min(c / 2.0);
            }
        }
        b.planes = match so.order {
            LeafOrder::RailOnly => rail_count(ds),
            _ => so.planes,
        };
        b.extras.nics = spec.domains * ds * node.nics_per_accel;
        b.extras.nic_model = Some(node.nic);
    }
    // Scale-up bisection of one domain.
    let su_bisection = scale_up_bisection(&node.scale_up);
    if spec.domains == 1 {
        let so_part = if so_bisection.is_finite() { so_bisection } else { 0.0 };
        b.bisection = BytesPerSec(su_bisection + so_part);
        b.bisection_method = if so_part > 0.0 {
            "one scale-up domain cut in half: scale-up links across the cut plus half the scale-out injection".into()
        } else {
            "one scale-up domain cut in half across its largest dimension / switch".into()
        };
    } else if so_bisection.is_finite() {
        b.bisection = BytesPerSec(so_bisection);
        b.bisection_method =
            "domains kept whole: half the capacity leaving the narrowest tier (injection, each switch tier, long-haul)"
                .into();
    } else {
        return Err(ctx_err(
            &spec.name,
            format!("{} scale-up domains but no scale-out network joins them", spec.domains),
        ));
    }
    b.extras.hosts = spec.domains * node.hosts;
    b.extras.scale_out_per_accel = node.port * node.ports_per_accel as f64;
    if spec.scale_out.is_none() && node.nics_per_accel > 0 {
        b.extras.nics = spec.domains * ds * node.nics_per_accel;
        b.extras.nic_model = Some(node.nic);
    }
    b.extras.scale_out_transceiver = Some(spec.scale_out_transceiver.unwrap_or(match node.port.as_gbit() {
        g if g <= 200.0 => "qsfp56-200g",
        g if g <= 400.0 => "osfp-400g-dr4",
        _ => "osfp-800g-2x400g-dr4",
    }));
    b.extras.scale_up_transceiver = spec.scale_up_transceiver;
    b.extras.cpus = spec.domains * node.cpus;
    b.extras.host = Some(node.host);
    b.extras.racks = spec.racks.clone();
    b.extras.ocs = spec.ocs;
    if spec.ocs > 0 {
        b.extras.ocs_model = Some("palomar");
    }
    b.build()
}

/// Rails of a rail-optimized network: one per accelerator of a domain up to 8 (the NICs of an
/// 8-GPU server); larger domains (NVL72 racks) fold onto the largest divisor of the domain size
/// not above 8, accelerator `i` of a domain on rail `i mod rails`.
pub fn rail_count(domain: u32) -> u32 {
    (1..=domain.min(8)).rev().find(|r| domain % r == 0).unwrap_or(1)
}

/// Bisection of one scale-up domain, per direction.
pub fn scale_up_bisection(s: &super::nodes::ScaleUpSpec) -> f64 {
    use super::nodes::ScaleUpSpec::*;
    match s {
        Single => 0.0,
        Star { size, lanes, lane, .. } => (size / 2) as f64 * *lanes as f64 * lane.0,
        FullMesh { size, lanes, lane } => {
            let h = (size / 2) as f64;
            h * (*size as f64 - h) * *lanes as f64 * lane.0
        }
        Torus { dims, wrap, lane, .. } => {
            let d = crate::routing::long_dim(*dims);
            let n: u32 = dims.iter().product();
            let cross = (n / dims[d]) as f64 * if wrap[d] && dims[d] > 2 { 2.0 } else { 1.0 };
            if dims[d] < 2 {
                0.0
            } else {
                cross * lane.0
            }
        }
        UbClos {
            nodes,
            per_node,
            planes,
            lane,
            ..
        } => (nodes * per_node / 2) as f64 * *planes as f64 * lane.0,
    }
}

/// Build one site's scale-out network; returns its top-tier switches with their block scope.
fn build_site(
    b: &mut FabricBuilder,
    spec: &ClusterSpec,
    so: &ClosSpec,
    tier_models: &[u32],
    accels: &[NodeId],
    site: u32,
    up_cap: &mut [f64],
) -> Result<Vec<(NodeId, u32)>> {
    let node = &spec.node;
    let ds = node.scale_up.size() as usize;
    let ports = node.ports_per_accel;
    let planes = so.planes.max(1);
    if ports == 0 {
        return Err(ctx_err(&spec.name, "node type has no scale-out ports".into()));
    }
    if ports % planes != 0 {
        return Err(ctx_err(
            &spec.name,
            format!("{ports} ports per accelerator do not split over {planes} planes"),
        ));
    }
    let slots = ports / planes;
    let leaf_t = so
        .tiers
        .first()
        .ok_or_else(|| ctx_err(&spec.name, "a scale-out network needs at least one tier".into()))?;
    let fanin = leaf_t.fanin as usize;
    if fanin == 0 {
        return Err(ctx_err(&spec.name, "leaf fan-in must be at least 1".into()));
    }
    up_cap[0] += accels.len() as f64 * ports as f64 * node.port.0;
    let domains = accels.len() / ds;
    // Trees: (plane, rail-or-all). Each tree is an independent Clos.
    let nrails = rail_count(ds as u32);
    let rails = if so.order == LeafOrder::RailOnly {
        nrails as usize
    } else {
        1
    };
    let mut tops = Vec::new();
    for plane in 0..planes {
        for tree_rail in 0..rails {
            // Leaves in order: group-major, then port slot, then rail.
            let mut leaves: Vec<Vec<NodeId>> = Vec::new();
            match so.order {
                LeafOrder::Sequential => {
                    for slot in 0..slots {
                        let _ = slot;
                        for chunk in accels.chunks(fanin) {
                            leaves.push(chunk.to_vec());
                        }
                    }
                }
                LeafOrder::RailOptimized | LeafOrder::RailOnly => {
                    // Rail r holds the accelerators whose index in the domain is r mod rails; a
                    // leaf serves one rail of a group of domains.
                    let per_rail = ds / nrails as usize;
                    let group = (fanin / per_rail).max(1);
                    let groups = domains.div_ceil(group);
                    for g in 0..groups {
                        let members = (g * group)..((g + 1) * group).min(domains);
                        for _slot in 0..slots {
                            let rail_range = if so.order == LeafOrder::RailOnly {
                                tree_rail..tree_rail + 1
                            } else {
                                0..nrails as usize
                            };
                            for r in rail_range {
                                leaves.push(
                                    members
                                        .clone()
                                        .flat_map(|d| (r..ds).step_by(nrails as usize).map(move |l| d * ds + l))
                                        .map(|i| accels[i])
                                        .collect(),
                                );
                            }
                        }
                    }
                }
            }
            let plane_id = if so.order == LeafOrder::RailOnly {
                tree_rail as u32
            } else {
                plane
            };
            let t = build_tree(b, spec, so, tier_models, &leaves, plane_id, site, up_cap)?;
            tops.extend(t);
        }
    }
    Ok(tops)
}

#[allow(clippy::too_many_arguments)]
fn build_tree(
    b: &mut FabricBuilder,
    spec: &ClusterSpec,
    so: &ClosSpec,
    tier_models: &[u32],
    leaves: &[Vec<NodeId>],
    plane: u32,
    site: u32,
    up_cap: &mut [f64],
) -> Result<Vec<(NodeId, u32)>> {
    let node = &spec.node;
    let lt = &so.tiers[0];
    // blocks[i] = (switches of block i, scope)
    let mut blocks: Vec<(Vec<NodeId>, u32)> = Vec::with_capacity(leaves.len());
    for members in leaves {
        let scope = b.scope(NONE);
        let leaf = b.switch(SwitchSpec {
            net: Net::ScaleOut,
            tier: 1,
            chips: lt.chips,
            model: tier_models[0],
            domain: NONE,
            plane,
            pod: NONE,
            site,
            scope,
        });
        for &a in members {
            b.cable(a, leaf, node.port, SCALE_OUT_HOP, so.endpoint_medium, Net::ScaleOut, 1);
        }
        blocks.push((vec![leaf], scope));
    }
    let mut prev_switches = 1u32;
    for t in 1..so.tiers.len() {
        let below = &so.tiers[t - 1];
        let tier = &so.tiers[t];
        if below.up == 0 {
            return Err(ctx_err(
                &spec.name,
                format!(
                    "tier `{}` has no up-links but tier `{}` sits above it",
                    below.name, tier.name
                ),
            ));
        }
        let fanin = tier.fanin.max(1) as usize;
        // Ports needed per block, in this tier's port units (a 400G port serves two 200G links).
        let per_link = (below.up_speed.0 / tier.port_speed.0).max(1e-9);
        let up_ports = (tier.up as f64 * tier.up_speed.0 / tier.port_speed.0).ceil() as u64;
        let free = (tier.radix * tier.chips as u64).saturating_sub(up_ports);
        let need = (prev_switches as f64 * below.up as f64 * fanin.min(blocks.len()) as f64 * per_link).ceil() as u64;
        let sw = match tier.switches {
            Some(s) if s > 0 => s,
            Some(_) => {
                return Err(ctx_err(
                    &spec.name,
                    format!("tier `{}` must have at least one switch per block", tier.name),
                ))
            }
            None => {
                if free == 0 {
                    return Err(ctx_err(
                        &spec.name,
                        format!("tier `{}` has no ports left for down-links", tier.name),
                    ));
                }
                let mut sw = need.div_ceil(free).max(1);
                // Multi-site (or one site built for a DCI join, `count` 1): the top tier also
                // carries the site's long-haul capacity, split evenly over its switches; add
                // switches until each has ports for its share.
                let sites = spec.sites.as_ref().filter(|_| t + 1 == so.tiers.len());
                if let Some(st) = sites {
                    let wan_ports = (st.bandwidth.0 / tier.port_speed.0).ceil().max(1.0) as u64;
                    let radix = tier.radix * tier.chips as u64;
                    let max_sw = (prev_switches as u64 * below.up as u64).max(sw);
                    while sw < max_sw && need.div_ceil(sw) + wan_ports.div_ceil(sw) > radix {
                        sw += 1;
                    }
                }
                sw as u32
            }
        };
        if (prev_switches as u64) * (below.up as u64) < sw as u64 {
            return Err(ctx_err(
                &spec.name,
                format!(
                    "tier `{}`: {} switches per block, but the {} switch(es) of each `{}` block have only {} up-links in all, so some switches would miss some blocks (up-down routing needs every switch of a block to reach every sub-block); use fewer blocks per `{}` block or more up-links",
                    tier.name, sw, prev_switches, below.name, prev_switches * below.up, tier.name
                ),
            ));
        }
        let mut next: Vec<(Vec<NodeId>, u32)> = Vec::new();
        for (bi, group) in blocks.chunks(fanin).enumerate() {
            let scope = b.scope(NONE);
            let pod = if t == 1 { bi as u32 } else { NONE };
            let switches: Vec<NodeId> = (0..sw)
                .map(|_| {
                    b.switch(SwitchSpec {
                        net: Net::ScaleOut,
                        tier: t as u8 + 1,
                        chips: tier.chips,
                        model: tier_models[t],
                        domain: NONE,
                        plane,
                        pod,
                        site,
                        scope,
                    })
                })
                .collect();
            // Up-link positions run on across the block's sub-blocks so that, when the
            // switches do not divide the up-links evenly, the remainder rotates instead of
            // piling onto the first switches.
            let mut pos = 0u64;
            for (sub, sub_scope) in group {
                b.set_scope_parent(*sub_scope, scope);
                for &low in sub.iter() {
                    if t == 1 {
                        b.nodes[low.0 as usize].pod = bi as u32;
                    }
                    for _ in 0..below.up {
                        let target = switches[(pos % sw as u64) as usize];
                        pos += 1;
                        b.cable(
                            low,
                            target,
                            below.up_speed,
                            SCALE_OUT_HOP,
                            below.up_medium,
                            Net::ScaleOut,
                            1,
                        );
                    }
                }
            }
            next.push((switches, scope));
        }
        up_cap[t] += blocks.iter().map(|(s, _)| s.len() as f64).sum::<f64>() * below.up as f64 * below.up_speed.0;
        prev_switches = sw;
        blocks = next;
    }
    if blocks.len() > 1 && spec.sites.as_ref().map(|s| s.count).unwrap_or(1) <= 1 {
        return Err(ctx_err(
            &spec.name,
            format!(
                "the top tier `{}` forms {} separate blocks: raise its fan-in or add a tier",
                so.tiers.last().map(|t| t.name.as_str()).unwrap_or("?"),
                blocks.len()
            ),
        ));
    }
    let mut tops = Vec::new();
    for (sws, scope) in blocks {
        for s in sws {
            tops.push((s, scope));
        }
    }
    Ok(tops)
}
