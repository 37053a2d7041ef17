//! Sites as parts of one cluster: several built site fabrics (any preset or cluster with a
//! single-plane scale-out network) joined over a data-centre interconnect (DCI).
//!
//! The join is a star: each site's top-tier scale-out switches attach to one DCI router of the
//! site (a deep-buffer chassis, `catalogue::DCI_ROUTER`), and each DCI router reaches one WAN
//! meeting point over a long-haul leg. A leg carries the site's stated DCI capacity as one
//! trunk link (`Net::LongHaul`, `Medium::LongHaul`) whose `lanes` are the coherent modules'
//! wavelengths, `ceil(capacity / module rate)`; its one-way latency is
//! `units::FIBRE_DELAY_PER_KM` × the leg's km. Routing stays up-down over the scope tree: a
//! site's top scope hangs under its DCI router's scope, which hangs under the meeting point's;
//! sites of different depths reach their DCI router across tiers (`FabricBuilder`'s skip rule).
//!
//! Nodes, links, scopes and switch models of the sites are concatenated in site order with
//! offsets, so accelerators keep their site's rank order and carry `Node::site` = site index.

use crate::builder::{FabricBuilder, SwitchSpec};
use crate::catalogue as cat;
use crate::error::{FabricError, Result};
use crate::model::*;
use crate::topology::clos::SCALE_OUT_HOP;
use units::BytesPerSec;

/// One leg of the DCI: a site to the WAN meeting point.
#[derive(Debug, Clone, PartialEq)]
pub struct DciLeg {
    /// Fibre route distance from the site to the meeting point, km.
    pub distance_km: f64,
    /// Long-haul capacity of the site, per direction.
    pub capacity: BytesPerSec,
}

/// The data-centre interconnect of a joined cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct DciSpec {
    /// Catalogue id of the long-haul coherent module (`qsfp-dd-400zr`, ...).
    pub optics: &'static str,
    /// Catalogue id of the DCI router's switch chip.
    pub router: &'static str,
    /// One leg per site, in site order.
    pub legs: Vec<DciLeg>,
    /// How the user's input became these legs (shown as an assumption).
    pub basis: String,
}

/// A built site with its name.
#[derive(Debug, Clone)]
pub struct Site {
    pub name: String,
    pub fabric: Fabric,
}

fn err(context: &str, problem: String) -> FabricError {
    FabricError::Impossible {
        context: context.to_string(),
        problem,
    }
}

/// Port speed of a switch model of `f` (from the catalogue), where known.
fn port_speed(f: &Fabric, model: u32) -> Option<f64> {
    let m = f.switch_models.get(model as usize)?;
    cat::switch_chip(m.chip).map(|c| c.port_speed.0).filter(|s| *s > 0.0)
}

/// The top-tier scale-out switches of a site (those whose scope has no parent), checked to be
/// one block of one plane.
fn tops(context: &str, name: &str, f: &Fabric) -> Result<(Vec<NodeId>, u8)> {
    if f.links.iter().any(|l| l.net == Net::LongHaul) {
        return Err(err(
            context,
            format!("site `{name}` is itself a multi-site cluster; join its sites directly"),
        ));
    }
    if f.planes > 1 {
        return Err(err(
            context,
            format!(
                "site `{name}` has {} scale-out planes (dual-plane or rail-only); sites are joined for single-plane scale-out networks only",
                f.planes
            ),
        ));
    }
    let mut out = Vec::new();
    let mut scopes = std::collections::BTreeSet::new();
    let mut tier = 0u8;
    for (i, n) in f.nodes.iter().enumerate() {
        if n.kind == NodeKind::Switch
            && n.net == Net::ScaleOut
            && n.scope != NONE
            && f.scope_parent.get(n.scope as usize) == Some(&NONE)
        {
            out.push(NodeId(i as u32));
            scopes.insert(n.scope);
            tier = tier.max(n.tier);
        }
    }
    if out.is_empty() {
        return Err(err(
            context,
            format!(
                "site `{name}` ({}) has no scale-out network to attach to the DCI",
                f.name
            ),
        ));
    }
    if scopes.len() > 1 {
        return Err(err(
            context,
            format!(
                "site `{name}` has {} separate top-tier blocks; a site must be one scale-out network",
                scopes.len()
            ),
        ));
    }
    Ok((out, tier))
}

