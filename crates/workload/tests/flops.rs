//! Per-operation FLOPs against the closed formulas and the kernel measurements' shapes.

use proptest::prelude::*;
use workload::flops::{
    attention_flops, backward_ops, head_ops, korthikanti_model_flops, layer_ops, layer_ops_flops_sum,
    megatron_hw_flops, model_flops_per_step, model_flops_per_token, model_flops_per_token_causal, output_ops,
    FlopConvention, MemoryOp, OpDesc, OpKind, Pass,
};
use workload::registry::lookup;
use workload::ModelSpec;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn gemm_shape(op: &OpDesc) -> (u64, u64, u64, Pass) {
    match op.kind {
        OpKind::Gemm { m, n, k, pass } => (m, n, k, pass),
        _ => panic!("{} is not a GEMM", op.name),
    }
}

fn find<'a>(ops: &'a [OpDesc], name: &str) -> &'a OpDesc {
    ops.iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no op {name}"))
}

/// lm_head forward + backward FLOPs of a micro-batch over the TP group.
fn lm_head_flops(m: &ModelSpec, batch: u64, seq: u64, tp: u32) -> f64 {
    let fwd = output_ops(m, batch, seq, tp);
    let bwd = backward_ops(&fwd);
    let gemm = |ops: &[OpDesc]| {
        ops.iter()
            .filter(|o| matches!(o.kind, OpKind::Gemm { .. }))
            .map(|o| o.flops)
            .sum::<f64>()
    };
    (gemm(&fwd) + gemm(&bwd)) * tp as f64
}

const GPTS: &[&str] = &[
    "gpt-3-175b",
    "megatron-gpt-22b",
    "megatron-gpt-530b",
    "megatron-gpt-1t",
    "megatron-gpt-1.7b",
];

#[test]
fn op_sums_reproduce_korthikanti_exactly() {
    // Korthikanti's 72·B·s·l·h²·(1 + s/6h + V/12hl) counts forward + backward of every GEMM and
    // of the attention core over the full s×s scores (non-causal, backward = 2× forward) and the
    // lm_head; no norms, no elementwise ops. The Literature convention counts the same terms.
    for name in GPTS {
        let m = lookup(name).unwrap();
        for (b, s, tp, cp, sp) in [
            (1, 2048, 1, 1, false),
            (4, 2048, 8, 1, true),
            (2, 4096, 8, 2, true),
            (1, 2048, 4, 1, false),
        ] {
            let layers = layer_ops_flops_sum(&m, b, s, tp, cp, 1, sp, FlopConvention::Literature, false);
            let head = lm_head_flops(&m, b, s, tp);
            let ours = layers + head;
            let theirs = korthikanti_model_flops(&m, b as f64, s as f64);
            assert!(
                rel(ours, theirs) < 1e-12,
                "{name} b{b} s{s} tp{tp} cp{cp}: {ours:.6e} vs {theirs:.6e}"
            );
        }
    }
}

#[test]
fn op_sums_with_recompute_reproduce_megatron_hw_flops() {
    // 96·B·s·l·h²·(1 + s/6h + V/16lh): the layers' forward twice (full recompute) + backward,
    // the lm_head once forward + backward (not recomputed).
    for name in GPTS {
        let m = lookup(name).unwrap();
        let (b, s) = (8, 2048);
        let ours = layer_ops_flops_sum(&m, b, s, 8, 1, 1, false, FlopConvention::Literature, true)
            + lm_head_flops(&m, b, s, 8);
        let theirs = megatron_hw_flops(&m, b as f64, s as f64);
        assert!(rel(ours, theirs) < 1e-12, "{name}: {ours:.6e} vs {theirs:.6e}");
        if m.layers >= 48 {
            let r = megatron_hw_flops(&m, 1.0, 2048.0) / korthikanti_model_flops(&m, 1.0, 2048.0);
            assert!(rel(r, 4.0 / 3.0) < 0.01, "{name}: {r}");
        }
    }
}

