//! The fabric model: nodes, directed links, groups, and the routing structure.
//!
//! Invariants (checked by [`Fabric::validate`] and by property tests):
//! - links come in pairs: link `2i` is `a → b` and link `2i + 1` is `b → a` (one cable);
//! - every link has a positive, finite capacity per direction;
//! - accelerators are numbered `0..n` in rank order and `accels[i]` is their node id;
//! - the graph over all links is connected.

use units::{BytesPerSec, Seconds};

/// Index of a node in [`Fabric::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// Index of a directed link in [`Fabric::links`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// "No such group" marker for optional group ids.
pub const NONE: u32 = u32::MAX;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// An accelerator (GPU, TPU chip, NPU).
    Accel,
    /// A switch. One node may stand for several identical chips working as one logical switch
    /// (see [`Node::chips`]).
    Switch,
}

/// Which network a node or a link belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Net {
    /// The scale-up domain (NVLink, ICI, UB, xGMI, Gaudi RoCE mesh).
    ScaleUp,
    /// The scale-out (back-end) network.
    ScaleOut,
    /// Long-haul links between sites.
    LongHaul,
}

/// The physical medium of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Medium {
    /// Copper: PCB traces, backplane, DAC or cable cartridges. No transceivers.
    Copper,
    /// Optical fibre with a pluggable (or LPO) transceiver at each end.
    Optical,
    /// Optical through an optical circuit switch: a transceiver at each chip end; the OCS is
    /// passive and adds no module.
    OpticalOcs,
    /// Long-haul fibre between sites (DCI optics, counted separately).
    LongHaul,
}

/// A node of the fabric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub net: Net,
    /// Switch tier within its network: 0 for accelerators; 1 = leaf/ToR/L1, 2 = spine/L2,
    /// 3 = core, 4 = site gateway.
    pub tier: u8,
    /// Number of physical switch chips this node stands for (1 for accelerators).
    pub chips: u32,
    /// Index into [`Fabric::switch_models`] for switches; `NONE` for accelerators.
    pub model: u32,
    /// Scale-up domain (accelerators and scale-up switches), else `NONE`.
    pub domain: u32,
    /// Plane of a scale-out switch, else `NONE`.
    pub plane: u32,
    /// Pod (a full-bisection block of the scale-out network), else `NONE`.
    pub pod: u32,
    /// Site (building or campus), 0 when there is one.
    pub site: u32,
    /// Down-scope of a Clos switch: all switches of one tier with equal scope reach exactly the
    /// same set of accelerators going down. For accelerators, the accelerator index.
    pub scope: u32,
}

/// A directed link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    pub src: NodeId,
    pub dst: NodeId,
    /// Capacity in this direction.
    pub capacity: BytesPerSec,
    /// One-way latency (propagation plus the hop into `dst`).
    pub latency: Seconds,
    pub medium: Medium,
    pub net: Net,
    /// Physical lanes/cables this link stands for (e.g. 18 NVLinks of one GPU to a logical
    /// NVSwitch). Optics are counted per lane.
    pub lanes: u32,
}

/// A parameterised name for a class of switch, referenced by [`Node::model`].
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchModel {
    /// Catalogue id of the chip (see `catalogue::switch_chip`).
    pub chip: &'static str,
    /// Free text describing the role ("NVSwitch (NVLink4)", "leaf (rail-optimized)").
    pub role: String,
}

/// How the scale-up domains of a fabric route.
#[derive(Debug, Clone, PartialEq)]
pub enum ScaleUpKind {
    /// One accelerator per domain: nothing to route.
    None,
    /// Through switches, up-down like a Clos (NVSwitch star = 1 tier, UB = 2 tiers).
    Switched,
    /// Direct link between every pair (xGMI, Gaudi 3 RoCE mesh).
    FullMesh,
    /// 1, 2 or 3-dimensional torus with dimension-order routing. `twist[d]` is the offset along
    /// the longest dimension applied to the wraparound of dimension `d` (0 = no twist).
    Torus {
        dims: [u32; 3],
        wrap: [bool; 3],
        twist: [u32; 3],
    },
}

/// What a cluster's source says about its racks beyond its host's rule (the catalogue's
/// `Host::hosts_per_rack`). Everything left at its default takes the host's rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RackSpec {
    /// Hosts per compute rack, where the cluster's source gives its own (Meta: 2 servers).
    pub hosts_per_rack: Option<u32>,
    /// The first scale-out tier's switches sit in the compute racks (Meta's RTSW, one per rack)
    /// rather than in network racks.
    pub leaf_in_compute_rack: bool,
    /// Racks the source names beyond compute and network racks (CloudMatrix384's 4
    /// communication racks of L2 UB switches).
    pub extra: u32,
    /// The rule in words with its source, where it is the cluster's own.
    pub basis: Option<String>,
}

