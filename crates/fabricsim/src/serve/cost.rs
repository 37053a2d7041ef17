//! Step times of a serving instance, priced once per role on the fabric.
//!
//! One step of an instance advances every running request of every attention rank: decode
//! requests by one token (plus MTP drafts), prefilling requests by a chunk. Per layer:
//!
//! - **attention side, per attention rank** (the slowest rank gates the step, as DP attention
//!   meets at the MoE all-to-all): the projection GEMMs on the rank's tokens (TP-sharded), the
//!   attention core — prefill chunks as flash attention over the cached context plus the chunk,
//!   decode as a read of the KV cache (memory-bound; MLA decode is the absorbed form,
//!   `2·heads·(2·kv_lora + rope)` FLOPs per cached token), norms and residuals;
//! - **FFN side**: dense FFN layers and shared experts on each rank's tokens; routed experts on
//!   each GPU of the EP group, the hottest GPU's token copies (EPLB's balance of the expected
//!   load, plus the sampling noise of a finite batch: mean + √(2·mean·ln ep)), reading only the
//!   weights of the local experts the batch hits;
//! - **communication**: TP all-reduce twice per layer (`collective`'s NCCL-like choice on the
//!   instance's real TP group, priced over a size grid once), DeepEP dispatch and combine per
//!   MoE layer (low-latency kernels for decode steps, normal kernels when the step prefills; all
//!   the role's EP groups at once on the fabric, priced once at a reference batch and scaled by
//!   tokens), pipeline sends between stages; with two-batch overlap the exposed communication
//!   is `max(C, M) + min(C, M)/2` per layer instead of `C + M`.
//!
//! GEMMs use the compute model's fitted rule (measured H100 kernels, M ≥ 256); decode-shaped
//! GEMMs (M < 256) are outside the measured table and follow a documented roofline rule: the
//! fitted efficiency extrapolated in M on the compute side, the weights and activations streamed
//! at the measured copy fraction of HBM bandwidth on the memory side (`ROOFLINE_RULE`).

use collective::moe::{MoeDtype, MoeKernel, MoeOp, MoeSpec};
use collective::simulate::{self, Options};
use collective::Op;
use engine::Fidelity;
use fabric::Fabric;
use workload::compute::ComputeModel;
use workload::flops::Pass;
use workload::flops::{MemoryOp, OpDesc, OpKind};
use workload::{ModelSpec, Precision};

use super::{Features, InstanceSpec, Role, ServeScenario, WeightPrecision};

/// How decode-shaped kernels are priced where the measured table has no rows (stated in every
/// report).
pub const ROOFLINE_RULE: &str = "decode kernels (GEMM M < 256, decode attention, grouped expert GEMMs) are outside the measured H100 table: roofline — compute at the fitted GEMM/attention efficiency extrapolated to the shape, memory at the measured copy fraction of HBM bandwidth — not measured on the device";

/// Time per token of the busiest rank, per MoE layer, of a decode step under expert parallelism
/// (the steps that run DeepEP's low-latency kernels) that the kernel models do not hold: the
/// token permutation into and out of the expert layout, the combine's weighted reduction, the
/// receivers' busy-wait SGLang reports (its combine is 2× DeepSeek's). Fitted (calibration.rs,
/// `SERVE_EP_DECODE_TOKEN_OVERHEAD_S`; docs/serving.md) on the Hopper decode-only throughput
/// rows of testdata/inference.csv by least squares of ln(predicted / measured); the other rows
/// check it. Prior 0 (nothing beyond the kernels); the fit on I010 and I018 gives 1.022 µs.
pub const EP_DECODE_TOKEN_OVERHEAD_S: f64 = 1.02e-6;
/// HBM bandwidth of the accelerators `EP_DECODE_TOKEN_OVERHEAD_S` is fitted on (H100 SXM and
/// H800: 3.35 TB/s, catalogue); on another accelerator the overhead scales by this over its own.
pub const FIT_HBM_BYTES_PER_S: f64 = 3.35e12;

/// Activation and workspace memory an engine keeps outside the KV pool per GPU: CUDA graphs,
/// NCCL/DeepEP buffers and the step's activations ([A] assumption: 2 GiB fixed, plus the
/// activations of one chunked-prefill step, 4 hidden-sized BF16 tensors per token).
pub const FIXED_RESERVE_BYTES: f64 = 2.0 * 1_073_741_824.0;

/// Per-rank load of one step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RankLoad {
    /// Decode requests in the step.
    pub decode_reqs: u32,
    /// Sum of their cached context lengths (tokens).
    pub decode_ctx_sum: f64,
    /// Prefill chunks: (new tokens, tokens already in the cache before the chunk).
    pub prefill: Vec<(u32, u32)>,
}

impl RankLoad {
    /// Tokens the rank's GEMMs process (decode tokens include MTP drafts).
    pub fn tokens(&self, per_decode: u32) -> u64 {
        self.decode_reqs as u64 * per_decode as u64 + self.prefill.iter().map(|p| p.0 as u64).sum::<u64>()
    }

