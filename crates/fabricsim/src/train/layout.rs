//! Stage 1 of a training step: **layout**. Check the plan against the model and the cluster,
//! then place the parallel dimensions over accelerators (TP innermost inside the scale-up domain,
//! then CP, EP, PP, DP by default) and name the rank groups of each dimension.
//!
//! Knows nothing of timing: the output, [`Placement`], is what every later stage reads.

use fabric::Fabric;
use workload::{ModelSpec, ParallelPlan, Precision};

/// Placement of the parallel dimensions over accelerators: coordinates (tp, cp, ep, pp, dpo)
/// (DP = EP × DPo; expert parallelism is taken from data-parallel ranks) map to a rank by an
/// order, innermost first. Default: TP, CP, EP, PP, DP — TP inside the scale-up domain.
#[derive(Debug, Clone)]
pub struct Layout {
    pub tp: u32,
    pub cp: u32,
    pub ep: u32,
    pub pp: u32,
    pub dpo: u32,
    /// Stride of each coordinate (tp, cp, ep, pp, dpo).
    pub strides: [u32; 5],
    /// DPo ranks inside one TPU slice when the job spans several slices over the data-center
    /// network (`train::tpu::slice_dp`): DP groups then stay inside a slice and [`Dim::Dcn`]
    /// joins the slices. Equal to `dpo` otherwise.
    pub slice_dp: u32,
    /// The groups computed so far ([`Layout::groups`]), shared by clones.
    memo: GroupMemo,
}

/// What decides a layout's groups: sizes, strides, `slice_dp`.
type Geometry = ([u32; 5], [u32; 5], u32);

/// [`Layout::groups`] results, by geometry and dimension: a step asks for the same groups many
/// times (pricing, the schedule, DeepEP), each ~10⁴ small vectors on a large fabric, and a
/// search's plans of one layout ask for them again (an `Evaluator` gives its layouts one memo:
/// [`Layout::share_groups`]). Keyed by the geometry (the fields are public: a clone changed
/// afterwards is not served the original's groups). Bounded: past [`GroupMemo::MAX_RANKS`]
/// ranks held it starts again empty.
#[derive(Debug, Clone, Default)]
pub struct GroupMemo(std::sync::Arc<std::sync::Mutex<Vec<MemoEntry>>>);

impl GroupMemo {
    /// Ranks held at most (4 bytes each, plus a vector per group): 2²², 16 MiB.
    pub const MAX_RANKS: usize = 1 << 22;
}

/// One [`GroupMemo`] entry: geometry, dimension, groups, and the ranks they hold (for the
/// bound, without a pass over every group of every entry at each insertion).
type MemoEntry = (Geometry, Dim, std::sync::Arc<Vec<Vec<u32>>>, usize);

/// The names `--order` accepts, in coordinate order.
pub const ORDER_NAMES: [&str; 5] = ["tp", "cp", "ep", "pp", "dp"];

/// The default placement: TP innermost, then CP, EP, PP, DP.
pub const DEFAULT_ORDER: [usize; 5] = [0, 1, 2, 3, 4];

/// A parallel dimension whose ranks communicate as a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// Tensor parallel.
    Tp,
    /// Context parallel.
    Cp,
    /// Expert parallel.
    Ep,
    /// Dense gradients: reduced over DP × CP (the CP ranks hold the same weights).
    Dp,
    /// Expert gradients: reduced over DPo × CP.
    DpExpert,
    /// Data parallel across TPU slices over the data-center network: the ranks at the same
    /// place of every slice (multislice; empty groups when the job has one slice).
    Dcn,
}

impl Layout {
    /// A layout with `order` (coordinate indices, innermost first).
    pub fn new(tp: u32, cp: u32, ep: u32, pp: u32, dpo: u32, order: [usize; 5]) -> Layout {
        let sizes = [tp, cp, ep, pp, dpo];
        let mut strides = [0u32; 5];
        let mut acc = 1u32;
        for &d in &order {
            strides[d] = acc;
            acc *= sizes[d];
        }
        Layout {
            tp,
            cp,
            ep,
            pp,
            dpo,
            strides,
            slice_dp: dpo,
            memo: GroupMemo::default(),
        }
    }