#[test]
fn executed_convention_counts_causal_attention_with_flash_backward() {
    // Executed: attention fwd causal (½ of full), backward 2.5× → 1.75 × full-forward;
    // Literature: 3 × full-forward. The GEMMs are identical.
    let m = lookup("gpt-3-175b").unwrap();
    let (b, s) = (1u64, 2048u64);
    let lit = layer_ops_flops_sum(&m, b, s, 1, 1, 1, false, FlopConvention::Literature, false);
    let exe = layer_ops_flops_sum(&m, b, s, 1, 1, 1, false, FlopConvention::Executed, false);
    let full_fwd = m.layers as f64 * attention_flops(b, m.heads as u64, s, s, m.head_dim, m.head_dim, false);
    assert!(rel(lit - exe, (3.0 - 1.75) * full_fwd) < 1e-9);
    // Executed differs from the formula by under 1% at s = 2048 for GPT-3 (attention ≈ 2.7%).
    let k = korthikanti_model_flops(&m, 1.0, 2048.0);
    assert!(rel(exe + lm_head_flops(&m, b, s, 1), k) < 0.015);
}

#[test]
fn model_flops_per_token_formula() {
    for name in GPTS {
        let m = lookup(name).unwrap();
        let s = 2048u64;
        // Equal to Korthikanti per token up to the 6·13·l·h bias/norm and position-table terms.
        let per_token = model_flops_per_token(&m, s);
        assert!(
            rel(per_token * 2048.0, korthikanti_model_flops(&m, 1.0, s as f64)) < 1e-3,
            "{name}"
        );
        assert_eq!(model_flops_per_step(&m, 16, s), per_token * 16.0 * s as f64);
        // Causal halves the 12·l·h·s attention term.
        let diff = per_token - model_flops_per_token_causal(&m, s);
        assert!(rel(diff, 6.0 * m.layers as f64 * m.hidden as f64 * s as f64) < 1e-12);
    }
    // 6·N·tokens within a few % for large models at s = 2048.
    for name in [
        "gpt-3-175b",
        "megatron-gpt-530b",
        "megatron-gpt-1t",
        "opt-175b",
        "bloom-176b",
    ] {
        let m = lookup(name).unwrap();
        let r = model_flops_per_token(&m, 2048) / (6.0 * m.params());
        assert!((1.0..1.04).contains(&r), "{name}: {r}");
    }
    // MoE: 6·N_active + attention. DeepSeek-V3 at s = 4096: the non-causal attention term
    // 6·61·128·(192 + 128)·4096 = 6.1e10 is 27% of 6·37.5e9.
    let ds = lookup("deepseek-v3").unwrap();
    let attn = 6.0 * 61.0 * 128.0 * 320.0 * 4096.0;
    let expected = 6.0 * ds.active_non_embedding_params() + attn + 6.0 * 7168.0 * 129_280.0;
    assert!(rel(model_flops_per_token(&ds, 4096), expected) < 1e-12);
    let r = model_flops_per_token(&ds, 4096) / (6.0 * ds.active_params());
    assert!((1.2..1.3).contains(&r), "{r}");
}

#[test]
fn llama_layer_shapes_per_tp_rank() {
    let m = lookup("llama-3.1-8b").unwrap();
    let t = 4096;
    let ops = layer_ops(&m, 0, 1, 4096, 1, 1, 1, false);
    assert_eq!(gemm_shape(find(&ops, "qkv")), (t, 6144, 4096, Pass::Fwd));
    assert_eq!(gemm_shape(find(&ops, "attn_out")), (t, 4096, 4096, Pass::Fwd));
    assert_eq!(gemm_shape(find(&ops, "fc1")), (t, 2 * 14336, 4096, Pass::Fwd));
    assert_eq!(gemm_shape(find(&ops, "fc2")), (t, 4096, 14336, Pass::Fwd));
    let names: Vec<_> = ops.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        [
            "norm_attn",
            "qkv",
            "attention",
            "attn_out",
            "residual_attn",
            "norm_mlp",
            "fc1",
            "act",
            "fc2",
            "residual_mlp"
        ]
    );

    // TP 8, CP 2, SP, micro-batch 2 of 8192: T = 2·4096 per rank.
    let ops = layer_ops(&m, 0, 2, 8192, 8, 2, 1, true);
    assert_eq!(gemm_shape(find(&ops, "qkv")), (8192, (4 + 2) * 128, 4096, Pass::Fwd));
    assert_eq!(gemm_shape(find(&ops, "fc1")), (8192, 2 * 14336 / 8, 4096, Pass::Fwd));
    assert_eq!(gemm_shape(find(&ops, "attn_out")), (8192, 4096, 512, Pass::Fwd));
    match find(&ops, "attention").kind {
        OpKind::Attention {
            batch,
            heads,
            kv_heads,
            seq_q,
            seq_kv,
            head_dim_qk,
            head_dim_v,
            causal,
            backward,
        } => {
            assert_eq!(
                (batch, heads, kv_heads, seq_q, seq_kv, head_dim_qk, head_dim_v),
                (2, 4, 1, 4096, 8192, 128, 128)
            );
            assert!(causal && !backward);
        }
        _ => unreachable!(),
    }
    let att = find(&ops, "attention");
    assert_eq!(att.flops, 2.0 * 2.0 * 4.0 * 4096.0 * 8192.0 * 256.0 * 0.5);
    // Norms run on the sequence-parallel shard: T/tp tokens, read + write BF16.
    assert_eq!(find(&ops, "norm_attn").bytes, 2.0 * 2.0 * (8192.0 / 8.0) * 4096.0);
    assert_eq!(find(&ops, "residual_mlp").bytes, 3.0 * 2.0 * 1024.0 * 4096.0);
    // Without SP they run on all T tokens.
    let ops = layer_ops(&m, 0, 2, 8192, 8, 2, 1, false);
    assert_eq!(find(&ops, "norm_attn").bytes, 2.0 * 2.0 * 8192.0 * 4096.0);
    // Swiglu: read gate and up, write the product.
    assert_eq!(find(&ops, "act").bytes, 3.0 * 2.0 * 8192.0 * (14336.0 / 8.0));
    // KV heads replicated when fewer than TP: 8 KV heads at TP 16 → one per rank.
    let ops = layer_ops(&m, 0, 1, 4096, 16, 1, 1, false);
    assert_eq!(gemm_shape(find(&ops, "qkv")).1, (2 + 2) * 128);
}

