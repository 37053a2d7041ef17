//! `fabricsim serve`: LLM serving on a fabric (request-level simulation).

use fabricsim::serve::{self, inputs::ServeInputs, ServeReport};
use serde::Serialize;

use crate::UserError;

/// `fabricsim serve` arguments (every value also a key of `--scenario FILE.toml`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Scenario TOML with the same keys as these flags (snake_case: `dp_attn`, `input_len`);
    /// flags given here win.
    #[arg(long)]
    pub scenario: Option<String>,
    /// A preset with parameters or a cluster TOML file (default: gb200-nvl72).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Model: a built-in name (`fabricsim models`; deepseek-r1, llama-3.1-405b, ...) or a
    /// Hugging Face config.json (default: deepseek-r1).
    #[arg(long)]
    pub model: Option<String>,
    /// Weight precision of the GEMMs: bf16, fp8, fp4, int8 (default fp8).
    #[arg(long)]
    pub precision: Option<String>,
    /// Tensor parallelism of a colocated instance.
    #[arg(long)]
    pub tp: Option<u32>,
    /// Expert parallelism (1, or tp × dp-attn).
    #[arg(long)]
    pub ep: Option<u32>,
    /// Data-parallel attention ranks per instance.
    #[arg(long = "dp-attn")]
    pub dp_attn: Option<u32>,
    /// Pipeline stages per instance.
    #[arg(long)]
    pub pp: Option<u32>,
    /// Colocated instances.
    #[arg(long)]
    pub replicas: Option<u32>,
    /// Most running requests per attention rank (default 256).
    #[arg(long = "max-running")]
    pub max_running: Option<u32>,
    /// Chunked-prefill token budget per rank and step (default 8192).
    #[arg(long)]
    pub chunk: Option<u32>,
    /// Disaggregated prefill instances: `tp=1,ep=32,dp-attn=32,instances=4`.
    #[arg(long)]
    pub prefill: Option<String>,
    /// Disaggregated decode instances: `tp=1,ep=144,dp-attn=144,instances=1`.
    #[arg(long)]
    pub decode: Option<String>,
    /// One phase alone, the other assumed unlimited (as per-phase benchmarks run): prefill or
    /// decode (the instance from --prefill / --decode or the colocated flags).
    #[arg(long)]
    pub phase: Option<String>,
    /// Workload kind: synthetic (default), agent (multi-turn sessions), trace.
    #[arg(long)]
    pub workload: Option<String>,
    /// Prompt tokens: `1024` or `512..2048` (agent: the first turn's).
    #[arg(long = "input-len")]
    pub input_len: Option<String>,
    /// Output tokens: `1024` or `256..1024`.
    #[arg(long = "output-len")]
    pub output_len: Option<String>,
    /// Poisson arrivals per second (requests, or sessions for agents).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Closed loop: users each sending the next request when the last one ends (default 2048).
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Tokens of a system prompt shared by every request (prefix-cached).
    #[arg(long = "shared-prefix")]
    pub shared_prefix: Option<u32>,
    /// Agent sessions: turns per session (`8` or `4..12`).
    #[arg(long)]
    pub turns: Option<String>,
    /// Agent sessions: new tokens per later turn (tool result, next message).
    #[arg(long = "turn-input")]
    pub turn_input: Option<String>,
    /// Agent sessions: mean tool-call pause between turns (`2s`, `500ms`).
    #[arg(long = "tool-pause")]
    pub tool_pause: Option<String>,
    /// Trace CSV: arrival_s,input_tokens,output_tokens[,session].
    #[arg(long)]
    pub trace: Option<String>,
    /// Latency targets: `ttft=2s,tpot=50ms,pct=90` (default MLPerf's DeepSeek-R1 server: 2 s,
    /// 80 ms, p99).
    #[arg(long)]
    pub slo: Option<String>,
    /// KV-cache dtype: bf16 or fp8 (default bf16; fp8 with --precision fp4).
    #[arg(long = "kv-dtype")]
    pub kv_dtype: Option<String>,
    /// MTP / speculative draft tokens per step (0 = off).
    #[arg(long)]
    pub mtp: Option<u32>,
    /// Acceptance probability of each draft token (default 0.85).
    #[arg(long = "mtp-acceptance")]
    pub mtp_acceptance: Option<f64>,
    /// Two-batch overlap of communication with compute.
    #[arg(long)]
    pub tbo: Option<bool>,
    /// Redundant expert slots of EPLB (default 32 for MoE models under EP).
    #[arg(long = "redundant-experts")]
    pub redundant_experts: Option<u32>,
    /// Expert-load skew EPLB does not remove, max/mean (default 1: balanced).
    #[arg(long = "expert-skew")]
    pub expert_skew: Option<f64>,
    /// Prefix caching on or off (default true).
    #[arg(long = "prefix-cache")]
    pub prefix_cache: Option<bool>,
    /// Share of usable HBM for weights and KV (default 0.9).
    #[arg(long = "mem-fraction")]
    pub mem_fraction: Option<f64>,
    /// Simulated window (`60s`, `10min`; default 60 s).
    #[arg(long)]
    pub duration: Option<String>,
    /// Leading part of the window left out of the statistics (default duration / 6).
    #[arg(long)]
    pub warmup: Option<String>,
    /// Seed of arrivals and lengths (default 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Sweep the load: `concurrency=1,4,16,64` or `rate=0.5,1,2`; prints the curve of output
    /// tokens/s per accelerator against tokens/s per user.
    #[arg(long)]
    pub sweep: Option<String>,
    /// With --sweep: print the curve as CSV; with --search / --compare-fabrics: the envelope.
    #[arg(long)]
    pub csv: bool,
    /// Search deployments (TP, TP×PP, DP attention + EP, prefill/decode splits and instance
    /// counts, batch limits) for the cluster, model, precision and workload; print the Pareto
    /// envelope of output tokens/s per accelerator against tokens/s per user, the deployment the
    /// --slo picks, and its SGLang / vLLM launch commands.
    #[arg(long)]
    pub search: bool,
    /// With --search: batch limits to try, most running requests per attention rank
    /// (default 1,2,4,8,16,32,64,128,256).
    #[arg(long = "search-levels")]
    pub search_levels: Option<String>,
    /// With --search: most deployments simulated after the screen (default 24).
    #[arg(long = "search-survivors")]
    pub search_survivors: Option<usize>,
    /// Search the same load on several fabrics and compare their envelopes: names
    /// (hgx-h100-ib, hgx-b200-roce, gb200-nvl72, cloudmatrix384) or cluster specs, separated by
    /// `,` or `;` (default: those four). Precision per fabric unless --precision is given: fp4 on
    /// Blackwell, int8 on Ascend, fp8 elsewhere.
    #[arg(long = "compare-fabrics", num_args = 0..=1, default_missing_value = serve::compare::DEFAULT_FABRICS)]
    pub compare_fabrics: Option<String>,
    /// Model path written into the engine configs of --search (default: --model as given).
    #[arg(long = "model-path")]
    pub model_path: Option<String>,
    /// Print JSON (schema_version, units in key names).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub power: crate::power_flags::ServePowerFlags,
}