    /// Slices the DP dimension spans (1 unless [`Layout::slice_dp`] splits it).
    pub fn slices(&self) -> u32 {
        (self.dpo / self.slice_dp.max(1)).max(1)
    }

    pub fn rank(&self, tp: u32, cp: u32, ep: u32, pp: u32, dpo: u32) -> u32 {
        let s = &self.strides;
        tp * s[0] + cp * s[1] + ep * s[2] + pp * s[3] + dpo * s[4]
    }

    /// Pipeline stage of a rank.
    pub fn stage_of(&self, rank: u32) -> u32 {
        (rank / self.strides[3]) % self.pp
    }

    /// Every group of `vary`, each a list of ranks (computed once per layout and dimension;
    /// shared).
    pub fn groups(&self, vary: Dim) -> std::sync::Arc<Vec<Vec<u32>>> {
        let key = (
            [self.tp, self.cp, self.ep, self.pp, self.dpo],
            self.strides,
            self.slice_dp,
        );
        let find = |memo: &[MemoEntry]| {
            memo.iter()
                .find(|(k, d, ..)| *k == key && *d == vary)
                .map(|(_, _, g, _)| g.clone())
        };
        if let Some(g) = find(&self.memo.0.lock().unwrap_or_else(|e| e.into_inner())) {
            return g;
        }
        // Computed outside the lock (the memo may serve a search's threads).
        let g = std::sync::Arc::new(self.compute_groups(vary));
        let mut memo = self.memo.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = find(&memo) {
            return g;
        }
        let ranks = g.iter().map(Vec::len).sum::<usize>();
        if memo.iter().map(|e| e.3).sum::<usize>() + ranks > GroupMemo::MAX_RANKS {
            memo.clear();
        }
        memo.push((key, vary, g.clone(), ranks));
        g
    }

    /// Keep this layout's groups in `memo` (shared with other layouts: entries are keyed by
    /// geometry).
    pub fn share_groups(&mut self, memo: &GroupMemo) {
        self.memo = memo.clone();
    }

    /// [`Layout::groups`], computed.
    fn compute_groups(&self, vary: Dim) -> Vec<Vec<u32>> {
        if self.slices() > 1 && matches!(vary, Dim::Dp | Dim::Dcn) {
            return super::tpu::slice_groups(self, vary);
        }
        if vary == Dim::Dcn {
            return Vec::new();
        }
        let mut out = Vec::new();
        let (t, c, e, p, d) = (self.tp, self.cp, self.ep, self.pp, self.dpo);
        for dpo in 0..d {
            for pp in 0..p {
                for ep in 0..e {
                    for cp in 0..c {
                        for tp in 0..t {
                            let is_base = match vary {
                                Dim::Tp => tp == 0,
                                Dim::Cp => cp == 0,
                                Dim::Ep => ep == 0,
                                Dim::Dp => cp == 0 && ep == 0 && dpo == 0,
                                Dim::DpExpert => cp == 0 && dpo == 0,
                                Dim::Dcn => false,
                            };
                            if !is_base {
                                continue;
                            }
                            let g: Vec<u32> = match vary {
                                Dim::Tp => (0..t).map(|x| self.rank(x, cp, ep, pp, dpo)).collect(),
                                Dim::Cp => (0..c).map(|x| self.rank(tp, x, ep, pp, dpo)).collect(),
                                Dim::Ep => (0..e).map(|x| self.rank(tp, cp, x, pp, dpo)).collect(),
                                Dim::Dp => (0..d)
                                    .flat_map(|y| (0..e).flat_map(move |x| (0..c).map(move |z| (z, x, y))))
                                    .map(|(z, x, y)| self.rank(tp, z, x, pp, y))
                                    .collect(),
                                Dim::DpExpert => (0..d)
                                    .flat_map(|y| (0..c).map(move |z| (z, y)))
                                    .map(|(z, y)| self.rank(tp, z, ep, pp, y))
                                    .collect(),
                                Dim::Dcn => Vec::new(),
                            };
                            out.push(g);
                        }
                    }
                }
            }
        }
        out
    }
}

/// A checked plan placed on a fabric: the output of the layout stage.
#[derive(Debug, Clone)]
pub struct Placement {
    pub plan: ParallelPlan,
    pub layout: Layout,
    /// Micro-batches per pipeline per step.
    pub microbatches: u32,
    /// Accelerators the plan uses.
    pub world: u64,
    /// Effective per-direction link capacities (`collective::simulate::effective_capacities`).
    pub caps: Vec<f64>,
    /// What crosses the sites of a multi-site fabric (`train::sites`; `dp` elsewhere).
    pub cross_site: super::sites::CrossSite,
}