#[test]
fn gpt_layer_is_not_gated() {
    let m = lookup("gpt-3-175b").unwrap();
    let ops = layer_ops(&m, 0, 1, 2048, 8, 1, 1, true);
    assert_eq!(gemm_shape(find(&ops, "fc1")), (2048, 4 * 12288 / 8, 12288, Pass::Fwd));
    assert_eq!(gemm_shape(find(&ops, "qkv")), (2048, 3 * 12288 / 8, 12288, Pass::Fwd));
    assert_eq!(find(&ops, "act").bytes, 2.0 * 2.0 * 2048.0 * 6144.0);
}

#[test]
fn moe_layer_ops() {
    // Mixtral, EP 1, TP 1: 8 local experts, each M = T·2/8.
    let m = lookup("mixtral-8x7b").unwrap();
    let t = 4096u64;
    let ops = layer_ops(&m, 0, 1, t, 1, 1, 1, false);
    assert_eq!(gemm_shape(find(&ops, "router")), (t, 8, 4096, Pass::Fwd));
    let fc1: Vec<_> = ops.iter().filter(|o| o.name == "expert_fc1").collect();
    assert_eq!(fc1.len(), 8);
    assert_eq!(gemm_shape(fc1[0]), (t * 2 / 8, 2 * 14336, 4096, Pass::Fwd));
    assert!(ops.iter().all(|o| o.name != "fc1" && o.name != "shared_fc1"));
    // Expert FLOPs on a rank = tokens·top_k worth of MLP, whatever EP.
    let expert_flops = |ops: &[OpDesc]| {
        ops.iter()
            .filter(|o| o.name.starts_with("expert_fc"))
            .map(|o| o.flops)
            .sum::<f64>()
    };
    let dense_equiv = 2.0 * (t * 2) as f64 * 3.0 * 4096.0 * 14336.0;
    assert!(rel(expert_flops(&ops), dense_equiv) < 1e-12);
    let ops_ep4 = layer_ops(&m, 0, 1, t, 1, 1, 4, false);
    assert_eq!(ops_ep4.iter().filter(|o| o.name == "expert_fc1").count(), 2);
    assert_eq!(gemm_shape(find(&ops_ep4, "expert_fc1")).0, t * 4 * 2 / 8);
    assert!(rel(expert_flops(&ops_ep4), dense_equiv) < 1e-12);

    // DeepSeek-V3: dense layer 0, MoE layer 3 with a shared expert, MLA projections.
    let ds = lookup("deepseek-v3").unwrap();
    let t = 4096u64;
    let dense = layer_ops(&ds, 0, 1, t, 1, 1, 8, false);
    assert_eq!(gemm_shape(find(&dense, "fc1")), (t, 2 * 18432, 7168, Pass::Fwd));
    assert!(dense.iter().all(|o| o.name != "router"));
    let moe = layer_ops(&ds, 3, 1, t, 1, 1, 8, false);
    assert_eq!(moe.iter().filter(|o| o.name == "expert_fc1").count(), 32);
    assert_eq!(
        gemm_shape(find(&moe, "expert_fc1")),
        (t * 8 * 8 / 256, 2 * 2048, 7168, Pass::Fwd)
    );
    assert_eq!(gemm_shape(find(&moe, "shared_fc1")), (t, 2 * 2048, 7168, Pass::Fwd));
    assert_eq!(gemm_shape(find(&moe, "q_down")), (t, 1536, 7168, Pass::Fwd));
    assert_eq!(gemm_shape(find(&moe, "q_up")), (t, 128 * 192, 1536, Pass::Fwd));
    assert_eq!(gemm_shape(find(&moe, "kv_down")), (t, 576, 7168, Pass::Fwd));
    assert_eq!(gemm_shape(find(&moe, "kv_up")), (t, 128 * 256, 512, Pass::Fwd));
    assert_eq!(gemm_shape(find(&moe, "attn_out")), (t, 7168, 128 * 128, Pass::Fwd));
    match find(&moe, "attention").kind {
        OpKind::Attention {
            heads,
            kv_heads,
            head_dim_qk,
            head_dim_v,
            ..
        } => {
            assert_eq!((heads, kv_heads, head_dim_qk, head_dim_v), (128, 128, 192, 128))
        }
        _ => unreachable!(),
    }
    // Forward GEMM FLOPs per token of a MoE layer ≈ 2 × its active matrix parameters.
    let gemm_fwd: f64 = moe
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Gemm { .. }))
        .map(|o| o.flops)
        .sum();
    let active_matrix = ds.attention_matrix_params() + 9.0 * 3.0 * 7168.0 * 2048.0 + 256.0 * 7168.0;
    assert!(
        rel(gemm_fwd, 2.0 * t as f64 * active_matrix) < 1e-9,
        "{gemm_fwd} vs {}",
        2.0 * t as f64 * active_matrix
    );
}