/// Join `sites` over `dci` into one fabric named `name`; `context` names the file or preset
/// in errors.
pub fn join(name: &str, description: &str, context: &str, sites: &[Site], dci: &DciSpec) -> Result<Fabric> {
    if sites.len() < 2 {
        return Err(err(
            context,
            format!("{} site(s): a multi-site cluster needs at least 2", sites.len()),
        ));
    }
    if dci.legs.len() != sites.len() {
        return Err(err(
            context,
            format!("{} DCI legs for {} sites", dci.legs.len(), sites.len()),
        ));
    }
    let optics = cat::transceiver(dci.optics)
        .ok_or_else(|| err(context, format!("unknown long-haul module `{}`", dci.optics)))?;
    let router =
        cat::switch_chip(dci.router).ok_or_else(|| err(context, format!("unknown DCI router `{}`", dci.router)))?;
    let first = &sites[0].fabric;
    let mut top_sets = Vec::new();
    for (s, site) in sites.iter().enumerate() {
        let f = &site.fabric;
        if f.accel_model != first.accel_model {
            return Err(err(
                context,
                format!(
                    "site `{}` has {} accelerators but site `{}` has {}: sites of one cluster share one accelerator model (a mixed-accelerator cluster is built as pools)",
                    site.name, f.accel_model, sites[0].name, first.accel_model
                ),
            ));
        }
        if f.domain_size != first.domain_size || f.scale_up != first.scale_up {
            return Err(err(
                context,
                format!(
                    "site `{}` has scale-up domains of {} ({:?}) but site `{}` has {} ({:?}): sites of one cluster share one scale-up domain type",
                    site.name, f.domain_size, f.scale_up, sites[0].name, first.domain_size, first.scale_up
                ),
            ));
        }
        let leg = &dci.legs[s];
        if !(leg.capacity.0.is_finite() && leg.capacity.0 > 0.0) {
            return Err(err(
                context,
                format!("site `{}`: DCI capacity must be positive", site.name),
            ));
        }
        if !(leg.distance_km.is_finite() && leg.distance_km >= 0.0) {
            return Err(err(
                context,
                format!("site `{}`: DCI distance must be ≥ 0 km", site.name),
            ));
        }
        top_sets.push(tops(context, &site.name, f)?);
    }

    let mut b = FabricBuilder::new(name.to_string(), first.accel_model);
    b.description = description.to_string();
    b.scale_up_link = first.scale_up_link;
    b.domain_size = first.domain_size;
    b.scale_up = Some(first.scale_up.clone());
    b.planes = 1;
    let hub_scope = b.scope(NONE);
    let dci_model = b.switch_model(router.id, "DCI router", router.radix as u64, router.port_speed);
    let wan_model = b.switch_model("wan", "WAN", 0, BytesPerSec::ZERO);
    let (mut domain_off, mut pod_off) = (0u32, 0u32);
    let mut routers = Vec::new();
    let mut site_bisection = 0.0f64;
    let mut extras = first.extras.clone();
    extras.hosts = 0;
    extras.cpus = 0;
    extras.nics = 0;
    extras.ocs = 0;
    extras.racks.extra = 0;
    let mut assumptions: Vec<String> = Vec::new();
    let mut lh_modules = 0u64;
    for (s, site) in sites.iter().enumerate() {
        let f = &site.fabric;
        let node_off = b.nodes.len() as u32;
        let accel_off = b.accels.len() as u32;
        let scope_off = b.scope(NONE);
        for _ in 1..f.scope_parent.len() {
            b.scope(NONE);
        }
        for (i, &p) in f.scope_parent.iter().enumerate() {
            if p != NONE {
                b.set_scope_parent(scope_off + i as u32, scope_off + p);
            }
        }
        let model_off = b.switch_models.len() as u32;
        for m in &f.switch_models {
            // Ports were checked when the site was built (a new builder has no radix to check).
            b.switch_model(m.chip, m.role.clone(), 0, BytesPerSec::ZERO);
        }
        let mut max_pod = 0u32;
        for n in &f.nodes {
            let mut n = *n;
            n.site = s as u32;
            if n.domain != NONE {
                n.domain += domain_off;
            }
            if n.pod != NONE {
                max_pod = max_pod.max(n.pod + 1);
                n.pod += pod_off;
            }
            if n.model != NONE {
                n.model += model_off;
            }
            if n.kind == NodeKind::Accel {
                n.scope += accel_off;
                b.accels.push(NodeId(b.nodes.len() as u32));
            } else if n.scope != NONE {
                n.scope += scope_off;
            }
            b.nodes.push(n);
        }
        for l in &f.links {
            let mut l = *l;
            l.src.0 += node_off;
            l.dst.0 += node_off;
            b.links.push(l);
        }
        domain_off += f.domain_count();
        pod_off += max_pod;
        // The DCI router of the site, one tier above its top tier.
        let (top, top_tier) = &top_sets[s];
        let leg = &dci.legs[s];
        let share = leg.capacity.0 / top.len() as f64;
        let top_port = top
            .iter()
            .filter_map(|t| port_speed(f, f.node(*t).model))
            .fold(f64::INFINITY, f64::min)
            .min(router.port_speed.0);
        // Site-side links run at whole ports, so the long-haul leg, not the site side, is
        // what holds the site to its stated capacity.
        let (side_lanes, side_cap) = if top_port.is_finite() {
            let lanes = (share / top_port * (1.0 - 1e-9)).ceil().max(1.0);
            (lanes as u32, lanes * top_port)
        } else {
            (1, share)
        };
        let modules = (leg.capacity.0 / optics.speed.0 * (1.0 - 1e-9)).ceil().max(1.0) as u64;
        let router_ports_lh = (leg.capacity.0 / router.port_speed.0 * (1.0 - 1e-9))
            .ceil()
            .max(modules as f64 * (optics.speed.0 / router.port_speed.0).ceil());
        let router_ports = router_ports_lh as u64 + side_lanes as u64 * top.len() as u64;
        let chips = router_ports.div_ceil(router.radix.max(1) as u64).max(1) as u32;
        let r_scope = b.scope(hub_scope);
        b.set_scope_parent(scope_off + f.node(top[0]).scope, r_scope);
        let r = b.switch(SwitchSpec {
            net: Net::ScaleOut,
            tier: top_tier + 1,
            chips,
            model: dci_model,
            domain: NONE,
            plane: 0,
            pod: NONE,
            site: s as u32,
            scope: r_scope,
        });
        for t in top {
            b.cable(
                NodeId(t.0 + node_off),
                r,
                BytesPerSec(side_cap),
                SCALE_OUT_HOP,
                Medium::Optical,
                Net::ScaleOut,
                side_lanes,
            );
        }
        routers.push((r, modules));
        lh_modules += modules;
        site_bisection += f.bisection.0;
        extras.hosts += f.extras.hosts;
        extras.cpus += f.extras.cpus;
        extras.nics += f.extras.nics;
        extras.ocs += f.extras.ocs;
        extras.racks.extra += f.extras.racks.extra;
        let installed = modules as f64 * optics.speed.as_gbit();
        assumptions.push(format!(
            "site {s} `{}` ({}, {} accelerators): DCI {:.0} Gb/s per direction over {modules} × {} ({installed:.0} Gb/s installed; the model carries the stated {:.0} Gb/s), {:.0} km to the WAN meeting point ({:.1} µs one way); {} DCI router chassis ({}), {} site-side port(s) from {} top-tier switch(es)",
            site.name,
            f.name,
            f.accel_count(),
            leg.capacity.as_gbit(),
            optics.name,
            leg.capacity.as_gbit(),
            leg.distance_km,
            (units::FIBRE_DELAY_PER_KM * leg.distance_km).as_us(),
            chips,
            router.name,
            side_lanes as u64 * top.len() as u64,
            top.len(),
        ));
        if let Some(reach) = cat::dci_reach_km(optics.id) {
            if 2.0 * leg.distance_km > reach {
                assumptions.push(format!(
                    "site {s} `{}`: {:.0} km between sites is beyond the ~{reach:.0} km reach of {} (amplifiers or a transport system assumed, not in the bill of materials)",
                    site.name,
                    2.0 * leg.distance_km,
                    optics.name
                ));
            }
        }
        for a in &f.assumptions {
            let line = format!("site `{}`: {a}", site.name);
            if !assumptions.contains(&line) {
                assumptions.push(line);
            }
        }
    }
    let top_router_tier = top_sets.iter().map(|(_, t)| t + 1).max().unwrap_or(1);
    let hub = b.switch(SwitchSpec {
        net: Net::ScaleOut,
        tier: top_router_tier + 1,
        chips: 0,
        model: wan_model,
        domain: NONE,
        plane: 0,
        pod: NONE,
        site: NONE,
        scope: hub_scope,
    });
    for (s, &(r, modules)) in routers.iter().enumerate() {
        let leg = &dci.legs[s];
        b.cable(
            r,
            hub,
            leg.capacity,
            units::FIBRE_DELAY_PER_KM * leg.distance_km,
            Medium::LongHaul,
            Net::LongHaul,
            modules as u32,
        );
    }
    // Bisection: cutting every site in half, or cutting the DCI between the halves of the sites
    // (the smaller half's legs).
    let mut caps: Vec<f64> = dci.legs.iter().map(|l| l.capacity.0).collect();
    caps.sort_by(f64::total_cmp);
    let dci_cut: f64 = caps.iter().take(sites.len() / 2).sum();
    b.bisection = BytesPerSec(site_bisection.min(dci_cut));
    b.bisection_method = format!(
        "the lesser of every site cut in half (sum of the sites' bisections) and the DCI legs of the smaller half of the sites ({} of {})",
        sites.len() / 2,
        sites.len()
    );
    extras.long_haul_transceiver = Some(optics.id);
    b.extras = extras;
    let mut all = vec![
        format!(
            "{} sites joined at one WAN meeting point (a star): {}",
            sites.len(),
            dci.basis
        ),
        format!(
            "each DCI leg is one trunk of its stated capacity: the {lh_modules} wavelengths ({}) share flows evenly, as a spraying or well-hashed DCI would; 2 modules per wavelength, one at each end",
            optics.name
        ),
        "site-side links: each top-tier switch has whole ports to its DCI router for an equal share of the site's DCI capacity (generic-family sites reserve them; other presets' top tiers are assumed to have them free)".into(),
    ];
    all.extend(assumptions);
    b.assumptions = all;
    let mut fabric = b.build()?;
    fabric.routing = first.routing;
    Ok(fabric)
}
