//! Training across sites (`--cross-site dp|pp|diloco`): one job over several sites joined by
//! long-haul links (`Net::LongHaul`, the `multi-site:` preset), placed as production systems
//! place it (`../shared/reference/operations.md`, "Multi-site training").
//!
//! - **TP, EP and CP stay inside a site.** A plan that puts one of their groups across sites is
//!   allowed; the report warns and shows what the crossing costs.
//! - **`dp`** (default): DP groups span the sites, pipeline stages stay inside one. The gradient
//!   synchronisation is hierarchical — reduce-scatter inside each site → all-reduce (ZeRO-1/2:
//!   reduce-scatter, then all-gather) across sites between the ranks holding the same shard →
//!   all-gather inside — the layout's DP split ([`site_split`], the same `Layout::slice_dp`
//!   mechanism TPU multislice uses) with `Dim::Dp` the in-site groups and `Dim::Dcn` the
//!   cross-site ones. Each piece runs as real flows in the pipeline schedule's DP hook, so it
//!   overlaps the backward pass as far as the schedule allows and the long-haul links congest
//!   in the flow engine. Each site moves 2(S−1)/S × one replica's gradient bytes over the DCI
//!   per step ([`dci_bytes_per_site`]).
//! - **`pp`**: the pipeline stages are split over the sites (PP outermost in the placement),
//!   DP stays inside a site; the sends across a stage boundary that crosses the DCI are priced
//!   apart (`CommCosts::p2p_cross`: every replica's send over the DCI at once, plus the one-way
//!   fibre delay).
//! - **`diloco`**: each site trains its own replicas (DP inside the site) for H inner steps,
//!   then an outer synchronisation of the pseudo-gradients (one full model copy in fp32,
//!   [`OUTER_BYTES_PER_PARAM`]) hierarchically across sites, not overlapped (DiLoCo's outer
//!   step blocks). Compute utilisation = H·T_inner / (H·T_inner + T_sync) ([`diloco_utilisation`]).
//!
//! Latency: the flow engine does not delay flows by propagation, so the one-way fibre delay
//! between sites is added to every latency-bound step that crosses the DCI (a ring step of the
//! cross-site collective, a pipeline send). Assumption: the transport keeps the pipe full (its
//! buffers cover the bandwidth-delay product), so distance costs latency, not bandwidth.

use super::layout::{Dim, Layout};
use fabric::{Fabric, Net, ScaleUpKind};
use serde::Serialize;

/// Inner steps between DiLoCo's outer synchronisations by default: DiLoCo's H = 500
/// (arXiv 2311.08105; `operations.csv` O018).
pub const DILOCO_DEFAULT_INNER_STEPS: u32 = 500;

/// Bytes per parameter of DiLoCo's outer pseudo-gradients: fp32 (DiLoCo keeps the outer
/// Nesterov optimizer and its pseudo-gradients in fp32; INTELLECT-1 quantised them to int8,
/// Streaming DiLoCo to 4 bits — lower is possible, not the default).
pub const OUTER_BYTES_PER_PARAM: f64 = 4.0;

/// What crosses the sites (`--cross-site`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrossSite {
    /// Data-parallel groups span the sites; hierarchical gradient all-reduce.
    #[default]
    Dp,
    /// Pipeline stages split over the sites.
    Pp,
    /// DiLoCo: each site its own replicas for `inner_steps` steps, then an outer sync.
    Diloco { inner_steps: u32 },
}

impl CrossSite {
    /// Parse `--cross-site` (`dp`, `pp`, `diloco`) with `--diloco-inner-steps`.
    pub fn parse(s: &str, inner_steps: Option<u32>) -> Result<CrossSite, String> {
        let c = match s {
            "dp" => CrossSite::Dp,
            "pp" => CrossSite::Pp,
            "diloco" => CrossSite::Diloco {
                inner_steps: inner_steps.unwrap_or(DILOCO_DEFAULT_INNER_STEPS),
            },
            other => return Err(format!("--cross-site `{other}`: use dp, pp or diloco")),
        };
        if let Some(h) = inner_steps {
            if !matches!(c, CrossSite::Diloco { .. }) {
                return Err(format!("--diloco-inner-steps {h}: only with --cross-site diloco"));
            }
            if h == 0 {
                return Err("--diloco-inner-steps 0: must be at least 1".into());
            }
        }
        Ok(c)
    }