impl Placement {
    /// Whether the first two pipeline stages share a scale-up domain (pipeline sends then stay
    /// on the scale-up links).
    pub fn pp_in_domain(&self, f: &Fabric) -> bool {
        let lay = &self.layout;
        f.domain_of(lay.rank(0, 0, 0, 0, 0)) == f.domain_of(lay.rank(0, 0, 0, 1.min(lay.pp - 1), 0))
    }
}

/// Check `plan` and place it on `f` with `order` (coordinate indices tp=0, cp=1, ep=2, pp=3,
/// dp=4, innermost first).
pub fn place(
    f: &Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    order: [usize; 5],
    full: bool,
) -> Result<Placement, String> {
    let p = plan;
    check_plan(f, model, p)?;
    let m = p.microbatches();
    let full_tasks = 2 * m as u64 * p.pp as u64 * p.vp as u64 * p.dp as u64;
    if full && full_tasks > 4_000_000 {
        return Err(format!(
            "--full simulates every one of the {} data-parallel replicas: {full_tasks} tasks, beyond the limit of 4,000,000 (drop --full)",
            p.dp,
        ));
    }
    let mut layout = Layout::new(p.tp, p.cp, p.ep, p.pp, p.dp / p.ep, order);
    layout.slice_dp = super::tpu::slice_dp(f, &layout);
    // Multi-site: DP groups that span the sites evenly split into in-site groups and
    // cross-site groups (hierarchical synchronisation, `train::sites`).
    if layout.slice_dp == layout.dpo && p.zero != 3 {
        layout.slice_dp = super::sites::site_split(f, &layout, p.world());
    }
    Ok(Placement {
        plan: p.clone(),
        layout,
        microbatches: m,
        world: p.world(),
        caps: collective::simulate::effective_capacities(f),
        cross_site: super::sites::CrossSite::Dp,
    })
}

/// Parse `--order`, e.g. `tp,cp,ep,pp,dp` (innermost first; every dimension once).
pub fn parse_order(s: &str) -> Result<[usize; 5], String> {
    let names: Vec<&str> = s.split(',').map(str::trim).collect();
    let mut out = [usize::MAX; 5];
    if names.len() != 5 {
        return Err(format!(
            "--order `{s}`: name all five of tp, cp, ep, pp, dp, innermost first"
        ));
    }
    for (i, n) in names.iter().enumerate() {
        let d = ORDER_NAMES
            .iter()
            .position(|x| x == n)
            .ok_or_else(|| format!("--order `{s}`: unknown dimension `{n}`"))?;
        if out.contains(&d) {
            return Err(format!("--order `{s}`: `{n}` appears twice"));
        }
        out[i] = d;
    }
    Ok(out)
}

