//! `fabricsim collective --op moe_dispatch|moe_combine`: DeepEP's expert-parallel kernels on
//! the fabric (`collective::moe`), the report and its JSON schema.

use collective::moe::{self, MoeResult, MoeSpec};
use engine::Fidelity;
use fabric::Fabric;
use serde::Serialize;

/// The same row as `collective`'s report.
pub use crate::collective::BottleneckRow;

/// The report of one dispatch or combine.
#[derive(Debug, Serialize)]
pub struct MoeReport {
    pub schema_version: u32,
    pub cluster: String,
    pub op: String,
    pub kernel: String,
    pub dtype: String,
    pub ranks: u32,
    pub nodes: u32,
    pub fidelity: String,
    pub tokens_per_rank: u64,
    pub hidden: u64,
    pub topk: u32,
    pub experts: u32,
    /// Node-limited routing: most nodes one token goes to (normal kernels).
    pub max_nodes_per_token: u32,
    pub token_bytes: f64,
    /// Distinct ranks / nodes (own included) one token is sent to, expected.
    pub ranks_per_token: f64,
    pub nodes_per_token: f64,
    /// DeepEP's byte counts of one rank (module notes of `collective::moe`).
    pub nvlink_bytes_per_rank: f64,
    pub rdma_bytes_per_rank: f64,
    pub rdma_wire_bytes_per_rank: f64,
    /// Low-latency kernels: tokens × top-k × message bytes (every selection, no dedup).
    pub message_bytes_per_rank: f64,
    pub time_s: f64,
    pub transfer_s: f64,
    pub latency_s: f64,
    /// DeepEP's "bottleneck bandwidth" and the domain it is quoted for (nvlink / rdma).
    pub bottleneck_domain: String,
    pub bottleneck_bandwidth_bytes_per_s: f64,
    pub rdma_bandwidth_bytes_per_s: f64,
    pub nvlink_bandwidth_bytes_per_s: f64,
    pub flows: usize,
    pub bottleneck_links: Vec<BottleneckRow>,
    pub assumptions: Vec<String>,
    /// The error fabricsim showed on the nearest class of published dispatch/combine rows, %
    /// (`crate::expected_error`).
    pub expected_error_pct: Option<f64>,
    pub expected_error_basis: String,
}

/// Run `spec` over the accelerators `ranks` (one EP group).
pub fn run(f: &Fabric, cluster: &str, ranks: &[u32], spec: &MoeSpec, fidelity: Fidelity) -> Result<MoeReport, String> {
    spec.check(ranks.len())?;
    if ranks.len() < 2 {
        return Err("--ranks: a dispatch or combine needs at least 2 ranks".into());
    }
    let r = moe::run(f, &[ranks.to_vec()], spec, fidelity).map_err(|e| e.to_string())?;
    let mut rep = report(cluster, &r, fidelity);
    let accel = fabric::catalogue::accelerator(f.accel_model).map_or(f.accel_model, |a| a.name);
    let e = crate::expected_error::collective(accel, "moe", (spec.tokens * spec.hidden) as f64);
    rep.expected_error_pct = e.expected_error_pct.is_finite().then_some(e.expected_error_pct);
    rep.expected_error_basis = e.expected_error_basis;
    Ok(rep)
}