/// Hardware that is not a node but belongs to the bill of materials.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// Host servers (CPU trays/boards) and their CPUs.
    pub hosts: u32,
    pub cpus: u32,
    /// Catalogue id of the host type (`catalogue::host`), where the node type names one.
    pub host: Option<&'static str>,
    /// How hosts and switches fill racks (counted by the bill of materials).
    pub racks: RackSpec,
    /// Optical circuit switches.
    pub ocs: u32,
    /// Catalogue id of the OCS model.
    pub ocs_model: Option<&'static str>,
    /// Scale-out NICs (physical cards) and the catalogue id of the NIC.
    pub nics: u32,
    pub nic_model: Option<&'static str>,
    /// Catalogue ids of the transceivers used on scale-up and scale-out optical links.
    pub scale_up_transceiver: Option<&'static str>,
    pub scale_out_transceiver: Option<&'static str>,
    /// Catalogue id of the long-haul (DCI) coherent module at each end of a long-haul link
    /// (`None`: counted as a 400G-class module, the historical default).
    pub long_haul_transceiver: Option<&'static str>,
    /// Nominal scale-out bandwidth per accelerator (its NIC ports), per direction, even when no
    /// scale-out switch is modelled (a single node).
    pub scale_out_per_accel: units::BytesPerSec,
    /// For a cluster of sites: the preset spec of one site of the same total size, where a rule
    /// gives one (every site the same generic-family preset with `gpus=`: the sum of their
    /// `gpus`) — the baseline a multi-site training job is compared with.
    pub single_site_equivalent: Option<String>,
}

/// A cluster fabric: the output of a topology generator.
#[derive(Debug, Clone)]
pub struct Fabric {
    pub name: String,
    pub description: String,
    /// Catalogue id of the accelerator.
    pub accel_model: &'static str,
    /// Catalogue id of the scale-up link technology.
    pub scale_up_link: Option<&'static str>,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    /// `accels[r]` is the node of accelerator (rank slot) `r`.
    pub accels: Vec<NodeId>,
    /// Accelerators per scale-up domain (domains are contiguous, equal-sized ranges of accels).
    pub domain_size: u32,
    pub scale_up: ScaleUpKind,
    /// Number of scale-out planes (1 unless dual-plane).
    pub planes: u32,
    pub switch_models: Vec<SwitchModel>,
    pub extras: Extras,
    /// One-direction bandwidth across the worst balanced cut, with the method used.
    pub bisection: BytesPerSec,
    pub bisection_method: String,
    /// Assumptions the generator made (shown to the user).
    pub assumptions: Vec<String>,
    /// How the scale-out network spreads flows over equal-cost paths (the preset's default,
    /// or the user's `--routing`); see [`crate::routing::RoutingMode`].
    pub routing: crate::routing::RoutingMode,
    // --- routing structure, built by the builder ---
    pub(crate) out_start: Vec<u32>,
    /// Out-links of each node, sorted by destination node id.
    pub(crate) out_links: Vec<u32>,
    /// Up-links of each switch (to tier + 1 of the same net), CSR: each link with the node it
    /// leads to (`(link, node)`, side by side: a route reads both).
    pub(crate) up_start: Vec<u32>,
    pub(crate) up_hop: Vec<(u32, u32)>,
    /// Down-links of each switch, CSR, sorted by (child scope, link id).
    pub(crate) down_start: Vec<u32>,
    pub(crate) down_links: Vec<(u32, u32)>,
    /// Each of `down_links`' links and the node it leads to (`(link, node)`, side by side).
    pub(crate) down_hop: Vec<(u32, u32)>,
    /// Per node, where its down-links toward each child scope lie, without a search
    /// ([`DownRuns`]), and the runs' bounds they index.
    pub(crate) down_runs: Vec<DownRuns>,
    pub(crate) down_run_bounds: Vec<u32>,
    /// For each switch scope: the scope of its parents (`NONE` at the top).
    pub(crate) scope_parent: Vec<u32>,
    /// Accelerator ports into switches, per net: CSR over accels of link ids.
    pub(crate) su_port_start: Vec<u32>,
    pub(crate) su_ports: Vec<u32>,
    pub(crate) so_port_start: Vec<u32>,
    pub(crate) so_ports: Vec<u32>,
    /// Per accelerator, its scale-out and its scale-up port where it has exactly one
    /// ([`OnePort`], [`Fabric::index_ports`]): a route's reads of the port, its switch and the
    /// switch's plane and scope in one record, not across the link and node arrays.
    pub(crate) one_port: Vec<[OnePort; 2]>,
}

