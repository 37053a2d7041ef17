//! `serve`: KV bytes against hand computation, the closed form of one request on an idle
//! system, Little's law on the simulated queue, KV capacity and preemption, prefix caching of
//! agent sessions, disaggregation, determinism and bad inputs.

use fabric::Fabric;
use fabricsim::cluster::{self, Source};
use fabricsim::serve::cost::{self, RankLoad};
use fabricsim::serve::inputs::ServeInputs;
use fabricsim::serve::{self, ServeScenario};

fn fabric(spec: &str) -> Fabric {
    cluster::load(Source::Preset(spec)).expect("preset").1
}

fn scenario(i: ServeInputs) -> ServeScenario {
    let model = workload::registry::get(i.model.as_deref().unwrap_or("llama-3.1-8b")).expect("model");
    i.scenario(model, None).expect("scenario")
}

fn llama8b_one_gpu() -> ServeInputs {
    ServeInputs {
        cluster: Some("hgx:gpu=h100".into()),
        model: Some("llama-3.1-8b".into()),
        precision: Some("bf16".into()),
        tp: Some(1),
        ..ServeInputs::default()
    }
}

#[test]
fn kv_bytes_per_token_match_hand_computation() {
    let ds = workload::registry::get("deepseek-r1").unwrap();
    // MLA: (kv_lora_rank 512 + rope 64) × 61 layers × 2 B.
    assert_eq!(ds.kv_values_per_token_layer(), 576);
    assert_eq!(ds.kv_bytes_per_token(2.0), 70_272.0);
    assert_eq!(ds.kv_bytes_per_token(1.0), 35_136.0);
    // The latent is not split by heads: every TP rank keeps all of it.
    assert_eq!(ds.kv_values_per_token_layer_per_rank(8), 576);
    let l70 = workload::registry::get("llama-3.1-70b").unwrap();
    // GQA: 2 (K, V) × 8 KV heads × 128 × 80 layers × 2 B.
    assert_eq!(l70.kv_bytes_per_token(2.0), 327_680.0);
    // TP 8: one KV head per rank; TP 16: still one (replicated).
    assert_eq!(l70.kv_values_per_token_layer_per_rank(8), 2 * 128);
    assert_eq!(l70.kv_values_per_token_layer_per_rank(16), 2 * 128);
    assert_eq!(l70.kv_values_per_token_layer_per_rank(4), 2 * 2 * 128);
}

/// One request on an idle system: TTFT is the prefill step(s), and the end is TTFT plus one
/// decode step per further token at the growing context, exactly.
#[test]
fn one_request_matches_the_closed_form() {
    let f = fabric("hgx:gpu=h100");
    let input = 3000u32;
    let output = 40u32;
    let s = scenario(ServeInputs {
        input_len: Some(input.to_string()),
        output_len: Some(output.to_string()),
        chunk: Some(2048),
        concurrency: Some(1),
        duration: Some("1s".into()),
        warmup: Some("0s".into()),
        ..llama8b_one_gpu()
    });
    let r = serve::run(&s, &f).unwrap();
    let priced = cost::price_roles(&s, &f).unwrap();
    let rc = &priced.roles[0];
    // Chunked prefill: 2048 then 952 tokens.
    let c1 = rc.step(&[RankLoad {
        prefill: vec![(2048, 0)],
        ..RankLoad::default()
    }]);
    let c2 = rc.step(&[RankLoad {
        prefill: vec![(952, 2048)],
        ..RankLoad::default()
    }]);
    let ttft = c1.total_s + c2.total_s;
    let mut end = ttft;
    for g in 1..output {
        end += rc
            .step(&[RankLoad {
                decode_reqs: 1,
                decode_ctx_sum: (input + g) as f64,
                ..RankLoad::default()
            }])
            .total_s;
    }
    let first = r.ttft_s.p50;
    assert!((first - ttft).abs() < 1e-9 * ttft, "TTFT {first} vs closed form {ttft}");
    let e2e = r.e2e_s.p50;
    assert!((e2e - end).abs() < 1e-9 * end, "E2E {e2e} vs closed form {end}");
    let tpot = (end - ttft) / (output - 1) as f64;
    assert!((r.tpot_s.p50 - tpot).abs() < 1e-9 * tpot);
}

