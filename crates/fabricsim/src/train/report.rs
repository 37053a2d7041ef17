//! Stage 5 of a training step: **the report**. Turn the placement, communication costs, stage
//! timings and the scheduled timeline into the `train --json` schema: step time, throughput,
//! MFU/HFU, the breakdown of the slowest pipeline stage (the most busy time: the one that sets
//! the pace), every stage's accounting, memory, busiest links, warnings and assumptions.
//!
//! Every stage's accounting closes: busy (compute + recompute + exposed TP/EP/CP/ZeRO-3) +
//! exposed PP sends + bubble + exposed DP sync + optimizer = the step.
//!
//! Rendering (text, traces) is the CLI's; this module only builds the typed, serialisable result.

use super::comm::{CheckScope, CommCosts, CommKind, PricedComm, CHECK_TOLERANCE};
use super::layout::Placement;
use super::memory::{capacity, heaviest_memory_stage, stage_memory};
use super::timing::{BlockTiming, StageTimings};
use collective::{Algo, InNetwork, Op};
use engine::Fidelity;
use fabric::Fabric;
use serde::Serialize;
use workload::compute::ComputeModel;
use workload::flops;
use workload::memory::MemoryBreakdown;
use workload::schedule::Timeline;
use workload::ModelSpec;

/// Where the time of one step goes on the slowest pipeline stage (`TrainReport::breakdown_stage`;
/// communication as exposed).
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
    /// Exposed ZeRO-3/FSDP communication (per-layer parameter all-gathers, gradient
    /// reduce-scatters and HSDP replica all-reduces beyond what the layers' compute hides);
    /// already part of `dp_comm_s`.
    pub fsdp_comm_s: f64,
}

/// One pipeline stage's step: its lines add up to the step time.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: u32,
    /// Transformer layers the stage holds (all its virtual chunks).
    pub layers: u32,
    /// Compute stream busy: compute + recompute + exposed TP, EP, CP and ZeRO-3 communication.
    pub busy_s: f64,
    /// Forward + backward kernels (embedding and output layer included).
    pub compute_s: f64,
    pub recompute_s: f64,
    pub tp_comm_s: f64,
    pub ep_comm_s: f64,
    pub cp_comm_s: f64,
    pub zero3_comm_s: f64,
    /// Exposed pipeline sends (the critical path's hops, bounded by the idle time).
    pub pp_comm_s: f64,
    /// Idle time that is neither sends, DP sync nor the optimizer.
    pub bubble_s: f64,
    /// Gradient synchronisation exposed after the stage's last backward.
    pub dp_comm_s: f64,
    pub optimizer_s: f64,
    /// `busy_s` over the step.
    pub busy_fraction: f64,
    /// Memory per accelerator of the stage's ranks.
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub memory_bytes: f64,
    /// FLOPs one rank of the stage executes in the step (recomputation included).
    pub hardware_flops: f64,
}

/// One collective (or send) of the step as priced: every group of its dimension at once.
#[derive(Debug, Clone, Serialize)]
pub struct CollectiveReport {
    /// TP, EP, CP, PP, DP, DP (DCN) (across TPU slices) or ZeRO-3.
    pub dimension: String,
    pub op: String,
    /// Message size per rank of one occurrence.
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub size_bytes: f64,
    /// The algorithm NCCL-like selection chose for one group (`collnet` is SHARP, `nvls` NVLink
    /// SHARP) and its protocol.
    pub algorithm: String,
    pub protocol: String,
    pub group_size: u32,
    pub groups: u32,
    /// One occurrence with every group at once.
    pub time_s: f64,
}