    /// The name `--cross-site` takes.
    pub fn name(self) -> &'static str {
        match self {
            CrossSite::Dp => "dp",
            CrossSite::Pp => "pp",
            CrossSite::Diloco { .. } => "diloco",
        }
    }
}

/// The site of rank `r` (`Node::site` of its accelerator).
pub fn site_of(f: &Fabric, r: u32) -> u32 {
    f.nodes[f.accels[r as usize].0 as usize].site
}

/// The data-centre interconnect of a multi-site fabric.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Dci {
    /// Sites the fabric has.
    pub sites: u32,
    /// Long-haul capacity leaving each site, per direction (the least over the sites).
    pub capacity_per_site_bytes_per_s: f64,
    /// One-way propagation delay between two sites (over the long-haul links of the path).
    pub one_way_s: f64,
}

/// The DCI of `f`, or `None` when it has fewer than two sites joined by long-haul links.
pub fn dci(f: &Fabric) -> Option<Dci> {
    let mut cap: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
    let mut lat: f64 = 0.0;
    for l in &f.links {
        if l.net != Net::LongHaul {
            continue;
        }
        lat = lat.max(l.latency.0);
        let s = f.nodes[l.src.0 as usize].site;
        if s != fabric::NONE {
            *cap.entry(s).or_insert(0.0) += l.capacity.0;
        }
    }
    if cap.len() < 2 {
        return None;
    }
    // Site → WAN point → site: two long-haul links.
    Some(Dci {
        sites: cap.len() as u32,
        capacity_per_site_bytes_per_s: cap.values().copied().fold(f64::INFINITY, f64::min),
        one_way_s: 2.0 * lat,
    })
}

/// Sites the first `world` ranks occupy.
pub fn sites_used(f: &Fabric, world: u64) -> u32 {
    let mut s: Vec<u32> = (0..world.min(f.accels.len() as u64) as u32)
        .map(|r| site_of(f, r))
        .collect();
    s.sort_unstable();
    s.dedup();
    s.len() as u32
}

/// Whether `g`'s ranks sit in more than one site.
pub fn spans_sites(f: &Fabric, g: &[u32]) -> bool {
    let s0 = g.first().map(|&r| site_of(f, r));
    g.iter().any(|&r| Some(site_of(f, r)) != s0)
}

/// DPo ranks per site when the layout's DP groups span sites that split them evenly (every
/// in-site group in one site, every cross-site group one rank per site), else `lay.dpo` (no
/// split: DP inside a site, or a placement the hierarchy does not fit — then flat).
pub fn site_split(f: &Fabric, lay: &Layout, world: u64) -> u32 {
    if matches!(f.scale_up, ScaleUpKind::Torus { .. }) || dci(f).is_none() {
        return lay.dpo;
    }
    let sites = sites_used(f, world);
    if sites < 2 || lay.dpo % sites != 0 {
        return lay.dpo;
    }
    let mut l = lay.clone();
    l.slice_dp = lay.dpo / sites;
    let inside = l.groups(Dim::Dp).iter().all(|g| !spans_sites(f, g));
    let across = l.groups(Dim::Dcn).iter().all(|g| {
        let mut s: Vec<u32> = g.iter().map(|&r| site_of(f, r)).collect();
        s.sort_unstable();
        s.dedup();
        s.len() == g.len()
    });
    if inside && across {
        l.slice_dp
    } else {
        lay.dpo
    }
}

/// The site of each pipeline stage (of its first rank), when the job spans sites.
pub fn stage_sites(f: &Fabric, lay: &Layout) -> Vec<u32> {
    (0..lay.pp).map(|s| site_of(f, lay.rank(0, 0, 0, s, 0))).collect()
}

