//! `validate --collectives`: rows of DeepEP's dispatch/combine benchmarks (`collective` =
//! `moe_dispatch`, `moe_combine`, `moe_dispatch+combine`). Row → scenario:
//!
//! - `message_bytes` holds the batch in words ("4096 tokens/batch x 7168 hidden, top-4 groups,
//!   top-8 experts; FP8 dispatch, BF16 combine"): tokens per rank ("8K" = 8192), hidden, top-k
//!   ("top-8 experts", or a bare "top-8"), the node limit ("top-4 groups"; unstated → 4, the
//!   DeepSeek-V3 setting DeepEP's benchmark uses), payloads (unstated → FP8 dispatch, BF16
//!   combine). Experts are never stated: 256 (DeepSeek-V3; DeepEP's benchmark default).
//! - `algorithm` names the kernels: "low-latency" → low-latency, anything else → normal.
//! - the cluster: one HGX node of the accelerator, or a rail-optimized fat-tree of them with the
//!   per-GPU speed of `inter_node_fabric` ("400 Gb/s per GPU"; unstated → 400G, the standard
//!   HGX NIC). `num_nodes` unstated: ranks ÷ 8 GPUs per node (at least one node).
//! - measured = `other_bw_GBps` (DeepEP's bottleneck bandwidth); "dispatch A / combine B" for a
//!   `moe_dispatch+combine` row → the mean of the two, against the mean of both predictions.

use crate::validate::Compared;
use collective::moe::{self, MoeDtype, MoeKernel, MoeOp, MoeSpec};
use engine::Fidelity;
use std::collections::HashMap;

/// The words of `message_bytes`, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub tokens: u64,
    pub hidden: u64,
    pub topk: u32,
    /// "top-N groups": the node limit.
    pub groups: Option<u32>,
    pub dispatch: Option<MoeDtype>,
    pub combine: Option<MoeDtype>,
}