/// An analytical price checked against the flow fidelity (`--fidelity analytical` only).
#[derive(Debug, Clone, Serialize)]
pub struct FidelityCheckReport {
    /// TP, EP, CP, PP, DP or ZeRO-3.
    pub dimension: String,
    pub op: String,
    /// `all_groups` (the collective with every group at once) or `stages_together` (one
    /// pipeline stage's gradient sync alone, analytical, against every stage's at once, flow).
    pub scope: String,
    pub analytical_s: f64,
    pub flow_s: f64,
    /// |flow − analytical| / analytical.
    pub difference_fraction: f64,
    /// Whether the difference is beyond the tolerance (a warning is given).
    pub warned: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub weights_bytes: f64,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub gradients_bytes: f64,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub optimizer_bytes: f64,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub activations_bytes: f64,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub buffers_bytes: f64,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub total_bytes: f64,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub capacity_bytes: f64,
    /// The pipeline stage these figures are for: the one with the most memory per accelerator.
    pub stage: u32,
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
    /// ZeRO-3/FSDP: DP ranks one shard spans (the HSDP shard group, else DP); 0 below ZeRO-3.
    pub fsdp_shard_group: u32,
    /// HSDP replicas (DP / shard group); 1 without HSDP, 0 below ZeRO-3.
    pub hsdp_replicas: u32,
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
    /// The scale-out routing mode the step ran under (`ecmp`, `adaptive`, `spray`; `--routing`).
    pub routing: String,
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
    /// Model FLOPs (6·N + causal attention + output layer) over the dense peak of the precision
    /// the GEMMs run in.
    pub mfu: f64,
    /// FLOPs the kernels execute (FlashAttention's backward and activation recomputation
    /// included) over the same peak; MFU ≤ HFU ≤ 1.
    pub hfu: f64,
    /// `mfu` against the dense BF16 peak (as FP8 runs are often quoted).
    pub mfu_vs_bf16_peak: f64,
    /// MFU with attention counted over the full s×s scores (Megatron SC'21 / Korthikanti and
    /// torchtitan count it so), against the same peak as `mfu`.
    pub mfu_full_attention: f64,
    /// The dense peak `mfu` and `hfu` are against, FLOP/s per accelerator.
    pub peak_flops_per_s_per_accel: f64,
    pub breakdown: Breakdown,
    /// The pipeline stage `breakdown` describes: the one with the most busy time.
    pub breakdown_stage: u32,
    /// Every pipeline stage's accounting, in stage order.
    pub stages: Vec<StageReport>,
    /// Every collective and send of the step as priced, in pricing order.
    pub collectives: Vec<CollectiveReport>,
    /// Analytical prices checked against the flow fidelity (empty at flow fidelity).
    pub fidelity_checks: Vec<FidelityCheckReport>,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub memory_bytes_per_accel: f64,
    pub memory: MemoryReport,
    pub fits: bool,
    pub busiest_links: Vec<LinkReport>,
    pub warnings: Vec<String>,
    pub assumptions: Vec<String>,
    /// Plan values that were derived rather than given, each with its rule.
    pub derived: Vec<String>,
    /// The error fabricsim showed on the nearest class of published training rows (same
    /// accelerator, framework and scale band, else the nearest wider class), % — the ± on the
    /// step time (`crate::expected_error`).
    pub expected_error_pct: f64,
    /// That class in words, with its row count.
    pub expected_error_basis: String,
    /// The training framework whose profile priced the kernels (`--framework`).
    pub framework: String,
    /// Multi-site fabrics: the same job (plan, accelerators) on one site of the same total size
    /// (`train::sites`); null elsewhere, and when no single-site equivalent was run.
    pub single_site_step_time_s: Option<f64>,
    /// 1 − single-site step / multi-site step (DiLoCo: its per-step equivalent), in 0–1.
    pub multi_site_loss_fraction: Option<f64>,
    /// What crossing sites cost and why (null on one site).
    pub multi_site: Option<super::sites::MultiSiteReport>,
    #[serde(skip)]
    pub timeline: Option<Timeline>,
    /// What traces draw inside the timeline's spans (not part of the JSON schema).
    #[serde(skip)]
    pub detail: Option<StepDetail>,
    /// Power and energy of the job (`crate::power::train_energy`): filled by the caller that
    /// knows the power options (`train` in the CLI); `None` adds no keys.
    #[serde(flatten)]
    pub energy: Option<crate::power::TrainEnergy>,
}

/// The typed detail behind the timeline, for traces: each (stage, chunk)'s blocks with their
/// compute and exposed communication per micro-batch, the priced collectives, and the busiest
/// links with what loads them.
#[derive(Debug, Clone)]
pub struct StepDetail {
    /// [stage][chunk] → blocks in forward order (`timing::StageTimings::blocks`).
    pub blocks: Vec<Vec<Vec<BlockTiming>>>,
    /// Every priced collective and send (`comm::CommCosts::collectives`).
    pub collectives: Vec<PricedComm>,
    /// The busiest links (as in `busiest_links`), each with the utilisation while its
    /// communication runs and the pipeline stage of the accelerator it attaches to (`None`
    /// for switch-to-switch links).
    pub links: Vec<LinkActivity>,
    /// Pipeline stages and virtual stages per rank.
    pub pp: u32,
    pub vp: u32,
}

