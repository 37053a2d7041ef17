//! Routing functions, one per topology family; routes are computed on demand, never stored.
//!
//! - Switched scale-up (NVSwitch star, UB Clos) and every scale-out network route **up-down**
//!   over the scope tree: climb from the source's first switch until reaching a tier whose scope
//!   contains the destination, then descend by scope. Where several up-links or several
//!   parallel down-links qualify, one is chosen by ECMP with the fixed hash [`ecmp_hash`].
//! - Full meshes use the direct link; tori use dimension-order routing (x, then y, then z,
//!   shortest direction, ties to +), following twisted wraparounds.
//! - Dual-plane fabrics choose the plane by the same hash; a route never leaves its plane.
//! - When the scale-out network cannot join two accelerators (rail-only networks across rails),
//!   or when PXN is asked for, the route first moves over the scale-up domain to the
//!   accelerator on the destination's rail, as NCCL's PXN does.

use crate::error::{FabricError, Result};
use crate::model::*;

/// Options of a route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteOpts {
    /// Forward over the scale-up domain to the NIC on the destination's rail when that keeps
    /// the network part of the path under one leaf (NCCL's PXN).
    pub pxn: bool,
}

/// SplitMix64 finaliser: the fixed, documented hash behind every ECMP and plane choice.
/// It depends only on its input, never on the Rust release or the process.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// ECMP hash of a flow `(src, dst, flow)` at decision point `step`.
pub fn ecmp_hash(src: u32, dst: u32, flow: u64, step: u32) -> u64 {
    splitmix64(splitmix64(((src as u64) << 32) | dst as u64) ^ splitmix64(flow ^ ((step as u64) << 48)))
}

fn pick(n: usize, h: u64) -> usize {
    (h % n as u64) as usize
}

/// Torus geometry helper: the neighbour of `c` one step along dimension `d` in direction
/// `dir` (+1 or -1), with wraparound and twist. `None` past a mesh edge.
pub fn torus_step(
    c: [u32; 3],
    d: usize,
    forward: bool,
    dims: [u32; 3],
    wrap: [bool; 3],
    twist: [u32; 3],
) -> Option<[u32; 3]> {
    let n = dims[d];
    let mut out = c;
    let long = long_dim(dims);
    if forward {
        if c[d] + 1 < n {
            out[d] = c[d] + 1;
        } else {
            if !wrap[d] {
                return None;
            }
            out[d] = 0;
            if twist[d] != 0 && d != long {
                out[long] = (c[long] + twist[d]) % dims[long];
            }
        }
    } else if c[d] > 0 {
        out[d] = c[d] - 1;
    } else {
        if !wrap[d] {
            return None;
        }
        out[d] = n - 1;
        if twist[d] != 0 && d != long {
            out[long] = (c[long] + dims[long] - twist[d] % dims[long]) % dims[long];
        }
    }
    Some(out)
}

/// The dimension twists shift along: the last of the longest dimensions.
pub fn long_dim(dims: [u32; 3]) -> usize {
    let m = *dims.iter().max().unwrap_or(&1);
    (0..3).rev().find(|&d| dims[d] == m).unwrap_or(2)
}

pub fn torus_coord(local: u32, dims: [u32; 3]) -> [u32; 3] {
    [
        local % dims[0],
        (local / dims[0]) % dims[1],
        local / (dims[0] * dims[1]),
    ]
}

pub fn torus_index(c: [u32; 3], dims: [u32; 3]) -> u32 {
    c[0] + dims[0] * (c[1] + dims[1] * c[2])
}

