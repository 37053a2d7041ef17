//! A searched plan written two ways: as a scenario TOML that `fabricsim train FILE.toml` runs
//! to the same step time (every value the plan has is written; nothing is left to a default
//! rule), and as the arguments of the framework that would run it — Megatron-LM flags,
//! torchtitan's `[parallelism]` TOML keys, or MaxText `key=value` overrides.

use super::{Candidate, Job};
use engine::Fidelity;
use serde::Serialize;
use workload::{Framework, Precision, Recompute};

/// The framework arguments of a plan.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Launch {
    /// `megatron`, `torchtitan`, `torchtitan-compile`, `maxtext`.
    pub framework: String,
    /// `cli_flags` (Megatron-LM `pretrain_gpt.py`), `toml` (torchtitan job config), or
    /// `key_value` (MaxText `train.py` overrides).
    pub format: String,
    /// The arguments, ready to paste (one line for flags, TOML lines for torchtitan).
    pub args: String,
    /// What the framework cannot express exactly, or does differently.
    pub notes: Vec<String>,
}

fn recompute_name(r: Recompute) -> &'static str {
    match r {
        Recompute::None => "none",
        Recompute::Selective => "selective",
        Recompute::Full => "full",
    }
}

/// The scenario TOML of `c` (`fabricsim train FILE.toml` reproduces the plan's step time at
/// `fidelity`).
pub fn scenario_toml(job: &Job, c: &Candidate, fidelity: Fidelity, title: &str) -> String {
    let p = &c.plan;
    let mut s = String::new();
    s.push_str(&format!(
        "# {title}\n# Written by `fabricsim plan`; run it with `fabricsim train THIS_FILE.toml`.\n"
    ));
    s.push_str(&format!("cluster = {}\n", toml_str(&job.cluster)));
    match &job.model_name {
        Some(n) => s.push_str(&format!("model = {}\n", toml_str(n))),
        None => s.push_str(&format!(
            "# model `{}` came from a Hugging Face config: add `--model FILE.json` to the train command\n",
            job.model.name
        )),
    }
    s.push_str(&format!(
        "fidelity = \"{}\"\n",
        if fidelity == Fidelity::Analytical {
            "analytical"
        } else {
            "flow"
        }
    ));
    s.push_str("\n[parallel]\n");
    s.push_str(&format!(
        "tp = {}\npp = {}\ndp = {}\ncp = {}\nep = {}\nvp = {}\n",
        p.tp, p.pp, p.dp, p.cp, p.ep, p.vp
    ));
    s.push_str(&format!(
        "sequence_parallel = {}\ntp_comm_overlap = {}\norder = \"{}\"\n",
        p.sequence_parallel,
        p.tp_comm_overlap,
        super::space::order_name(c.order)
    ));
    s.push_str(&format!(
        "\n[batch]\ngbs = {}\nmbs = {}\nseq = {}\n",
        p.gbs, p.mbs, p.seq
    ));
    s.push_str(&format!(
        "\n[training]\nprecision = \"{}\"\nrecompute = \"{}\"\nzero = {}\n",
        match p.precision {
            Precision::Bf16 => "bf16",
            Precision::Fp8 => "fp8",
        },
        recompute_name(p.recompute),
        p.zero
    ));
    if let Some(g) = p.hsdp_shard {
        s.push_str(&format!("hsdp_shard = {g}\n"));
    }
    s.push_str(&format!("framework = \"{}\"\n", job.framework.name()));
    s
}