/// A link's load while one kind of communication runs.
#[derive(Debug, Clone)]
pub struct LinkActivity {
    pub name: String,
    /// Utilisation while `during` runs (not averaged over the step).
    pub utilisation: f64,
    pub during: CommKind,
    pub stage: Option<u32>,
}

/// Everything the report reads, from the earlier stages.
pub struct Inputs<'a> {
    pub cluster: &'a str,
    pub fabric: &'a Fabric,
    pub model: &'a ModelSpec,
    pub compute: &'a ComputeModel,
    pub fidelity: Fidelity,
    pub placement: &'a Placement,
    pub comm: &'a CommCosts,
    pub timings: &'a StageTimings,
    pub timeline: Timeline,
    /// In-network reductions the comm stage allowed.
    pub in_network: InNetwork,
}

/// Build the report.
pub fn assemble(x: Inputs<'_>) -> TrainReport {
    let Inputs {
        cluster,
        fabric: f,
        model,
        compute: cm,
        fidelity,
        placement: pl,
        comm,
        timings,
        timeline: tl,
        in_network,
    } = x;
    let p = &pl.plan;
    let m = pl.microbatches;
    let world = pl.world;
    let step = tl.step_time;
    let multi_site = super::sites::report_part(pl, comm, &tl);
    let mut warnings = comm.warnings.clone();
    let mut assumptions = super::moe::assumptions(comm, model); // EP as DeepEP runs it, MTP
    let slowest = timings.slowest_stage();
    let bs = timings.stages[slowest as usize];

    let layers = model.layers;
    let chunks = p.pp * p.vp;
    match &p.layers_per_stage {
        Some(_) if !p.uneven_split(layers) => {}
        Some(list) => assumptions.push(format!(
            "layers per {}: {} (given)",
            if p.vp > 1 { "pipeline chunk" } else { "pipeline stage" },
            list.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        )),
        None if layers % chunks != 0 => warnings.push(format!(
            "{layers} layers do not split evenly over {chunks} pipeline chunks; the first {} chunks take one layer more (--layers-per-stage sets the split)",
            layers % chunks
        )),
        None => {}
    }
    if p.zero == 3 && p.dp * p.cp > 1 {
        let overlap = if cm.framework.overlap_comm {
            "prefetched one layer ahead, gradient reduce-scatter overlapped with the backward"
        } else {
            "not overlapped with compute"
        };
        let hsdp = if p.shard_replicas() > 1 {
            format!(
                "; HSDP: sharded over {} DP ranks, {} replicas all-reduce {} per layer ({})",
                p.shard_group(),
                p.shard_replicas(),
                units::si(comm.hsdp_ar_bytes_per_layer, "B"),
                units::si(comm.zero3_ar_per_layer, "s")
            )
        } else {
            String::new()
        };
        assumptions.push(format!(
            "ZeRO-3/FSDP: per-layer parameter all-gather {} and gradient reduce-scatter {} ({overlap}; resharded after the forward, gathered again for the backward){hsdp}; exposed {:.1} ms per step on stage {slowest}",
            units::si(comm.zero3_ag_per_layer, "s"),
            units::si(comm.zero3_rs_per_layer, "s"),
            bs.zero3_comm_s * 1e3
        ));
    }
    assumptions.push(format!(
        "framework: {} (fused norm {}, fused RoPE {}, fused activation {}, attention {:?}, {} optimizer, host dispatch floor {} per kernel; {})",
        cm.framework.framework.name(),
        yes_no(cm.framework.fused_norm),
        yes_no(cm.framework.fused_rope),
        yes_no(cm.framework.fused_activation),
        cm.framework.attention,
        if cm.framework.fused_optimizer { "fused" } else { "foreach" },
        units::si(cm.framework.host_dispatch_s, "s"),
        cm.framework.provenance()
    ));

    // Accounting.
    let tokens = p.gbs as f64 * p.seq as f64;
    let model_flops = flops::model_flops_per_token_causal(model, p.seq) * tokens;
    let model_flops_full = flops::model_flops_per_token(model, p.seq) * tokens;
    // MFU and HFU against the dense peak of the precision the GEMMs run in (FP8 plans on an
    // accelerator without FP8 are rejected by the layout stage).
    let peak = match p.precision {
        workload::Precision::Fp8 => cm.accel.peak_fp8.unwrap_or(cm.accel.peak_bf16),
        workload::Precision::Bf16 => cm.accel.peak_bf16,
    };
    let mfu = model_flops / (step * world as f64 * peak);
    let mfu_vs_bf16_peak = model_flops / (step * world as f64 * cm.accel.peak_bf16);
    // Hardware FLOPs: what every rank's kernels execute (each stage has TP × CP × DP ranks).
    let ranks_per_stage = (p.tp * p.cp * p.dp) as f64;
    let hw_total: f64 = timings.stages.iter().map(|w| w.hardware_flops).sum::<f64>() * ranks_per_stage;
    let hfu = hw_total / (step * world as f64 * peak);
    // Each stage's step: busy, exposed DP sync (from its last backward to its optimizer step),
    // the optimizer, and the idle rest split into the critical path's sends and bubble.
    let pp_hops = if p.pp > 1 {
        2.0 * (p.pp - 1) as f64 * comm.p2p
    } else {
        0.0
    };
    // Each stage's last forward/backward end and optimizer start, in one pass over the spans.
    let mut last_b = vec![0.0f64; p.pp as usize];
    let mut opt_start = vec![0.0f64; p.pp as usize];
    for x in &tl.spans {
        match x.stream {
            "compute" => last_b[x.stage as usize] = last_b[x.stage as usize].max(x.end),
            "optimizer" => opt_start[x.stage as usize] = opt_start[x.stage as usize].max(x.start),
            _ => {}
        }
    }
    let stages: Vec<StageReport> = (0..p.pp)
        .map(|s| {
            let w = timings.stages[s as usize];
            let busy = tl.busy[s as usize];
            let dp_exposed = (opt_start[s as usize] - last_b[s as usize]).max(0.0);
            let idle = (step - busy - dp_exposed - timings.optimizer_s).max(0.0);
            let pp_comm = pp_hops.min(idle);
            StageReport {
                stage: s,
                layers: w.layers,
                busy_s: busy,
                compute_s: w.compute_s(),
                recompute_s: w.recompute_s,
                tp_comm_s: w.tp_comm_s,
                ep_comm_s: w.ep_comm_s,
                cp_comm_s: w.cp_comm_s,
                zero3_comm_s: w.zero3_comm_s,
                pp_comm_s: pp_comm,
                bubble_s: idle - pp_comm,
                dp_comm_s: dp_exposed,
                optimizer_s: timings.optimizer_s,
                busy_fraction: busy / step,
                memory_bytes: stage_memory(model, p, s).total(),
                hardware_flops: w.hardware_flops,
            }
        })
        .collect();
    let st = &stages[slowest as usize];
    let breakdown = Breakdown {
        compute_s: bs.forward_s + bs.backward_s,
        recompute_s: bs.recompute_s,
        tp_comm_s: bs.tp_comm_s,
        cp_comm_s: bs.cp_comm_s,
        ep_comm_s: bs.ep_comm_s,
        pp_comm_s: st.pp_comm_s,
        pipeline_bubble_s: st.bubble_s,
        dp_comm_s: st.dp_comm_s + bs.zero3_comm_s,
        optimizer_s: timings.optimizer_s,
        fsdp_comm_s: bs.zero3_comm_s,
    };

    // Memory (as the framework saves activations).
    let mem = super::memory::memory_on(f, model, p, &cm.framework);
    let capacity = capacity(f);
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
    if let Some(a) = comm.tp_algo {
        assumptions.push(format!(
            "TP collectives: {a} (chosen like NCCL for one group, run for all groups at once)"
        ));
    }
    assumptions.extend(in_network_lines(f, &comm.collectives, in_network));
    assumptions.extend(cm.notes.iter().cloned());
    let mut fidelity_checks = Vec::new();
    // One warning per (dimension, scope) beyond the tolerance, its operations' times summed.
    struct Flagged {
        kind: CommKind,
        scope: CheckScope,
        stages: u32,
        ops: Vec<&'static str>,
        analytical_s: f64,
        flow_s: f64,
    }
    let mut flagged: Vec<Flagged> = Vec::new();
    for c in &comm.fidelity_checks {
        let d = c.difference();
        let warned = d > CHECK_TOLERANCE;
        if warned {
            match flagged.iter_mut().find(|x| x.kind == c.kind && x.scope == c.scope) {
                Some(x) => {
                    if !x.ops.contains(&op_words(c.op)) {
                        x.ops.push(op_words(c.op));
                    }
                    x.analytical_s += c.analytical_s;
                    x.flow_s += c.flow_s;
                }
                None => flagged.push(Flagged {
                    kind: c.kind,
                    scope: c.scope,
                    stages: c.stages,
                    ops: vec![op_words(c.op)],
                    analytical_s: c.analytical_s,
                    flow_s: c.flow_s,
                }),
            }
        }
        fidelity_checks.push(FidelityCheckReport {
            dimension: c.kind.label().into(),
            op: c.op.name().into(),
            scope: match c.scope {
                CheckScope::AllGroups => "all_groups",
                CheckScope::StagesTogether => "stages_together",
            }
            .into(),
            analytical_s: c.analytical_s,
            flow_s: c.flow_s,
            difference_fraction: d,
            warned,
        });
    }
    for x in flagged {
        let Flagged {
            kind,
            scope,
            stages,
            ops,
            analytical_s: an,
            flow_s: fl,
        } = x;
        let what = format!("{} {}", kind.label(), ops.join(" + "));
        let change = (fl / an - 1.0) * 100.0;
        warnings.push(match scope {
            CheckScope::AllGroups => format!(
                "analytical fidelity: {what} takes {} with every group at once, but {} under flow contention ({change:+.0} %); rerun with --fidelity flow",
                units::si(an, "s"),
                units::si(fl, "s"),
            ),
            CheckScope::StagesTogether => format!(
                "analytical fidelity: {what} takes {} for one pipeline stage alone, as the analytical schedule runs it, but the {stages} stages' syncs can overlap at the end of the step and take {} together under flow contention ({change:+.0} %); rerun with --fidelity flow",
                units::si(an, "s"),
                units::si(fl, "s"),
            ),
        });
    }

    // A link's busy share of the step: its utilisation during the collective that loads it,
    // times the time that kind of communication takes per step on one rank.
    let per_step = |d: CommKind| -> f64 {
        use CommKind::*;
        let t = match d {
            Tp => bs.tp_comm_s,
            Ep => super::moe::link_busy_s(comm, pl, model).max(bs.ep_comm_s), // hidden EP too
            Cp => bs.cp_comm_s,
            Zero3 => bs.zero3_comm_s,
            Pp => 2.0 * m as f64 * comm.p2p * (p.vp as f64),
            Dp => comm.dp_total,
        };
        (t / step).min(1.0)
    };
    // (link, share of the step, kind, utilisation while the kind runs)
    let mut busiest: Vec<(u32, f64, CommKind, f64)> = comm
        .link_loads
        .iter()
        .map(|l| (l.link, l.utilisation * per_step(l.during), l.during, l.utilisation))
        .collect();
    busiest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    busiest.dedup_by_key(|x| x.0);
    busiest.truncate(5);
    let busiest_links = busiest
        .iter()
        .map(|(l, u, d, _)| LinkReport {
            name: collective::simulate::link_label(f, *l),
            utilisation: *u,
            during: d.label().into(),
        })
        .collect();
    let link_stage = |l: u32| -> Option<u32> {
        let link = f.links.get(l as usize)?;
        [link.src, link.dst]
            .into_iter()
            .filter(|&n| f.node(n).kind == fabric::NodeKind::Accel)
            .filter_map(|n| f.accels.iter().position(|&a| a == n))
            .find(|&a| (a as u64) < world)
            .map(|a| pl.layout.stage_of(a as u32))
    };
    let detail = StepDetail {
        blocks: timings.blocks.clone(),
        collectives: comm.collectives.clone(),
        links: busiest
            .iter()
            .map(|&(l, _, d, u)| LinkActivity {
                name: collective::simulate::link_label(f, l),
                utilisation: u,
                during: d,
                stage: link_stage(l),
            })
            .collect(),
        pp: p.pp,
        vp: p.vp,
    };

    let acc = fabric::catalogue::accelerator(f.accel_model);
    let expected = crate::expected_error::training(
        acc.map(|a| a.name).unwrap_or(f.accel_model),
        cm.framework.framework.name(),
        p.world(),
    );
    TrainReport {
        single_site_step_time_s: None,
        multi_site_loss_fraction: None,
        multi_site,
        schema_version: crate::SCHEMA_VERSION,
        fidelity: crate::collective::fidelity_name(fidelity).into(),
        cluster: cluster.to_string(),
        accelerator: acc.map(|a| a.name.to_string()).unwrap_or_default(),
        accelerators_in_cluster: f.accel_count() as u64,
        routing: f.routing.name().into(),
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
            // A multislice TPU job shards inside each slice and replicates across the slices
            // (the DCN all-reduce): the shard group is the in-slice part of DP.
            fsdp_shard_group: match (p.zero, p.hsdp_shard) {
                (3, None) => p.shard_group() / pl.layout.slices().max(1),
                (3, Some(_)) => p.shard_group(),
                _ => 0,
            },
            hsdp_replicas: match (p.zero, p.hsdp_shard) {
                (3, None) => p.shard_replicas() * pl.layout.slices().max(1),
                (3, Some(_)) => p.shard_replicas(),
                _ => 0,
            },
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
        mfu_vs_bf16_peak,
        mfu_full_attention: model_flops_full / (step * world as f64 * peak),
        peak_flops_per_s_per_accel: peak,
        breakdown,
        breakdown_stage: slowest,
        stages,
        collectives: comm
            .collectives
            .iter()
            .map(|c| CollectiveReport {
                // The gradient all-reduce across TPU slices is DP over the data-center network.
                dimension: if c.dim == Some(super::layout::Dim::Dcn) && comm.sites.is_some() {
                    "DP (across sites)".into()
                } else if c.dim == Some(super::layout::Dim::Dcn) {
                    "DP (DCN)".into()
                } else {
                    c.kind.label().into()
                },
                op: c.op.name().into(),
                size_bytes: c.bytes,
                algorithm: super::moe::algorithm_name(c).into(),
                protocol: c.cost.protocol.map(|p| p.name()).unwrap_or_default().into(),
                group_size: c.group_size,
                groups: c.groups,
                time_s: c.cost.seconds,
            })
            .collect(),
        fidelity_checks,
        memory_bytes_per_accel: mem.total(),
        memory: mem_report(&mem, capacity, heaviest_memory_stage(model, p)),
        fits,
        busiest_links,
        warnings,
        assumptions,
        derived: Vec::new(),
        expected_error_pct: expected.expected_error_pct,
        expected_error_basis: expected.expected_error_basis,
        framework: cm.framework.framework.name().into(),
        timeline: Some(tl),
        detail: Some(detail),
        energy: None,
    }
}

