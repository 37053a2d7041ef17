//! A mixed-accelerator cluster as the user writes it: pools (each a normal cluster spec, or a
//! node type and a GPU count) and the link between them, from a `mixed:` preset spec or a
//! cluster TOML with `[[pool]]` tables and a `[pool_link]` table. No I/O: file text arrives as
//! `&str`.

use fabric::topology::nodes::NODE_TYPES;

/// Where a pool's fabric comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolSource {
    /// A node type (`dgx-h100`, `dgx-a100`, `hgx-h800`, … or `cloudmatrix384` / `ascend-910c`)
    /// and a GPU count: a non-blocking fat-tree of those servers (CloudMatrix384 nodes for
    /// Ascend 910C). The sweep resizes pools given this way.
    Node { node: String, gpus: u32 },
    /// Any cluster spec `train --cluster` accepts (a preset with parameters or a TOML path).
    Spec(String),
}

/// One pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    pub name: String,
    pub source: PoolSource,
}

/// How the pools reach each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// GPUDirect RDMA between the pools' NICs, at the slower NIC's rate.
    Rdma,
    /// Through the hosts' CPUs: accelerator → host DRAM → NIC on one side, the reverse on the
    /// other (Baidu Baige's bridge to Ascend sub-clusters).
    CpuForwarding,
}

impl LinkKind {
    pub fn name(self) -> &'static str {
        match self {
            LinkKind::Rdma => "rdma",
            LinkKind::CpuForwarding => "cpu-forwarding",
        }
    }
}

/// The link between pools as given.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolLinkSpec {
    pub kind: LinkKind,
    /// RDMA: border NICs carrying cross-pool traffic (default: one per accelerator of the
    /// smaller pool — both pools under one spine).
    pub nics: Option<u32>,
    /// CPU forwarding: hosts forwarding (default: every host of the smaller pool).
    pub hosts: Option<u32>,
}

/// A mixed cluster as given.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedSpec {
    pub pools: Vec<PoolSpec>,
    /// `None`: no link between the pools (an error when loaded).
    pub link: Option<PoolLinkSpec>,
}

/// Node types a pool accepts besides [`NODE_TYPES`]: Ascend 910C as CloudMatrix384 nodes.
pub const ASCEND_NODES: &[&str] = &["cloudmatrix384", "ascend-910c"];

impl PoolSource {
    /// The cluster spec of the pool's fabric.
    pub fn cluster_spec(&self, field: &str) -> Result<String, String> {
        match self {
            PoolSource::Spec(s) => Ok(s.clone()),
            PoolSource::Node { node, gpus } => {
                if *gpus == 0 {
                    return Err(format!("{field}: 0 GPUs; a pool needs at least one server"));
                }
                if ASCEND_NODES.contains(&node.as_str()) {
                    if gpus % 8 != 0 || *gpus > 384 {
                        return Err(format!(
                            "{field}: {gpus} Ascend 910C; a CloudMatrix384 pool holds a multiple of 8 NPUs up to 384"
                        ));
                    }
                    Ok(format!("cloudmatrix384:nodes={}", gpus / 8))
                } else if NODE_TYPES.contains(&node.as_str()) {
                    Ok(format!("fat-tree:gpus={gpus},node={node}"))
                } else {
                    Err(format!(
                        "{field}: unknown pool node type `{node}` (expected one of {}, {})",
                        NODE_TYPES.join(", "),
                        ASCEND_NODES.join(", ")
                    ))
                }
            }
        }
    }
}

/// Is `spec` a mixed preset (`mixed` or `mixed:...`)?
pub fn is_mixed_preset(spec: &str) -> bool {
    spec == "mixed" || spec.starts_with("mixed:")
}

/// Does a cluster TOML describe a mixed cluster (`[[pool]]` tables)?
pub fn is_mixed_toml(text: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .map(|t| t.contains_key("pool") || t.contains_key("pool_link"))
        .unwrap_or(false)
}