impl ServeArgs {
    fn inputs(&self) -> ServeInputs {
        ServeInputs {
            cluster: self.cluster.clone(),
            model: self.model.clone(),
            precision: self.precision.clone(),
            tp: self.tp,
            ep: self.ep,
            dp_attn: self.dp_attn,
            pp: self.pp,
            replicas: self.replicas,
            max_running: self.max_running,
            chunk: self.chunk,
            prefill: self.prefill.clone(),
            decode: self.decode.clone(),
            phase: self.phase.clone(),
            workload: self.workload.clone(),
            input_len: self.input_len.clone(),
            output_len: self.output_len.clone(),
            rate: self.rate,
            concurrency: self.concurrency,
            shared_prefix: self.shared_prefix,
            turns: self.turns.clone(),
            turn_input: self.turn_input.clone(),
            tool_pause: self.tool_pause.clone(),
            trace: self.trace.clone(),
            slo: self.slo.clone(),
            kv_dtype: self.kv_dtype.clone(),
            mtp: self.mtp,
            mtp_acceptance: self.mtp_acceptance,
            tbo: self.tbo,
            redundant_experts: self.redundant_experts,
            expert_skew: self.expert_skew,
            prefix_cache: self.prefix_cache,
            mem_fraction: self.mem_fraction,
            duration: self.duration.clone(),
            warmup: self.warmup.clone(),
            seed: self.seed,
        }
    }
}

/// One point of a `--sweep` curve.
#[derive(Debug, Serialize)]
pub struct CurvePoint {
    pub load: String,
    pub output_tokens_per_s_per_accel: f64,
    pub output_tokens_per_s_per_user: f64,
    pub input_tokens_per_s_per_accel: f64,
    pub ttft_p50_s: f64,
    pub ttft_p90_s: f64,
    pub tpot_p50_s: f64,
    pub tpot_p90_s: f64,
    pub slo_attainment_fraction: f64,
    /// Facility power and energy of the point (`fabricsim::power::serve_energy`; absent where
    /// the catalogue has no TDP for the accelerator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub it_power_w: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facility_power_w: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_kwh_per_day: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_j_per_output_token: Option<f64>,
}

