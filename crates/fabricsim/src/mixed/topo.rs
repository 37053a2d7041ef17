//! `topo` on a mixed-accelerator cluster: every pool summarised as `topo` summarises a normal
//! cluster (accelerators, fabric, bill of materials, cost, power), the pool link as priced for
//! training, and the totals over the pools.
//!
//! Left out: the pool link's own hardware. RDMA between the pools runs on the pools' own
//! scale-out NICs (already in each pool's bill of materials) under a shared spine whose extra
//! ports are not counted; CPU forwarding runs on the pools' own hosts. The report says so.
//!
//! No I/O: pools come through the caller's loader.

use super::link::{self, PoolLink};
use super::spec::MixedSpec;
use crate::topo::{self, TopoOptions, TopoReport};
use fabric::topology::clos::ClusterSpec;
use fabric::Fabric;
use serde::Serialize;

/// Builds one pool's cluster from its spec (the caller's loader; routing applied).
pub type LoadPool<'a> = dyn Fn(&str) -> Result<(ClusterSpec, Fabric), String> + 'a;

/// One pool of a mixed cluster, as `topo` reports a normal cluster.
#[derive(Debug, Serialize)]
pub struct PoolTopo {
    pub name: String,
    /// The cluster spec its fabric is built from.
    pub cluster: String,
    pub topo: TopoReport,
}

/// `topo --json` on a mixed cluster.
#[derive(Debug, Serialize)]
pub struct MixedTopoReport {
    pub schema_version: u32,
    /// Always `mixed_topo`.
    pub kind: String,
    pub name: String,
    /// Accelerators over all pools.
    pub accelerator_count: u64,
    pub pools: Vec<PoolTopo>,
    pub pool_link: PoolLink,
    /// What the pool link adds to the bill of materials (nothing counted; why).
    pub pool_link_bom_basis: String,
    /// Sums over the pools of the same keys of each pool's `topo`.
    pub switch_count: u64,
    pub it_power_w: f64,
    pub facility_power_w: f64,
    pub it_power_at_load_w: f64,
    pub facility_power_at_load_w: f64,
    pub energy_kwh_per_day: f64,
    /// Sum of the pools' priced lines; `unpriced_items` (each prefixed with its pool) lists
    /// what it leaves out.
    pub cost_usd: f64,
    pub unpriced_items: Vec<String>,
}

/// Summarise every pool of `spec` (`name`: the cluster as given) and price its link.
pub fn report(
    name: &str,
    spec: &MixedSpec,
    load: &LoadPool,
    opts: &TopoOptions,
    at_load: Option<crate::power::Load>,
) -> Result<MixedTopoReport, String> {
    if spec.pools.len() < 2 {
        return Err(format!(
            "{name}: a mixed cluster needs at least two pools, got {}",
            spec.pools.len()
        ));
    }
    let mut built = Vec::new();
    for (i, p) in spec.pools.iter().enumerate() {
        let field = format!("pool `{}` (pool {i})", p.name);
        let cs = p.source.cluster_spec(&field)?;
        let (c, f) = load(&cs).map_err(|e| format!("{field}: cluster `{cs}`: {e}"))?;
        built.push((p.name.clone(), cs, c, f));
    }
    let named: Vec<(&str, &Fabric)> = built.iter().map(|b| (b.0.as_str(), &b.3)).collect();
    let pool_link = link::price(spec.link.as_ref(), &named, &format!("{name}: pool_link"))?;
    let pools: Vec<PoolTopo> = built
        .iter()
        .map(|(n, cs, c, f)| PoolTopo {
            name: n.clone(),
            cluster: cs.clone(),
            topo: topo::report_at(c, f, opts, at_load),
        })
        .collect();
    let sum = |k: fn(&TopoReport) -> f64| pools.iter().map(|p| k(&p.topo)).sum::<f64>();
    let pool_link_bom_basis = match pool_link.kind.as_str() {
        "rdma" => "none counted: GPUDirect RDMA between the pools runs on the pools' own scale-out NICs (in each pool's bill of materials) under a shared spine whose extra ports are not counted".to_string(),
        _ => "none counted: CPU forwarding runs on the pools' own hosts and NICs (in each pool's bill of materials)".to_string(),
    };
    Ok(MixedTopoReport {
        schema_version: crate::SCHEMA_VERSION,
        kind: "mixed_topo".into(),
        name: name.to_string(),
        accelerator_count: pools.iter().map(|p| p.topo.accelerators.count).sum(),
        switch_count: pools.iter().map(|p| p.topo.switch_count).sum(),
        it_power_w: sum(|t| t.it_power_w),
        facility_power_w: sum(|t| t.facility_power_w),
        it_power_at_load_w: sum(|t| t.it_power_at_load_w),
        facility_power_at_load_w: sum(|t| t.facility_power_at_load_w),
        energy_kwh_per_day: sum(|t| t.energy_kwh_per_day),
        cost_usd: sum(|t| t.cost_usd),
        unpriced_items: pools
            .iter()
            .flat_map(|p| p.topo.unpriced_items.iter().map(move |u| format!("{}: {u}", p.name)))
            .collect(),
        pools,
        pool_link,
        pool_link_bom_basis,
    })
}

/// The text report: the totals and the pool link, then each pool's `topo` text.
pub fn render(r: &MixedTopoReport) -> String {
    use std::fmt::Write;
    use units::si;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}  —  mixed-accelerator cluster of {} pools, {} accelerators",
        r.name,
        r.pools.len(),
        r.accelerator_count
    );
    for p in &r.pools {
        let _ = writeln!(
            s,
            "  pool {:<8} {:>7} × {:<28} {}",
            p.name, p.topo.accelerators.count, p.topo.accelerators.name, p.cluster
        );
    }
    let l = &r.pool_link;
    let _ = writeln!(
        s,
        "pool link      {}: {} aggregate per direction, {} per flow, {} latency\n               ({})",
        l.kind,
        si(l.capacity_bytes_per_s, "B/s"),
        si(l.per_flow_bytes_per_s, "B/s"),
        si(l.latency_s, "s"),
        l.basis
    );
    let _ = writeln!(s, "  bill of materials: {}", r.pool_link_bom_basis);
    let _ = writeln!(
        s,
        "totals         {} switch chips · IT power {} · facility {} · cost {:.3} M USD ({} unpriced item{})",
        r.switch_count,
        si(r.it_power_w, "W"),
        si(r.facility_power_w, "W"),
        r.cost_usd / 1e6,
        r.unpriced_items.len(),
        if r.unpriced_items.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        s,
        "               at load: {} IT, {} facility, {:.0} kWh/day",
        si(r.it_power_at_load_w, "W"),
        si(r.facility_power_at_load_w, "W"),
        r.energy_kwh_per_day
    );
    for p in &r.pools {
        let _ = writeln!(s, "\n=== pool `{}` ===", p.name);
        s.push_str(&topo::render(&p.topo));
    }
    s
}
