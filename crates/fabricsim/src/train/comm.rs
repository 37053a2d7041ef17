//! Stage 2 of a training step: **communication costs**. Price every collective of one step on
//! the real fabric — tensor-, context- and expert-parallel collectives, ZeRO-3 parameter
//! gathers, pipeline sends and data-parallel gradient synchronisation — each with every group
//! of its dimension at once, so groups contend where they share links.
//!
//! The output, [`CommCosts`], holds durations per occurrence (per layer, per send, per step);
//! how much of each is exposed is decided by the stage-timing and schedule stages.

use super::layout::{Dim, Layout, Placement};
use super::memory::param_split;
use collective::constants::{LinkClass, Protocol};
use collective::plan::{Phase, Plan, PlanFlow};
use collective::simulate::{latency, lower, run_plan, Options, REF_SIZE};
use collective::{Algo, Op};
use engine::Fidelity;
use fabric::Fabric;
use workload::ModelSpec;

/// Communication time of one collective on all groups of a dimension at once.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommCost {
    pub seconds: f64,
    pub algo: Option<Algo>,
    pub protocol: Option<Protocol>,
    /// The latency part of `seconds`.
    pub latency: f64,
}

/// The kind of communication a link load comes from (the `during` of a busiest link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommKind {
    Tp,
    Ep,
    Cp,
    Pp,
    Dp,
}

impl CommKind {
    pub fn label(self) -> &'static str {
        match self {
            CommKind::Tp => "TP",
            CommKind::Ep => "EP",
            CommKind::Cp => "CP",
            CommKind::Pp => "PP",
            CommKind::Dp => "DP",
        }
    }
}

/// A link's utilisation while one kind of communication runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkLoad {
    pub link: u32,
    pub utilisation: f64,
    pub during: CommKind,
}

/// One data-parallel synchronisation collective (all groups of `dim` at once).
#[derive(Debug, Clone, PartialEq)]
pub struct DpSync {
    pub dim: Dim,
    pub op: Op,
    pub bytes: f64,
    pub cost: CommCost,
}

/// Every communication of one step, priced.
#[derive(Debug, Clone, Default)]
pub struct CommCosts {
    /// Tensor-parallel collectives of one layer's forward (the backward has the same).
    pub tp_per_layer: f64,
    pub tp_algo: Option<Algo>,
    /// Expert dispatch + combine of one MoE layer in one direction.
    pub ep_per_moe_layer: f64,
    /// One round of the context-parallel K/V ring.
    pub cp_kv_round: f64,
    /// ZeRO-3 all-gather of one layer's parameters.
    pub zero3_ag_per_layer: f64,
    /// One activation (or gradient) send between consecutive stages, every pair at once.
    pub p2p: f64,
    /// Bytes of one such send per rank.
    pub p2p_bytes: f64,
    /// Gradient synchronisation collectives of each stage (dense, then expert).
    pub dp: Vec<DpSync>,
    /// Their summed time.
    pub dp_total: f64,
    /// Link utilisations while each kind of communication runs, in pricing order.
    pub link_loads: Vec<LinkLoad>,
    pub warnings: Vec<String>,
}