#[derive(Debug, Serialize)]
struct SweepJson<'a> {
    schema_version: u32,
    sweep: &'a str,
    curve: Vec<CurvePoint>,
    points: Vec<ServeReport>,
}

/// Resolve a model name or a config.json path.
pub fn resolve_model(name: &str) -> Result<workload::ModelSpec, UserError> {
    if name.ends_with(".json") {
        let text =
            std::fs::read_to_string(name).map_err(|e| UserError(format!("--model: cannot read `{name}`: {e}")))?;
        let stem = std::path::Path::new(name)
            .file_stem()
            .map_or("model".to_string(), |s| s.to_string_lossy().into_owned());
        return workload::hf::from_hf_config(&text, &stem).map_err(|e| UserError(format!("--model {name}: {e}")));
    }
    workload::registry::get(name).map_err(|e| UserError(format!("--model: {e}")))
}

/// Resolve inputs (file under flags) into a scenario, reading the trace when one is named.
pub fn scenario(inputs: &ServeInputs) -> Result<serve::ServeScenario, UserError> {
    let trace_text = match &inputs.trace {
        Some(path) => {
            Some(std::fs::read_to_string(path).map_err(|e| UserError(format!("--trace: cannot read `{path}`: {e}")))?)
        }
        None => None,
    };
    match inputs.model.as_deref() {
        Some(name) if name.ends_with(".json") => {
            let model = resolve_model(name)?;
            inputs.scenario(model, trace_text.as_deref()).map_err(UserError)
        }
        _ => inputs.scenario_from_registry(trace_text.as_deref()).map_err(UserError),
    }
}