/// Check the plan against the model and cluster.
pub fn check_plan(f: &Fabric, model: &ModelSpec, p: &ParallelPlan) -> Result<(), String> {
    for (name, v) in [
        ("tp", p.tp),
        ("pp", p.pp),
        ("dp", p.dp),
        ("cp", p.cp),
        ("ep", p.ep),
        ("vp", p.vp),
        ("mbs", p.mbs),
        ("gbs", p.gbs),
    ] {
        if v == 0 {
            return Err(format!("--{name} must be at least 1"));
        }
    }
    // The schedule has 2 · m · PP · VP tasks; keep it within what a workstation simulates.
    let tasks = 2u64 * p.microbatches() as u64 * p.pp as u64 * p.vp as u64;
    if tasks > 4_000_000 {
        return Err(format!(
            "--gbs {}: {} micro-batches per pipeline × PP {} × VP {} is {tasks} scheduled tasks, beyond the limit of 4,000,000",
            p.gbs,
            p.microbatches(),
            p.pp,
            p.vp
        ));
    }
    if p.seq == 0 || p.seq > 10_000_000 {
        return Err(format!("--seq {}: must be between 1 and 10,000,000", p.seq));
    }
    let world = p.world();
    if world > f.accel_count() as u64 {
        return Err(format!(
            "the plan needs TP × CP × PP × DP = {} × {} × {} × {} = {world} accelerators; the cluster has {}",
            p.tp,
            p.cp,
            p.pp,
            p.dp,
            f.accel_count()
        ));
    }
    if model.heads % p.tp != 0 {
        return Err(format!(
            "--tp {}: does not divide the {} attention heads",
            p.tp, model.heads
        ));
    }
    if p.gbs % (p.dp * p.mbs) != 0 {
        return Err(format!(
            "--gbs {}: not a multiple of DP × MBS = {} × {}",
            p.gbs, p.dp, p.mbs
        ));
    }
    if let Some(moe) = &model.moe {
        if moe.experts % p.ep != 0 {
            return Err(format!("--ep {}: does not divide the {} experts", p.ep, moe.experts));
        }
    } else if p.ep > 1 {
        return Err(format!("--ep {}: the model has no experts", p.ep));
    }
    if p.dp % p.ep != 0 {
        return Err(format!(
            "--ep {}: must divide DP = {} (experts are spread over data-parallel ranks)",
            p.ep, p.dp
        ));
    }
    if p.seq % p.cp as u64 != 0 {
        return Err(format!("--cp {}: does not divide the sequence length {}", p.cp, p.seq));
    }
    if model.layers < p.pp * p.vp {
        return Err(format!(
            "{} layers cannot fill PP × VP = {} pipeline chunks",
            model.layers,
            p.pp * p.vp
        ));
    }
    p.check_layers_per_stage(model.layers)?;
    if p.vp > 1 && p.pp < 2 {
        return Err(format!(
            "--vp {}: interleaving splits each pipeline stage's layers into virtual stages, which needs --pp 2 or more (PP is {})",
            p.vp, p.pp
        ));
    }
    if p.vp > 1 && p.microbatches() % p.pp != 0 {
        return Err(format!(
            "interleaved 1F1B needs the micro-batches ({}) to be a multiple of PP ({})",
            p.microbatches(),
            p.pp
        ));
    }
    if p.zero > 3 {
        return Err(format!("--zero {}: must be 0, 1, 2 or 3", p.zero));
    }
    if let Some(g) = p.hsdp_shard {
        if p.zero != 3 {
            return Err(format!(
                "--hsdp-shard {g}: HSDP shards parameters (ZeRO-3); give --fsdp or --zero 3 (the plan has ZeRO-{})",
                p.zero
            ));
        }
        if g == 0 || p.dp % g != 0 {
            return Err(format!(
                "--hsdp-shard {g}: must be at least 1 and divide DP {} (shard groups of {g} consecutive DP ranks, DP / {g} replicas)",
                p.dp
            ));
        }
    }
    if p.precision == Precision::Fp8
        && fabric::catalogue::accelerator(f.accel_model)
            .and_then(|a| a.fp8_dense)
            .is_none()
    {
        return Err(format!("--precision fp8: {} has no FP8", f.accel_model));
    }
    Ok(())
}

/// Bytes per flow a simulation holds (its route, the engine's per-flow state and the merged
/// plan's record), per accelerator of a built fabric, and per scheduled task; with a fixed base
/// for the process. Measured with `/usr/bin/time -f %M` on release builds (2-core x86-64):
/// `train --cluster fat-tree:gpus=8192,node=hgx-h800 --model deepseek-v3 --tp 1 --pp 16 --ep 64`
/// 129 MB (estimate 185 MB); `train --cluster fat-tree:gpus=131072 --model llama-3.1-405b --tp 8
/// --pp 16 --dp 1024` 305 MB (estimate 296 MB); `--cluster fat-tree:gpus=16384 … --dp 128`
/// 38 MB (estimate 56 MB); `topo fat-tree:gpus=131072` 68 MB (fabric alone).
pub const BYTES_PER_FLOW: f64 = 300.0;
pub const BYTES_PER_ACCELERATOR: f64 = 600.0;
pub const BYTES_PER_TASK: f64 = 250.0;
pub const BASE_BYTES: f64 = 20e6;

/// What a training run is expected to hold at its peak, before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    pub bytes: f64,
    /// The largest part, for messages ("expert all-to-all: 66,060,288 flows").
    pub largest: String,
}