/// An operation in words for messages: "all-to-all", "reduce-scatter".
pub fn op_words(op: Op) -> &'static str {
    match op {
        Op::AllReduce => "all-reduce",
        Op::ReduceScatter => "reduce-scatter",
        Op::AllGather => "all-gather",
        Op::AllToAll => "all-to-all",
        Op::Broadcast => "broadcast",
        Op::Reduce => "reduce",
        Op::SendRecv => "send/receive",
    }
}

/// Which in-network reduction (SHARP/CollNet, NVLS) each dimension's collectives use, and why
/// one is not used anywhere (switched off, not in the fabric, or not chosen).
fn in_network_lines(f: &Fabric, collectives: &[PricedComm], allowed: InNetwork) -> Vec<String> {
    let mut out = Vec::new();
    for (algo, name, flag, on, has) in [
        (
            Algo::CollNet,
            "SHARP (CollNet)",
            "--sharp",
            allowed.sharp,
            collective::hierarchical::sharp_supported(f),
        ),
        (
            Algo::Nvls,
            "NVLS (NVLink SHARP)",
            "--nvls",
            allowed.nvls,
            collective::nvls::supported(f),
        ),
    ] {
        let mut used: Vec<String> = Vec::new();
        for c in collectives.iter().filter(|c| c.cost.algo == Some(algo)) {
            let w = format!("{} {}", c.kind.label(), op_words(c.op));
            if !used.contains(&w) {
                used.push(w);
            }
        }
        out.push(if !on {
            format!("in-network reduction: {name} off ({flag} off): not a candidate for any dimension")
        } else if !used.is_empty() {
            format!("in-network reduction: {name} used for {} ({flag} on)", used.join(", "))
        } else if !has {
            format!("in-network reduction: {name} not available on this fabric")
        } else {
            format!(
                "in-network reduction: {name} available ({flag} on) but chosen for no dimension (it runs all-reduce only; other algorithms were faster or the groups do not qualify)"
            )
        });
    }
    out
}

fn mem_report(m: &MemoryBreakdown, capacity: f64, stage: u32) -> MemoryReport {
    MemoryReport {
        weights_bytes: m.weights,
        gradients_bytes: m.gradients,
        optimizer_bytes: m.optimizer,
        activations_bytes: m.activations,
        buffers_bytes: m.buffers,
        total_bytes: m.total(),
        capacity_bytes: capacity,
        stage,
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