pub fn run(a: ServeArgs, load_cluster: impl Fn(&str) -> Result<fabric::Fabric, UserError>) -> Result<u8, UserError> {
    let mut inputs = a.inputs();
    if let Some(path) = &a.scenario {
        let text = std::fs::read_to_string(path).map_err(|e| UserError(format!("cannot read `{path}`: {e}")))?;
        let mut file = ServeInputs::from_toml(&text, path).map_err(UserError)?;
        // A trace named in the file is relative to the file.
        if let Some(t) = &file.trace {
            let base = std::path::Path::new(path).parent().unwrap_or(std::path::Path::new(""));
            file.trace = Some(base.join(t).to_string_lossy().into_owned());
        }
        inputs = inputs.over(file);
    }
    if a.search || a.compare_fabrics.is_some() {
        return run_search(&a, &inputs, &load_cluster);
    }
    let power = a.power.options()?;
    let s = scenario(&inputs)?;
    let f = load_cluster(&s.cluster)?;
    match &a.sweep {
        None => {
            let mut r = serve::run(&s, &f).map_err(UserError)?;
            // The options were checked above; no TDP in the catalogue, no energy keys.
            r.energy = fabricsim::power::serve_energy(&r, &f, &power).ok();
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r).map_err(|e| UserError(e.to_string()))?
                );
            } else {
                print!("{}", render(&r));
            }
            Ok(0)
        }
        Some(sweep) => {
            let (key, values) = sweep
                .split_once('=')
                .ok_or_else(|| UserError(format!("--sweep: `{sweep}` is not key=v1,v2,...")))?;
            let values: Vec<&str> = values.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
            if values.is_empty() || values.len() > 1000 {
                return Err(UserError("--sweep: give 1 to 1000 values".into()));
            }
            let mut points = Vec::new();
            for v in &values {
                let mut p = inputs.clone();
                match key.trim() {
                    "concurrency" => {
                        p.rate = None;
                        p.concurrency = Some(
                            v.parse()
                                .map_err(|_| UserError(format!("--sweep concurrency: `{v}` is not a whole number")))?,
                        );
                    }
                    "rate" => {
                        p.concurrency = None;
                        p.rate = Some(
                            v.parse()
                                .map_err(|_| UserError(format!("--sweep rate: `{v}` is not a number")))?,
                        );
                    }
                    other => {
                        return Err(UserError(format!(
                            "--sweep: unknown key `{other}` (known: concurrency, rate)"
                        )))
                    }
                }
                points.push((v.to_string(), scenario(&p)?));
            }
            let scenarios: Vec<serve::ServeScenario> = points.iter().map(|(_, s)| s.clone()).collect();
            let reports = serve::run_many(&scenarios, &f);
            let mut reps = Vec::new();
            for r in reports {
                let mut r = r.map_err(UserError)?;
                // As for one point: no TDP in the catalogue, no energy keys.
                r.energy = fabricsim::power::serve_energy(&r, &f, &power).ok();
                reps.push(r);
            }
            let curve: Vec<CurvePoint> = points
                .iter()
                .zip(&reps)
                .map(|((v, _), r)| CurvePoint {
                    load: format!("{}={v}", key.trim()),
                    output_tokens_per_s_per_accel: r.output_tokens_per_s_per_accel,
                    output_tokens_per_s_per_user: r.output_tokens_per_s_per_user,
                    input_tokens_per_s_per_accel: r.input_tokens_per_s_per_accel,
                    ttft_p50_s: r.ttft_s.p50,
                    ttft_p90_s: r.ttft_s.p90,
                    tpot_p50_s: r.tpot_s.p50,
                    tpot_p90_s: r.tpot_s.p90,
                    slo_attainment_fraction: r.slo_attainment_fraction,
                    it_power_w: r.energy.as_ref().map(|e| e.it_power_w),
                    facility_power_w: r.energy.as_ref().map(|e| e.facility_power_w),
                    energy_kwh_per_day: r.energy.as_ref().map(|e| e.energy_kwh_per_day),
                    energy_j_per_output_token: r.energy.as_ref().map(|e| e.energy_j_per_output_token),
                })
                .collect();
            if a.json {
                let j = SweepJson {
                    schema_version: fabricsim::SCHEMA_VERSION,
                    sweep,
                    curve,
                    points: reps,
                };
                println!(
                    "{}",
                    serde_json::to_string_pretty(&j).map_err(|e| UserError(e.to_string()))?
                );
            } else if a.csv {
                println!("load,output_tokens_per_s_per_accel,output_tokens_per_s_per_user,input_tokens_per_s_per_accel,ttft_p50_s,ttft_p90_s,tpot_p50_s,tpot_p90_s,slo_attainment_fraction,facility_power_w,energy_j_per_output_token");
                let opt = |x: Option<f64>, digits: usize| x.map_or(String::new(), |v| format!("{v:.digits$}"));
                for c in &curve {
                    println!(
                        "{},{:.3},{:.3},{:.3},{:.6},{:.6},{:.6},{:.6},{:.4},{},{}",
                        c.load,
                        c.output_tokens_per_s_per_accel,
                        c.output_tokens_per_s_per_user,
                        c.input_tokens_per_s_per_accel,
                        c.ttft_p50_s,
                        c.ttft_p90_s,
                        c.tpot_p50_s,
                        c.tpot_p90_s,
                        c.slo_attainment_fraction,
                        opt(c.facility_power_w, 1),
                        opt(c.energy_j_per_output_token, 6)
                    );
                }
            } else {
                if let Some(r) = reps.first() {
                    println!(
                        "{} on {} ({}), {}",
                        r.model, r.cluster, r.accelerator, r.deployment_text
                    );
                }
                println!(
                    "{:>16}  {:>12}  {:>11}  {:>11}  {:>9}  {:>9}  {:>9}",
                    "load", "out tok/s/acc", "tok/s/user", "in tok/s/acc", "TTFT p50", "TPOT p50", "SLO met"
                );
                for c in &curve {
                    println!(
                        "{:>16}  {:>12.1}  {:>11.1}  {:>11.1}  {:>9}  {:>9}  {:>8.1}%",
                        c.load,
                        c.output_tokens_per_s_per_accel,
                        c.output_tokens_per_s_per_user,
                        c.input_tokens_per_s_per_accel,
                        dur(c.ttft_p50_s),
                        dur(c.tpot_p50_s),
                        c.slo_attainment_fraction * 100.0
                    );
                }
            }
            Ok(0)
        }
    }
}