/// A number with an optional K/M suffix ("4096", "8K").
fn count(w: &str) -> Option<u64> {
    let w = w.trim().trim_end_matches([',', ';']);
    let (num, mult) = match w.chars().last()? {
        'k' | 'K' => (&w[..w.len() - 1], 1024),
        'm' | 'M' => (&w[..w.len() - 1], 1024 * 1024),
        _ => (w, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

/// Read the batch words (case-insensitive; separators `x`, `×`, `,`, `;`, `/`).
pub fn parse_batch(s: &str) -> Result<Batch, String> {
    let low = s.to_lowercase().replace('×', " x ");
    let words: Vec<&str> = low
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let mut b = Batch {
        tokens: 0,
        hidden: 0,
        topk: 0,
        groups: None,
        dispatch: None,
        combine: None,
    };
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        if w.starts_with("tokens") && i > 0 {
            b.tokens = count(words[i - 1]).ok_or_else(|| format!("cannot read the token count in `{s}`"))?;
        } else if *w == "hidden" && i > 0 {
            b.hidden = count(words[i - 1]).ok_or_else(|| format!("cannot read the hidden size in `{s}`"))?;
        } else if let Some(n) = w.strip_prefix("top-").or_else(|| w.strip_prefix("top")) {
            let Some(n) = count(n) else { continue };
            if next.starts_with("group") {
                b.groups = Some(n as u32);
            } else {
                b.topk = n as u32;
            }
        } else if *w == "dispatch" || *w == "combine" {
            let d = match i.checked_sub(1).map(|j| words[j]) {
                Some("fp8") => Some(MoeDtype::Fp8),
                Some("bf16") => Some(MoeDtype::Bf16),
                _ => None,
            };
            if *w == "dispatch" {
                b.dispatch = d.or(b.dispatch);
            } else {
                b.combine = d.or(b.combine);
            }
        }
    }
    if b.tokens == 0 {
        return Err(format!("message_bytes `{s}` states no token count (\"N tokens\")"));
    }
    if b.hidden == 0 {
        return Err(format!("message_bytes `{s}` states no hidden size (\"N hidden\")"));
    }
    if b.topk == 0 {
        return Err(format!("message_bytes `{s}` states no top-k (\"top-N experts\")"));
    }
    Ok(b)
}

/// Per-GPU scale-out speed in Gbit/s from `inter_node_fabric` ("1x CX7 InfiniBand 400 Gb/s per
/// GPU"): the number before "Gb/s" / "Gbps" / "G".
fn per_gpu_gbit(s: &str) -> Option<f64> {
    let low = s.to_lowercase();
    let words: Vec<&str> = low.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if w.starts_with("gb/s") || w.starts_with("gbps") || w.starts_with("gbit") {
            if let Some(v) = i.checked_sub(1).and_then(|j| words[j].parse::<f64>().ok()) {
                return Some(v);
            }
        }
        if let Some(n) = w.strip_suffix('g') {
            if let Ok(v) = n.parse::<f64>() {
                return Some(v);
            }
        }
    }
    None
}

/// An architecture name ("SM90 (Hopper)") → its flagship SKU and the node standing for it
/// (issue 8: "architecture names map to the flagship SKU").
fn flagship(accel: &str) -> Option<(&'static str, &'static str)> {
    let a = accel.to_lowercase();
    if a.contains("hopper") || a.contains("sm90") {
        Some(("H100 SXM5", "dgx-h100"))
    } else if a.contains("blackwell") || a.contains("sm100") {
        Some(("B200", "hgx-b200"))
    } else {
        None
    }
}

/// The measured figures of `other_bw_GBps`: one number, or "dispatch A / combine B".
fn measured(s: &str) -> Result<Vec<(Option<MoeOp>, f64)>, String> {
    if let Ok(v) = s.trim().parse::<f64>() {
        return Ok(vec![(None, v)]);
    }
    let mut out = Vec::new();
    for part in s.split('/') {
        let p = part.trim().to_lowercase();
        let mut it = p.split_whitespace();
        let (Some(name), Some(v)) = (it.next(), it.next()) else {
            return Err(format!(
                "other_bw_GBps `{s}` is not a number or `dispatch A / combine B`"
            ));
        };
        let op = MoeOp::parse(name).ok_or_else(|| format!("other_bw_GBps `{s}`: `{name}` is not dispatch/combine"))?;
        let v: f64 = v
            .parse()
            .map_err(|_| format!("other_bw_GBps `{s}`: `{v}` is not a number"))?;
        out.push((Some(op), v));
    }
    Ok(out)
}

/// Compare a MoE row; `None` when the row is not one. The strings are the assumptions taken for
/// what the row does not state.
pub fn compare_row(
    m: &HashMap<String, String>,
    cache: &mut HashMap<String, fabric::Fabric>,
) -> Option<Result<(Compared, Vec<String>), String>> {
    let get = |k: &str| m.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let coll = get("collective").to_lowercase();
    if !coll.starts_with("moe_") {
        return None;
    }
    Some(compare(m, &coll, get, cache))
}

fn compare(
    m: &HashMap<String, String>,
    coll: &str,
    get: impl Fn(&str) -> String,
    cache: &mut HashMap<String, fabric::Fabric>,
) -> Result<(Compared, Vec<String>), String> {
    let _ = m;
    let mut assumed = Vec::new();
    let ops: Vec<MoeOp> = match coll {
        "moe_dispatch" => vec![MoeOp::Dispatch],
        "moe_combine" => vec![MoeOp::Combine],
        "moe_dispatch+combine" | "moe_dispatch_combine" => vec![MoeOp::Dispatch, MoeOp::Combine],
        _ => {
            return Err(format!(
                "collective `{coll}` is not moe_dispatch, moe_combine or moe_dispatch+combine"
            ))
        }
    };
    let batch = parse_batch(&get("message_bytes"))?;
    let kernel = if get("algorithm").to_lowercase().contains("low-latency") {
        MoeKernel::LowLatency
    } else {
        MoeKernel::Normal
    };
    let accel = get("accelerator");
    let node = match crate::validate::node_for(&accel) {
        Some(n) => n,
        None => {
            let (sku, node) =
                flagship(&accel).ok_or_else(|| format!("accelerator `{accel}` has no standard system in fabricsim"))?;
            assumed.push(format!(
                "accelerator `{accel}` names an architecture: its flagship SKU {sku} ({node})"
            ));
            node
        }
    };
    let ranks: u32 = get("num_ranks")
        .parse()
        .map_err(|_| "num_ranks is not a number".to_string())?;
    let gpn: u32 = match get("gpus_per_node").parse() {
        Ok(g) => g,
        Err(_) => {
            assumed.push("gpus_per_node not stated: 8 (an HGX node)".into());
            8
        }
    };
    let nodes: u32 = match get("num_nodes").parse() {
        Ok(n) => n,
        Err(_) => {
            let n = ranks.div_ceil(gpn.max(1)).max(1);
            assumed.push(format!("num_nodes not stated: {ranks} ranks ÷ {gpn} per node = {n}"));
            n
        }
    };
    if ranks < 2 || gpn == 0 || ranks > nodes * gpn {
        return Err("num_ranks does not fit num_nodes × gpus_per_node".into());
    }
    let gbit = match per_gpu_gbit(&get("inter_node_fabric")) {
        Some(g) => g,
        None => {
            if nodes > 1 {
                assumed.push("inter-node speed not stated: 400 Gb/s per GPU (the standard HGX NIC)".into());
            }
            400.0
        }
    };
    let spec = if nodes <= 1 {
        format!("fat-tree:gpus={gpn},node={node}")
    } else {
        format!("rail-optimized:gpus={},node={node},port_gbit={gbit}", nodes * gpn)
    };
    if !cache.contains_key(&spec) {
        let (_, f) = fabric::presets::build_preset(&spec).map_err(|e| e.to_string())?;
        cache.insert(spec.clone(), f);
    }
    let f = &cache[&spec];
    let domain = f.domain_size.max(1);
    let group: Vec<u32> = (0..nodes)
        .flat_map(|d| (0..gpn).map(move |k| d * domain + k))
        .take(ranks as usize)
        .collect();
    let experts = 256u32.div_ceil(ranks) * ranks;
    assumed.push(format!(
        "experts not stated: {experts} (DeepSeek-V3's 256, DeepEP's benchmark default), uniform random routing"
    ));
    if batch.groups.is_none() && kernel == MoeKernel::Normal && nodes > 1 {
        assumed.push("node limit not stated: 4 nodes per token (DeepSeek-V3)".into());
    }
    let figures = measured(&get("other_bw_GBps"))?;
    let mut meas = Vec::new();
    let mut pred = Vec::new();
    for op in &ops {
        let mut s = MoeSpec::new(*op, kernel, batch.tokens, batch.hidden, batch.topk, experts);
        s.max_nodes = batch.groups.unwrap_or(moe::DEEPSEEK_V3_MAX_NODES);
        let dt = match op {
            MoeOp::Dispatch => batch.dispatch,
            MoeOp::Combine => batch.combine,
        };
        s.dtype = dt.unwrap_or(op.default_dtype());
        let r = moe::run(f, std::slice::from_ref(&group), &s, Fidelity::Flow).map_err(|e| e.to_string())?;
        pred.push(r.bottleneck_bytes_per_s / 1e9);
        let v = figures
            .iter()
            .find(|(o, _)| o.is_none() || *o == Some(*op))
            .map(|x| x.1)
            .ok_or_else(|| format!("other_bw_GBps gives no figure for {}", op.name()))?;
        meas.push(v);
    }
    if ops.len() > 1 {
        assumed
            .push("dispatch+combine row: the mean of the two bandwidths against the mean of both predictions".into());
    }
    let measured = meas.iter().sum::<f64>() / meas.len() as f64;
    let predicted = pred.iter().sum::<f64>() / pred.len() as f64;
    Ok((
        Compared {
            row_id: String::new(),
            system: get("system"),
            op: coll.into(),
            ranks,
            size_bytes: batch.tokens as f64 * batch.hidden as f64,
            algorithm: format!("deepep-{}", kernel.name()),
            cluster: format!("{spec} ({gpn} ranks on each of {nodes} node(s))"),
            metric: "other_bw_GBps".into(),
            measured,
            predicted,
            error_pct: (predicted - measured) / measured * 100.0,
            ..Default::default()
        },
        assumed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_words_parse() {
        let b = parse_batch("4096 tokens/batch x 7168 hidden, top-4 groups, top-8 experts; FP8 dispatch, BF16 combine")
            .unwrap();
        assert_eq!((b.tokens, b.hidden, b.topk, b.groups), (4096, 7168, 8, Some(4)));
        assert_eq!((b.dispatch, b.combine), (Some(MoeDtype::Fp8), Some(MoeDtype::Bf16)));
        let b = parse_batch("8K tokens/batch x 7168 hidden, top-8; FP8 dispatch, BF16 combine").unwrap();
        assert_eq!((b.tokens, b.topk, b.groups), (8192, 8, None));
        let b = parse_batch("128 tokens/batch × 7168 hidden, top-8 experts").unwrap();
        assert_eq!((b.tokens, b.hidden, b.topk, b.dispatch), (128, 7168, 8, None));
        assert!(parse_batch("7168 hidden, top-8").unwrap_err().contains("token count"));
        assert!(parse_batch("4096 tokens, top-8").unwrap_err().contains("hidden"));
        assert!(parse_batch("4096 tokens x 7168 hidden").unwrap_err().contains("top-k"));
    }

    /// DeepEP's rows of the bundled measurements are compared, each within ±15 %.
    #[test]
    fn deepep_rows_within_fifteen_percent() {
        let r = crate::validate::collectives(
            include_str!("../../../testdata/collectives.csv"),
            collective::simulate::Options::default(),
        )
        .unwrap();
        for id in ["C048", "C049", "C052", "C056", "C060"] {
            let row = r
                .rows
                .iter()
                .find(|c| c.row_id == id)
                .unwrap_or_else(|| panic!("{id} not compared: {:?}", r.skipped));
            assert!(row.error_pct.abs() <= 15.0, "{id}: {:+.1} %", row.error_pct);
            assert_eq!(row.metric, "other_bw_GBps");
        }
    }

    #[test]
    fn architecture_names_map_to_the_flagship() {
        assert_eq!(flagship("SM90 (Hopper)"), Some(("H100 SXM5", "dgx-h100")));
        assert_eq!(flagship("TPU v5p"), None);
    }

    #[test]
    fn figures_parse() {
        assert_eq!(measured("153").unwrap(), vec![(None, 153.0)]);
        assert_eq!(
            measured("dispatch 90 / combine 81").unwrap(),
            vec![(Some(MoeOp::Dispatch), 90.0), (Some(MoeOp::Combine), 81.0)]
        );
        assert!(measured("fast").is_err());
        assert_eq!(
            per_gpu_gbit("1x CX7 InfiniBand 400 Gb/s per GPU (~50 GB/s)"),
            Some(400.0)
        );
        assert_eq!(per_gpu_gbit("CX7 RDMA"), None);
    }
}