    pub fn is_empty(&self) -> bool {
        self.decode_reqs == 0 && self.prefill.is_empty()
    }
}

/// A step's time and where it goes (seconds, the critical path of the slowest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepCost {
    pub total_s: f64,
    pub gemm_s: f64,
    pub attention_s: f64,
    pub moe_s: f64,
    pub other_s: f64,
    /// Communication on the critical path (after overlap).
    pub comm_exposed_s: f64,
    pub tp_comm_s: f64,
    pub ep_comm_s: f64,
    pub pp_comm_s: f64,
}

/// A message-size → seconds table of one collective, interpolated linearly between grid points.
#[derive(Debug, Clone)]
pub struct SizeTable {
    sizes: Vec<f64>,
    times: Vec<f64>,
}

impl SizeTable {
    /// Price `op` on `ranks` over sizes 16 B … 2 GiB (analytical fidelity, NCCL-like choice).
    pub fn build(f: &Fabric, ranks: &[u32], op: Op) -> Result<SizeTable, String> {
        let sizes: Vec<f64> = (4..=31).map(|e| 2f64.powi(e)).collect();
        let opts = Options {
            fidelity: Fidelity::Analytical,
            ..Options::default()
        };
        let r = simulate::run_sizes(f, ranks, op, &sizes, None, opts).map_err(|e| e.to_string())?;
        Ok(SizeTable {
            sizes,
            times: r.iter().map(|x| x.time_s).collect(),
        })
    }

    /// Replace each grid point below [`CUSTOM_AR_MAX_BYTES`] by the custom all-reduce's time when
    /// it is faster: one-shot (every GPU reads the other `n − 1` buffers: `(n−1)·S` bytes in, one
    /// step) or two-shot (reduce-scatter then all-gather through peer memory: `2(n−1)/n·S`, two
    /// steps). Latency: NCCL's LL ring base latency plus one NVLink hop per step
    /// (`collective::constants`, tuning.cc) — the same flag-synchronised single-kernel protocol.
    fn take_custom_allreduce(&mut self, n: u32, bw: f64) {
        use collective::constants::{base_lat, hw_lat, LinkClass, Protocol};
        let n = n as f64;
        let hop = hw_lat(LinkClass::NvLink, false, Protocol::Ll);
        let base = base_lat(false, Protocol::Ll);
        for (s, t) in self.sizes.iter().zip(self.times.iter_mut()) {
            if *s > CUSTOM_AR_MAX_BYTES {
                continue;
            }
            let one = base + hop + (n - 1.0) * s / bw;
            let two = base + 2.0 * hop + 2.0 * (n - 1.0) / n * s / bw;
            *t = t.min(one).min(two);
        }
    }

    /// Seconds for a message of `bytes`.
    pub fn time(&self, bytes: f64) -> f64 {
        if bytes <= 0.0 {
            return 0.0;
        }
        let i = self.sizes.partition_point(|&s| s < bytes);
        if i == 0 {
            return self.times[0];
        }
        if i >= self.sizes.len() {
            let n = self.sizes.len() - 1;
            // Beyond the grid: linear in size from the last two points.
            let slope = (self.times[n] - self.times[n - 1]) / (self.sizes[n] - self.sizes[n - 1]);
            return self.times[n] + slope * (bytes - self.sizes[n]);
        }
        let (s0, s1, t0, t1) = (self.sizes[i - 1], self.sizes[i], self.times[i - 1], self.times[i]);
        t0 + (t1 - t0) * (bytes - s0) / (s1 - s0)
    }
}

/// One DeepEP kernel priced at a reference batch: time(T) = latency + transfer·T/T_ref.
#[derive(Debug, Clone, Copy)]
struct EpKernel {
    latency_s: f64,
    transfer_per_token_s: f64,
}

impl EpKernel {
    fn time(&self, tokens_per_gpu: f64, imbalance: f64) -> f64 {
        if tokens_per_gpu <= 0.0 {
            return 0.0;
        }
        self.latency_s + self.transfer_per_token_s * tokens_per_gpu * imbalance
    }
}

#[derive(Debug, Clone, Copy)]
struct EpCosts {
    ll_dispatch: EpKernel,
    ll_combine: EpKernel,
    normal_dispatch: EpKernel,
    normal_combine: EpKernel,
}

/// A KV-cache tier below HBM (per accelerator).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KvTier {
    pub name: String,
    pub capacity_bytes_per_accel: f64,
    pub bandwidth_bytes_per_s_per_accel: f64,
    pub source: String,
}