fn dur(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn gb(b: f64) -> String {
    format!("{:.1} GB", b / 1e9)
}

/// The readable report.
pub fn render(r: &ServeReport) -> String {
    let mut o = String::new();
    let w = |o: &mut String, s: String| {
        o.push_str(&s);
        o.push('\n');
    };
    w(
        &mut o,
        format!(
            "serve: {} ({}) on {} — {} accelerators ({})",
            r.model, r.precision, r.cluster, r.accelerators, r.accelerator
        ),
    );
    w(&mut o, format!("deployment: {}", r.deployment_text));
    w(&mut o, format!("workload:   {}", r.workload));
    w(
        &mut o,
        format!(
            "window:     {:.0} s measured (after {:.0} s warm-up), {:.0} s simulated, {} requests ({} unfinished), seed {}",
            r.window_s,
            r.warmup_s,
            r.simulated_s,
            r.requests_arrived,
            r.requests_unfinished,
            r.seed
        ),
    );
    o.push('\n');
    w(&mut o, "throughput".into());
    w(
        &mut o,
        format!(
            "  output tokens/s per accelerator  {:>10.1}",
            r.output_tokens_per_s_per_accel
        ),
    );
    w(
        &mut o,
        format!(
            "  input tokens/s per accelerator   {:>10.1}",
            r.input_tokens_per_s_per_accel
        ),
    );
    w(
        &mut o,
        format!(
            "  output tokens/s per user         {:>10.1}",
            r.output_tokens_per_s_per_user
        ),
    );
    w(
        &mut o,
        format!(
            "  cached input                     {:>9.1} %   (KV hit {:.1} % of cacheable)",
            r.cached_input_fraction * 100.0,
            r.kv_cache_hit_fraction * 100.0
        ),
    );
    o.push('\n');
    w(
        &mut o,
        format!(
            "latency          {:>9} {:>9} {:>9} {:>9} {:>9}",
            "mean", "p10", "p50", "p90", "p99"
        ),
    );
    for (name, d) in [("TTFT", &r.ttft_s), ("TPOT", &r.tpot_s), ("end-to-end", &r.e2e_s)] {
        w(
            &mut o,
            format!(
                "  {name:<14} {:>9} {:>9} {:>9} {:>9} {:>9}",
                dur(d.mean),
                dur(d.p10),
                dur(d.p50),
                dur(d.p90),
                dur(d.p99)
            ),
        );
    }
    w(
        &mut o,
        format!(
            "  SLO (TTFT ≤ {}, TPOT ≤ {}): {:.1} % of requests within, target {:.0} % — {}",
            dur(r.slo.ttft_s),
            dur(r.slo.tpot_s),
            r.slo_attainment_fraction * 100.0,
            r.slo.attainment_target_fraction * 100.0,
            if r.slo_met { "met" } else { "MISSED" }
        ),
    );
    if r.kv_transfer_bytes > 0.0 {
        w(
            &mut o,
            format!(
                "  KV transfer prefill → decode: mean {}, p99 {} ({:.2} TB moved)",
                dur(r.kv_transfer_s.mean),
                dur(r.kv_transfer_s.p99),
                r.kv_transfer_bytes / 1e12
            ),
        );
    }
    o.push('\n');
    for role in &r.roles {
        w(
            &mut o,
            format!(
                "{} instances: {} × ({}) = {} accelerators",
                role.role, role.instances, role.layout, role.accelerators
            ),
        );
        w(
            &mut o,
            format!(
                "  memory per GPU: weights {}, KV pool {} of {} usable; KV {:.0} B/token ({:.0} B on each GPU), {} tokens per rank",
                gb(role.weights_bytes_per_accel),
                gb(role.kv_pool_bytes_per_accel),
                gb(role.hbm_usable_bytes_per_accel),
                role.kv_bytes_per_token,
                role.kv_bytes_per_token_per_accel,
                role.kv_capacity_tokens_per_rank
            ),
        );
        for t in &role.kv_tiers {
            w(
                &mut o,
                format!(
                    "  KV tier {}: {} per GPU at {:.0} GB/s",
                    t.name,
                    gb(t.capacity_bytes_per_accel),
                    t.bandwidth_bytes_per_s_per_accel / 1e9
                ),
            );
        }
        w(
            &mut o,
            format!(
                "  steps {} (mean {}), busy {:.0} %, decode batch {:.1} per rank, KV occupancy mean {:.0} % / peak {:.0} %, preemptions {}",
                role.steps,
                dur(role.mean_step_s),
                role.busy_fraction * 100.0,
                role.mean_decode_batch_per_rank,
                role.kv_occupancy_mean_fraction * 100.0,
                role.kv_occupancy_peak_fraction * 100.0,
                role.preemptions
            ),
        );
        let b = &role.step_breakdown;
        w(
            &mut o,
            format!(
                "  step time: GEMMs {:.0} %, attention {:.0} %, routed experts {:.0} %, other {:.0} %, exposed comm {:.0} % (TP {:.0} %, EP {:.0} %, PP {:.0} % before overlap)",
                b.gemm_fraction * 100.0,
                b.attention_fraction * 100.0,
                b.moe_experts_fraction * 100.0,
                b.other_compute_fraction * 100.0,
                b.comm_exposed_fraction * 100.0,
                b.tp_comm_ratio * 100.0,
                b.ep_comm_ratio * 100.0,
                b.pp_comm_ratio * 100.0
            ),
        );
        w(
            &mut o,
            format!(
                "  per accelerator: input {:.1} tokens/s, output {:.1} tokens/s",
                role.input_tokens_per_s_per_accel, role.output_tokens_per_s_per_accel
            ),
        );
        // One line per operation: its busiest link.
        let mut seen = Vec::new();
        for l in &role.busiest_links {
            if seen.contains(&&l.during) {
                continue;
            }
            seen.push(&l.during);
            w(
                &mut o,
                format!(
                    "  busiest in {}: {} ({:.0} % of the transfer)",
                    l.during,
                    l.link,
                    l.transfer_busy_fraction * 100.0
                ),
            );
        }
    }
    o.push('\n');
    w(
        &mut o,
        format!(
            "energy: {:.2} J per output token (accelerators at TDP while busy)",
            r.accel_energy_j_per_output_token
        ),
    );
    if let Some(e) = &r.energy {
        o.push_str(&crate::power_flags::render_serve(e));
    }
    w(
        &mut o,
        format!(
            "Little's law: L = {:.1} requests in the system, λ·W = {:.1}",
            r.littles_law.mean_in_system,
            r.littles_law.arrival_rate_per_s * r.littles_law.mean_time_in_system_s
        ),
    );
    w(&mut o, "assumptions:".into());
    for a in &r.assumptions {
        w(&mut o, format!("  - {a}"));
    }
    o
}

/// Search options from the flags (`--duration` / `--warmup` fix the simulated window).
fn search_options(a: &ServeArgs, inputs: &ServeInputs) -> Result<serve::search::SearchOptions, UserError> {
    let mut o = serve::search::SearchOptions::default();
    if let Some(l) = &a.search_levels {
        let mut v = Vec::new();
        for x in l.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let n: u32 = x
                .parse()
                .map_err(|_| UserError(format!("--search-levels: `{x}` is not a whole number")))?;
            if n == 0 || n > 65_536 {
                return Err(UserError(format!("--search-levels: {n} must be in 1–65536")));
            }
            v.push(n);
        }
        if v.is_empty() || v.len() > 32 {
            return Err(UserError("--search-levels: give 1 to 32 batch limits".into()));
        }
        v.sort_unstable();
        v.dedup();
        o.levels = v;
    }
    if let Some(n) = a.search_survivors {
        if n == 0 || n > 1000 {
            return Err(UserError(format!("--search-survivors: {n} must be in 1–1000")));
        }
        o.max_survivors = n;
        o.max_simulations = o.max_simulations.max(n * 2);
    }
    if let Some(d) = &inputs.duration {
        o.window_s = Some(serve::parse_duration(d).map_err(|e| UserError(format!("--duration: {e}")))?);
    }
    if let Some(w) = &inputs.warmup {
        o.warmup_s = Some(serve::parse_duration(w).map_err(|e| UserError(format!("--warmup: {e}")))?);
    }
    o.redundant_experts = inputs.redundant_experts;
    if let Some(c) = inputs.chunk {
        if c == 0 {
            return Err(UserError("--chunk: must be at least 1".into()));
        }
        o.chunk_tokens = c;
    }
    // The configs name the model as the user gave it (an alias such as deepseek-r1 stays).
    o.model_path = a.model_path.clone().or_else(|| {
        Some(
            inputs
                .model
                .clone()
                .unwrap_or_else(|| serve::inputs::DEFAULT_MODEL.to_string()),
        )
    });
    Ok(o)
}

