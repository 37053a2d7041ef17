//! TPU training as XLA runs it (MaxText): the room for what is TPU-specific in a training step.
//!
//! - **Plans as MaxText users write them** ([`MaxTextMesh`]): `ici_data`, `ici_fsdp`,
//!   `ici_sequence`, `ici_tensor` inside a slice and `dcn_data`, `dcn_fsdp` across slices, `-1`
//!   meaning "the rest" (MaxText's `fill_unspecified_mesh_axes`), mapped onto fabricsim's plan:
//!   TP = tensor, CP = sequence, DP = data × fsdp (× the DCN axes), ZeRO-3 (FSDP) when an fsdp
//!   axis is above 1, else plain data parallelism.
//! - **Placement on the torus.** MaxText's mesh order is data, fsdp, sequence, tensor (outermost
//!   first) and XLA's device-mesh builder (`jax.experimental.mesh_utils.create_device_mesh`)
//!   gives the innermost, most communication-intensive axes the physical torus axes first. The
//!   layout does the same: chips are numbered x fastest, then y, then z, and TP is innermost,
//!   then CP, then DP, so a TP group of 4 on a 4×4×4 cube is one x ring, TP 16 is an x × y
//!   plane, and FSDP over the rest is the remaining dimensions (a sub-torus). An axis whose size
//!   is not a product of whole leading dimensions splits a dimension; the collectives of such a
//!   group run as rings (`collective::torus` serves whole dimensions only) and the report says so.
//! - **Multislice.** With `tpu-…-pod:slices=N` the slices are scale-up domains joined by the
//!   DCN; DP groups stay inside a slice ([`slice_dp`]) and [`Dim::Dcn`] joins the slices: each
//!   chip all-reduces the gradient shard the in-slice reduce-scatter left it, over its share of
//!   its host's DCN NICs ([`price_dcn`]). The closed form is gradient bytes × 2(S−1)/S ÷ DCN
//!   bandwidth per chip; what the backward pass does not hide of it (and of the in-slice
//!   reduce-scatter) is exposed at the end of the step ([`overlap_gradient_sync`]).
//! - **Compute** ([`compute_model`]): the TPU efficiency rule (`workload::compute::TpuRule`),
//!   never the H100-fitted one.

use super::comm::{concurrent, CommCosts, CommKind, CommOptions, DpSync, PricedComm};
use super::layout::{Dim, Layout, Placement};
use super::memory::param_split;
use collective::Op;
use fabric::catalogue::{Accelerator, TpuCore};
use fabric::{Fabric, ScaleUpKind};
use workload::compute::ComputeModel;
use workload::ModelSpec;

/// The compute model of a TPU generation: its peaks with the TPU rule.
pub fn compute_model(a: &Accelerator, t: &TpuCore) -> ComputeModel {
    ComputeModel::tpu(
        a.name,
        a.bf16_dense.0,
        a.fp8_dense.map(|x| x.0),
        a.hbm_bw.0,
        t.mxu,
        t.calibrated,
    )
}

/// Whether `f` is a TPU cluster (a torus of TPU chips).
pub fn is_tpu(f: &Fabric) -> bool {
    matches!(f.scale_up, ScaleUpKind::Torus { .. }) && fabric::catalogue::tpu_core(f.accel_model).is_some()
}

/// DPo ranks per slice when the job spans several TPU slices with DP outermost (the default
/// order), else `lay.dpo` (no split).
pub fn slice_dp(f: &Fabric, lay: &Layout) -> u32 {
    if !matches!(f.scale_up, ScaleUpKind::Torus { .. }) {
        return lay.dpo;
    }
    let inner = lay.tp as u64 * lay.cp as u64 * lay.ep as u64 * lay.pp as u64;
    let world = inner * lay.dpo as u64;
    let ds = f.domain_size as u64;
    let dp_outermost = lay.strides[4] as u64 == inner;
    if world <= ds || world % ds != 0 || ds % inner != 0 || !dp_outermost {
        return lay.dpo;
    }
    (ds / inner) as u32
}

