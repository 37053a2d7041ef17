//! A serving deployment written as engine launch commands: SGLang (`sglang.launch_server`, and
//! its router) and vLLM (`vllm serve`), with only flags the engines document.
//!
//! Flag sources (checked 2026-12):
//! - SGLang server arguments: <https://docs.sglang.io/advanced_features/server_arguments.html>
//!   (`--tp-size`, `--dp-size`, `--enable-dp-attention`, `--ep-size`, `--moe-a2a-backend deepep`,
//!   `--pp-size`, `--max-running-requests`, `--chunked-prefill-size`, `--mem-fraction-static`,
//!   `--kv-cache-dtype fp8_e4m3`, `--quantization modelopt_fp4|w8a8_int8`,
//!   `--speculative-algorithm NEXTN` with `--speculative-num-steps`, `--speculative-eagle-topk`,
//!   `--speculative-num-draft-tokens`, `--enable-two-batch-overlap`, `--ep-num-redundant-experts`,
//!   `--enable-eplb`, `--disaggregation-mode prefill|decode`, `--nnodes`, `--node-rank`,
//!   `--dist-init-addr`). With `--enable-dp-attention`, `--tp-size` counts every GPU of the
//!   instance (attention TP × DP) and SGLang divides `--max-running-requests` and
//!   `--chunked-prefill-size` by `--dp-size` (server_args.py), so both are written as totals.
//! - SGLang PD disaggregation and router:
//!   <https://docs.sglang.io/advanced_features/pd_disaggregation.html>
//!   (`python -m sglang_router.launch_router --pd-disaggregation --prefill URL --decode URL`;
//!   `--worker-urls` for plain data parallelism, docs.sglang.io router page).
//! - vLLM engine arguments: <https://docs.vllm.ai/en/latest/configuration/engine_args.html>
//!   (`--tensor-parallel-size`, `--pipeline-parallel-size`, `--data-parallel-size`,
//!   `--enable-expert-parallel`, `--max-num-seqs` (per DP engine), `--max-num-batched-tokens`,
//!   `--gpu-memory-utilization`, `--kv-cache-dtype fp8`, `--speculative-config`,
//!   `--kv-transfer-config`); expert-parallel deployment
//!   <https://docs.vllm.ai/en/latest/serving/expert_parallel_deployment/> (`--all2all-backend
//!   deepep_low_latency|deepep_high_throughput`, `--enable-eplb`, `--eplb-config`); data-parallel
//!   deployment <https://docs.vllm.ai/en/latest/serving/data_parallel_deployment/>
//!   (`--data-parallel-size-local`, `--data-parallel-address`, `--data-parallel-rpc-port`,
//!   `--data-parallel-start-rank`, `--headless`); MTP
//!   <https://docs.vllm.ai/en/latest/features/speculative_decoding/mtp/> (`"method":"mtp"`).
//!
//! vLLM ships no prefill/decode router of its own (its disaggregation examples use a proxy
//! script; llm-d and the production stack route), so the vLLM output stops at the two kinds of
//! servers and says so.

use serde::Serialize;

use super::{InstanceSpec, Layout, ServeScenario, WeightPrecision};

/// What the commands need besides the layout.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigInputs {
    /// `--model-path` / `vllm serve` argument.
    pub model_path: String,
    pub precision: WeightPrecision,
    pub kv_dtype_bytes: f64,
    pub mtp_draft_tokens: u32,
    pub two_batch_overlap: bool,
    pub redundant_experts: u32,
    pub mem_fraction: f64,
    /// GPUs of one server (a host the engine runs one process group on).
    pub gpus_per_node: u32,
    pub is_moe: bool,
}

impl ConfigInputs {
    /// From a scenario, for `layout`, on a fabric of `domain_size` accelerators per scale-up
    /// domain and accelerator `accel_id`. GB200/GB300 NVL72 racks hold 4 GPUs per compute tray
    /// (DGX GB200 user guide: 18 trays × 4 GPUs); other servers are the scale-up domain up to 8.
    pub fn from_scenario(s: &ServeScenario, layout: &Layout, domain_size: u32, accel_id: &str) -> ConfigInputs {
        let uses_ep = layout.roles().iter().any(|(_, r)| r.ep > 1);
        ConfigInputs {
            model_path: s.model.name.clone(),
            precision: s.precision,
            kv_dtype_bytes: s.features.kv_dtype_bytes,
            mtp_draft_tokens: if s.model.mtp_layers > 0 {
                s.features.mtp_draft_tokens
            } else {
                0
            },
            two_batch_overlap: s.features.two_batch_overlap,
            redundant_experts: if uses_ep { s.features.redundant_experts } else { 0 },
            mem_fraction: s.features.mem_fraction,
            gpus_per_node: if accel_id.starts_with("gb") {
                4
            } else {
                domain_size.clamp(1, 8)
            },
            is_moe: s.model.is_moe(),
        }
    }
}