impl Fabric {
    /// Route one flow from accelerator `src` to accelerator `dst`, appending link ids to `out`.
    /// `flow` distinguishes parallel flows of one pair (NCCL channels); it feeds the ECMP hash.
    pub fn route(&self, src: u32, dst: u32, flow: u64, opts: RouteOpts, out: &mut Vec<u32>) -> Result<()> {
        let n = self.accels.len() as u32;
        if src >= n || dst >= n {
            return Err(FabricError::NoRoute {
                src,
                dst,
                why: format!("the fabric has {n} accelerators"),
            });
        }
        if src == dst {
            return Ok(());
        }
        if self.domain_of(src) == self.domain_of(dst) {
            return self.route_scale_up(src, dst, flow, out);
        }
        let ds = self.domain_size;
        let relay = self.domain_of(src) * ds + dst % ds;
        if opts.pxn && ds > 1 && relay != src && self.shares_leaf(relay, dst) && !self.shares_leaf(src, dst) {
            self.route_scale_up(src, relay, flow, out)?;
            return self.route_scale_out(relay, dst, flow, out);
        }
        let mark = out.len();
        match self.route_scale_out(src, dst, flow, out) {
            Ok(()) => Ok(()),
            Err(e) => {
                out.truncate(mark);
                if ds > 1 && relay != src {
                    self.route_scale_up(src, relay, flow, out)?;
                    self.route_scale_out(relay, dst, flow, out)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Convenience: the route as a new vector.
    pub fn route_vec(&self, src: u32, dst: u32, flow: u64, opts: RouteOpts) -> Result<Vec<u32>> {
        let mut v = Vec::new();
        self.route(src, dst, flow, opts, &mut v)?;
        Ok(v)
    }

    fn shares_leaf(&self, a: u32, b: u32) -> bool {
        let pa = self.scale_out_ports(a);
        let pb = self.scale_out_ports(b);
        pa.iter().any(|&x| {
            let sa = self.nodes[self.links[x as usize].dst.0 as usize].scope;
            pb.iter()
                .any(|&y| self.nodes[self.links[y as usize].dst.0 as usize].scope == sa)
        })
    }

    fn route_scale_up(&self, src: u32, dst: u32, flow: u64, out: &mut Vec<u32>) -> Result<()> {
        let a = self.accels[src as usize];
        let b = self.accels[dst as usize];
        match &self.scale_up {
            ScaleUpKind::None => Err(FabricError::NoRoute {
                src,
                dst,
                why: "no scale-up network".into(),
            }),
            ScaleUpKind::FullMesh => match self.link_between(a, b) {
                Some(l) => {
                    out.push(l.0);
                    Ok(())
                }
                None => Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: "full mesh lacks the direct link".into(),
                }),
            },
            ScaleUpKind::Switched => {
                let pa = self.scale_up_ports(src);
                let pb = self.scale_up_ports(dst);
                if pa.is_empty() || pb.is_empty() {
                    return Err(FabricError::NoRoute {
                        src,
                        dst,
                        why: "accelerator has no scale-up port".into(),
                    });
                }
                let h = ecmp_hash(src, dst, flow, 0);
                let i = pick(pa.len(), h);
                // Ports are made in the same order on every accelerator (one per scale-up plane).
                let j = i.min(pb.len() - 1);
                self.clos(src, dst, flow, pa[i], pb[j], out)
            }
            ScaleUpKind::Torus { dims, wrap, twist } => {
                let ds = self.domain_size;
                let base = self.domain_of(src) * ds;
                let mut cur = torus_coord(src - base, *dims);
                let target = torus_coord(dst - base, *dims);
                let mut guard = 0u32;
                for d in 0..3 {
                    while cur[d] != target[d] {
                        let nd = dims[d];
                        let fwd_dist = (target[d] + nd - cur[d]) % nd;
                        let forward = if wrap[d] {
                            fwd_dist <= nd - fwd_dist
                        } else {
                            target[d] > cur[d]
                        };
                        let next =
                            torus_step(cur, d, forward, *dims, *wrap, *twist).ok_or_else(|| FabricError::NoRoute {
                                src,
                                dst,
                                why: "torus step off the mesh edge".into(),
                            })?;
                        let na = self.accels[(base + torus_index(next, *dims)) as usize];
                        let ca = self.accels[(base + torus_index(cur, *dims)) as usize];
                        let l = self.link_between(ca, na).ok_or_else(|| FabricError::NoRoute {
                            src,
                            dst,
                            why: "torus neighbour link missing".into(),
                        })?;
                        out.push(l.0);
                        cur = next;
                        guard += 1;
                        if guard > dims.iter().sum::<u32>() * 4 {
                            return Err(FabricError::NoRoute {
                                src,
                                dst,
                                why: "torus route does not converge".into(),
                            });
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn route_scale_out(&self, src: u32, dst: u32, flow: u64, out: &mut Vec<u32>) -> Result<()> {
        let pa = self.scale_out_ports(src);
        let pb = self.scale_out_ports(dst);
        if pa.is_empty() || pb.is_empty() {
            return Err(FabricError::NoRoute {
                src,
                dst,
                why: "no scale-out port".into(),
            });
        }
        // Plane choice: the hash picks one of the source's ports; the destination port must be
        // in the same plane.
        let h = ecmp_hash(src, dst, flow, 0);
        let i = pick(pa.len(), h);
        let plane = self.nodes[self.links[pa[i] as usize].dst.0 as usize].plane;
        let same: Vec<usize> = (0..pb.len())
            .filter(|&j| self.nodes[self.links[pb[j] as usize].dst.0 as usize].plane == plane)
            .collect();
        if same.is_empty() {
            return Err(FabricError::NoRoute {
                src,
                dst,
                why: format!("destination has no port in plane {plane}"),
            });
        }
        let j = same[pick(same.len(), ecmp_hash(dst, src, flow, 40))];
        self.clos(src, dst, flow, pa[i], pb[j], out)
    }

    /// Up-down route from port link `pa` (src → first switch) to port link `pb` (dst → first
    /// switch); the last hop is `pb`'s reverse.
    fn clos(&self, src: u32, dst: u32, flow: u64, pa: u32, pb: u32, out: &mut Vec<u32>) -> Result<()> {
        let leaf_a = self.links[pa as usize].dst;
        let leaf_b = self.links[pb as usize].dst;
        // Scope chain of the destination, tier 1 upward.
        let mut chain_b = [NONE; 8];
        let mut s = self.nodes[leaf_b.0 as usize].scope;
        let mut depth_b = 0;
        while s != NONE && depth_b < 8 {
            chain_b[depth_b] = s;
            depth_b += 1;
            s = self.scope_parent[s as usize];
        }
        // Find the lowest common tier.
        let mut sa = self.nodes[leaf_a.0 as usize].scope;
        let mut top = None;
        for (k, &sb) in chain_b.iter().enumerate().take(depth_b) {
            if sa == sb {
                top = Some(k);
                break;
            }
            if sa == NONE {
                break;
            }
            sa = self.scope_parent[sa as usize];
        }
        let top = top.ok_or_else(|| FabricError::NoRoute {
            src,
            dst,
            why: "the two accelerators share no switch tier (different planes or rails)".into(),
        })?;
        out.push(pa);
        let mut cur = leaf_a;
        for k in 0..top {
            let u = cur.0 as usize;
            let ups = &self.up_links[self.up_start[u] as usize..self.up_start[u + 1] as usize];
            if ups.is_empty() {
                return Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: "switch has no up-link".into(),
                });
            }
            let l = ups[pick(ups.len(), ecmp_hash(src, dst, flow, 1 + k as u32))];
            out.push(l);
            cur = self.links[l as usize].dst;
        }
        for k in (0..top).rev() {
            let want = chain_b[k];
            let u = cur.0 as usize;
            let downs = &self.down_links[self.down_start[u] as usize..self.down_start[u + 1] as usize];
            let lo = downs.partition_point(|&(sc, _)| sc < want);
            let hi = downs.partition_point(|&(sc, _)| sc <= want);
            if lo == hi {
                return Err(FabricError::NoRoute {
                    src,
                    dst,
                    why: "no down-link toward the destination".into(),
                });
            }
            let l = downs[lo + pick(hi - lo, ecmp_hash(src, dst, flow, 16 + k as u32))].1;
            out.push(l);
            cur = self.links[l as usize].dst;
        }
        if cur != leaf_b {
            // Another switch with the same down-scope (e.g. the second ToR of a pair in one
            // plane): leave through its own link to the destination.
            let b = self.accels[dst as usize];
            let l = self.link_between(cur, b).ok_or_else(|| FabricError::NoRoute {
                src,
                dst,
                why: "descent ended at a switch without a link to the destination".into(),
            })?;
            out.push(l.0);
            return Ok(());
        }
        out.push(pb ^ 1);
        Ok(())
    }
}
