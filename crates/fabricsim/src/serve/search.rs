//! `serve --search`: deployments of one model on one cluster, screened by the step-cost model
//! and simulated at several loads, reduced to the Pareto envelope of output tokens/s per
//! accelerator against output tokens/s per user (the curve InferenceX and AIConfigurator draw).
//!
//! ```text
//!  shapes        instance layouts: TP (× PP) with experts TP-sharded; for MoE models TP × DP
//!                attention with EP over the instance (SGLang --enable-dp-attention + DeepEP)
//!  price         each shape priced once (`cost::price_roles`, one instance); an error there
//!                means its weights do not fit: the memory filter
//!  screen        every deployment — colocated shapes filling the cluster; disaggregated
//!                prefill × decode shapes with instance counts — at every batch limit
//!                (`max_running` per attention rank), from `RoleCost::step` on a static batch:
//!                decode steps at the steady batch, prefill capacity from full chunks, the P:D
//!                rate balance; ε-dominated deployments dropped
//!  simulate      the survivors at the loads near the screened envelope (closed loop,
//!                concurrency = batch limit × attention ranks), `serve::run_many` (rayon, order
//!                kept), windows sized to ~2.5 request lifetimes (20–90 s)
//!  envelope      the non-dominated simulated points; the SLO choice (best meeting it, or the
//!                closest miss with its factor); the chosen deployment's engine configs
//! ```
//!
//! What it leaves out: TP across scale-up domains (TP stays inside one domain; PP or EP cross
//! them), PP for EP shapes, different batch limits on prefill instances, two-batch overlap and
//! MTP as search dimensions (they are the scenario's features, fixed for the search).

use fabric::Fabric;
use serde::Serialize;

use super::cost::{price_roles, RankLoad, RoleCost};
use super::report::Dist;
use super::requests::{Arrivals, Workload};
use super::{InstanceSpec, Layout, ServeScenario, Slo, DEFAULT_CHUNK_TOKENS};

/// Knobs of the search (defaults in [`SearchOptions::default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// Batch limits tried: most running requests per attention rank (`max_running`).
    pub levels: Vec<u32>,
    /// A fixed simulated window (s); `None` sizes it from the screened request lifetime.
    pub window_s: Option<f64>,
    /// Requests arriving before this are left out of the statistics; `None`: adaptive.
    pub warmup_s: Option<f64>,
    /// Most deployments simulated.
    pub max_survivors: usize,
    /// Most simulations in all.
    pub max_simulations: usize,
    /// A screened point survives when its throughput per accelerator is within this fraction
    /// of the screened envelope at its speed per user.
    pub screen_tolerance_fraction: f64,
    /// Redundant expert slots (EPLB); `None`: 32 when a role uses EP on a MoE model, else 0.
    pub redundant_experts: Option<u32>,
    /// Largest pipeline depth tried for TP shapes.
    pub max_pp: u32,
    /// Chunked-prefill budget per rank and step.
    pub chunk_tokens: u32,
    /// Model path written into the engine configs (`None`: the model's name).
    pub model_path: Option<String>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            levels: vec![1, 2, 4, 8, 16, 32, 64, 128, 256],
            window_s: None,
            warmup_s: None,
            max_survivors: 24,
            max_simulations: 200,
            screen_tolerance_fraction: 0.25,
            redundant_experts: None,
            max_pp: 4,
            chunk_tokens: DEFAULT_CHUNK_TOKENS,
            model_path: None,
        }
    }
}

/// Shortest and longest simulated window of the adaptive rule (s).
pub const WINDOW_MIN_S: f64 = 20.0;
pub const WINDOW_MAX_S: f64 = 90.0;
/// Window length in request lifetimes (adaptive rule).
pub const WINDOW_LIFETIMES: f64 = 2.5;

