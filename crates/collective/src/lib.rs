//! Collective algorithms: each lowers an operation on a group of ranks to a sequence of flow
//! phases plus latency terms, which the engine then runs on the fabric.
//!
//! Invariants: no I/O; lowering is deterministic; every algorithm conserves bytes (what is sent
//! is what the textbook volume formula says, tested per algorithm).

pub mod alltoall;
pub mod constants;
pub mod halving_doubling;
pub mod hierarchical;
pub mod memory;
pub mod moe;
pub mod nvls;
pub mod p2p;
pub mod plan;
pub mod ring;
pub mod select;
pub mod simulate;
pub mod torus;
pub mod tree;

pub use memory::estimate_memory_bytes;
pub use plan::{Phase, Plan, PlanFlow};
pub use select::{select, InNetwork};
pub use simulate::{run_groups, simulate, CollectiveResult, Options};

use std::fmt;
use std::str::FromStr;

/// A collective operation (the nccl-tests set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    AllReduce,
    ReduceScatter,
    AllGather,
    AllToAll,
    Broadcast,
    Reduce,
    SendRecv,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::AllReduce,
        Op::ReduceScatter,
        Op::AllGather,
        Op::AllToAll,
        Op::Broadcast,
        Op::Reduce,
        Op::SendRecv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::AllReduce => "all_reduce",
            Op::ReduceScatter => "reduce_scatter",
            Op::AllGather => "all_gather",
            Op::AllToAll => "all_to_all",
            Op::Broadcast => "broadcast",
            Op::Reduce => "reduce",
            Op::SendRecv => "send_recv",
        }
    }

    /// nccl-tests' bus-bandwidth factor: busbw = algbw × factor.
    pub fn busbw_factor(self, n: u32) -> f64 {
        let n = n as f64;
        match self {
            Op::AllReduce => 2.0 * (n - 1.0) / n,
            Op::ReduceScatter | Op::AllGather | Op::AllToAll => (n - 1.0) / n,
            Op::Broadcast | Op::Reduce | Op::SendRecv => 1.0,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Op {
    type Err = CollectiveError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let k = s.trim().to_lowercase().replace('-', "_");
        Ok(match k.as_str() {
            "all_reduce" | "allreduce" => Op::AllReduce,
            "reduce_scatter" | "reducescatter" => Op::ReduceScatter,
            "all_gather" | "allgather" => Op::AllGather,
            "all_to_all" | "alltoall" | "all2all" => Op::AllToAll,
            "broadcast" | "bcast" => Op::Broadcast,
            "reduce" => Op::Reduce,
            "send_recv" | "sendrecv" | "p2p" => Op::SendRecv,
            _ => return Err(CollectiveError::UnknownOp(s.to_string())),
        })
    }
}

/// A collective algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algo {
    /// Ring (NCCL channels; rail-aligned rings with PXN across domains).
    Ring,
    /// NCCL's double binary tree (reduce up, broadcast down, pipelined).
    Tree,
    /// NVLink SHARP: reduction inside the NVSwitch (one switched scale-up domain).
    Nvls,
    /// InfiniBand SHARP / CollNet: intra-domain reduce-scatter, in-network all-reduce of the
    /// shards, intra-domain all-gather.
    CollNet,
    /// Intra-domain reduce-scatter → inter-domain all-reduce (per rail) → intra-domain all-gather.
    Hierarchical,
    /// Recursive halving (reduce-scatter) / doubling (all-gather); powers of two.
    HalvingDoubling,
    /// Every rank sends to every other at once (all-to-all; reduce-scatter/all-gather on meshes).
    Direct,
    /// All-to-all in n−1 rounds, round k pairing i with i+k.
    Pairwise,
    /// Torus dimension-by-dimension (bucket) algorithm over bidirectional rings.
    Torus,
    /// Point-to-point: each rank sends to the next.
    P2p,
}

impl Algo {
    pub const ALL: [Algo; 10] = [
        Algo::Ring,
        Algo::Tree,
        Algo::Nvls,
        Algo::CollNet,
        Algo::Hierarchical,
        Algo::HalvingDoubling,
        Algo::Direct,
        Algo::Pairwise,
        Algo::Torus,
        Algo::P2p,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Algo::Ring => "ring",
            Algo::Tree => "tree",
            Algo::Nvls => "nvls",
            Algo::CollNet => "collnet",
            Algo::Hierarchical => "hierarchical",
            Algo::HalvingDoubling => "halving_doubling",
            Algo::Direct => "direct",
            Algo::Pairwise => "pairwise",
            Algo::Torus => "torus",
            Algo::P2p => "p2p",
        }
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algo {
    type Err = CollectiveError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_algo(s).map(|r| r.algo)
    }
}

/// An algorithm named by the user: one of fabricsim's names or one of NCCL's (`NCCL_ALGO`:
/// Ring, Tree, CollnetDirect, CollnetChain, NVLS, NVLSTree, PAT), case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgoRequest {
    /// The modelled algorithm that runs.
    pub algo: Algo,
    /// How an NCCL name maps onto `algo` when the mapping is approximate (`None` when exact).
    pub approximation: Option<&'static str>,
}