/// `--search` and `--compare-fabrics`.
fn run_search(
    a: &ServeArgs,
    inputs: &ServeInputs,
    load_cluster: &impl Fn(&str) -> Result<fabric::Fabric, UserError>,
) -> Result<u8, UserError> {
    let what = if a.search { "--search" } else { "--compare-fabrics" };
    for (given, flag) in [
        (inputs.tp.is_some(), "--tp"),
        (inputs.ep.is_some(), "--ep"),
        (inputs.dp_attn.is_some(), "--dp-attn"),
        (inputs.pp.is_some(), "--pp"),
        (inputs.replicas.is_some(), "--replicas"),
        (inputs.prefill.is_some(), "--prefill"),
        (inputs.decode.is_some(), "--decode"),
        (inputs.phase.is_some(), "--phase"),
        (inputs.max_running.is_some(), "--max-running (use --search-levels)"),
        (inputs.rate.is_some(), "--rate"),
        (inputs.concurrency.is_some(), "--concurrency"),
        (a.sweep.is_some(), "--sweep"),
    ] {
        if given {
            return Err(UserError(format!(
                "{what} chooses the deployment and the load itself; drop {flag}"
            )));
        }
    }
    if a.search && a.compare_fabrics.is_some() {
        return Err(UserError("--search and --compare-fabrics exclude each other".into()));
    }
    let opts = search_options(a, inputs)?;
    let t0 = std::time::Instant::now();
    if let Some(list) = &a.compare_fabrics {
        let entries = serve::compare::split_list(list);
        if entries.is_empty() || entries.len() > 16 {
            return Err(UserError("--compare-fabrics: give 1 to 16 fabrics".into()));
        }
        let mut runs = Vec::new();
        for e in &entries {
            let (label, spec) = serve::compare::resolve(e);
            let f = load_cluster(&spec)?;
            let mut p = inputs.clone();
            p.cluster = Some(spec.clone());
            if p.precision.is_none() {
                p.precision = Some(serve::compare::native_precision(f.accel_model).name().to_string());
            }
            let s = scenario(&p)?;
            runs.push(serve::compare::FabricRun {
                label,
                scenario: s,
                fabric: f,
            });
        }
        let c = serve::compare::compare(&runs, &opts).map_err(UserError)?;
        if a.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&c).map_err(|e| UserError(e.to_string()))?
            );
        } else if a.csv {
            println!("{}", ENVELOPE_CSV_HEADER_FABRIC);
            for fr in &c.fabrics {
                for p in &fr.search.envelope {
                    println!("{},{}", fr.label, envelope_csv_row(p));
                }
            }
        } else {
            print!("{}", render_comparison(&c));
            eprintln!("({:.1} s wall)", t0.elapsed().as_secs_f64());
        }
        return Ok(0);
    }
    let s = scenario(inputs)?;
    let f = load_cluster(&s.cluster)?;
    let r = serve::search::search(&s, &f, &opts).map_err(UserError)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| UserError(e.to_string()))?
        );
    } else if a.csv {
        println!("{}", ENVELOPE_CSV_HEADER);
        for p in &r.envelope {
            println!("{}", envelope_csv_row(p));
        }
    } else {
        print!("{}", render_search(&r));
        eprintln!("({:.1} s wall)", t0.elapsed().as_secs_f64());
    }
    Ok(0)
}