/// One simulated (deployment, load) point.
#[derive(Debug, Clone, Serialize)]
pub struct SearchPoint {
    pub deployment: Layout,
    pub deployment_text: String,
    /// Accelerators the deployment uses (throughput is per accelerator of these).
    pub accelerators: u64,
    /// Batch limit of the decode (or colocated) role, per attention rank.
    pub max_running_per_rank: u32,
    /// Closed-loop users: the batch limit × the role's attention ranks.
    pub concurrency: u32,
    pub output_tokens_per_s_per_accel: f64,
    pub output_tokens_per_s_per_user: f64,
    pub input_tokens_per_s_per_accel: f64,
    pub ttft_s: Dist,
    pub tpot_s: Dist,
    pub slo_attainment_fraction: f64,
    pub slo_met: bool,
    pub preemptions: u64,
    /// Requests that arrived in the measured window, and of them those that finished.
    pub requests_arrived: u64,
    pub requests_finished: u64,
    /// Mean step and where it goes, of the role that holds the running batch (decode or
    /// colocated).
    pub batch_role_mean_step_s: f64,
    pub batch_role_step_breakdown: super::report::Breakdown,
    /// The screen's static-batch estimate of the same point.
    pub screen_output_tokens_per_s_per_accel: f64,
    pub screen_output_tokens_per_s_per_user: f64,
    pub window_s: f64,
}

/// The deployment the SLO picks, or the closest miss.
#[derive(Debug, Clone, Serialize)]
pub struct Chosen {
    pub point: SearchPoint,
    pub slo_met: bool,
    /// Latency over target at the SLO's percentile, the larger of TTFT and TPOT (≤ 1 when met).
    pub miss_factor: f64,
    /// `ttft`, `tpot` or `attainment`: what limits the point against the SLO.
    pub limited_by: String,
    pub statement: String,
}

/// The search's result.
#[derive(Debug, Clone, Serialize)]
pub struct SearchReport {
    pub schema_version: u32,
    pub cluster: String,
    pub accelerator: String,
    pub cluster_accelerators: u64,
    pub model: String,
    pub precision: String,
    pub workload: String,
    pub slo: Slo,
    pub levels_max_running_per_rank: Vec<u32>,
    /// Instance shapes tried and those whose weights fit.
    pub shapes_tried: u64,
    pub shapes_fitting: u64,
    /// Deployments screened, kept by the screen, and simulations run.
    pub deployments_screened: u64,
    pub deployments_simulated: u64,
    pub simulations: u64,
    /// Simulations that errored or in which no request finished (left out of the points).
    pub simulations_failed: u64,
    /// Non-dominated points, by increasing output tokens/s per user.
    pub envelope: Vec<SearchPoint>,
    pub chosen: Chosen,
    pub configs: super::deploy_config::EngineConfigs,
    /// Every simulated point, in simulation order.
    pub points: Vec<SearchPoint>,
    pub notes: Vec<String>,
}

/// An instance layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    tp: u32,
    dp: u32,
    ep: u32,
    pp: u32,
}

impl Shape {
    fn gpus(&self) -> u32 {
        self.tp * self.dp * self.pp
    }

    fn spec(&self, instances: u32, max_running: u32, chunk: u32) -> InstanceSpec {
        InstanceSpec {
            tp: self.tp,
            ep: self.ep,
            dp_attn: self.dp,
            pp: self.pp,
            instances,
            max_running,
            chunk_tokens: chunk,
        }
    }
}