/// Everything about one role that the simulation needs.
#[derive(Debug, Clone)]
pub struct RoleCost {
    pub role: Role,
    pub spec: InstanceSpec,
    /// Accelerators of each instance (instance-major).
    pub instances: Vec<Vec<u32>>,
    pub weights_bytes_per_gpu: f64,
    pub hbm_usable_bytes_per_gpu: f64,
    pub kv_pool_bytes_per_gpu: f64,
    /// KV bytes one token takes on one GPU (its stage's layers, its TP share).
    pub kv_bytes_per_token_per_gpu: f64,
    /// KV bytes of one token over the whole model (what a P→D transfer moves).
    pub kv_bytes_per_token: f64,
    /// Tokens one attention rank's KV pool holds.
    pub kv_capacity_tokens_per_rank: u64,
    /// KV tiers below HBM, per accelerator (each GPU of a rank keeps its own shard of a
    /// context in its share of the tier).
    pub tiers: Vec<KvTier>,
    pub accel_name: String,
    pub tdp_w: f64,
    model: ModelSpec,
    cm: ComputeModel,
    precision: WeightPrecision,
    fp4_peak: Option<f64>,
    features: Features,
    tp_ar: Option<SizeTable>,
    pp_send: Option<SizeTable>,
    ep: Option<EpCosts>,
    /// Decode tokens per request per step (1 + MTP drafts).
    pub tokens_per_decode: u32,
    /// Expected tokens generated per decode step and request.
    pub accepted_per_step: f64,
    /// The links that bound the role's expert-parallel all-to-alls (from the priced runs).
    pub busiest_links: Vec<BusyLink>,
    pub notes: Vec<String>,
}

/// A busy link of a role's communication.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BusyLink {
    pub link: String,
    pub during: String,
    /// Share of the operation's transfer time the link is busy.
    pub transfer_busy_fraction: f64,
}

/// The deployment priced on the fabric: each role, and the P→D send of disaggregated serving.
#[derive(Debug, Clone)]
pub struct Priced {
    pub roles: Vec<RoleCost>,
    pub kv_send: Option<SizeTable>,
}

/// Price every role of the scenario's deployment on the fabric.
pub fn price_roles(s: &ServeScenario, f: &Fabric) -> Result<Priced, String> {
    let mut next = 0u32;
    let mut out = Vec::new();
    for (role, spec) in s.layout.roles() {
        let mut instances = Vec::with_capacity(spec.instances as usize);
        for _ in 0..spec.instances {
            let g = spec.gpus();
            instances.push((next..next + g).collect::<Vec<u32>>());
            next += g;
        }
        out.push(RoleCost::new(s, f, role, spec, instances)?);
    }
    let kv_send = match (
        out.iter().find(|r| r.role == Role::Prefill),
        out.iter().find(|r| r.role == Role::Decode),
    ) {
        (Some(p), Some(d)) => Some(SizeTable::build(
            f,
            &[p.instances[0][0], d.instances[0][0]],
            Op::SendRecv,
        )?),
        _ => None,
    };
    Ok(Priced { roles: out, kv_send })
}

fn gemm_precision(p: WeightPrecision) -> Precision {
    match p {
        WeightPrecision::Bf16 => Precision::Bf16,
        _ => Precision::Fp8,
    }
}

