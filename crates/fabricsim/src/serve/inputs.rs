//! `serve`'s inputs as the command line and a scenario TOML give them (the same keys), and
//! their resolution into a [`ServeScenario`] with the defaults of the built-in scenario.

use serde::Deserialize;

use super::requests::{Arrivals, LenDist, Workload};
use super::{parse_duration, Features, InstanceSpec, Layout, ServeScenario, Slo, WeightPrecision};

/// Every input of a serving run; `None` takes the default. The TOML file uses these names
/// (snake_case); the command line the same with hyphens.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeInputs {
    pub cluster: Option<String>,
    pub model: Option<String>,
    pub precision: Option<String>,
    // Colocated deployment.
    pub tp: Option<u32>,
    pub ep: Option<u32>,
    pub dp_attn: Option<u32>,
    pub pp: Option<u32>,
    pub replicas: Option<u32>,
    pub max_running: Option<u32>,
    pub chunk: Option<u32>,
    // Disaggregated deployment.
    pub prefill: Option<String>,
    pub decode: Option<String>,
    /// `prefill` or `decode`: one phase alone, the other assumed unlimited.
    pub phase: Option<String>,
    // Workload.
    pub workload: Option<String>,
    pub input_len: Option<String>,
    pub output_len: Option<String>,
    pub rate: Option<f64>,
    pub concurrency: Option<u32>,
    pub shared_prefix: Option<u32>,
    pub turns: Option<String>,
    pub turn_input: Option<String>,
    pub tool_pause: Option<String>,
    /// Trace CSV path (the caller reads it).
    pub trace: Option<String>,
    // SLO and engine features.
    pub slo: Option<String>,
    pub kv_dtype: Option<String>,
    pub mtp: Option<u32>,
    pub mtp_acceptance: Option<f64>,
    pub tbo: Option<bool>,
    pub redundant_experts: Option<u32>,
    pub expert_skew: Option<f64>,
    pub prefix_cache: Option<bool>,
    pub mem_fraction: Option<f64>,
    pub duration: Option<String>,
    pub warmup: Option<String>,
    pub seed: Option<u64>,
}

/// The built-in scenario: DeepSeek-R1 on one GB200 NVL72 rack, disaggregated as SGLang's GB200
/// deployment (LMSYS, 2025-06-16: DP attention and large-scale EP; decode on 12 trays = 48
/// GPUs, prefill on the rest), 1K-token prompts and 1K-token answers.
pub const DEFAULT_CLUSTER: &str = "gb200-nvl72";
pub const DEFAULT_MODEL: &str = "deepseek-r1";
pub const DEFAULT_PREFILL: &str = "tp=1,ep=8,dp-attn=8,instances=3";
pub const DEFAULT_DECODE: &str = "tp=1,ep=48,dp-attn=48,instances=1";
pub const DEFAULT_CONCURRENCY: u32 = 2048;
pub const DEFAULT_DURATION_S: f64 = 60.0;

impl ServeInputs {
    /// Parse a scenario TOML (`file` names it in errors).
    pub fn from_toml(text: &str, file: &str) -> Result<ServeInputs, String> {
        toml::from_str(text).map_err(|e| format!("{file}: {}", e.to_string().trim_end()))
    }

    /// `self` over `base`: every value given here wins.
    pub fn over(self, base: ServeInputs) -> ServeInputs {
        macro_rules! pick {
            ($($f:ident),*) => { ServeInputs { $($f: self.$f.or(base.$f)),* } };
        }
        pick!(
            cluster,
            model,
            precision,
            tp,
            ep,
            dp_attn,
            pp,
            replicas,
            max_running,
            chunk,
            prefill,
            decode,
            phase,
            workload,
            input_len,
            output_len,
            rate,
            concurrency,
            shared_prefix,
            turns,
            turn_input,
            tool_pause,
            trace,
            slo,
            kv_dtype,
            mtp,
            mtp_acceptance,
            tbo,
            redundant_experts,
            expert_skew,
            prefix_cache,
            mem_fraction,
            duration,
            warmup,
            seed
        )
    }

    /// Whether any deployment value is given (otherwise the built-in deployment applies).
    fn has_deployment(&self) -> bool {
        self.tp.is_some()
            || self.ep.is_some()
            || self.dp_attn.is_some()
            || self.pp.is_some()
            || self.replicas.is_some()
            || self.prefill.is_some()
            || self.decode.is_some()
    }

