//! `fabricsim serve`: request-level simulation of LLM inference serving on a fabric.
//!
//! A [`ServeScenario`] (model, weight precision, deployment, workload, SLO, engine features) on a
//! built [`Fabric`] becomes a [`report::ServeReport`]:
//!
//! ```text
//!  layout::place        instances of each role on the fabric's accelerators      → Placement
//!  cost::InstanceCost   per role: weights and KV capacity per GPU, the step-time   → StepCost
//!                       model (GEMMs, attention over the KV cache, TP all-reduce,
//!                       EP dispatch/combine, PP sends) priced once on the fabric
//!  requests::generate   synthetic / agent sessions / trace rows                   → RequestSpec
//!  sim::run             event loop: arrivals, continuous batching with chunked     → Records
//!                       prefill, paged KV blocks with preemption, prefix cache in
//!                       tiers, KV transfer prefill → decode
//!  report::assemble     throughput per accelerator and per user, TTFT / TPOT
//!                       distributions, SLO attainment, KV occupancy and hits       → ServeReport
//! ```
//!
//! Communication inside a step is *priced* (the collective models on the real groups of the
//! fabric, once per role at set-up); the KV transfers of disaggregated serving are priced per
//! request on the path between a prefill and a decode instance. Neither contends live with the
//! other instances' traffic (see docs/serving.md, "What is not modelled").

pub mod compare;
pub mod cost;
pub mod deploy_config;
pub mod inputs;
pub mod report;
pub mod requests;
pub mod search;
pub mod sim;

use fabric::Fabric;
use serde::Serialize;

pub use report::ServeReport;

/// Weight precision of the GEMMs (`--precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightPrecision {
    Bf16,
    Fp8,
    /// NVFP4: 4-bit values with one FP8 scale per 16 (Blackwell tensor cores).
    Fp4,
    /// INT8 weights and activations (CloudMatrix-Infer's DeepSeek-R1 deployment).
    Int8,
}

impl WeightPrecision {
    /// Parse `bf16|fp8|fp4|int8`.
    pub fn parse(s: &str) -> Result<WeightPrecision, String> {
        match s.to_ascii_lowercase().as_str() {
            "bf16" => Ok(WeightPrecision::Bf16),
            "fp8" => Ok(WeightPrecision::Fp8),
            "fp4" | "nvfp4" => Ok(WeightPrecision::Fp4),
            "int8" | "w8a8" => Ok(WeightPrecision::Int8),
            other => Err(format!("unknown precision `{other}` (known: bf16, fp8, fp4, int8)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WeightPrecision::Bf16 => "bf16",
            WeightPrecision::Fp8 => "fp8",
            WeightPrecision::Fp4 => "fp4",
            WeightPrecision::Int8 => "int8",
        }
    }

    /// Bytes per weight in HBM: BF16 2; FP8 and INT8 1 (DeepSeek-V3's FP8 checkpoint keeps one
    /// FP32 scale per 128×128 block: 4 / 16,384 B per weight, counted); NVFP4 0.5 plus one FP8
    /// scale per 16 values (NVIDIA's NVFP4 format: 16-element micro-blocks with an E4M3 scale).
    pub fn bytes_per_weight(self) -> f64 {
        match self {
            WeightPrecision::Bf16 => 2.0,
            WeightPrecision::Fp8 => 1.0 + 4.0 / 16_384.0,
            WeightPrecision::Int8 => 1.0,
            WeightPrecision::Fp4 => 0.5 + 1.0 / 16.0,
        }
    }
}

/// One kind of serving instance: its parallel layout and its batch limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InstanceSpec {
    /// Tensor parallelism of attention (and of dense FFNs and shared experts).
    pub tp: u32,
    /// Expert parallelism of the routed experts (1, or every GPU of a pipeline stage:
    /// `tp × dp_attn`).
    pub ep: u32,
    /// Data-parallel attention ranks (SGLang's `--enable-dp-attention`), each `tp` GPUs with its
    /// own requests and KV cache.
    pub dp_attn: u32,
    /// Pipeline stages.
    pub pp: u32,
    /// Instances of this kind.
    pub instances: u32,
    /// Most requests running at once on one attention rank (`--max-running-requests` per DP rank).
    pub max_running: u32,
    /// New tokens one attention rank processes in a step (chunked-prefill budget; decode tokens
    /// count against it).
    pub chunk_tokens: u32,
}

impl InstanceSpec {
    /// A `tp`-way instance with the engines' default batch limits.
    pub fn tp(tp: u32) -> InstanceSpec {
        InstanceSpec {
            tp,
            ep: 1,
            dp_attn: 1,
            pp: 1,
            instances: 1,
            max_running: DEFAULT_MAX_RUNNING,
            chunk_tokens: DEFAULT_CHUNK_TOKENS,
        }
    }