/// An accelerator's only port into one net's switches: the link, the switch it leads to, and
/// that switch's plane and scope (`port` [`OnePort::NONE`] where it has none or several).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OnePort {
    pub(crate) port: u32,
    pub(crate) switch: u32,
    pub(crate) plane: u32,
    pub(crate) scope: u32,
}

impl OnePort {
    /// No single port.
    pub(crate) const NONE: OnePort = OnePort {
        port: u32::MAX,
        switch: u32::MAX,
        plane: u32::MAX,
        scope: u32::MAX,
    };
}

/// Where a switch's down-links toward each child scope begin ([`Fabric`]'s `down_links`,
/// sorted by (scope, link)), without a search: scopes `first` to `first + span − 1` have their
/// runs' bounds in the fabric's `down_run_bounds` from `at` on (`span + 1` entries, relative to
/// the switch's first down-link; a scope it does not reach has an empty run). `span` 0: no
/// down-links, or scopes too spread for a table (a route searches the sorted links).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct DownRuns {
    pub(crate) first: u32,
    pub(crate) span: u32,
    pub(crate) at: u32,
}

impl DownRuns {
    /// The runs of one switch's sorted down-links (`(scope, link)`), their bounds appended to
    /// `bounds`, where the scopes span at most twice the links plus 16 slots.
    pub(crate) fn of(downs: &[(u32, u32)], bounds: &mut Vec<u32>) -> DownRuns {
        let (Some(&(first, _)), Some(&(last, _))) = (downs.first(), downs.last()) else {
            return DownRuns::default();
        };
        let span = u64::from(last) - u64::from(first) + 1;
        let (Ok(span), Ok(at)) = (u32::try_from(span), u32::try_from(bounds.len())) else {
            return DownRuns::default();
        };
        if span as usize > 2 * downs.len() + 16 || u32::try_from(downs.len()).is_err() {
            return DownRuns::default();
        }
        // Bound k: the first link whose scope is at least `first + k`.
        let mut i = 0;
        for k in 0..=span {
            let want = u64::from(first) + u64::from(k);
            while i < downs.len() && u64::from(downs[i].0) < want {
                i += 1;
            }
            bounds.push(i as u32);
        }
        DownRuns { first, span, at }
    }

    /// Where the links toward `want` lie among the switch's down-links (an empty range where
    /// it has none), if the switch has a table (`bounds`: the fabric's `down_run_bounds`).
    #[inline]
    pub(crate) fn range(self, want: u32, bounds: &[u32]) -> Option<std::ops::Range<usize>> {
        if self.span == 0 {
            return None;
        }
        let d = want.wrapping_sub(self.first);
        if d >= self.span {
            return Some(0..0);
        }
        let k = self.at as usize + d as usize;
        Some(bounds[k] as usize..bounds[k + 1] as usize)
    }
}