/// Price every communication of the step.
pub fn price(f: &Fabric, pl: &Placement, model: &ModelSpec, fidelity: Fidelity) -> Result<CommCosts, String> {
    let p = &pl.plan;
    let lay = &pl.layout;
    let caps = &pl.caps;
    let mut out = CommCosts::default();
    let tokens_mb = p.mbs as u64 * p.seq;
    let act_bytes = (p.mbs as u64 * p.seq / p.cp as u64) as f64 * model.hidden as f64 * 2.0;

    // Tensor parallel: per layer, forward 2 × (AG + RS) with SP or 2 all-reduces; backward the same.
    let tp_groups = lay.groups(Dim::Tp);
    if p.tp > 1 {
        if p.sequence_parallel {
            let (ag, l1) = concurrent(f, caps, &tp_groups, Op::AllGather, act_bytes, fidelity)?;
            let (rs, _) = concurrent(f, caps, &tp_groups, Op::ReduceScatter, act_bytes, fidelity)?;
            load(l1, CommKind::Tp, &mut out);
            out.tp_per_layer = 2.0 * (ag.seconds + rs.seconds);
            out.tp_algo = ag.algo;
        } else {
            let (ar, l1) = concurrent(f, caps, &tp_groups, Op::AllReduce, act_bytes, fidelity)?;
            load(l1, CommKind::Tp, &mut out);
            out.tp_per_layer = 2.0 * ar.seconds;
            out.tp_algo = ar.algo;
        }
        if tp_groups.iter().any(|g| !collective::plan::single_domain(f, g)) {
            out.warnings.push(format!(
                "TP groups of {} span scale-up domains: tensor-parallel traffic crosses the scale-out network",
                p.tp
            ));
        }
    }

    // Expert parallel: dispatch + combine all-to-all per MoE layer.
    if let Some(moe) = &model.moe {
        if p.ep > 1 {
            let bytes = tokens_mb as f64 / p.cp as f64 * moe.top_k as f64 * model.hidden as f64 * 2.0 / p.tp as f64;
            let (a2a, l) = concurrent(f, caps, &lay.groups(Dim::Ep), Op::AllToAll, bytes, fidelity)?;
            load(l, CommKind::Ep, &mut out);
            out.ep_per_moe_layer = 2.0 * a2a.seconds;
        }
    }

    // Context parallel: ring attention passes K/V around the CP ring.
    if p.cp > 1 {
        let kv = 2.0
            * (p.mbs as u64 * p.seq / p.cp as u64) as f64
            * (model.kv_heads as f64 * model.head_dim as f64 / p.tp as f64)
            * 2.0;
        let (c, l) = concurrent(f, caps, &lay.groups(Dim::Cp), Op::SendRecv, kv, fidelity)?;
        load(l, CommKind::Cp, &mut out);
        out.cp_kv_round = c.seconds;
    }

    // ZeRO-3 / FSDP: each layer's parameters are all-gathered over the DP group before its
    // forward and again before its backward.
    if p.zero == 3 && p.dp * p.cp > 1 {
        let layer_bytes = model.params() / model.layers as f64 / p.tp as f64 * 2.0;
        let (c, _) = concurrent(f, caps, &lay.groups(Dim::Dp), Op::AllGather, layer_bytes, fidelity)?;
        out.zero3_ag_per_layer = c.seconds;
    }

    // Pipeline sends.
    out.p2p_bytes = act_bytes / if p.sequence_parallel { p.tp as f64 } else { 1.0 };
    let (p2p, l_pp) = p2p_cost(f, pl, out.p2p_bytes, fidelity)?;
    out.p2p = p2p;
    load(l_pp, CommKind::Pp, &mut out);

    // Data-parallel gradient synchronisation of each stage's parameters (BF16 gradients;
    // dense parameters over DP × CP, routed experts over DPo × CP).
    if p.dp * p.cp > 1 {
        let (dense_share, expert_share) = param_split(model);
        let per_rank = model.params() / (p.tp as f64 * p.pp as f64);
        let dense_params = per_rank * dense_share;
        let expert_params = per_rank * expert_share / p.ep as f64;
        let ops: Vec<Op> = if p.zero == 0 {
            vec![Op::AllReduce]
        } else {
            vec![Op::ReduceScatter, Op::AllGather]
        };
        let dp_groups = lay.groups(Dim::Dp);
        for (i, &op) in ops.iter().enumerate() {
            let bytes = dense_params * 2.0;
            let (c, l) = concurrent(f, caps, &dp_groups, op, bytes, fidelity)?;
            if i == 0 {
                load(l, CommKind::Dp, &mut out);
            }
            out.dp_total += c.seconds;
            out.dp.push(DpSync {
                dim: Dim::Dp,
                op,
                bytes,
                cost: c,
            });
        }
        if expert_params > 0.0 && p.dp / p.ep * p.cp > 1 {
            let groups = lay.groups(Dim::DpExpert);
            for &op in &ops {
                let bytes = expert_params * 2.0;
                let (c, _) = concurrent(f, caps, &groups, op, bytes, fidelity)?;
                out.dp_total += c.seconds;
                out.dp.push(DpSync {
                    dim: Dim::DpExpert,
                    op,
                    bytes,
                    cost: c,
                });
            }
        }
    }
    Ok(out)
}

fn load(links: Vec<(u32, f64)>, during: CommKind, out: &mut CommCosts) {
    out.link_loads
        .extend(links.into_iter().map(|(link, utilisation)| LinkLoad {
            link,
            utilisation,
            during,
        }));
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
fn p2p_cost(f: &Fabric, pl: &Placement, bytes: f64, fidelity: Fidelity) -> Result<(f64, Vec<(u32, f64)>), String> {
    let lay: &Layout = &pl.layout;
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
    ph.steps(p2p_link_class(f, pl), 1);
    let mut plan = Plan::new(Op::SendRecv, Algo::P2p);
    plan.phases.push(ph);
    let lat = latency(&plan, Protocol::Simple).unwrap_or(0.0);
    let (t, busy) = run_plan(f, &pl.caps, &plan, fidelity).map_err(|e| e.to_string())?;
    Ok((
        lat + t * bytes / REF_SIZE,
        busy.into_iter().map(|b| (b.link, b.utilisation)).collect(),
    ))
}

/// The link class pipeline sends travel on: scale-up when consecutive stages share a domain.
pub fn p2p_link_class(f: &Fabric, pl: &Placement) -> LinkClass {
    if pl.pp_in_domain(f) {
        LinkClass::NvLink
    } else {
        LinkClass::Net
    }
}