impl RoleCost {
    fn new(
        s: &ServeScenario,
        f: &Fabric,
        role: Role,
        spec: InstanceSpec,
        instances: Vec<Vec<u32>>,
    ) -> Result<RoleCost, String> {
        let m = &s.model;
        let accel = fabric::catalogue::accelerator(f.accel_model)
            .ok_or_else(|| format!("accelerator `{}` is not in the catalogue", f.accel_model))?;
        let cm = crate::train::timing::compute_model_for(accel.id)
            .ok_or_else(|| format!("no compute model for `{}`", accel.id))?;
        let mut notes = vec![ROOFLINE_RULE.to_string()];
        let fp4_peak = accel
            .fp4_dense
            .map(|x| x.0 * workload::compute::sustained_tensor_fraction(accel.id));
        if s.precision == WeightPrecision::Fp4 {
            match fp4_peak {
                Some(_) => notes.push(format!(
                    "FP4 GEMMs: {}'s dense FP4 peak from the catalogue at the FP8 rule's efficiency — uncalibrated (no measured FP4 kernel)",
                    accel.name
                )),
                None => notes.push(format!(
                    "FP4 weights on {}: no FP4 tensor path, GEMMs run at the FP8 (or BF16) rate with FP4 weight bytes",
                    accel.name
                )),
            }
        }
        if s.precision == WeightPrecision::Int8 {
            notes.push("INT8 GEMMs priced at the FP8 tensor rate where the accelerator has one, else BF16 (no INT8 peak in the catalogue)".into());
        }
        let feat = s.features.clone();
        let tp = spec.tp;
        let pp = spec.pp;
        // --- weights per GPU ---
        let wb = s.precision.bytes_per_weight();
        let layers_per_stage = m.layers.div_ceil(pp);
        let (dense_layers, moe_layers) = stage_layers(m, pp);
        let attn = m.attention_matrix_params() / tp as f64;
        let mut w = layers_per_stage as f64 * attn * wb;
        if let Some(moe) = &m.moe {
            let shared = moe.shared_experts as f64 * m.mlp_params(moe.shared_ffn) / tp as f64;
            let slots = (moe.experts + feat.redundant_experts) as f64;
            let routed = if spec.ep > 1 {
                slots / spec.ep as f64 * m.mlp_params(moe.expert_ffn)
            } else {
                slots * m.mlp_params(moe.expert_ffn) / tp as f64
            };
            w += moe_layers as f64 * (shared + routed + moe.experts as f64 * m.hidden as f64 / tp as f64) * wb;
            w += dense_layers as f64 * m.mlp_params(m.ffn) / tp as f64 * wb;
        } else {
            w += layers_per_stage as f64 * m.mlp_params(m.ffn) / tp as f64 * wb;
        }
        // Embedding and output layer in BF16, vocabulary-parallel over TP, on the end stages.
        let ends = if pp == 1 {
            m.embedding_params() + m.lm_head_params()
        } else {
            m.embedding_params().max(m.lm_head_params())
        };
        w += ends / tp as f64 * 2.0;
        if feat.mtp_draft_tokens > 0 && m.mtp_layers > 0 {
            // MTP module: a projection 2h → h and one layer like the last (experts on the EP group).
            w += (2.0 * (m.hidden * m.hidden) as f64 + m.layer_params(m.layers - 1)
                - m.layer_expert_params(m.layers - 1) * (1.0 - 1.0 / spec.ep.max(1) as f64))
                / tp as f64
                * wb;
        }
        let usable = accel.usable_hbm().0;
        let act_reserve = FIXED_RESERVE_BYTES + spec.chunk_tokens as f64 * m.hidden as f64 * 2.0 * 4.0;
        let pool = usable * feat.mem_fraction - w - act_reserve;
        let kv_tok_gpu =
            layers_per_stage as f64 * m.kv_values_per_token_layer_per_rank(tp) as f64 * feat.kv_dtype_bytes;
        let kv_tok = m.kv_bytes_per_token(feat.kv_dtype_bytes);
        if pool <= 0.0 {
            return Err(format!(
                "{} does not fit the {} instances ({}): weights need {:.1} GB per GPU and the engine keeps {:.1} GB for activations, of {:.1} GB usable × {:.2} memory fraction = {:.1} GB — short by {:.1} GB per GPU (more TP/EP/PP, a lower precision, or larger accelerators)",
                m.name,
                format!("{role:?}").to_lowercase(),
                spec.describe(),
                w / 1e9,
                act_reserve / 1e9,
                usable / 1e9,
                feat.mem_fraction,
                usable * feat.mem_fraction / 1e9,
                -pool / 1e9
            ));
        }
        let cap = (pool / kv_tok_gpu).floor() as u64;
        let min_need = feat.page_tokens as u64;
        if cap < min_need {
            return Err(format!(
                "{}: the KV pool of a {} rank holds {cap} tokens — less than one page",
                m.name,
                format!("{role:?}").to_lowercase()
            ));
        }
        // --- communication tables on the first instance's groups (all instances alike) ---
        let first = &instances[0];
        let tp_ar = if tp > 1 {
            let mut t = SizeTable::build(f, &first[..tp as usize], Op::AllReduce)?;
            if let Some(bw) = custom_allreduce_bw(f, &first[..tp as usize]) {
                t.take_custom_allreduce(tp, bw);
                notes.push(format!(
                    "TP all-reduce: the faster of NCCL and the serving engines' custom one-shot / two-shot all-reduce below {} MiB inside the NVLink domain ({:.0} GB/s per GPU)",
                    CUSTOM_AR_MAX_BYTES / 1_048_576.0,
                    bw / 1e9
                ));
            }
            Some(t)
        } else {
            None
        };
        let pp_send = if pp > 1 {
            let stage = (tp * spec.dp_attn) as usize;
            Some(SizeTable::build(f, &[first[0], first[stage]], Op::SendRecv)?)
        } else {
            None
        };
        let (ep, busiest_links) = if spec.ep > 1 && m.is_moe() {
            let (c, l) = ep_costs(f, m, &spec, &instances, &feat)?;
            (Some(c), l)
        } else {
            (None, Vec::new())
        };
        let tokens_per_decode = 1 + feat.mtp_draft_tokens;
        let mut accepted = 1.0;
        let mut p = 1.0;
        for _ in 0..feat.mtp_draft_tokens {
            p *= feat.mtp_acceptance;
            accepted += p;
        }
        let tiers = tiers_for(f);
        Ok(RoleCost {
            role,
            spec,
            instances,
            weights_bytes_per_gpu: w,
            hbm_usable_bytes_per_gpu: usable,
            kv_pool_bytes_per_gpu: pool,
            kv_bytes_per_token_per_gpu: kv_tok_gpu,
            kv_bytes_per_token: kv_tok,
            kv_capacity_tokens_per_rank: cap,
            tiers,
            accel_name: accel.name.to_string(),
            tdp_w: accel.tdp.0,
            model: m.clone(),
            cm,
            precision: s.precision,
            fp4_peak,
            features: feat,
            tp_ar,
            pp_send,
            ep,
            tokens_per_decode,
            accepted_per_step: accepted,
            busiest_links,
            notes,
        })
    }

