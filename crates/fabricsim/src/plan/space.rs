//! The plan space: every candidate the search considers, in a fixed order.
//!
//! GPU clusters (Megatron-style plans): TP (dividing the heads, up to `--max-tp`, by default
//! twice the scale-up domain so that crossing it is shown to lose), CP (dividing the sequence,
//! sub-sequences of at least [`MIN_CP_TOKENS`]), PP (up to the layers), DP = accelerators ÷
//! (TP·CP·PP) dividing the global batch, EP (MoE models: dividing the experts and DP), the
//! micro-batch (dividing the per-replica batch, up to [`MAX_MBS`]), virtual stages
//! [`VP_CHOICES`], recompute none/selective/full, ZeRO-1 or FSDP (ZeRO-3; torchtitan always
//! shards with FSDP2), and the placement orders the framework can launch (Megatron-Core:
//! `tp-cp-ep-dp-pp` by default, `tp-cp-ep-pp-dp` with `--use-tp-pp-dp-mapping`; torchtitan's
//! device mesh `[pp, dp, cp, tp]`), orders that place the same non-trivial dimensions the same
//! way counted once.
//!
//! TPU clusters (MaxText): every mesh `ici_data × ici_fsdp × ici_sequence × ici_tensor` of a
//! slice's chips and `dcn_data × dcn_fsdp` of the slices, resolved to a plan exactly as
//! `train --ici-* --dcn-*` resolves it ([`crate::scenario::plan_on`]), with the three
//! recompute policies.

use super::{Constraints, Job};
use crate::scenario;
use crate::train::tpu::{MaxTextMesh, ResolvedMesh};
use workload::{Framework, ParallelPlan, Recompute};

/// Shortest sub-sequence a context-parallel rank gets (shorter ones leave attention kernels
/// too small to matter; a search limit, not a rule of the simulator).
pub const MIN_CP_TOKENS: u64 = 1024;
/// Largest micro-batch searched (sequences).
pub const MAX_MBS: u32 = 8;
/// Virtual pipeline stages per rank always searched (interleaved 1F1B; 1 = plain 1F1B); every
/// VP that splits the layers evenly over PP × VP chunks is searched too ([`vp_choices`]).
pub const VP_CHOICES: [u32; 4] = [1, 2, 4, 8];

/// The VPs searched with `pp` stages of a `layers`-layer model: [`VP_CHOICES`] and every VP
/// with `layers` a multiple of PP × VP (Megatron's even split), ascending.
pub fn vp_choices(pp: u32, layers: u32) -> Vec<u32> {
    let mut v: Vec<u32> = VP_CHOICES.to_vec();
    if pp >= 2 && layers % pp == 0 {
        v.extend(
            divisors((layers / pp) as u64)
                .into_iter()
                .map(|d| d as u32)
                .filter(|&d| d > 1),
        );
    }
    v.sort_unstable();
    v.dedup();
    v
}
/// The recompute policies, least first.
pub const RECOMPUTE: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];

/// [`Candidate::key`]: TP, CP, PP, EP, VP, micro-batch, ZeRO, recompute rank, order, MaxText
/// mesh, DP.
pub type CandidateKey = (u32, u32, u32, u32, u32, u32, u8, u8, [usize; 5], [u32; 6], u32);
/// [`Candidate::key_without_recompute`].
pub type BaseKey = (u32, u32, u32, u32, u32, u32, u8, [usize; 5], [u32; 6], u32);

/// One point of the plan space.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub plan: ParallelPlan,
    /// Placement order (coordinate indices tp=0, cp=1, ep=2, pp=3, dp=4, innermost first).
    pub order: [usize; 5],
    /// The MaxText mesh the plan came from (TPU clusters).
    pub mesh: Option<ResolvedMesh>,
}

/// Index of a recompute policy in [`RECOMPUTE`].
pub fn recompute_rank(r: Recompute) -> u8 {
    match r {
        Recompute::None => 0,
        Recompute::Selective => 1,
        Recompute::Full => 2,
    }
}

impl Candidate {
    /// A total order on candidates (ties between equal step times are broken by it).
    /// Among equal step times the simplest plan comes first: smaller TP, CP, PP, EP, VP, then
    /// micro-batch, sharding, recompute, order, mesh and DP.
    pub fn key(&self) -> CandidateKey {
        let p = &self.plan;
        let mesh = self.mesh.map_or([0; 6], |m| {
            [
                m.ici_data,
                m.ici_fsdp,
                m.ici_sequence,
                m.ici_tensor,
                m.dcn_data,
                m.dcn_fsdp,
            ]
        });
        (
            p.tp,
            p.cp,
            p.pp,
            p.ep,
            p.vp,
            p.mbs,
            p.zero,
            recompute_rank(p.recompute),
            self.order,
            mesh,
            p.dp,
        )
    }