/// Launch commands of one deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineConfigs {
    /// Shell lines (comments start with `#`): servers, then the router.
    pub sglang: Vec<String>,
    pub vllm: Vec<String>,
    pub notes: Vec<String>,
}

fn nodes(spec: &InstanceSpec, per_node: u32) -> u32 {
    spec.gpus().div_ceil(per_node.max(1))
}

fn sglang_server(spec: &InstanceSpec, mode: Option<&str>, port: u32, c: &ConfigInputs) -> String {
    let mut a = vec![
        "python -m sglang.launch_server".to_string(),
        format!("--model-path {}", c.model_path),
        "--trust-remote-code".into(),
    ];
    if let Some(m) = mode {
        a.push(format!("--disaggregation-mode {m}"));
    }
    a.push(format!("--tp-size {}", spec.tp * spec.dp_attn));
    if spec.dp_attn > 1 {
        a.push(format!("--dp-size {}", spec.dp_attn));
        a.push("--enable-dp-attention".into());
    }
    if spec.pp > 1 {
        a.push(format!("--pp-size {}", spec.pp));
    }
    if spec.ep > 1 && c.is_moe {
        a.push(format!("--ep-size {}", spec.ep));
        a.push("--moe-a2a-backend deepep".into());
        if c.redundant_experts > 0 {
            a.push(format!("--ep-num-redundant-experts {}", c.redundant_experts));
            a.push("--enable-eplb".into());
        }
    }
    match c.precision {
        WeightPrecision::Fp4 => a.push("--quantization modelopt_fp4".into()),
        WeightPrecision::Int8 => a.push("--quantization w8a8_int8".into()),
        _ => {}
    }
    if c.kv_dtype_bytes <= 1.0 {
        a.push("--kv-cache-dtype fp8_e4m3".into());
    }
    if c.mtp_draft_tokens > 0 {
        a.push("--speculative-algorithm NEXTN".into());
        a.push(format!("--speculative-num-steps {}", c.mtp_draft_tokens));
        a.push("--speculative-eagle-topk 1".into());
        a.push(format!("--speculative-num-draft-tokens {}", c.mtp_draft_tokens + 1));
    }
    if c.two_batch_overlap {
        a.push("--enable-two-batch-overlap".into());
    }
    a.push(format!("--max-running-requests {}", spec.max_running * spec.dp_attn));
    a.push(format!("--chunked-prefill-size {}", spec.chunk_tokens * spec.dp_attn));
    a.push(format!("--mem-fraction-static {}", c.mem_fraction));
    let n = nodes(spec, c.gpus_per_node);
    if n > 1 {
        a.push(format!("--nnodes {n}"));
        a.push("--node-rank $NODE_RANK".into());
        a.push("--dist-init-addr $MASTER_ADDR:5000".into());
    }
    a.push("--host 0.0.0.0".into());
    a.push(format!("--port {port}"));
    a.join(" ")
}

fn vllm_server(spec: &InstanceSpec, role: Option<&str>, port: u32, c: &ConfigInputs) -> Vec<String> {
    let mut a = vec![
        format!("vllm serve {}", c.model_path),
        "--trust-remote-code".into(),
        format!("--tensor-parallel-size {}", spec.tp),
    ];
    if spec.pp > 1 {
        a.push(format!("--pipeline-parallel-size {}", spec.pp));
    }
    if spec.dp_attn > 1 {
        a.push(format!("--data-parallel-size {}", spec.dp_attn));
    }
    if spec.ep > 1 && c.is_moe {
        a.push("--enable-expert-parallel".into());
        a.push(format!(
            "--all2all-backend {}",
            if role == Some("prefill") {
                "deepep_high_throughput"
            } else {
                "deepep_low_latency"
            }
        ));
        if c.redundant_experts > 0 {
            a.push("--enable-eplb".into());
            a.push(format!(
                "--eplb-config '{{\"num_redundant_experts\":{}}}'",
                c.redundant_experts
            ));
        }
    }
    if c.kv_dtype_bytes <= 1.0 {
        a.push("--kv-cache-dtype fp8".into());
    }
    if c.mtp_draft_tokens > 0 {
        a.push(format!(
            "--speculative-config '{{\"method\":\"mtp\",\"num_speculative_tokens\":{}}}'",
            c.mtp_draft_tokens
        ));
    }
    if role.is_some() {
        a.push("--kv-transfer-config '{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_both\"}'".into());
    }
    a.push(format!("--max-num-seqs {}", spec.max_running));
    a.push(format!("--max-num-batched-tokens {}", spec.chunk_tokens));
    a.push(format!("--gpu-memory-utilization {}", c.mem_fraction));
    a.push(format!("--port {port}"));
    let n = nodes(spec, c.gpus_per_node);
    let mut out = Vec::new();
    if n > 1 && spec.dp_attn > 1 && spec.dp_attn % n == 0 && spec.pp == 1 {
        // Multi-node data parallelism: the head node serves the API, the others run headless.
        let local = spec.dp_attn / n;
        let head = a.join(" ");
        out.push(format!(
            "{head} --data-parallel-size-local {local} --data-parallel-address $HEAD_ADDR --data-parallel-rpc-port 13345"
        ));
        out.push(format!(
            "# on node k = 1..{} of the instance: {head} --data-parallel-size-local {local} --data-parallel-address $HEAD_ADDR --data-parallel-rpc-port 13345 --data-parallel-start-rank $(({local} * k)) --headless",
            n - 1
        ));
    } else {
        if n > 1 {
            out.push(format!(
                "# {n} nodes per instance: start a Ray cluster over them first (vLLM multi-node TP/PP)"
            ));
        }
        out.push(a.join(" "));
    }
    out
}