    /// Accelerators of one instance.
    pub fn gpus(&self) -> u32 {
        self.tp * self.dp_attn * self.pp
    }

    /// Check the layout (`what` names the flag in errors).
    pub fn check(&self, what: &str) -> Result<(), String> {
        for (v, n) in [
            (self.tp, "tp"),
            (self.ep, "ep"),
            (self.dp_attn, "dp-attn"),
            (self.pp, "pp"),
            (self.instances, "instances"),
            (self.max_running, "max-running"),
            (self.chunk_tokens, "chunk"),
        ] {
            if v == 0 {
                return Err(format!("{what}: {n} must be at least 1"));
            }
        }
        if self.ep > 1 && self.ep != self.tp * self.dp_attn {
            return Err(format!(
                "{what}: ep={} must be 1 or tp × dp-attn = {} (experts are spread over the GPUs of a pipeline stage)",
                self.ep,
                self.tp * self.dp_attn
            ));
        }
        if self.gpus() as u64 * self.instances as u64 > 10_000_000 {
            return Err(format!(
                "{what}: {} instances of {} GPUs is absurd",
                self.instances,
                self.gpus()
            ));
        }
        Ok(())
    }

    /// `tp=1,ep=32,dp-attn=32,instances=4`-style description.
    pub fn describe(&self) -> String {
        let mut s = format!("tp={}", self.tp);
        if self.ep > 1 {
            s += &format!(",ep={}", self.ep);
        }
        if self.dp_attn > 1 {
            s += &format!(",dp-attn={}", self.dp_attn);
        }
        if self.pp > 1 {
            s += &format!(",pp={}", self.pp);
        }
        s += &format!(",instances={}", self.instances);
        s
    }

    /// Parse `tp=1,ep=32,dp-attn=32,instances=4[,pp=..][,max-running=..][,chunk=..]` (the
    /// value of `--prefill` / `--decode`).
    pub fn parse(s: &str, what: &str) -> Result<InstanceSpec, String> {
        let mut spec = InstanceSpec::tp(1);
        let mut ep_given = false;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("{what}: `{part}` is not key=value"))?;
            let n: u32 = v
                .trim()
                .parse()
                .map_err(|_| format!("{what}: {k}=`{v}` is not a whole number"))?;
            match k.trim() {
                "tp" => spec.tp = n,
                "ep" => {
                    spec.ep = n;
                    ep_given = true;
                }
                "dp-attn" | "dp_attn" | "dp" => spec.dp_attn = n,
                "pp" => spec.pp = n,
                "instances" | "replicas" => spec.instances = n,
                "max-running" | "max_running" => spec.max_running = n,
                "chunk" | "chunk-tokens" | "chunk_tokens" => spec.chunk_tokens = n,
                other => {
                    return Err(format!(
                        "{what}: unknown key `{other}` (known: tp, ep, dp-attn, pp, instances, max-running, chunk)"
                    ))
                }
            }
        }
        if !ep_given && spec.dp_attn > 1 {
            spec.ep = spec.tp * spec.dp_attn;
        }
        spec.check(what)?;
        Ok(spec)
    }
}

/// Default most running requests per attention rank (vLLM's `max_num_seqs` default, 256 in
/// vLLM's engine arguments for online serving on data-centre GPUs; SGLang sizes its own from
/// the KV pool — the KV capacity is checked separately, so this is only an upper bound).
pub const DEFAULT_MAX_RUNNING: u32 = 256;
/// Default chunked-prefill budget per step and attention rank: SGLang's `chunked_prefill_size`
/// of 8,192 tokens on GPUs of 80 GB and more (sglang `server_args.py`), and vLLM V1's
/// `max_num_batched_tokens` of 8,192 for online serving.
pub const DEFAULT_CHUNK_TOKENS: u32 = 8192;

/// How the deployment splits the work.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Layout {
    /// Prefill and decode on the same instances (continuous batching with chunked prefill).
    Colocated { instance: InstanceSpec },
    /// Prefill instances hand the KV cache to decode instances over the fabric.
    Disaggregated {
        prefill: InstanceSpec,
        decode: InstanceSpec,
    },
    /// Prefill only, as published per-phase measurements run it (decode assumed unlimited): a
    /// request ends with its first token.
    PrefillOnly { instance: InstanceSpec },
    /// Decode only (prefill assumed unlimited): requests arrive with their prompt already in the
    /// KV cache.
    DecodeOnly { instance: InstanceSpec },
}