/// A TOML basic string.
fn toml_str(v: &str) -> String {
    let mut o = String::from("\"");
    for ch in v.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The launch arguments of `c` for the job's framework (MaxText on TPU clusters).
pub fn launch(job: &Job, c: &Candidate) -> Launch {
    let p = &c.plan;
    let layers = job.model.layers;
    let mut notes = Vec::new();
    match (job.framework, &c.mesh) {
        (_, Some(m)) => {
            let chips = job.accelerators.max(1) as f64;
            let pdbs = p.gbs as f64 / chips;
            let remat = match p.recompute {
                Recompute::Full => "full",
                Recompute::Selective => "save_qkv_proj",
                Recompute::None => "minimal",
            };
            if p.recompute != Recompute::Full {
                notes.push(format!(
                    "remat_policy {remat} stands for fabricsim's `{}` recomputation (MaxText's policies save named tensors; the closest is used)",
                    recompute_name(p.recompute)
                ));
            }
            let mut args = vec![
                format!("ici_data_parallelism={}", m.ici_data),
                format!("ici_fsdp_parallelism={}", m.ici_fsdp),
                format!("ici_sequence_parallelism={}", m.ici_sequence),
                format!("ici_tensor_parallelism={}", m.ici_tensor),
                format!("dcn_data_parallelism={}", m.dcn_data),
                format!("dcn_fsdp_parallelism={}", m.dcn_fsdp),
                format!("per_device_batch_size={}", trim_float(pdbs)),
                format!("max_target_length={}", p.seq),
                format!("remat_policy={remat}"),
                "dtype=bfloat16".into(),
            ];
            if p.precision == Precision::Fp8 {
                args.push("quantization=fp8".into());
            }
            if p.mbs != p.gbs / p.dp.max(1) {
                args.push(format!("gradient_accumulation_steps={}", p.microbatches()));
            }
            Launch {
                framework: "maxtext".into(),
                format: "key_value".into(),
                args: args.join(" "),
                notes,
            }
        }
        (Framework::Torchtitan | Framework::TorchtitanCompile, None) => {
            let mut l = vec![
                "[parallelism]".to_string(),
                "data_parallel_replicate_degree = 1".into(),
                format!("data_parallel_shard_degree = {}", p.dp),
                format!("tensor_parallel_degree = {}", p.tp),
                format!("pipeline_parallel_degree = {}", p.pp),
                format!("context_parallel_degree = {}", p.cp),
            ];
            if job.model.moe.is_some() {
                l.push(format!("expert_parallel_degree = {}", p.ep));
            }
            if p.pp > 1 {
                l.push(format!(
                    "pipeline_parallel_schedule = \"{}\"",
                    if p.vp > 1 { "Interleaved1F1B" } else { "1F1B" }
                ));
                l.push(format!("pipeline_parallel_microbatch_size = {}", p.mbs));
                if layers % (p.pp * p.vp) == 0 {
                    l.push(format!(
                        "pipeline_parallel_layers_per_stage = {}",
                        layers / (p.pp * p.vp)
                    ));
                } else {
                    notes.push(format!(
                        "{layers} layers over PP × VP = {} stages: fabricsim gives the first stages one layer more; set torchtitan's `module_fqns_per_model_part` to match",
                        p.pp * p.vp
                    ));
                }
            }
            if p.tp_comm_overlap {
                l.push("enable_async_tensor_parallel = true".into());
            }
            l.push(String::new());
            l.push("[training]".into());
            l.push(format!("global_batch_size = {}", p.gbs));
            l.push(format!("local_batch_size = {}", p.gbs / p.dp.max(1)));
            l.push(format!("seq_len = {}", p.seq));
            l.push(String::new());
            l.push("[activation_checkpoint]".into());
            l.push(format!("mode = \"{}\"", recompute_name(p.recompute)));
            if p.precision == Precision::Fp8 {
                l.push(String::new());
                l.push("[float8]".into());
                l.push("enable_fsdp_float8_all_gather = true".into());
                notes.push("FP8: add \"float8\" to [model] converters".into());
            }
            if job.framework == Framework::TorchtitanCompile {
                l.push(String::new());
                l.push("[compile]".into());
                l.push("enable = true".into());
            }
            Launch {
                framework: job.framework.name().into(),
                format: "toml".into(),
                args: l.join("\n"),
                notes,
            }
        }
        (_, None) => {
            let mut a = vec![
                format!("--tensor-model-parallel-size {}", p.tp),
                format!("--pipeline-model-parallel-size {}", p.pp),
                format!("--context-parallel-size {}", p.cp),
            ];
            if job.model.moe.is_some() {
                a.push(format!("--expert-model-parallel-size {}", p.ep));
            }
            if p.vp > 1 {
                a.push(format!("--num-virtual-stages-per-pipeline-rank {}", p.vp));
            }
            if p.pp > 1 && layers % (p.pp * p.vp) != 0 {
                notes.push(format!(
                    "{layers} layers over PP × VP = {} chunks: fabricsim gives the first chunks one layer more; Megatron needs --decoder-first-pipeline-num-layers / --decoder-last-pipeline-num-layers for an uneven split",
                    p.pp * p.vp
                ));
            }
            a.push(format!("--micro-batch-size {}", p.mbs));
            a.push(format!("--global-batch-size {}", p.gbs));
            a.push(format!("--seq-length {}", p.seq));
            if p.sequence_parallel {
                a.push("--sequence-parallel".into());
            }
            if p.tp_comm_overlap {
                a.push("--tp-comm-overlap".into());
            }
            match p.zero {
                3 => {
                    a.push("--use-megatron-fsdp".into());
                    a.push("--data-parallel-sharding-strategy optim_grads_params".into());
                }
                2 => {
                    a.push("--use-megatron-fsdp".into());
                    a.push("--data-parallel-sharding-strategy optim_grads".into());
                }
                1 => a.push("--use-distributed-optimizer".into()),
                _ => {}
            }
            match p.recompute {
                Recompute::None => {}
                Recompute::Selective => a.push("--recompute-granularity selective".into()),
                Recompute::Full => {
                    a.push("--recompute-granularity full --recompute-method uniform --recompute-num-layers 1".into())
                }
            }
            a.push("--bf16".into());
            if p.precision == Precision::Fp8 {
                a.push("--fp8-format hybrid".into());
            }
            // Megatron-Core's rank order: tp-cp-ep-dp-pp by default, tp-cp-ep-pp-dp with
            // --use-tp-pp-dp-mapping (megatron/training/initialize.py).
            match super::space::order_name(c.order).as_str() {
                "tp,cp,ep,pp,dp" => a.push("--use-tp-pp-dp-mapping".into()),
                "tp,cp,ep,dp,pp" => {}
                o => notes.push(format!(
                    "placement order {o} is neither of Megatron-Core's (tp-cp-ep-dp-pp, or tp-cp-ep-pp-dp with --use-tp-pp-dp-mapping)"
                )),
            }
            if job.framework != Framework::Megatron {
                notes.push(format!(
                    "{} on a GPU cluster: written as Megatron-LM flags",
                    job.framework.name()
                ));
            }
            Launch {
                framework: "megatron".into(),
                format: "cli_flags".into(),
                args: a.join(" "),
                notes,
            }
        }
    }
}

/// `0.5`, `2`, `0.125`: a float without trailing zeros.
fn trim_float(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}
