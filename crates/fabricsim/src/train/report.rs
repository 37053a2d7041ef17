//! Stage 5 of a training step: **the report**. Turn the placement, communication costs, stage
//! timings and the scheduled timeline into the `train --json` schema: step time, throughput,
//! MFU/HFU, the breakdown of the first stage, memory, busiest links, warnings and assumptions.
//!
//! Rendering (text, traces) is the CLI's; this module only builds the typed, serialisable result.

use super::comm::CommCosts;
use super::layout::Placement;
use super::memory::{capacity, memory};
use super::timing::StageTimings;
use engine::Fidelity;
use fabric::Fabric;
use serde::Serialize;
use workload::compute::ComputeModel;
use workload::flops;
use workload::memory::MemoryBreakdown;
use workload::schedule::Timeline;
use workload::ModelSpec;

/// Where the time of one step goes (first pipeline stage; communication as exposed).
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
    pub memory_bytes_per_accel: f64,
    pub memory: MemoryReport,
    pub fits: bool,
    pub busiest_links: Vec<LinkReport>,
    pub warnings: Vec<String>,
    pub assumptions: Vec<String>,
    /// Plan values that were derived rather than given, each with its rule.
    pub derived: Vec<String>,
    #[serde(skip)]
    pub timeline: Option<Timeline>,
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
    } = x;
    let p = &pl.plan;
    let m = pl.microbatches;
    let world = pl.world;
    let step = tl.step_time;
    let mut warnings = comm.warnings.clone();
    let mut assumptions = Vec::new();
    let stage0 = timings.stages[0];

    let layers = model.layers;
    let chunks = p.pp * p.vp;
    if layers % chunks != 0 {
        warnings.push(format!(
            "{layers} layers do not split evenly over {chunks} pipeline chunks; the first {} chunks take one layer more",
            layers % chunks
        ));
    }
    if p.zero == 3 && p.dp * p.cp > 1 {
        assumptions.push(format!(
            "ZeRO-3: per-layer parameter all-gather {} prefetched one layer ahead (exposed {:.1} ms per step on the first stage)",
            units::si(comm.zero3_ag_per_layer, "s"),
            stage0.zero3_comm_s * 1e3
        ));
    }

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
    let busy0 = tl.busy[0];
    // DP sync exposed on the first stage: from its last backward to its optimizer step.
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
    let pp_hops = if p.pp > 1 {
        2.0 * (p.pp - 1) as f64 * comm.p2p
    } else {
        0.0
    };
    let idle = (step - busy0 - dp_exposed - timings.optimizer_s).max(0.0);
    let pp_comm = pp_hops.min(idle);
    let bubble = idle - pp_comm;
    let breakdown = Breakdown {
        compute_s: stage0.forward_s + stage0.backward_s,
        recompute_s: stage0.recompute_s,
        tp_comm_s: stage0.tp_comm_s,
        cp_comm_s: stage0.cp_comm_s,
        ep_comm_s: stage0.ep_comm_s,
        pp_comm_s: pp_comm,
        pipeline_bubble_s: bubble,
        dp_comm_s: dp_exposed + stage0.zero3_comm_s,
        optimizer_s: timings.optimizer_s,
    };

    // Memory.
    let mem = memory(model, p);
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
    assumptions.push(format!(
        "compute model: {} peaks with the efficiency rule fitted to measured H100 kernels (docs/compute-model.md)",
        cm.accel.name
    ));
    assumptions.push("NCCL latency constants (tuning.cc) and link efficiencies in docs/calibration.md".into());

    // A link's busy share of the step: its utilisation during the collective that loads it,
    // times the time that kind of communication takes per step on one rank.
    let per_step = |d: super::comm::CommKind| -> f64 {
        use super::comm::CommKind::*;
        let t = match d {
            Tp => stage0.tp_comm_s,
            Ep => stage0.ep_comm_s,
            Cp => stage0.cp_comm_s,
            Pp => 2.0 * m as f64 * comm.p2p * (p.vp as f64),
            Dp => comm.dp_total,
        };
        (t / step).min(1.0)
    };
    let mut busiest: Vec<(u32, f64, super::comm::CommKind)> = comm
        .link_loads
        .iter()
        .map(|l| (l.link, l.utilisation * per_step(l.during), l.during))
        .collect();
    busiest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    busiest.dedup_by_key(|x| x.0);
    let busiest_links = busiest
        .iter()
        .take(5)
        .map(|(l, u, d)| LinkReport {
            name: collective::simulate::link_label(f, *l),
            utilisation: *u,
            during: d.label().into(),
        })
        .collect();

    let acc = fabric::catalogue::accelerator(f.accel_model);
    TrainReport {
        schema_version: crate::SCHEMA_VERSION,
        fidelity: crate::collective::fidelity_name(fidelity).into(),
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
        mfu_vs_bf16_peak,
        mfu_full_attention: model_flops_full / (step * world as f64 * peak),
        peak_flops_per_s_per_accel: peak,
        breakdown,
        memory_bytes_per_accel: mem.total(),
        memory: mem_report(&mem, capacity),
        fits,
        busiest_links,
        warnings,
        assumptions,
        derived: Vec::new(),
        timeline: Some(tl),
    }
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
