//! `fabricsim design`: fabric design search. The accelerator count, the node type and the
//! workloads are fixed; the scale-out network is searched over what the generic builders take
//! (`fabric::presets` generators `fat-tree`, `rail-optimized`, `rail-only`): the family (plain
//! fat-tree, rail-optimized, rail-only), the switch chip (which sets the tiers: the fewest that
//! reach the endpoints), the oversubscription and the tier it applies at (`oversub`,
//! `oversub_at`), and the optical modules (`optics`).
//!
//! Every design is priced by the `topo` report (capital cost, IT and facility power from the
//! catalogue) and every workload is timed on it at analytical fidelity. The slowdown of a design
//! is its step time over the **non-blocking reference**'s, per workload; the objective is the
//! worst slowdown over the workloads (or their mean). The result is the Pareto front of capital
//! cost, facility power and objective (no design on it is matched or beaten on all three by
//! another), sorted by cost, and the cheapest design within `max_slowdown` of the reference,
//! re-timed with the reference at flow fidelity to confirm it.
//!
//! Not searched, because no builder takes it yet: oversubscription at two tiers at once
//! (`oversub_at` names one tier), several planes on a generic fat-tree (only the HPN preset is
//! dual-plane), and the optics' reach (a multimode or LPO module is assumed to reach as far as a
//! single-mode DR4; the catalogue carries no reach).
//!
//! Step times come from a caller's evaluator (the CLI lays each workload out as `train` does), so
//! this module knows the search and not how a workload is read.

use crate::topo::{TopoOptions, TopoReport};
use rayon::prelude::*;
use serde::Serialize;

/// The network families the search can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Accelerators fill leaves in rank order (`fat-tree`).
    FatTree,
    /// Leaf = (group of servers, rail) (`rail-optimized`).
    RailOptimized,
    /// One tree per rail, no tier joins the rails (`rail-only`).
    RailOnly,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::FatTree, Family::RailOptimized, Family::RailOnly];

    /// The preset (generator) name.
    pub fn preset(self) -> &'static str {
        match self {
            Family::FatTree => "fat-tree",
            Family::RailOptimized => "rail-optimized",
            Family::RailOnly => "rail-only",
        }
    }

    pub fn parse(s: &str) -> Result<Family, String> {
        Family::ALL
            .into_iter()
            .find(|f| f.preset() == s.trim())
            .ok_or_else(|| format!("unknown family `{s}` (known: fat-tree, rail-optimized, rail-only)"))
    }
}

/// What is searched. Every list is tried in full (a grid); `oversub` 1 is always included
/// (the non-blocking reference needs it).
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    pub gpus: u32,
    /// Node type id (`dgx-h100`, …).
    pub node: String,
    pub families: Vec<Family>,
    /// Switch chip ids (catalogue); `None` = the builder's default for the port speed.
    pub switches: Vec<Option<String>>,
    /// Oversubscription ratios (down : up, ≥ 1).
    pub oversub: Vec<f64>,
    /// Tiers the ratio may apply at (1 = leaf, 2 = spine, …); skipped where the fabric has no
    /// up-links at that tier.
    pub oversub_at: Vec<u32>,
    /// Optical module ids (catalogue); `None` = the builder's default for the port speed.
    pub optics: Vec<Option<String>>,
}

/// One candidate network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Design {
    pub family: Family,
    /// `null`: the builder's default switch for the port speed.
    pub switch: Option<String>,
    pub oversub: f64,
    pub oversub_at: u32,
    /// `null`: the builder's default module for the port speed.
    pub optics: Option<String>,
}

impl Design {
    /// The preset spec that builds it on `gpus` accelerators of `node`.
    pub fn spec(&self, gpus: u32, node: &str) -> String {
        let mut s = format!("{}:gpus={gpus},node={node}", self.family.preset());
        if let Some(sw) = &self.switch {
            s += &format!(",switch={sw}");
        }
        if self.oversub != 1.0 {
            s += &format!(",oversub={},oversub_at={}", self.oversub, self.oversub_at);
        }
        if let Some(o) = &self.optics {
            s += &format!(",optics={o}");
        }
        s
    }

    /// Full bisection at every tier (rail-only is not: rails do not meet).
    pub fn non_blocking(&self) -> bool {
        self.oversub == 1.0 && self.family != Family::RailOnly
    }

    /// The designs that differ only in optics run the same step: one timing serves them all.
    fn timing_key(&self) -> TimingKey {
        (
            self.family,
            self.switch.clone(),
            self.oversub.to_bits(),
            self.oversub_at,
        )
    }
}