#[test]
fn backward_shapes_follow_the_kernel_readme() {
    let m = lookup("llama-3.1-70b").unwrap();
    let fwd = layer_ops(&m, 0, 1, 8192, 4, 1, 1, true);
    let bwd = backward_ops(&fwd);
    let gemms_fwd = fwd.iter().filter(|o| matches!(o.kind, OpKind::Gemm { .. })).count();
    assert_eq!(
        bwd.iter().filter(|o| matches!(o.kind, OpKind::Gemm { .. })).count(),
        2 * gemms_fwd
    );
    // Reverse order: the last forward op's backward comes first.
    assert_eq!(bwd[0].name, "residual_mlp");
    let fc2_bwd: Vec<_> = bwd.iter().filter(|o| o.name == "fc2").collect();
    let (mm, n, k, _) = gemm_shape(find(&fwd, "fc2"));
    assert_eq!(gemm_shape(fc2_bwd[0]), (mm, k, n, Pass::Dgrad));
    assert_eq!(gemm_shape(fc2_bwd[1]), (n, k, mm, Pass::Wgrad));
    assert_eq!(fc2_bwd[0].flops, find(&fwd, "fc2").flops);
    let att_b = bwd.iter().find(|o| o.name == "attention").unwrap();
    assert!(matches!(
        att_b.kind,
        OpKind::Attention {
            backward: true,
            causal: true,
            ..
        }
    ));
    assert_eq!(att_b.flops, 2.5 * find(&fwd, "attention").flops);
    let norm_b = bwd.iter().find(|o| o.name == "norm_mlp").unwrap();
    assert_eq!(norm_b.bytes, 2.0 * find(&fwd, "norm_mlp").bytes);
    // Backward of backward ops is nothing.
    assert!(backward_ops(&bwd)
        .iter()
        .all(|o| !matches!(o.kind, OpKind::Gemm { .. } | OpKind::Attention { .. })));
}