    /// Seconds to move `tokens` of KV cache from a prefill instance to a decode instance: the
    /// bytes split over the TP shards of both sides, priced as a send between the two
    /// instances' first GPUs (`send`).
    pub fn kv_transfer_s(&self, send: &dyn Fn(f64) -> f64, tokens: u32, decode_tp: u32) -> f64 {
        let shards = self.spec.tp.min(decode_tp).max(1) as f64;
        send(tokens as f64 * self.kv_bytes_per_token / shards)
    }

    /// Time of one step with `loads` on the attention ranks of one instance.
    pub fn step(&self, loads: &[RankLoad]) -> StepCost {
        let m = &self.model;
        let tp = self.spec.tp as u64;
        let h = m.hidden;
        let per_dec = self.tokens_per_decode;
        let any_prefill = loads.iter().any(|l| !l.prefill.is_empty());
        // Attention-side time per rank (per layer), the slowest rank.
        let mut attn_gemm = 0.0f64;
        let mut attn_core = 0.0f64;
        let mut dense_ffn = 0.0f64;
        let mut shared_ffn = 0.0f64;
        let mut other = 0.0f64;
        let mut max_tokens = 0u64;
        let mut total_tokens = 0u64;
        let mut memo: Vec<(u64, [f64; 4])> = Vec::new();
        for l in loads {
            let t = l.tokens(per_dec);
            total_tokens += t;
            max_tokens = max_tokens.max(t);
            if t == 0 {
                continue;
            }
            let parts = match memo.iter().find(|(k, _)| *k == t) {
                Some((_, p)) => *p,
                None => {
                    let p = [
                        self.attention_gemms_s(t),
                        self.mlp_s(t, m.ffn),
                        m.moe
                            .as_ref()
                            .map_or(0.0, |moe| self.mlp_s(t, moe.shared_experts as u64 * moe.shared_ffn)),
                        self.memory_s(t),
                    ];
                    memo.push((t, p));
                    p
                }
            };
            let core = self.attention_core_s(l);
            // The slowest rank: its attention side of a dense layer and of a MoE layer.
            attn_gemm = attn_gemm.max(parts[0]);
            attn_core = attn_core.max(core);
            dense_ffn = dense_ffn.max(parts[1]);
            shared_ffn = shared_ffn.max(parts[2]);
            other = other.max(parts[3]);
        }
        if total_tokens == 0 {
            return StepCost::default();
        }
        let (dense_layers, moe_layers) = stage_layers(m, self.spec.pp);
        let dense_layers = dense_layers as f64;
        let moe_layers = moe_layers as f64;
        // Routed experts on the hottest GPU.
        let (routed_s, imbalance) = self.routed_s(total_tokens);
        // Communication per layer.
        let tp_ar = self
            .tp_ar
            .as_ref()
            .map_or(0.0, |t| 2.0 * t.time((max_tokens * h * 2) as f64));
        let ep_s = match &self.ep {
            Some(ep) => {
                let tok_gpu = max_tokens as f64 / tp as f64;
                let (d, c) = if any_prefill {
                    (ep.normal_dispatch, ep.normal_combine)
                } else {
                    (ep.ll_dispatch, ep.ll_combine)
                };
                d.time(tok_gpu, imbalance) + c.time(tok_gpu, imbalance)
            }
            None => 0.0,
        };
        let overlap = |c: f64, k: f64| -> f64 {
            if self.features.two_batch_overlap {
                c.max(k) + c.min(k) / 2.0
            } else {
                c + k
            }
        };
        let dense_compute = attn_gemm + attn_core + dense_ffn + other;
        let moe_compute = attn_gemm + attn_core + shared_ffn + routed_s + other;
        let dense_layer = overlap(dense_compute, tp_ar);
        // Per-token time per MoE layer of a decode step under EP that no kernel model holds
        // (fitted; see `EP_DECODE_TOKEN_OVERHEAD_S`).
        let ep_sync = if self.ep.is_some() && !any_prefill {
            // The work is memory-bound GPU work (permutation, the combine's reduction): fitted on
            // H100/H800 (3.35 TB/s), it runs at this accelerator's HBM bandwidth, as every
            // memory-bound op of the compute model does.
            units::calibration::get("SERVE_EP_DECODE_TOKEN_OVERHEAD_S", EP_DECODE_TOKEN_OVERHEAD_S)
                * (FIT_HBM_BYTES_PER_S / self.cm.accel.hbm_bw)
                * max_tokens as f64
        } else {
            0.0
        };
        let moe_layer = overlap(moe_compute, tp_ar + ep_s) + ep_sync;
        let mut total = dense_layers * dense_layer + moe_layers * moe_layer;
        // Output layer on the rank with most sequences producing logits (once per step).
        let logits_max = loads
            .iter()
            .map(|l| l.decode_reqs as u64 * per_dec as u64 + l.prefill.len() as u64)
            .max()
            .unwrap_or(0);
        let head = self.gemm_s(logits_max, m.vocab.div_ceil(tp), h, 2.0, WeightPrecision::Bf16);
        total += head;
        // MTP modules: each draft runs one more layer like the last and the output head.
        let mtp = if self.features.mtp_draft_tokens > 0 && m.mtp_layers > 0 {
            self.features.mtp_draft_tokens as f64 * (if m.is_moe() { moe_layer } else { dense_layer } + head)
        } else {
            0.0
        };
        total += mtp;
        // Pipeline: the batch passes every stage in turn (one token per request per pass); the
        // step is the sum over stages of a stage's time plus the sends between them.
        let pp = self.spec.pp as f64;
        let pp_s = self
            .pp_send
            .as_ref()
            .map_or(0.0, |t| (pp - 1.0) * t.time((max_tokens * h * 2) as f64));
        total = total * pp + pp_s;
        let compute_raw = dense_layers * dense_compute + moe_layers * moe_compute + head + mtp;
        StepCost {
            total_s: total,
            gemm_s: pp * (dense_layers * (attn_gemm + dense_ffn) + moe_layers * (attn_gemm + shared_ffn) + head),
            attention_s: pp * (dense_layers + moe_layers) * attn_core,
            moe_s: pp * moe_layers * routed_s,
            other_s: pp * ((dense_layers + moe_layers) * other + mtp),
            comm_exposed_s: (total - pp * compute_raw).max(0.0),
            tp_comm_s: pp * (dense_layers + moe_layers) * tp_ar,
            ep_comm_s: pp * moe_layers * ep_s,
            pp_comm_s: pp_s,
        }
    }

