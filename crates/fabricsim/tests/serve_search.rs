//! `serve --search` and the fabric comparison (issue 9, points 6 and 7): the envelope is Pareto,
//! the search is deterministic, the engine configs carry the documented flags, an impossible
//! SLO is answered with the best achievable point, a model that fits nowhere is an error, and
//! the helpers (interpolation, fabric lists, ratio) do what they say.

use fabricsim::serve::compare::{self, FabricResult};
use fabricsim::serve::deploy_config::{self, ConfigInputs};
use fabricsim::serve::inputs::ServeInputs;
use fabricsim::serve::search::{self, SearchOptions, SearchPoint, SearchReport};
use fabricsim::serve::{InstanceSpec, Layout, ServeScenario, WeightPrecision};

fn scenario(cluster: &str, model: &str, precision: &str, slo: Option<&str>) -> ServeScenario {
    let inputs = ServeInputs {
        cluster: Some(cluster.into()),
        model: Some(model.into()),
        precision: Some(precision.into()),
        input_len: Some("512".into()),
        output_len: Some("128".into()),
        slo: slo.map(str::to_string),
        ..ServeInputs::default()
    };
    let m = workload::registry::get(model).unwrap();
    inputs.scenario(m, None).unwrap()
}

fn fabric(spec: &str) -> fabric::Fabric {
    fabric::presets::build_preset(spec).unwrap().1
}

/// A small, fast search: Llama 3.1 8B on one HGX H100 server, three batch limits, 12 s windows.
fn small(slo: Option<&str>) -> SearchReport {
    let s = scenario("hgx:gpu=h100", "llama-3.1-8b", "fp8", slo);
    let opts = SearchOptions {
        levels: vec![1, 8, 64],
        window_s: Some(12.0),
        warmup_s: Some(2.0),
        max_survivors: 6,
        ..SearchOptions::default()
    };
    search::search(&s, &fabric("hgx:gpu=h100"), &opts).unwrap()
}

fn dominates(a: &SearchPoint, b: &SearchPoint) -> bool {
    let (au, ay, bu, by) = (
        a.output_tokens_per_s_per_user,
        a.output_tokens_per_s_per_accel,
        b.output_tokens_per_s_per_user,
        b.output_tokens_per_s_per_accel,
    );
    au >= bu && ay >= by && (au > bu || ay > by)
}

#[test]
fn envelope_is_pareto_and_search_is_deterministic() {
    let r = small(None);
    assert!(r.shapes_fitting >= 4, "{} shapes fit", r.shapes_fitting);
    assert!(r.envelope.len() >= 2, "envelope: {:?}", r.envelope.len());
    assert!(r.simulations >= r.envelope.len() as u64);
    // No envelope point is dominated by any simulated point.
    for e in &r.envelope {
        for p in &r.points {
            assert!(
                !dominates(p, e),
                "{} ({:.1}, {:.1}) dominated by {} ({:.1}, {:.1})",
                e.deployment_text,
                e.output_tokens_per_s_per_user,
                e.output_tokens_per_s_per_accel,
                p.deployment_text,
                p.output_tokens_per_s_per_user,
                p.output_tokens_per_s_per_accel
            );
        }
    }
    // Sorted by speed per user, throughput falling.
    for w in r.envelope.windows(2) {
        assert!(w[0].output_tokens_per_s_per_user < w[1].output_tokens_per_s_per_user);
        assert!(w[0].output_tokens_per_s_per_accel > w[1].output_tokens_per_s_per_accel);
    }
    let again = small(None);
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        serde_json::to_string(&again).unwrap(),
        "same input, different JSON"
    );
}