impl Layout {
    /// (role, spec) of every instance kind, prefill first.
    pub fn roles(&self) -> Vec<(Role, InstanceSpec)> {
        match *self {
            Layout::Colocated { instance } => vec![(Role::Mixed, instance)],
            Layout::Disaggregated { prefill, decode } => vec![(Role::Prefill, prefill), (Role::Decode, decode)],
            Layout::PrefillOnly { instance } => vec![(Role::Prefill, instance)],
            Layout::DecodeOnly { instance } => vec![(Role::Decode, instance)],
        }
    }

    /// Accelerators of the whole deployment.
    pub fn gpus(&self) -> u64 {
        self.roles()
            .iter()
            .map(|(_, s)| s.gpus() as u64 * s.instances as u64)
            .sum()
    }

    pub fn describe(&self) -> String {
        match self {
            Layout::Colocated { instance } => format!("colocated {}", instance.describe()),
            Layout::Disaggregated { prefill, decode } => {
                format!("prefill {} + decode {}", prefill.describe(), decode.describe())
            }
            Layout::PrefillOnly { instance } => format!("prefill only {}", instance.describe()),
            Layout::DecodeOnly { instance } => format!("decode only {}", instance.describe()),
        }
    }
}

/// What an instance does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Mixed,
    Prefill,
    Decode,
}

/// Latency targets: a request meets the SLO when its TTFT and its TPOT are within them;
/// `pct` of requests must (the attainment target).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Slo {
    pub ttft_s: f64,
    pub tpot_s: f64,
    /// Share of requests that must meet both (0–1), e.g. 0.9.
    pub attainment_target_fraction: f64,
}

impl Default for Slo {
    /// MLPerf Inference v5.1's DeepSeek-R1 server scenario: TTFT 2 s and 12.5 tokens/s per user
    /// (TPOT 80 ms) at p99 (../shared/reference/inference.md, "Latency targets").
    fn default() -> Self {
        Slo {
            ttft_s: 2.0,
            tpot_s: 0.080,
            attainment_target_fraction: 0.99,
        }
    }
}

impl Slo {
    /// Parse `ttft=2s,tpot=50ms,pct=90` (units s or ms; pct in percent).
    pub fn parse(s: &str) -> Result<Slo, String> {
        let mut slo = Slo::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("--slo: `{part}` is not key=value"))?;
            let v = v.trim();
            match k.trim() {
                "ttft" => slo.ttft_s = parse_duration(v).map_err(|e| format!("--slo ttft: {e}"))?,
                "tpot" | "itl" => slo.tpot_s = parse_duration(v).map_err(|e| format!("--slo tpot: {e}"))?,
                "pct" | "p" => {
                    let p: f64 = v
                        .trim_end_matches('%')
                        .parse()
                        .map_err(|_| format!("--slo pct: `{v}` is not a number"))?;
                    if !(p > 0.0 && p <= 100.0) {
                        return Err(format!("--slo pct: {p} must be in (0, 100]"));
                    }
                    slo.attainment_target_fraction = p / 100.0;
                }
                other => return Err(format!("--slo: unknown key `{other}` (known: ttft, tpot, pct)")),
            }
        }
        Ok(slo)
    }
}

/// Parse `2s`, `50ms`, `0.5` (seconds), `300us`.
pub fn parse_duration(v: &str) -> Result<f64, String> {
    let v = v.trim();
    let (num, scale) = if let Some(x) = v.strip_suffix("ms") {
        (x, 1e-3)
    } else if let Some(x) = v.strip_suffix("us") {
        (x, 1e-6)
    } else if let Some(x) = v.strip_suffix('s') {
        (x, 1.0)
    } else if let Some(x) = v.strip_suffix("min") {
        (x, 60.0)
    } else {
        (v, 1.0)
    };
    let x: f64 = num.trim().parse().map_err(|_| format!("`{v}` is not a duration"))?;
    if !(x.is_finite() && x >= 0.0) {
        return Err(format!("`{v}` must be a finite, non-negative duration"));
    }
    Ok(x * scale)
}