/// The commands for `layout`.
pub fn write(layout: &Layout, c: &ConfigInputs) -> EngineConfigs {
    let mut sg = Vec::new();
    let mut vl = Vec::new();
    let mut notes = Vec::new();
    let head = |what: &str, spec: &InstanceSpec, port: u32| {
        let n = nodes(spec, c.gpus_per_node);
        format!(
            "# {what}: {} instance(s) of {} GPUs ({} node(s) of {} each, {}); port {port}{}",
            spec.instances,
            spec.gpus(),
            n,
            c.gpus_per_node,
            spec.describe(),
            if n > 1 {
                "; run on every node of an instance with NODE_RANK = 0..nodes-1"
            } else {
                ""
            }
        )
    };
    match layout {
        Layout::Colocated { instance } | Layout::PrefillOnly { instance } | Layout::DecodeOnly { instance } => {
            sg.push(head("colocated prefill + decode", instance, 30000));
            sg.push(sglang_server(instance, None, 30000, c));
            vl.push(head("colocated prefill + decode", instance, 8000));
            vl.extend(vllm_server(instance, None, 8000, c));
            if instance.instances > 1 {
                let urls: Vec<String> = (0..instance.instances)
                    .map(|i| format!("http://$INSTANCE_{i}:30000"))
                    .collect();
                sg.push("# router over the instances".into());
                sg.push(format!(
                    "python -m sglang_router.launch_router --worker-urls {} --host 0.0.0.0 --port 8000",
                    urls.join(" ")
                ));
                notes.push(format!(
                    "vLLM: {} independent servers; put any HTTP load balancer in front",
                    instance.instances
                ));
            }
        }
        Layout::Disaggregated { prefill, decode } => {
            sg.push(head("prefill", prefill, 30000));
            sg.push(sglang_server(prefill, Some("prefill"), 30000, c));
            sg.push(head("decode", decode, 30001));
            sg.push(sglang_server(decode, Some("decode"), 30001, c));
            let p: Vec<String> = (0..prefill.instances)
                .map(|i| format!("--prefill http://$PREFILL_{i}:30000"))
                .collect();
            let d: Vec<String> = (0..decode.instances)
                .map(|i| format!("--decode http://$DECODE_{i}:30001"))
                .collect();
            sg.push("# router: prefill/decode disaggregation".into());
            sg.push(format!(
                "python -m sglang_router.launch_router --pd-disaggregation {} {} --host 0.0.0.0 --port 8000",
                p.join(" "),
                d.join(" ")
            ));
            vl.push(head("prefill", prefill, 8100));
            vl.extend(vllm_server(prefill, Some("prefill"), 8100, c));
            vl.push(head("decode", decode, 8200));
            vl.extend(vllm_server(decode, Some("decode"), 8200, c));
            notes.push("vLLM has no prefill/decode router of its own: route with llm-d, the vLLM production stack or a proxy over the NixlConnector servers".into());
        }
    }
    if c.precision == WeightPrecision::Fp8 {
        notes.push(
            "FP8: load an FP8 checkpoint (SGLang and vLLM detect it; no flag), or add --quantization fp8 on a BF16 one"
                .into(),
        );
    }
    if c.precision == WeightPrecision::Fp4 {
        notes.push("FP4: --model-path must be an NVFP4 (ModelOpt) checkpoint of the model".into());
    }
    notes.push(
        "$NODE_RANK, $MASTER_ADDR, $HEAD_ADDR, $PREFILL_i, $DECODE_i, $INSTANCE_i are the hosts of your cluster".into(),
    );
    EngineConfigs {
        sglang: sg,
        vllm: vl,
        notes,
    }
}