const ENVELOPE_CSV_HEADER: &str = "deployment,accelerators,max_running_per_rank,concurrency,output_tokens_per_s_per_accel,output_tokens_per_s_per_user,input_tokens_per_s_per_accel,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,slo_attainment_fraction,slo_met";
const ENVELOPE_CSV_HEADER_FABRIC: &str = "fabric,deployment,accelerators,max_running_per_rank,concurrency,output_tokens_per_s_per_accel,output_tokens_per_s_per_user,input_tokens_per_s_per_accel,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,slo_attainment_fraction,slo_met";

fn envelope_csv_row(p: &serve::search::SearchPoint) -> String {
    format!(
        "\"{}\",{},{},{},{:.3},{:.3},{:.3},{:.6},{:.6},{:.6},{:.6},{:.4},{}",
        p.deployment_text,
        p.accelerators,
        p.max_running_per_rank,
        p.concurrency,
        p.output_tokens_per_s_per_accel,
        p.output_tokens_per_s_per_user,
        p.input_tokens_per_s_per_accel,
        p.ttft_s.p50,
        p.ttft_s.p99,
        p.tpot_s.p50,
        p.tpot_s.p99,
        p.slo_attainment_fraction,
        p.slo_met
    )
}

fn envelope_table(o: &mut String, env: &[serve::search::SearchPoint]) {
    o.push_str(&format!(
        "  {:>10}  {:>12}  {:>9}  {:>9}  {:>4}  {:>6}  deployment\n",
        "tok/s/user", "out tok/s/acc", "TTFT p99", "TPOT p99", "SLO", "users"
    ));
    for p in env {
        o.push_str(&format!(
            "  {:>10.1}  {:>12.1}  {:>9}  {:>9}  {:>4}  {:>6}  {} (max-running {})\n",
            p.output_tokens_per_s_per_user,
            p.output_tokens_per_s_per_accel,
            dur(p.ttft_s.p99),
            dur(p.tpot_s.p99),
            if p.slo_met { "met" } else { "—" },
            p.concurrency,
            p.deployment_text,
            p.max_running_per_rank
        ));
    }
}

