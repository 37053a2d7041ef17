//! Expert parallelism in a training step: every MoE layer's dispatch and combine priced as
//! DeepEP's normal kernels on the fabric (`collective::moe`: NVLink forwarding inside a node,
//! RDMA across, node-limited routing, token dedup per node), all EP groups at once; their
//! overlap with computation; routing imbalance.
//!
//! **Kernels per MoE layer and micro-batch.** Forward: a dispatch (FP8 payload when the step
//! trains in FP8 — DeepSeek-V3 quantises the activations before the experts' up-projection and
//! dispatches them in FP8, arXiv:2412.19437 §3.3 — else BF16) and a BF16 combine. Backward: the
//! combine's gradient is a dispatch and the dispatch's gradient a combine, both BF16 (DeepEP
//! README: "the backward process of MoE dispatch is actually a combine"). Full recomputation
//! runs the layer's forward again, its dispatch and combine included.
//!
//! **Overlap** (DeepSeek's DualPipe, Megatron-Core's `--overlap-moe-expert-parallel-comm`, the
//! "1F1B A2A overlap"): the forward of one micro-batch is paired with the backward of another,
//! and each one's dispatch/combine runs while the other computes. Physical rule: a paired
//! forward + backward of a MoE layer takes `max(compute_f + compute_b, ep_f + ep_b)`, and while
//! the two overlap the communication kernels hold [`COMM_SM_FRACTION`] of the SMs, so the
//! overlapped compute runs that much slower. Passes with no partner (the pipeline's warm-up
//! forwards and cool-down backwards: `max(1, pp − 1 − stage)` of each per step) expose their
//! communication in full. Nothing here is fitted.
//!
//! **Imbalance** (`--moe-imbalance`, max/mean expert load, 1 = balanced as DeepEP's and
//! Megatron's benchmarks force it): the hottest rank of each EP group receives that many times
//! the mean in its dispatch (and sends it back in the combine), and its expert GEMMs process
//! that many times the mean tokens; the synchronous all-to-all makes every rank wait for it.
//!
//! **Grouped GEMMs** are the per-expert GEMMs of `workload::flops` at the per-expert token count
//! (`tokens × EP × top-k / experts`), priced by the compute model's shape-dependent efficiency.

use super::comm::{CheckScope, CommCost, CommCosts, CommKind, FidelityCheck, LinkLoad, PricedComm};
use super::layout::{Dim, Placement};
use collective::moe::{MoeDtype, MoeKernel, MoeOp, MoeSpec};
use collective::Op;
use engine::Fidelity;
use fabric::Fabric;
use workload::flops::{OpDesc, OpKind};
use workload::{ModelSpec, Precision};

/// SMs DeepEP's dispatch/combine kernels occupy while they overlap computation: 20 of the H800's
/// 132 (DeepSeek-V3, arXiv:2412.19437 §3.2.2: "only 20 SMs are sufficient to fully utilize the
/// bandwidths of IB and NVLink"; H800 SXM5: 132 SMs, as H100 SXM5).
pub const COMM_SMS: f64 = 20.0;
pub const GPU_SMS: f64 = 132.0;
pub const COMM_SM_FRACTION: f64 = COMM_SMS / GPU_SMS;

/// The priced dispatch/combine of one MoE layer for one micro-batch.
#[derive(Debug, Clone, PartialEq)]
pub struct MoeEp {
    pub dispatch_fwd_s: f64,
    pub combine_fwd_s: f64,
    /// Backward: a BF16 dispatch (the combine's gradient) and a BF16 combine (the dispatch's).
    pub dispatch_bwd_s: f64,
    pub combine_bwd_s: f64,
    pub tokens_per_rank: u64,
    pub dispatch_dtype: MoeDtype,
    pub imbalance: f64,
    /// The EP groups span scale-up domains (RDMA in the path).
    pub cross_node: bool,
    /// Dispatch and combine overlap the other micro-batch's computation.
    pub overlap: bool,
}

impl MoeEp {
    pub fn forward_s(&self) -> f64 {
        self.dispatch_fwd_s + self.combine_fwd_s
    }
    pub fn backward_s(&self) -> f64 {
        self.dispatch_bwd_s + self.combine_bwd_s
    }
}

/// Tokens each rank dispatches per micro-batch and MoE layer (sequence split over CP and TP).
fn tokens_per_rank(pl: &Placement) -> u64 {
    let p = &pl.plan;
    (p.mbs as u64 * p.seq).div_ceil(p.cp as u64 * p.tp as u64).max(1)
}