/// Little's law on the simulated queue: the time-averaged number of requests in the system
/// equals the arrival rate times the mean time in the system (open loop, long window).
#[test]
fn littles_law_holds() {
    let f = fabric("hgx:gpu=h100");
    let s = scenario(ServeInputs {
        input_len: Some("200..600".into()),
        output_len: Some("20..60".into()),
        rate: Some(20.0),
        duration: Some("600s".into()),
        warmup: Some("0s".into()),
        ..llama8b_one_gpu()
    });
    let r = serve::run(&s, &f).unwrap();
    let l = r.littles_law.mean_in_system;
    let lw = r.littles_law.arrival_rate_per_s * r.littles_law.mean_time_in_system_s;
    assert!(l > 1.0, "a loaded system: L = {l}");
    assert!((l - lw).abs() / lw < 0.02, "L = {l}, λW = {lw}");
    assert_eq!(r.requests_unfinished, 0);
}

/// Throughput can never exceed what the step model allows, and the KV pool is never over-full:
/// a tight pool forces preemptions, every request still finishes, and recomputation is not
/// counted as generation.
#[test]
fn kv_capacity_bounds_the_batch_and_preemption_recovers() {
    let f = fabric("hgx:gpu=h100");
    let load = ServeInputs {
        input_len: Some("2000".into()),
        output_len: Some("500".into()),
        concurrency: Some(100),
        duration: Some("40s".into()),
        warmup: Some("0s".into()),
        ..llama8b_one_gpu()
    };
    let roomy = serve::run(&scenario(load.clone()), &f).unwrap();
    // 8B BF16 weights ≈ 16 GB; a memory fraction of 0.3 leaves ~7 GB of KV: ~55k tokens for a
    // demand of 100 × 2,500 (the default 0.9 holds all of it).
    let tight_s = scenario(ServeInputs {
        mem_fraction: Some(0.3),
        ..load
    });
    let tight = serve::run(&tight_s, &f).unwrap();
    let role = &tight.roles[0];
    assert!(role.kv_occupancy_peak_fraction <= 1.0 + 1e-12);
    assert!(
        role.kv_occupancy_peak_fraction > 0.9,
        "the pool fills: {}",
        role.kv_occupancy_peak_fraction
    );
    assert!(tight.preemptions > 0, "a full pool preempts");
    assert!(tight.output_tokens_per_s_per_accel < roomy.output_tokens_per_s_per_accel);
    assert_eq!(roomy.preemptions, 0);
    // Token conservation over requests that finished inside the run (closed loop, everything
    // in the window): generated tokens ≤ their outputs summed.
    assert!(tight.requests_finished > 0);
}

fn agent_sessions() -> ServeInputs {
    ServeInputs {
        workload: Some("agent".into()),
        turns: Some("6".into()),
        input_len: Some("2000".into()),
        turn_input: Some("200".into()),
        output_len: Some("100".into()),
        tool_pause: Some("1s".into()),
        concurrency: Some(16),
        duration: Some("60s".into()),
        ..llama8b_one_gpu()
    }
}

#[test]
fn agent_sessions_reuse_their_prefix() {
    let f = fabric("hgx:gpu=h100");
    let r = serve::run(&scenario(agent_sessions()), &f).unwrap();
    assert!(r.kv_cache_hit_fraction > 0.9, "hit {}", r.kv_cache_hit_fraction);
    assert!(r.cached_input_fraction > 0.5, "cached {}", r.cached_input_fraction);
    let off = scenario(ServeInputs {
        prefix_cache: Some(false),
        ..agent_sessions()
    });
    let r2 = serve::run(&off, &f).unwrap();
    assert_eq!(r2.cached_input_fraction, 0.0);
    assert!(r2.ttft_s.mean > r.ttft_s.mean, "recomputing the context costs TTFT");
}