/// The readable search report.
pub fn render_search(r: &serve::search::SearchReport) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "serve --search: {} ({}) on {} — {} × {}\n",
        r.model, r.precision, r.cluster, r.cluster_accelerators, r.accelerator
    ));
    o.push_str(&format!("workload: {}\n", r.workload));
    o.push_str(&format!(
        "searched: {} instance shapes ({} fit in memory), {} deployments screened, {} simulated at {} loads ({} failed)\n\n",
        r.shapes_tried, r.shapes_fitting, r.deployments_screened, r.deployments_simulated, r.simulations, r.simulations_failed
    ));
    o.push_str("Pareto envelope (output tokens/s per accelerator against tokens/s per user)\n");
    envelope_table(&mut o, &r.envelope);
    o.push('\n');
    o.push_str(&format!(
        "{}: {}\n\n",
        if r.chosen.slo_met { "chosen" } else { "SLO MISSED" },
        r.chosen.statement
    ));
    o.push_str("SGLang:\n");
    for l in &r.configs.sglang {
        o.push_str(&format!("  {l}\n"));
    }
    o.push_str("vLLM:\n");
    for l in &r.configs.vllm {
        o.push_str(&format!("  {l}\n"));
    }
    for n in &r.configs.notes {
        o.push_str(&format!("  note: {n}\n"));
    }
    o.push_str("notes:\n");
    for n in &r.notes {
        o.push_str(&format!("  - {n}\n"));
    }
    o
}

/// The readable fabric comparison.
pub fn render_comparison(c: &serve::compare::FabricComparison) -> String {
    let mut o = String::new();
    o.push_str(&format!("serve --compare-fabrics: {} — {}\n\n", c.model, c.workload));
    for f in &c.fabrics {
        let r = &f.search;
        o.push_str(&format!(
            "{} = {} ({} × {}, {}): {} shapes fit, {} deployments screened, {} simulations\n",
            f.label,
            f.cluster,
            r.cluster_accelerators,
            r.accelerator,
            f.precision,
            r.shapes_fitting,
            r.deployments_screened,
            r.simulations
        ));
        envelope_table(&mut o, &r.envelope);
        o.push('\n');
    }
    o.push_str("output tokens/s per accelerator along the envelopes\n");
    o.push_str(&format!("  {:>10}", "tok/s/user"));
    for f in &c.fabrics {
        o.push_str(&format!("  {:>14}", f.label));
    }
    o.push('\n');
    for u in [25.0, 50.0, 75.0, 100.0, 125.0, 150.0, 175.0, 200.0, 250.0, 300.0] {
        o.push_str(&format!("  {u:>10.0}"));
        for f in &c.fabrics {
            match serve::search::per_accel_at(&f.search.envelope, u) {
                Some(y) => o.push_str(&format!("  {y:>14.0}")),
                None => o.push_str(&format!("  {:>14}", "—")),
            }
        }
        o.push('\n');
    }
    o.push_str(&format!(
        "\nwhere the step goes near {:.0} tokens/s per user (the envelope point closest to it)\n",
        serve::compare::INFERENCEX_AT_PER_USER
    ));
    for f in &c.fabrics {
        let near = f.search.envelope.iter().min_by(|a, b| {
            let d = |p: &serve::search::SearchPoint| {
                (p.output_tokens_per_s_per_user - serve::compare::INFERENCEX_AT_PER_USER).abs()
            };
            d(a).total_cmp(&d(b))
        });
        if let Some(p) = near {
            let b = &p.batch_role_step_breakdown;
            o.push_str(&format!(
                "  {:<15} {:.0} tok/s/user, {}: step {}: GEMMs {:.0} %, attention {:.0} %, routed experts {:.0} %, exposed comm {:.0} % (EP {:.0} %, TP {:.0} % before overlap)\n",
                f.label,
                p.output_tokens_per_s_per_user,
                p.deployment_text,
                dur(p.batch_role_mean_step_s),
                b.gemm_fraction * 100.0,
                b.attention_fraction * 100.0,
                b.moe_experts_fraction * 100.0,
                b.comm_exposed_fraction * 100.0,
                b.ep_comm_ratio * 100.0,
                b.tp_comm_ratio * 100.0
            ));
        }
    }
    if let Some(x) = &c.inferencex {
        o.push('\n');
        o.push_str(&format!(
            "InferenceX check ({} / {}): {}\n",
            x.numerator, x.denominator, x.statement
        ));
        o.push_str(&match x.first_above_2x_output_tokens_per_s_per_user {
            Some(u) => format!(
                "  the ratio first reaches 2× at {u:.0} tokens/s per user (published: between {:.0} and {:.0})\n",
                x.published_first_above_2x_band.0, x.published_first_above_2x_band.1
            ),
            None => "  the ratio never reaches 2× along the common range of the envelopes\n".into(),
        });
    }
    o
}