/// Closed form: bytes each site sends over the DCI per step for a hierarchical all-reduce of
/// `replica_bytes` (one replica's gradients) over `sites` sites: 2(S−1)/S × replica bytes.
pub fn dci_bytes_per_site(replica_bytes: f64, sites: u32) -> f64 {
    let s = sites.max(1) as f64;
    2.0 * (s - 1.0) / s * replica_bytes
}

/// Latency-bound steps of a ring collective over `sites` members that cross the DCI:
/// all-reduce 2(S−1), reduce-scatter or all-gather S−1.
pub fn cross_steps(op: collective::Op, sites: u32) -> u32 {
    let s = sites.saturating_sub(1);
    match op {
        collective::Op::AllReduce => 2 * s,
        _ => s,
    }
}

/// DiLoCo's compute utilisation: H inner steps of `inner_step_s` each, then a synchronisation
/// of `sync_s` of which `overlapped_s` is hidden: H·T / (H·T + exposed sync).
pub fn diloco_utilisation(inner_steps: u32, inner_step_s: f64, sync_s: f64, overlapped_s: f64) -> f64 {
    let t = inner_steps as f64 * inner_step_s;
    let exposed = (sync_s - overlapped_s).max(0.0);
    if t + exposed <= 0.0 {
        return 0.0;
    }
    t / (t + exposed)
}

/// The multi-site part of a training report (`train --json` key `multi_site`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MultiSiteReport {
    /// `dp`, `pp` or `diloco`.
    pub cross_site: String,
    pub sites: u32,
    /// Long-haul capacity per site, per direction.
    pub dci_bytes_per_s: f64,
    /// One-way fibre delay between two sites; the RTT is twice it.
    pub one_way_delay_s: f64,
    pub rtt_s: f64,
    /// Bytes each site sends over the DCI per step (closed form 2(S−1)/S × replica gradient
    /// bytes for `dp`; the sends that cross for `pp`; the outer sync ÷ H for `diloco`).
    pub dci_bytes_per_site_per_step: f64,
    /// Those bytes at the full DCI capacity (the serialisation time).
    pub dci_serialisation_s: f64,
    /// What the flow engine gave for the cross-site pieces on their own (all groups at once,
    /// latency excluded).
    pub dci_flow_s: f64,
    /// Latency-bound DCI crossings per step on the critical path × the one-way delay.
    pub latency_s: f64,
    /// Latency-bound DCI steps counted in `latency_s`.
    pub latency_steps: u32,
    /// From the first pipeline stage's gradient release to the last one's: the time the
    /// schedule gives the cross-site synchronisation of all stages but the last to release.
    pub dp_overlap_window_s: f64,
    /// Pipeline stages (each syncs its share of the gradients when its backward ends).
    pub pipeline_stages: u32,
    /// The step (or, for `diloco`, its per-step equivalent) less the single-site step, split
    /// into bandwidth, latency and congestion.
    pub extra_s: f64,
    pub extra_bandwidth_s: f64,
    pub extra_latency_s: f64,
    pub extra_congestion_s: f64,
    /// `diloco`: inner steps between outer syncs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diloco_inner_steps: Option<u32>,
    /// `diloco`: one outer synchronisation (pseudo-gradients, fp32), not overlapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diloco_outer_sync_s: Option<f64>,
    /// `diloco`: bytes per parameter of the outer pseudo-gradients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diloco_outer_bytes_per_param: Option<f64>,
    /// `diloco`: H·T_inner / (H·T_inner + outer sync).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diloco_compute_utilisation_fraction: Option<f64>,
    /// `diloco`: T_inner + outer sync / H.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diloco_step_equivalent_s: Option<f64>,
    /// How the single-site baseline was built.
    pub baseline: String,
}