    /// One GEMM of M×N×K on one GPU with weights of `wbytes` per element at `prec`.
    fn gemm_s(&self, m: u64, n: u64, k: u64, wbytes: f64, prec: WeightPrecision) -> f64 {
        if m == 0 || n == 0 || k == 0 {
            return 0.0;
        }
        let (mf, nf, kf) = (m as f64, n as f64, k as f64);
        let op = OpDesc {
            name: "serve_gemm",
            kind: OpKind::Gemm {
                m,
                n,
                k,
                pass: Pass::Fwd,
            },
            flops: 2.0 * mf * nf * kf,
            bytes: 0.0,
        };
        let p = gemm_precision(prec);
        let eff = self.cm.efficiency(&op, p);
        let mut peak = self.cm.peak(&op, p);
        if prec == WeightPrecision::Fp4 {
            if let Some(fp4) = self.fp4_peak {
                peak = fp4;
            }
        }
        let compute = if eff > 0.0 {
            op.flops / (peak * eff)
        } else {
            f64::INFINITY
        };
        let bytes = nf * kf * wbytes + 2.0 * (mf * kf + mf * nf);
        let mem = bytes / (self.cm.accel.hbm_bw * self.cm.table.memory.get(MemoryOp::Copy));
        compute.max(mem) + self.cm.kernel_overhead_s
    }

    fn wgemm(&self, m: u64, n: u64, k: u64) -> f64 {
        self.gemm_s(m, n, k, self.precision.bytes_per_weight(), self.precision)
    }

    /// Attention projections of one layer for `t` tokens on one rank.
    fn attention_gemms_s(&self, t: u64) -> f64 {
        let m = &self.model;
        let tp = self.spec.tp as u64;
        let h = m.hidden;
        let heads = (m.heads as u64).div_ceil(tp);
        match &m.mla {
            Some(mla) => {
                let mut s = 0.0;
                if mla.q_lora_rank > 0 {
                    s += self.wgemm(t, mla.q_lora_rank, h);
                    s += self.wgemm(
                        t,
                        heads * (mla.qk_nope_head_dim + mla.qk_rope_head_dim),
                        mla.q_lora_rank,
                    );
                } else {
                    s += self.wgemm(t, heads * (mla.qk_nope_head_dim + mla.qk_rope_head_dim), h);
                }
                s += self.wgemm(t, mla.kv_lora_rank + mla.qk_rope_head_dim, h);
                s += self.wgemm(t, heads * (mla.qk_nope_head_dim + mla.v_head_dim), mla.kv_lora_rank);
                s + self.wgemm(t, h, heads * mla.v_head_dim)
            }
            None => {
                let kv = (m.kv_heads as u64).div_ceil(tp);
                self.wgemm(t, (heads + 2 * kv) * m.head_dim, h) + self.wgemm(t, h, heads * m.head_dim)
            }
        }
    }

    /// A (gated) MLP of intermediate size `ffn` (TP-sharded) on `t` tokens.
    fn mlp_s(&self, t: u64, ffn: u64) -> f64 {
        if ffn == 0 {
            return 0.0;
        }
        let m = &self.model;
        let f = ffn.div_ceil(self.spec.tp as u64);
        let up = if m.gated_mlp { 2 } else { 1 };
        self.wgemm(t, up * f, m.hidden)
            + self.wgemm(t, m.hidden, f)
            + self.memory_bytes_s(t as f64 * f as f64 * 2.0 * 3.0)
    }