/// Parse an algorithm name (see [`AlgoRequest`]).
pub fn parse_algo(s: &str) -> Result<AlgoRequest, CollectiveError> {
    let k = s.trim().to_lowercase().replace('-', "_");
    let exact = |algo| AlgoRequest {
        algo,
        approximation: None,
    };
    let approx = |algo, why| AlgoRequest {
        algo,
        approximation: Some(why),
    };
    Ok(match k.as_str() {
        "ring" => exact(Algo::Ring),
        "tree" | "double_binary_tree" => exact(Algo::Tree),
        "nvls" | "nvlink_sharp" => exact(Algo::Nvls),
        "collnet" | "sharp" | "ib_sharp" | "collnetdirect" | "collnet_direct" => exact(Algo::CollNet),
        "collnetchain" | "collnet_chain" => approx(
            Algo::CollNet,
            "NCCL's CollnetChain chains the GPUs of a node to one NIC before SHARP; modelled as \
             collnet (CollnetDirect: every GPU reduce-scatters in the node and uses its own NIC)",
        ),
        "nvlstree" | "nvls_tree" => approx(
            Algo::Nvls,
            "NCCL's NVLSTree reduces in the NVSwitch, then runs a tree across nodes; modelled as \
             nvls across domains (NVLS in each domain, a ring per rail between domains, pipelined)",
        ),
        "pat" => approx(
            Algo::HalvingDoubling,
            "NCCL's PAT (parallel aggregated trees, log-step, one GPU per node) is modelled as \
             halving_doubling (recursive halving/doubling, powers of two)",
        ),
        "hierarchical" | "hier" => exact(Algo::Hierarchical),
        "halving_doubling" | "hd" | "recursive_doubling" | "rabenseifner" => exact(Algo::HalvingDoubling),
        "direct" => exact(Algo::Direct),
        "pairwise" => exact(Algo::Pairwise),
        "torus" | "bucket" => exact(Algo::Torus),
        "p2p" | "sendrecv" => exact(Algo::P2p),
        _ => return Err(CollectiveError::UnknownAlgo(s.to_string())),
    })
}

/// Errors of the collective layer.
#[derive(Debug, Clone, PartialEq)]
pub enum CollectiveError {
    UnknownOp(String),
    UnknownAlgo(String),
    UnknownProtocol(String),
    /// The algorithm cannot run this operation on this group/fabric, with the reason.
    Unsupported {
        algo: Algo,
        op: Op,
        why: String,
    },
    BadGroup(String),
    Route(String),
    Engine(String),
}

impl fmt::Display for CollectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectiveError::UnknownOp(s) => write!(f, "unknown operation `{s}` (known: all_reduce, reduce_scatter, all_gather, all_to_all, broadcast, reduce, send_recv)"),
            CollectiveError::UnknownAlgo(s) => write!(
                f,
                "unknown algorithm `{s}` (known: ring, tree, nvls, collnet, hierarchical, halving_doubling, direct, pairwise, torus, p2p; NCCL's Ring, Tree, CollnetDirect, CollnetChain, NVLS, NVLSTree, PAT)"
            ),
            CollectiveError::UnknownProtocol(s) => write!(f, "unknown protocol `{s}` (known: LL, LL128, Simple)"),
            CollectiveError::Unsupported { algo, op, why } => write!(f, "algorithm {algo} cannot run {op} here: {why}"),
            CollectiveError::BadGroup(s) => write!(f, "bad rank group: {s}"),
            CollectiveError::Route(s) => write!(f, "routing failed: {s}"),
            CollectiveError::Engine(s) => write!(f, "engine: {s}"),
        }
    }
}

impl std::error::Error for CollectiveError {}

impl From<fabric::FabricError> for CollectiveError {
    fn from(e: fabric::FabricError) -> Self {
        CollectiveError::Route(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nccl_algorithm_names_parse_case_insensitively() {
        for (s, algo, approximate) in [
            ("Ring", Algo::Ring, false),
            ("RING", Algo::Ring, false),
            ("Tree", Algo::Tree, false),
            ("NVLS", Algo::Nvls, false),
            ("CollnetDirect", Algo::CollNet, false),
            ("collnet_direct", Algo::CollNet, false),
            ("CollnetChain", Algo::CollNet, true),
            ("NVLSTree", Algo::Nvls, true),
            ("nvls-tree", Algo::Nvls, true),
            ("PAT", Algo::HalvingDoubling, true),
        ] {
            let r = parse_algo(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(r.algo, algo, "{s}");
            assert_eq!(r.approximation.is_some(), approximate, "{s}");
        }
        // Today's names still parse, exactly, and FromStr agrees with parse_algo.
        for a in Algo::ALL {
            assert_eq!(
                parse_algo(a.name()).unwrap(),
                AlgoRequest {
                    algo: a,
                    approximation: None
                }
            );
            assert_eq!(a.name().to_uppercase().parse::<Algo>().unwrap(), a);
        }
        let e = parse_algo("bogo").unwrap_err().to_string();
        assert!(e.contains("`bogo`") && e.contains("NVLSTree"), "{e}");
    }
}