/// Split the multi-site step's extra time over the baseline into latency (the exposed DCI
/// latency steps, at most the extra), bandwidth (the rest in the ratio of the ideal
/// serialisation to the flow engine's time for the cross-site pieces) and congestion (the
/// remainder: what the flow result adds beyond the ideal).
pub fn split_extra(extra: f64, latency: f64, serialisation: f64, flow: f64) -> (f64, f64, f64) {
    let extra = extra.max(0.0);
    let lat = latency.min(extra);
    let rest = extra - lat;
    let ideal_share = if flow > 0.0 {
        (serialisation / flow).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let bw = rest * ideal_share;
    (bw, lat, rest - bw)
}

/// The cluster spec of the single-site equivalent of a `multi-site:` spec: the same
/// parameters on `rail-optimized:` (the generator the multi-site preset builds each site
/// with) with all the accelerators and no DCI; `None` for any other spec.
pub fn single_site_spec(spec: &str) -> Option<String> {
    let rest = spec.strip_prefix("multi-site")?;
    let params = match rest.strip_prefix(':') {
        Some(p) => p,
        None if rest.is_empty() => "",
        None => return None,
    };
    let mut kept: Vec<String> = Vec::new();
    let mut gpus = false;
    // The sites' preset (`site=NAME[:k=v]`, default rail-optimized). Only the generic family
    // takes `gpus=` for the whole cluster, so only it has a one-site equivalent by rule.
    let mut base = "rail-optimized".to_string();
    for kv in params.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let key = kv.split('=').next().unwrap_or("").trim();
        match key {
            "sites" | "distance_km" | "wan_gbit" | "optics" | "dci_gbit" => continue,
            "site" => {
                let v = kv.split_once('=').map_or("", |(_, v)| v.trim());
                let (name, own) = v.split_once(':').unwrap_or((v, ""));
                base = name.trim().to_string();
                kept.extend(
                    own.split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| s.trim().to_string()),
                );
                continue;
            }
            _ => {}
        }
        gpus |= key == "gpus";
        kept.push(kv.to_string());
    }
    if !matches!(base.as_str(), "rail-optimized" | "fat-tree" | "rail-only") {
        return None;
    }
    let mut out = format!("{base}:");
    if !gpus {
        // The multi-site preset's default size.
        out.push_str("gpus=16384");
        if !kept.is_empty() {
            out.push(',');
        }
    }
    out.push_str(&kept.join(","));
    Some(out.trim_end_matches(':').to_string())
}

/// The multi-site part of a report from the priced communication (`None` on one site); the
/// baseline's fields are filled by [`attach_baseline`].
pub fn report_part(
    pl: &super::layout::Placement,
    comm: &super::comm::CommCosts,
    tl: &workload::schedule::Timeline,
) -> Option<MultiSiteReport> {
    let sc = comm.sites.as_ref()?;
    let step_s = tl.step_time;
    // The window the schedule gives the gradient synchronisation: from the first stage's
    // release of its gradients to the last one's.
    let (lo, hi) = tl
        .spans
        .iter()
        .filter(|s| s.stream == "dp")
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
            (a.min(s.start), b.max(s.start))
        });
    let d = &sc.dci;
    let cap = d.capacity_per_site_bytes_per_s.max(f64::MIN_POSITIVE);
    let mut r = MultiSiteReport {
        cross_site: pl.cross_site.name().into(),
        sites: sc.sites,
        dci_bytes_per_s: d.capacity_per_site_bytes_per_s,
        one_way_delay_s: d.one_way_s,
        rtt_s: 2.0 * d.one_way_s,
        dci_bytes_per_site_per_step: sc.dci_bytes_per_site,
        dci_serialisation_s: sc.dci_bytes_per_site / cap,
        dci_flow_s: sc.dci_flow_s,
        latency_s: sc.latency_steps as f64 * d.one_way_s,
        latency_steps: sc.latency_steps,
        dp_overlap_window_s: if hi >= lo { hi - lo } else { 0.0 },
        pipeline_stages: pl.plan.pp,
        ..MultiSiteReport::default()
    };
    if let CrossSite::Diloco { inner_steps } = pl.cross_site {
        let h = inner_steps.max(1) as f64;
        r.diloco_inner_steps = Some(inner_steps);
        r.diloco_outer_sync_s = Some(sc.outer_sync_s);
        r.diloco_outer_bytes_per_param = Some(OUTER_BYTES_PER_PARAM);
        r.diloco_compute_utilisation_fraction = Some(diloco_utilisation(inner_steps, step_s, sc.outer_sync_s, 0.0));
        r.diloco_step_equivalent_s = Some(step_s + sc.outer_sync_s / h);
        r.dci_bytes_per_site_per_step = sc.outer_dci_bytes_per_site / h;
        r.dci_serialisation_s = r.dci_bytes_per_site_per_step / cap;
        r.dci_flow_s = sc.outer_dci_flow_s / h;
        r.latency_s = sc.outer_latency_steps as f64 * d.one_way_s / h;
        r.latency_steps = sc.outer_latency_steps;
    }
    Some(r)
}