    /// Norms, residuals, RoPE and the router's softmax: ~8 hidden-sized BF16 passes per token.
    fn memory_s(&self, t: u64) -> f64 {
        self.memory_bytes_s(t as f64 * self.model.hidden as f64 * 2.0 * 8.0)
    }

    fn memory_bytes_s(&self, bytes: f64) -> f64 {
        bytes / (self.cm.accel.hbm_bw * self.cm.table.memory.get(MemoryOp::Elementwise))
    }

    /// The attention core of one rank's load (one layer).
    fn attention_core_s(&self, l: &RankLoad) -> f64 {
        let m = &self.model;
        let tp = self.spec.tp as u64;
        let heads = (m.heads as u64).div_ceil(tp);
        let kv_heads = (m.kv_heads as u64).div_ceil(tp);
        let (d_qk, d_v) = (m.qk_head_dim(), m.v_head_dim());
        let mut s = 0.0;
        for &(new, ctx) in &l.prefill {
            let (n, c) = (new as f64, ctx as f64);
            let pairs = n * c + n * n / 2.0;
            let flops = 2.0 * heads as f64 * (d_qk + d_v) as f64 * pairs;
            let op = OpDesc {
                name: "serve_prefill_attention",
                kind: OpKind::Attention {
                    batch: 1,
                    heads,
                    kv_heads,
                    seq_q: new as u64,
                    seq_kv: (new + ctx) as u64,
                    head_dim_qk: d_qk,
                    head_dim_v: d_v,
                    causal: true,
                    backward: false,
                },
                flops,
                bytes: 0.0,
            };
            let eff = self.cm.efficiency(&op, Precision::Bf16);
            let compute = if eff > 0.0 {
                flops / (self.cm.accel.peak_bf16 * eff)
            } else {
                0.0
            };
            let kv_bytes = (new + ctx) as f64
                * m.kv_values_per_token_layer_per_rank(self.spec.tp) as f64
                * self.features.kv_dtype_bytes;
            s += compute.max(kv_bytes / self.cm.accel.hbm_bw);
        }
        if l.decode_reqs > 0 {
            let per_dec = self.tokens_per_decode as f64;
            let ctx = l.decode_ctx_sum;
            // Cached values read once per step (drafts share them); FLOPs per query token.
            let bytes = ctx * m.kv_values_per_token_layer_per_rank(self.spec.tp) as f64 * self.features.kv_dtype_bytes;
            let flops_per_ctx = match &m.mla {
                // Absorbed MLA: scores over the latent + rope key, values from the latent.
                Some(mla) => 2.0 * heads as f64 * (2 * mla.kv_lora_rank + mla.qk_rope_head_dim) as f64,
                None => 2.0 * heads as f64 * (d_qk + d_v) as f64,
            };
            let flops = flops_per_ctx * ctx * per_dec;
            let eff = self.cm.table.attention.fwd.e_max;
            let compute = flops / (self.cm.accel.peak_bf16 * eff);
            let mem = bytes / (self.cm.accel.hbm_bw * self.cm.table.memory.get(MemoryOp::Copy));
            s += compute.max(mem);
        }
        s
    }

    /// Routed experts of one MoE layer on the hottest GPU, and the imbalance (max/mean).
    fn routed_s(&self, total_tokens: u64) -> (f64, f64) {
        let m = &self.model;
        let Some(moe) = &m.moe else { return (0.0, 1.0) };
        let ep = self.spec.ep.max(1) as f64;
        let slots = (moe.experts + self.features.redundant_experts) as f64;
        let copies = total_tokens as f64 * moe.top_k as f64;
        let mean = copies / ep;
        let noise = if ep > 1.0 && mean > 0.0 {
            (mean + (2.0 * mean * ep.ln()).sqrt()) / mean
        } else {
            1.0
        };
        let imbalance = noise * self.features.expert_skew.max(1.0);
        let tokens_gpu = mean * imbalance;
        let local = (slots / ep).max(1.0);
        let hit = local * (1.0 - (1.0 - 1.0 / local).powf(tokens_gpu));
        let f = if self.spec.ep > 1 {
            moe.expert_ffn
        } else {
            moe.expert_ffn.div_ceil(self.spec.tp as u64)
        };
        let up = if m.gated_mlp { 3.0 } else { 2.0 };
        let h = m.hidden as f64;
        let wb = self.precision.bytes_per_weight();
        let flops = 2.0 * tokens_gpu * up * h * f as f64;
        let per_expert = (tokens_gpu / hit.max(1.0)).max(1.0).round() as u64;
        let op = OpDesc {
            name: "serve_grouped_gemm",
            kind: OpKind::Gemm {
                m: per_expert,
                n: f,
                k: m.hidden,
                pass: Pass::Fwd,
            },
            flops,
            bytes: 0.0,
        };
        let p = gemm_precision(self.precision);
        let eff = self.cm.efficiency(&op, p);
        let mut peak = self.cm.peak(&op, p);
        if self.precision == WeightPrecision::Fp4 {
            if let Some(x) = self.fp4_peak {
                peak = x;
            }
        }
        let compute = if eff > 0.0 { flops / (peak * eff) } else { 0.0 };
        let bytes = hit * up * h * f as f64 * wb + tokens_gpu * (2.0 * h + up * f as f64) * 2.0;
        let mem = bytes / (self.cm.accel.hbm_bw * self.cm.table.memory.get(MemoryOp::Copy));
        (compute.max(mem), imbalance)
    }
}

