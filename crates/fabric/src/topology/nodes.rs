//! Server and rack types: one scale-up domain and its scale-out NICs. Figures from the reference
//! table of systems (sources per line); component figures live in [`crate::catalogue`].

use crate::error::{FabricError, Result};
use units::BytesPerSec;

/// How the accelerators of one domain are joined.
#[derive(Debug, Clone, PartialEq)]
pub enum ScaleUpSpec {
    /// No scale-up network (one accelerator per domain).
    Single,
    /// Every accelerator has `lanes` links, spread evenly over `chips` switch chips
    /// (NVSwitch / NVLink Switch). Traffic is sprayed over all chips, so the chips act as one
    /// logical switch of capacity `lanes × lane` per accelerator (exact for the fluid model).
    Star {
        size: u32,
        chips: u32,
        chip: &'static str,
        chip_radix: u64,
        lanes: u32,
        lane: BytesPerSec,
    },
    /// Direct links between every pair, `lanes` per pair.
    FullMesh { size: u32, lanes: u32, lane: BytesPerSec },
    /// Torus (or mesh where `wrap` is false) of `dims`; `cube` is the electrically wired block
    /// (links leaving a cube are optical through an OCS), `twist` per dimension.
    Torus {
        dims: [u32; 3],
        wrap: [bool; 3],
        twist: [u32; 3],
        lane: BytesPerSec,
        cube: Option<[u32; 3]>,
    },
    /// UB-style 2-level Clos (CloudMatrix384): `nodes` × `per_node` NPUs; each NPU has one link
    /// to the L1 chip of each of `planes` planes on its node; each plane has `l2_per_plane` L2
    /// chips, each L1 linked once to every L2 of its plane. Planes are folded (traffic sprays).
    UbClos {
        nodes: u32,
        per_node: u32,
        planes: u32,
        l2_per_plane: u32,
        lane: BytesPerSec,
        l1_up: BytesPerSec,
        chip: &'static str,
        chip_radix: u64,
    },
}

impl ScaleUpSpec {
    pub fn size(&self) -> u32 {
        match self {
            ScaleUpSpec::Single => 1,
            ScaleUpSpec::Star { size, .. } | ScaleUpSpec::FullMesh { size, .. } => *size,
            ScaleUpSpec::Torus { dims, .. } => dims.iter().product(),
            ScaleUpSpec::UbClos { nodes, per_node, .. } => nodes * per_node,
        }
    }
}

/// A server or rack: a scale-up domain plus its scale-out NICs.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeType {
    pub id: &'static str,
    pub description: &'static str,
    /// Catalogue id of the accelerator and of the scale-up link technology.
    pub accel: &'static str,
    pub link_tech: Option<&'static str>,
    pub scale_up: ScaleUpSpec,
    /// Scale-out ports per accelerator and their speed (per direction).
    pub ports_per_accel: u32,
    pub port: BytesPerSec,
    /// Catalogue id of the scale-out NIC; NIC cards per accelerator.
    pub nic: &'static str,
    pub nics_per_accel: u32,
    /// Host servers (or compute trays, TPU hosts) and CPUs per domain.
    pub hosts: u32,
    pub cpus: u32,
    /// Catalogue id of the host (`catalogue::host`): its CPU model, the power and price of
    /// everything else in a host, and how many hosts fill a rack.
    pub host: &'static str,
    pub source: &'static str,
}

use crate::catalogue as cat;

const NVLINK4: BytesPerSec = cat::NVLINK4.per_link;
const NVLINK3: BytesPerSec = cat::NVLINK3.per_link;
const NVLINK5: BytesPerSec = cat::NVLINK5.per_link;

/// Every id [`node_type`] accepts, aliases included, in the order error messages list them.
pub const NODE_TYPES: &[&str] = &[
    "dgx-h100",
    "hgx-h100",
    "hgx-h200",
    "hgx-h800",
    "hgx-h20",
    "grand-teton-h100",
    "dgx-a100",
    "hgx-a100",
    "hgx-b200",
    "dgx-b200",
    "hgx-b300",
    "dgx-b300",
    "gb200-nvl72",
    "gb300-nvl72",
    "mi300x",
    "mi300x-node",
    "gaudi3",
    "gaudi3-node",
];

