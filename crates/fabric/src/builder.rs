//! Building a [`Fabric`]: generators add nodes and cables, then [`FabricBuilder::build`] makes
//! the routing structure (CSR adjacency, up/down links, scope tree) and validates the result.

use crate::error::{FabricError, Result};
use crate::model::*;
use units::{BytesPerSec, Seconds};

/// Incremental construction of a fabric.
#[derive(Debug, Default)]
pub struct FabricBuilder {
    pub name: String,
    pub description: String,
    pub accel_model: &'static str,
    pub scale_up_link: Option<&'static str>,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub accels: Vec<NodeId>,
    pub domain_size: u32,
    pub scale_up: Option<ScaleUpKind>,
    pub planes: u32,
    pub switch_models: Vec<SwitchModel>,
    pub extras: Extras,
    pub bisection: BytesPerSec,
    pub bisection_method: String,
    pub assumptions: Vec<String>,
    /// scope id -> parent scope id
    scope_parent: Vec<u32>,
    /// Chip radix and port speed per switch model, for the port check (0 = unchecked).
    pub radix: Vec<(u64, f64)>,
}

/// Where a switch sits in the fabric.
#[derive(Debug, Clone, Copy)]
pub struct SwitchSpec {
    pub net: Net,
    pub tier: u8,
    pub chips: u32,
    pub model: u32,
    pub domain: u32,
    pub plane: u32,
    pub pod: u32,
    pub site: u32,
    pub scope: u32,
}

impl FabricBuilder {
    pub fn new(name: impl Into<String>, accel_model: &'static str) -> Self {
        Self {
            name: name.into(),
            accel_model,
            domain_size: 1,
            planes: 1,
            ..Self::default()
        }
    }

    /// Register a switch model (chip id + role) with the ports one chip has and their speed
    /// (per direction). Ports are counted by bandwidth, so a 400G port may serve two 200G links.
    pub fn switch_model(
        &mut self,
        chip: &'static str,
        role: impl Into<String>,
        radix: u64,
        port_speed: BytesPerSec,
    ) -> u32 {
        self.switch_models.push(SwitchModel {
            chip,
            role: role.into(),
        });
        self.radix.push((radix, port_speed.0));
        (self.switch_models.len() - 1) as u32
    }

