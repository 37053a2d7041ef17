//! `fabricsim topo`: the summary of a fabric (tiers, counts, bandwidths, BOM, racks, power,
//! cost). Power is nameplate IT power from the bill of materials (systems + fabric), and
//! facility power is IT power × PUE ([`Pue`], default from the catalogue, `--pue` to change).

use fabric::bom::{self, Bom, Part};
use fabric::catalogue::{self as cat, Price};
use fabric::topology::clos::ClusterSpec;
use fabric::{Fabric, Net};
use serde::Serialize;
use std::collections::BTreeMap;

/// Errors of the `topo` options.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TopoError {
    #[error("PUE must be between {min} and {max} (facility power ÷ IT power; 1.0 means no cooling or conversion overhead), got {0}", min = format!("{:.1}", Pue::MIN), max = format!("{:.1}", Pue::MAX))]
    PueOutOfRange(f64),
}

/// Power usage effectiveness: facility power ÷ IT power, in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pue(f64);

impl Pue {
    pub const MIN: f64 = 1.0;
    /// Above any facility in use (old enterprise rooms run about 2); a larger value is a typo.
    pub const MAX: f64 = 3.0;

    pub fn new(x: f64) -> Result<Pue, TopoError> {
        // CORRECTNESS: NaN fails `contains`, so it is rejected too.
        if (Self::MIN..=Self::MAX).contains(&x) {
            Ok(Pue(x))
        } else {
            Err(TopoError::PueOutOfRange(x))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for Pue {
    /// The catalogue's default ([`cat::PUE_DEFAULT`], with its source).
    fn default() -> Self {
        Pue(cat::PUE_DEFAULT)
    }
}

/// What `topo` is asked for beyond the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TopoOptions {
    /// `None`: the catalogue's default, reported as such.
    pub pue: Option<Pue>,
}

#[derive(Debug, Serialize)]
pub struct Accelerators {
    pub count: u64,
    pub model: String,
    pub name: String,
    pub per_domain: u32,
    pub domains: u32,
}

#[derive(Debug, Serialize)]
pub struct Transceivers {
    pub total: u64,
    pub scale_up: u64,
    pub scale_out: u64,
    pub long_haul: u64,
}

#[derive(Debug, Serialize)]
pub struct Tier {
    pub name: String,
    pub network: String,
    pub level: u8,
    pub switch_chips: u64,
    pub down_bytes_per_s: f64,
    pub up_bytes_per_s: f64,
    /// down : up; `null` at a top tier.
    pub oversubscription: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct BomItem {
    pub item: String,
    pub model: String,
    pub count: u64,
    pub unit_power_w: f64,
    /// `null` where the line is paid for within another or has no public price (`price_note`).
    pub unit_price_usd: Option<f64>,
    pub power_w: f64,
    pub cost_usd: Option<f64>,
    /// `"system"` (inside a server or rack as shipped) or `"fabric"` (joining systems).
    pub part: &'static str,
    /// Why `unit_price_usd` is null: `"included in …"` or `"unpriced: …"`; `null` when priced.
    pub price_note: Option<String>,
    pub basis: String,
}

/// The `topo --json` schema (version [`crate::SCHEMA_VERSION`]).
#[derive(Debug, Serialize)]
pub struct TopoReport {
    pub schema_version: u32,
    pub name: String,
    pub description: String,
    pub accelerators: Accelerators,
    pub switch_count: u64,
    /// Switch chips per tier, keyed by the tier's name as printed (`"scale-up switch"`), for the
    /// text report. Not in JSON since schema 1 of 2026-12-02 (its keys had spaces): JSON readers
    /// take `switch_count_by_tier`.
    #[serde(skip)]
    pub switches_by_tier: BTreeMap<String, u64>,
    /// The same counts keyed by snake_case identifiers (`scale_up_switch`, `leaf`, `spine`).
    pub switch_count_by_tier: BTreeMap<String, u64>,
    pub ocs_count: u32,
    pub optical_transceivers: Transceivers,
    /// Links per medium, keyed by the medium's name as printed (`"scale-out optical"`), for the
    /// text report. Not in JSON (keys with spaces): JSON readers take `cable_count_by_medium`.
    #[serde(skip)]
    pub cables_by_medium: BTreeMap<String, u64>,
    /// The same counts keyed by snake_case identifiers (`scale_out_optical`,
    /// `scale_up_optical_ocs`).
    pub cable_count_by_medium: BTreeMap<String, u64>,
    pub hosts: u32,
    pub cpus: u32,
    /// Racks in all: `compute_racks + network_racks + extra_racks` (always counted).
    pub racks: u64,
    /// Racks of hosts by `rack_basis`; racks of switches and OCS by `network_rack_basis`;
    /// racks the cluster's source names beyond those (CloudMatrix384's communication racks).
    pub compute_racks: u64,
    pub network_racks: u64,
    pub extra_racks: u64,
    pub rack_basis: String,
    pub network_rack_basis: String,
    /// Mean power of one compute rack: `systems_power_w / compute_racks`.
    pub compute_rack_power_w: f64,
    pub nics: u32,
    pub scale_up_link: Option<String>,
    pub scale_up_bytes_per_s_per_accel: f64,
    pub scale_up_aggregate_bytes_per_s: f64,
    pub scale_out_bytes_per_s_per_accel: f64,
    pub scale_out_planes: u32,
    /// How the scale-out network spreads flows over equal-cost paths: `ecmp`, `adaptive` or
    /// `spray` (`fabric::RoutingMode`: the preset's default or `--routing`).
    pub routing: String,
    pub bisection_bytes_per_s: f64,
    pub bisection_method: String,
    pub tiers: Vec<Tier>,
    pub nodes: usize,
    pub directed_links: usize,
    /// IT power at nameplate (maximum), W: every line of `bom`, hosts included. Equal to
    /// `it_power_w`; kept under its first name.
    pub power_w: f64,
    /// IT power (= `power_w`) = `systems_power_w` (servers and racks as shipped) +
    /// `fabric_power_w` (scale-out and long-haul switches, optics, OCS).
    pub it_power_w: f64,
    pub systems_power_w: f64,
    pub fabric_power_w: f64,
    /// Facility power = IT power × `pue`; `pue_basis` says where the PUE comes from.
    pub facility_power_w: f64,
    pub pue: f64,
    pub pue_basis: String,
    /// Sum of the priced lines; `unpriced_items` lists what it leaves out and why.
    pub cost_usd: f64,
    /// `"item (model): reason"` for every line without a public price.
    pub unpriced_items: Vec<String>,
    pub bom: Vec<BomItem>,
    pub assumptions: Vec<String>,
    /// The fraction of TDP the accelerators average for the figures below (`--load`, default
    /// `fabric::catalogue::power::TOPO_LOAD_DEFAULT`), and where it comes from.
    pub load_fraction: f64,
    pub load_basis: String,
    /// IT power with the accelerators at `load_fraction` × TDP and every other line at
    /// nameplate; facility = that × `pue`; facility energy per day at that load.
    pub it_power_at_load_w: f64,
    pub facility_power_at_load_w: f64,
    pub energy_kwh_per_day: f64,
}

/// A JSON key for a printed name: lowercase ASCII letters and digits, every other run of
/// characters one `_` (`"scale-up optical (OCS)"` → `scale_up_optical_ocs`).
pub fn snake_key(name: &str) -> String {
    let mut k = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            k.push(c.to_ascii_lowercase());
        } else if !k.is_empty() && !k.ends_with('_') {
            k.push('_');
        }
    }
    k.trim_end_matches('_').to_string()
}

/// A count map re-keyed by [`snake_key`] (names that meet on one key add up).
fn snake_keys(m: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (k, v) in m {
        *out.entry(snake_key(k)).or_insert(0) += v;
    }
    out
}

pub fn report(spec: &ClusterSpec, f: &Fabric, opts: &TopoOptions) -> TopoReport {
    report_at(spec, f, opts, None)
}

/// [`report`] with the energy figures at `load` (`None`: the catalogue's default load).
pub fn report_at(spec: &ClusterSpec, f: &Fabric, opts: &TopoOptions, load: Option<crate::power::Load>) -> TopoReport {
    let b: Bom = bom::bom(f);
    let (load, load_basis) = match load {
        Some(l) => (l, "set with --load".to_string()),
        None => (
            crate::power::Load::default(),
            "default [A]: inside the 75-85 % of nameplate of ~3 M kWh/day per 100k cards (operations.csv O065); --load to change".to_string(),
        ),
    };
    let (pue, pue_basis) = match opts.pue {
        Some(p) => (p, "set with --pue".to_string()),
        None => (Pue::default(), cat::PUE_DEFAULT_BASIS.to_string()),
    };
    let acc = fabric::catalogue::accelerator(f.accel_model);
    let tiers = b
        .tiers
        .iter()
        .map(|t| Tier {
            name: t.tier.clone(),
            network: bom::net_name(t.net).into(),
            level: t.level,
            switch_chips: t.switches,
            down_bytes_per_s: t.down.0,
            up_bytes_per_s: t.up.0,
            oversubscription: if t.up.0 > 0.0 { Some(t.down.0 / t.up.0) } else { None },
        })
        .collect();
    let mut assumptions = f.assumptions.clone();
    if !f.bisection_method.is_empty() {
        assumptions.push(format!("bisection: {}", f.bisection_method));
    }
    let so_port = f.accel_bandwidth(0, Net::ScaleOut);
    let (it_at_load, fac_at_load, kwh_day) = crate::power::at_load(f, &b, load, pue);
    TopoReport {
        schema_version: crate::SCHEMA_VERSION,
        name: spec.name.clone(),
        description: f.description.clone(),
        accelerators: Accelerators {
            count: f.accels.len() as u64,
            model: f.accel_model.to_string(),
            name: acc.map(|a| a.name.to_string()).unwrap_or_default(),
            per_domain: f.domain_size,
            domains: f.domain_count(),
        },
        switch_count: b.switch_count,
        switches_by_tier: b.switches_by_tier.clone(),
        switch_count_by_tier: snake_keys(&b.switches_by_tier),
        ocs_count: f.extras.ocs,
        optical_transceivers: Transceivers {
            total: b.transceivers_scale_up + b.transceivers_scale_out + b.transceivers_long_haul,
            scale_up: b.transceivers_scale_up,
            scale_out: b.transceivers_scale_out,
            long_haul: b.transceivers_long_haul,
        },
        cables_by_medium: b.cables_by_medium.clone(),
        cable_count_by_medium: snake_keys(&b.cables_by_medium),
        hosts: f.extras.hosts,
        cpus: f.extras.cpus,
        racks: b.racks.total(),
        compute_racks: b.racks.compute,
        network_racks: b.racks.network,
        extra_racks: b.racks.extra,
        rack_basis: b.racks.basis.clone(),
        network_rack_basis: b.racks.network_basis.clone(),
        compute_rack_power_w: if b.racks.compute > 0 {
            b.systems_power.0 / b.racks.compute as f64
        } else {
            0.0
        },
        nics: f.extras.nics,
        scale_up_link: f.scale_up_link.map(str::to_string),
        scale_up_bytes_per_s_per_accel: f.accel_bandwidth(0, Net::ScaleUp).0,
        scale_up_aggregate_bytes_per_s: bom::scale_up_aggregate(f).0,
        scale_out_bytes_per_s_per_accel: if so_port.0 > 0.0 {
            so_port.0
        } else {
            f.extras.scale_out_per_accel.0
        },
        scale_out_planes: f.planes,
        routing: f.routing.name().into(),
        bisection_bytes_per_s: f.bisection.0,
        bisection_method: f.bisection_method.clone(),
        tiers,
        nodes: f.nodes.len(),
        directed_links: f.links.len(),
        power_w: b.power.0,
        it_power_w: b.power.0,
        systems_power_w: b.systems_power.0,
        fabric_power_w: b.fabric_power.0,
        facility_power_w: b.power.0 * pue.get(),
        pue: pue.get(),
        pue_basis,
        cost_usd: b.cost.0,
        unpriced_items: b.unpriced.clone(),
        bom: b
            .lines
            .iter()
            .map(|l| BomItem {
                item: l.item.clone(),
                model: l.model.clone(),
                count: l.count,
                unit_power_w: l.unit_power.0,
                unit_price_usd: l.price.usd().map(|p| p.0),
                power_w: l.power().0,
                cost_usd: l.price.usd().map(|_| l.cost().0),
                part: match l.part {
                    Part::System => "system",
                    Part::Fabric => "fabric",
                },
                price_note: match l.price {
                    Price::Usd(_) => None,
                    Price::Included { within } => Some(format!("included in {within}")),
                    Price::Unpriced { reason } => Some(format!("unpriced: {reason}")),
                },
                basis: l.basis.clone(),
            })
            .collect(),
        assumptions,
        load_fraction: load.get(),
        load_basis,
        it_power_at_load_w: it_at_load,
        facility_power_at_load_w: fac_at_load,
        energy_kwh_per_day: kwh_day,
    }
}

/// The human-readable summary.
pub fn render(r: &TopoReport) -> String {
    use std::fmt::Write;
    use units::si;
    let mut s = String::new();
    let _ = writeln!(s, "{}  —  {}", r.name, r.description);
    let _ = writeln!(
        s,
        "accelerators   {} × {} ({} per scale-up domain, {} domain{})",
        r.accelerators.count,
        r.accelerators.name,
        r.accelerators.per_domain,
        r.accelerators.domains,
        if r.accelerators.domains == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        s,
        "scale-up       {} per accelerator per direction ({}), {} aggregate per domain (bidirectional)",
        si(r.scale_up_bytes_per_s_per_accel, "B/s"),
        r.scale_up_link.as_deref().unwrap_or("none"),
        si(r.scale_up_aggregate_bytes_per_s, "B/s")
    );
    let _ = writeln!(
        s,
        "scale-out      {} per accelerator per direction, {} plane(s), routing {}",
        si(r.scale_out_bytes_per_s_per_accel, "B/s"),
        r.scale_out_planes,
        r.routing
    );
    let _ = writeln!(
        s,
        "bisection      {} one direction  ({})",
        si(r.bisection_bytes_per_s, "B/s"),
        r.bisection_method
    );
    let _ = writeln!(s, "\ntiers");
    let _ = writeln!(
        s,
        "  {:<22} {:<10} {:>8} {:>14} {:>14} {:>8}",
        "tier", "network", "chips", "down", "up", "oversub"
    );
    for t in &r.tiers {
        let o = t
            .oversubscription
            .map(|o| format!("{o:.2}:1"))
            .unwrap_or_else(|| "top".into());
        let _ = writeln!(
            s,
            "  {:<22} {:<10} {:>8} {:>14} {:>14} {:>8}",
            t.name,
            t.network,
            t.switch_chips,
            si(t.down_bytes_per_s, "B/s"),
            si(t.up_bytes_per_s, "B/s"),
            o
        );
    }
    let _ = writeln!(s, "\ncounts");
    let _ = writeln!(s, "  switch chips         {}", r.switch_count);
    let _ = writeln!(s, "  OCS                  {}", r.ocs_count);
    let _ = writeln!(
        s,
        "  optical transceivers {} (scale-up {}, scale-out {}, long-haul {})",
        r.optical_transceivers.total,
        r.optical_transceivers.scale_up,
        r.optical_transceivers.scale_out,
        r.optical_transceivers.long_haul
    );
    for (m, c) in &r.cables_by_medium {
        let _ = writeln!(s, "  links {:<22} {}", m, c);
    }
    let _ = writeln!(
        s,
        "  hosts {} · CPUs {} · racks {} · NICs {}",
        r.hosts, r.cpus, r.racks, r.nics
    );
    let mut parts = vec![format!(
        "{} compute ({} each on average)",
        r.compute_racks,
        si(r.compute_rack_power_w, "W")
    )];
    if r.network_racks > 0 {
        parts.push(format!("{} network", r.network_racks));
    }
    if r.extra_racks > 0 {
        parts.push(format!("{} more named by the source", r.extra_racks));
    }
    let _ = writeln!(s, "  racks {} = {}", r.racks, parts.join(" + "));
    let _ = writeln!(s, "    compute: {}", r.rack_basis);
    if r.network_racks > 0 {
        let _ = writeln!(s, "    network: {}", r.network_rack_basis);
    }
    let _ = writeln!(s, "\nbill of materials");
    let _ = writeln!(
        s,
        "  {:<42} {:>9} {:>12} {:>14}",
        "item", "count", "power", "cost (USD)"
    );
    for l in &r.bom {
        let cost = match (l.cost_usd, &l.price_note) {
            (Some(c), _) => format!("{:.3} M", c / 1e6),
            (None, Some(n)) if n.starts_with("included") => "incl.".into(),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            s,
            "  {:<42} {:>9} {:>12} {:>14}",
            truncate(&l.item, 42),
            l.count,
            si(l.power_w, "W"),
            cost
        );
    }
    let _ = writeln!(
        s,
        "  {:<42} {:>9} {:>12} {:>14}",
        "total",
        "",
        si(r.power_w, "W"),
        format!("{:.3} M", r.cost_usd / 1e6)
    );
    if !r.unpriced_items.is_empty() {
        let _ = writeln!(s, "  cost leaves out, for want of a public price:");
        for u in &r.unpriced_items {
            let _ = writeln!(s, "    - {u}");
        }
    }
    let domains = r.accelerators.domains.max(1);
    let per_domain = if domains > 1 {
        format!(
            " ({} × {} per scale-up domain)",
            domains,
            si(r.systems_power_w / domains as f64, "W")
        )
    } else {
        String::new()
    };
    let _ = writeln!(s, "\npower (nameplate maximum)");
    let _ = writeln!(
        s,
        "  IT power        {:>10} = systems {}{} + fabric {} (switches, optics)",
        si(r.it_power_w, "W"),
        si(r.systems_power_w, "W"),
        per_domain,
        si(r.fabric_power_w, "W")
    );
    let _ = writeln!(
        s,
        "  facility power  {:>10} = IT × PUE {:.2} ({})",
        si(r.facility_power_w, "W"),
        r.pue,
        r.pue_basis
    );
    let _ = writeln!(
        s,
        "  at load {:.2}    {:>10} IT, {} facility; energy {:.0} kWh/day (accelerators at {:.2} × TDP, the rest at nameplate; {})",
        r.load_fraction,
        si(r.it_power_at_load_w, "W"),
        si(r.facility_power_at_load_w, "W"),
        r.energy_kwh_per_day,
        r.load_fraction,
        r.load_basis
    );
    if !r.assumptions.is_empty() {
        let _ = writeln!(s, "\nassumed");
        for a in &r.assumptions {
            let _ = writeln!(s, "  - {a}");
        }
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}