/// Disaggregated on an idle fabric: TTFT is the prefill step plus the KV transfer; the first
/// decode step starts when the transfer ends.
#[test]
fn disaggregation_charges_the_kv_transfer() {
    let f = fabric("dgx-h100-superpod:su=1");
    let s = scenario(ServeInputs {
        cluster: Some("dgx-h100-superpod:su=1".into()),
        model: Some("llama-3.1-70b".into()),
        precision: Some("fp8".into()),
        prefill: Some("tp=8,instances=1".into()),
        decode: Some("tp=8,instances=1".into()),
        input_len: Some("4000".into()),
        output_len: Some("2".into()),
        concurrency: Some(1),
        duration: Some("2s".into()),
        warmup: Some("0s".into()),
        ..ServeInputs::default()
    });
    let r = serve::run(&s, &f).unwrap();
    let priced = cost::price_roles(&s, &f).unwrap();
    let p = &priced.roles[0];
    let d = &priced.roles[1];
    let prefill = p
        .step(&[RankLoad {
            prefill: vec![(4000, 0)],
            ..RankLoad::default()
        }])
        .total_s;
    let decode = d
        .step(&[RankLoad {
            decode_reqs: 1,
            decode_ctx_sum: 4001.0,
            ..RankLoad::default()
        }])
        .total_s;
    let xfer = r.kv_transfer_s.p50;
    assert!(xfer > 0.0);
    // The first token reaches the user through the decode side, with the KV cache.
    assert!((r.ttft_s.p50 - (prefill + xfer)).abs() < 1e-9 * prefill);
    // 4000 tokens × 327,680 B over 8 shards on the 400G network of two nodes.
    assert_eq!(r.kv_transfer_bytes, r.requests_arrived as f64 * 4000.0 * 327_680.0);
    let e2e = r.e2e_s.p50;
    assert!(
        (e2e - (prefill + xfer + decode)).abs() < 1e-9 * e2e,
        "{e2e} vs {}",
        prefill + xfer + decode
    );
}