/// A shape with its prices and its static-batch screen.
struct PricedShape {
    shape: Shape,
    rc: RoleCost,
    /// Decode step (s) at each level; `None` where the KV pool cannot hold the batch.
    decode_step_s: Vec<Option<f64>>,
    /// Colocated step (s) at each level (decode batch plus the prefill that keeps it full).
    mixed_step_s: Vec<Option<f64>>,
    /// Prefill requests per second of one instance with full chunks.
    prefill_req_per_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cand {
    Colocated { s: usize, inst: u32 },
    Disaggregated { p: usize, np: u32, d: usize, nd: u32 },
}

/// Workload means the screen needs.
struct Lens {
    input: f64,
    output: f64,
    max_total: f64,
}

fn lens(w: &Workload) -> Result<Lens, String> {
    match w {
        Workload::Synthetic {
            input,
            output,
            shared_prefix_tokens,
            ..
        } => Ok(Lens {
            input: input.mean() + *shared_prefix_tokens as f64,
            output: output.mean().max(1.0),
            max_total: (input.max() + output.max() + shared_prefix_tokens) as f64,
        }),
        _ => Err("--search needs a synthetic workload (--input-len / --output-len); agent sessions and traces are not searched".into()),
    }
}

/// Instance shapes of a model on a cluster of `n` accelerators in domains of `domain`.
fn shapes(m: &workload::ModelSpec, n: u32, domain: u32, max_pp: u32) -> Vec<Shape> {
    let pow2: Vec<u32> = (0..20).map(|e| 1u32 << e).take_while(|&x| x <= n).collect();
    let mut out = Vec::new();
    // Tensor parallelism inside one scale-up domain, pipeline stages across.
    for &tp in pow2.iter().filter(|&&t| t <= domain.max(1) && m.heads % t == 0) {
        for pp in [1u32, 2, 4, 8, 16] {
            if pp > max_pp || tp * pp > n || pp > m.layers {
                continue;
            }
            out.push(Shape { tp, dp: 1, ep: 1, pp });
        }
    }
    if m.is_moe() {
        // Expert parallelism over the instance: powers of two, whole domains, the cluster.
        let mut sizes: Vec<u32> = pow2.iter().copied().filter(|&g| g >= 2).collect();
        if domain >= 8 {
            let mut g = domain;
            while g <= n {
                sizes.push(g);
                g *= 2;
            }
            sizes.push(n / domain * domain);
        }
        sizes.push(n);
        sizes.sort_unstable();
        sizes.dedup();
        for &g in &sizes {
            for tp in [1u32, 2, 4, 8] {
                if g % tp != 0 || tp > domain.max(1) || m.heads % tp != 0 || g > n {
                    continue;
                }
                out.push(Shape {
                    tp,
                    dp: g / tp,
                    ep: g,
                    pp: 1,
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Redundant experts of a layout under the default rule (as `serve`'s inputs apply it).
fn redundant_for(base: &ServeScenario, layout: &Layout, opts: &SearchOptions) -> u32 {
    opts.redundant_experts.unwrap_or_else(|| {
        let uses_ep = layout.roles().iter().any(|(_, s)| s.ep > 1);
        if uses_ep && base.model.is_moe() {
            super::inputs::DEFAULT_REDUNDANT_EXPERTS
        } else {
            0
        }
    })
}

fn price_shape(
    base: &ServeScenario,
    f: &Fabric,
    shape: Shape,
    opts: &SearchOptions,
    l: &Lens,
) -> Result<PricedShape, String> {
    let mut s = base.clone();
    s.layout = Layout::Colocated {
        instance: shape.spec(1, super::DEFAULT_MAX_RUNNING, opts.chunk_tokens),
    };
    s.features.redundant_experts = redundant_for(base, &s.layout, opts);
    let priced = price_roles(&s, f)?;
    let rc = priced.roles.into_iter().next().ok_or("no role priced")?;
    let acc = rc.accepted_per_step;
    let ctx = l.input + l.output / 2.0;
    let chunk = opts.chunk_tokens.max(1) as f64;
    let dp = shape.dp as usize;
    let mut decode_step_s = Vec::new();
    let mut mixed_step_s = Vec::new();
    for &b in &opts.levels {
        if b as f64 * l.max_total > rc.kv_capacity_tokens_per_rank as f64 {
            decode_step_s.push(None);
            mixed_step_s.push(None);
            continue;
        }
        let dec = RankLoad {
            decode_reqs: b,
            decode_ctx_sum: b as f64 * ctx,
            prefill: Vec::new(),
        };
        decode_step_s.push(Some(rc.step(&vec![dec.clone(); dp]).total_s));
        // Colocated: each step also prefills what keeps the batch full (completions per step ×
        // input), at most one chunk.
        let p = (b as f64 * acc / l.output * l.input).clamp(1.0, chunk).round() as u32;
        let mut mix = dec;
        mix.prefill.push((p, 0));
        mixed_step_s.push(Some(rc.step(&vec![mix; dp]).total_s));
    }
    let per_chunk = (chunk / l.input).floor().max(1.0) as usize;
    let tokens = l.input.min(chunk).round().max(1.0) as u32;
    let pre = RankLoad {
        decode_reqs: 0,
        decode_ctx_sum: 0.0,
        prefill: vec![(tokens, 0); per_chunk],
    };
    let t_pre = rc.step(&vec![pre; dp]).total_s * (l.input / chunk).ceil().max(1.0);
    let prefill_req_per_s = if t_pre > 0.0 {
        dp as f64 * per_chunk as f64 / t_pre
    } else {
        0.0
    };
    Ok(PricedShape {
        shape,
        rc,
        decode_step_s,
        mixed_step_s,
        prefill_req_per_s,
    })
}

/// Screened (output tokens/s per user, per accelerator) of a candidate at level `li`.
fn screen(c: &Cand, ps: &[PricedShape], li: usize, b: u32, l: &Lens, chunk: f64) -> Option<(f64, f64)> {
    match *c {
        Cand::Colocated { s, .. } => {
            let p = &ps[s];
            let t = p.mixed_step_s[li]?;
            let acc = p.rc.accepted_per_step;
            let completions = (b as f64 * acc / l.output).min(chunk / l.input);
            let y = p.shape.dp as f64 * completions * l.output / t / p.shape.gpus() as f64;
            Some((acc / t, y))
        }
        Cand::Disaggregated { p, np, d, nd } => {
            let (pp, dd) = (&ps[p], &ps[d]);
            let t = dd.decode_step_s[li]?;
            let acc = dd.rc.accepted_per_step;
            let dec_rate = nd as f64 * dd.shape.dp as f64 * b as f64 * acc / t / l.output;
            let pre_rate = np as f64 * pp.prefill_req_per_s;
            let gpus = (np * pp.shape.gpus() + nd * dd.shape.gpus()) as f64;
            Some((acc / t, dec_rate.min(pre_rate) * l.output / gpus))
        }
    }
}

fn layout_of(c: &Cand, ps: &[PricedShape], b: u32, chunk: u32) -> Layout {
    match *c {
        Cand::Colocated { s, inst } => Layout::Colocated {
            instance: ps[s].shape.spec(inst, b, chunk),
        },
        Cand::Disaggregated { p, np, d, nd } => Layout::Disaggregated {
            prefill: ps[p].shape.spec(np, super::DEFAULT_MAX_RUNNING, chunk),
            decode: ps[d].shape.spec(nd, b, chunk),
        },
    }
}

/// Closed-loop users of a searched scenario's workload.
fn b_users(w: &Workload) -> u32 {
    match w {
        Workload::Synthetic {
            arrivals: Arrivals::Concurrency { users },
            ..
        } => *users,
        _ => 0,
    }
}

/// Attention ranks that hold the running batch (decode or colocated role).
fn batch_ranks(layout: &Layout) -> u32 {
    match layout {
        Layout::Colocated { instance } => instance.dp_attn * instance.instances,
        Layout::Disaggregated { decode, .. } => decode.dp_attn * decode.instances,
        Layout::PrefillOnly { instance } | Layout::DecodeOnly { instance } => instance.dp_attn * instance.instances,
    }
}

/// Run the search of `base` (its model, precision, workload lengths, SLO and features; its
/// deployment and load are replaced) on `f`.
pub fn search(base: &ServeScenario, f: &Fabric, opts: &SearchOptions) -> Result<SearchReport, String> {
    use rayon::prelude::*;
    if opts.levels.is_empty() || opts.levels.contains(&0) {
        return Err("--search-levels: give batch limits of at least 1".into());
    }
    let l = lens(&base.workload)?;
    let n = f.accel_count() as u32;
    let domain = f.domain_size.max(1);
    let all = shapes(&base.model, n, domain, opts.max_pp);
    let priced: Vec<Result<PricedShape, String>> =
        all.par_iter().map(|&sh| price_shape(base, f, sh, opts, &l)).collect();
    let mut ps = Vec::new();
    let mut largest_err: Option<(u32, String)> = None;
    for (sh, r) in all.iter().zip(priced) {
        match r {
            Ok(p) => ps.push(p),
            Err(e) => {
                if largest_err.as_ref().is_none_or(|(g, _)| sh.gpus() > *g) {
                    largest_err = Some((sh.gpus(), e));
                }
            }
        }
    }
    if ps.is_empty() {
        let (g, e) = largest_err.unwrap_or((0, "no instance shape to try".into()));
        return Err(format!(
            "{} ({}) fits no deployment on `{}` ({n} accelerators, {domain} per scale-up domain); the largest instance tried ({g} accelerators): {e}",
            base.model.name,
            base.precision.name(),
            base.cluster
        ));
    }
    let chunk = opts.chunk_tokens.max(1);
    let chunk_f = chunk as f64;
    // --- candidates ---
    let mut cands: std::collections::BTreeSet<Cand> = std::collections::BTreeSet::new();
    for (i, p) in ps.iter().enumerate() {
        cands.insert(Cand::Colocated {
            s: i,
            inst: (n / p.shape.gpus()).max(1),
        });
    }
    // Prefill shapes: the four with most prefill requests/s per accelerator.
    let mut pre_order: Vec<usize> = (0..ps.len()).filter(|&i| ps[i].prefill_req_per_s > 0.0).collect();
    pre_order.sort_by(|&a, &b| {
        let ra = ps[a].prefill_req_per_s / ps[a].shape.gpus() as f64;
        let rb = ps[b].prefill_req_per_s / ps[b].shape.gpus() as f64;
        rb.total_cmp(&ra)
            .then(ps[a].shape.gpus().cmp(&ps[b].shape.gpus()))
            .then(a.cmp(&b))
    });
    pre_order.truncate(4);
    for &p in &pre_order {
        let gp = ps[p].shape.gpus();
        for d in 0..ps.len() {
            let gd = ps[d].shape.gpus();
            if gp + gd > n {
                continue;
            }
            for nd in 1..=((n - gp) / gd) {
                let room = (n - nd * gd) / gp;
                for (li, &b) in opts.levels.iter().enumerate() {
                    let Some(t) = ps[d].decode_step_s[li] else { continue };
                    let acc = ps[d].rc.accepted_per_step;
                    let rate = nd as f64 * ps[d].shape.dp as f64 * b as f64 * acc / t / l.output;
                    let need = rate / ps[p].prefill_req_per_s;
                    for np in [need.floor() as u32, need.ceil() as u32] {
                        let np = np.clamp(1, room.max(1));
                        if np * gp + nd * gd <= n {
                            cands.insert(Cand::Disaggregated { p, np, d, nd });
                        }
                    }
                }
            }
        }
    }
    let cands: Vec<Cand> = cands.into_iter().collect();
    // --- screen ---
    let mut pts: Vec<(usize, usize, f64, f64)> = Vec::new();
    for (ci, c) in cands.iter().enumerate() {
        for (li, &b) in opts.levels.iter().enumerate() {
            if let Some((u, y)) = screen(c, &ps, li, b, &l, chunk_f) {
                if u.is_finite() && y.is_finite() && y > 0.0 {
                    pts.push((ci, li, u, y));
                }
            }
        }
    }
    if pts.is_empty() {
        return Err(format!(
            "no deployment of {} on `{}` holds even one request of {} tokens per rank in its KV cache",
            base.model.name, base.cluster, l.max_total
        ));
    }
    // Envelope of the screen: best y at speed ≥ u.
    let mut order: Vec<usize> = (0..pts.len()).collect();
    order.sort_by(|&a, &b| pts[b].2.total_cmp(&pts[a].2).then(a.cmp(&b)));
    let mut env_y = vec![0.0; pts.len()];
    let mut best = 0.0f64;
    for &i in &order {
        best = best.max(pts[i].3);
        env_y[i] = best;
    }
    let keep = 1.0 / (1.0 + opts.screen_tolerance_fraction);
    // Survivors, spread along the curve: the screened points within tolerance fall in
    // half-octave bins of speed per user; the bins take turns giving their best candidate not
    // yet taken (by the point's ratio to the envelope), until the cap.
    let bin_of = |u: f64| (u.max(1e-3).log2() * 2.0).floor() as i64;
    let mut bins: std::collections::BTreeMap<i64, Vec<(f64, usize)>> = std::collections::BTreeMap::new();
    for (i, p) in pts.iter().enumerate() {
        let r = p.3 / env_y[i];
        if r >= keep {
            bins.entry(bin_of(p.2)).or_default().push((r, p.0));
        }
    }
    for v in bins.values_mut() {
        v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    }
    let mut survivors: Vec<usize> = Vec::new();
    let mut taken = vec![false; cands.len()];
    let mut cursor: Vec<usize> = vec![0; bins.len()];
    loop {
        let mut progressed = false;
        for (k, v) in bins.values().enumerate().rev() {
            if survivors.len() >= opts.max_survivors.max(1) {
                break;
            }
            while cursor[k] < v.len() && taken[v[cursor[k]].1] {
                cursor[k] += 1;
            }
            if cursor[k] < v.len() {
                let c = v[cursor[k]].1;
                taken[c] = true;
                survivors.push(c);
                progressed = true;
            }
        }
        if !progressed || survivors.len() >= opts.max_survivors.max(1) {
            break;
        }
    }
    // --- simulations: each survivor at its levels near the screened envelope ---
    let mut jobs: Vec<(usize, usize, f64, f64)> = Vec::new();
    for &c in &survivors {
        let near: Vec<usize> = pts
            .iter()
            .enumerate()
            .filter(|(i, p)| p.0 == c && p.3 / env_y[*i] >= keep)
            .map(|(i, _)| i)
            .collect();
        for i in near {
            if jobs.len() < opts.max_simulations {
                jobs.push((c, pts[i].1, pts[i].2, pts[i].3));
            }
        }
    }
    let mut scenarios = Vec::with_capacity(jobs.len());
    for &(c, li, u, _) in &jobs {
        let b = opts.levels[li];
        let layout = layout_of(&cands[c], &ps, b, chunk);
        let mut s = base.clone();
        s.features.redundant_experts = redundant_for(base, &layout, opts);
        let users = b * batch_ranks(&layout);
        s.workload = match &base.workload {
            Workload::Synthetic {
                input,
                output,
                shared_prefix_tokens,
                ..
            } => Workload::Synthetic {
                input: *input,
                output: *output,
                arrivals: Arrivals::Concurrency { users },
                shared_prefix_tokens: *shared_prefix_tokens,
            },
            other => other.clone(),
        };
        s.layout = layout;
        let lifetime = l.output / u.max(1e-3) + 1.0;
        s.duration_s = opts
            .window_s
            .unwrap_or((WINDOW_LIFETIMES * lifetime).clamp(WINDOW_MIN_S, WINDOW_MAX_S));
        s.warmup_s = opts
            .warmup_s
            .unwrap_or((0.8 * lifetime).min(s.duration_s / 3.0))
            .min(s.duration_s * 0.9);
        scenarios.push(s);
    }
    let reports = super::run_many(&scenarios, f);
    let mut points = Vec::new();
    let mut failed = 0u64;
    let mut notes = Vec::new();
    for ((job, s), r) in jobs.iter().zip(&scenarios).zip(reports) {
        match r {
            Ok(r) if r.requests_finished == 0 || r.output_tokens_per_s_per_user <= 0.0 => {
                failed += 1;
                if notes.len() < 8 {
                    notes.push(format!(
                        "{} at {} users: no request finished inside the simulated time ({} s window); left out",
                        s.layout.describe(),
                        b_users(&s.workload),
                        s.duration_s
                    ));
                }
            }
            Ok(r) => points.push(SearchPoint {
                deployment: s.layout.clone(),
                deployment_text: s.layout.describe(),
                accelerators: s.layout.gpus(),
                max_running_per_rank: opts.levels[job.1],
                concurrency: b_users(&s.workload),
                output_tokens_per_s_per_accel: r.output_tokens_per_s_per_accel,
                output_tokens_per_s_per_user: r.output_tokens_per_s_per_user,
                input_tokens_per_s_per_accel: r.input_tokens_per_s_per_accel,
                ttft_s: r.ttft_s,
                tpot_s: r.tpot_s,
                slo_attainment_fraction: r.slo_attainment_fraction,
                slo_met: r.slo_met,
                preemptions: r.preemptions,
                requests_arrived: r.requests_arrived,
                requests_finished: r.requests_finished,
                batch_role_mean_step_s: r.roles.last().map_or(0.0, |x| x.mean_step_s),
                batch_role_step_breakdown: r.roles.last().map(|x| x.step_breakdown).unwrap_or_default(),
                screen_output_tokens_per_s_per_accel: job.3,
                screen_output_tokens_per_s_per_user: job.2,
                window_s: s.duration_s,
            }),
            Err(e) => {
                failed += 1;
                if notes.len() < 8 {
                    notes.push(format!("simulation of {} failed: {e}", s.layout.describe()));
                }
            }
        }
    }
    if points.is_empty() {
        return Err(format!(
            "no simulation of the search gave a measurement{}",
            notes.first().map(|n| format!(" ({n})")).unwrap_or_default()
        ));
    }
    let envelope = thin(&pareto(&points));
    let chosen = choose(&points, &base.slo);
    let accel = ps[0].rc.accel_name.clone();
    let mut ci =
        super::deploy_config::ConfigInputs::from_scenario(base, &chosen.point.deployment, f.domain_size, f.accel_model);
    if let Some(p) = &opts.model_path {
        ci.model_path = p.clone();
    }
    let configs = super::deploy_config::write(&chosen.point.deployment, &ci);
    notes.push(format!(
        "screen: decode steps of `RoleCost::step` at the steady batch (context = input + output/2), prefill capacity from full {chunk}-token chunks; kept within {:.0} % of the screened envelope",
        opts.screen_tolerance_fraction * 100.0
    ));
    notes.push(match opts.window_s {
        Some(w) => format!("simulated windows of {w} s each"),
        None => format!(
            "simulated windows of {WINDOW_LIFETIMES} request lifetimes from the screen, {WINDOW_MIN_S}–{WINDOW_MAX_S} s; closed loop, concurrency = batch limit × attention ranks"
        ),
    });
    Ok(SearchReport {
        schema_version: crate::SCHEMA_VERSION,
        cluster: base.cluster.clone(),
        accelerator: accel,
        cluster_accelerators: n as u64,
        model: base.model.name.clone(),
        precision: base.precision.name().to_string(),
        workload: match &base.workload {
            Workload::Synthetic {
                input,
                output,
                shared_prefix_tokens,
                ..
            } => format!(
                "synthetic: input {} / output {} tokens{}, closed loop at concurrency = batch limit × attention ranks",
                input.describe(),
                output.describe(),
                if *shared_prefix_tokens > 0 {
                    format!(", shared prefix {shared_prefix_tokens}")
                } else {
                    String::new()
                }
            ),
            other => other.describe(),
        },
        slo: base.slo,
        levels_max_running_per_rank: opts.levels.clone(),
        shapes_tried: all.len() as u64,
        shapes_fitting: ps.len() as u64,
        deployments_screened: cands.len() as u64,
        deployments_simulated: survivors.len() as u64,
        simulations: jobs.len() as u64,
        simulations_failed: failed,
        envelope,
        chosen,
        configs,
        points,
        notes,
    })
}

/// The non-dominated points (higher per user and per accelerator are better), by increasing
/// speed per user. Ties keep the first point in simulation order.
pub fn pareto(points: &[SearchPoint]) -> Vec<SearchPoint> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&points[a], &points[b]);
        pb.output_tokens_per_s_per_user
            .total_cmp(&pa.output_tokens_per_s_per_user)
            .then(
                pb.output_tokens_per_s_per_accel
                    .total_cmp(&pa.output_tokens_per_s_per_accel),
            )
            .then(a.cmp(&b))
    });
    let mut best = f64::NEG_INFINITY;
    let mut out = Vec::new();
    for i in order {
        if points[i].output_tokens_per_s_per_accel > best {
            best = points[i].output_tokens_per_s_per_accel;
            out.push(points[i].clone());
        }
    }
    out.reverse();
    out
}

/// The envelope thinned for reading: of points whose speeds per user lie within
/// `THIN_FRACTION` of the next slower kept point's, only the one with most output per
/// accelerator stays (still non-dominated; the JSON's `points` keep every point).
pub fn thin(envelope: &[SearchPoint]) -> Vec<SearchPoint> {
    let mut out: Vec<SearchPoint> = Vec::new();
    for p in envelope {
        match out.last() {
            Some(q) if p.output_tokens_per_s_per_user <= q.output_tokens_per_s_per_user * (1.0 + THIN_FRACTION) => {}
            _ => out.push(p.clone()),
        }
    }
    out
}

/// Relative gap in speed per user below which [`thin`] merges envelope points.
pub const THIN_FRACTION: f64 = 0.02;

/// The reported percentile at or above the SLO's attainment target: (name, TTFT, TPOT).
fn slo_percentile(p: &SearchPoint, slo: &Slo) -> (&'static str, f64, f64) {
    let t = slo.attainment_target_fraction;
    if t <= 0.5 {
        ("p50", p.ttft_s.p50, p.tpot_s.p50)
    } else if t <= 0.9 {
        ("p90", p.ttft_s.p90, p.tpot_s.p90)
    } else {
        ("p99", p.ttft_s.p99, p.tpot_s.p99)
    }
}

fn fmt_s(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

/// The SLO's choice: the most output per accelerator among points meeting it; if none does,
/// the point with the smallest miss factor.
pub fn choose(points: &[SearchPoint], slo: &Slo) -> Chosen {
    let miss = |p: &SearchPoint| -> (f64, &'static str) {
        let (_, ttft, tpot) = slo_percentile(p, slo);
        let a = ttft / slo.ttft_s.max(1e-12);
        let b = tpot / slo.tpot_s.max(1e-12);
        if a >= b {
            (a, "ttft")
        } else {
            (b, "tpot")
        }
    };
    let met = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.slo_met)
        .max_by(|(ia, a), (ib, b)| {
            a.output_tokens_per_s_per_accel
                .total_cmp(&b.output_tokens_per_s_per_accel)
                .then(ib.cmp(ia))
        });
    let target = format!(
        "TTFT ≤ {} and TPOT ≤ {} for {:.0} % of requests",
        fmt_s(slo.ttft_s),
        fmt_s(slo.tpot_s),
        slo.attainment_target_fraction * 100.0
    );
    if let Some((_, p)) = met {
        let (m, by) = miss(p);
        return Chosen {
            point: p.clone(),
            slo_met: true,
            miss_factor: m,
            limited_by: by.into(),
            statement: format!(
                "best deployment meeting the SLO ({target}): {} at {} users — {:.0} output tokens/s per accelerator, {:.1} tokens/s per user",
                p.deployment_text, p.concurrency, p.output_tokens_per_s_per_accel, p.output_tokens_per_s_per_user
            ),
        };
    }
    let (i, _) = points
        .iter()
        .enumerate()
        .min_by(|(ia, a), (ib, b)| {
            miss(a)
                .0
                .total_cmp(&miss(b).0)
                .then(
                    b.output_tokens_per_s_per_accel
                        .total_cmp(&a.output_tokens_per_s_per_accel),
                )
                .then(ia.cmp(ib))
        })
        .expect("at least one point");
    let p = &points[i];
    let (m, by) = miss(p);
    let (pct, ttft, tpot) = slo_percentile(p, slo);
    let (by, statement) = if m <= 1.0 {
        (
            "attainment",
            format!(
                "no deployment meets the SLO ({target}); the closest, {} at {} users, has TTFT {pct} {} and TPOT {pct} {} within target but only {:.1} % of requests within both (unfinished requests count as misses)",
                p.deployment_text,
                p.concurrency,
                fmt_s(ttft),
                fmt_s(tpot),
                p.slo_attainment_fraction * 100.0
            ),
        )
    } else {
        (
            by,
            format!(
                "no deployment meets the SLO ({target}); best achievable: {} at {} users with TTFT {pct} {} and TPOT {pct} {} — it misses the {} target by {:.2}× ({:.1} % of requests within both; {:.0} output tokens/s per accelerator, {:.1} tokens/s per user)",
                p.deployment_text,
                p.concurrency,
                fmt_s(ttft),
                fmt_s(tpot),
                if by == "ttft" { "TTFT" } else { "TPOT" },
                m,
                p.slo_attainment_fraction * 100.0,
                p.output_tokens_per_s_per_accel,
                p.output_tokens_per_s_per_user
            ),
        )
    };
    Chosen {
        point: p.clone(),
        slo_met: false,
        miss_factor: m,
        limited_by: by.into(),
        statement,
    }
}

/// Output tokens/s per accelerator the envelope gives at `per_user` tokens/s per user: linear
/// between the bracketing points; the envelope's best below its slowest point; `None` above
/// its fastest.
pub fn per_accel_at(envelope: &[SearchPoint], per_user: f64) -> Option<f64> {
    let first = envelope.first()?;
    if per_user <= first.output_tokens_per_s_per_user {
        return Some(first.output_tokens_per_s_per_accel);
    }
    for w in envelope.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let (u0, u1) = (a.output_tokens_per_s_per_user, b.output_tokens_per_s_per_user);
        if per_user <= u1 {
            let (y0, y1) = (a.output_tokens_per_s_per_accel, b.output_tokens_per_s_per_accel);
            if u1 <= u0 {
                return Some(y1);
            }
            return Some(y0 + (y1 - y0) * (per_user - u0) / (u1 - u0));
        }
    }
    None
}