/// Groups of `Dim::Dp` (inside each slice) or `Dim::Dcn` (across slices) of a layout whose DP
/// spans slices.
pub fn slice_groups(lay: &Layout, vary: Dim) -> Vec<Vec<u32>> {
    let sd = lay.slice_dp;
    let slices = lay.slices();
    let mut out = Vec::new();
    match vary {
        Dim::Dp => {
            for k in 0..slices {
                for pp in 0..lay.pp {
                    for tp in 0..lay.tp {
                        let mut g = Vec::new();
                        for d in 0..sd {
                            for ep in 0..lay.ep {
                                for cp in 0..lay.cp {
                                    g.push(lay.rank(tp, cp, ep, pp, k * sd + d));
                                }
                            }
                        }
                        out.push(g);
                    }
                }
            }
        }
        _ => {
            for d in 0..sd {
                for pp in 0..lay.pp {
                    for ep in 0..lay.ep {
                        for cp in 0..lay.cp {
                            for tp in 0..lay.tp {
                                out.push((0..slices).map(|k| lay.rank(tp, cp, ep, pp, k * sd + d)).collect());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Bytes of the gradient shard each chip all-reduces over the DCN: the stage's dense BF16
/// gradients after the in-slice reduce-scatter (÷ DP ranks per slice × CP).
pub fn dcn_bytes(pl: &Placement, model: &ModelSpec) -> f64 {
    let p = &pl.plan;
    let (dense_share, _) = param_split(model);
    let per_rank = model.params() / (p.tp as f64 * p.pp as f64) * dense_share;
    per_rank * 2.0 / (pl.layout.slice_dp as f64 * p.cp as f64)
}

/// Price the gradient all-reduce across slices over the DCN (module notes) and add it to the
/// step's data-parallel synchronisation. Nothing when the job has one slice.
pub fn price_dcn(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    opts: CommOptions,
    out: &mut CommCosts,
) -> Result<(), String> {
    let lay = &pl.layout;
    if lay.slices() < 2 {
        return Ok(());
    }
    let groups = lay.groups(Dim::Dcn);
    let bytes = dcn_bytes(pl, model);
    let (c, _) = concurrent(f, &pl.caps, &groups, Op::AllReduce, bytes, opts)?;
    if c.seconds <= 0.0 {
        return Ok(());
    }
    out.collectives.push(PricedComm {
        kind: CommKind::Dp,
        dim: Some(Dim::Dcn),
        op: Op::AllReduce,
        bytes,
        group_size: groups.first().map_or(0, |g| g.len() as u32),
        groups: groups.len() as u32,
        cost: c,
    });
    out.dp_total += c.seconds;
    out.dp.push(DpSync {
        dim: Dim::Dcn,
        op: Op::AllReduce,
        bytes,
        cost: c,
    });
    Ok(())
}

/// What the schedule leaves exposed of a TPU step's gradient synchronisation: XLA reduces each
/// layer's gradients as soon as its backward finishes, asynchronously, while the earlier
/// layers' backward runs (MaxText's scripts set `xla_tpu_enable_data_parallel_all_reduce_opt`
/// and async collective fusion). All syncs of the step (in-slice reduce-scatter, DCN
/// all-reduce) share the overlap window `W` = the slowest stage's backward (recompute included)
/// less one layer's; exposed = max(T − W, T / L) where T is their summed time and L the layers
/// (the first layer's gradients arrive last). With FSDP (ZeRO-3) the parameters are re-gathered
/// layer by layer in the next step, so the end-of-step all-gather is dropped. The priced
/// collectives keep their full times; `CommCosts::dp` and `dp_total` carry the exposed part the
/// schedule runs. Nothing changes on a fabric that is not a TPU torus.
pub fn overlap_gradient_sync(
    f: &Fabric,
    pl: &Placement,
    model: &ModelSpec,
    timings: &super::timing::StageTimings,
    comm: &mut CommCosts,
) {
    if !is_tpu(f) || comm.dp.is_empty() {
        return;
    }
    if pl.plan.zero == 3 {
        comm.dp.retain(|s| s.op != Op::AllGather);
    }
    let total: f64 = comm.dp.iter().map(|s| s.cost.seconds).sum();
    if total <= 0.0 {
        comm.dp_total = 0.0;
        return;
    }
    let w = &timings.stages[timings.slowest_stage() as usize];
    let layers = w.layers.max(1) as f64;
    let backward = w.backward_s + w.recompute_s;
    let window = backward * (1.0 - 1.0 / layers);
    let exposed = (total - window).max(total / model.layers.max(1) as f64);
    let k = (exposed / total).min(1.0);
    for s in &mut comm.dp {
        s.bytes *= k;
        s.cost.seconds *= k;
        s.cost.latency *= k;
    }
    comm.dp_total = comm.dp.iter().map(|s| s.cost.seconds).sum();
}

/// The DCN all-reduce's closed form: `bytes` × 2(S−1)/S ÷ the DCN bandwidth per chip.
pub fn dcn_closed_form(bytes: f64, slices: u32, dcn_per_chip: f64) -> f64 {
    let s = slices as f64;
    bytes * 2.0 * (s - 1.0) / s / dcn_per_chip
}

/// MaxText's mesh axes (`base.yml`: `ici_*_parallelism`, `dcn_*_parallelism`); `-1` fills the
/// rest of the slice (ICI) or of the slices (DCN), at most one per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxTextMesh {
    pub ici_data: i64,
    pub ici_fsdp: i64,
    pub ici_sequence: i64,
    pub ici_tensor: i64,
    pub dcn_data: i64,
    pub dcn_fsdp: i64,
}

impl Default for MaxTextMesh {
    /// MaxText's `base.yml` defaults: `ici_fsdp_parallelism: -1`, `dcn_data_parallelism: -1`,
    /// every other axis 1.
    fn default() -> Self {
        MaxTextMesh {
            ici_data: 1,
            ici_fsdp: -1,
            ici_sequence: 1,
            ici_tensor: 1,
            dcn_data: -1,
            dcn_fsdp: 1,
        }
    }
}

/// A mesh resolved on a cluster: every axis a positive size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedMesh {
    pub ici_data: u32,
    pub ici_fsdp: u32,
    pub ici_sequence: u32,
    pub ici_tensor: u32,
    pub dcn_data: u32,
    pub dcn_fsdp: u32,
}

impl ResolvedMesh {
    /// TP, CP, DP and ZeRO stage of the mesh (module notes).
    pub fn plan_sizes(&self) -> (u32, u32, u32, u8) {
        let dp = self.ici_data * self.ici_fsdp * self.dcn_data * self.dcn_fsdp;
        let zero = if self.ici_fsdp * self.dcn_fsdp > 1 { 3 } else { 0 };
        (self.ici_tensor, self.ici_sequence, dp, zero)
    }
}

/// Fill the `-1` axes of one group (`what` names the flags) so their product is `total`.
fn fill(axes: &mut [(&str, i64)], total: u64, group: &str, what: &str) -> Result<(), String> {
    for (name, v) in axes.iter() {
        if *v == 0 || *v < -1 {
            return Err(format!("--{name} {v}: must be a positive size or -1 (the rest)"));
        }
    }
    let unknown: Vec<usize> = (0..axes.len()).filter(|&i| axes[i].1 == -1).collect();
    if unknown.len() > 1 {
        return Err(format!(
            "--{} and --{} are both -1: at most one {group} axis may take the rest",
            axes[unknown[0]].0, axes[unknown[1]].0
        ));
    }
    let known: u64 = axes.iter().filter(|a| a.1 > 0).map(|a| a.1 as u64).product();
    let shown = || {
        axes.iter()
            .map(|(n, v)| format!("--{n} {v}"))
            .collect::<Vec<_>>()
            .join(" × ")
    };
    match unknown.first() {
        Some(&i) => {
            if known == 0 || total % known != 0 {
                return Err(format!("{}: the given axes do not divide the {total} {what}", shown()));
            }
            axes[i].1 = (total / known) as i64;
        }
        None if known != total => {
            return Err(format!("{} = {known}, but the job has {total} {what}", shown()));
        }
        None => {}
    }
    Ok(())
}

impl MaxTextMesh {
    /// Resolve against `f` (chips per slice, slices).
    pub fn resolve(&self, f: &Fabric) -> Result<ResolvedMesh, String> {
        let chips = f.domain_size as u64;
        let slices = (f.accel_count() as u64 / chips.max(1)).max(1);
        let mut ici = [
            ("ici-data", self.ici_data),
            ("ici-fsdp", self.ici_fsdp),
            ("ici-sequence", self.ici_sequence),
            ("ici-tensor", self.ici_tensor),
        ];
        fill(&mut ici, chips, "ICI", "chips in a slice")?;
        let mut dcn = [("dcn-data", self.dcn_data), ("dcn-fsdp", self.dcn_fsdp)];
        fill(&mut dcn, slices, "DCN", "slices")?;
        let u = |v: i64| v as u32;
        Ok(ResolvedMesh {
            ici_data: u(ici[0].1),
            ici_fsdp: u(ici[1].1),
            ici_sequence: u(ici[2].1),
            ici_tensor: u(ici[3].1),
            dcn_data: u(dcn[0].1),
            dcn_fsdp: u(dcn[1].1),
        })
    }
}

/// How the mesh lands on the torus (module notes), one line per axis that does not take whole
/// torus dimensions, plus the approximations made.
pub fn placement_notes(f: &Fabric, m: &ResolvedMesh) -> Vec<String> {
    let mut out = Vec::new();
    let ScaleUpKind::Torus { dims, .. } = f.scale_up else {
        return out;
    };
    // Innermost first: tensor, sequence, then data × fsdp over what is left.
    let mut prefix = 1u64;
    let mut cuts = vec![1u64];
    for d in dims.iter().filter(|&&d| d > 1) {
        prefix *= *d as u64;
        cuts.push(prefix);
    }
    let mut inner = 1u64;
    for (name, size) in [
        ("tensor", m.ici_tensor),
        ("sequence", m.ici_sequence),
        ("fsdp × data", m.ici_fsdp * m.ici_data),
    ] {
        if size <= 1 {
            continue;
        }
        let lo = inner;
        inner *= size as u64;
        if !cuts.contains(&lo) || !cuts.contains(&inner) {
            out.push(format!(
                "mesh axis {name} ({size}) splits a torus dimension of the {}x{}x{} slice: its groups use part of that dimension (a line without wrap-around where contiguous, rings where strided)",
                dims[0], dims[1], dims[2]
            ));
        }
    }
    if m.ici_data > 1 && m.ici_fsdp > 1 && m.dcn_data * m.dcn_fsdp == 1 {
        // Under HSDP the fsdp axis alone is a collective group: say when it splits a dimension.
        let lo = m.ici_tensor as u64 * m.ici_sequence as u64;
        let hi = lo * m.ici_fsdp as u64;
        if !cuts.contains(&lo) || !cuts.contains(&hi) {
            out.push(format!(
                "mesh axis fsdp ({}) splits a torus dimension of the {}x{}x{} slice: its all-gathers and reduce-scatters use part of that dimension (a line without wrap-around where contiguous, rings where strided)",
                m.ici_fsdp, dims[0], dims[1], dims[2]
            ));
        }
    }
    if m.ici_data > 1 && m.ici_fsdp > 1 {
        out.push(if m.dcn_data * m.dcn_fsdp == 1 {
            format!(
                "ici data {} × fsdp {}: HSDP, parameters sharded over the {} chips of each fsdp group and replicated over {} data groups (gradient all-reduce across them)",
                m.ici_data, m.ici_fsdp, m.ici_fsdp, m.ici_data
            )
        } else {
            format!(
                "ici data {} × fsdp {}: priced as one ZeRO-3 group of {} (sharding over data as well as fsdp) on a multislice job",
                m.ici_data,
                m.ici_fsdp,
                m.ici_data * m.ici_fsdp
            )
        });
    }
    if m.dcn_fsdp > 1 {
        out.push(format!(
            "dcn fsdp {}: priced as data parallelism across slices (gradient all-reduce over the DCN, parameters sharded inside each slice)",
            m.dcn_fsdp
        ));
    }
    out
}