/// Fill the report's single-site comparison from the same job's step on one site of the same
/// total size (`baseline`: how that site was built): the loss and its split (module notes).
pub fn attach_baseline(r: &mut super::report::TrainReport, baseline_step_s: f64, baseline: &str) {
    let Some(ms) = r.multi_site.as_mut() else {
        return;
    };
    let multi = ms.diloco_step_equivalent_s.unwrap_or(r.step_time_s);
    r.single_site_step_time_s = Some(baseline_step_s);
    let loss = if multi > 0.0 {
        1.0 - baseline_step_s / multi
    } else {
        0.0
    };
    r.multi_site_loss_fraction = Some(loss.clamp(0.0, 1.0));
    ms.extra_s = multi - baseline_step_s;
    let (bw, lat, cong) = split_extra(ms.extra_s, ms.latency_s, ms.dci_serialisation_s, ms.dci_flow_s);
    ms.extra_bandwidth_s = bw;
    ms.extra_latency_s = lat;
    ms.extra_congestion_s = cong;
    ms.baseline = baseline.to_string();
    if loss < 0.0 {
        r.warnings.push(format!(
            "the multi-site step is {:.3} s shorter than the single-site baseline's (the hierarchical synchronisation schedules differently from the flat one): the loss is reported as 0",
            -ms.extra_s
        ));
    }
}

/// Run the job of report `r` (multi-site) again on the single-site equivalent of `cluster`
/// ([`single_site_spec`], built by `load`, with `f`'s routing mode) — the same plan, compute
/// model, order and options — and attach its step ([`attach_baseline`]). Nothing on one site;
/// a note in the assumptions when the cluster has no known single-site equivalent.
#[allow(clippy::too_many_arguments)]
pub fn run_baseline(
    r: &mut super::report::TrainReport,
    cluster: &str,
    f: &Fabric,
    load: &mut dyn FnMut(&str) -> Result<Fabric, String>,
    model: &workload::ModelSpec,
    plan: &workload::ParallelPlan,
    cm: &workload::compute::ComputeModel,
    opts: &super::TrainOptions,
    order: [usize; 5],
) -> Result<(), String> {
    if r.multi_site.is_none() {
        return Ok(());
    }
    let b = baseline_step(
        cluster,
        f.extras.single_site_equivalent.as_deref(),
        f.routing,
        load,
        model,
        plan,
        cm,
        opts,
        order,
    )?;
    attach_baseline_result(r, b);
    Ok(())
}

/// The single-site baseline's step and spec, computed on its own (it needs nothing of the
/// multi-site run, so a caller may run it beside that run): `None` when `cluster` has no
/// known single-site equivalent. Attach it with [`attach_baseline_result`].
#[allow(clippy::too_many_arguments)]
pub fn baseline_step(
    cluster: &str,
    equivalent: Option<&str>,
    routing: fabric::RoutingMode,
    load: &mut dyn FnMut(&str) -> Result<Fabric, String>,
    model: &workload::ModelSpec,
    plan: &workload::ParallelPlan,
    cm: &workload::compute::ComputeModel,
    opts: &super::TrainOptions,
    order: [usize; 5],
) -> Result<Option<(f64, String)>, String> {
    let Some(spec) = single_site_spec(cluster).or_else(|| equivalent.map(str::to_string)) else {
        return Ok(None);
    };
    let mut base = load(&spec).map_err(|e| format!("single-site baseline `{spec}`: {e}"))?;
    base.routing = routing;
    let o = super::TrainOptions {
        cross_site: CrossSite::Dp,
        ..opts.clone()
    };
    // Its step time only (the same value `simulate_ordered` reports, without the report's
    // extra pricing: `super::step_time_ordered`).
    let step = super::step_time_ordered(&base, model, plan, cm, &o, order)
        .map_err(|e| format!("single-site baseline `{spec}`: {e}"))?;
    Ok(Some((step, spec)))
}