#[test]
fn the_same_scenario_gives_the_same_json() {
    let f = fabric("gb200-nvl72");
    let s = scenario(ServeInputs {
        model: Some("deepseek-r1".into()),
        cluster: Some("gb200-nvl72".into()),
        prefill: Some("tp=1,ep=8,dp-attn=8,instances=2".into()),
        decode: Some("tp=1,ep=16,dp-attn=16,instances=2".into()),
        rate: Some(30.0),
        input_len: Some("500..1500".into()),
        output_len: Some("100..300".into()),
        duration: Some("20s".into()),
        ..ServeInputs::default()
    });
    let a = serde_json::to_string(&serve::run(&s, &f).unwrap()).unwrap();
    let b = serde_json::to_string(&serve::run(&s, &f).unwrap()).unwrap();
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    for k in [
        "schema_version",
        "output_tokens_per_s_per_accel",
        "input_tokens_per_s_per_accel",
        "cached_input_fraction",
        "output_tokens_per_s_per_user",
        "slo_attainment_fraction",
        "kv_cache_hit_fraction",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    for k in ["ttft_s", "tpot_s"] {
        for q in ["mean", "p10", "p50", "p90", "p99"] {
            assert!(v[k][q].is_number(), "{k}.{q}");
        }
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let f = fabric("hgx:gpu=h100");
    // 405B in BF16 on one H100.
    let s = scenario(ServeInputs {
        model: Some("llama-3.1-405b".into()),
        precision: Some("bf16".into()),
        tp: Some(1),
        ..llama8b_one_gpu()
    });
    let e = serve::run(&s, &f).unwrap_err();
    assert!(e.contains("does not fit") && e.contains("short by"), "{e}");
    // More GPUs than the cluster has.
    let s = scenario(ServeInputs {
        tp: Some(8),
        replicas: Some(2),
        ..llama8b_one_gpu()
    });
    let e = serve::run(&s, &f).unwrap_err();
    assert!(e.contains("needs 16 accelerators"), "{e}");
    // A bad trace line is named.
    let e =
        serve::requests::parse_trace("arrival_s,input_tokens,output_tokens\n0,10,10\n1,abc,5\n", "t.csv").unwrap_err();
    assert!(e.contains("t.csv: line 3") && e.contains("input_tokens"), "{e}");
    let e =
        serve::requests::parse_trace("arrival_s,input_tokens,output_tokens\n2,10,10\n1,10,5\n", "t.csv").unwrap_err();
    assert!(e.contains("line 3") && e.contains("arrival order"), "{e}");
    // Bad flags.
    let model = workload::registry::get("llama-3.1-8b").unwrap();
    for (i, needle) in [
        (
            ServeInputs {
                slo: Some("ttft=fast".into()),
                ..ServeInputs::default()
            },
            "--slo ttft",
        ),
        (
            ServeInputs {
                prefill: Some("tp=2".into()),
                ..ServeInputs::default()
            },
            "go together",
        ),
        (
            ServeInputs {
                tp: Some(2),
                ep: Some(3),
                ..ServeInputs::default()
            },
            "ep=3",
        ),
        (
            ServeInputs {
                rate: Some(1.0),
                concurrency: Some(2),
                ..ServeInputs::default()
            },
            "exclude",
        ),
        (
            ServeInputs {
                input_len: Some("9..2".into()),
                tp: Some(1),
                ..ServeInputs::default()
            },
            "empty range",
        ),
    ] {
        let e = i.scenario(model.clone(), None).unwrap_err();
        assert!(e.contains(needle), "{e} (wanted {needle})");
    }
}

#[test]
fn one_phase_alone_takes_its_instance_flag() {
    let model = workload::registry::get("deepseek-r1").unwrap();
    for phase in ["prefill", "decode"] {
        let mut i = ServeInputs {
            cluster: Some("gb200-nvl72".into()),
            phase: Some(phase.into()),
            ..ServeInputs::default()
        };
        let spec = "tp=1,ep=16,dp-attn=16,instances=2".to_string();
        if phase == "prefill" {
            i.prefill = Some(spec);
        } else {
            i.decode = Some(spec);
        }
        let s = i.scenario(model.clone(), None).unwrap();
        let (role, inst) = s.layout.roles()[0];
        assert_eq!(format!("{role:?}").to_lowercase(), phase);
        assert_eq!((inst.ep, inst.dp_attn, inst.instances), (16, 16, 2));
    }
}

#[test]
fn an_unmeetable_slo_is_reported_missed_with_the_figures() {
    let f = fabric("hgx:gpu=h100");
    let s = scenario(ServeInputs {
        slo: Some("ttft=1ms,tpot=1ms,pct=90".into()),
        concurrency: Some(8),
        duration: Some("10s".into()),
        ..llama8b_one_gpu()
    });
    let r = serve::run(&s, &f).unwrap();
    assert!(!r.slo_met);
    assert_eq!(r.slo_attainment_fraction, 0.0);
    assert!(r.ttft_s.p50 > 1e-3 && r.tpot_s.p50 > 1e-3);
}

#[test]
fn trace_replay_keeps_sessions() {
    let f = fabric("hgx:gpu=h100");
    let text = "arrival_s,input_tokens,output_tokens,session\n0.0,1000,50,7\n0.5,800,40,\n3.0,1300,20,7\n";
    let rows = serve::requests::parse_trace(text, "t.csv").unwrap();
    let model = workload::registry::get("llama-3.1-8b").unwrap();
    let s = ServeInputs {
        trace: Some("t.csv".into()),
        duration: Some("30s".into()),
        warmup: Some("0s".into()),
        ..llama8b_one_gpu()
    }
    .scenario(model, Some(text))
    .unwrap();
    assert_eq!(rows.len(), 3);
    let r = serve::run(&s, &f).unwrap();
    assert_eq!(r.requests_finished, 3);
    // The second turn of session 7 reuses the first turn's 1,050 tokens.
    assert!(r.cached_input_fraction > 0.3, "{}", r.cached_input_fraction);
}

/// When HBM cannot keep every session's context, contexts move down to host DRAM and come back
/// from there (at the tier's bandwidth) instead of being recomputed.
#[test]
fn contexts_spill_to_host_memory_and_come_back() {
    let f = fabric("hgx:gpu=h100");
    let s = scenario(ServeInputs {
        workload: Some("agent".into()),
        turns: Some("8".into()),
        input_len: Some("8000".into()),
        turn_input: Some("500".into()),
        output_len: Some("100".into()),
        tool_pause: Some("5s".into()),
        concurrency: Some(64),
        duration: Some("120s".into()),
        mem_fraction: Some(0.35),
        ..llama8b_one_gpu()
    });
    let r = serve::run(&s, &f).unwrap();
    let tiers = &r.roles[0].kv_tiers;
    assert!(!tiers.is_empty(), "the DGX H100 host side has tiers");
    assert!(r.kv_demotions_below_hbm > 0, "HBM overflows");
    assert!(
        r.cached_from_lower_tiers_fraction > 0.0,
        "some contexts come back from host DRAM"
    );
    assert!(r.kv_cache_hit_fraction > 0.8, "hit {}", r.kv_cache_hit_fraction);
}

/// Requests of one output token have no time per output token: TPOT is undefined throughout
/// (NaN, `null` in JSON), not a number, while TTFT and end-to-end stay ordered (the case the
/// random scenarios below once drew: output length 1).
#[test]
fn one_output_token_leaves_tpot_undefined() {
    let f = fabric("hgx:gpu=h100");
    let i = ServeInputs {
        tp: Some(1),
        replicas: Some(8),
        concurrency: Some(1),
        input_len: Some("1..1".into()),
        output_len: Some("1..1".into()),
        chunk: Some(1),
        max_running: Some(1),
        mem_fraction: Some(0.5187329330025644),
        workload: Some("synthetic".into()),
        duration: Some("3s".into()),
        warmup: Some("0s".into()),
        seed: Some(0),
        ..llama8b_one_gpu()
    };
    let r = serve::run(&scenario(i), &f).unwrap();
    assert!(r.requests_finished > 0);
    let t = r.tpot_s;
    assert!([t.mean, t.p10, t.p50, t.p90, t.p99].iter().all(|v| v.is_nan()), "{t:?}");
    for d in [r.ttft_s, r.e2e_s] {
        assert!(d.p10 <= d.p50 && d.p50 <= d.p90 && d.p90 <= d.p99, "{d:?}");
    }
}

mod random_scenarios {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
        /// Any small scenario runs to an answer (or a clear error): no panic, the KV pool never
        /// over-full, finished ≤ arrived, distributions ordered.
        #[test]
        fn small_scenarios_keep_the_invariants(
            tp in prop::sample::select(vec![1u32, 2, 4, 8]),
            users in 1u32..48,
            input in 1u32..6000,
            output in 1u32..300,
            chunk in 1u32..9000,
            max_running in 1u32..300,
            mem in 0.2f64..0.95,
            agent in any::<bool>(),
            seed in 0u64..1000,
        ) {
            let f = fabric("hgx:gpu=h100");
            let i = ServeInputs {
                tp: Some(tp),
                replicas: Some(8 / tp),
                concurrency: Some(users),
                input_len: Some(format!("1..{input}")),
                output_len: Some(format!("1..{output}")),
                chunk: Some(chunk),
                max_running: Some(max_running),
                mem_fraction: Some(mem),
                workload: Some(if agent { "agent" } else { "synthetic" }.into()),
                turn_input: Some("1..200".into()),
                turns: Some("1..4".into()),
                duration: Some("3s".into()),
                warmup: Some("0s".into()),
                seed: Some(seed),
                ..llama8b_one_gpu()
            };
            let s = scenario(i);
            match serve::run(&s, &f) {
                Ok(r) => {
                    prop_assert!(r.requests_finished <= r.requests_arrived);
                    for role in &r.roles {
                        prop_assert!(role.kv_occupancy_peak_fraction <= 1.0 + 1e-12);
                    }
                    for d in [r.ttft_s, r.tpot_s, r.e2e_s] {
                        // A distribution with no samples (TPOT when every request has one output
                        // token) is undefined throughout (`null` in JSON), else ordered.
                        let none = [d.mean, d.p10, d.p50, d.p90, d.p99].iter().all(|v| v.is_nan());
                        prop_assert!(none || (d.p10 <= d.p50 && d.p50 <= d.p90 && d.p90 <= d.p99), "{d:?}");
                    }
                    prop_assert!(r.output_tokens_per_s_per_accel >= 0.0);
                }
                Err(e) => prop_assert!(!e.is_empty()),
            }
        }
    }
}