/// Engine features that change step times or memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Features {
    /// KV-cache bytes per value (2 = BF16, 1 = FP8).
    pub kv_dtype_bytes: f64,
    /// Draft tokens per step of MTP / speculative decoding (0 = off).
    pub mtp_draft_tokens: u32,
    /// Probability that each draft token is accepted (given the ones before it were).
    #[serde(rename = "mtp_acceptance_fraction")]
    pub mtp_acceptance: f64,
    /// Two-batch overlap: the batch split in two so one half's communication hides under the
    /// other's compute (SGLang `--enable-two-batch-overlap`).
    pub two_batch_overlap: bool,
    /// Redundant expert slots added by EPLB (DeepSeek: 32, 256 → 288).
    pub redundant_experts: u32,
    /// Extra expert-load skew the balancer does not remove, max/mean over GPUs (1 = EPLB balances
    /// the expected load perfectly; per-batch sampling noise is always added on top).
    pub expert_skew: f64,
    /// Reuse cached prefixes (radix / prefix cache).
    pub prefix_cache: bool,
    /// Share of usable HBM the engine may fill with weights and KV (vLLM's
    /// `gpu_memory_utilization`, default 0.9).
    pub mem_fraction: f64,
    /// Tokens per KV block (vLLM's default block size 16).
    pub page_tokens: u32,
    /// Bytes per dispatched token element (1 = FP8 / INT8 dispatch, 2 = BF16).
    pub dispatch_bytes: f64,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            kv_dtype_bytes: 2.0,
            mtp_draft_tokens: 0,
            mtp_acceptance: 0.0,
            two_batch_overlap: false,
            redundant_experts: 0,
            expert_skew: 1.0,
            prefix_cache: true,
            mem_fraction: 0.9,
            page_tokens: 16,
            dispatch_bytes: 1.0,
        }
    }
}

/// A whole serving scenario.
#[derive(Debug, Clone)]
pub struct ServeScenario {
    pub cluster: String,
    pub model: workload::ModelSpec,
    pub precision: WeightPrecision,
    pub layout: Layout,
    pub workload: requests::Workload,
    pub slo: Slo,
    pub features: Features,
    /// Simulated window (s) after which no new request arrives; requests in flight finish.
    pub duration_s: f64,
    /// Requests arriving before this time are served but left out of the statistics.
    pub warmup_s: f64,
    pub seed: u64,
}

/// Largest number of requests one run may generate.
pub const MAX_REQUESTS: usize = 5_000_000;

/// Run a scenario on a built fabric.
pub fn run(s: &ServeScenario, f: &Fabric) -> Result<ServeReport, String> {
    if !(s.duration_s.is_finite() && s.duration_s > 0.0) {
        return Err(format!("--duration: {} s must be positive", s.duration_s));
    }
    if s.duration_s > 30.0 * 86_400.0 {
        return Err(format!(
            "--duration: {} s is more than 30 days of simulated time",
            s.duration_s
        ));
    }
    if !(s.warmup_s >= 0.0 && s.warmup_s < s.duration_s) {
        return Err(format!(
            "--warmup: {} s must be at least 0 and below the duration ({} s)",
            s.warmup_s, s.duration_s
        ));
    }
    for (role, spec) in s.layout.roles() {
        spec.check(&format!("{role:?} instances").to_lowercase())?;
    }
    let need = s.layout.gpus();
    if need > f.accel_count() as u64 {
        return Err(format!(
            "the deployment ({}) needs {need} accelerators; cluster `{}` has {}",
            s.layout.describe(),
            s.cluster,
            f.accel_count()
        ));
    }
    let priced = cost::price_roles(s, f)?;
    // A request whose KV cache cannot fit one rank's pool could never run: say so now.
    let (prompt, context) = s.workload.max_tokens();
    for rc in &priced.roles {
        let need = if rc.role == Role::Prefill { prompt } else { context };
        let cap = rc.kv_capacity_tokens_per_rank;
        if need > cap {
            let per = rc.kv_bytes_per_token_per_gpu;
            return Err(format!(
                "a request of up to {need} tokens (the workload's longest {}) needs {:.1} GB of KV cache per GPU; the KV pool of one {} rank holds {cap} tokens ({:.1} GB) — short by {:.1} GB per GPU (more TP / EP to shrink the weights per GPU, --kv-dtype fp8, or shorter requests)",
                if rc.role == Role::Prefill { "prompt" } else { "prompt + output" },
                need as f64 * per / 1e9,
                format!("{:?}", rc.role).to_lowercase(),
                cap as f64 * per / 1e9,
                (need - cap) as f64 * per / 1e9
            ));
        }
    }
    let gen = requests::generate(&s.workload, s.duration_s, s.seed)?;
    let send = priced.kv_send.as_ref().map(|t| move |b: f64| t.time(b));
    let send_ref: Option<&dyn Fn(f64) -> f64> = send.as_ref().map(|f| f as &dyn Fn(f64) -> f64);
    let out = sim::run(s, &priced.roles, &gen, send_ref)?;
    Ok(report::assemble(s, &priced, &out))
}

/// Run several scenarios on one fabric on every core; results in the order given.
pub fn run_many(scenarios: &[ServeScenario], f: &Fabric) -> Vec<Result<ServeReport, String>> {
    use rayon::prelude::*;
    scenarios.par_iter().map(|s| run(s, f)).collect()
}