    /// Add the next accelerator (rank slot `accels.len()`).
    pub fn accel(&mut self, domain: u32, pod: u32, site: u32) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node {
            kind: NodeKind::Accel,
            net: Net::ScaleUp,
            tier: 0,
            chips: 1,
            model: NONE,
            domain,
            plane: NONE,
            pod,
            site,
            scope: self.accels.len() as u32,
        });
        self.accels.push(id);
        id
    }

    pub fn switch(&mut self, s: SwitchSpec) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node {
            kind: NodeKind::Switch,
            net: s.net,
            tier: s.tier,
            chips: s.chips,
            model: s.model,
            domain: s.domain,
            plane: s.plane,
            pod: s.pod,
            site: s.site,
            scope: s.scope,
        });
        id
    }

    /// A new down-scope whose parent scope is `parent` (or `NONE` for a top-tier scope).
    pub fn scope(&mut self, parent: u32) -> u32 {
        self.scope_parent.push(parent);
        (self.scope_parent.len() - 1) as u32
    }

    /// Set the parent of a scope created earlier (when the parent tier is made later).
    pub fn set_scope_parent(&mut self, scope: u32, parent: u32) {
        self.scope_parent[scope as usize] = parent;
    }

    /// One cable between `a` and `b`: two directed links of `capacity` each way.
    #[allow(clippy::too_many_arguments)]
    pub fn cable(
        &mut self,
        a: NodeId,
        b: NodeId,
        capacity: BytesPerSec,
        latency: Seconds,
        medium: Medium,
        net: Net,
        lanes: u32,
    ) -> LinkId {
        let id = LinkId(self.links.len() as u32);
        for (s, d) in [(a, b), (b, a)] {
            self.links.push(Link {
                src: s,
                dst: d,
                capacity,
                latency,
                medium,
                net,
                lanes,
            });
        }
        id
    }

    /// A link from switch `low` up to switch `high` that skips tiers: `high` is more than one
    /// tier above, in the same net, and its scope is the parent of `low`'s. Joined sites of
    /// different depths meet their DCI router and the WAN meeting point this way
    /// (`topology::sites`); within one Clos every up-link climbs exactly one tier.
    fn skips_up(&self, low: &Node, high: &Node) -> bool {
        low.kind == NodeKind::Switch
            && high.kind == NodeKind::Switch
            && low.net == high.net
            && high.tier > low.tier + 1
            && low.scope != NONE
            && high.scope != NONE
            && self.scope_parent.get(low.scope as usize) == Some(&high.scope)
    }

    /// Finish: build the routing structure and validate.
    pub fn build(self) -> Result<Fabric> {
        let ctx = self.name.clone();
        let n = self.nodes.len();
        if self.accels.is_empty() {
            return Err(FabricError::Impossible {
                context: ctx,
                problem: "the fabric has no accelerators".into(),
            });
        }
        if self.domain_size == 0 || self.accels.len() % self.domain_size as usize != 0 {
            return Err(FabricError::Impossible {
                context: ctx,
                problem: format!(
                    "{} accelerators do not split into scale-up domains of {}",
                    self.accels.len(),
                    self.domain_size
                ),
            });
        }
        for (i, l) in self.links.iter().enumerate() {
            if !(l.capacity.0.is_finite() && l.capacity.0 > 0.0) {
                return Err(FabricError::BadCapacity {
                    context: ctx,
                    link: i as u32,
                    src: l.src.0,
                    dst: l.dst.0,
                    capacity: l.capacity.0,
                });
            }
        }
        // CSR of out-links sorted by destination.
        let mut deg = vec![0u32; n + 1];
        for l in &self.links {
            deg[l.src.0 as usize + 1] += 1;
        }
        for i in 0..n {
            deg[i + 1] += deg[i];
        }
        let out_start = deg.clone();
        let mut fill = deg;
        let mut out_links = vec![0u32; self.links.len()];
        for (i, l) in self.links.iter().enumerate() {
            let s = l.src.0 as usize;
            out_links[fill[s] as usize] = i as u32;
            fill[s] += 1;
        }
        for i in 0..n {
            let s = &mut out_links[out_start[i] as usize..out_start[i + 1] as usize];
            s.sort_by_key(|&l| (self.links[l as usize].dst, l));
        }
        // Port check: the bandwidth of a switch's links, in ports of its chip, must fit the
        // radix of its chips.
        for (i, node) in self.nodes.iter().enumerate() {
            if node.kind != NodeKind::Switch || node.model == NONE {
                continue;
            }
            let (radix, speed) = self.radix[node.model as usize];
            if radix == 0 || speed <= 0.0 {
                continue;
            }
            let bw: f64 = out_links[out_start[i] as usize..out_start[i + 1] as usize]
                .iter()
                .map(|&l| self.links[l as usize].capacity.0)
                .sum();
            let ports = (bw / speed * (1.0 - 1e-9)).ceil() as u64;
            let have = radix * node.chips as u64;
            if ports > have {
                let m = &self.switch_models[node.model as usize];
                return Err(FabricError::RadixExceeded {
                    context: ctx,
                    node: i as u32,
                    role: m.role.clone(),
                    chip: m.chip.to_string(),
                    needed: ports,
                    radix,
                    chips: node.chips,
                });
            }
        }
        // Up and down links of switches; accelerator ports.
        let mut up_start = vec![0u32; n + 1];
        let mut down_start = vec![0u32; n + 1];
        let mut up_links = Vec::new();
        let mut down_links = Vec::new();
        for i in 0..n {
            let me = &self.nodes[i];
            if me.kind == NodeKind::Switch {
                for &l in &out_links[out_start[i] as usize..out_start[i + 1] as usize] {
                    let link = &self.links[l as usize];
                    let other = &self.nodes[link.dst.0 as usize];
                    if other.kind == NodeKind::Switch && other.net == me.net && other.tier == me.tier + 1
                        || self.skips_up(me, other)
                    {
                        up_links.push(l);
                    }
                }
                let start = down_links.len();
                for &l in &out_links[out_start[i] as usize..out_start[i + 1] as usize] {
                    let link = &self.links[l as usize];
                    let other = &self.nodes[link.dst.0 as usize];
                    if other.tier + 1 == me.tier && (other.kind == NodeKind::Accel || other.net == me.net)
                        || self.skips_up(other, me)
                    {
                        down_links.push((other.scope, l));
                    }
                }
                down_links[start..].sort_unstable();
            }
            up_start[i + 1] = up_links.len() as u32;
            down_start[i + 1] = down_links.len() as u32;
        }
        // Each up- and down-link with the node it leads to, side by side (a route reads both at
        // each hop: one small array, not the link records, and one cache line, not two).
        let up_hop: Vec<(u32, u32)> = up_links.iter().map(|&l| (l, self.links[l as usize].dst.0)).collect();
        let down_hop: Vec<(u32, u32)> = down_links
            .iter()
            .map(|&(_, l)| (l, self.links[l as usize].dst.0))
            .collect();
        let mut down_run_bounds = Vec::new();
        let down_runs: Vec<DownRuns> = (0..n)
            .map(|i| {
                DownRuns::of(
                    &down_links[down_start[i] as usize..down_start[i + 1] as usize],
                    &mut down_run_bounds,
                )
            })
            .collect();
        let na = self.accels.len();
        let mut su_port_start = vec![0u32; na + 1];
        let mut so_port_start = vec![0u32; na + 1];
        let mut su_ports = Vec::new();
        let mut so_ports = Vec::new();
        for (r, &a) in self.accels.iter().enumerate() {
            let i = a.0 as usize;
            let mut so: Vec<u32> = Vec::new();
            for &l in &out_links[out_start[i] as usize..out_start[i + 1] as usize] {
                let link = &self.links[l as usize];
                let other = &self.nodes[link.dst.0 as usize];
                if other.kind == NodeKind::Switch {
                    match link.net {
                        Net::ScaleUp => su_ports.push(l),
                        _ => so.push(l),
                    }
                }
            }
            so.sort_by_key(|&l| (self.nodes[self.links[l as usize].dst.0 as usize].plane, l));
            so_ports.extend(so);
            su_port_start[r + 1] = su_ports.len() as u32;
            so_port_start[r + 1] = so_ports.len() as u32;
        }
        let mut fabric = Fabric {
            name: self.name,
            description: self.description,
            accel_model: self.accel_model,
            scale_up_link: self.scale_up_link,
            nodes: self.nodes,
            links: self.links,
            accels: self.accels,
            domain_size: self.domain_size,
            scale_up: self.scale_up.unwrap_or(ScaleUpKind::None),
            planes: self.planes.max(1),
            switch_models: self.switch_models,
            extras: self.extras,
            bisection: self.bisection,
            bisection_method: self.bisection_method,
            assumptions: self.assumptions,
            routing: crate::routing::RoutingMode::default(),
            out_start,
            out_links,
            up_start,
            up_hop,
            down_start,
            down_links,
            down_hop,
            down_runs,
            down_run_bounds,
            scope_parent: self.scope_parent,
            su_port_start,
            su_ports,
            so_port_start,
            so_ports,
            one_port: Vec::new(),
        };
        fabric.index_ports();
        fabric.check_connected()?;
        Ok(fabric)
    }
}

impl Fabric {
    /// Breadth-first search from accelerator 0 over all links.
    fn check_connected(&self) -> Result<()> {
        let n = self.nodes.len();
        let mut seen = vec![false; n];
        let mut queue = std::collections::VecDeque::new();
        let start = self.accels[0].0 as usize;
        seen[start] = true;
        queue.push_back(start);
        while let Some(u) = queue.pop_front() {
            for &l in &self.out_links[self.out_start[u] as usize..self.out_start[u + 1] as usize] {
                let v = self.links[l as usize].dst.0 as usize;
                if !seen[v] {
                    seen[v] = true;
                    queue.push_back(v);
                }
            }
        }
        if let Some(bad) = seen.iter().position(|s| !s) {
            let node = &self.nodes[bad];
            let what = match node.kind {
                NodeKind::Accel => format!("accelerator {}", node.scope),
                NodeKind::Switch => format!("tier-{} switch", node.tier),
            };
            return Err(FabricError::Disconnected {
                context: self.name.clone(),
                node: bad as u32,
                what,
            });
        }
        Ok(())
    }
}