/// Estimate the memory of simulating `plan` on `f` (see [`BYTES_PER_FLOW`]): the fabric, the
/// flows of the largest priced communication (all groups of a dimension at once; the DP sync is
/// held twice, once priced and once in the schedule), and the schedule's tasks.
pub fn estimate_memory(f: &Fabric, model: &ModelSpec, p: &ParallelPlan, full: bool) -> MemoryEstimate {
    let world = p.world() as f64;
    let ring = |n: u32| -> f64 {
        // Ring/tree flows of one group: every rank, every channel (2 on the network), both
        // phases of an all-reduce or RS + AG.
        if n < 2 {
            0.0
        } else {
            world * 2.0 * 2.0
        }
    };
    let mut parts: Vec<(f64, String)> = Vec::new();
    if p.tp > 1 {
        parts.push((ring(p.tp), "tensor-parallel collectives".into()));
    }
    if model.moe.is_some() && p.ep > 1 {
        let groups = world / p.ep as f64;
        let flows = groups * p.ep as f64 * (p.ep as f64 - 1.0);
        parts.push((flows, format!("expert all-to-all ({flows:.0} flows)")));
    }
    if p.cp > 1 {
        parts.push((world * 2.0, "context-parallel exchange".into()));
    }
    if p.dp * p.cp > 1 {
        parts.push((2.0 * ring(p.dp * p.cp), "data-parallel gradient sync".into()));
    }
    if p.pp > 1 {
        parts.push((world * 2.0, "pipeline sends".into()));
    }
    let (flows, largest) = parts
        .into_iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((0.0, "no communication".into()));
    let tasks = 2.0 * p.microbatches() as f64 * p.pp as f64 * p.vp as f64 * if full { p.dp as f64 } else { 1.0 };
    let bytes =
        BASE_BYTES + f.accel_count() as f64 * BYTES_PER_ACCELERATOR + flows * BYTES_PER_FLOW + tasks * BYTES_PER_TASK;
    MemoryEstimate { bytes, largest }
}

/// [`estimate_memory`] of a `train` run (the CLI's and a scenario file's `--max-memory` check):
/// on a fabric of several sites the run also holds the hierarchical DP synchronisation's second
/// distinct piece (the cross-site one; the in-site all-gather lowers to the reduce-scatter's
/// flows and reuses its plan and routes), priced and routed for the schedule: two more rings of
/// flows than one site's single piece; and the single-site baseline runs beside the step (the
/// same job again on one site of the same size: its fabric, flows and tasks). Measured
/// (`/usr/bin/time -f %M`, release, 2-core x86-64), Llama-3.1-405B TP 8 · PP 16, GBS 2,048 ×
/// 8,192 on 16,384 H100 over two sites at 30 km: `--cluster
/// multi-site:gpus=16384,sites=2,distance_km=30,wan_gbit=51200` 140 MiB at flow fidelity,
/// 101 MiB analytical; `--cluster examples/two-sites-30km.toml` 147 MiB; this estimate 151 MiB
/// ([`estimate_memory`] alone: 66 MiB). Llama-3.1-70B TP 8 · PP 4 on
/// `multi-site:gpus=2048,sites=2,distance_km=400,wan_gbit=3200`: 22 MiB, estimate 36 MiB.
/// The planner keeps [`estimate_memory`] (it runs no baseline). `baseline_beside`: the
/// baseline runs at the same time as the step (`train` on the command line); callers that run
/// none (`compare`, `design`, `goodput`) or run it after the step has let go of its engines (a
/// scenario file, a sweep point, the DCI sweep) count the cross-site piece only.
pub fn estimate_train_memory(
    f: &Fabric,
    model: &ModelSpec,
    p: &ParallelPlan,
    full: bool,
    baseline_beside: bool,
) -> MemoryEstimate {
    let one = estimate_memory(f, model, p, full);
    if f.site_count() < 2 {
        return one;
    }
    let dp_ring = if p.dp * p.cp > 1 {
        p.world() as f64 * 2.0 * 2.0
    } else {
        0.0
    };
    let bytes = one.bytes + 2.0 * dp_ring * BYTES_PER_FLOW;
    if !baseline_beside {
        return MemoryEstimate { bytes, ..one };
    }
    MemoryEstimate {
        bytes: bytes + (one.bytes - BASE_BYTES),
        largest: format!("{}; and the single-site baseline beside it", one.largest),
    }
}