/// The forward dispatch's data type: FP8 in FP8 training (DeepEP), else BF16.
fn dispatch_dtype(pl: &Placement) -> MoeDtype {
    match pl.plan.precision {
        Precision::Fp8 => MoeDtype::Fp8,
        _ => MoeDtype::Bf16,
    }
}

/// The DeepEP run of `op` in `dtype` that [`price`] asks for.
fn spec(pl: &Placement, model: &ModelSpec, m: &workload::Moe, imbalance: f64, op: MoeOp, dtype: MoeDtype) -> MoeSpec {
    MoeSpec {
        dtype,
        imbalance,
        ..MoeSpec::new(
            op,
            MoeKernel::Normal,
            tokens_per_rank(pl),
            model.hidden,
            m.top_k,
            m.experts,
        )
    }
}

/// The EP groups and every DeepEP run [`price`] asks the memo for (forward dispatch, combine,
/// and the backward's BF16 dispatch when the forward's is FP8), for the memo to compute them
/// up front; none without expert parallelism.
pub(super) fn requests(pl: &Placement, model: &ModelSpec, imbalance: f64) -> Option<(Vec<Vec<u32>>, Vec<MoeSpec>)> {
    let m = model.moe.as_ref()?;
    if pl.plan.ep <= 1 {
        return None;
    }
    let dd = dispatch_dtype(pl);
    let mut specs = vec![
        spec(pl, model, m, imbalance, MoeOp::Dispatch, dd),
        spec(pl, model, m, imbalance, MoeOp::Combine, MoeDtype::Bf16),
    ];
    if dd != MoeDtype::Bf16 {
        specs.push(spec(pl, model, m, imbalance, MoeOp::Dispatch, MoeDtype::Bf16));
    }
    Some((pl.layout.groups(Dim::Ep).to_vec(), specs))
}

/// Price the EP dispatch/combine of one MoE layer; sets `out.ep_per_moe_layer` (forward) and
/// `out.moe`. Nothing to do for dense models or EP 1.
pub fn price(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    fidelity: Fidelity,
    imbalance: f64,
    out: &mut CommCosts,
    memo: &mut super::comm::Memo,
) -> Result<(), String> {
    let p = &pl.plan;
    let Some(m) = &model.moe else { return Ok(()) };
    if p.ep <= 1 {
        return Ok(());
    }
    let groups = pl.layout.groups(Dim::Ep);
    let tokens = tokens_per_rank(pl);
    let dispatch_dtype = dispatch_dtype(pl);
    let spec = |op: MoeOp, dtype: MoeDtype| spec(pl, model, m, imbalance, op, dtype);
    let mut run = |s: MoeSpec| {
        memo.moe(f, &groups, &s, fidelity)
            .map_err(|e| format!("--ep {}: {e}", p.ep))
    };
    let d_f = run(spec(MoeOp::Dispatch, dispatch_dtype))?;
    let c_f = run(spec(MoeOp::Combine, MoeDtype::Bf16))?;
    let d_b = if dispatch_dtype == MoeDtype::Bf16 {
        d_f.clone()
    } else {
        run(spec(MoeOp::Dispatch, MoeDtype::Bf16))?
    };
    let n_links = f.links.len() as u32;
    for (r, dtype) in [(&*d_f, dispatch_dtype), (&*c_f, MoeDtype::Bf16)] {
        out.link_loads
            .extend(r.bottlenecks.iter().filter(|b| b.link < n_links).map(|b| LinkLoad {
                link: b.link,
                utilisation: b.utilisation,
                during: CommKind::Ep,
            }));
        out.collectives.push(PricedComm {
            kind: CommKind::Ep,
            dim: Some(Dim::Ep),
            op: Op::AllToAll,
            bytes: tokens as f64 * m.top_k as f64 * spec(r.spec.op, dtype).token_bytes(),
            group_size: groups.first().map_or(0, |g| g.len() as u32),
            groups: groups.len() as u32,
            // No NCCL algorithm: DeepEP's kernels (and no NCCL flow re-check of them).
            cost: CommCost {
                seconds: r.time_s,
                algo: None,
                protocol: None,
                latency: r.latency_s,
            },
        });
    }
    let cross_node = d_f.bytes.nodes > 1;
    let ep = MoeEp {
        dispatch_fwd_s: d_f.time_s,
        combine_fwd_s: c_f.time_s,
        dispatch_bwd_s: d_b.time_s,
        combine_bwd_s: c_f.time_s,
        tokens_per_rank: tokens,
        dispatch_dtype,
        imbalance,
        cross_node,
        overlap: true,
    };
    out.ep_per_moe_layer = ep.forward_s();
    out.moe = Some(ep);
    Ok(())
}

