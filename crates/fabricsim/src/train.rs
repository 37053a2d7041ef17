//! `fabricsim train`: one training step of an LLM with a parallel plan on a cluster.
//!
//! Pipeline: resolve the plan against the cluster → place parallel dimensions over accelerators
//! (TP innermost, then CP, EP, PP, DP) → price each layer's operations with the compute model →
//! price tensor/context/expert-parallel collectives, pipeline sends and data-parallel gradient
//! synchronisation on the real fabric, every group of a dimension at once (so groups contend
//! where they share links) → run the pipeline schedule on the engine (bubbles and overlap
//! emerge from it) → report.
//!
//! Symmetry: DP replicas (and the TP/CP/EP ranks inside a stage) run identical work, so one
//! pipeline is scheduled; every flow that crosses the network is still placed on the fabric, for
//! all groups at once, when the communication times are priced.

use collective::plan::{Phase, Plan, PlanFlow};
use collective::simulate::{effective_capacities, latency, lower, run_plan, Options, REF_SIZE};
use collective::{Algo, Op};
use engine::Fidelity;
use fabric::Fabric;
use serde::Serialize;
use workload::compute::ComputeModel;
use workload::flops::{self, OpDesc};
use workload::memory::{memory_per_accel_with, MemoryBreakdown, MemoryOptions};
use workload::schedule::{self, StageTimes, Timeline};
use workload::{ModelSpec, ParallelPlan, Precision, Recompute};

/// Options of a training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub fidelity: Fidelity,
    pub allow_oom: bool,
    /// Simulate every data-parallel replica's pipeline and put every pipeline send and gradient
    /// synchronisation on the fabric as it happens (no symmetry shortcut). For small cases and
    /// for checking the shortcut.
    pub full: bool,
}

/// Communication time of one collective on all groups of a dimension at once.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommCost {
    pub seconds: f64,
    pub algo: Option<Algo>,
    pub protocol: Option<collective::constants::Protocol>,
    /// The latency part of `seconds`.
    pub latency: f64,
}

/// Everything measured for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    pub compute_s: f64,
    pub recompute_s: f64,
    pub tp_comm_s: f64,
    pub cp_comm_s: f64,
    pub ep_comm_s: f64,
    pub pp_comm_s: f64,
    pub pipeline_bubble_s: f64,
    pub dp_comm_s: f64,
    pub optimizer_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    pub weights_bytes: f64,
    pub gradients_bytes: f64,
    pub optimizer_bytes: f64,
    pub activations_bytes: f64,
    pub buffers_bytes: f64,
    pub total_bytes: f64,
    pub capacity_bytes: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub cp: u32,
    pub ep: u32,
    pub vp: u32,
    pub mbs: u32,
    pub gbs: u32,
    pub seq: u64,
    pub microbatches: u32,
    pub zero: u8,
    pub recompute: String,
    pub precision: String,
    pub sequence_parallel: bool,
    pub schedule: String,
    pub accelerators_used: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    pub name: String,
    pub utilisation: f64,
    pub during: String,
}

/// The `train --json` schema.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub schema_version: u32,
    pub fidelity: String,
    pub cluster: String,
    pub accelerator: String,
    pub accelerators_in_cluster: u64,
    pub model: String,
    pub model_params: f64,
    pub model_active_params: f64,
    pub plan: PlanReport,
    pub step_time_s: f64,
    pub tokens_per_step: f64,
    pub tokens_per_s: f64,
    pub tokens_per_s_per_accel: f64,
    pub model_flops_per_step: f64,
    pub hardware_flops_per_step: f64,
    pub model_tflops_per_accel: f64,
    pub hardware_tflops_per_accel: f64,
    pub mfu: f64,
    pub hfu: f64,
    pub breakdown: Breakdown,
    pub memory_bytes_per_accel: f64,
    pub memory: MemoryReport,
    pub fits: bool,
    pub busiest_links: Vec<LinkReport>,
    pub warnings: Vec<String>,
    pub assumptions: Vec<String>,
    #[serde(skip)]
    pub timeline: Option<Timeline>,
}

/// Placement of the parallel dimensions over accelerators: coordinates (tp, cp, ep, pp, dpo)
/// (DP = EP × DPo; expert parallelism is taken from data-parallel ranks) map to a rank by an
/// order, innermost first. Default: TP, CP, EP, PP, DP — TP inside the scale-up domain.
pub struct Layout {
    pub tp: u32,
    pub cp: u32,
    pub ep: u32,
    pub pp: u32,
    pub dpo: u32,
    /// Stride of each coordinate (tp, cp, ep, pp, dpo).
    pub strides: [u32; 5],
}

