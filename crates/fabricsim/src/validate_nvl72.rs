//! Measured rows on GB200 / GB300 NVL72 racks → the scenario `validate` runs: which racks, how
//! many GPUs of each, which network between them, which algorithm. Single-rack rows (all ranks
//! in one NVLink domain) keep the general path of `validate`; this module takes the rest.
//!
//! Rules (docs/calibration.md, "NVL72 racks"):
//! - a job of N GPUs is spread evenly over the fewest racks that hold it (`gb200-superpod:gpus=N`:
//!   8 → 8 GPUs of one rack, 128 → 2 racks × 64, 256 → 4 × 64, 1,440 → 20 whole racks), the
//!   placement CoreWeave's multi-rack GB200 job states ("32 workers across 2 NVL72 racks with
//!   only 16 workers per rack", coreweave/nccl-tests
//!   mpi-operator/nccl-test-distributed-gb200-128-multirack-mpijob.yaml);
//! - NVL4 / NVL8 partitions on different racks (the row's system or intra-node fabric says
//!   "partition"): `num_nodes` partitions of `gpus_per_node` GPUs, one per rack
//!   (`gb200-superpod:racks=R,per_rack=K`), InfiniBand only between them;
//! - the network between racks, where the row does not state its speed, is the system's standard
//!   one: one 400G NDR ConnectX-7 per GPU on GB200, one 800G XDR ConnectX-8 per GPU on GB300
//!   (catalogue `CX7_400G` / `CX8_800G`, node types `gb200-nvl72` / `gb300-nvl72`), in a
//!   full-bisection fat-tree (GB200 SuperPOD RA), reported as an assumption;
//! - `algorithm` "NCCL_NVLS_ENABLE=0" means NVLS off: ring when the row says ring; an unstated
//!   algorithm on racks joined with NCCL_MNNVL_ENABLE=1 (the row's intra-node fabric says
//!   MNNVL) is the ring: the measured sweeps carry the ring's signature, a latency that grows
//!   with the 2(n−1) steps (≈ 0.8 ms on 128 ranks, ≈ 5 ms on 1,440). NCCL 2.26 fuses each MNNVL
//!   clique (a rack) into one topology "node" (src/graph/topo.cc, "MNNVL clique support"), so
//!   its tuner sees as many nodes as racks;
//! - LL128 across racks follows the row's NCCL version: a GB200/GB300 GPU reaches its NIC
//!   through Grace (C2C, then the CPU's PCIe: NCCL path type PHB), where NCCL ≤ 2.26 leaves
//!   LL128 off (`typeInter <= PATH_PXN` in src/graph/tuning.cc, v2.26.2) and 2.27 turns it on
//!   (`PATH_P2C` and `NCCL_LL128_C2C=1`, v2.27.3); an unstated version is taken as current
//!   (LL128 on).

use collective::Algo;
use std::collections::HashMap;

/// What a row on NVL72 racks becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Nvl72Scenario {
    /// Cluster spec, e.g. `gb200-superpod:node=gb200-nvl72,gpus=128`.
    pub spec: String,
    /// Ranks: every accelerator of the cluster, in order.
    pub ranks: Vec<u32>,
    /// Algorithm to force (`None`: the automatic choice).
    pub algo: Option<Algo>,
    /// What the mapping assumed, one line each, for the report.
    pub assumptions: Vec<String>,
    /// Whether LL128 may cross the network (`collective::simulate::Options::ll128_over_network`).
    pub ll128_over_network: bool,
}

/// Whether NCCL `version` (e.g. "2.26.2") runs LL128 over a Grace-attached NIC: from 2.27 on
/// (an unreadable or missing version is taken as current).
pub fn ll128_over_c2c_nic(version: &str) -> bool {
    let mut it = version.trim().split('.').map(|p| p.trim().parse::<u32>());
    match (it.next(), it.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (2, 27),
        _ => true,
    }
}

pub fn is_rack(node: &str) -> bool {
    matches!(node, "gb200-nvl72" | "gb300-nvl72")
}

/// The standard scale-out NIC of a rack type, as the assumption states it.
fn standard_nic(node: &str) -> String {
    match fabric::topology::nodes::node_type(node) {
        Ok(n) => format!("{} ({:.0}G per GPU, one per GPU)", n.nic, n.port.as_gbit()),
        Err(_) => "the rack's standard NIC".into(),
    }
}