    /// [`Candidate::key`] without the recompute policy: candidates equal here differ only in it.
    pub fn key_without_recompute(&self) -> BaseKey {
        let k = self.key();
        (k.0, k.1, k.2, k.3, k.4, k.5, k.6, k.8, k.9, k.10)
    }

    /// The plan in one line: `TP 8 · PP 16 · DP 128 · VP 4 · mbs 1 · ZeRO-1 · recompute none`.
    pub fn label(&self) -> String {
        let p = &self.plan;
        let mut s = format!("TP {} · PP {} · DP {}", p.tp, p.pp, p.dp);
        for (k, v) in [("CP", p.cp), ("EP", p.ep), ("VP", p.vp)] {
            if v > 1 {
                s.push_str(&format!(" · {k} {v}"));
            }
        }
        s.push_str(&format!(
            " · mbs {} · {} · recompute {}",
            p.mbs,
            sharding_label(p),
            format!("{:?}", p.recompute).to_lowercase()
        ));
        if let Some(m) = &self.mesh {
            s.push_str(&format!(
                " · mesh ici {}/{}/{}/{} dcn {}/{}",
                m.ici_data, m.ici_fsdp, m.ici_sequence, m.ici_tensor, m.dcn_data, m.dcn_fsdp
            ));
        } else if self.order != crate::train::DEFAULT_ORDER {
            s.push_str(&format!(" · order {}", order_name(self.order)));
        }
        s
    }
}

/// `ZeRO-1`, `FSDP`, `HSDP 8`, `no sharding`.
pub fn sharding_label(p: &ParallelPlan) -> String {
    match (p.zero, p.hsdp_shard) {
        (3, Some(g)) => format!("HSDP {g}"),
        (3, None) => "FSDP".into(),
        (0, _) => "no sharding".into(),
        (z, _) => format!("ZeRO-{z}"),
    }
}

/// `tp,cp,ep,pp,dp` (innermost first), as `train --order` takes it.
pub fn order_name(order: [usize; 5]) -> String {
    order
        .iter()
        .map(|&d| crate::train::ORDER_NAMES[d])
        .collect::<Vec<_>>()
        .join(",")
}

/// Divisors of `n`, ascending.
pub fn divisors(n: u64) -> Vec<u64> {
    let mut small = Vec::new();
    let mut large = Vec::new();
    let mut d = 1u64;
    while d * d <= n {
        if n % d == 0 {
            small.push(d);
            if d * d != n {
                large.push(n / d);
            }
        }
        d += 1;
    }
    small.extend(large.into_iter().rev());
    small
}

/// The placement orders `framework` can launch (module notes).
pub fn framework_orders(framework: Framework) -> Vec<[usize; 5]> {
    // tp=0, cp=1, ep=2, pp=3, dp=4, innermost first.
    let tp_pp_dp = [0, 1, 2, 3, 4];
    let tp_dp_pp = [0, 1, 2, 4, 3];
    match framework {
        Framework::Megatron => vec![tp_pp_dp, tp_dp_pp],
        _ => vec![tp_dp_pp],
    }
}

/// The order's non-trivial dimensions in placement order: orders equal here place ranks alike.
fn effective_order(order: [usize; 5], sizes: [u32; 5]) -> Vec<usize> {
    order.iter().copied().filter(|&d| sizes[d] > 1).collect()
}

fn allowed(fixed: Option<u32>, v: u32) -> bool {
    fixed.is_none_or(|f| f == v)
}

