//! Algorithm choice like NCCL's: every algorithm that can run the operation on this group and
//! fabric is a candidate, and the one with the lowest modelled time (latency + transfer, best
//! protocol) wins, per message size. The candidate list depends on the fabric: NVLS inside an
//! NVSwitch domain that supports it, CollNet where the network has SHARP, the bucket algorithm
//! on a whole torus or a sub-torus of one, direct exchanges on full meshes.

use crate::plan::single_domain;
use crate::{hierarchical, nvls, Algo, Op};
use fabric::{Fabric, ScaleUpKind};

/// Candidate algorithms for `op` on `ranks`, cheapest-latency first.
/// Do `ranks` sit in more than one site of a multi-site fabric?
fn spans_sites(f: &Fabric, ranks: &[u32]) -> bool {
    let site = |r: u32| f.nodes[f.accels[r as usize].0 as usize].site;
    ranks
        .first()
        .is_some_and(|&a| ranks.iter().any(|&r| site(r) != site(a)))
}

pub fn candidates(f: &Fabric, ranks: &[u32], op: Op) -> Vec<Algo> {
    let single = single_domain(f, ranks);
    // A whole slice or a sub-torus of one (whole dimensions): the TPU runtime's rings per dimension.
    let whole_torus =
        matches!(f.scale_up, ScaleUpKind::Torus { .. }) && single && crate::torus::sub_torus(f, ranks).is_some();
    let mesh = matches!(f.scale_up, ScaleUpKind::FullMesh) && single;
    let multi = !single;
    let doms = crate::plan::by_domain(f, ranks);
    let uniform = doms.iter().all(|d| d.len() == doms[0].len()) && doms[0].len() > 1;
    let mut c = Vec::new();
    match op {
        Op::AllToAll => c.push(Algo::Direct),
        Op::SendRecv => c.push(Algo::P2p),
        Op::Broadcast | Op::Reduce => c.push(Algo::Ring),
        Op::AllReduce | Op::ReduceScatter | Op::AllGather => {
            if whole_torus {
                c.push(Algo::Torus);
            }
            if mesh {
                c.push(Algo::Direct);
            }
            if op == Op::AllReduce {
                // NVLS inside one domain; NVLSTree across uniform domains.
                if (single || uniform) && nvls::supported(f) {
                    c.push(Algo::Nvls);
                }
                // The SHARP aggregation tree lives in one site's switches: a group that
                // spans sites (over the DCI routers) reduces in the hosts.
                if multi && uniform && hierarchical::sharp_supported(f) && !spans_sites(f, ranks) {
                    c.push(Algo::CollNet);
                }
                c.push(Algo::Tree);
            }
            if multi && uniform {
                c.push(Algo::Hierarchical);
            }
            if !whole_torus && !mesh || op != Op::AllReduce {
                c.push(Algo::Ring);
            }
        }
    }
    c.dedup();
    c
}

/// Which in-network reductions selection may use, like `NCCL_COLLNET_ENABLE` and
/// `NCCL_NVLS_ENABLE`: on (the default) lets the algorithm compete where the fabric has it, off
/// removes it from the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InNetwork {
    /// IB SHARP (CollNet).
    pub sharp: bool,
    /// NVLink SHARP (NVLS).
    pub nvls: bool,
}

impl Default for InNetwork {
    fn default() -> Self {
        Self {
            sharp: true,
            nvls: true,
        }
    }
}

impl InNetwork {
    /// May selection use `algo`?
    pub fn allows(self, algo: Algo) -> bool {
        match algo {
            Algo::CollNet => self.sharp,
            Algo::Nvls => self.nvls,
            _ => true,
        }
    }
}

/// Candidates for `op` on `ranks` that `allowed` permits, cheapest-latency first.
pub fn allowed_candidates(f: &Fabric, ranks: &[u32], op: Op, allowed: InNetwork) -> Vec<Algo> {
    let mut c = candidates(f, ranks, op);
    c.retain(|&a| allowed.allows(a));
    // Where IB SHARP is on, NCCL runs NVLS together with CollNet across nodes (NVLS + SHARP),
    // which collnet stands for here; NVLSTree is the multi-domain NVLS where CollNet is not.
    // (It also keeps the selection on large SHARP fabrics at its former cost.)
    if c.contains(&Algo::CollNet) && !single_domain(f, ranks) {
        c.retain(|&a| a != Algo::Nvls);
    }
    c
}

/// The algorithm NCCL-like selection starts from when the user names none (the first candidate).
pub fn select(f: &Fabric, ranks: &[u32], op: Op) -> Algo {
    candidates(f, ranks, op).first().copied().unwrap_or(Algo::Ring)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_network_switches_remove_only_their_algorithm() {
        let all = InNetwork::default();
        assert!(Algo::ALL.iter().all(|&a| all.allows(a)));
        let no_sharp = InNetwork {
            sharp: false,
            nvls: true,
        };
        let no_nvls = InNetwork {
            sharp: true,
            nvls: false,
        };
        for a in Algo::ALL {
            assert_eq!(no_sharp.allows(a), a != Algo::CollNet, "{a}");
            assert_eq!(no_nvls.allows(a), a != Algo::Nvls, "{a}");
        }
    }
}