/// At analytical fidelity: the forward dispatch priced again under the flow model, all EP groups
/// together (the comm stage's fidelity check for the EP dimension).
pub fn fidelity_check(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    out: &CommCosts,
    memo: &mut super::comm::Memo,
) -> Result<Option<FidelityCheck>, String> {
    let (Some(ep), Some((groups, s))) = (&out.moe, check_run(pl, model, out)) else {
        return Ok(None);
    };
    let p = &pl.plan;
    let flow = memo
        .moe(f, &groups, &s, Fidelity::Flow)
        .map_err(|e| format!("--ep {}: {e}", p.ep))?;
    Ok(Some(FidelityCheck {
        kind: CommKind::Ep,
        op: Op::AllToAll,
        scope: CheckScope::AllGroups,
        analytical_s: ep.dispatch_fwd_s,
        flow_s: flow.time_s,
        stages: 1,
    }))
}

/// The DeepEP run [`fidelity_check`] prices under the flow model (its groups and spec), if any.
pub(crate) fn check_run(pl: &Placement, model: &ModelSpec, out: &CommCosts) -> Option<(Vec<Vec<u32>>, MoeSpec)> {
    let (Some(ep), Some(m)) = (&out.moe, &model.moe) else {
        return None;
    };
    let s = MoeSpec {
        dtype: ep.dispatch_dtype,
        imbalance: ep.imbalance,
        ..MoeSpec::new(
            MoeOp::Dispatch,
            MoeKernel::Normal,
            ep.tokens_per_rank,
            model.hidden,
            m.top_k,
            m.experts,
        )
    };
    Some((pl.layout.groups(Dim::Ep).to_vec(), s))
}

/// Seconds per step the EP links carry dispatch/combine on an average stage, hidden or not
/// (what a link's busy share counts); 0 without DeepEP pricing.
pub fn link_busy_s(comm: &CommCosts, pl: &Placement, model: &ModelSpec) -> f64 {
    let Some(ep) = &comm.moe else { return 0.0 };
    let p = &pl.plan;
    let re = if p.recompute == workload::Recompute::Full {
        ep.forward_s()
    } else {
        0.0
    };
    let layers = model.moe_layers() as f64 / p.pp as f64;
    (ep.forward_s() + ep.backward_s() + re) * layers * pl.microbatches as f64
}

/// The forward ops of the multi-token-prediction modules (DeepSeek-V3 §2.2: per module, RMSNorm
/// of the hidden state and of the next token's embedding, a projection 2h → h, one transformer
/// layer, the shared output head and its loss), run after the output layer on the last stage.
pub fn mtp_ops(model: &ModelSpec, p: &workload::ParallelPlan) -> Vec<OpDesc> {
    let mut ops = Vec::new();
    let t = p.mbs as u64 * p.seq / p.cp as u64;
    let h = model.hidden;
    let n = h.div_ceil(p.tp as u64);
    for _ in 0..model.mtp_layers {
        ops.push(OpDesc {
            name: "mtp_proj",
            kind: OpKind::Gemm {
                m: t,
                n,
                k: 2 * h,
                pass: workload::flops::Pass::Fwd,
            },
            flops: 2.0 * t as f64 * n as f64 * 2.0 * h as f64,
            bytes: 2.0 * (t as f64 * 2.0 * h as f64 + 2.0 * h as f64 * n as f64 + t as f64 * n as f64),
        });
        let last = model.layers.saturating_sub(1);
        ops.extend(workload::flops::layer_ops(
            model,
            last,
            p.mbs as u64,
            p.seq,
            p.tp,
            p.cp,
            p.ep,
            p.sequence_parallel,
        ));
        ops.extend(workload::flops::output_ops(model, p.mbs as u64, t, p.tp));
    }
    ops
}

/// The EP dispatch/combine of the MTP modules' MoE layers, exposed as a layer's are (added to
/// the output block of the last stage).
pub fn mtp_exposed(
    block: &mut super::timing::BlockTiming,
    comm: &CommCosts,
    pl: &Placement,
    stage: u32,
    model: &ModelSpec,
) {
    if model.mtp_layers == 0 || !model.layer_is_moe(model.layers.saturating_sub(1)) {
        return;
    }
    let (f, b) = layer_exposed(comm, pl, stage, true, block.forward.compute_s, block.backward.compute_s);
    block.forward.ep_s += f * model.mtp_layers as f64;
    block.backward.ep_s += b * model.mtp_layers as f64;
}