#[test]
fn impossible_slo_gets_the_best_achievable_point() {
    let r = small(Some("ttft=1ms,tpot=0.1ms,pct=99"));
    let c = &r.chosen;
    assert!(!c.slo_met);
    assert!(c.miss_factor > 1.0, "miss factor {}", c.miss_factor);
    assert!(c.statement.contains("no deployment meets the SLO"), "{}", c.statement);
    assert!(c.statement.contains("misses"), "{}", c.statement);
    // The closest miss: no simulated point misses by less.
    for p in &r.points {
        let m = (p.ttft_s.p99 / 1e-3).max(p.tpot_s.p99 / 1e-4);
        assert!(
            m >= c.miss_factor * (1.0 - 1e-12),
            "{} misses by {m} < {}",
            p.deployment_text,
            c.miss_factor
        );
    }
    // A lenient SLO is met, by the point with most output per accelerator among those meeting it.
    let r = small(Some("ttft=60s,tpot=1s,pct=50"));
    assert!(r.chosen.slo_met, "{}", r.chosen.statement);
    let best = r
        .points
        .iter()
        .filter(|p| p.slo_met)
        .map(|p| p.output_tokens_per_s_per_accel)
        .fold(0.0, f64::max);
    assert_eq!(r.chosen.point.output_tokens_per_s_per_accel, best);
}

#[test]
fn a_model_that_fits_nowhere_is_an_error() {
    // DeepSeek-V3 in BF16 (1.3 TB of weights) on eight 80 GB GPUs.
    let s = scenario("hgx:gpu=h100", "deepseek-v3", "bf16", None);
    let e = search::search(&s, &fabric("hgx:gpu=h100"), &SearchOptions::default()).unwrap_err();
    assert!(e.contains("fits no deployment"), "{e}");
    assert!(e.contains("short by"), "{e}");
}

#[test]
fn agent_workloads_are_refused() {
    let inputs = ServeInputs {
        cluster: Some("hgx:gpu=h100".into()),
        model: Some("llama-3.1-8b".into()),
        workload: Some("agent".into()),
        ..ServeInputs::default()
    };
    let s = inputs
        .scenario(workload::registry::get("llama-3.1-8b").unwrap(), None)
        .unwrap();
    let e = search::search(&s, &fabric("hgx:gpu=h100"), &SearchOptions::default()).unwrap_err();
    assert!(e.contains("synthetic workload"), "{e}");
}

fn inputs_for(precision: WeightPrecision, mtp: u32, gpus_per_node: u32) -> ConfigInputs {
    ConfigInputs {
        model_path: "deepseek-ai/DeepSeek-R1".into(),
        precision,
        kv_dtype_bytes: 1.0,
        mtp_draft_tokens: mtp,
        two_batch_overlap: true,
        redundant_experts: 32,
        mem_fraction: 0.85,
        gpus_per_node,
        is_moe: true,
    }
}

fn spec(tp: u32, dp: u32, instances: u32, max_running: u32) -> InstanceSpec {
    InstanceSpec {
        tp,
        ep: tp * dp,
        dp_attn: dp,
        pp: 1,
        instances,
        max_running,
        chunk_tokens: 8192,
    }
}