/// Every GPU [`hgx`] accepts.
pub const HGX_GPUS: &[&str] = &["a100", "h100", "h200", "h800", "h20", "b200", "b300"];

/// The 8-GPU NVSwitch server of a generation (`hgx:gpu=...`), and the other named nodes.
pub fn node_type(id: &str) -> Result<NodeType> {
    let star = |chips, chip, radix, lanes, lane| ScaleUpSpec::Star {
        size: 8,
        chips,
        chip,
        chip_radix: radix,
        lanes,
        lane,
    };
    let n = match id {
        // DGX/HGX H100: 8 GPUs, 4 third-generation NVSwitch (64 NVLink4 ports each), 18 NVLink4
        // links per GPU at 25 GB/s/dir (900 GB/s bidir), 8 × ConnectX-7 400G, 2 × Xeon 8480C.
        // Source: NVIDIA DGX SuperPOD H100 RA "Key components"; DGX BasePOD RA; NVLink page.
        "dgx-h100" | "hgx-h100" => NodeType {
            id: "dgx-h100",
            description: "8 × H100 SXM5, 4 NVSwitch gen3, 18 × NVLink4 per GPU, 8 × 400G NDR",
            accel: "h100",
            link_tech: Some("nvlink4"),
            scale_up: star(4, "nvswitch3", 64, 18, NVLINK4),
            ports_per_accel: 1,
            port: cat::CX7_400G.port_speed,
            nic: "cx7-400g",
            nics_per_accel: 1,
            hosts: 1,
            cpus: 2,
            host: "dgx-h100",
            source: "NVIDIA DGX SuperPOD (H100) reference architecture, key components [P]",
        },
        // H200: same baseboard as H100 (NVLink4, 18 links), 141 GB HBM3e.
        // Source: MLCommons system JSON "18x 4th Gen NVLink, 900GB/s" for H200-SXM-141GBx8 [P].
        "hgx-h200" => NodeType {
            id: "hgx-h200",
            description: "8 × H200 SXM, 4 NVSwitch gen3, 18 × NVLink4 per GPU, 8 × 400G",
            accel: "h200",
            link_tech: Some("nvlink4"),
            scale_up: star(4, "nvswitch3", 64, 18, NVLINK4),
            ports_per_accel: 1,
            port: cat::CX7_400G.port_speed,
            nic: "cx7-400g",
            nics_per_accel: 1,
            hosts: 1,
            cpus: 2,
            host: "hgx-h200",
            source: "MLCommons inference v4.1 H200-SXM-141GBx8 system description [P]",
        },
        // H800: the export variant of H100 with NVLink cut to 400 GB/s bidir = 8 NVLink4 links.
        // [A] assumption: 8 links of 25 GB/s/dir (400 GB/s bidir as NVIDIA states for H800).
        "hgx-h800" => NodeType {
            id: "hgx-h800",
            description: "8 × H800 SXM, NVSwitch gen3, 8 × NVLink4 per GPU (400 GB/s bidir), 8 × 400G",
            accel: "h800",
            link_tech: Some("nvlink4"),
            scale_up: star(4, "nvswitch3", 64, 8, NVLINK4),
            ports_per_accel: 1,
            port: cat::CX7_400G.port_speed,
            nic: "cx7-400g",
            nics_per_accel: 1,
            hosts: 1,
            cpus: 2,
            host: "hgx-h800",
            source: "NVIDIA H800 NVLink 400 GB/s (public spec) [A]",
        },
        // HGX H20: the H100 baseboard (NVSwitch gen3, 18 NVLink4 links, 900 GB/s bidir) with
        // H20 GPUs; 8 × 400G as HGX H100 [A]. Source: the catalogue's `H20` entry.
        "hgx-h20" => NodeType {
            id: "hgx-h20",
            description: "8 × H20, 4 NVSwitch gen3, 18 × NVLink4 per GPU (900 GB/s bidir), 8 × 400G",
            accel: "h20",
            link_tech: Some("nvlink4"),
            scale_up: star(4, "nvswitch3", 64, 18, NVLINK4),
            ports_per_accel: 1,
            port: cat::CX7_400G.port_speed,
            nic: "cx7-400g",
            nics_per_accel: 1,
            hosts: 1,
            cpus: 2,
            host: "dgx-h100",
            source: "NVIDIA H20 product brief (NVLink 900 GB/s) [C]; HGX H100 baseboard and NICs [A]",
        },
        // Meta Grand Teton: 8 × H100 96GB HBM2e at 500 W, fully connected by NVLink (the HGX
        // baseboard), 400 Gb/s RDMA per GPU. Source: pytorch/torchtitan
        // benchmarks/llama3_h100_202412_torchtitan.md, "Hardware" [S]; host as DGX H100 [A].
        "grand-teton-h100" => NodeType {
            id: "grand-teton-h100",
            description: "Meta Grand Teton: 8 × H100 96GB HBM2e (500 W), NVSwitch gen3, 18 × NVLink4 per GPU, 8 × 400G",
            accel: "h100-96gb",
            link_tech: Some("nvlink4"),
            scale_up: star(4, "nvswitch3", 64, 18, NVLINK4),
            ports_per_accel: 1,
            port: cat::CX7_400G.port_speed,
            nic: "cx7-400g",
            nics_per_accel: 1,
            hosts: 1,
            cpus: 2,
            host: "dgx-h100",
            source: "torchtitan llama3_h100_202412 benchmark, Hardware (Grand Teton) [S]",
        },
        // DGX A100: 8 × A100, 6 NVSwitch gen2, 12 NVLink3 links per GPU at 25 GB/s/dir
        // (600 GB/s bidir), 8 × 200G HDR (Selene: "8x 200Gb/s HDR InfiniBand HCAs per node",
        // Megatron-LM SC'21). NVSwitch gen2 radix 36 [A] from NVIDIA's DGX A100 whitepaper.
        "dgx-a100" | "hgx-a100" => NodeType {
            id: "dgx-a100",
            description: "8 × A100 SXM4, 6 NVSwitch gen2, 12 × NVLink3 per GPU, 8 × 200G HDR",
            accel: "a100",
            link_tech: Some("nvlink3"),
            scale_up: star(6, "nvswitch2", 36, 12, NVLINK3),
            ports_per_accel: 1,
            port: cat::CX6_200G_HDR.port_speed,
            nic: "cx7-200g-hdr",
            nics_per_accel: 1,
            hosts: 1,
            cpus: 2,
            host: "dgx-a100",
            source: "Megatron-LM SC'21 (Selene); NVIDIA DGX A100 whitepaper [A]",
        },
        // HGX B200: 8 × B200, 2 NVLink5 switch chips, 18 NVLink5 links per GPU at 50 GB/s/dir
        // (1.8 TB/s bidir), 8 × 400G ConnectX-7. [A] 2 switch chips of 72 ports (NVLink 5 switch).
        "hgx-b200" | "dgx-b200" => NodeType {
            id: "hgx-b200",
            description: "8 × B200, NVLink5 switch, 18 × NVLink5 per GPU (1.8 TB/s bidir), 8 × 400G",
            accel: "b200",
            link_tech: Some("nvlink5"),
            scale_up: star(2, "nvlink5-switch", 72, 18, NVLINK5),
            ports_per_accel: 1,
            port: cat::CX7_400G.port_speed,
            nic: "cx7-400g",
            nics_per_accel: 1,
            hosts: 1,
            cpus: 2,
            host: "hgx-b200",
            source: "NVIDIA NVLink page (NVLink5 18 × 100 GB/s); glennklockwood B200 [S]",
        },
        // HGX B300: NVLink5 as B200, 8 × ConnectX-8 800G (B300 XDR SuperPOD RA) [P].
        "hgx-b300" | "dgx-b300" => NodeType {
            id: "hgx-b300",
            description: "8 × B300, NVLink5 switch, 18 × NVLink5 per GPU, 8 × 800G XDR",
            accel: "b300",
            link_tech: Some("nvlink5"),
            scale_up: star(2, "nvlink5-switch", 72, 18, NVLINK5),
            ports_per_accel: 1,
            port: cat::CX8_800G.port_speed,
            nic: "cx8-800g",
            nics_per_accel: 1,
            hosts: 1,
            cpus: 2,
            host: "hgx-b300",
            source: "NVIDIA DGX SuperPOD B300 XDR RA [P]",
        },
        // GB200 NVL72: 72 GPUs, 36 Grace, 18 compute trays, 9 switch trays × 2 NVLink switch
        // chips = 18 chips of 72 ports; each GPU has one NVLink5 link to each chip (1.8 TB/s
        // bidir); 1 × CX7 400G per GPU. Source: DGX GB200 user guide; SuperPOD GB200 RA [P].
        "gb200-nvl72" => NodeType {
            id: "gb200-nvl72",
            description: "GB200 NVL72 rack: 72 GPUs + 36 Grace, 18 NVLink5 switch chips, 1 × 400G per GPU",
            accel: "gb200",
            link_tech: Some("nvlink5"),
            scale_up: ScaleUpSpec::Star {
                size: 72,
                chips: 18,
                chip: "nvlink5-switch",
                chip_radix: 72,
                lanes: 18,
                lane: NVLINK5,
            },
            ports_per_accel: 1,
            port: cat::CX7_400G.port_speed,
            nic: "cx7-400g",
            nics_per_accel: 1,
            hosts: 18,
            cpus: 36,
            host: "gb200-nvl72",
            source: "NVIDIA DGX GB200 user guide; DGX SuperPOD GB200 RA network fabrics [P]",
        },
        // GB300 NVL72: same NVLink5 rack, 4 × ConnectX-8 800G per tray (1 per GPU) [P].
        "gb300-nvl72" => NodeType {
            id: "gb300-nvl72",
            description: "GB300 NVL72 rack: 72 GPUs + 36 Grace, 18 NVLink5 switch chips, 1 × 800G per GPU",
            accel: "gb300",
            link_tech: Some("nvlink5"),
            scale_up: ScaleUpSpec::Star {
                size: 72,
                chips: 18,
                chip: "nvlink5-switch",
                chip_radix: 72,
                lanes: 18,
                lane: NVLINK5,
            },
            ports_per_accel: 1,
            port: cat::CX8_800G.port_speed,
            nic: "cx8-800g",
            nics_per_accel: 1,
            hosts: 18,
            cpus: 36,
            host: "gb300-nvl72",
            source: "NVIDIA Enterprise RA NVL72 (GB300 tray: 4 × ConnectX-8) [P]",
        },
        // AMD MI300X UBB: 8 GPUs, fully connected xGMI, 7 links per GPU at 64 GB/s/dir
        // (128 GB/s bidir) [S]; scale-out 1 × 400G per GPU [U].
        "mi300x" | "mi300x-node" => NodeType {
            id: "mi300x-node",
            description: "8 × MI300X, full xGMI mesh (7 × 64 GB/s/dir per GPU), 8 × 400G",
            accel: "mi300x",
            link_tech: Some("xgmi3"),
            scale_up: ScaleUpSpec::FullMesh {
                size: 8,
                lanes: 1,
                lane: cat::XGMI3.per_link,
            },
            ports_per_accel: 1,
            port: cat::CX7_400G.port_speed,
            nic: "cx7-400g",
            nics_per_accel: 1,
            hosts: 1,
            cpus: 2,
            host: "mi300x-node",
            source: "gpu.blog MI300X spec; emergentmind MI300X summary [S]; scale-out [U]",
        },
        // Intel Gaudi 3 HLS-3: 8 chips, 3 × 200 GbE to each of the 7 peers (21 scale-up ports),
        // 3 × 200 GbE scale-out per chip (on-die NICs). Source: Intel Gaudi docs [P].
        "gaudi3" | "gaudi3-node" => NodeType {
            id: "gaudi3-node",
            description: "8 × Gaudi 3, RoCE full mesh (3 × 200G to each peer), 3 × 200G scale-out per chip",
            accel: "gaudi3",
            link_tech: Some("gaudi3-roce"),
            scale_up: ScaleUpSpec::FullMesh {
                size: 8,
                lanes: 3,
                lane: cat::GAUDI3_ROCE.per_link,
            },
            ports_per_accel: 3,
            port: cat::GAUDI3_ONCHIP.port_speed,
            nic: "gaudi3-onchip-200g",
            nics_per_accel: 0,
            hosts: 1,
            cpus: 2,
            host: "gaudi3-node",
            source: "Intel Gaudi docs, Network Configuration [P]",
        },
        _ => {
            return Err(FabricError::BadParam {
                context: "node".into(),
                key: "node".into(),
                problem: format!("unknown node type `{id}` (known: {})", NODE_TYPES.join(", ")),
            })
        }
    };
    Ok(n)
}