/// Attach [`baseline_step`]'s result to a multi-site report (nothing on one site; a note in
/// the assumptions when there is no known single-site equivalent).
pub fn attach_baseline_result(r: &mut super::report::TrainReport, b: Option<(f64, String)>) {
    if r.multi_site.is_none() {
        return;
    }
    match b {
        Some((step, spec)) => attach_baseline(r, step, &spec),
        None => r.assumptions.push(
            "no single-site equivalent is known for this cluster (a `multi-site:` preset, or a cluster file, whose sites are all the same fat-tree, rail-optimized or rail-only preset with `gpus=`, has one): single_site_step_time_s and multi_site_loss_fraction are null".into(),
        ),
    }
}

/// Closed form of the DCI capacity (bytes/s per site) at which the hierarchical DP
/// synchronisation adds `target_extra_s` to the step: the stage that releases its gradients
/// last sends its share `bytes_per_site / stages` with nothing left to hide behind, and all
/// stages' `bytes_per_site` must pass within `window_s` + the extra; the larger requirement
/// wins. `latency_s` (the cross-site ring's fibre delays) comes off the allowance first.
pub fn closed_form_capacity(
    bytes_per_site: f64,
    stages: u32,
    window_s: f64,
    target_extra_s: f64,
    latency_s: f64,
) -> f64 {
    let allow = (target_extra_s - latency_s).max(f64::MIN_POSITIVE);
    let last = bytes_per_site / stages.max(1) as f64 / allow;
    let all = bytes_per_site / (window_s.max(0.0) + allow);
    last.max(all)
}

/// One point of a DCI sweep.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DciPoint {
    pub distance_km: f64,
    pub dci_gbit_per_s: f64,
    pub step_time_s: f64,
    pub single_site_step_time_s: f64,
    pub multi_site_loss_fraction: f64,
    pub dci_serialisation_s: f64,
    pub extra_bandwidth_s: f64,
    pub extra_latency_s: f64,
    pub extra_congestion_s: f64,
}

/// The DCI capacity needed to stay under a target loss at one distance.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DciThreshold {
    pub distance_km: f64,
    pub target_loss_fraction: f64,
    /// Bisection over the capacity with the full simulation (None: not reached within the
    /// searched range).
    pub dci_gbit_per_s_needed: Option<f64>,
    /// Its loss.
    pub loss_fraction_at_needed: Option<f64>,
    /// [`closed_form_capacity`] with the run's bytes, stages and overlap window.
    pub closed_form_gbit_per_s: f64,
    pub simulations: u32,
}

/// A sweep of distance × DCI capacity → loss, with the capacity needed per distance.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DciSweep {
    pub cluster: String,
    pub baseline: String,
    pub single_site_step_time_s: f64,
    pub points: Vec<DciPoint>,
    pub thresholds: Vec<DciThreshold>,
}

/// `spec` (a `multi-site:` preset) with `distance_km` and `wan_gbit` set.
pub fn with_dci(spec: &str, distance_km: f64, wan_gbit: f64) -> Result<String, String> {
    let rest = spec
        .strip_prefix("multi-site")
        .filter(|r| r.is_empty() || r.starts_with(':'))
        .ok_or_else(|| format!("--dci-sweep needs a `multi-site:` cluster, not `{spec}`"))?;
    let mut kept: Vec<String> = rest
        .trim_start_matches(':')
        .split(',')
        .map(str::trim)
        .filter(|kv| !kv.is_empty())
        .filter(|kv| !matches!(kv.split('=').next().unwrap_or("").trim(), "distance_km" | "wan_gbit"))
        .map(String::from)
        .collect();
    kept.push(format!("distance_km={distance_km}"));
    kept.push(format!("wan_gbit={wan_gbit}"));
    Ok(format!("multi-site:{}", kept.join(",")))
}