/// SGLang's GB200 deployment shape: prefill 3 × EP8, decode 1 × EP48 (DP attention), FP4, MTP.
#[test]
fn config_writer_emits_the_documented_flags() {
    let layout = Layout::Disaggregated {
        prefill: spec(1, 8, 3, 256),
        decode: spec(1, 48, 1, 64),
    };
    let c = deploy_config::write(&layout, &inputs_for(WeightPrecision::Fp4, 1, 4));
    let sg = c.sglang.join("\n");
    let decode = c
        .sglang
        .iter()
        .find(|l| l.contains("--disaggregation-mode decode"))
        .expect("decode server");
    for flag in [
        "python -m sglang.launch_server",
        "--model-path deepseek-ai/DeepSeek-R1",
        "--tp-size 48",
        "--dp-size 48",
        "--enable-dp-attention",
        "--ep-size 48",
        "--moe-a2a-backend deepep",
        "--ep-num-redundant-experts 32",
        "--enable-eplb",
        "--quantization modelopt_fp4",
        "--kv-cache-dtype fp8_e4m3",
        "--speculative-algorithm NEXTN",
        "--speculative-num-steps 1",
        "--speculative-eagle-topk 1",
        "--speculative-num-draft-tokens 2",
        "--enable-two-batch-overlap",
        // SGLang divides both by --dp-size under DP attention: totals are written.
        "--max-running-requests 3072",
        "--chunked-prefill-size 393216",
        "--mem-fraction-static 0.85",
        "--nnodes 12",
        "--node-rank $NODE_RANK",
    ] {
        assert!(decode.contains(flag), "decode line lacks `{flag}`:\n{decode}");
    }
    let prefill = c
        .sglang
        .iter()
        .find(|l| l.contains("--disaggregation-mode prefill"))
        .expect("prefill server");
    assert!(
        prefill.contains("--tp-size 8 --dp-size 8 --enable-dp-attention"),
        "{prefill}"
    );
    assert!(prefill.contains("--nnodes 2"), "{prefill}");
    let router = c.sglang.iter().find(|l| l.contains("sglang_router")).expect("router");
    assert!(router.contains("--pd-disaggregation"), "{router}");
    assert_eq!(router.matches("--prefill http").count(), 3, "{router}");
    assert_eq!(router.matches("--decode http").count(), 1, "{router}");
    assert!(!sg.contains("--pp-size"), "no pipeline here:\n{sg}");

    let vl = c.vllm.join("\n");
    for flag in [
        "vllm serve deepseek-ai/DeepSeek-R1",
        "--tensor-parallel-size 1",
        "--data-parallel-size 48",
        "--enable-expert-parallel",
        "--all2all-backend deepep_low_latency",
        "--all2all-backend deepep_high_throughput",
        "--enable-eplb",
        "--eplb-config '{\"num_redundant_experts\":32}'",
        "--kv-cache-dtype fp8",
        "--speculative-config '{\"method\":\"mtp\",\"num_speculative_tokens\":1}'",
        "--kv-transfer-config",
        "--max-num-seqs 64",
        "--data-parallel-size-local 4",
        "--headless",
    ] {
        assert!(vl.contains(flag), "vLLM lines lack `{flag}`:\n{vl}");
    }
    assert!(c.notes.iter().any(|n| n.contains("no prefill/decode router")));

    // A colocated TP × PP deployment of a dense model: no EP, no DP attention flags.
    let mut ci = inputs_for(WeightPrecision::Fp8, 0, 8);
    ci.is_moe = false;
    ci.redundant_experts = 0;
    ci.two_batch_overlap = false;
    let layout = Layout::Colocated {
        instance: InstanceSpec {
            tp: 8,
            ep: 1,
            dp_attn: 1,
            pp: 2,
            instances: 2,
            max_running: 32,
            chunk_tokens: 8192,
        },
    };
    let c = deploy_config::write(&layout, &ci);
    let sg = c.sglang.join("\n");
    assert!(sg.contains("--tp-size 8 --pp-size 2"), "{sg}");
    assert!(sg.contains("--max-running-requests 32"), "{sg}");
    assert!(
        sg.contains("--worker-urls http://$INSTANCE_0:30000 http://$INSTANCE_1:30000"),
        "{sg}"
    );
    for absent in [
        "--enable-dp-attention",
        "--ep-size",
        "--disaggregation-mode",
        "--quantization",
    ] {
        assert!(!sg.contains(absent), "`{absent}` in\n{sg}");
    }
    let vl = c.vllm.join("\n");
    assert!(
        vl.contains("--tensor-parallel-size 8 --pipeline-parallel-size 2"),
        "{vl}"
    );
    assert!(!vl.contains("--enable-expert-parallel"), "{vl}");
}

fn point(u: f64, y: f64) -> SearchPoint {
    let mut p = small_point();
    p.output_tokens_per_s_per_user = u;
    p.output_tokens_per_s_per_accel = y;
    p
}