/// Racks and GPUs per rack of an N-GPU job spread evenly over the fewest NVL72 racks (the rule
/// of `gb200-superpod:gpus=N`), or `None` when N does not split evenly.
pub fn spread(gpus: u32) -> Option<(u32, u32)> {
    let racks = gpus.div_ceil(72).max(1);
    (gpus % racks == 0).then_some((racks, gpus / racks))
}

/// The scenario of a training row of `n` GPUs on `node` racks, or `None` for other systems.
pub fn training_scenario(node: &str, n: u32) -> Option<Nvl72Scenario> {
    if !is_rack(node) {
        return None;
    }
    let (racks, per) = spread(n)?;
    let mut assumptions = vec![format!(
        "{n} GPUs on {racks} `{node}` rack(s), {per} per rack (spread evenly over the fewest racks)"
    )];
    if racks > 1 {
        assumptions.push(format!(
            "network between racks not stated: the system's standard, {}",
            standard_nic(node)
        ));
    }
    Some(Nvl72Scenario {
        spec: format!("gb200-superpod:node={node},gpus={n}"),
        ranks: (0..n).collect(),
        algo: None,
        assumptions,
        ll128_over_network: true,
    })
}

/// The scenario of a collective row on NVL72 racks that spans several racks or partitions;
/// `Ok(None)` for single-rack rows and other systems. `algo` is what the row's `algorithm`
/// column reads as in general.
pub fn collective_scenario(
    node: &str,
    m: &HashMap<String, String>,
    algo: Option<Algo>,
) -> Result<Option<Nvl72Scenario>, String> {
    if !is_rack(node) {
        return Ok(None);
    }
    let get = |k: &str| m.get(k).map(|s| s.trim().to_lowercase()).unwrap_or_default();
    let inter = get("inter_node_fabric");
    if inter.is_empty() || inter == "n/a" || inter.contains("nvlink") {
        return Ok(None);
    }
    let ranks: u32 = get("num_ranks").parse().map_err(|_| "num_ranks is not a number")?;
    let nodes: u32 = get("num_nodes").parse().unwrap_or(1).max(1);
    let gpn: u32 = get("gpus_per_node").parse().unwrap_or(ranks / nodes);
    let partition = get("system").contains("partition") || get("intra_node_fabric").contains("partition");
    let mut assumptions = Vec::new();
    let spec = if partition {
        if gpn == 0 || gpn > 72 || nodes * gpn != ranks {
            return Err(format!(
                "{ranks} ranks are not {nodes} NVL partitions of {gpn} GPUs (num_nodes × gpus_per_node)"
            ));
        }
        assumptions.push(format!(
            "NVL{gpn} partitions on {nodes} different racks: {gpn} GPUs per NVLink domain, InfiniBand only between partitions"
        ));
        format!("gb200-superpod:node={node},racks={nodes},per_rack={gpn}")
    } else {
        let (racks, per) =
            spread(ranks).ok_or_else(|| format!("{ranks} ranks do not spread evenly over the fewest NVL72 racks"))?;
        assumptions.push(format!(
            "{ranks} ranks on {racks} `{node}` racks, {per} per rack (spread evenly, as CoreWeave's multi-rack job places them)"
        ));
        format!("gb200-superpod:node={node},gpus={ranks}")
    };
    if crate::validate::parse_inter_node(&inter).is_none() {
        assumptions.push(format!(
            "network between racks not stated: the system's standard, {} on a full-bisection fat-tree",
            standard_nic(node)
        ));
    }
    let alg = get("algorithm");
    let algo = if alg.contains("nvls_enable=0") {
        assumptions.push("NCCL_NVLS_ENABLE=0: NVLS off".into());
        if alg.contains("ring") {
            Some(Algo::Ring)
        } else {
            None
        }
    } else if algo.is_none() && !partition && get("intra_node_fabric").contains("mnnvl") {
        // NCCL_MNNVL_ENABLE=1 across racks, algorithm not stated: the ring, whose signature the
        // measured sweeps carry (a latency growing with the 2(n−1) steps: ≈ 0.8 ms on 128
        // ranks, ≈ 5 ms on 1,440).
        assumptions.push(
            "NCCL_MNNVL_ENABLE=1 across racks, algorithm not stated: the ring (the sweep's latency grows with its 2(n−1) steps)"
                .into(),
        );
        Some(Algo::Ring)
    } else if algo == Some(Algo::Nvls) {
        // NVLS reduces inside one NVLink domain; across racks the choice is automatic.
        None
    } else {
        algo
    };
    let version = get("nccl_version");
    let ll128_over_network = ll128_over_c2c_nic(&version);
    if !ll128_over_network {
        assumptions.push(format!(
            "NCCL {version}: no LL128 across racks (Grace-attached NIC, path PHB; LL128 over C2C arrives in NCCL 2.27)"
        ));
    }
    Ok(Some(Nvl72Scenario {
        spec,
        ranks: (0..ranks).collect(),
        algo,
        assumptions,
        ll128_over_network,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn ll128_over_grace_nics_arrives_with_nccl_2_27() {
        assert!(!ll128_over_c2c_nic("2.26.2"));
        assert!(!ll128_over_c2c_nic("2.18"));
        assert!(ll128_over_c2c_nic("2.27.3"));
        assert!(ll128_over_c2c_nic("2.28"));
        assert!(ll128_over_c2c_nic(""));
        assert!(ll128_over_c2c_nic("not stated"));
    }

    #[test]
    fn jobs_spread_over_the_fewest_racks() {
        assert_eq!(spread(4), Some((1, 4)));
        assert_eq!(spread(8), Some((1, 8)));
        assert_eq!(spread(64), Some((1, 64)));
        assert_eq!(spread(128), Some((2, 64)));
        assert_eq!(spread(256), Some((4, 64)));
        assert_eq!(spread(1440), Some((20, 72)));
        assert_eq!(spread(73), None);
    }

    #[test]
    fn rows_become_racks_partitions_or_nothing() {
        let racks = row(&[
            ("num_ranks", "128"),
            ("num_nodes", "32"),
            ("gpus_per_node", "4"),
            ("system", "CoreWeave GB200 NVL72, 2 racks"),
            (
                "intra_node_fabric",
                "GB200 NVL72 rack: NVLink5 across 72 GPUs (MNNVL, NCCL_MNNVL_ENABLE=1)",
            ),
            ("inter_node_fabric", "InfiniBand between racks (speed not stated)"),
            ("algorithm", "NCCL default (not stated)"),
        ]);
        let s = collective_scenario("gb200-nvl72", &racks, None).unwrap().unwrap();
        assert_eq!(s.spec, "gb200-superpod:node=gb200-nvl72,gpus=128");
        assert_eq!(s.algo, Some(Algo::Ring));
        assert_eq!(s.ranks.len(), 128);
        assert!(
            s.assumptions.iter().any(|a| a.contains("cx7-400g (400G per GPU")),
            "{:?}",
            s.assumptions
        );
        let parts = row(&[
            ("num_ranks", "12"),
            ("num_nodes", "3"),
            ("gpus_per_node", "4"),
            ("system", "GB200 NVL72, 3 NVL4 partitions on different racks (12 GPUs)"),
            (
                "inter_node_fabric",
                "InfiniBand only between partitions (different racks)",
            ),
            ("algorithm", "ring (default) with NCCL_NVLS_ENABLE=0"),
        ]);
        let s = collective_scenario("gb200-nvl72", &parts, Some(Algo::Nvls))
            .unwrap()
            .unwrap();
        assert_eq!(s.spec, "gb200-superpod:node=gb200-nvl72,racks=3,per_rack=4");
        assert_eq!(s.algo, Some(Algo::Ring));
        let single = row(&[
            ("num_ranks", "72"),
            ("inter_node_fabric", "(all within one NVLink domain)"),
        ]);
        assert_eq!(collective_scenario("gb200-nvl72", &single, None), Ok(None));
        assert_eq!(collective_scenario("dgx-h100", &racks, None), Ok(None));
        let t = training_scenario("gb300-nvl72", 64).unwrap();
        assert_eq!(t.spec, "gb200-superpod:node=gb300-nvl72,gpus=64");
        assert!(training_scenario("dgx-h100", 64).is_none());
    }
}