/// Run the sweep: every distance × capacity through `run` (a spec → the multi-site report,
/// without baseline), the loss against `single_step_s`; then, per distance, bisection (on a
/// log scale, `bisect_steps` halvings) over the capacity for `target_loss`, between the
/// smallest and largest capacity given.
#[allow(clippy::too_many_arguments)]
pub fn dci_sweep(
    spec: &str,
    baseline: &str,
    single_step_s: f64,
    distances_km: &[f64],
    gbits: &[f64],
    target_loss: f64,
    bisect_steps: u32,
    run: &mut dyn FnMut(&str) -> Result<super::report::TrainReport, String>,
) -> Result<DciSweep, String> {
    if distances_km.is_empty() || gbits.is_empty() {
        return Err("--dci-sweep: give at least one distance and one capacity".into());
    }
    if !(target_loss > 0.0 && target_loss < 1.0) {
        return Err(format!("--target-loss {target_loss}: must be between 0 and 1"));
    }
    let mut eval = |d: f64, g: f64| -> Result<(DciPoint, MultiSiteReport), String> {
        let s = with_dci(spec, d, g)?;
        let mut r = run(&s)?;
        attach_baseline(&mut r, single_step_s, baseline);
        let ms = r
            .multi_site
            .clone()
            .ok_or_else(|| format!("`{s}` did not run across sites"))?;
        Ok((
            DciPoint {
                distance_km: d,
                dci_gbit_per_s: g,
                step_time_s: ms.diloco_step_equivalent_s.unwrap_or(r.step_time_s),
                single_site_step_time_s: single_step_s,
                multi_site_loss_fraction: r.multi_site_loss_fraction.unwrap_or(0.0),
                dci_serialisation_s: ms.dci_serialisation_s,
                extra_bandwidth_s: ms.extra_bandwidth_s,
                extra_latency_s: ms.extra_latency_s,
                extra_congestion_s: ms.extra_congestion_s,
            },
            ms,
        ))
    };
    let mut points = Vec::new();
    let mut thresholds = Vec::new();
    let mut sorted: Vec<f64> = gbits.to_vec();
    sorted.sort_by(f64::total_cmp);
    for &d in distances_km {
        let mut last: Option<MultiSiteReport> = None;
        for &g in gbits {
            let (p, ms) = eval(d, g)?;
            points.push(p);
            last = Some(ms);
        }
        let (mut lo, mut hi) = (sorted[0], sorted[sorted.len() - 1]);
        let mut sims = 0;
        let loss_hi = points
            .iter()
            .rev()
            .find(|p| p.distance_km == d && p.dci_gbit_per_s == hi)
            .map_or(1.0, |p| p.multi_site_loss_fraction);
        let ms_ref = last.ok_or("--dci-sweep: no capacity given")?;
        let target_extra = single_step_s * target_loss / (1.0 - target_loss);
        let closed = closed_form_capacity(
            ms_ref.dci_bytes_per_site_per_step,
            ms_ref.pipeline_stages,
            ms_ref.dp_overlap_window_s,
            target_extra,
            ms_ref.latency_s,
        ) * 8.0
            / 1e9;
        let (needed, at) = if loss_hi > target_loss {
            (None, None)
        } else {
            let mut best = (hi, loss_hi);
            for _ in 0..bisect_steps {
                let mid = (lo * hi).sqrt();
                let (p, _) = eval(d, mid)?;
                sims += 1;
                if p.multi_site_loss_fraction <= target_loss {
                    hi = mid;
                    best = (mid, p.multi_site_loss_fraction);
                } else {
                    lo = mid;
                }
            }
            (Some(best.0), Some(best.1))
        };
        thresholds.push(DciThreshold {
            distance_km: d,
            target_loss_fraction: target_loss,
            dci_gbit_per_s_needed: needed,
            loss_fraction_at_needed: at,
            closed_form_gbit_per_s: closed,
            simulations: sims,
        });
    }
    Ok(DciSweep {
        cluster: spec.to_string(),
        baseline: baseline.to_string(),
        single_site_step_time_s: single_step_s,
        points,
        thresholds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_site_spec_drops_the_dci() {
        assert_eq!(
            single_site_spec("multi-site:gpus=16384,sites=2,distance_km=30,wan_gbit=51200").as_deref(),
            Some("rail-optimized:gpus=16384")
        );
        assert_eq!(
            single_site_spec("multi-site").as_deref(),
            Some("rail-optimized:gpus=16384")
        );
        assert_eq!(
            single_site_spec("multi-site:node=dgx-h100,sites=4").as_deref(),
            Some("rail-optimized:gpus=16384,node=dgx-h100")
        );
        assert_eq!(
            single_site_spec("multi-site:gpus=8192,site=fat-tree,optics=zr+,wan_gbit=800").as_deref(),
            Some("fat-tree:gpus=8192")
        );
        assert_eq!(single_site_spec("multi-site:site=dgx-h100-superpod,su=2"), None);
        assert_eq!(single_site_spec("fat-tree:gpus=16"), None);
        assert_eq!(single_site_spec("multi-sitex"), None);
    }

    #[test]
    fn cross_site_parses() {
        assert_eq!(CrossSite::parse("dp", None).unwrap(), CrossSite::Dp);
        assert_eq!(
            CrossSite::parse("diloco", None).unwrap(),
            CrossSite::Diloco { inner_steps: 500 }
        );
        assert_eq!(
            CrossSite::parse("diloco", Some(100)).unwrap(),
            CrossSite::Diloco { inner_steps: 100 }
        );
        assert!(CrossSite::parse("tp", None).unwrap_err().contains("--cross-site"));
        assert!(CrossSite::parse("dp", Some(5)).unwrap_err().contains("only with"));
        assert!(CrossSite::parse("diloco", Some(0)).is_err());
    }

    /// INTELLECT-1 (arXiv 2412.01152; operations.md): ~38 min of local training between outer
    /// syncs that took 1–7 min, not overlapped → compute utilisation 38/39 ≈ 97 % down to
    /// 38/45 ≈ 84 %. The formula's arithmetic at both ends, and that a faster sync or more inner
    /// steps never lowers it.
    #[test]
    fn intellect1_utilisation_arithmetic() {
        // Express 38 min as H inner steps of T seconds: the formula only sees H·T.
        let (h, t) = (38u32, 60.0);
        let hi = diloco_utilisation(h, t, 60.0, 0.0);
        let lo = diloco_utilisation(h, t, 420.0, 0.0);
        assert!((hi - 38.0 / 39.0).abs() < 1e-12, "{hi}");
        assert!((lo - 38.0 / 45.0).abs() < 1e-12, "{lo}");
        assert!(hi > 0.97 && hi < 0.98 && lo > 0.84 && lo < 0.85);
        // Per-step equivalent: T + sync/H, and utilisation = T / that.
        let eq = t + 420.0 / h as f64;
        assert!((t / eq - lo).abs() < 1e-12);
        // Monotone: more inner steps or a faster sync raise it; overlap hides the sync.
        assert!(diloco_utilisation(2 * h, t, 420.0, 0.0) > lo);
        assert!(diloco_utilisation(h, t, 200.0, 0.0) > lo);
        assert_eq!(diloco_utilisation(h, t, 420.0, 420.0), 1.0);
    }

    #[test]
    fn extra_time_splits_into_parts_that_add_up() {
        let (bw, lat, cong) = split_extra(1.0, 0.1, 0.6, 0.8);
        assert!((bw + lat + cong - 1.0).abs() < 1e-12);
        assert!((lat - 0.1).abs() < 1e-12);
        assert!((bw - 0.9 * 0.75).abs() < 1e-12);
        let (bw, lat, cong) = split_extra(-0.5, 0.1, 0.6, 0.8);
        assert_eq!((bw, lat, cong), (0.0, 0.0, 0.0));
    }

    #[test]
    fn closed_form_volume() {
        assert_eq!(dci_bytes_per_site(100.0, 2), 100.0);
        assert!((dci_bytes_per_site(90.0, 3) - 120.0).abs() < 1e-9);
        assert_eq!(dci_bytes_per_site(100.0, 1), 0.0);
    }
}