    /// Resolve with the model from the registry (an alias keeps the name asked for, e.g.
    /// `deepseek-r1` for the DeepSeek-V3 network) — what the CLI does for a registry name and
    /// what the Python binding does.
    pub fn scenario_from_registry(&self, trace: Option<&str>) -> Result<ServeScenario, String> {
        let name = self.model.as_deref().unwrap_or(DEFAULT_MODEL);
        let mut model = workload::registry::get(name).map_err(|e| format!("--model: {e}"))?;
        model.name = name.to_ascii_lowercase();
        self.scenario(model, trace)
    }

    /// Resolve into a scenario. `model` is the resolved model (registry or file); `trace` the
    /// text of `self.trace` when given. Errors name the flag / key.
    pub fn scenario(&self, model: workload::ModelSpec, trace: Option<&str>) -> Result<ServeScenario, String> {
        let cluster = self.cluster.clone().unwrap_or_else(|| DEFAULT_CLUSTER.to_string());
        let precision = WeightPrecision::parse(self.precision.as_deref().unwrap_or("fp8"))
            .map_err(|e| format!("--precision: {e}"))?;
        let builtin = !self.has_deployment() && self.cluster.is_none();
        let colocated = || -> Result<InstanceSpec, String> {
            let tp = self.tp.unwrap_or(1);
            let dp = self.dp_attn.unwrap_or(1);
            let spec = InstanceSpec {
                tp,
                ep: self.ep.unwrap_or(if dp > 1 { tp * dp } else { 1 }),
                dp_attn: dp,
                pp: self.pp.unwrap_or(1),
                instances: self.replicas.unwrap_or(1),
                max_running: self.max_running.unwrap_or(super::DEFAULT_MAX_RUNNING),
                chunk_tokens: self.chunk.unwrap_or(super::DEFAULT_CHUNK_TOKENS),
            };
            spec.check("--tp/--ep/--dp-attn/--pp/--replicas")?;
            Ok(spec)
        };
        let with_limits = |mut s: InstanceSpec| {
            if let Some(m) = self.max_running {
                s.max_running = m;
            }
            if let Some(c) = self.chunk {
                s.chunk_tokens = c;
            }
            s
        };
        let layout = match (&self.prefill, &self.decode, self.phase.as_deref()) {
            (Some(p), Some(d), None) => Layout::Disaggregated {
                prefill: with_limits(InstanceSpec::parse(p, "--prefill")?),
                decode: with_limits(InstanceSpec::parse(d, "--decode")?),
            },
            (Some(_), None, None) | (None, Some(_), None) => {
                return Err("--prefill and --decode go together (a disaggregated deployment needs both)".into())
            }
            (None, None, None) if builtin => Layout::Disaggregated {
                prefill: InstanceSpec::parse(DEFAULT_PREFILL, "--prefill")?,
                decode: InstanceSpec::parse(DEFAULT_DECODE, "--decode")?,
            },
            (None, None, None) => Layout::Colocated { instance: colocated()? },
            (p, d, Some(phase)) => {
                let given = match phase {
                    "prefill" => p.as_ref(),
                    "decode" => d.as_ref(),
                    other => return Err(format!("--phase: `{other}` (known: prefill, decode)")),
                };
                let inst = match given {
                    Some(s) => with_limits(InstanceSpec::parse(s, &format!("--{phase}"))?),
                    None => colocated()?,
                };
                if phase == "prefill" {
                    Layout::PrefillOnly { instance: inst }
                } else {
                    Layout::DecodeOnly { instance: inst }
                }
            }
        };
        let len = |v: &Option<String>, what: &str, default: &str| -> Result<LenDist, String> {
            LenDist::parse(v.as_deref().unwrap_or(default), what)
        };
        let arrivals = match (self.rate, self.concurrency) {
            (Some(_), Some(_)) => return Err("--rate and --concurrency exclude each other".into()),
            (Some(r), None) => Arrivals::Poisson { rate_per_s: r },
            (None, Some(c)) => Arrivals::Concurrency { users: c },
            (None, None) => Arrivals::Concurrency {
                users: DEFAULT_CONCURRENCY,
            },
        };
        let kind = self
            .workload
            .clone()
            .unwrap_or_else(|| if self.trace.is_some() { "trace" } else { "synthetic" }.to_string());
        let workload = match kind.as_str() {
            "synthetic" => Workload::Synthetic {
                input: len(&self.input_len, "--input-len", "1024")?,
                output: len(&self.output_len, "--output-len", "1024")?,
                arrivals,
                shared_prefix_tokens: self.shared_prefix.unwrap_or(0),
            },
            "agent" => Workload::Agent {
                arrivals,
                turns: len(&self.turns, "--turns", "8")?,
                first_input: len(&self.input_len, "--input-len", "4096")?,
                turn_input: len(&self.turn_input, "--turn-input", "512")?,
                output: len(&self.output_len, "--output-len", "256")?,
                pause_mean_s: parse_duration(self.tool_pause.as_deref().unwrap_or("2s"))
                    .map_err(|e| format!("--tool-pause: {e}"))?,
            },
            "trace" => {
                let path = self.trace.as_deref().ok_or("--workload trace needs --trace FILE.csv")?;
                let text = trace.ok_or_else(|| format!("--trace: `{path}` was not read"))?;
                Workload::Trace {
                    rows: super::requests::parse_trace(text, path)?,
                }
            }
            other => return Err(format!("--workload: `{other}` (known: synthetic, agent, trace)")),
        };
        let slo = match &self.slo {
            Some(s) => Slo::parse(s)?,
            None => Slo::default(),
        };
        let mut features = Features {
            kv_dtype_bytes: match self.kv_dtype.as_deref() {
                None => {
                    if precision == WeightPrecision::Fp4 {
                        1.0
                    } else {
                        2.0
                    }
                }
                Some("bf16") | Some("fp16") => 2.0,
                Some("fp8") | Some("int8") => 1.0,
                Some(o) => return Err(format!("--kv-dtype: `{o}` (known: bf16, fp8)")),
            },
            ..Features::default()
        };
        if let Some(m) = self.mtp {
            if m > 8 {
                return Err(format!("--mtp: {m} draft tokens is more than 8"));
            }
            features.mtp_draft_tokens = m;
            features.mtp_acceptance = self.mtp_acceptance.unwrap_or(DEFAULT_MTP_ACCEPTANCE);
        }
        if !(0.0..=1.0).contains(&features.mtp_acceptance) {
            return Err(format!("--mtp-acceptance: {} must be in 0–1", features.mtp_acceptance));
        }
        features.two_batch_overlap = self.tbo.unwrap_or(false);
        let uses_ep = layout.roles().iter().any(|(_, s)| s.ep > 1);
        features.redundant_experts = self.redundant_experts.unwrap_or(if uses_ep && model.is_moe() {
            DEFAULT_REDUNDANT_EXPERTS
        } else {
            0
        });
        features.expert_skew = self.expert_skew.unwrap_or(1.0);
        if !(features.expert_skew.is_finite() && (1.0..=64.0).contains(&features.expert_skew)) {
            return Err(format!(
                "--expert-skew: {} must be in 1–64 (max/mean expert load)",
                features.expert_skew
            ));
        }
        features.prefix_cache = self.prefix_cache.unwrap_or(true);
        features.mem_fraction = self.mem_fraction.unwrap_or(0.9);
        if !(features.mem_fraction > 0.0 && features.mem_fraction <= 1.0) {
            return Err(format!("--mem-fraction: {} must be in (0, 1]", features.mem_fraction));
        }
        features.dispatch_bytes = 1.0;
        let duration_s = match &self.duration {
            Some(d) => parse_duration(d).map_err(|e| format!("--duration: {e}"))?,
            None => DEFAULT_DURATION_S,
        };
        let warmup_s = match &self.warmup {
            Some(d) => parse_duration(d).map_err(|e| format!("--warmup: {e}"))?,
            None => duration_s / 6.0,
        };
        Ok(ServeScenario {
            cluster,
            model,
            precision,
            layout,
            workload,
            slo,
            features,
            duration_s,
            warmup_s,
            seed: self.seed.unwrap_or(1),
        })
    }
}

/// MTP acceptance of DeepSeek-V3's one-token MTP module: "85 %–90 %" of second tokens accepted
/// (DeepSeek-V3 technical report, arXiv:2412.19437 §5.4.3); the lower end is the default.
pub const DEFAULT_MTP_ACCEPTANCE: f64 = 0.85;
/// EPLB's redundant expert slots in DeepSeek's deployment (32: 256 routed → 288 slots;
/// ../shared/reference/inference.md "Facts").
pub const DEFAULT_REDUNDANT_EXPERTS: u32 = 32;