/// The algorithm name of a priced collective: NCCL's, or `deepep-normal` for the EP dispatch
/// and combine priced here.
pub fn algorithm_name(c: &PricedComm) -> &'static str {
    match c.cost.algo {
        Some(a) => a.name(),
        None if c.kind == CommKind::Ep => "deepep-normal",
        None => "",
    }
}

/// What the step assumed about expert parallelism and MTP, one sentence each.
pub fn assumptions(comm: &CommCosts, model: &ModelSpec) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(ep) = &comm.moe {
        a.push(format!(
            "EP: dispatch and combine as DeepEP's normal kernels ({}; {} tokens per rank, {} dispatch, BF16 combine, BF16 in the backward; {:.2} + {:.2} ms forward per MoE layer)",
            if ep.cross_node {
                "RDMA once per node on the same rail, NVLink forwarding, at most 4 nodes per token"
            } else {
                "inside one NVLink domain"
            },
            ep.tokens_per_rank,
            ep.dispatch_dtype.name().to_uppercase(),
            ep.dispatch_fwd_s * 1e3,
            ep.combine_fwd_s * 1e3
        ));
        a.push(format!(
            "EP overlap: a paired forward and backward of two micro-batches (DualPipe, 1F1B A2A overlap) hide each other's dispatch/combine; the kernels hold {COMM_SMS:.0} of {GPU_SMS:.0} SMs while overlapping; the 1F1B warm-up and cool-down passes expose theirs"
        ));
        a.push(if ep.imbalance > 1.0 {
            format!(
                "routing imbalance {}: the hottest rank's expert GEMMs and dispatch carry {}× the mean (--moe-imbalance)",
                ep.imbalance, ep.imbalance
            )
        } else {
            "routing balanced (max/mean expert load 1, as benchmarks force it; --moe-imbalance sets it)".into()
        });
    }
    if model.mtp_layers > 0 {
        a.push(format!(
            "MTP: {} multi-token-prediction module(s) after the output layer on the last stage (projection, one layer, the output head again); outside model FLOPs",
            model.mtp_layers
        ));
    }
    a
}

/// Share of a stage's passes that have a partner pass to overlap with (module notes): all but
/// `max(1, pp − 1 − stage)` of its `m` forwards (and as many backwards).
pub fn paired_fraction(m: u32, pp: u32, stage: u32) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let alone = (pp.saturating_sub(1 + stage)).max(1).min(m);
    (m - alone) as f64 / m as f64
}

/// Exposed EP time of one MoE layer's forward and backward pass, averaged over a stage's
/// micro-batches (`paired` of them overlapped), given the layer's forward and backward compute
/// (recompute included). Returns (forward, backward) seconds, SM slow-down included.
pub fn exposed(ep: &MoeEp, full_recompute: bool, fwd_compute: f64, bwd_compute: f64, paired: f64) -> (f64, f64) {
    let ef = ep.forward_s();
    let eb = ep.backward_s() + if full_recompute { ep.forward_s() } else { 0.0 };
    if !ep.overlap || paired <= 0.0 {
        return (ef, eb);
    }
    let comm = ef + eb;
    let compute = fwd_compute + bwd_compute;
    let hidden_window = comm.min(compute);
    let slowdown = hidden_window * COMM_SM_FRACTION / (1.0 - COMM_SM_FRACTION);
    let pair = (comm - compute).max(0.0) + slowdown;
    let share_f = if comm > 0.0 { ef / comm } else { 0.5 };
    let f = (1.0 - paired) * ef + paired * pair * share_f;
    let b = (1.0 - paired) * eb + paired * pair * (1.0 - share_f);
    (f, b)
}

/// The hottest rank's expert work: expert GEMMs and activations with `imbalance` × the mean
/// tokens (a no-op at 1).
pub fn imbalance_ops(ops: &mut [OpDesc], imbalance: f64) {
    if imbalance <= 1.0 {
        return;
    }
    for op in ops.iter_mut() {
        if !op.name.starts_with("expert_") {
            continue;
        }
        if let OpKind::Gemm { m, n, k, .. } = &mut op.kind {
            let old = *m as f64;
            let new = (old * imbalance).ceil();
            *m = new as u64;
            let (nf, kf) = (*n as f64, *k as f64);
            op.flops = 2.0 * new * nf * kf;
            op.bytes = 2.0 * (new * kf + kf * nf + new * nf);
        } else {
            op.flops *= imbalance;
            op.bytes *= imbalance;
        }
    }
}

