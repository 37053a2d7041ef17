//! Memory per accelerator: Korthikanti's activation formulas, ZeRO sharding, pipelines.

use proptest::prelude::*;
use workload::memory::{
    korthikanti_layer_activations, layer_activations, layer_activations_in, memory_per_accel, memory_per_accel_stage,
    memory_per_accel_with, MemoryOptions,
};
use workload::registry::lookup;
use workload::{ModelSpec, ParallelPlan, Precision, Recompute};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn plan(tp: u32, pp: u32, dp: u32) -> ParallelPlan {
    ParallelPlan {
        tp,
        pp,
        dp,
        cp: 1,
        ep: 1,
        vp: 1,
        mbs: 1,
        gbs: 64 * dp,
        seq: 2048,
        zero: 0,
        recompute: Recompute::Selective,
        precision: Precision::Bf16,
        sequence_parallel: true,
        tp_comm_overlap: false,
        layers_per_stage: None,
        hsdp_shard: None,
    }
}

const RECOMPUTES: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];

#[test]
fn korthikanti_table2_reproduced_for_gpt_models() {
    let opts = MemoryOptions::default();
    for name in ["gpt-3-175b", "megatron-gpt-22b", "megatron-gpt-530b", "megatron-gpt-1t"] {
        let m = lookup(name).unwrap();
        let (h, a) = (m.hidden as f64, m.heads as f64);
        for t in [1.0, 2.0, 4.0, 8.0] {
            for s in [2048.0, 4096.0] {
                for b in [1.0, 4.0] {
                    for r in RECOMPUTES {
                        for sp in [false, true] {
                            let ours = layer_activations(&m, 0, s, b, t, r, sp, &opts);
                            let paper = korthikanti_layer_activations(s, b, h, a, t, r, sp);
                            assert!(
                                rel(ours, paper) < 1e-12,
                                "{name} t{t} s{s} b{b} {r:?} sp{sp}: {ours} vs {paper}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn korthikanti_gpt3_numbers() {
    // GPT-3 175B, t = 8, s = 2048, b = 1: s·b·h = 25,165,824.
    let sbh = 2048.0 * 12288.0;
    let k = |r, sp| korthikanti_layer_activations(2048.0, 1.0, 12288.0, 96.0, 8.0, r, sp);
    // Selective + SP: 34·sbh/t = 106,954,752 B per layer (≈ 10 GB for 96 layers).
    assert_eq!(k(Recompute::Selective, true), 106_954_752.0);
    // No recompute + SP: sbh/t·(34 + 5·96·2048/12288) = sbh/t·114.
    assert_eq!(k(Recompute::None, true), sbh / 8.0 * 114.0);
    // TP without SP: sbh·(10 + 24/8 + 80/8) = 23·sbh; selective: 13·sbh.
    assert_eq!(k(Recompute::None, false), 23.0 * sbh);
    assert_eq!(k(Recompute::Selective, false), 13.0 * sbh);
    // Full: 2·sbh (layer input only).
    assert_eq!(k(Recompute::Full, false), 2.0 * sbh);
    // Selective + SP stores 34/114 of what no recompute + SP stores here: 70% less.
    assert!(1.0 - k(Recompute::Selective, true) / k(Recompute::None, true) > 0.69);
}

#[test]
fn whole_model_activations_are_pp_independent_on_the_first_stage() {
    // 1F1B: the first stage holds pp micro-batches of layers/pp layers = all layers' worth of one
    // micro-batch (Korthikanti §4.2.3).
    let m = lookup("gpt-3-175b").unwrap();
    let opts = MemoryOptions {
        dropout: false,
        ..MemoryOptions::default()
    };
    let one_layer = layer_activations(&m, 0, 2048.0, 1.0, 8.0, Recompute::Selective, true, &opts);
    for pp in [2, 4, 8, 16] {
        let p = plan(8, pp, 1);
        let b = memory_per_accel_stage(&m, &p, 0, &opts);
        assert!(rel(b.activations, 96.0 * one_layer) < 1e-12, "pp {pp}");
        // The last stage holds one micro-batch of its layers plus the output layer's inputs and
        // the fp32 logits.
        let last = memory_per_accel_stage(&m, &p, pp - 1, &opts);
        let extra = 4.0 * 2048.0 * 12288.0 / 8.0 + 4.0 * 2048.0 * 51_200.0 / 8.0;
        assert!(
            rel(last.activations, (96 / pp) as f64 * one_layer + extra) < 1e-12,
            "pp {pp}"
        );
    }
    // Interleaved with v virtual stages: × (1 + (pp − 1)/(pp·v)).
    for (pp, vp) in [(8, 2), (8, 3), (4, 4)] {
        let p = ParallelPlan { vp, ..plan(8, pp, 1) };
        let b = memory_per_accel_stage(&m, &p, 0, &opts);
        let factor = 1.0 + (pp - 1) as f64 / (pp * vp) as f64;
        assert!(rel(b.activations, 96.0 * one_layer * factor) < 1e-12, "pp {pp} vp {vp}");
    }
    // Fewer micro-batches than stages cap the in-flight count.
    let p = ParallelPlan {
        gbs: 2,
        ..plan(8, 8, 1)
    };
    let b = memory_per_accel_stage(&m, &p, 0, &opts);
    assert!(rel(b.activations, 2.0 * 12.0 * one_layer) < 1e-12);
}

#[test]
fn recompute_orders_activation_memory() {
    let m = lookup("llama-3.1-70b").unwrap();
    let p = plan(8, 4, 8);
    let act = |r| {
        memory_per_accel(
            &m,
            &ParallelPlan {
                recompute: r,
                ..p.clone()
            },
        )
        .activations
    };
    assert!(act(Recompute::Full) < act(Recompute::Selective));
    assert!(act(Recompute::Selective) < act(Recompute::None));
    // Flash attention keeps none of the s² scores: between selective and none.
    let flash = MemoryOptions {
        flash_attention: true,
        ..MemoryOptions::default()
    };
    let f = memory_per_accel_with(
        &m,
        &ParallelPlan {
            recompute: Recompute::None,
            ..p.clone()
        },
        &flash,
    )
    .activations;
    assert!(f > act(Recompute::Selective) && f < act(Recompute::None));
}

#[test]
fn model_states_and_zero_stages() {
    let m = lookup("llama-3.1-70b").unwrap();
    let base = ParallelPlan {
        zero: 0,
        ..plan(8, 1, 16)
    };
    let z = |stage| {
        memory_per_accel(
            &m,
            &ParallelPlan {
                zero: stage,
                ..base.clone()
            },
        )
    };
    let (z0, z1, z2, z3) = (z(0), z(1), z(2), z(3));
    // No pipeline: every parameter, split 8 ways by TP (norms and the embedding too: vocab-parallel).
    let per_rank = m.params() / 8.0;
    assert!(
        rel(z0.weights, 2.0 * per_rank) < 1e-3,
        "{} vs {}",
        z0.weights,
        2.0 * per_rank
    );
    assert!(rel(z0.gradients, 4.0 * per_rank) < 1e-3);
    assert!(rel(z0.optimizer, 12.0 * per_rank) < 1e-3);
    // ZeRO-1 shards the optimizer, 2 also the gradients, 3 also the weights, over DP.
    assert_eq!((z1.weights, z1.gradients), (z0.weights, z0.gradients));
    assert!(rel(z1.optimizer, z0.optimizer / 16.0) < 1e-12);
    assert_eq!(z2.weights, z0.weights);
    assert!(rel(z2.gradients, z0.gradients / 16.0) < 1e-12);
    assert_eq!(z2.optimizer, z1.optimizer);
    assert!(rel(z3.weights, z0.weights / 16.0) < 1e-12);
    assert_eq!((z3.gradients, z3.optimizer), (z2.gradients, z2.optimizer));
    assert_eq!(z0.activations, z3.activations);
    // ZeRO-3 buffers hold two gathered layers.
    assert!(z3.buffers >= z0.buffers);
    let t = z0;
    assert_eq!(
        t.total(),
        t.weights + t.gradients + t.optimizer + t.activations + t.buffers
    );
    // Context parallelism joins the sharding group (Megatron's distributed optimizer).
    let cp2 = memory_per_accel(
        &m,
        &ParallelPlan {
            zero: 1,
            cp: 2,
            ..base.clone()
        },
    );
    assert!(rel(cp2.optimizer, z1.optimizer / 2.0) < 1e-12);
}

#[test]
fn pipeline_stages_split_the_layers() {
    let m = lookup("gpt-3-175b").unwrap();
    let p = plan(8, 8, 1);
    let opts = MemoryOptions::default();
    let first = memory_per_accel_stage(&m, &p, 0, &opts);
    let mid = memory_per_accel_stage(&m, &p, 3, &opts);
    let last = memory_per_accel_stage(&m, &p, 7, &opts);
    let layer = m.layer_params(0) / 8.0;
    assert!(rel(mid.weights, 2.0 * 12.0 * layer) < 1e-12);
    // First: + the embedding (vocab-parallel) and learned positions; last: + the tied output
    // layer's copy and the final norm.
    let emb = (51_200.0 / 8.0 + 2048.0) * 12288.0;
    assert!(rel(first.weights, 2.0 * (12.0 * layer + emb)) < 1e-12);
    assert!(
        rel(
            last.weights,
            2.0 * (12.0 * layer + 51_200.0 * 12288.0 / 8.0 + 2.0 * 12288.0)
        ) < 1e-12
    );
    let worst = memory_per_accel(&m, &p);
    assert_eq!(worst.total(), first.total().max(last.total()));
}

#[test]
fn moe_experts_shard_by_ep_and_fp8_adds_a_copy() {
    let m = lookup("mixtral-8x7b").unwrap();
    let base = ParallelPlan { ep: 1, ..plan(1, 1, 8) };
    let ep8 = ParallelPlan { ep: 8, ..base.clone() };
    let w1 = memory_per_accel(&m, &base).weights;
    let w8 = memory_per_accel(&m, &ep8).weights;
    let experts = m.moe_layers() as f64 * m.layer_expert_params(0);
    assert!(rel(w1 - w8, 2.0 * experts * (1.0 - 1.0 / 8.0)) < 1e-12);
    // Expert optimizer states shard over DP/EP under ZeRO-1.
    let z1 = memory_per_accel(&m, &ParallelPlan { zero: 1, ..ep8.clone() });
    let dense = m.params() - experts;
    assert!(rel(z1.optimizer, 12.0 * (dense / 8.0 + experts / 8.0 / 1.0)) < 1e-9);
    // FP8: BF16 weights kept plus a 1-byte FP8 copy; masters and grads unchanged.
    let fp8 = memory_per_accel(
        &m,
        &ParallelPlan {
            precision: Precision::Fp8,
            ..base.clone()
        },
    );
    let bf16 = memory_per_accel(&m, &base);
    assert!(rel(fp8.weights, 1.5 * bf16.weights) < 1e-12);
    assert_eq!((fp8.gradients, fp8.optimizer), (bf16.gradients, bf16.optimizer));
    // DeepSeek-V3 at EP 64 fits weights + grads + Adam in under 80 GB with PP 16 and ZeRO-1.
    let ds = lookup("deepseek-v3").unwrap();
    let p = ParallelPlan {
        ep: 64,
        pp: 16,
        dp: 64,
        zero: 1,
        ..plan(1, 16, 64)
    };
    let b = memory_per_accel(&ds, &p);
    assert!(b.weights + b.gradients + b.optimizer < 80e9, "{b:?}");
}

#[test]
fn llama_405b_full_recompute_fits_an_h100_with_megatron_layout() {
    // Llama 3.1 405B pretraining layout (Dubey et al. 2024 Table 4): TP 8, PP 16, CP 1, DP 64,
    // seq 8192, micro-batch 1, ZeRO-1-like distributed optimizer. Must fit 80 GB.
    let m = lookup("llama-3.1-405b").unwrap();
    let p = ParallelPlan {
        seq: 8192,
        gbs: 16 * 64,
        zero: 1,
        vp: 1,
        recompute: Recompute::Full,
        ..plan(8, 16, 64)
    };
    let b = memory_per_accel(&m, &p);
    assert!(b.total() < 80e9, "{:.1} GB: {b:?}", b.total() / 1e9);
    assert!(b.total() > 20e9);
}

prop_compose! {
    fn arb_plan()(
        tp_pow in 0u32..4, pp in 1u32..20, dp in 1u32..64, cp_pow in 0u32..3, ep_pow in 0u32..4,
        vp in 1u32..4, mbs in 1u32..4, mult in 1u32..16, seq in 128u64..32768, zero in 0u8..4,
        r in 0usize..3, fp8 in any::<bool>(), sp in any::<bool>(),
    ) -> ParallelPlan {
        ParallelPlan {
            tp: 1 << tp_pow, pp, dp, cp: 1 << cp_pow, ep: 1 << ep_pow, vp, mbs, gbs: mbs * dp * mult, seq, zero,
            recompute: RECOMPUTES[r],
            precision: if fp8 { Precision::Fp8 } else { Precision::Bf16 },
            sequence_parallel: sp,
            tp_comm_overlap: false,
            layers_per_stage: None,
            hsdp_shard: None,
        }
    }
}

proptest! {
    #[test]
    fn memory_never_panics_and_is_positive(name in prop::sample::select(workload::registry::names()), p in arb_plan()) {
        let m: ModelSpec = lookup(name).unwrap();
        let b = memory_per_accel(&m, &p);
        for v in [b.weights, b.gradients, b.optimizer, b.activations, b.buffers] {
            prop_assert!(v.is_finite() && v > 0.0, "{b:?}");
        }
        // More ZeRO never needs more memory up to ZeRO-2. ZeRO-3/FSDP trades its sharded
        // weights for gathered layers held during compute (two, with prefetch, plus a layer's
        // unsharded gradient): at DP 2 with few layers per stage that can exceed the saving.
        if p.zero < 2 {
            let more = memory_per_accel(&m, &ParallelPlan { zero: p.zero + 1, ..p.clone() });
            prop_assert!(more.weights + more.gradients + more.optimizer <= b.weights + b.gradients + b.optimizer + 1.0);
        }
    }
}

/// The most loaded rank is the heaviest of every pipeline stage, not only the first or last:
/// DeepSeek-V3's first stage holds its three dense layers, so a middle stage holds the most.
/// A given layer split moves weights and activations with the layers.
#[test]
fn heaviest_stage_is_any_stage_and_follows_the_split() {
    let m = lookup("deepseek-v3").unwrap();
    // As `fabricsim train` runs it: FlashAttention, no dropout.
    let opts = MemoryOptions {
        flash_attention: true,
        dropout: false,
        ..MemoryOptions::default()
    };
    let p = ParallelPlan {
        ep: 64,
        gbs: 8 * 128,
        seq: 4096,
        zero: 1,
        recompute: Recompute::None,
        ..plan(1, 16, 128)
    };
    let per_stage: Vec<f64> = (0..16)
        .map(|s| memory_per_accel_stage(&m, &p, s, &opts).total())
        .collect();
    let max = per_stage.iter().copied().fold(0.0, f64::max);
    assert_eq!(memory_per_accel_with(&m, &p, &opts).total(), max);
    let (stage, b) = workload::memory::heaviest_stage(&m, &p, &opts);
    assert_eq!(b.total(), max);
    assert!(stage > 0 && stage < 15, "heaviest stage {stage}");
    assert!(per_stage[0] < max && per_stage[15] < max);
    // Three layers instead of four on the first stage, five on the second (61 in all).
    let mut split = vec![4u32; 16];
    split[0] = 3;
    split[1] = 5;
    split[14] = 3;
    split[15] = 2;
    let q = ParallelPlan {
        layers_per_stage: Some(split),
        hsdp_shard: None,
        ..p.clone()
    };
    q.check_layers_per_stage(m.layers).unwrap();
    let (a0, b0) = (
        memory_per_accel_stage(&m, &p, 0, &opts),
        memory_per_accel_stage(&m, &q, 0, &opts),
    );
    assert!(b0.weights < a0.weights && b0.activations < a0.activations);
    let (a1, b1) = (
        memory_per_accel_stage(&m, &p, 1, &opts),
        memory_per_accel_stage(&m, &q, 1, &opts),
    );
    assert!(b1.weights > a1.weights && b1.activations > a1.activations);
    assert_eq!(workload::memory::heaviest_stage(&m, &q, &opts).0, 1);
}

/// The even split and the given one agree with the schedule's chunk order: with interleaving a
/// stage holds chunks v = c·PP + stage.
#[test]
fn stage_layers_follow_the_chunks() {
    let p = ParallelPlan { vp: 2, ..plan(1, 4, 1) };
    // 30 layers over 8 chunks: the first 6 take 4, the last 2 take 3.
    assert_eq!(p.chunk_layers(30, 0), 0..4);
    assert_eq!(p.chunk_layers(30, 7), 27..30);
    assert_eq!(p.stage_layers(30, 1), [4, 5, 6, 7, 20, 21, 22, 23]);
    assert_eq!(p.stage_layers(30, 3), [12, 13, 14, 15, 27, 28, 29]);
    let q = ParallelPlan {
        layers_per_stage: Some(vec![1, 4, 4, 4, 4, 4, 4, 5]),
        hsdp_shard: None,
        ..p.clone()
    };
    assert!(q.check_layers_per_stage(30).is_ok());
    assert_eq!(q.stage_layers(30, 0), [0, 13, 14, 15, 16]);
    assert_eq!(q.stage_layers(30, 3), [9, 10, 11, 12, 25, 26, 27, 28, 29]);
    for (list, frag) in [
        (vec![4u32; 4], "with --vp 2 give PP × VP = 4 × 2 = 8"),
        (vec![0, 5, 5, 4, 4, 4, 4, 4], "entry 0 is 0"),
        (vec![4; 8], "sums to 32, but the model has 30 layers"),
    ] {
        let r = ParallelPlan {
            layers_per_stage: Some(list),
            hsdp_shard: None,
            ..p.clone()
        };
        let e = r.check_layers_per_stage(30).unwrap_err();
        assert!(e.starts_with("--layers-per-stage ") && e.contains(frag), "{e}");
    }
}

#[test]
fn fp8_saves_gemm_inputs_in_one_byte() {
    // GPT layer (Korthikanti's 34 with dropout): of its per-token coefficients the saved GEMM
    // inputs are the QKV input 2, the out-projection input 2, the fc1 input 2 and the fc2 input
    // 8 (= 2·4h/h); FP8 (Transformer Engine) keeps them in 1 byte, halving 14 of the 34.
    let m = lookup("gpt-3-175b").unwrap();
    let opts = MemoryOptions::default();
    let (s, b, h, t) = (2048.0, 1.0, 12288.0, 8.0);
    let sbh = s * b * h;
    let act = |prec, r, sp| layer_activations_in(&m, 0, s, b, t, r, sp, prec, &opts);
    // Selective with SP: 34 → 27 (per t).
    let bf16 = act(Precision::Bf16, Recompute::Selective, true);
    assert!(rel(bf16, sbh * 34.0 / t) < 1e-12);
    assert_eq!(
        bf16,
        layer_activations(&m, 0, s, b, t, Recompute::Selective, true, &opts)
    );
    assert!(rel(act(Precision::Fp8, Recompute::Selective, true), sbh * 27.0 / t) < 1e-12);
    // Without SP: the replicated 10 loses the two norm outputs' bytes (10 → 8), the split 24 → 19.
    let fp8_tp = act(Precision::Fp8, Recompute::Selective, false);
    assert!(rel(fp8_tp, sbh * (8.0 + 19.0 / t)) < 1e-12);
    // The attention scores are not GEMM inputs: no recompute keeps 5·a·s/h in full.
    let fp8_none = act(Precision::Fp8, Recompute::None, true);
    assert!(rel(fp8_none, sbh / t * (27.0 + 5.0 * 96.0 * s / h)) < 1e-12);
    // Full recompute stores the BF16 layer input either way.
    assert_eq!(
        act(Precision::Fp8, Recompute::Full, true),
        act(Precision::Bf16, Recompute::Full, true)
    );
    // The plan's precision reaches the per-rank breakdown.
    let p = plan(8, 1, 1);
    let fp8 = ParallelPlan {
        precision: Precision::Fp8,
        ..p.clone()
    };
    let (a, f) = (memory_per_accel(&m, &p), memory_per_accel(&m, &fp8));
    let layers = 96.0;
    let logits = 4.0 * s * b * h / t + 4.0 * s * b * 51_200.0 / t + s * b * h / t;
    assert!(rel(a.activations - logits, layers * sbh * 34.0 / t) < 1e-9);
    assert!(rel(f.activations - logits, layers * sbh * 27.0 / t) < 1e-9);
}

#[test]
fn bf16_gradients_and_the_full_breakdown_of_an_interleaved_fp8_plan() {
    // NeMo's GPT-3 175B on 512 H100 (TP 4, PP 8, VP 6, DP 16, mbs 2, FP8, ZeRO-1): every term
    // from first principles, on the first stage.
    let m = lookup("gpt-3-175b").unwrap();
    let p = ParallelPlan {
        vp: 6,
        mbs: 2,
        gbs: 2048,
        zero: 1,
        precision: Precision::Fp8,
        ..plan(4, 8, 16)
    };
    let opts = MemoryOptions {
        flash_attention: true,
        dropout: false,
        grad_bytes: 2.0,
        ..MemoryOptions::default()
    };
    let b = memory_per_accel_stage(&m, &p, 0, &opts);
    let (h, v, s, mb) = (12288.0, 51_200.0, 2048.0, 2.0);
    // Stage 0: 12 of the 96 layers plus the vocab-parallel embedding and position embedding.
    let layer = m.layer_params(0);
    let params = 12.0 * layer / 4.0 + v * h / 4.0 + 2048.0 * h;
    assert!(rel(b.weights, 3.0 * params) < 1e-12, "BF16 + FP8 copy");
    assert!(
        rel(b.gradients, 2.0 * params) < 1e-12,
        "BF16 gradients, unsharded at ZeRO-1"
    );
    assert!(rel(b.optimizer, 12.0 * params / 16.0) < 1e-12, "Adam sharded over DP");
    // Activations: Korthikanti's SP-selective 34 without the two dropout masks (32), FP8 GEMM
    // inputs (−7); selective recompute keeps no attention-core state; the interleaved first stage holds
    // 2·(pp−1) + (v−1)·pp + 1 = 55 chunks of 2 layers.
    let per_layer = s * mb * h / 4.0 * 25.0;
    assert!(rel(b.activations, 55.0 * 2.0 * per_layer) < 1e-12);
    // Buffers: 1 GiB fixed + a 40 M-element BF16 bucket.
    assert!(rel(b.buffers, 1024.0_f64.powi(3) + 2.0 * 40e6) < 1e-12);
    // FP32 gradients double the gradient term and the bucket, nothing else.
    let f32 = memory_per_accel_stage(
        &m,
        &p,
        0,
        &MemoryOptions {
            grad_bytes: 4.0,
            ..opts
        },
    );
    assert!(rel(f32.gradients, 2.0 * b.gradients) < 1e-12);
    assert_eq!(
        (f32.weights, f32.optimizer, f32.activations),
        (b.weights, b.optimizer, b.activations)
    );
    // ZeRO-2 shards the BF16 gradients over DP as well.
    let z2 = memory_per_accel_stage(&m, &ParallelPlan { zero: 2, ..p.clone() }, 0, &opts);
    assert!(rel(z2.gradients, b.gradients / 16.0) < 1e-12);
}

/// Offloading N layers' activations to the host (Megatron `cpu_offloading_num_layers`) removes
/// exactly those N layers' activation bytes from the device and nothing else.
#[test]
fn offloading_n_layers_removes_their_activations() {
    let m = lookup("llama-3-70b").unwrap();
    let p = ParallelPlan {
        mbs: 2,
        seq: 8192,
        zero: 3,
        dp: 64,
        gbs: 256,
        precision: Precision::Fp8,
        sequence_parallel: false,
        ..plan(1, 1, 64)
    };
    let opts = MemoryOptions {
        flash_attention: true,
        dropout: false,
        ..MemoryOptions::default()
    };
    let base = memory_per_accel_with(&m, &p, &opts);
    let layer = layer_activations_in(&m, 0, 8192.0, 2.0, 1.0, p.recompute, false, p.precision, &opts);
    for n in [1u32, 20, 40] {
        let off = memory_per_accel_with(
            &m,
            &p,
            &MemoryOptions {
                offload_activation_layers: n,
                ..opts
            },
        );
        assert!(rel(base.activations - off.activations, n as f64 * layer) < 1e-9, "{n}");
        assert_eq!(
            (off.weights, off.gradients, off.optimizer, off.buffers),
            (base.weights, base.gradients, base.optimizer, base.buffers)
        );
    }
    // All layers offloaded: only the last stage's output-layer activations stay.
    let all = memory_per_accel_with(
        &m,
        &p,
        &MemoryOptions {
            offload_activation_layers: m.layers,
            ..opts
        },
    );
    assert!(rel(base.activations - all.activations, m.layers as f64 * layer) < 1e-9);
}

/// Recomputing MLA's up-projections keeps no Q, K, V: 2·(a·d_qk + a·(d_qk + d_v)) bytes per
/// token less per layer (DeepSeek-V3: a = 128, d_qk = 192, d_v = 128), nothing for models
/// without MLA.
#[test]
fn mla_up_proj_recompute_drops_q_k_v() {
    let ds = lookup("deepseek-v3").unwrap();
    let opts = MemoryOptions {
        flash_attention: true,
        dropout: false,
        ..MemoryOptions::default()
    };
    let up = MemoryOptions {
        recompute_mla_up_proj: true,
        ..opts
    };
    let (s, b) = (4096.0, 1.0);
    for layer in [0, 10] {
        let kept = layer_activations(&ds, layer, s, b, 1.0, Recompute::Selective, false, &opts);
        let dropped = layer_activations(&ds, layer, s, b, 1.0, Recompute::Selective, false, &up);
        let qkv = 2.0 * (128.0 * 192.0 + 128.0 * (192.0 + 128.0)) * s * b;
        assert!(rel(kept - dropped, qkv) < 1e-9, "layer {layer}: {kept} − {dropped}");
    }
    let llama = lookup("llama-3-70b").unwrap();
    assert_eq!(
        layer_activations(&llama, 0, s, b, 1.0, Recompute::Selective, false, &opts),
        layer_activations(&llama, 0, s, b, 1.0, Recompute::Selective, false, &up)
    );
}

/// Megatron's interleaved schedule holds warm-up + 1 chunks at its peak when the chunks are
/// equal (Korthikanti's factor); with Llama 3.1 405B's embedding/loss-aware split (1-layer
/// first chunk) the first stage of PP 16 × VP 4 holds 31 one-layer and 48 two-layer chunks.
#[test]
fn interleaved_peak_follows_the_schedule_chunk_by_chunk() {
    use workload::memory::interleaved_peak;
    for (pp, vp, stage) in [(16u32, 4u32, 0u32), (16, 4, 1), (8, 2, 7), (4, 4, 0)] {
        let warm = 2 * (pp - 1 - stage) + (vp - 1) * pp;
        let peak = interleaved_peak(pp, vp, stage, 384, &vec![1.0; vp as usize]);
        assert_eq!(peak, (warm + 1) as f64, "pp {pp} vp {vp} stage {stage}");
    }
    // Fewer micro-batches than the warm-up: all of them.
    assert_eq!(interleaved_peak(16, 4, 0, 2, &[1.0; 4]), 8.0);
    assert_eq!(interleaved_peak(16, 4, 0, 384, &[1.0, 2.0, 2.0, 2.0]), 31.0 + 96.0);
}

/// MaxText on TPU (`MemoryOptions::maxtext`): the `minimal` remat policy keeps the layer input
/// and the weight matmuls' outputs needed by the backward (Q, K, V, the out-projection, the
/// MLP's input projections), sharded over the tensor axis; fp32 parameters with optax Adam
/// (16 B per parameter with the gradient, against Megatron's 18); FSDP holds two gathered BF16
/// layers and one BF16 partial gradient (6 B per layer parameter, against 8).
#[test]
fn maxtext_accounting_counts_what_xla_keeps() {
    let m = lookup("maxtext-32b").unwrap();
    let (h, a, d, ffn) = (m.hidden as f64, m.heads as f64, 128.0, m.ffn as f64);
    assert!(m.gated_mlp && m.kv_heads == m.heads);
    let x = MemoryOptions::maxtext();
    let (s, b, t) = (2048.0, 28.0, 4.0);
    let got = layer_activations(&m, 0, s, b, t, Recompute::Selective, true, &x);
    let want = s * b * (2.0 * h + 2.0 * 3.0 * a * d + 2.0 * h + 2.0 * 2.0 * ffn) / t;
    assert!(rel(got, want) < 1e-12, "{got} vs {want}");
    // Less than Korthikanti's selective set, more than full recomputation.
    let mega = layer_activations(&m, 0, s, b, t, Recompute::Selective, true, &MemoryOptions::default());
    assert!(got < mega);
    assert!(got > layer_activations(&m, 0, s, b, t, Recompute::Full, true, &x));
    // Full remat is the scan carry alone, as elsewhere.
    assert_eq!(
        layer_activations(&m, 0, s, b, t, Recompute::Full, true, &x),
        2.0 * s * b * h / t
    );
    // Model states and FSDP buffers over 256 chips.
    let p = ParallelPlan {
        zero: 3,
        mbs: 4,
        gbs: 1024,
        recompute: Recompute::Full,
        sequence_parallel: false,
        ..plan(1, 1, 256)
    };
    let xm = memory_per_accel_with(&m, &p, &x);
    let n = m.params() / 256.0;
    assert!(rel(xm.weights + xm.gradients + xm.optimizer, 16.0 * n) < 1e-9);
    let gm = memory_per_accel_with(&m, &p, &MemoryOptions { xla: false, ..x });
    assert!(rel(gm.weights + gm.gradients + gm.optimizer, 18.0 * n) < 1e-9);
    let layer = m.layer_params(0);
    assert!(rel(xm.buffers - x.fixed_overhead, 6.0 * layer) < 1e-9);
    assert!(rel(gm.buffers - x.fixed_overhead, 8.0 * layer) < 1e-9);
}