fn parse_kind(v: &str, field: &str) -> Result<Option<LinkKind>, String> {
    match v {
        "rdma" => Ok(Some(LinkKind::Rdma)),
        "cpu-forwarding" | "cpu_forwarding" | "cpu" => Ok(Some(LinkKind::CpuForwarding)),
        "none" => Ok(None),
        o => Err(format!("{field} `{o}`: expected rdma, cpu-forwarding or none")),
    }
}

fn positive(v: &str, field: &str) -> Result<u32, String> {
    v.trim()
        .parse::<u32>()
        .map_err(|_| format!("{field} `{v}`: expected a whole number"))
}

/// Parse `mixed:first=dgx-h100,first_gpus=512,second=dgx-a100,second_gpus=512,link=rdma`
/// (keys: `first`, `first_gpus`, `second`, `second_gpus`, `link` = rdma | cpu-forwarding |
/// none, `link_nics`, `link_hosts`; defaults: 512 DGX H100 + 512 DGX A100 over RDMA).
pub fn parse_preset(spec: &str) -> Result<MixedSpec, String> {
    let rest = spec.strip_prefix("mixed").unwrap_or(spec);
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let mut first = "dgx-h100".to_string();
    let mut second = "dgx-a100".to_string();
    let (mut first_gpus, mut second_gpus) = (512u32, 512u32);
    let mut kind = Some(LinkKind::Rdma);
    let (mut nics, mut hosts) = (None, None);
    for kv in rest.split(',').filter(|s| !s.trim().is_empty()) {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(format!("mixed: `{kv}`: expected key=value"));
        };
        let (k, v) = (k.trim(), v.trim());
        let field = format!("mixed:{k}");
        match k {
            "first" => first = v.to_string(),
            "second" => second = v.to_string(),
            "first_gpus" => first_gpus = positive(v, &field)?,
            "second_gpus" => second_gpus = positive(v, &field)?,
            "link" => kind = parse_kind(v, &field)?,
            "link_nics" => nics = Some(positive(v, &field)?),
            "link_hosts" => hosts = Some(positive(v, &field)?),
            o => {
                return Err(format!(
                    "mixed: unknown parameter `{o}` (expected first, first_gpus, second, second_gpus, link, link_nics, link_hosts)"
                ))
            }
        }
    }
    Ok(MixedSpec {
        pools: vec![
            PoolSpec {
                name: "first".into(),
                source: PoolSource::Node {
                    node: first,
                    gpus: first_gpus,
                },
            },
            PoolSpec {
                name: "second".into(),
                source: PoolSource::Node {
                    node: second,
                    gpus: second_gpus,
                },
            },
        ],
        link: kind.map(|kind| PoolLinkSpec { kind, nics, hosts }),
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePool {
    name: Option<String>,
    cluster: Option<String>,
    node: Option<String>,
    gpus: Option<u32>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLink {
    kind: Option<String>,
    nics: Option<u32>,
    hosts: Option<u32>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMixed {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    pool: Vec<FilePool>,
    pool_link: Option<FileLink>,
}

/// Parse a mixed cluster TOML:
///
/// ```toml
/// [[pool]]
/// name = "h100"
/// cluster = "fat-tree:gpus=512"          # any cluster spec, or node = "dgx-h100", gpus = 512
/// [[pool]]
/// name = "a100"
/// node = "dgx-a100"
/// gpus = 512
/// [pool_link]
/// kind = "rdma"                          # or "cpu-forwarding"; nics = N, hosts = N
/// ```
pub fn parse_toml(text: &str, path: &str) -> Result<MixedSpec, String> {
    let f: FileMixed = toml::from_str(text).map_err(|e| format!("{path}: {}", e.to_string().trim()))?;
    let _ = (&f.name, &f.description);
    let mut pools = Vec::new();
    for (i, p) in f.pool.iter().enumerate() {
        let name = p.name.clone().unwrap_or_else(|| format!("pool{i}"));
        let field = format!("{path}: pool[{i}] (`{name}`)");
        let source = match (&p.cluster, &p.node, p.gpus) {
            (Some(c), None, None) => PoolSource::Spec(c.clone()),
            (None, Some(n), Some(g)) => PoolSource::Node {
                node: n.clone(),
                gpus: g,
            },
            (None, Some(_), None) => return Err(format!("{field}: `node` needs `gpus`")),
            (None, None, _) => return Err(format!("{field}: give `cluster = \"<spec>\"` or `node` and `gpus`")),
            _ => return Err(format!("{field}: give either `cluster` or `node` + `gpus`, not both")),
        };
        if pools.iter().any(|q: &PoolSpec| q.name == name) {
            return Err(format!("{field}: pool name `{name}` used twice"));
        }
        pools.push(PoolSpec { name, source });
    }
    let link = match &f.pool_link {
        None => None,
        Some(l) => {
            let kind = match &l.kind {
                Some(k) => parse_kind(k, &format!("{path}: pool_link.kind"))?,
                None => Some(LinkKind::Rdma),
            };
            kind.map(|kind| PoolLinkSpec {
                kind,
                nics: l.nics,
                hosts: l.hosts,
            })
        }
    };
    Ok(MixedSpec { pools, link })
}

/// The first pool's share of the accelerators as whole 8-accelerator servers: the first pool's
/// GPU count for `share` ∈ (0, 1) of `total`, at least one server on each side. One rule for
/// `train --mixed-sweep` and the `pool_shares` axis of `sweep`.
pub fn first_pool_gpus(share: f64, total: u32) -> u32 {
    ((share * total as f64 / 8.0).round() as u32 * 8).clamp(8, total.saturating_sub(8).max(8))
}

impl MixedSpec {
    /// The two node-typed pools (node, GPUs), or `None` when the spec has other pools.
    pub fn node_pools(&self) -> Option<[(&str, u32); 2]> {
        match self.pools.as_slice() {
            [a, b] => match (&a.source, &b.source) {
                (PoolSource::Node { node: n1, gpus: g1 }, PoolSource::Node { node: n2, gpus: g2 }) => {
                    Some([(n1.as_str(), *g1), (n2.as_str(), *g2)])
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The same two node-typed pools with the first holding `share` of their total (whole
    /// servers, [`first_pool_gpus`]) and the second the rest; an error (naming `field`) for
    /// other specs or a share outside (0, 1).
    pub fn with_first_share(&self, share: f64, field: &str) -> Result<MixedSpec, String> {
        let Some([(n1, g1), (n2, g2)]) = self.node_pools() else {
            return Err(format!(
                "{field}: resizing pools needs two pools given by node type and GPU count (mixed:first=...,first_gpus=...)"
            ));
        };
        if !(share > 0.0 && share < 1.0) {
            return Err(format!("{field} {share}: a first-pool share must lie in (0, 1)"));
        }
        let total = g1 + g2;
        if total < 16 {
            return Err(format!(
                "{field}: the pools hold {total} accelerators in all; resizing by whole 8-accelerator servers per pool needs at least 16"
            ));
        }
        let first = first_pool_gpus(share, total);
        let mut s = self.clone();
        s.pools[0].source = PoolSource::Node {
            node: n1.to_string(),
            gpus: first,
        };
        s.pools[1].source = PoolSource::Node {
            node: n2.to_string(),
            gpus: total - first,
        };
        Ok(s)
    }

    /// The `mixed:` preset text of a two-pool, node-typed spec with every key written (so
    /// [`parse_preset`] gives the spec back); `None` for other specs.
    pub fn to_preset(&self) -> Option<String> {
        let [(n1, g1), (n2, g2)] = self.node_pools()?;
        let mut s = format!("mixed:first={n1},first_gpus={g1},second={n2},second_gpus={g2},link=");
        match &self.link {
            None => s.push_str("none"),
            Some(l) => {
                s.push_str(l.kind.name());
                if let Some(n) = l.nics {
                    s.push_str(&format!(",link_nics={n}"));
                }
                if let Some(h) = l.hosts {
                    s.push_str(&format!(",link_hosts={h}"));
                }
            }
        }
        Some(s)
    }

    /// The spec as a cluster TOML (`[[pool]]` tables and `[pool_link]`) that [`parse_toml`]
    /// reads back to the same spec: how the sweep carries a mixed cluster file's pools, resized
    /// or not, inside a point (its fingerprint covers this text).
    pub fn to_toml(&self) -> String {
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut s = String::new();
        for p in &self.pools {
            s.push_str(&format!("[[pool]]\nname = {}\n", quote(&p.name)));
            match &p.source {
                PoolSource::Spec(c) => s.push_str(&format!("cluster = {}\n", quote(c))),
                PoolSource::Node { node, gpus } => s.push_str(&format!("node = {}\ngpus = {gpus}\n", quote(node))),
            }
        }
        s.push_str("[pool_link]\n");
        match &self.link {
            None => s.push_str("kind = \"none\"\n"),
            Some(l) => {
                s.push_str(&format!("kind = {}\n", quote(l.kind.name())));
                if let Some(n) = l.nics {
                    s.push_str(&format!("nics = {n}\n"));
                }
                if let Some(h) = l.hosts {
                    s.push_str(&format!("hosts = {h}\n"));
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_text_round_trips() {
        for s in [
            "mixed:first=dgx-h100,first_gpus=256,second=dgx-a100,second_gpus=768,link=rdma",
            "mixed:first=dgx-h100,first_gpus=64,second=ascend-910c,second_gpus=64,link=cpu-forwarding,link_hosts=4",
            "mixed:first=dgx-h100,first_gpus=8,second=dgx-a100,second_gpus=8,link=none",
        ] {
            let spec = parse_preset(s).unwrap();
            assert_eq!(spec.to_preset().as_deref(), Some(s));
        }
    }

    #[test]
    fn toml_text_round_trips() {
        let file = "[[pool]]\nname = \"h \\\"100\\\"\"\ncluster = \"fat-tree:gpus=64,node=dgx-h100\"\n[[pool]]\nname = \"a100\"\nnode = \"dgx-a100\"\ngpus = 64\n[pool_link]\nkind = \"cpu-forwarding\"\nhosts = 4\n";
        let spec = parse_toml(file, "f.toml").unwrap();
        assert_eq!(spec.pools[0].name, "h \"100\"");
        assert_eq!(parse_toml(&spec.to_toml(), "t").unwrap(), spec);
        for s in [
            "mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=64,link=rdma,link_nics=16",
            "mixed:first=dgx-h100,first_gpus=8,second=dgx-a100,second_gpus=8,link=none",
        ] {
            let spec = parse_preset(s).unwrap();
            assert_eq!(parse_toml(&spec.to_toml(), "t").unwrap(), spec, "{s}");
        }
    }

    #[test]
    fn first_share_takes_whole_servers() {
        let spec = parse_preset("mixed:first_gpus=512,second_gpus=512").unwrap();
        let g = |share: f64| spec.with_first_share(share, "f").unwrap().to_preset().unwrap();
        let want =
            |a: u32, b: u32| format!("mixed:first=dgx-h100,first_gpus={a},second=dgx-a100,second_gpus={b},link=rdma");
        assert_eq!(g(0.25), want(256, 768));
        assert_eq!(g(0.001), want(8, 1016));
        assert_eq!(g(0.999), want(1016, 8));
        assert!(spec.with_first_share(1.0, "f").unwrap_err().contains("(0, 1)"));
        let small = parse_preset("mixed:first_gpus=8,second_gpus=0").unwrap();
        assert!(small.with_first_share(0.5, "f").unwrap_err().contains("at least 16"));
    }
}