fn small_point() -> SearchPoint {
    SearchPoint {
        deployment: Layout::Colocated {
            instance: InstanceSpec::tp(1),
        },
        deployment_text: "colocated tp=1,instances=1".into(),
        accelerators: 1,
        max_running_per_rank: 1,
        concurrency: 1,
        output_tokens_per_s_per_accel: 0.0,
        output_tokens_per_s_per_user: 0.0,
        input_tokens_per_s_per_accel: 0.0,
        ttft_s: Default::default(),
        tpot_s: Default::default(),
        slo_attainment_fraction: 1.0,
        slo_met: true,
        preemptions: 0,
        requests_arrived: 1,
        requests_finished: 1,
        batch_role_mean_step_s: 0.01,
        batch_role_step_breakdown: Default::default(),
        screen_output_tokens_per_s_per_accel: 0.0,
        screen_output_tokens_per_s_per_user: 0.0,
        window_s: 1.0,
    }
}

#[test]
fn pareto_and_interpolation() {
    let pts = vec![
        point(10.0, 1000.0),
        point(20.0, 800.0),
        point(15.0, 700.0), // dominated by (20, 800)
        point(40.0, 200.0),
        point(40.0, 100.0), // dominated by (40, 200)
    ];
    let env = search::pareto(&pts);
    let xy: Vec<(f64, f64)> = env
        .iter()
        .map(|p| (p.output_tokens_per_s_per_user, p.output_tokens_per_s_per_accel))
        .collect();
    assert_eq!(xy, vec![(10.0, 1000.0), (20.0, 800.0), (40.0, 200.0)]);
    assert_eq!(search::per_accel_at(&env, 5.0), Some(1000.0));
    assert_eq!(search::per_accel_at(&env, 15.0), Some(900.0));
    assert_eq!(search::per_accel_at(&env, 30.0), Some(500.0));
    assert_eq!(search::per_accel_at(&env, 40.0), Some(200.0));
    assert_eq!(search::per_accel_at(&env, 41.0), None);
}

#[test]
fn fabric_lists_and_ratio() {
    assert_eq!(
        compare::split_list("hgx-h100-ib,rail-optimized:gpus=72,node=hgx-b200,gb200-nvl72;cloudmatrix384"),
        vec![
            "hgx-h100-ib",
            "rail-optimized:gpus=72,node=hgx-b200",
            "gb200-nvl72",
            "cloudmatrix384"
        ]
    );
    let (label, spec) = compare::resolve("hgx-b200-roce");
    assert_eq!(label, "hgx-b200-roce");
    assert!(
        spec.contains("node=hgx-b200") && spec.contains("port_gbit=400"),
        "{spec}"
    );
    // Every named fabric builds.
    for f in compare::FABRICS {
        fabric::presets::build_preset(f.spec).unwrap_or_else(|e| panic!("{}: {e}", f.name));
    }
    assert_eq!(compare::native_precision("gb200"), WeightPrecision::Fp4);
    assert_eq!(compare::native_precision("h100"), WeightPrecision::Fp8);
    assert_eq!(compare::native_precision("ascend-910c"), WeightPrecision::Int8);

    let r = small(None);
    let mut a = r.clone();
    a.envelope = vec![point(50.0, 6000.0), point(100.0, 5000.0), point(200.0, 1000.0)];
    let mut b = r;
    b.envelope = vec![point(50.0, 4000.0), point(100.0, 2000.0), point(150.0, 500.0)];
    let fr = |label: &str, s: SearchReport| FabricResult {
        label: label.into(),
        cluster: label.into(),
        accelerator_id: label.into(),
        precision: "fp4".into(),
        search: s,
    };
    let x = compare::ratio_check(&fr("a", a), &fr("b", b));
    // At 125: a = 5000 − 4000·25/100 = 4000; b = 2000 − 1500·25/50 = 1250 → 3.2×.
    assert!((x.ratio.unwrap() - 3.2).abs() < 1e-9, "{:?}", x.ratio);
    assert!(x.within_gate);
    // 1.5× at 50, 2.5× at 100: the ratio first reaches 2× between them, at 2 = 6000−20d /
    // 4000−40d … found on the 1 token/s grid.
    let u2 = x.first_above_2x_output_tokens_per_s_per_user.unwrap();
    assert!((50.0..=100.0).contains(&u2), "{u2}");
    let before = x
        .curve
        .iter()
        .find(|p| p.output_tokens_per_s_per_user == u2 - 1.0)
        .unwrap();
    assert!(before.ratio < 2.0);
}