/// What makes two designs time alike: family, switch, oversubscription (bits) and its tier.
type TimingKey = (Family, Option<String>, u64, u32);

/// The grid of `space`, in a fixed order (family, switch, oversubscription, tier, optics);
/// oversubscription 1 appears once per (family, switch, optics), rail-only only at 1 (its rails
/// are their own trees; the builder's ratio would apply inside each).
pub fn enumerate(space: &Space) -> Vec<Design> {
    let mut ratios: Vec<f64> = space.oversub.clone();
    if !ratios.contains(&1.0) {
        ratios.insert(0, 1.0);
    }
    let mut out = Vec::new();
    for &family in &space.families {
        for switch in &space.switches {
            for &o in &ratios {
                let tiers: Vec<u32> = if o == 1.0 || family == Family::RailOnly {
                    vec![1]
                } else {
                    space.oversub_at.clone()
                };
                if family == Family::RailOnly && o != 1.0 {
                    continue;
                }
                for at in tiers {
                    for optics in &space.optics {
                        out.push(Design {
                            family,
                            switch: switch.clone(),
                            oversub: o,
                            oversub_at: at,
                            optics: optics.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// A design, built, priced and timed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignPoint {
    pub design: Design,
    /// The preset spec: `fabricsim topo SPEC` / `train --cluster SPEC` rebuild it.
    pub spec: String,
    pub non_blocking: bool,
    /// Scale-out switch tiers built.
    pub tiers: u32,
    pub scale_out_switch_chips: u64,
    pub optical_transceivers: u64,
    pub capital_cost_usd: f64,
    pub it_power_w: f64,
    pub facility_power_w: f64,
    /// Per workload, in the order of `DesignReport::workloads` (analytical fidelity).
    pub step_time_s: Vec<f64>,
    /// Per workload: step ÷ the reference's step − 1.
    pub slowdown_fraction: Vec<f64>,
    /// The objective: the worst (or mean) of `slowdown_fraction`.
    pub objective_slowdown_fraction: f64,
    /// Set only on the reference when another design matches or beats it on cost, power and
    /// objective (a blocking network as fast for these workloads): it is listed on the front
    /// as the reference, not as a non-dominated design.
    pub dominated: bool,
}

/// A design that could not be built or run, and why (a ratio no tier takes, a plan that does
/// not fit the network).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub spec: String,
    pub reason: String,
}

/// How the per-workload slowdowns become one objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// The largest slowdown over the workloads.
    Worst,
    /// The mean slowdown over the workloads (equal weights).
    Mean,
}

impl Objective {
    pub fn parse(s: &str) -> Result<Objective, String> {
        match s {
            "worst" => Ok(Objective::Worst),
            "mean" => Ok(Objective::Mean),
            o => Err(format!("`{o}`: expected worst or mean")),
        }
    }

    fn of(self, v: &[f64]) -> f64 {
        match self {
            Objective::Worst => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Objective::Mean => v.iter().sum::<f64>() / v.len().max(1) as f64,
        }
    }
}

/// A workload as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub name: String,
    /// The non-blocking reference's step, analytical.
    pub reference_step_time_s: f64,
}

/// The flow-fidelity check of the chosen design against the reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confirmation {
    pub spec: String,
    pub step_time_s: Vec<f64>,
    pub reference_step_time_s: Vec<f64>,
    pub slowdown_fraction: Vec<f64>,
    pub objective_slowdown_fraction: f64,
    /// Within `max_slowdown_fraction` at flow fidelity too.
    pub confirmed: bool,
}

/// The `design --json` schema (version [`crate::SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignReport {
    pub schema_version: u32,
    pub gpus: u32,
    pub node: String,
    pub workloads: Vec<Workload>,
    pub objective: Objective,
    pub max_slowdown_fraction: f64,
    pub fidelity: String,
    /// The non-blocking reference: the fastest full-bisection design (by the objective's step
    /// times), the cheapest of equals.
    pub reference: DesignPoint,
    /// Pareto front of (capital cost, facility power, objective slowdown), sorted by cost, the
    /// reference always included (flagged `dominated` when another design matches or beats it).
    pub front: Vec<DesignPoint>,
    /// The cheapest design within `max_slowdown_fraction` at analytical fidelity, and its flow
    /// check; `null` when none is.
    pub cheapest_within: Option<DesignPoint>,
    pub confirmation: Option<Confirmation>,
    /// Designs evaluated (built, priced, timed), and those that could not be.
    pub designs_evaluated: usize,
    /// Distinct networks timed (designs that differ only in optics share a timing).
    pub networks_timed: usize,
    pub rejected: Vec<Rejected>,
    /// How the search works and what it does not search, one line each.
    pub basis: Vec<String>,
}

/// Step times of every workload on a fabric at a fidelity, from the caller.
pub type Evaluator<'a> = dyn Fn(&fabric::Fabric, &str, engine::Fidelity) -> Result<Vec<f64>, String> + Sync + 'a;

/// What a built design weighs.
struct Priced {
    tiers: u32,
    switches: u64,
    optics: u64,
    cost: f64,
    it: f64,
    facility: f64,
}

fn price(t: &TopoReport) -> Priced {
    let scale_up: u64 = t
        .tiers
        .iter()
        .filter(|x| x.network == "scale-up")
        .map(|x| x.switch_chips)
        .sum();
    Priced {
        tiers: t.tiers.iter().filter(|x| x.network != "scale-up").count() as u32,
        switches: t.switch_count.saturating_sub(scale_up),
        optics: t.optical_transceivers.total,
        cost: t.cost_usd,
        it: t.it_power_w,
        facility: t.facility_power_w,
    }
}

/// Indices of the non-dominated points of `(cost, power, objective)` (lower is better on all
/// three), sorted by cost, then power, then objective. Equal points are all kept.
pub fn pareto(points: &[(f64, f64, f64)]) -> Vec<usize> {
    let dominates = |a: &(f64, f64, f64), b: &(f64, f64, f64)| {
        a.0 <= b.0 && a.1 <= b.1 && a.2 <= b.2 && (a.0 < b.0 || a.1 < b.1 || a.2 < b.2)
    };
    let mut front: Vec<usize> = (0..points.len())
        .filter(|&i| !points.iter().any(|q| dominates(q, &points[i])))
        .collect();
    front.sort_by(|&a, &b| {
        let (x, y) = (&points[a], &points[b]);
        x.0.total_cmp(&y.0)
            .then(x.1.total_cmp(&y.1))
            .then(x.2.total_cmp(&y.2))
            .then(a.cmp(&b))
    });
    front
}

/// Options of a search.
pub struct SearchOptions<'a> {
    pub objective: Objective,
    pub max_slowdown: f64,
    pub topo: TopoOptions,
    /// Names of the workloads, in the evaluator's order.
    pub workload_names: Vec<String>,
    /// `done, total` after each network is timed.
    pub progress: &'a (dyn Fn(usize, usize) + Sync),
}

/// Run the search: build, price and time every design of `space`, find the reference, the
/// front and the cheapest design within the slowdown, and confirm it at flow fidelity.
pub fn search(space: &Space, eval: &Evaluator, opts: &SearchOptions) -> Result<DesignReport, String> {
    let designs = enumerate(space);
    // One timing per network: designs that differ only in optics share it.
    let mut keys: Vec<TimingKey> = Vec::new();
    for d in &designs {
        let k = d.timing_key();
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let timed_of = |k: &TimingKey| -> Design {
        designs
            .iter()
            .find(|d| &d.timing_key() == k)
            .cloned()
            .expect("every key comes from a design")
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = keys.len();
    let timings: Vec<Result<Vec<f64>, String>> = keys
        .par_iter()
        .map(|k| {
            let d = timed_of(k);
            let spec = d.spec(space.gpus, &space.node);
            let r = crate::cluster::load(crate::cluster::Source::Preset(&spec))
                .map_err(|e| e.to_string())
                .and_then(|(_, f)| eval(&f, &spec, engine::Fidelity::Analytical));
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            (opts.progress)(n, total);
            r
        })
        .collect();
    // Price every design (cheap: build and count).
    let priced: Vec<Result<Priced, String>> = designs
        .par_iter()
        .map(|d| {
            let spec = d.spec(space.gpus, &space.node);
            crate::cluster::load(crate::cluster::Source::Preset(&spec))
                .map(|(cs, f)| price(&crate::topo::report(&cs, &f, &opts.topo)))
                .map_err(|e| e.to_string())
        })
        .collect();
    let mut rejected = Vec::new();
    let mut points: Vec<DesignPoint> = Vec::new();
    for (d, p) in designs.iter().zip(priced) {
        let spec = d.spec(space.gpus, &space.node);
        let t = keys
            .iter()
            .position(|k| *k == d.timing_key())
            .map(|i| timings[i].clone())
            .unwrap_or_else(|| Err("no timing".into()));
        match (p, t) {
            (Ok(p), Ok(steps)) => points.push(DesignPoint {
                design: d.clone(),
                spec,
                non_blocking: d.non_blocking(),
                tiers: p.tiers,
                scale_out_switch_chips: p.switches,
                optical_transceivers: p.optics,
                capital_cost_usd: p.cost,
                it_power_w: p.it,
                facility_power_w: p.facility,
                step_time_s: steps,
                slowdown_fraction: Vec::new(),
                objective_slowdown_fraction: 0.0,
                dominated: false,
            }),
            (Err(e), _) | (_, Err(e)) => rejected.push(Rejected { spec, reason: e }),
        }
    }
    // The reference: the fastest non-blocking design, the cheapest of equals.
    let objective_step = |p: &DesignPoint| opts.objective.of(&p.step_time_s);
    let reference_i = (0..points.len())
        .filter(|&i| points[i].non_blocking)
        .min_by(|&a, &b| {
            objective_step(&points[a])
                .total_cmp(&objective_step(&points[b]))
                .then(points[a].capital_cost_usd.total_cmp(&points[b].capital_cost_usd))
                .then(points[a].facility_power_w.total_cmp(&points[b].facility_power_w))
                .then(a.cmp(&b))
        })
        .ok_or_else(|| {
            let why: Vec<String> = rejected
                .iter()
                .take(3)
                .map(|r| format!("{}: {}", r.spec, r.reason))
                .collect();
            format!("no non-blocking design could be built and run ({})", why.join("; "))
        })?;
    let ref_steps = points[reference_i].step_time_s.clone();
    for p in &mut points {
        p.slowdown_fraction = p
            .step_time_s
            .iter()
            .zip(&ref_steps)
            .map(|(s, r)| if *r > 0.0 { s / r - 1.0 } else { 0.0 })
            .collect();
        p.objective_slowdown_fraction = opts.objective.of(&p.slowdown_fraction);
    }
    let coords: Vec<(f64, f64, f64)> = points
        .iter()
        .map(|p| (p.capital_cost_usd, p.facility_power_w, p.objective_slowdown_fraction))
        .collect();
    let mut front_i = pareto(&coords);
    if !front_i.contains(&reference_i) {
        // A blocking design matches or beats the reference on all three (as fast for these
        // workloads, and cheaper): the reference is still shown, at its place by cost, flagged.
        points[reference_i].dominated = true;
        front_i.push(reference_i);
        front_i.sort_by(|&a, &b| coords[a].0.total_cmp(&coords[b].0).then(a.cmp(&b)));
    }
    // Cheapest within the slowdown (analytical), confirmed at flow; if the flow run puts it
    // beyond the limit, the next cheapest is tried (at most three).
    let mut within: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].objective_slowdown_fraction <= opts.max_slowdown)
        .collect();
    within.sort_by(|&a, &b| {
        coords[a]
            .0
            .total_cmp(&coords[b].0)
            .then(coords[a].1.total_cmp(&coords[b].1))
            .then(coords[a].2.total_cmp(&coords[b].2))
            .then(a.cmp(&b))
    });
    let mut cheapest = None;
    let mut confirmation = None;
    let ref_flow = if within.is_empty() {
        None
    } else {
        let p = &points[reference_i];
        let (_, f) = crate::cluster::load(crate::cluster::Source::Preset(&p.spec)).map_err(|e| e.to_string())?;
        Some(eval(&f, &p.spec, engine::Fidelity::Flow)?)
    };
    if let Some(ref_flow) = ref_flow {
        let mut flow_of_key: Vec<(TimingKey, Vec<f64>)> = Vec::new();
        for &i in within.iter() {
            if flow_of_key.len() >= 3 {
                break;
            }
            let p = &points[i];
            let key = p.design.timing_key();
            let steps = match flow_of_key.iter().find(|(k, _)| *k == key) {
                Some((_, s)) => s.clone(),
                None => {
                    let (_, f) =
                        crate::cluster::load(crate::cluster::Source::Preset(&p.spec)).map_err(|e| e.to_string())?;
                    let s = eval(&f, &p.spec, engine::Fidelity::Flow)?;
                    flow_of_key.push((key, s.clone()));
                    s
                }
            };
            let slow: Vec<f64> = steps
                .iter()
                .zip(&ref_flow)
                .map(|(s, r)| if *r > 0.0 { s / r - 1.0 } else { 0.0 })
                .collect();
            let obj = opts.objective.of(&slow);
            let c = Confirmation {
                spec: p.spec.clone(),
                step_time_s: steps,
                reference_step_time_s: ref_flow.clone(),
                slowdown_fraction: slow,
                objective_slowdown_fraction: obj,
                confirmed: obj <= opts.max_slowdown,
            };
            let ok = c.confirmed;
            cheapest = Some(p.clone());
            confirmation = Some(c);
            if ok {
                break;
            }
        }
    }
    let networks_timed = keys.len();
    let reference = points[reference_i].clone();
    let basis = vec![
        format!(
            "every design: {} × `{}` with a generic scale-out network built by the `fat-tree`, `rail-optimized` or `rail-only` preset (the spec column rebuilds it)",
            space.gpus, space.node
        ),
        "cost and power: the topo report of the whole design (catalogue prices and nameplate power; facility = IT × PUE)".into(),
        "step times: every workload at analytical fidelity, as `train --fidelity analytical` runs it on the design; designs that differ only in optics share one timing".into(),
        format!(
            "slowdown: step ÷ the non-blocking reference's step − 1 per workload; objective: the {} over the workloads",
            match opts.objective { Objective::Worst => "worst", Objective::Mean => "mean (equal weights)" }
        ),
        "non-blocking reference: the fastest design with full bisection at every tier (oversub 1, not rail-only), the cheapest (then least power) of equals".into(),
        "front: no other design has lower-or-equal cost, facility power and objective with one strictly lower; sorted by cost; the reference is always listed (flagged when dominated)".into(),
        format!(
            "cheapest within {:.1} %: the lowest-cost (then least power) design whose analytical objective is within it, re-run with the reference at flow fidelity (the next cheapest tried if the flow run exceeds it, at most 3)",
            100.0 * opts.max_slowdown
        ),
        "not searched (no builder takes it yet): oversubscription at two tiers at once (oversub_at names one tier); planes on a generic fat-tree; optics reach (multimode and LPO modules are taken to reach as far as DR4)".into(),
    ];
    Ok(DesignReport {
        schema_version: crate::SCHEMA_VERSION,
        gpus: space.gpus,
        node: space.node.clone(),
        workloads: opts
            .workload_names
            .iter()
            .zip(&ref_steps)
            .map(|(n, s)| Workload {
                name: n.clone(),
                reference_step_time_s: *s,
            })
            .collect(),
        objective: opts.objective,
        max_slowdown_fraction: opts.max_slowdown,
        fidelity: "analytical (search), flow (confirmation)".into(),
        reference,
        front: front_i.iter().map(|&i| points[i].clone()).collect(),
        cheapest_within: cheapest,
        confirmation,
        designs_evaluated: points.len(),
        networks_timed,
        rejected,
        basis,
    })
}

/// A short name of a design for tables.
pub fn short(d: &Design) -> String {
    let mut s = d.family.preset().to_string();
    if d.oversub != 1.0 {
        s += &format!(" {}:1@t{}", d.oversub, d.oversub_at);
    } else if d.family != Family::RailOnly {
        s += " 1:1";
    }
    if let Some(sw) = &d.switch {
        s += &format!(" {sw}");
    }
    if let Some(o) = &d.optics {
        s += &format!(" {o}");
    }
    s
}

/// The text report: the front, the reference and the chosen design with its flow check.
pub fn render(r: &DesignReport) -> String {
    use std::fmt::Write;
    use units::si;
    let mut s = String::new();
    let names: Vec<&str> = r.workloads.iter().map(|w| w.name.as_str()).collect();
    let _ = writeln!(
        s,
        "design: {} × {}, workloads: {}; objective: {} slowdown vs non-blocking; {} designs ({} networks timed), {} rejected",
        r.gpus,
        r.node,
        names.join(", "),
        match r.objective {
            Objective::Worst => "worst",
            Objective::Mean => "mean",
        },
        r.designs_evaluated,
        r.networks_timed,
        r.rejected.len()
    );
    let w = r
        .front
        .iter()
        .map(|p| short(&p.design).len())
        .max()
        .unwrap_or(10)
        .max(10);
    let _ = writeln!(s, "\nPareto front (capital cost, facility power, slowdown), by cost:");
    let mut head = format!(
        "  {:<w$}  {:>5}  {:>8}  {:>7}  {:>10}  {:>9}  {:>9}",
        "design", "tiers", "switches", "optics", "capital $", "IT power", "facility"
    );
    for n in &names {
        head += &format!("  {:>12}", truncate(n, 12));
    }
    head += "  slowdown";
    let _ = writeln!(s, "{head}");
    for p in &r.front {
        let mark = if p.spec == r.reference.spec {
            "  ← reference"
        } else {
            ""
        };
        let mut line = format!(
            "  {:<w$}  {:>5}  {:>8}  {:>7}  {:>10}  {:>9}  {:>9}",
            short(&p.design),
            p.tiers,
            p.scale_out_switch_chips,
            p.optical_transceivers,
            format!("{:.1} M", p.capital_cost_usd / 1e6),
            si(p.it_power_w, "W"),
            si(p.facility_power_w, "W"),
        );
        for t in &p.step_time_s {
            line += &format!("  {:>12}", si(*t, "s"));
        }
        line += &format!("  {:>+7.2}%{mark}", 100.0 * p.objective_slowdown_fraction);
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(s, "\nreference (non-blocking): {}", r.reference.spec);
    match (&r.cheapest_within, &r.confirmation) {
        (Some(p), Some(c)) => {
            let _ = writeln!(
                s,
                "cheapest within {:.1} % of non-blocking: {}\n  {:.1} M$ ({:+.1} M$ vs reference), facility {} ({:+.2} MW), analytical slowdown {:+.2} %",
                100.0 * r.max_slowdown_fraction,
                p.spec,
                p.capital_cost_usd / 1e6,
                (p.capital_cost_usd - r.reference.capital_cost_usd) / 1e6,
                si(p.facility_power_w, "W"),
                (p.facility_power_w - r.reference.facility_power_w) / 1e6,
                100.0 * p.objective_slowdown_fraction
            );
            let per: Vec<String> = names
                .iter()
                .zip(c.step_time_s.iter().zip(&c.reference_step_time_s))
                .map(|(n, (a, b))| format!("{n} {} vs {}", si(*a, "s"), si(*b, "s")))
                .collect();
            let _ = writeln!(
                s,
                "  flow fidelity: {} → slowdown {:+.2} %: {}",
                per.join(", "),
                100.0 * c.objective_slowdown_fraction,
                if c.confirmed {
                    "confirmed"
                } else {
                    "NOT confirmed (beyond the limit at flow fidelity)"
                }
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "no design within {:.1} % of non-blocking",
                100.0 * r.max_slowdown_fraction
            );
        }
    }
    let _ = writeln!(s, "\nbasis");
    for b in &r.basis {
        let _ = writeln!(s, "  - {b}");
    }
    if !r.rejected.is_empty() {
        let _ = writeln!(s, "\nrejected designs");
        for x in &r.rejected {
            let _ = writeln!(s, "  - {}: {}", x.spec, x.reason);
        }
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_keeps_exactly_the_non_dominated_points_sorted_by_cost() {
        let pts = [
            (3.0, 1.0, 0.0),
            (1.0, 1.0, 0.5),
            (2.0, 2.0, 0.5), // dominated by (1, 1, 0.5)
            (2.0, 1.0, 0.1),
            (1.0, 1.0, 0.5), // equal to a front point: kept
            (4.0, 4.0, 0.0), // dominated by (3, 1, 0)
        ];
        assert_eq!(pareto(&pts), vec![1, 4, 3, 0]);
    }

    #[test]
    fn the_grid_always_has_the_non_blocking_design() {
        let space = Space {
            gpus: 64,
            node: "dgx-h100".into(),
            families: vec![Family::FatTree, Family::RailOnly],
            switches: vec![None],
            oversub: vec![2.0],
            oversub_at: vec![1, 2],
            optics: vec![None, Some("lpo-400g".into())],
        };
        let d = enumerate(&space);
        // fat-tree: 1:1 and 2:1 at two tiers, × 2 optics; rail-only: 1:1 × 2 optics.
        assert_eq!(d.len(), 3 * 2 + 2);
        assert!(d.iter().any(|x| x.non_blocking()));
        assert_eq!(d[0].spec(64, "dgx-h100"), "fat-tree:gpus=64,node=dgx-h100");
        assert_eq!(
            d[3].spec(64, "dgx-h100"),
            "fat-tree:gpus=64,node=dgx-h100,oversub=2,oversub_at=1,optics=lpo-400g"
        );
    }
}