/// Every candidate of the job's plan space that meets the constraints, in a fixed order
/// (recompute policies innermost, least first). An error names a constraint no plan can meet.
pub fn enumerate(job: &Job, c: &Constraints) -> Result<Vec<Candidate>, String> {
    if crate::train::tpu::is_tpu(&job.fabric) {
        return enumerate_tpu(job, c);
    }
    let fx = &c.fixed;
    let world = job.accelerators;
    let model = &job.model;
    let max_tp = c.max_tp.unwrap_or(2 * job.fabric.domain_size.max(1));
    // Constraints that no plan can meet are named before the search.
    if let Some(tp) = fx.tp {
        if world % tp as u64 != 0 || model.heads % tp != 0 {
            return Err(format!(
                "--fix tp={tp}: TP must divide the {world} accelerators and the model's {} attention heads",
                model.heads
            ));
        }
        if tp > max_tp {
            return Err(format!("--fix tp={tp} is above --max-tp {max_tp}"));
        }
        let domain = job.fabric.domain_size.max(1);
        if tp > domain && tp % domain != 0 {
            return Err(format!(
                "--fix tp={tp}: a TP group of {tp} neither fits in nor tiles whole scale-up domains of {domain} accelerators"
            ));
        }
    }
    if let Some(pp) = fx.pp {
        if pp > model.layers || world % pp as u64 != 0 {
            return Err(format!(
                "--fix pp={pp}: PP must divide the {world} accelerators and be at most the model's {} layers",
                model.layers
            ));
        }
    }
    if let Some(cp) = fx.cp {
        if job.seq % cp as u64 != 0 || world % cp as u64 != 0 {
            return Err(format!(
                "--fix cp={cp}: CP must divide the sequence length {} and the {world} accelerators",
                job.seq
            ));
        }
    }
    if let Some(ep) = fx.ep {
        match &model.moe {
            None if ep > 1 => return Err(format!("--fix ep={ep}: model `{}` has no experts", model.name)),
            Some(m) if m.experts % ep != 0 => {
                return Err(format!(
                    "--fix ep={ep}: does not divide the model's {} experts",
                    m.experts
                ))
            }
            _ => {}
        }
    }
    let zeros: Vec<u8> = match job.framework {
        Framework::Torchtitan | Framework::TorchtitanCompile => vec![3],
        _ => vec![1, 2, 3],
    };
    if let Some(z) = fx.zero {
        if !zeros.contains(&z) {
            return Err(format!(
                "--fix zero={z}: the {} plan space has ZeRO {}",
                job.framework.name(),
                zeros.iter().map(u8::to_string).collect::<Vec<_>>().join(" or ")
            ));
        }
    }
    let orders = match fx.order {
        Some(o) => vec![o],
        None => framework_orders(job.framework),
    };
    let mut out = Vec::new();
    for tp in divisors(world) {
        let tp = tp as u32;
        if tp > max_tp || model.heads % tp != 0 || !allowed(fx.tp, tp) {
            continue;
        }
        let domain = job.fabric.domain_size.max(1);
        // A TP group either fits in a scale-up domain or tiles whole ones.
        if tp > domain && tp % domain != 0 {
            continue;
        }
        for cp in divisors(world / tp as u64) {
            let cp = cp as u32;
            if job.seq % cp as u64 != 0 || !allowed(fx.cp, cp) {
                continue;
            }
            if cp > 1 && job.seq / (cp as u64) < MIN_CP_TOKENS && fx.cp.is_none() {
                continue;
            }
            for pp in divisors(world / (tp as u64 * cp as u64)) {
                let pp = pp as u32;
                if pp > model.layers || !allowed(fx.pp, pp) {
                    continue;
                }
                let dp = (world / (tp as u64 * cp as u64 * pp as u64)) as u32;
                if job.gbs % dp != 0 || !allowed(fx.dp, dp) {
                    continue;
                }
                let eps: Vec<u32> = match &model.moe {
                    Some(m) => divisors(dp as u64)
                        .into_iter()
                        .map(|e| e as u32)
                        .filter(|e| m.experts % e == 0)
                        .collect(),
                    None => vec![1],
                };
                for ep in eps {
                    if !allowed(fx.ep, ep) {
                        continue;
                    }
                    let per_replica = job.gbs / dp;
                    for mbs in divisors(per_replica as u64) {
                        let mbs = mbs as u32;
                        if (mbs > MAX_MBS && fx.mbs.is_none()) || !allowed(fx.mbs, mbs) {
                            continue;
                        }
                        let m = per_replica / mbs;
                        for vp in vp_choices(pp, model.layers) {
                            if !allowed(fx.vp, vp) {
                                continue;
                            }
                            if vp > 1 && (pp < 2 || m % pp != 0 || pp * vp > model.layers) {
                                continue;
                            }
                            for &zero in &zeros {
                                if fx.zero.is_some_and(|z| z != zero) {
                                    continue;
                                }
                                let sizes = [tp, cp, ep, pp, dp / ep];
                                let mut seen: Vec<Vec<usize>> = Vec::new();
                                for &order in &orders {
                                    let eff = effective_order(order, sizes);
                                    if seen.contains(&eff) {
                                        continue;
                                    }
                                    seen.push(eff);
                                    for r in RECOMPUTE {
                                        if fx.recompute.is_some_and(|x| x != r) {
                                            continue;
                                        }
                                        out.push(Candidate {
                                            plan: ParallelPlan {
                                                tp,
                                                pp,
                                                dp,
                                                cp,
                                                ep,
                                                vp,
                                                mbs,
                                                gbs: job.gbs,
                                                seq: job.seq,
                                                zero,
                                                recompute: r,
                                                precision: job.precision,
                                                sequence_parallel: job.sequence_parallel && tp > 1,
                                                tp_comm_overlap: job.tp_comm_overlap,
                                                layers_per_stage: None,
                                                hsdp_shard: None,
                                            },
                                            order,
                                            mesh: None,
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    if out.is_empty() {
        return Err(no_candidates(job, c));
    }
    Ok(out)
}

fn no_candidates(job: &Job, c: &Constraints) -> String {
    format!(
        "no parallel plan of {} on {} accelerators meets the constraints{}: TP × CP × PP × DP must equal the accelerators, DP must divide the global batch of {} sequences, TP the {} heads (give --gpus, --gbs or other --fix values)",
        job.model.name,
        job.accelerators,
        c.describe(),
        job.gbs,
        job.model.heads
    )
}

/// TPU: every MaxText mesh (module notes).
fn enumerate_tpu(job: &Job, c: &Constraints) -> Result<Vec<Candidate>, String> {
    let f = &job.fabric;
    if job.accelerators != f.accel_count() as u64 {
        return Err(format!(
            "a TPU plan is a MaxText mesh over the whole cluster ({} chips); --gpus {} is not it (size the cluster instead)",
            f.accel_count(),
            job.accelerators
        ));
    }
    let fx = &c.fixed;
    if fx.pp.is_some_and(|p| p != 1) || fx.vp.is_some_and(|v| v != 1) || fx.ep.is_some_and(|e| e != 1) {
        return Err("--fix pp/vp/ep: the MaxText plan space on TPUs has no pipeline or expert parallelism (PP, VP and EP are 1)".into());
    }
    if fx.order.is_some() {
        return Err("--fix order: a TPU plan's placement follows its MaxText mesh".into());
    }
    let chips = f.domain_size.max(1) as u64;
    let slices = (f.accel_count() as u64 / chips).max(1);
    let hbm = crate::train::memory::physical_capacity(f);
    let sc = scenario::ScenarioFile {
        batch: scenario::Batch {
            gbs: Some(job.gbs),
            mbs: None,
            seq: Some(job.seq),
        },
        training: scenario::Training {
            precision: Some(format!("{:?}", job.precision).to_lowercase()),
            framework: Some(job.framework.name().into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut out = Vec::new();
    for tensor in divisors(chips) {
        for sequence in divisors(chips / tensor) {
            for fsdp in divisors(chips / tensor / sequence) {
                let data = chips / tensor / sequence / fsdp;
                for dcn_fsdp in divisors(slices) {
                    let dcn_data = slices / dcn_fsdp;
                    let mesh = MaxTextMesh {
                        ici_data: data as i64,
                        ici_fsdp: fsdp as i64,
                        ici_sequence: sequence as i64,
                        ici_tensor: tensor as i64,
                        dcn_data: dcn_data as i64,
                        dcn_fsdp: dcn_fsdp as i64,
                    };
                    if job.model.heads as u64 % tensor != 0 || job.seq % sequence != 0 {
                        continue;
                    }
                    let Ok(resolved) = scenario::plan_on(&sc, f, hbm, &job.model, Some(mesh)) else {
                        continue;
                    };
                    let Ok(r) = mesh.resolve(f) else { continue };
                    let p = resolved.plan;
                    if !allowed(fx.tp, p.tp)
                        || !allowed(fx.cp, p.cp)
                        || !allowed(fx.dp, p.dp)
                        || !allowed(fx.mbs, p.mbs)
                        || fx.zero.is_some_and(|z| z != p.zero)
                        || p.tp > c.max_tp.unwrap_or(u32::MAX)
                    {
                        continue;
                    }
                    for rc in RECOMPUTE {
                        if fx.recompute.is_some_and(|x| x != rc) {
                            continue;
                        }
                        out.push(Candidate {
                            plan: ParallelPlan {
                                recompute: rc,
                                ..p.clone()
                            },
                            order: crate::train::DEFAULT_ORDER,
                            mesh: Some(r),
                        });
                    }
                }
            }
        }
    }
    if out.is_empty() {
        return Err(no_candidates(job, c));
    }
    Ok(out)
}