/// The HGX node of a GPU generation (`hgx:gpu=...`).
pub fn hgx(gpu: &str) -> Result<NodeType> {
    match gpu {
        g if HGX_GPUS.contains(&g) => node_type(&format!("hgx-{gpu}")),
        _ => Err(FabricError::BadParam {
            context: "hgx".into(),
            key: "gpu".into(),
            problem: format!("unknown GPU `{gpu}` (known: {})", HGX_GPUS.join(", ")),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every listed id builds, and a wrong one lists them all (issue "Reports a user can act
    /// on", point 8: enum-like preset parameters name their valid values).
    #[test]
    fn node_type_lists_are_complete() {
        for id in NODE_TYPES {
            assert!(node_type(id).is_ok(), "{id}");
        }
        for gpu in HGX_GPUS {
            assert!(hgx(gpu).is_ok(), "{gpu}");
        }
        let e = node_type("dgx-z9").unwrap_err().to_string();
        for id in NODE_TYPES {
            assert!(e.contains(id), "{e} lacks {id}");
        }
    }

    /// The Hopper variants' scale-up (issue 8, part 5): H800 8 NVLink4 links (400 GB/s bidir),
    /// H20 and the Grand Teton H100 96GB the full 18 (900 GB/s bidir), 400G per GPU.
    #[test]
    fn hopper_variant_nodes() {
        for (id, accel, links) in [
            ("hgx-h800", "h800", 8),
            ("hgx-h20", "h20", 18),
            ("grand-teton-h100", "h100-96gb", 18),
        ] {
            let n = node_type(id).unwrap();
            assert_eq!(n.accel, accel);
            match n.scale_up {
                ScaleUpSpec::Star { lanes, lane, .. } => {
                    assert_eq!(lanes, links, "{id}");
                    assert!(
                        (2.0 * lanes as f64 * lane.0 - links as f64 * 50e9).abs() < 1.0,
                        "{id}: bidir GB/s"
                    );
                }
                _ => panic!("{id}: not an NVSwitch star"),
            }
            assert_eq!(n.port.as_gbit(), 400.0);
        }
    }

    /// Every node type names a catalogued host whose CPU is catalogued, with whole CPUs per host.
    #[test]
    fn every_node_type_has_a_catalogued_host() {
        for id in [
            "dgx-h100",
            "hgx-h100",
            "hgx-h200",
            "hgx-h800",
            "dgx-a100",
            "hgx-b200",
            "hgx-b300",
            "gb200-nvl72",
            "gb300-nvl72",
            "mi300x",
            "gaudi3",
        ] {
            let n = node_type(id).unwrap();
            let h = cat::host(n.host).unwrap_or_else(|| panic!("{id}: no host `{}`", n.host));
            assert!(cat::cpu(h.cpu).is_some(), "{id}: cpu {}", h.cpu);
            assert!(
                n.hosts > 0 && n.cpus % n.hosts == 0,
                "{id}: {} CPUs on {} hosts",
                n.cpus,
                n.hosts
            );
        }
    }
}