#[test]
fn head_ops_shapes() {
    let m = lookup("llama-3.1-8b").unwrap();
    let ops = head_ops(&m, 1, 8192, 4);
    let names: Vec<_> = ops.iter().map(|o| o.name).collect();
    assert_eq!(names, ["embedding", "final_norm", "lm_head", "cross_entropy"]);
    assert_eq!(gemm_shape(find(&ops, "lm_head")), (8192, 128256 / 4, 4096, Pass::Fwd));
    let ce = find(&ops, "cross_entropy");
    assert!(matches!(
        ce.kind,
        OpKind::Memory {
            what: MemoryOp::CrossEntropy
        }
    ));
    assert_eq!(
        ce.bytes,
        workload::compute::CROSS_ENTROPY_BYTES_PER_LOGIT * 8192.0 * (128256.0 / 4.0)
    );
    // Cross-entropy's backward is inside its forward entry.
    assert!(backward_ops(&ops).iter().all(|o| o.name != "cross_entropy"));
    // GPT adds its learned position embeddings.
    let g = lookup("gpt-3-175b").unwrap();
    assert!(head_ops(&g, 1, 2048, 1).iter().any(|o| o.name == "pos_embedding"));
}

/// Every BF16 linear-layer shape in the H100 kernel measurements (model, layer, tp, tokens) is
/// one our op lists produce for that model at that TP and token count.
#[test]
fn shapes_match_the_kernel_measurements() {
    let csv = include_str!("../../../testdata/h100-kernels/gemm.csv");
    let mut checked = 0;
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (dtype, pass, model, layer) = (f[1], f[2], f[6], f[7]);
        if dtype != "bf16" || model == "cube" {
            continue;
        }
        let (mm, n, k): (u64, u64, u64) = (f[3].parse().unwrap(), f[4].parse().unwrap(), f[5].parse().unwrap());
        let tp: u32 = f[8].parse().unwrap();
        let tokens: u64 = f[9].parse().unwrap();
        let m = lookup(model).unwrap_or_else(|| panic!("{model} not in registry"));
        let pass = match pass {
            "fwd" => Pass::Fwd,
            "dgrad" => Pass::Dgrad,
            "wgrad" => Pass::Wgrad,
            p => panic!("{p}"),
        };
        let fwd = if layer == "lm_head" {
            output_ops(&m, 1, tokens, tp)
        } else if layer.starts_with("expert_") {
            // One expert's GEMMs at `tokens` tokens per expert: our per-expert M is
            // T·ep·top_k/experts; choose T so that it equals `tokens`.
            let moe = m.moe.as_ref().unwrap();
            let t = tokens * moe.experts as u64 / moe.top_k as u64;
            layer_ops(&m, m.layers - 1, 1, t, tp, 1, 1, false)
        } else {
            layer_ops(&m, 0, 1, tokens, tp, 1, 1, false)
        };
        let mut all = fwd.clone();
        all.extend(backward_ops(&fwd));
        let found = all.iter().any(|o| {
            o.name == layer
                && matches!(o.kind, OpKind::Gemm { m: a, n: b, k: c, pass: p } if (a, b, c, p) == (mm, n, k, pass))
        });
        assert!(found, "{line}");
        checked += 1;
    }
    assert!(checked > 500, "{checked}");
}

prop_compose! {
    fn arb_model()(name in prop::sample::select(workload::registry::names())) -> ModelSpec {
        lookup(name).unwrap()
    }
}

proptest! {
    #[test]
    fn op_lists_never_panic_and_are_finite(
        m in arb_model(),
        batch in 1u64..8,
        seq in 1u64..32_768,
        tp_pow in 0u32..5,
        cp_pow in 0u32..4,
        ep_pow in 0u32..9,
        sp in any::<bool>(),
    ) {
        let (tp, cp, ep) = (1u32 << tp_pow, 1u32 << cp_pow, 1u32 << ep_pow);
        for layer in [0, m.layers - 1] {
            let fwd = layer_ops(&m, layer, batch, seq, tp, cp, ep, sp);
            let bwd = backward_ops(&fwd);
            for op in fwd.iter().chain(bwd.iter()) {
                prop_assert!(op.flops.is_finite() && op.flops >= 0.0 && op.bytes.is_finite() && op.bytes > 0.0, "{op:?}");
            }
        }
        let h = head_ops(&m, batch, seq, tp);
        prop_assert!(h.iter().all(|o| o.flops.is_finite() && o.bytes > 0.0));
    }

    #[test]
    fn flops_scale_linearly_with_batch(m in arb_model(), batch in 1u64..8) {
        let one = layer_ops_flops_sum(&m, 1, 2048, 1, 1, 1, false, FlopConvention::Executed, false);
        let many = layer_ops_flops_sum(&m, batch, 2048, 1, 1, 1, false, FlopConvention::Executed, false);
        prop_assert!(rel(many, one * batch as f64) < 1e-2, "{many} vs {one}");
    }
}