/// The forward and backward ops of the hottest rank of a MoE layer under imbalance (`None`
/// when balanced or not a MoE layer: the ops as they are). FLOPs are counted on the mean ops.
pub fn hottest_ops(ops: &[OpDesc], comm: &CommCosts, moe_layer: bool) -> Option<(Vec<OpDesc>, Vec<OpDesc>)> {
    let ep = comm.moe.as_ref()?;
    if !moe_layer || ep.imbalance <= 1.0 {
        return None;
    }
    let mut o = ops.to_vec();
    imbalance_ops(&mut o, ep.imbalance);
    let b = workload::flops::backward_ops(&o);
    Some((o, b))
}

/// Exposed EP time of one layer's forward and backward on `stage` (0 for a dense layer);
/// without DeepEP pricing (dense model, EP 1) the plain per-layer figure.
pub fn layer_exposed(
    comm: &CommCosts,
    pl: &Placement,
    stage: u32,
    moe_layer: bool,
    fwd_compute: f64,
    bwd_compute: f64,
) -> (f64, f64) {
    if !moe_layer {
        return (0.0, 0.0);
    }
    let Some(ep) = &comm.moe else {
        return (comm.ep_per_moe_layer, comm.ep_per_moe_layer);
    };
    let p = &pl.plan;
    let paired = paired_fraction(pl.microbatches, p.pp, stage);
    let full = p.recompute == workload::Recompute::Full;
    exposed(ep, full, fwd_compute, bwd_compute, paired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(f: f64, b: f64) -> MoeEp {
        MoeEp {
            dispatch_fwd_s: f / 2.0,
            combine_fwd_s: f / 2.0,
            dispatch_bwd_s: b / 2.0,
            combine_bwd_s: b / 2.0,
            tokens_per_rank: 4096,
            dispatch_dtype: MoeDtype::Bf16,
            imbalance: 1.0,
            cross_node: true,
            overlap: true,
        }
    }

    #[test]
    fn overlap_hides_communication_behind_the_partner_pass() {
        // Compute 3 + 6 ms against 1 + 1 ms of EP: hidden, only the SM share costs.
        let (f, b) = exposed(&ep(1.0, 1.0), false, 3.0, 6.0, 1.0);
        let slow = 2.0 * 20.0 / 112.0;
        assert!((f + b - slow).abs() < 1e-12, "{f} {b}");
        // No partner: everything exposed.
        assert_eq!(exposed(&ep(1.0, 1.0), false, 3.0, 6.0, 0.0), (1.0, 1.0));
        // Communication longer than compute: the excess shows.
        let (f, b) = exposed(&ep(5.0, 5.0), false, 1.0, 2.0, 1.0);
        assert!((f + b - (7.0 + 3.0 * 20.0 / 112.0)).abs() < 1e-12);
        // Full recompute dispatches again in the backward.
        let (_, b) = exposed(&ep(1.0, 1.0), true, 0.0, 0.0, 0.0);
        assert_eq!(b, 2.0);
        // Overlap off: as with no partner.
        let off = MoeEp {
            overlap: false,
            ..ep(1.0, 1.0)
        };
        assert_eq!(exposed(&off, false, 3.0, 6.0, 1.0), (1.0, 1.0));
    }

    #[test]
    fn paired_fraction_of_1f1b() {
        // 120 micro-batches on 16 stages: stage 0 has 15 warm-up forwards, the last stage 1.
        assert!((paired_fraction(120, 16, 0) - 105.0 / 120.0).abs() < 1e-12);
        assert!((paired_fraction(120, 16, 15) - 119.0 / 120.0).abs() < 1e-12);
        assert_eq!(paired_fraction(1, 1, 0), 0.0);
        assert_eq!(paired_fraction(4, 8, 0), 0.0);
    }

    #[test]
    fn imbalance_scales_expert_gemms_only() {
        let mut ops = vec![
            OpDesc {
                name: "expert_fc1",
                kind: OpKind::Gemm {
                    m: 100,
                    n: 10,
                    k: 10,
                    pass: workload::flops::Pass::Fwd,
                },
                flops: 2.0 * 100.0 * 100.0,
                bytes: 0.0,
            },
            OpDesc {
                name: "fc1",
                kind: OpKind::Gemm {
                    m: 100,
                    n: 10,
                    k: 10,
                    pass: workload::flops::Pass::Fwd,
                },
                flops: 2.0 * 100.0 * 100.0,
                bytes: 0.0,
            },
        ];
        imbalance_ops(&mut ops, 1.5);
        assert!(matches!(ops[0].kind, OpKind::Gemm { m: 150, .. }));
        assert_eq!(ops[0].flops, 2.0 * 150.0 * 100.0);
        assert!(matches!(ops[1].kind, OpKind::Gemm { m: 100, .. }));
    }
}