fn report(cluster: &str, r: &MoeResult, fidelity: Fidelity) -> MoeReport {
    let s = &r.spec;
    let b = &r.bytes;
    let mut a = vec![
        "routing: every token picks its experts uniformly at random (balanced), as DeepEP's benchmarks draw them; byte counts are expectations".to_string(),
        format!(
            "payload: {} ({} B per token{}); DeepEP's benchmarks dispatch in FP8 and combine in BF16",
            s.dtype.name(),
            b.token_bytes,
            if s.dtype == moe::MoeDtype::Fp8 { ", one FP32 scale per 128 elements" } else { "" }
        ),
        "local copies: a rank's copies to itself go through the same warps and count against its NVLink ingress".into(),
    ];
    match s.kernel {
        moe::MoeKernel::Normal if b.nodes > 1 => a.push(format!(
            "normal kernels: each token sent once per destination node over RDMA (same local GPU index), then forwarded over NVLink; node-limited routing, at most {} of {} nodes per token (DeepSeek-V3: 4)",
            b.nodes_per_token, b.nodes
        )),
        moe::MoeKernel::Normal => a.push("normal kernels in one NVLink domain (intranode): each token written once into every rank that hosts one of its experts".into()),
        moe::MoeKernel::LowLatency => a.push(format!(
            "low-latency kernels: one message per (token, expert), no dedup; NVLink inside a domain, RDMA from the sender's own NIC across; plus a fixed {:.0} µs per kernel (fitted on DeepEP's EP16–EP256 rows, docs/calibration.md)",
            moe::LL_KERNEL_LATENCY_S * 1e6
        )),
    }
    a.push(format!(
        "bandwidth as DeepEP defines it: {} bytes of one rank / kernel time",
        match (s.kernel, r.bottleneck_domain) {
            (moe::MoeKernel::LowLatency, _) => "every (token, expert) message",
            (_, moe::Domain::Rdma) => "RDMA: tokens × distinct nodes hit (own node included) × token",
            (_, moe::Domain::NvLink) => "NVLink: every distinct token received (own included) ×",
        }
    ));
    if s.imbalance > 1.0 {
        a.push(format!(
            "imbalance {}: the group's first rank receives (sends back) {}× the mean",
            s.imbalance, s.imbalance
        ));
    }
    MoeReport {
        schema_version: crate::SCHEMA_VERSION,
        cluster: cluster.to_string(),
        op: s.op.name().into(),
        kernel: s.kernel.name().into(),
        dtype: s.dtype.name().into(),
        ranks: r.ranks,
        nodes: b.nodes,
        fidelity: crate::collective::fidelity_name(fidelity).into(),
        tokens_per_rank: s.tokens,
        hidden: s.hidden,
        topk: s.topk,
        experts: s.experts,
        max_nodes_per_token: b.nodes_per_token,
        token_bytes: b.token_bytes,
        ranks_per_token: b.ranks_hit_per_token,
        nodes_per_token: b.nodes_hit_per_token,
        nvlink_bytes_per_rank: b.nvlink_bytes,
        rdma_bytes_per_rank: b.rdma_bytes,
        rdma_wire_bytes_per_rank: b.rdma_wire_bytes,
        message_bytes_per_rank: b.ll_bytes,
        time_s: r.time_s,
        transfer_s: r.transfer_s,
        latency_s: r.latency_s,
        bottleneck_domain: r.bottleneck_domain.name().into(),
        bottleneck_bandwidth_bytes_per_s: r.bottleneck_bytes_per_s,
        rdma_bandwidth_bytes_per_s: r.rdma_bytes_per_s,
        nvlink_bandwidth_bytes_per_s: r.nvlink_bytes_per_s,
        flows: r.flows,
        bottleneck_links: r.bottlenecks.iter().map(BottleneckRow::from).collect(),
        assumptions: a,
        expected_error_pct: None,
        expected_error_basis: String::new(),
    }
}

/// Text form.
pub fn render(r: &MoeReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# fabricsim collective · {} · {} ({} kernels, {}) · {} ranks on {} node(s) · {} fidelity",
        r.cluster, r.op, r.kernel, r.dtype, r.ranks, r.nodes, r.fidelity
    );
    let _ = writeln!(
        s,
        "# {} tokens/rank × {} hidden, top-{} of {} experts; {:.2} ranks, {:.2} nodes per token",
        r.tokens_per_rank, r.hidden, r.topk, r.experts, r.ranks_per_token, r.nodes_per_token
    );
    let _ = writeln!(
        s,
        "  time {:.1} us (transfer {:.1} + latency {:.1})   bottleneck bandwidth {:.1} GB/s ({})",
        r.time_s * 1e6,
        r.transfer_s * 1e6,
        r.latency_s * 1e6,
        r.bottleneck_bandwidth_bytes_per_s / 1e9,
        r.bottleneck_domain
    );
    if r.kernel == moe::MoeKernel::LowLatency.name() {
        let _ = writeln!(
            s,
            "  per rank: {:.2} MB of (token, expert) messages, no dedup",
            r.message_bytes_per_rank / 1e6
        );
    } else {
        let _ = writeln!(
            s,
            "  per rank: NVLink {:.2} MB ({:.1} GB/s), RDMA {:.2} MB ({:.1} GB/s; {:.2} MB on the wire)",
            r.nvlink_bytes_per_rank / 1e6,
            r.nvlink_bandwidth_bytes_per_s / 1e9,
            r.rdma_bytes_per_rank / 1e6,
            r.rdma_bandwidth_bytes_per_s / 1e9,
            r.rdma_wire_bytes_per_rank / 1e6
        );
    }
    for b in &r.bottleneck_links {
        let _ = writeln!(
            s,
            "#   {:<60} {:>5.1} % of the transfer time",
            b.name,
            b.utilisation * 100.0
        );
    }
    if let Some(e) = r.expected_error_pct {
        let _ = writeln!(s, "# expected error ± {e:.1} %: {}", r.expected_error_basis);
    }
    for a in &r.assumptions {
        let _ = writeln!(s, "# assumed: {a}");
    }
    s
}