/// (dense, MoE) layers of the heaviest pipeline stage.
fn stage_layers(m: &ModelSpec, pp: u32) -> (u32, u32) {
    let per = m.layers.div_ceil(pp.max(1));
    let moe = m.moe_layers().min(per);
    (per - moe, moe)
}

/// DeepEP dispatch/combine of a role: every instance's EP groups at once, at a reference batch.
fn ep_costs(
    f: &Fabric,
    m: &ModelSpec,
    spec: &InstanceSpec,
    instances: &[Vec<u32>],
    feat: &Features,
) -> Result<(EpCosts, Vec<BusyLink>), String> {
    let moe = m.moe.as_ref().expect("MoE model");
    let ep = spec.ep as usize;
    let groups: Vec<Vec<u32>> = instances
        .iter()
        .flat_map(|inst| inst.chunks(ep).map(|c| c.to_vec()))
        .filter(|g| g.len() == ep)
        .collect();
    let slots = moe.experts + feat.redundant_experts;
    let experts = if slots % spec.ep == 0 {
        slots
    } else {
        slots.div_ceil(spec.ep) * spec.ep
    };
    let mut links: Vec<BusyLink> = Vec::new();
    let mut price = |op: MoeOp, kernel: MoeKernel, tokens: u64| -> Result<EpKernel, String> {
        let mut sp = MoeSpec::new(op, kernel, tokens, m.hidden, moe.top_k, experts);
        sp.dtype = match op {
            MoeOp::Dispatch if feat.dispatch_bytes <= 1.0 => MoeDtype::Fp8,
            _ => MoeDtype::Bf16,
        };
        let r = collective::moe::run(f, &groups, &sp, Fidelity::Analytical).map_err(|e| e.to_string())?;
        for b in r.bottlenecks.iter().take(3) {
            links.push(BusyLink {
                link: b.name.clone(),
                during: format!("EP {} ({} kernels)", op.name(), kernel.name()),
                transfer_busy_fraction: b.utilisation,
            });
        }
        Ok(EpKernel {
            latency_s: r.latency_s,
            transfer_per_token_s: r.transfer_s / tokens as f64,
        })
    };
    let costs = EpCosts {
        ll_dispatch: price(MoeOp::Dispatch, MoeKernel::LowLatency, 128)?,
        ll_combine: price(MoeOp::Combine, MoeKernel::LowLatency, 128)?,
        normal_dispatch: price(MoeOp::Dispatch, MoeKernel::Normal, 4096)?,
        normal_combine: price(MoeOp::Combine, MoeKernel::Normal, 4096)?,
    };
    Ok((costs, links))
}

/// KV tiers below HBM, per accelerator, from the catalogue's host side of the fabric's servers
/// (`fabric::catalogue::kv_tiers`: host DRAM over PCIe or NVLink-C2C, a pooled memory, local
/// SSD), in order.
pub fn tiers_for(f: &Fabric) -> Vec<KvTier> {
    f.kv_tiers()
        .into_iter()
        .filter(|t| t.capacity_per_accel.0 > 0.0 && t.bandwidth_per_accel.0 > 0.0)
        .map(|t| KvTier {
            name: t.name,
            capacity_bytes_per_accel: t.capacity_per_accel.0,
            bandwidth_bytes_per_s_per_accel: t.bandwidth_per_accel.0,
            source: t.source,
        })
        .collect()
}

/// Largest message the serving engines' custom all-reduce takes (vLLM `CustomAllreduce`
/// `max_size = 8192 * 1024`, vllm/distributed/device_communicators/custom_all_reduce.py; larger
/// messages go to NCCL). TensorRT-LLM's one-shot / two-shot AllReduce strategies play the same
/// part.
pub const CUSTOM_AR_MAX_BYTES: f64 = 8.0 * 1_048_576.0;

/// Per-GPU NVLink bandwidth (one direction, at the scale-up efficiency `ETA_SCALE_UP`) when the
/// whole group sits in one scale-up domain; `None` otherwise (the custom all-reduce needs peer
/// memory access).
fn custom_allreduce_bw(f: &Fabric, group: &[u32]) -> Option<f64> {
    let d = f.domain_of(*group.first()?);
    if group.iter().any(|&r| f.domain_of(r) != d) {
        return None;
    }
    let bw: f64 = f
        .scale_up_ports(group[0])
        .iter()
        .map(|&l| f.link(fabric::LinkId(l)).capacity.0)
        .sum();
    (bw > 0.0).then(|| bw * collective::constants::eta_scale_up())
}