impl Fabric {
    /// Catalogue id of the fabric's host type (`"dgx-h100"`, `"gb200-nvl72"`,
    /// `"cloudmatrix-node"`), the key of `catalogue::host`, `catalogue::host_side` and
    /// `catalogue::kv_tiers`; `None` where the node type names no host.
    pub fn host_id(&self) -> Option<&'static str> {
        self.extras.host
    }

    /// The host side of the fabric's servers (accelerator–CPU link, host DRAM, SSD, pooled
    /// memory, PCIe tree), where the catalogue has one.
    pub fn host_side(&self) -> Option<&'static crate::catalogue::HostSide> {
        self.host_id().and_then(crate::catalogue::host_side)
    }

    /// The KV-cache tiers below HBM of one accelerator, in order (host DRAM, pooled memory,
    /// local SSD); empty where the catalogue has no host side for the fabric's host.
    pub fn kv_tiers(&self) -> Vec<crate::catalogue::KvTier> {
        self.host_id().map(crate::catalogue::kv_tiers).unwrap_or_default()
    }

    pub fn accel_count(&self) -> usize {
        self.accels.len()
    }
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }
    pub fn link(&self, id: LinkId) -> &Link {
        &self.links[id.0 as usize]
    }
    /// Directed out-links of a node.
    pub fn out_links(&self, n: NodeId) -> impl Iterator<Item = LinkId> + '_ {
        let i = n.0 as usize;
        self.out_links[self.out_start[i] as usize..self.out_start[i + 1] as usize]
            .iter()
            .map(|&l| LinkId(l))
    }
    /// The link `a → b`, if any (the first by id when there are parallel links).
    pub fn link_between(&self, a: NodeId, b: NodeId) -> Option<LinkId> {
        let i = a.0 as usize;
        let s = &self.out_links[self.out_start[i] as usize..self.out_start[i + 1] as usize];
        let pos = s.partition_point(|&l| self.links[l as usize].dst < b);
        s.get(pos)
            .filter(|&&l| self.links[l as usize].dst == b)
            .map(|&l| LinkId(l))
    }
    /// Scale-out ports (links accelerator → first switch) of accelerator `r`.
    pub fn scale_out_ports(&self, r: u32) -> &[u32] {
        let i = r as usize;
        &self.so_ports[self.so_port_start[i] as usize..self.so_port_start[i + 1] as usize]
    }
    /// Scale-up ports (links accelerator → scale-up switch) of accelerator `r`.
    pub fn scale_up_ports(&self, r: u32) -> &[u32] {
        let i = r as usize;
        &self.su_ports[self.su_port_start[i] as usize..self.su_port_start[i + 1] as usize]
    }

    /// Accelerator `r`'s only scale-out port (`net` 0) or scale-up port (`net` 1) with its
    /// switch's plane and scope, where it has exactly one (else `None`).
    #[inline]
    pub(crate) fn one_port(&self, r: u32, net: usize) -> Option<OnePort> {
        let p = self.one_port.get(r as usize)?[net];
        (p.port != u32::MAX).then_some(p)
    }

    /// Builds [`Fabric::one_port`] from the ports (`so_ports`, `su_ports`), the links and the
    /// nodes: done by the builder, and again by whoever changes the ports.
    pub(crate) fn index_ports(&mut self) {
        let one = |ports: &[u32]| match *ports {
            [l] => {
                let switch = self.links[l as usize].dst.0;
                let n = &self.nodes[switch as usize];
                OnePort {
                    port: l,
                    switch,
                    plane: n.plane,
                    scope: n.scope,
                }
            }
            _ => OnePort::NONE,
        };
        self.one_port = (0..self.accels.len() as u32)
            .map(|r| [one(self.scale_out_ports(r)), one(self.scale_up_ports(r))])
            .collect();
    }
    /// Number of sites (buildings or campuses) the accelerators sit in: 1 unless sites were
    /// joined over a data-centre interconnect (`topology::sites`).
    pub fn site_count(&self) -> u32 {
        self.accels
            .iter()
            .map(|&a| self.node(a).site)
            .filter(|&s| s != NONE)
            .max()
            .map_or(1, |s| s + 1)
    }

    /// Site of accelerator `r` (0 when there is one site).
    pub fn site_of(&self, rank: u32) -> u32 {
        let s = self.node(self.accels[rank as usize]).site;
        if s == NONE {
            0
        } else {
            s
        }
    }

    /// Scale-up domain of accelerator `r`.
    pub fn domain_of(&self, r: u32) -> u32 {
        r / self.domain_size
    }
    pub fn domain_count(&self) -> u32 {
        self.accels.len() as u32 / self.domain_size
    }
    /// A readable name of a node: `acc 12`, `leaf#3`, `scale-up switch#0 (domain 4)`.
    pub fn node_name(&self, id: NodeId) -> String {
        let n = self.node(id);
        match n.kind {
            NodeKind::Accel => format!("acc {}", n.scope),
            NodeKind::Switch => {
                let role = self
                    .switch_models
                    .get(n.model as usize)
                    .map(|m| m.role.as_str())
                    .unwrap_or("switch");
                let mut s = format!("{role} n{}", id.0);
                if n.plane != NONE && self.planes > 1 {
                    s.push_str(&format!(" plane {}", n.plane));
                }
                if n.domain != NONE {
                    s.push_str(&format!(" (domain {})", n.domain));
                }
                s
            }
        }
    }

    /// `src → dst` of a link.
    pub fn link_name(&self, l: LinkId) -> String {
        let link = self.link(l);
        format!("{} → {}", self.node_name(link.src), self.node_name(link.dst))
    }

    /// Sum of the capacities of accelerator `r`'s links in `net`, per direction.
    pub fn accel_bandwidth(&self, r: u32, net: Net) -> BytesPerSec {
        let n = self.accels[r as usize];
        let mut total = BytesPerSec::ZERO;
        for l in self.out_links(n) {
            let link = self.link(l);
            if link.net == net {
                total += link.capacity;
            }
        }
        total
    }
}