/// The names `--order` accepts, in coordinate order.
pub const ORDER_NAMES: [&str; 5] = ["tp", "cp", "ep", "pp", "dp"];

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
        }
    }
    pub fn rank(&self, tp: u32, cp: u32, ep: u32, pp: u32, dpo: u32) -> u32 {
        let s = &self.strides;
        tp * s[0] + cp * s[1] + ep * s[2] + pp * s[3] + dpo * s[4]
    }
    /// Pipeline stage of a rank.
    pub fn stage_of(&self, rank: u32) -> u32 {
        (rank / self.strides[3]) % self.pp
    }
    fn groups(&self, vary: Dim) -> Vec<Vec<u32>> {
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
                            };
                            if !is_base {
                                continue;
                            }
                            let g: Vec<u32> = match vary {
                                Dim::Tp => (0..t).map(|x| self.rank(x, cp, ep, pp, dpo)).collect(),
                                Dim::Cp => (0..c).map(|x| self.rank(tp, x, ep, pp, dpo)).collect(),
                                Dim::Ep => (0..e).map(|x| self.rank(tp, cp, x, pp, dpo)).collect(),
                                // Dense gradients are reduced over DP × CP (the CP ranks hold the
                                // same weights), expert gradients over DPo × CP.
                                Dim::Dp => (0..d)
                                    .flat_map(|y| (0..e).flat_map(move |x| (0..c).map(move |z| (z, x, y))))
                                    .map(|(z, x, y)| self.rank(tp, z, x, pp, y))
                                    .collect(),
                                Dim::DpExpert => (0..d)
                                    .flat_map(|y| (0..c).map(move |z| (z, y)))
                                    .map(|(z, y)| self.rank(tp, z, ep, pp, y))
                                    .collect(),
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

#[derive(Clone, Copy)]
enum Dim {
    Tp,
    Cp,
    Ep,
    Dp,
    DpExpert,
}

/// Price one collective of `size` bytes on all `groups` at once: the algorithm (and protocol)
/// is the best for one group alone; then every group's flows run together on the fabric.
pub fn concurrent(
    f: &Fabric,
    caps: &[f64],
    groups: &[Vec<u32>],
    op: Op,
    size: f64,
    fidelity: Fidelity,
) -> Result<(CommCost, Vec<(u32, f64)>), String> {
    if groups.is_empty() || groups[0].len() < 2 || size <= 0.0 {
        return Ok((CommCost::default(), Vec::new()));
    }
    let opts = Options {
        fidelity,
        ..Default::default()
    };
    let one = collective::simulate::run_sizes(f, &groups[0], op, &[size], None, opts).map_err(|e| e.to_string())?;
    let algo = one[0].algo;
    let proto = one[0].protocol;
    let merged = merge_groups(f, groups, op, REF_SIZE, algo, opts.channels)?;
    let lat = latency(
        &lower(f, &groups[0], op, REF_SIZE, algo, opts.channels).map_err(|e| e.to_string())?,
        proto,
    )
    .unwrap_or(0.0);
    let (t, busy) = run_plan(f, caps, &merged, fidelity).map_err(|e| e.to_string())?;
    let mut transfer = t * size / REF_SIZE / proto.bandwidth_factor();
    if !merged.nvls {
        // NCCL's staging term, as for a single collective (collective::constants).
        let steps: u32 = merged.phases.iter().map(|ph| ph.steps_nvlink + ph.steps_net).sum();
        let ranks: usize = groups.iter().map(|g| g.len()).sum();
        let per_rank = merged.bytes() / ranks.max(1) as f64 * size / REF_SIZE;
        transfer += collective::constants::pipeline_fill(steps, transfer, per_rank);
    }
    let links = busy.into_iter().map(|b| (b.link, b.utilisation)).collect();
    Ok((
        CommCost {
            seconds: lat + transfer,
            algo: Some(algo),
            protocol: Some(proto),
            latency: lat,
        },
        links,
    ))
}

/// The plans of `op` on every group, merged phase by phase into one plan (virtual links
/// renumbered after the fabric's and each other's).
pub fn merge_groups(
    f: &Fabric,
    groups: &[Vec<u32>],
    op: Op,
    size: f64,
    algo: Algo,
    channels: u32,
) -> Result<Plan, String> {
    let mut merged = Plan::new(op, algo);
    for (gi, g) in groups.iter().enumerate() {
        let mut p = lower(f, g, op, size, algo, channels).map_err(|e| e.to_string())?;
        if gi == 0 {
            merged.tree_latency = p.tree_latency;
            merged.nvls = p.nvls;
        }
        let base = f.links.len() as u32;
        let offset = merged.virtual_links.len() as u32;
        for ph in &mut p.phases {
            for fl in &mut ph.flows {
                if let Some(path) = &mut fl.path {
                    for l in path.iter_mut() {
                        if *l >= base {
                            *l += offset;
                        }
                    }
                }
            }
        }
        merged.virtual_links.extend(p.virtual_links);
        for (i, ph) in p.phases.into_iter().enumerate() {
            if merged.phases.len() <= i {
                merged.phases.push(Phase::default());
            }
            let dst = &mut merged.phases[i];
            dst.steps_nvlink = dst.steps_nvlink.max(ph.steps_nvlink);
            dst.steps_net = dst.steps_net.max(ph.steps_net);
            dst.flows.extend(ph.flows);
        }
    }
    Ok(merged)
}

/// Time of point-to-point sends between consecutive pipeline stages, every pair of every
/// replica at once in both directions (the 1F1B steady state).
fn p2p_cost(
    f: &Fabric,
    caps: &[f64],
    lay: &Layout,
    bytes: f64,
    fidelity: Fidelity,
) -> Result<(f64, Vec<(u32, f64)>), String> {
    if lay.pp < 2 || bytes <= 0.0 {
        return Ok((0.0, Vec::new()));
    }
    let mut ph = Phase::default();
    for dpo in 0..lay.dpo {
        for ep in 0..lay.ep {
            for cp in 0..lay.cp {
                for tp in 0..lay.tp {
                    for s in 0..lay.pp - 1 {
                        let a = lay.rank(tp, cp, ep, s, dpo);
                        let b = lay.rank(tp, cp, ep, s + 1, dpo);
                        let mut fw = PlanFlow::new(a, b, REF_SIZE);
                        fw.pxn = true;
                        let mut bw = PlanFlow::new(b, a, REF_SIZE);
                        bw.pxn = true;
                        ph.flows.push(fw);
                        ph.flows.push(bw);
                    }
                }
            }
        }
    }
    let single = f.domain_of(lay.rank(0, 0, 0, 0, 0)) == f.domain_of(lay.rank(0, 0, 0, 1, 0));
    ph.steps(
        if single {
            collective::constants::LinkClass::NvLink
        } else {
            collective::constants::LinkClass::Net
        },
        1,
    );
    let mut plan = Plan::new(Op::SendRecv, Algo::P2p);
    plan.phases.push(ph);
    let lat = latency(&plan, collective::constants::Protocol::Simple).unwrap_or(0.0);
    let (t, busy) = run_plan(f, caps, &plan, fidelity).map_err(|e| e.to_string())?;
    Ok((
        lat + t * bytes / REF_SIZE,
        busy.into_iter().map(|b| (b.link, b.utilisation)).collect(),
    ))
}

fn sum_time(cm: &ComputeModel, ops: &[OpDesc], precision: Precision) -> f64 {
    ops.iter().map(|o| cm.op_time(o, precision)).sum()
}

/// Simulate one step with the default placement order (TP, CP, EP, PP, DP, innermost first).
pub fn simulate(
    cluster: &str,
    f: &Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    cm: &ComputeModel,
    opts: &TrainOptions,
) -> Result<TrainReport, String> {
    simulate_ordered(cluster, f, model, plan, cm, opts, DEFAULT_ORDER)
}

/// The default placement: TP innermost, then CP, EP, PP, DP.
pub const DEFAULT_ORDER: [usize; 5] = [0, 1, 2, 3, 4];

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

/// Simulate one step with placement `order` (coordinate indices tp=0, cp=1, ep=2, pp=3,
/// dp=4, innermost first).
pub fn simulate_ordered(
    cluster: &str,
    f: &Fabric,
    model: &ModelSpec,
    plan: &ParallelPlan,
    cm: &ComputeModel,
    opts: &TrainOptions,
    order: [usize; 5],
) -> Result<TrainReport, String> {
    let mut warnings = Vec::new();
    let mut assumptions = Vec::new();
    let p = plan;
    check_plan(f, model, p)?;
    let world = p.world();
    let m = p.microbatches();
    if opts.full && 2 * m as u64 * p.pp as u64 * p.vp as u64 * p.dp as u64 > 4_000_000 {
        return Err(format!(
            "--full simulates every one of the {} data-parallel replicas: {} tasks, beyond the limit of 4,000,000 (drop --full)",
            p.dp,
            2 * m as u64 * p.pp as u64 * p.vp as u64 * p.dp as u64
        ));
    }
    let lay = Layout::new(p.tp, p.cp, p.ep, p.pp, p.dp / p.ep, order);
    let caps = effective_capacities(f);
    let acc = fabric::catalogue::accelerator(f.accel_model);
    let capacity = acc.map(|a| a.hbm.0).unwrap_or(0.0);
    let tokens_mb = p.mbs as u64 * p.seq;
    let act_bytes = (p.mbs as u64 * p.seq / p.cp as u64) as f64 * model.hidden as f64 * 2.0;

    // --- tensor parallel: per layer, forward 2 × (AG + RS) with SP or 2 all-reduces; backward the same.
    let tp_groups = lay.groups(Dim::Tp);
    let mut busiest: Vec<(u32, f64, &'static str)> = Vec::new();
    let (tp_per_layer, tp_algo) = if p.tp > 1 {
        if p.sequence_parallel {
            let (ag, l1) = concurrent(f, &caps, &tp_groups, Op::AllGather, act_bytes, opts.fidelity)?;
            let (rs, _) = concurrent(f, &caps, &tp_groups, Op::ReduceScatter, act_bytes, opts.fidelity)?;
            busiest.extend(l1.into_iter().map(|(l, u)| (l, u, "TP")));
            (2.0 * (ag.seconds + rs.seconds), ag.algo)
        } else {
            let (ar, l1) = concurrent(f, &caps, &tp_groups, Op::AllReduce, act_bytes, opts.fidelity)?;
            busiest.extend(l1.into_iter().map(|(l, u)| (l, u, "TP")));
            (2.0 * ar.seconds, ar.algo)
        }
    } else {
        (0.0, None)
    };
    if p.tp > 1 && tp_groups.iter().any(|g| !collective::plan::single_domain(f, g)) {
        warnings.push(format!(
            "TP groups of {} span scale-up domains: tensor-parallel traffic crosses the scale-out network",
            p.tp
        ));
    }

    // --- expert parallel: dispatch + combine all-to-all per MoE layer, forward and backward.
    let ep_groups = lay.groups(Dim::Ep);
    let ep_per_moe_layer = if let Some(moe) = &model.moe {
        let bytes = tokens_mb as f64 / p.cp as f64 * moe.top_k as f64 * model.hidden as f64 * 2.0 / p.tp as f64;
        if p.ep > 1 {
            let (a2a, l) = concurrent(f, &caps, &ep_groups, Op::AllToAll, bytes, opts.fidelity)?;
            busiest.extend(l.into_iter().map(|(l, u)| (l, u, "EP")));
            2.0 * a2a.seconds
        } else {
            0.0
        }
    } else {
        0.0
    };

    // --- context parallel: ring attention passes K/V around the CP ring, overlapped with the
    // attention compute of each block; only the excess is exposed.
    let cp_groups = lay.groups(Dim::Cp);
    let cp_kv_round = if p.cp > 1 {
        let kv = 2.0
            * (p.mbs as u64 * p.seq / p.cp as u64) as f64
            * (model.kv_heads as f64 * model.head_dim as f64 / p.tp as f64)
            * 2.0;
        let (c, l) = concurrent(f, &caps, &cp_groups, Op::SendRecv, kv, opts.fidelity)?;
        busiest.extend(l.into_iter().map(|(l, u)| (l, u, "CP")));
        c.seconds
    } else {
        0.0
    };

    // --- ZeRO-3 / FSDP: each layer's parameters are all-gathered over the DP group before its
    // forward and again before its backward (prefetched one layer ahead, so only the part longer
    // than the layer's compute is exposed); gradients are reduce-scattered per step below.
    let zero3_ag_per_layer = if p.zero == 3 && p.dp * p.cp > 1 {
        let layer_bytes = model.params() / model.layers as f64 / p.tp as f64 * 2.0;
        let (c, _) = concurrent(
            f,
            &caps,
            &lay.groups(Dim::Dp),
            Op::AllGather,
            layer_bytes,
            opts.fidelity,
        )?;
        c.seconds
    } else {
        0.0
    };
    let mut zero3_total = 0.0;

    // --- per-layer compute on one rank.
    let layers = model.layers;
    let chunks = p.pp * p.vp;
    if layers % chunks != 0 {
        warnings.push(format!(
            "{layers} layers do not split evenly over {chunks} pipeline chunks; later chunks take the remainder"
        ));
    }
    let per_chunk = |c: u32| -> std::ops::Range<u32> {
        let base = layers / chunks;
        let extra = layers % chunks;
        let start = c * base + c.min(extra);
        start..start + base + u32::from(c < extra)
    };
    let mut fwd = vec![vec![0.0; p.vp as usize]; p.pp as usize];
    let mut bwd = vec![vec![0.0; p.vp as usize]; p.pp as usize];
    let (mut compute_fwd_total, mut compute_bwd_total, mut recompute_total) = (0.0, 0.0, 0.0);
    let (mut tp_total, mut ep_total, mut cp_total) = (0.0, 0.0, 0.0);
    let mut hw_flops_rank0 = 0.0;
    let mut exec_flops_rank0 = 0.0;
    for s in 0..p.pp {
        for c in 0..p.vp {
            let v = c * p.pp + s;
            let mut tf = 0.0;
            let mut tb = 0.0;
            for layer in per_chunk(v) {
                let ops = flops::layer_ops(model, layer, p.mbs as u64, p.seq, p.tp, p.cp, p.ep, p.sequence_parallel);
                let back = flops::backward_ops(&ops);
                let f_t = sum_time(cm, &ops, p.precision);
                let b_t = sum_time(cm, &back, p.precision);
                let attn_f: f64 = ops
                    .iter()
                    .filter(|o| matches!(o.kind, workload::flops::OpKind::Attention { .. }))
                    .map(|o| cm.op_time(o, p.precision))
                    .sum();
                let re = match p.recompute {
                    Recompute::None => 0.0,
                    Recompute::Selective => attn_f,
                    Recompute::Full => f_t,
                };
                let moe_layer = model.layer_is_moe(layer);
                let ep_t = if moe_layer { ep_per_moe_layer } else { 0.0 };
                let cp_exposed = (cp_kv_round * (p.cp - 1) as f64 - attn_f).max(0.0);
                // With --tp-comm-overlap the collectives hide behind the layer's GEMMs.
                let gemm_f: f64 = ops
                    .iter()
                    .filter(|o| matches!(o.kind, workload::flops::OpKind::Gemm { .. }))
                    .map(|o| cm.op_time(o, p.precision))
                    .sum();
                let tp_f = if p.tp_comm_overlap {
                    (tp_per_layer - gemm_f).max(0.0)
                } else {
                    tp_per_layer
                };
                let tp_b = if p.tp_comm_overlap {
                    (tp_per_layer - 2.0 * gemm_f).max(0.0)
                } else {
                    tp_per_layer
                };
                let tp_re = if p.recompute == Recompute::Full { tp_f } else { 0.0 };
                let z3_f = (zero3_ag_per_layer - f_t).max(0.0);
                let z3_b = (zero3_ag_per_layer - b_t).max(0.0);
                tf += f_t + tp_f + ep_t + cp_exposed + z3_f;
                tb += b_t + re + tp_b + tp_re + ep_t + cp_exposed + z3_b;
                if s == 0 {
                    compute_fwd_total += f_t * m as f64;
                    compute_bwd_total += b_t * m as f64;
                    recompute_total += re * m as f64;
                    tp_total += (tp_f + tp_b + tp_re) * m as f64;
                    ep_total += 2.0 * ep_t * m as f64;
                    cp_total += 2.0 * cp_exposed * m as f64;
                    zero3_total += (z3_f + z3_b) * m as f64;
                    let fl: f64 = ops.iter().map(|o| o.flops).sum::<f64>() + back.iter().map(|o| o.flops).sum::<f64>();
                    let refl: f64 = match p.recompute {
                        Recompute::None => 0.0,
                        Recompute::Selective => ops
                            .iter()
                            .filter(|o| matches!(o.kind, workload::flops::OpKind::Attention { .. }))
                            .map(|o| o.flops)
                            .sum(),
                        Recompute::Full => ops.iter().map(|o| o.flops).sum(),
                    };
                    hw_flops_rank0 += (fl + refl) * m as f64;
                    exec_flops_rank0 += fl * m as f64;
                }
            }
            // Embedding on the first virtual stage, output layer and loss on the last.
            let mut edge: Vec<OpDesc> = Vec::new();
            if v == 0 {
                edge.extend(flops::embedding_ops(model, p.mbs as u64, p.seq / p.cp as u64));
            }
            if v == chunks - 1 {
                edge.extend(flops::output_ops(model, p.mbs as u64, p.seq / p.cp as u64, p.tp));
            }
            if !edge.is_empty() {
                let back = flops::backward_ops(&edge);
                let (ef, eb) = (sum_time(cm, &edge, p.precision), sum_time(cm, &back, p.precision));
                tf += ef;
                tb += eb;
                if s == 0 {
                    compute_fwd_total += ef * m as f64;
                    compute_bwd_total += eb * m as f64;
                }
            }
            fwd[s as usize][c as usize] = tf;
            bwd[s as usize][c as usize] = tb;
        }
    }

    // --- pipeline sends.
    let act_p2p_bytes = act_bytes / if p.sequence_parallel { p.tp as f64 } else { 1.0 };
    let (p2p, l_pp) = p2p_cost(
        f,
        &caps,
        &lay,
        act_bytes / if p.sequence_parallel { p.tp as f64 } else { 1.0 },
        opts.fidelity,
    )?;
    busiest.extend(l_pp.into_iter().map(|(l, u)| (l, u, "PP")));

    // --- data parallel gradient synchronisation of each stage's parameters.
    // Modern kernels (FlashAttention / cuDNN) keep no attention scores; no dropout in LLM recipes.
    let mem = memory(model, p);
    // Parameters held by one rank (dense: /TP/PP; experts also /EP), BF16 gradients.
    let (dense_share, expert_share) = param_split(model, p);
    let per_rank = model.params() / (p.tp as f64 * p.pp as f64);
    let dense_params = per_rank * dense_share;
    let expert_params = per_rank * expert_share / p.ep as f64;
    let params_rank = dense_params + expert_params;
    let mut dp_total = 0.0;
    let mut dp_comms: Vec<(Dim, Op, f64, CommCost)> = Vec::new();
    if p.dp * p.cp > 1 {
        let dp_groups = lay.groups(Dim::Dp);
        let dense_bytes = dense_params * 2.0;
        let ops: Vec<Op> = if p.zero == 0 {
            vec![Op::AllReduce]
        } else {
            vec![Op::ReduceScatter, Op::AllGather]
        };
        for (i, &op) in ops.iter().enumerate() {
            let (c, l) = concurrent(f, &caps, &dp_groups, op, dense_bytes, opts.fidelity)?;
            if i == 0 {
                busiest.extend(l.into_iter().map(|(l, u)| (l, u, "DP")));
            }
            dp_total += c.seconds;
            dp_comms.push((Dim::Dp, op, dense_bytes, c));
        }
        if expert_params > 0.0 && p.dp / p.ep * p.cp > 1 {
            let groups = lay.groups(Dim::DpExpert);
            for &op in &ops {
                let (c, _) = concurrent(f, &caps, &groups, op, expert_params * 2.0, opts.fidelity)?;
                dp_total += c.seconds;
                dp_comms.push((Dim::DpExpert, op, expert_params * 2.0, c));
            }
        }
        if p.zero == 3 {
            assumptions.push(format!(
                "ZeRO-3: per-layer parameter all-gather {} prefetched one layer ahead (exposed {:.1} ms per step on the first stage)",
                units::si(zero3_ag_per_layer, "s"),
                zero3_total * 1e3
            ));
        }
    }
    let dp_chunks = vec![vec![dp_total / p.vp as f64; p.vp as usize]; p.pp as usize];

    // --- optimizer: fused AdamW over this rank's (sharded) parameters.
    let opt_params = if p.zero >= 1 {
        params_rank / (p.dp * p.cp) as f64
    } else {
        params_rank
    };
    let opt_op = OpDesc {
        name: "adamw",
        kind: workload::flops::OpKind::Memory {
            what: workload::flops::MemoryOp::Optimizer,
        },
        flops: 0.0,
        bytes: 28.0 * opt_params,
    };
    let t_opt = cm.op_time(&opt_op, Precision::Bf16);

    let st = StageTimes {
        fwd,
        bwd,
        p2p,
        dp: dp_chunks,
        optimizer: vec![t_opt; p.pp as usize],
    };
    // One pipeline stands for every DP replica (they are identical); its gradient
    // synchronisation runs as real transfers of every group of the stage on the fabric when the
    // schedule releases it, so overlap between stages' syncs emerges. `full` also simulates every
    // replica's pipeline sends as transfers (no symmetry shortcut).
    let p2p_delay = if opts.full { None } else { Some(p2p) };
    let tl = full_schedule(
        f,
        &caps,
        &lay,
        p,
        m,
        &st,
        act_p2p_bytes,
        p2p_delay,
        &dp_comms,
        opts.fidelity,
    )?;
    let step = tl.step_time;

    // --- accounting.
    let tokens = p.gbs as f64 * p.seq as f64;
    let model_flops = flops::model_flops_per_token(model, p.seq) * tokens;
    // MFU and HFU against the dense BF16 peak (as Megatron and the published tables report).
    let peak = cm.accel.peak_bf16;
    let mfu = model_flops / (step * world as f64 * peak);
    // Hardware FLOPs: the model FLOPs plus what recomputation repeats, in the same accounting
    // (the executed op lists give the share recomputation adds).
    let recompute_share = if exec_flops_rank0 > 0.0 {
        hw_flops_rank0 / exec_flops_rank0
    } else {
        1.0
    };
    let hw_total = model_flops * recompute_share;
    let hfu = mfu * recompute_share;
    let busy0 = tl.busy[0];
    let dp_exposed = {
        let last_b = tl
            .spans
            .iter()
            .filter(|s| s.stage == 0 && s.stream == "compute")
            .map(|s| s.end)
            .fold(0.0, f64::max);
        let opt_start = tl
            .spans
            .iter()
            .filter(|s| s.stage == 0 && s.stream == "optimizer")
            .map(|s| s.start)
            .fold(0.0, f64::max);
        (opt_start - last_b).max(0.0)
    };
    let pp_hops = if p.pp > 1 { 2.0 * (p.pp - 1) as f64 * p2p } else { 0.0 };
    let idle = (step - busy0 - dp_exposed - t_opt).max(0.0);
    let pp_comm = pp_hops.min(idle);
    let bubble = idle - pp_comm;
    let breakdown = Breakdown {
        compute_s: compute_fwd_total + compute_bwd_total,
        recompute_s: recompute_total,
        tp_comm_s: tp_total,
        cp_comm_s: cp_total,
        ep_comm_s: ep_total,
        pp_comm_s: pp_comm,
        pipeline_bubble_s: bubble,
        dp_comm_s: dp_exposed + zero3_total,
        optimizer_s: t_opt,
    };
    let fits = mem.total() <= capacity;
    if !fits {
        warnings.push(format!(
            "plan does not fit: {:.1} GiB per accelerator against {:.1} GiB of HBM",
            mem.total() / 1073741824.0,
            capacity / 1073741824.0
        ));
    }
    if (world as usize) < f.accel_count() {
        warnings.push(format!(
            "the plan uses {} of the cluster's {} accelerators",
            world,
            f.accel_count()
        ));
    }
    if let Some(a) = tp_algo {
        assumptions.push(format!(
            "TP collectives: {a} (chosen like NCCL for one group, run for all groups at once)"
        ));
    }
    assumptions.push(format!(
        "compute model: {} peaks with the efficiency rule fitted to measured H100 kernels (docs/compute-model.md)",
        cm.accel.name
    ));
    assumptions.push("NCCL latency constants (tuning.cc) and link efficiencies in docs/calibration.md".into());
    // A link's busy share of the step: its utilisation during the collective that loads it,
    // times the time that kind of communication takes per step on one rank.
    let per_step = |d: &str| -> f64 {
        let t = match d {
            "TP" => tp_total,
            "EP" => ep_total,
            "CP" => cp_total,
            "PP" => 2.0 * m as f64 * p2p * (p.vp as f64),
            "DP" => dp_total,
            _ => 0.0,
        };
        (t / step).min(1.0)
    };
    let mut busiest: Vec<(u32, f64, &'static str)> =
        busiest.into_iter().map(|(l, u, d)| (l, u * per_step(d), d)).collect();
    busiest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    busiest.dedup_by_key(|x| x.0);
    let busiest_links = busiest
        .iter()
        .take(5)
        .map(|(l, u, d)| LinkReport {
            name: f.link_name(fabric::LinkId(*l)),
            utilisation: *u,
            during: (*d).into(),
        })
        .collect();
    Ok(TrainReport {
        schema_version: crate::SCHEMA_VERSION,
        fidelity: crate::collective::fidelity_name(opts.fidelity).into(),
        cluster: cluster.to_string(),
        accelerator: acc.map(|a| a.name.to_string()).unwrap_or_default(),
        accelerators_in_cluster: f.accel_count() as u64,
        model: model.name.clone(),
        model_params: model.params(),
        model_active_params: model.active_params(),
        plan: PlanReport {
            tp: p.tp,
            pp: p.pp,
            dp: p.dp,
            cp: p.cp,
            ep: p.ep,
            vp: p.vp,
            mbs: p.mbs,
            gbs: p.gbs,
            seq: p.seq,
            microbatches: m,
            zero: p.zero,
            recompute: format!("{:?}", p.recompute).to_lowercase(),
            precision: format!("{:?}", p.precision).to_lowercase(),
            sequence_parallel: p.sequence_parallel,
            schedule: if p.vp > 1 {
                format!("interleaved 1F1B (v = {})", p.vp)
            } else {
                "1F1B".into()
            },
            accelerators_used: world,
        },
        step_time_s: step,
        tokens_per_step: tokens,
        tokens_per_s: tokens / step,
        tokens_per_s_per_accel: tokens / step / world as f64,
        model_flops_per_step: model_flops,
        hardware_flops_per_step: hw_total,
        model_tflops_per_accel: model_flops / step / world as f64 / 1e12,
        hardware_tflops_per_accel: hw_total / step / world as f64 / 1e12,
        mfu,
        hfu,
        breakdown,
        memory_bytes_per_accel: mem.total(),
        memory: mem_report(&mem, capacity),
        fits,
        busiest_links,
        warnings,
        assumptions,
        timeline: Some(tl),
    })
}

fn mem_report(m: &MemoryBreakdown, capacity: f64) -> MemoryReport {
    MemoryReport {
        weights_bytes: m.weights,
        gradients_bytes: m.gradients,
        optimizer_bytes: m.optimizer,
        activations_bytes: m.activations,
        buffers_bytes: m.buffers,
        total_bytes: m.total(),
        capacity_bytes: capacity,
    }
}

/// Share of a rank's parameters that are dense (synchronised over all DP) and expert
/// (synchronised over DP / EP).
fn param_split(model: &ModelSpec, _p: &ParallelPlan) -> (f64, f64) {
    match &model.moe {
        None => (1.0, 0.0),
        Some(_) => {
            // Routed experts (sharded over EP); everything else is dense.
            let total = model.params();
            let expert: f64 = (0..model.layers).map(|l| model.layer_expert_params(l)).sum();
            let e = (expert / total).clamp(0.0, 1.0);
            (1.0 - e, e)
        }
    }
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
    if p.precision == Precision::Fp8
        && fabric::catalogue::accelerator(f.accel_model)
            .and_then(|a| a.fp8_dense)
            .is_none()
    {
        return Err(format!("--precision fp8: {} has no FP8", f.accel_model));
    }
    Ok(())
}

/// Chrome trace-event JSON (opens in Perfetto): one process per pipeline stage, one thread per
/// stream.
pub fn trace_json(r: &TrainReport) -> serde_json::Value {
    let mut events = Vec::new();
    if let Some(tl) = &r.timeline {
        let stages: u32 = tl.spans.iter().map(|s| s.stage + 1).max().unwrap_or(0);
        for s in 0..stages {
            events.push(serde_json::json!({"name": "process_name", "ph": "M", "pid": s, "tid": 0, "args": {"name": format!("pipeline stage {s}")}}));
            for (tid, name) in [(0, "compute"), (1, "p2p"), (2, "dp"), (3, "optimizer")] {
                events.push(
                    serde_json::json!({"name": "thread_name", "ph": "M", "pid": s, "tid": tid, "args": {"name": name}}),
                );
            }
        }
        for sp in &tl.spans {
            let tid = match sp.stream {
                "compute" => 0,
                "p2p" => 1,
                "dp" => 2,
                _ => 3,
            };
            events.push(serde_json::json!({
                "name": sp.name, "cat": sp.stream, "ph": "X", "pid": sp.stage, "tid": tid,
                "ts": sp.start * 1e6, "dur": (sp.end - sp.start) * 1e6,
            }));
        }
    }
    serde_json::json!({ "traceEvents": events, "displayTimeUnit": "ms", "otherData": { "fabricsim_schema_version": r.schema_version, "model": r.model, "cluster": r.cluster } })
}

/// Human report.
pub fn render(r: &TrainReport) -> String {
    use std::fmt::Write;
    use units::si;
    let mut s = String::new();
    let pct = |x: f64| x / r.step_time_s * 100.0;
    let _ = writeln!(
        s,
        "fabricsim {} · {} fidelity · schema {}",
        env!("CARGO_PKG_VERSION"),
        r.fidelity,
        r.schema_version
    );
    let _ = writeln!(
        s,
        "cluster  {} · {} × {}",
        r.cluster, r.accelerators_in_cluster, r.accelerator
    );
    let _ = writeln!(
        s,
        "model    {} · {:.1} B parameters ({:.1} B active) · seq {} · {}",
        r.model,
        r.model_params / 1e9,
        r.model_active_params / 1e9,
        r.plan.seq,
        r.plan.precision.to_uppercase()
    );
    let p = &r.plan;
    let _ = writeln!(
        s,
        "plan     TP {} · PP {} · DP {} · CP {} · EP {} ({} accelerators) · mbs {} · GBS {} ({} micro-batches) · {} · ZeRO-{} · {}{}",
        p.tp,
        p.pp,
        p.dp,
        p.cp,
        p.ep,
        p.accelerators_used,
        p.mbs,
        p.gbs,
        p.microbatches,
        p.schedule,
        p.zero,
        if p.recompute == "none" { "no recompute".to_string() } else { format!("{} recompute", p.recompute) },
        if p.sequence_parallel { " · sequence parallel" } else { "" }
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "step  {:>9}   tokens/s {}   per accelerator {:.0}   model TFLOP/s per accelerator {:.0}   MFU {:.1} %   HFU {:.1} %",
        si(r.step_time_s, "s"),
        si(r.tokens_per_s, ""),
        r.tokens_per_s_per_accel,
        r.model_tflops_per_accel,
        r.mfu * 100.0,
        r.hfu * 100.0
    );
    let b = &r.breakdown;
    let _ = writeln!(
        s,
        "  (first pipeline stage; communication is what the schedule leaves exposed)"
    );
    for (name, v, note) in [
        ("compute", b.compute_s, "forward + backward kernels"),
        ("recompute", b.recompute_s, "activation recomputation"),
        ("exposed TP comm", b.tp_comm_s, "tensor-parallel collectives"),
        ("exposed CP comm", b.cp_comm_s, "ring attention beyond overlap"),
        ("exposed EP comm", b.ep_comm_s, "expert all-to-all"),
        ("exposed PP comm", b.pp_comm_s, "activation / gradient sends"),
        ("pipeline bubble", b.pipeline_bubble_s, ""),
        (
            "exposed DP comm",
            b.dp_comm_s,
            "gradient sync after the last backward (+ ZeRO-3 gathers)",
        ),
        ("optimizer", b.optimizer_s, "fused AdamW"),
    ] {
        if v > 0.0 {
            let _ = writeln!(s, "  {:<18} {:>9}  {:>5.1} %   {}", name, si(v, "s"), pct(v), note);
        }
    }
    let g = 1073741824.0;
    let mm = &r.memory;
    let _ = writeln!(
        s,
        "memory per accelerator  {:.1} GiB of {:.1} GiB{}  (weights {:.1} · grads {:.1} · optimizer {:.1} · activations {:.1} · buffers {:.1})",
        mm.total_bytes / g,
        mm.capacity_bytes / g,
        if r.fits { "" } else { "  — DOES NOT FIT" },
        mm.weights_bytes / g,
        mm.gradients_bytes / g,
        mm.optimizer_bytes / g,
        mm.activations_bytes / g,
        mm.buffers_bytes / g
    );
    if !r.busiest_links.is_empty() {
        let _ = writeln!(s, "busiest links (share of the step each is busy)");
        for l in &r.busiest_links {
            let _ = writeln!(
                s,
                "  {:<64} {:>5.1} %  during {}",
                l.name,
                l.utilisation * 100.0,
                l.during
            );
        }
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning  {w}");
    }
    for a in &r.assumptions {
        let _ = writeln!(s, "assumed  {a}");
    }
    s
}

/// The compute model of a catalogue accelerator: its own peaks with the H100-fitted efficiency
/// rule (measured H100 kernels; other accelerators are an assumption, docs/compute-model.md).
pub fn compute_model_for(accel: &str) -> Option<ComputeModel> {
    if accel == "h100" {
        return Some(ComputeModel::h100());
    }
    let a = fabric::catalogue::accelerator(accel)?;
    Some(ComputeModel::from_peaks(
        a.name,
        a.bf16_dense.0,
        a.fp8_dense.map(|x| x.0),
        a.hbm_bw.0,
    ))
}

/// Communication as real flow transfers on the fabric, for the full (non-symmetric) simulation.
struct FullHooks<'a> {
    f: &'a Fabric,
    lay: &'a Layout,
    p2p_bytes: f64,
    p2p_latency: f64,
    /// Pipeline sends as a fixed (pre-priced) delay instead of transfers.
    p2p_delay: Option<f64>,
    /// Per DP synchronisation: the merged plan of all groups (at the chunk's size), its latency,
    /// and the protocol's payload share; `stage_groups` restricts flows to one stage.
    dp: Vec<(Plan, f64, f64)>,
    vp: u32,
    virtual_base: Vec<u32>,
}

impl schedule::Hooks for FullHooks<'_> {
    fn p2p(
        &mut self,
        e: &mut engine::Engine,
        replica: u32,
        from: u32,
        to: u32,
        _backward: bool,
        dep: engine::TaskId,
    ) -> Result<engine::TaskId, String> {
        if let Some(d) = self.p2p_delay {
            return e
                .add_task(engine::Task::Delay { seconds: d }, &[dep])
                .map_err(|e| e.to_string());
        }
        let (ep, dpo) = (replica % self.lay.ep, replica / self.lay.ep);
        let mut flows = Vec::new();
        for tp in 0..self.lay.tp {
            for cp in 0..self.lay.cp {
                let a = self.lay.rank(tp, cp, ep, from, dpo);
                let b = self.lay.rank(tp, cp, ep, to, dpo);
                let path = self
                    .f
                    .route_vec(a, b, 0, fabric::RouteOpts { pxn: true })
                    .map_err(|e| e.to_string())?;
                if !path.is_empty() && self.p2p_bytes > 0.0 {
                    flows.push(engine::Flow {
                        path,
                        bytes: self.p2p_bytes,
                        weight: 1,
                    });
                }
            }
        }
        e.add_task(
            engine::Task::Transfer {
                latency: self.p2p_latency,
                flows,
            },
            &[dep],
        )
        .map_err(|e| e.to_string())
    }

    fn dp(
        &mut self,
        e: &mut engine::Engine,
        stage: u32,
        _chunk: u32,
        deps: &[engine::TaskId],
    ) -> Result<engine::TaskId, String> {
        let mut last: Option<engine::TaskId> = None;
        let mut first_deps: Vec<engine::TaskId> = deps.to_vec();
        if self.dp.is_empty() {
            return e
                .add_task(engine::Task::Delay { seconds: 0.0 }, deps)
                .map_err(|e| e.to_string());
        }
        for (k, (plan, lat, share)) in self.dp.iter().enumerate() {
            for (i, ph) in plan.phases.iter().enumerate() {
                let mut flows = Vec::new();
                for fl in &ph.flows {
                    // Only this stage's groups: the flow's source sits on `stage`.
                    let src_stage = self.lay.stage_of(fl.src);
                    if src_stage != stage {
                        continue;
                    }
                    let path = match &fl.path {
                        Some(p) => p
                            .iter()
                            .map(|&l| {
                                if (l as usize) < self.f.links.len() {
                                    l
                                } else {
                                    l - self.f.links.len() as u32 + self.virtual_base[k]
                                }
                            })
                            .collect(),
                        None => self
                            .f
                            .route_vec(fl.src, fl.dst, fl.channel as u64, fabric::RouteOpts { pxn: fl.pxn })
                            .map_err(|e| e.to_string())?,
                    };
                    if !path.is_empty() && fl.bytes > 0.0 {
                        flows.push(engine::Flow {
                            path,
                            bytes: fl.bytes / self.vp as f64 / share,
                            weight: 1,
                        });
                    }
                }
                let latency = if i == 0 { *lat } else { 0.0 };
                let d: Vec<engine::TaskId> = match last {
                    Some(t) => vec![t],
                    None => std::mem::take(&mut first_deps),
                };
                last = Some(
                    e.add_task(engine::Task::Transfer { latency, flows }, &d)
                        .map_err(|e| e.to_string())?,
                );
            }
        }
        last.ok_or_else(|| "empty data-parallel plan".to_string())
    }
}

/// The full simulation: every DP replica's pipeline on one engine whose links are the fabric's,
/// pipeline sends and gradient synchronisation as flows when they happen.
#[allow(clippy::too_many_arguments)]
fn full_schedule(
    f: &Fabric,
    caps: &[f64],
    lay: &Layout,
    p: &ParallelPlan,
    m: u32,
    st: &StageTimes,
    p2p_bytes: f64,
    p2p_delay: Option<f64>,
    dp_comms: &[(Dim, Op, f64, CommCost)],
    fidelity: Fidelity,
) -> Result<Timeline, String> {
    let mut all_caps = caps.to_vec();
    let mut dp = Vec::new();
    let mut virtual_base = Vec::new();
    for (dim, op, bytes, cost) in dp_comms {
        let algo = cost.algo.ok_or("data-parallel synchronisation without an algorithm")?;
        let proto = cost.protocol.unwrap_or(collective::constants::Protocol::Simple);
        let plan = merge_groups(
            f,
            &lay.groups(*dim),
            *op,
            *bytes,
            algo,
            collective::constants::NET_CHANNELS,
        )?;
        virtual_base.push(all_caps.len() as u32);
        all_caps.extend_from_slice(&plan.virtual_links);
        dp.push((plan, cost.latency, proto.bandwidth_factor()));
    }
    let e = engine::Engine::new(all_caps, fidelity).map_err(|e| e.to_string())?;
    let single = f.domain_of(lay.rank(0, 0, 0, 0, 0)) == f.domain_of(lay.rank(0, 0, 0, 1.min(lay.pp - 1), 0));
    let class = if single {
        collective::constants::LinkClass::NvLink
    } else {
        collective::constants::LinkClass::Net
    };
    let p2p_latency = collective::constants::base_lat(false, collective::constants::Protocol::Simple)
        + collective::constants::hw_lat(class, false, collective::constants::Protocol::Simple);
    let replicas = if p2p_delay.is_some() { 1 } else { p.dp };
    let mut hooks = FullHooks {
        f,
        lay,
        p2p_bytes,
        p2p_latency,
        p2p_delay,
        dp,
        vp: p.vp,
        virtual_base,
    };
    schedule::simulate_with(p.pp, p.vp, m, replicas, st, e, &mut hooks)
}

/// Memory per accelerator of a plan, as `simulate` computes it.
pub fn memory(model: &ModelSpec, p: &ParallelPlan) -> MemoryBreakdown {
    memory_per_accel_with(
        model,
        p,
        &MemoryOptions {
            flash_attention: true,
            dropout: false,
            ..Default::default()
        },
    )
}

/// The least activation recomputation (none, then selective, then full) with which the plan
/// fits the accelerator's memory; `None` if even full recomputation does not fit.
pub fn least_recompute_that_fits(f: &Fabric, model: &ModelSpec, p: &ParallelPlan) -> Option<Recompute> {
    let capacity = fabric::catalogue::accelerator(f.accel_model)
        .map(|a| a.hbm.0)
        .unwrap_or(0.0);
    [Recompute::None, Recompute::Selective, Recompute::Full]
        .into_iter()
        .find(|&r| {
            memory(
                model,
                &ParallelPlan {
                    recompute: r,
                    ..p.clone()
                },
            )
            .total()
                <= capacity
        })
}
