//! The host side of a server: how each accelerator reaches its host CPU's memory, how much host
//! DRAM and local SSD it has a share of, whether a pooled memory tier exists, and the PCIe tree
//! (switches, retimers, where the NICs sit). These are the tiers a serving simulator spills a KV
//! cache into below HBM: host DRAM over PCIe or NVLink-C2C → a pooled memory (CloudMatrix384's
//! UB-attached DRAM; CXL where a system has one) → local SSD. [`kv_tiers`] lists them per
//! accelerator in that order.
//!
//! Entries are keyed by the [`super::Host`] id a node type names (`"dgx-h100"`, `"gb200-nvl72"`,
//! `"cloudmatrix-node"`, …), which a built fabric carries as `Fabric::host_id()`. Published
//! figures are stored as the vendor states them (per server or per compute tray); per-accelerator
//! figures are derived by the methods, evenly over the host's accelerators.
//!
//! What this leaves out: latency of each tier (only CloudMatrix's remote-DRAM figure has even a
//! secondary source), NUMA placement inside a server, GPUDirect Storage paths that bypass host
//! DRAM, and the TPU hosts (one `tpu-host` id covers five generations whose host links are
//! unpublished except v4's PCIe Gen3 x16, and no TPU serving stack offloads KV to the host).
//! Confidence tags are the catalogue's (see the parent module).

use super::normalise;
use units::{Bytes, BytesPerSec};

// ---------------------------------------------------------------------------------------------
// Link rates
// ---------------------------------------------------------------------------------------------

/// `[D]` PCIe Gen5 x16, per direction: 32 GT/s × 16 lanes × 128/130 (encoding) / 8 = 63.0 GB/s —
/// systems.md §9.1 `[S/D]` "32 GT/s per lane, about 63 GB/s/dir"; §1.1 "GPU–host link PCIe Gen5
/// x16, about 63 GB/s/dir" (MLCommons system JSON).
pub const PCIE_GEN5_X16: BytesPerSec = BytesPerSec(32e9 * 16.0 * 128.0 / 130.0 / 8.0);

/// `[D]` PCIe Gen4 x16, per direction: 16 GT/s × 16 × 128/130 / 8 = 31.5 GB/s (half of Gen5,
/// same encoding; `[A]` the A100 datasheet's "PCIe Gen4 64 GB/s" is the bidirectional figure).
pub const PCIE_GEN4_X16: BytesPerSec = BytesPerSec(16e9 * 16.0 * 128.0 / 130.0 / 8.0);

/// `[D]` PCIe Gen4 x4 (one U.2 / E1.S NVMe drive's link), per direction: 7.88 GB/s. The ceiling
/// of the `[A]` drive read figure below.
pub const PCIE_GEN4_X4: BytesPerSec = BytesPerSec(16e9 * 4.0 * 128.0 / 130.0 / 8.0);

/// `[A]` Sequential read of one data-center PCIe Gen4 x4 NVMe drive (U.2 or E1.S, 3.84 TB class):
/// 7 GB/s, the rating of that class (e.g. Samsung PM1733 "up to 7,000 MB/s"), just under the
/// Gen4 x4 link ([`PCIE_GEN4_X4`]). No system guide found names its drive model or speed.
pub const A_NVME_GEN4_READ: BytesPerSec = BytesPerSec(7e9);
// CORRECTNESS: the assumed drive read fits its Gen4 x4 link (checked at compile time).
const _: () = assert!(A_NVME_GEN4_READ.0 < PCIE_GEN4_X4.0);

/// `[A]` DDR5-4400, one 64-bit channel: 4,400 MT/s × 8 B = 35.2 GB/s — the rate Sapphire and
/// Emerald Rapids Xeons run with two DIMMs per channel (Intel ARK; DGX B200's "2 TB using
/// 32 × DIMMs" on 16 channels is two per channel `[D]`).
const DDR5_4400_CHANNEL: f64 = 4_400e6 * 8.0;
/// `[A]` DDR5-4800, one channel: 38.4 GB/s (EPYC 9654, one DIMM per channel; AMD product page).
const DDR5_4800_CHANNEL: f64 = 4_800e6 * 8.0;
/// `[A]` DDR4-3200, one channel: 25.6 GB/s (EPYC 7742; AMD product page).
const DDR4_3200_CHANNEL: f64 = 3_200e6 * 8.0;
/// `[A]` DDR4-2933, one channel: 23.5 GB/s (Kunpeng 920: 8 channels of DDR4-2933, Huawei's
/// product brief).
const DDR4_2933_CHANNEL: f64 = 2_933e6 * 8.0;

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// How an accelerator reaches its host CPU and the CPU's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostLinkKind {
    /// PCIe Gen4 x16 (A100 generation).
    PcieGen4X16,
    /// PCIe Gen5 x16 (Hopper, HGX Blackwell behind a PCIe Gen5 host CPU, MI300X, Gaudi 3).
    PcieGen5X16,
    /// NVLink-C2C between a Grace CPU and the Blackwell GPUs of its superchip.
    NvlinkC2c,
    /// Huawei's Unified Bus between the Kunpeng CPUs and the Ascend NPUs of a CloudMatrix node.
    UbKunpengAscend,
}

impl HostLinkKind {
    /// A short readable name, e.g. `"PCIe Gen5 x16"`.
    pub fn name(self) -> &'static str {
        match self {
            HostLinkKind::PcieGen4X16 => "PCIe Gen4 x16",
            HostLinkKind::PcieGen5X16 => "PCIe Gen5 x16",
            HostLinkKind::NvlinkC2c => "NVLink-C2C",
            HostLinkKind::UbKunpengAscend => "Unified Bus (Kunpeng-Ascend)",
        }
    }
}

/// Where a server's scale-out NICs sit relative to its accelerators on the PCIe tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NicPlacement {
    /// Behind the same PCIe switch as their accelerators: GPUDirect RDMA stays under the switch,
    /// and a switch's uplink to the CPU is shared by its accelerators and NICs.
    SharedSwitchWithAccel,
    /// The NIC carries its own PCIe switch, which the accelerator hangs off (ConnectX-8 SuperNIC).
    SwitchInNic,
    /// The scale-out ports are on the accelerator itself (Gaudi 3's on-die RoCE).
    OnAccelerator,
    /// Not published for this system.
    Unpublished,
}

/// The PCIe tree of one host (server or compute tray). Counts are `None` where unpublished.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PcieTopology {
    /// PCIe generation of the tree, e.g. `"PCIe Gen5"` (names the bill-of-materials lines).
    pub generation: &'static str,
    /// Discrete PCIe switch chips per host.
    pub switches: Option<u32>,
    /// PCIe retimers per host.
    pub retimers: Option<u32>,
    /// One switch's upstream port to the CPU, per direction, where switches exist.
    pub switch_uplink: Option<BytesPerSec>,
    pub nic_placement: NicPlacement,
    /// The counts' confidence tags and reasoning.
    pub basis: &'static str,
}

/// Local NVMe drives for data and cache (operating-system drives excluded), per host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalSsd {
    pub drives: u32,
    /// Capacity of one drive.
    pub drive_capacity: Bytes,
    /// Sequential read bandwidth of one drive.
    pub drive_read_bw: BytesPerSec,
    pub source: &'static str,
}

/// What a pooled memory tier is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// The CPUs' DRAM of a whole Unified Bus domain, addressable by every NPU (CloudMatrix384).
    UbDram,
    /// CXL-attached memory expanders.
    Cxl,
}

/// A memory tier shared beyond one host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PooledMemory {
    pub kind: PoolKind,
    /// Each accelerator's even share of the pool's capacity.
    pub capacity_per_accel: Bytes,
    /// Each accelerator's bandwidth into the pool when all read at once, per direction.
    pub bw_per_accel: BytesPerSec,
    /// The pool is made of the hosts' own DRAM: it replaces the host-DRAM tier rather than adding
    /// capacity below it.
    pub from_host_dram: bool,
    pub source: &'static str,
}

/// The host side of one server, compute tray or node (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostSide {
    /// The [`super::Host`] id it belongs to.
    pub host: &'static str,
    /// Accelerators per host.
    pub accels: u32,
    /// Accelerator–CPU link.
    pub link: HostLinkKind,
    /// Each accelerator's own link to the CPU side, per direction.
    pub link_bw: BytesPerSec,
    pub link_source: &'static str,
    /// Host DRAM per host, and its peak bandwidth per host.
    pub dram: Bytes,
    pub dram_bw: BytesPerSec,
    pub dram_source: &'static str,
    pub ssd: Option<LocalSsd>,
    pub pooled: Option<PooledMemory>,
    pub pcie: PcieTopology,
}

impl HostSide {
    /// Host DRAM per accelerator (even share).
    pub fn dram_per_accel(&self) -> Bytes {
        Bytes(self.dram.0 / self.accels as f64)
    }

    /// Host DRAM bandwidth per accelerator (even share of the host's peak).
    pub fn dram_bw_per_accel(&self) -> BytesPerSec {
        BytesPerSec(self.dram_bw.0 / self.accels as f64)
    }

    /// A PCIe switch uplink's share per accelerator when every accelerator under it moves data
    /// to the host at once; `None` where the accelerators reach the CPU without a counted switch.
    pub fn switch_uplink_per_accel(&self) -> Option<BytesPerSec> {
        match (self.pcie.switches, self.pcie.switch_uplink) {
            (Some(n), Some(up)) if n > 0 => Some(BytesPerSec(up.0 * n as f64 / self.accels as f64)),
            _ => None,
        }
    }

    /// Bandwidth between one accelerator and host DRAM when all accelerators of the host move
    /// data at once, per direction: the least of its own link, its share of a PCIe switch
    /// uplink, and its share of the DRAM bandwidth.
    pub fn host_dram_path_bw(&self) -> BytesPerSec {
        let mut bw = self.link_bw.0.min(self.dram_bw_per_accel().0);
        if let Some(up) = self.switch_uplink_per_accel() {
            bw = bw.min(up.0);
        }
        BytesPerSec(bw)
    }

    /// Local SSD per accelerator: (capacity, read bandwidth), even shares of the host's drives,
    /// the read capped by the accelerator's path to host memory.
    pub fn ssd_per_accel(&self) -> Option<(Bytes, BytesPerSec)> {
        self.ssd.map(|s| {
            let n = s.drives as f64 / self.accels as f64;
            (
                Bytes(s.drive_capacity.0 * n),
                BytesPerSec((s.drive_read_bw.0 * n).min(self.host_dram_path_bw().0)),
            )
        })
    }
}

/// Which tier of memory below HBM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvTierKind {
    HostDram,
    Pooled,
    LocalSsd,
}

/// One tier of KV-cache memory below HBM, per accelerator.
#[derive(Debug, Clone, PartialEq)]
pub struct KvTier {
    pub kind: KvTierKind,
    /// Readable name, e.g. `"host DRAM over PCIe Gen5 x16"`.
    pub name: String,
    /// The accelerator's share of the tier's capacity.
    pub capacity_per_accel: Bytes,
    /// The accelerator's bandwidth to the tier when all accelerators use it at once, per
    /// direction.
    pub bandwidth_per_accel: BytesPerSec,
    /// Where the figures come from, with confidence tags.
    pub source: String,
}

// ---------------------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------------------

/// The PCIe tree of an 8-GPU HGX server with a Gen5 host (H100, H200, H800, B200).
const HGX_GEN5_PCIE: PcieTopology = PcieTopology {
    generation: "PCIe Gen5",
    switches: Some(4),
    retimers: Some(8),
    switch_uplink: Some(PCIE_GEN5_X16),
    nic_placement: NicPlacement::SharedSwitchWithAccel,
    basis: "switches [A]: 4, each with 2 GPUs and 2 compute NICs, as Meta's Grand Teton HGX H100 host \
            (systems.md §6.1 [S] '4 PCIe Gen5 switches, each with 2 × 400G backend NICs'); systems.md \
            §1.3 draws the DGX H100 GPU-to-NIC path 'via PCIe switches'; lane arithmetic [D]: 8 GPUs + 8 \
            NICs at x16 = 256 lanes against 2 × 80 CPU lanes ([A] Intel ARK) needs switches. NVIDIA does not publish \
            the DGX count. Uplink [A]: one Gen5 x16 per switch (not published), so two GPUs share it. \
            Retimers [A]: one per GPU x16 path between the GPU baseboard and the CPU tray, which \
            crosses connectors and cables beyond PCIe Gen5's unretimed reach; no count is published",
};

/// DGX H100 (also HGX H100, H20 and Grand Teton nodes, which name this host).
///
/// - link PCIe Gen5 x16, 63 GB/s/dir — systems.md §1.1 `[S/D]`.
/// - DRAM 2 TB DDR5 — systems.md §1.1 `[P]` (DGX BasePOD RA "2 TB of DDR5 system memory").
///   Bandwidth `[A]`: 2 × Xeon 8480C × 8 channels × DDR5-4400 (two DIMMs per channel) =
///   563 GB/s, 70.4 GB/s per GPU.
/// - SSD 8 × 3.84 TB U.2 — `[P]` DGX BasePOD RA core components (the §1.1 source): "two 1.92 TB
///   M.2 NVMe drives for DGX OS, eight 3.84 TB U.2 NVMe drives for storage/cache"; read `[A]`
///   [`A_NVME_GEN4_READ`].
/// - PCIe tree `[A]`, see its basis: 4 switches, 8 retimers, NICs behind the GPU's switch.
/// - With two GPUs per switch uplink, host-DRAM bandwidth per GPU is 31.5 GB/s with all GPUs
///   moving data at once `[D]` from the `[A]` uplink.
pub const DGX_H100_SIDE: HostSide = HostSide {
    host: "dgx-h100",
    accels: 8,
    link: HostLinkKind::PcieGen5X16,
    link_bw: PCIE_GEN5_X16, // [S/D] §1.1, §9.1
    link_source: "systems.md §1.1/§9.1 [S/D] PCIe Gen5 x16, about 63 GB/s/dir (MLCommons system JSON)",
    dram: Bytes(2e12),                                   // [P] §1.1 DGX BasePOD RA
    dram_bw: BytesPerSec(2.0 * 8.0 * DDR5_4400_CHANNEL), // [A] 2 sockets × 8 channels
    dram_source: "systems.md §1.1 [P] DGX BasePOD RA '2 TB of DDR5 system memory'; [A] bandwidth \
                  2 × Xeon 8480C × 8 channels × DDR5-4400 (two DIMMs per channel) = 563 GB/s",
    ssd: Some(LocalSsd {
        drives: 8,                       // [P] BasePOD RA
        drive_capacity: Bytes(3.84e12),  // [P] BasePOD RA
        drive_read_bw: A_NVME_GEN4_READ, // [A]
        source: "[P] DGX BasePOD RA core components 'eight 3.84 TB U.2 NVMe drives for storage/cache' \
                 (OS drives excluded); [A] 7 GB/s read per Gen4 x4 drive",
    }),
    pooled: None,
    pcie: HGX_GEN5_PCIE,
};

/// HGX / DGX H200: the DGX H100's host side — the DGX BasePOD RA `[P]` gives one specification
/// for "DGX H200 and H100 systems" (2 TB DDR5, eight 3.84 TB U.2 NVMe, Xeon 8480C with PCIe 5.0).
pub const HGX_H200_SIDE: HostSide = HostSide {
    host: "hgx-h200",
    ..DGX_H100_SIDE
};

/// HGX H800: `[A]` the DGX H100's host side (same baseboard and host; only NVLink differs).
pub const HGX_H800_SIDE: HostSide = HostSide {
    host: "hgx-h800",
    dram_source: "[A] as DGX H100 (systems.md §1.1 [P] 2 TB DDR5; bandwidth [A] 563 GB/s)",
    ..DGX_H100_SIDE
};

/// DGX A100 (640 GB). Not in the reference table: `[A]` NVIDIA DGX A100 datasheet figures.
///
/// - link PCIe Gen4 x16, 31.5 GB/s/dir `[D]` ([`PCIE_GEN4_X16`]).
/// - DRAM 2 TB `[A]` (datasheet, 640 GB model); bandwidth `[A]` 2 × EPYC 7742 × 8 channels ×
///   DDR4-3200 = 410 GB/s.
/// - SSD 8 × 3.84 TB U.2 NVMe (30 TB) `[A]` datasheet; read `[A]` [`A_NVME_GEN4_READ`].
/// - PCIe tree `[A]`: 4 Gen4 switches with 2 GPUs and 2 NICs each, as recalled from NVIDIA's DGX
///   A100 system architecture paper (unverified); retimers not published.
pub const DGX_A100_SIDE: HostSide = HostSide {
    host: "dgx-a100",
    accels: 8,
    link: HostLinkKind::PcieGen4X16,
    link_bw: PCIE_GEN4_X16, // [D]
    link_source: "[A] NVIDIA A100 datasheet PCIe Gen4 (64 GB/s bidir); [D] 16 GT/s × 16 × 128/130",
    dram: Bytes(2e12),                                   // [A] DGX A100 datasheet
    dram_bw: BytesPerSec(2.0 * 8.0 * DDR4_3200_CHANNEL), // [A]
    dram_source: "[A] NVIDIA DGX A100 datasheet 2 TB (640 GB model); [A] 2 × EPYC 7742 × 8 channels \
                  × DDR4-3200 = 410 GB/s",
    ssd: Some(LocalSsd {
        drives: 8,
        drive_capacity: Bytes(3.84e12),
        drive_read_bw: A_NVME_GEN4_READ,
        source: "[A] NVIDIA DGX A100 datasheet 30 TB (8 × 3.84 TB) U.2 NVMe; [A] 7 GB/s read per drive",
    }),
    pooled: None,
    pcie: PcieTopology {
        generation: "PCIe Gen4",
        switches: Some(4),
        retimers: None,
        switch_uplink: Some(PCIE_GEN4_X16),
        nic_placement: NicPlacement::SharedSwitchWithAccel,
        basis: "[A] 4 PCIe Gen4 switches, each with 2 GPUs and 2 ConnectX-6, as recalled from NVIDIA's \
                DGX A100 system architecture paper (not verified); one Gen4 x16 uplink each [A]; \
                retimers not published",
    },
};

/// HGX / DGX B200.
///
/// - link PCIe Gen5 x16 — `[P]` DGX B200 User Guide: "2 x Intel Xeon 8570 PCIe Gen5 CPUs"; the
///   host side caps the GPU's link at Gen5 whatever the GPU supports `[D]`.
/// - DRAM 2 TB — `[P]` DGX B200 User Guide "2 TB using 32 x DIMMs (upgradable to 4 TB)";
///   bandwidth `[A]` 2 × 8 channels × DDR5-4400 (two DIMMs per channel `[D]`) = 563 GB/s.
/// - SSD — `[P]` DGX B200 User Guide "Storage (Data Cache) 8 x 3.84 TB NVMe U.2 SED … RAID 0";
///   read `[A]`.
/// - PCIe tree `[A]` as DGX H100 (same 8 single-port ConnectX-7 cards and two Gen5 CPUs).
pub const HGX_B200_SIDE: HostSide = HostSide {
    host: "hgx-b200",
    link_source: "[P] DGX B200 User Guide (2 × Xeon 8570 'PCIe Gen5 CPUs'); systems.md §9.1 [S/D] \
                  Gen5 x16 about 63 GB/s/dir",
    dram_source: "[P] DGX B200 User Guide '2 TB using 32 x DIMMs'; [A] 2 × 8 channels × DDR5-4400 = 563 GB/s",
    ssd: Some(LocalSsd {
        drives: 8,
        drive_capacity: Bytes(3.84e12),
        drive_read_bw: A_NVME_GEN4_READ,
        source: "[P] DGX B200 User Guide 'Storage (Data Cache) 8 x 3.84 TB NVMe U.2'; [A] 7 GB/s read per drive",
    }),
    ..DGX_H100_SIDE
};

/// HGX / DGX B300: `[A]` throughout — the reference table has no B300 host facts.
///
/// - link PCIe Gen5 x16 `[A]`: Blackwell Ultra supports PCIe Gen6 at 128 GB/s/dir (Tom's Hardware
///   Hot Chips 2025 `[S]`), but the catalogue's host CPU (Xeon 8570, `[A]`) is Gen5.
/// - DRAM and SSD `[A]` as DGX B200.
/// - PCIe tree `[A]`: the GPUs hang off the PCIe switch inside each ConnectX-8 SuperNIC (the
///   catalogue's ConnectX-8 entry); discrete switch and retimer counts are not published.
pub const HGX_B300_SIDE: HostSide = HostSide {
    host: "hgx-b300",
    link_source: "[A] PCIe Gen5 x16 host CPU (Xeon 8570 [A]); Blackwell Ultra itself supports Gen6 \
                  128 GB/s/dir (Tom's Hardware, Hot Chips 2025 [S])",
    dram_source: "[A] as DGX B200 (2 TB; 563 GB/s)",
    ssd: Some(LocalSsd {
        source: "[A] as DGX B200 (8 × 3.84 TB NVMe; 7 GB/s read per drive)",
        ..HGX_B200_SSD
    }),
    pcie: PcieTopology {
        generation: "PCIe Gen5",
        switches: None,
        retimers: None,
        switch_uplink: None,
        nic_placement: NicPlacement::SwitchInNic,
        basis: "[A] each GPU reaches the host through the PCIe switch integrated in its ConnectX-8 \
                SuperNIC (catalogue cx8-800g); discrete switch and retimer counts not published",
    },
    ..HGX_B200_SIDE
};

/// The drives of [`HGX_B200_SIDE`], reused by the B300 entry.
const HGX_B200_SSD: LocalSsd = match HGX_B200_SIDE.ssd {
    Some(s) => s,
    None => panic!("HGX B200 has local SSD"),
};

/// Grace–Blackwell C2C per GPU, per direction: `[D]` 900 GB/s bidirectional per superchip
/// (systems.md §2.1 `[P(S)]`, 1 Grace + 2 GPUs) / 2 directions / 2 GPUs = 225 GB/s.
const GB_C2C_PER_GPU: BytesPerSec = BytesPerSec(900e9 / 2.0 / 2.0);

/// One GB200 NVL72 compute tray: 2 Grace + 4 Blackwell.
///
/// - link NVLink-C2C, 225 GB/s/dir per GPU — `[D]` systems.md §2.1 `[P(S)]` "NVLink-C2C, 900 GB/s
///   per superchip" shared by its two GPUs. `[C]` SGLang's GB200 post (inference.csv I026) says
///   "CPU-GPU 900 GB/s bidirectional" without saying per GPU or per superchip.
/// - DRAM 480 GB LPDDR5X per Grace `[A]` (NVIDIA Grace datasheet), 960 GB per tray; check `[D]`
///   36 × 480 GB = 17.3 TB ≈ systems.md §2.1 `[P(S)]` "17 TB LPDDR5X at 14 TB/s" per rack.
///   Bandwidth `[D]` 14 TB/s / 18 trays = 778 GB/s per tray, 194 GB/s per GPU.
/// - SSD 4 E1.S per tray — `[S]` STH photos of the GB200 NVL72 compute tray ("four E1.S drive
///   trays", via nybreaking.com); the DGX GB200 User Guide `[P]` says only that the E1.S drives
///   form one RAID 0 cache volume. Capacity `[A]` 3.84 TB each, read `[A]`.
/// - PCIe tree: not published (switches, retimers and where the ConnectX-7 NICs attach).
pub const GB200_NVL72_SIDE: HostSide = HostSide {
    host: "gb200-nvl72",
    accels: 4,
    link: HostLinkKind::NvlinkC2c,
    link_bw: GB_C2C_PER_GPU, // [D] §2.1 900 GB/s bidir per superchip / 2 / 2
    link_source: "systems.md §2.1 [P(S)] NVLink-C2C 900 GB/s (bidirectional) per superchip of 1 Grace \
                  + 2 GPUs [D] 225 GB/s/dir per GPU; [C] SGLang GB200 post 'CPU-GPU 900 GB/s bidirectional'",
    dram: Bytes(2.0 * 480e9),           // [A] Grace datasheet 480 GB per Grace
    dram_bw: BytesPerSec(14e12 / 18.0), // [D] §2.1 14 TB/s per rack / 18 trays
    dram_source: "[A] NVIDIA Grace 480 GB LPDDR5X per Grace (36 × 480 GB = 17.3 TB, systems.md §2.1 \
                  [P(S)] '17 TB LPDDR5X at 14 TB/s' per rack); [D] 14 TB/s / 72 = 194 GB/s per GPU",
    ssd: Some(LocalSsd {
        drives: 4,                       // [S] STH via nybreaking.com
        drive_capacity: Bytes(3.84e12),  // [A]
        drive_read_bw: A_NVME_GEN4_READ, // [A]
        source: "[S] STH photos of the GB200 NVL72 compute tray 'four E1.S drive trays' (nybreaking.com); \
                 [P] DGX GB200 User Guide (E1.S drives in RAID 0 as a cache); [A] 3.84 TB and 7 GB/s each",
    }),
    pooled: None,
    pcie: PcieTopology {
        generation: "PCIe Gen5",
        switches: None,
        retimers: None,
        switch_uplink: None,
        nic_placement: NicPlacement::Unpublished,
        basis: "not published: the DGX GB200 User Guide lists 4 ConnectX-7 and 2 BlueField-3 per tray \
                but not the PCIe tree they sit on",
    },
};

/// One GB300 NVL72 compute tray: `[A]` the GB200 tray's Grace memory and C2C (the same Grace;
/// GB300 NVL72 also lists "17TB LPDDR5X (14 TB/s)" per rack, vendordeep.com `[S]`), with the
/// storage and NICs of NVIDIA's Enterprise RA `[P]`: "4 E1.S NVMe storage devices typically used
/// as a fast, local cache" and 4 ConnectX-8 on 2 mezzanine boards per tray. The GPUs reach the
/// NICs through the ConnectX-8's integrated PCIe switch `[A]`.
pub const GB300_NVL72_SIDE: HostSide = HostSide {
    host: "gb300-nvl72",
    link_source:
        "[A] as GB200: NVLink-C2C 900 GB/s bidir per superchip (systems.md §2.1 [P(S)]) → 225 GB/s/dir per GPU",
    dram_source: "[A] as GB200: 480 GB LPDDR5X per Grace; [S] GB300 NVL72 '17TB LPDDR5X (14 TB/s)' \
                  per rack (vendordeep.com) → 194 GB/s per GPU [D]",
    ssd: Some(LocalSsd {
        drives: 4, // [P] Enterprise RA NVL72
        drive_capacity: Bytes(3.84e12),
        drive_read_bw: A_NVME_GEN4_READ,
        source: "[P] NVIDIA Enterprise RA NVL72 components '4 E1.S NVMe storage devices' per GB300 tray; \
                 [A] 3.84 TB and 7 GB/s each",
    }),
    pcie: PcieTopology {
        generation: "PCIe Gen5",
        switches: None,
        retimers: None,
        switch_uplink: None,
        nic_placement: NicPlacement::SwitchInNic,
        basis: "[P] Enterprise RA NVL72: 2 mezzanine boards with 2 ConnectX-8 each per tray; [A] GPUs reach \
                them through the ConnectX-8's integrated PCIe switch; discrete counts not published",
    },
    ..GB200_NVL72_SIDE
};

/// AMD MI300X 8-GPU server.
///
/// - link PCIe Gen5 x16 — systems.md §7.1 `[P(S)]` MLCommons AMD JSON
///   ("accelerator_host_interconnect": "PCIe Gen5 x16").
/// - DRAM `[A]` 1.5 TB: 2 × EPYC 9654 (the catalogue's `[A]` host CPU) × 12 channels with one
///   64 GB DDR5-4800 DIMM each; bandwidth `[A]` 24 × 38.4 GB/s = 922 GB/s. MI300X servers are
///   platform-dependent and publish no single figure.
/// - SSD, PCIe tree: not published (platform-dependent).
pub const MI300X_SIDE: HostSide = HostSide {
    host: "mi300x-node",
    accels: 8,
    link: HostLinkKind::PcieGen5X16,
    link_bw: PCIE_GEN5_X16, // [P(S)] §7.1
    link_source: "systems.md §7.1 [P(S)] MLCommons AMD JSON 'PCIe Gen5 x16'; §9.1 [S/D] 63 GB/s/dir",
    dram: Bytes(24.0 * 64e9),                             // [A]
    dram_bw: BytesPerSec(2.0 * 12.0 * DDR5_4800_CHANNEL), // [A]
    dram_source: "[A] 2 × EPYC 9654 × 12 channels × one 64 GB DDR5-4800 DIMM = 1.5 TB, 922 GB/s \
                  (platform-dependent; no published figure)",
    ssd: None,
    pooled: None,
    pcie: PcieTopology {
        generation: "PCIe Gen5",
        switches: None,
        retimers: None,
        switch_uplink: None,
        nic_placement: NicPlacement::Unpublished,
        basis: "not published: MI300X servers are platform-dependent (systems.md §7.1 scale-out [U])",
    },
};

/// Intel Gaudi 3 8-OAM server.
///
/// - link PCIe Gen5 x16 — `[A]` Intel Gaudi 3 white paper (host interface PCIe Gen5 x16).
/// - DRAM `[A]` as DGX H100 (the catalogue's Gaudi 3 host takes 2 × Xeon 8480C): 2 TB, 563 GB/s.
/// - Scale-out ports on the chip — systems.md §7.2 `[P]` "24 × 200 GbE RoCE per chip: 21
///   scale-up + 3 scale-out": no NIC on the PCIe tree.
/// - SSD, switch and retimer counts: not published.
pub const GAUDI3_SIDE: HostSide = HostSide {
    host: "gaudi3-node",
    accels: 8,
    link: HostLinkKind::PcieGen5X16,
    link_bw: PCIE_GEN5_X16, // [A]
    link_source: "[A] Intel Gaudi 3 white paper: PCIe Gen5 x16 host interface; §9.1 [S/D] 63 GB/s/dir",
    dram: Bytes(2e12),                                   // [A] as DGX H100
    dram_bw: BytesPerSec(2.0 * 8.0 * DDR5_4400_CHANNEL), // [A]
    dram_source: "[A] as DGX H100 (2 × Xeon 8480C host): 2 TB, 563 GB/s",
    ssd: None,
    pooled: None,
    pcie: PcieTopology {
        generation: "PCIe Gen5",
        switches: None,
        retimers: None,
        switch_uplink: None,
        nic_placement: NicPlacement::OnAccelerator,
        basis: "systems.md §7.2 [P] scale-out RoCE ports on the Gaudi 3 die; switch and retimer counts \
                not published",
    },
};

/// CPU-side Unified Bus per Kunpeng, per direction: systems.md §4 `[S]` "about 160 GB/s per
/// Kunpeng" (emergentmind summary of arXiv 2506.12708); `[A]` read as per direction.
const UB_PER_KUNPENG: f64 = 160e9;

/// A CloudMatrix384 node: 8 Ascend 910C, 4 Kunpeng 920 CPUs.
///
/// - link Unified Bus, 80 GB/s/dir per NPU — `[D]` 4 CPUs × 160 GB/s UB (systems.md §4 `[S]`) /
///   8 NPUs: the CPU side of the UB is the narrower end (an NPU has > 392 GB/s of UB).
/// - DRAM `[A]` 2,048 GB per node: 4 Kunpeng 920 × 8 DDR4 channels × 2 DIMMs × 32 GB; no public
///   node figure was found. Bandwidth `[A]` 4 × 8 × DDR4-2933 = 751 GB/s.
/// - Pooled memory: CloudMatrix-Infer's caching cluster is a disaggregated memory pool in the
///   Kunpeng CPUs' DRAM, reachable by every NPU over the UB (Zuo et al., arXiv 2506.12708, via
///   the emergentmind summary `[S]`). Per NPU: its 1/384 share (256 GB `[D]` from the `[A]`
///   DRAM) at `[D]` 192 × 160 GB/s / 384 = 80 GB/s. The pool is the hosts' DRAM, so it replaces
///   the host-DRAM tier. inference.md gives 1.5 µs for remote DRAM over UB (one secondary source).
/// - No PCIe between NPU and CPU; SSD and NIC attachment not published.
pub const CLOUDMATRIX_SIDE: HostSide = HostSide {
    host: "cloudmatrix-node",
    accels: 8,
    link: HostLinkKind::UbKunpengAscend,
    link_bw: BytesPerSec(4.0 * UB_PER_KUNPENG / 8.0), // [D] §4 [S]
    link_source: "systems.md §4 [S] UB about 160 GB/s per Kunpeng (emergentmind), 4 per 8 NPUs [D] \
                  80 GB/s per NPU; the NPU side (> 392 GB/s) is wider",
    dram: Bytes(4.0 * 8.0 * 2.0 * 32e9),                 // [A]
    dram_bw: BytesPerSec(4.0 * 8.0 * DDR4_2933_CHANNEL), // [A]
    dram_source: "[A] 4 Kunpeng 920 × 8 DDR4 channels × 2 × 32 GB DIMMs = 2,048 GB per node; \
                  4 × 8 × DDR4-2933 = 751 GB/s (no public node figure)",
    ssd: None,
    pooled: Some(PooledMemory {
        kind: PoolKind::UbDram,
        capacity_per_accel: Bytes(4.0 * 8.0 * 2.0 * 32e9 / 8.0), // [D] from [A] node DRAM
        bw_per_accel: BytesPerSec(192.0 * UB_PER_KUNPENG / 384.0), // [D] §4 [S]
        from_host_dram: true,
        source: "[S] CloudMatrix-Infer caching cluster: a disaggregated memory pool in the Kunpeng DRAM \
                 reachable by every NPU over UB (arXiv 2506.12708 via emergentmind); [D] 192 × 160 GB/s \
                 (systems.md §4 [S]) / 384 NPUs = 80 GB/s; capacity [A] node DRAM / 8",
    }),
    pcie: PcieTopology {
        generation: "none (Unified Bus)",
        switches: Some(0),
        retimers: None,
        switch_uplink: None,
        nic_placement: NicPlacement::Unpublished,
        basis: "systems.md §4 [S] NPUs and CPUs meet on the on-board L1 UB switches, not PCIe; the RDMA \
                plane's NIC attachment is not published",
    },
};

/// Every host side in the catalogue (no TPU host: see the module docs).
pub static HOST_SIDES: &[HostSide] = &[
    DGX_H100_SIDE,
    HGX_H200_SIDE,
    HGX_H800_SIDE,
    DGX_A100_SIDE,
    HGX_B200_SIDE,
    HGX_B300_SIDE,
    GB200_NVL72_SIDE,
    GB300_NVL72_SIDE,
    MI300X_SIDE,
    GAUDI3_SIDE,
    CLOUDMATRIX_SIDE,
];

/// The host side of host `host_id` (a [`super::Host`] id such as `"dgx-h100"`, as a fabric's
/// `host_id()` gives it), case-insensitively; `None` for hosts without one (TPU hosts).
pub fn host_side(host_id: &str) -> Option<&'static HostSide> {
    let key = normalise(host_id);
    HOST_SIDES.iter().find(|h| h.host == key)
}

/// Every host side in the catalogue.
pub fn host_sides() -> &'static [HostSide] {
    HOST_SIDES
}

/// The KV-cache tiers below HBM of one accelerator of host `host_id`, in order: host DRAM (over
/// PCIe, NVLink-C2C or UB), the pooled memory, local SSD. Capacities and bandwidths are the
/// accelerator's even share with every accelerator of the host active. A pool built from the
/// hosts' DRAM takes the host-DRAM tier's place. Empty for hosts without a [`HostSide`].
pub fn kv_tiers(host_id: &str) -> Vec<KvTier> {
    let Some(h) = host_side(host_id) else {
        return Vec::new();
    };
    let mut tiers = Vec::new();
    let pool_is_dram = h.pooled.is_some_and(|p| p.from_host_dram);
    if !pool_is_dram {
        tiers.push(KvTier {
            kind: KvTierKind::HostDram,
            name: format!("host DRAM over {}", h.link.name()),
            capacity_per_accel: h.dram_per_accel(),
            bandwidth_per_accel: h.host_dram_path_bw(),
            source: format!("{}; {}; {}", h.link_source, h.dram_source, h.pcie.basis),
        });
    }
    if let Some(p) = h.pooled {
        tiers.push(KvTier {
            kind: KvTierKind::Pooled,
            name: match p.kind {
                PoolKind::UbDram => "pooled DRAM over the Unified Bus".into(),
                PoolKind::Cxl => "CXL memory pool".into(),
            },
            capacity_per_accel: p.capacity_per_accel,
            bandwidth_per_accel: p.bw_per_accel,
            source: p.source.into(),
        });
    }
    if let (Some(s), Some((cap, bw))) = (h.ssd, h.ssd_per_accel()) {
        tiers.push(KvTier {
            kind: KvTierKind::LocalSsd,
            name: "local NVMe SSD".into(),
            capacity_per_accel: cap,
            bandwidth_per_accel: bw,
            source: s.source.into(),
        });
    }
    tiers
}

#[cfg(test)]
mod tests {
    use super::super::{host, hosts};
    use super::*;

    #[track_caller]
    fn close(what: &str, got: f64, want: f64) {
        let tol = want.abs().max(1e-30) * 1e-9;
        assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
    }

    fn side(id: &str) -> &'static HostSide {
        host_side(id).unwrap_or_else(|| panic!("no host side {id}"))
    }

    /// Accelerator–CPU links, per direction per accelerator.
    #[test]
    fn link_figures() {
        // §9.1 "32 GT/s per lane, about 63 GB/s/dir"; §1.1 "PCIe Gen5 x16".
        close("gen5 x16", PCIE_GEN5_X16.0, 63.015_384_615_384_6e9);
        assert!((PCIE_GEN5_X16.0 / 1e9 - 63.0).abs() < 0.1);
        close("gen4 x16 is half", PCIE_GEN4_X16.0 * 2.0, PCIE_GEN5_X16.0);
        for id in [
            "dgx-h100",
            "hgx-h200",
            "hgx-h800",
            "hgx-b200",
            "hgx-b300",
            "mi300x-node",
            "gaudi3-node",
        ] {
            assert_eq!(side(id).link, HostLinkKind::PcieGen5X16, "{id}");
            close(id, side(id).link_bw.0, PCIE_GEN5_X16.0);
        }
        assert_eq!(side("dgx-a100").link, HostLinkKind::PcieGen4X16);
        // §2.1 "NVLink-C2C, 900 GB/s per superchip" (1 Grace + 2 GPUs), bidirectional.
        for id in ["gb200-nvl72", "gb300-nvl72"] {
            assert_eq!(side(id).link, HostLinkKind::NvlinkC2c);
            close(id, side(id).link_bw.0 * 2.0 * 2.0, 900e9);
        }
        // §4 "about 160 GB/s per Kunpeng", 4 Kunpeng per 8 NPUs.
        let cm = side("cloudmatrix-node");
        assert_eq!(cm.link, HostLinkKind::UbKunpengAscend);
        close("cm384 link", cm.link_bw.0 * 8.0, 4.0 * 160e9);
    }

    /// Host DRAM capacity and bandwidth.
    #[test]
    fn dram_figures() {
        // §1.1 [P] DGX BasePOD RA "2 TB of DDR5" for DGX H100 and H200; DGX B200 User Guide "2 TB".
        for id in ["dgx-h100", "hgx-h200", "hgx-b200"] {
            close(id, side(id).dram.0, 2e12);
            close(id, side(id).dram_per_accel().0, 250e9);
        }
        // [A] 2 sockets × 8 channels × DDR5-4400.
        close("dgx dram bw", side("dgx-h100").dram_bw.0, 563.2e9);
        close("dgx dram bw per gpu", side("dgx-h100").dram_bw_per_accel().0, 70.4e9);
        // GB200: 480 GB per Grace [A]; §2.1 rack "17 TB LPDDR5X at 14 TB/s".
        let gb = side("gb200-nvl72");
        close("gb200 dram per gpu", gb.dram_per_accel().0, 240e9);
        assert!((gb.dram.0 * 18.0 / 17e12 - 1.0).abs() < 0.02, "36 × 480 GB ≈ 17 TB");
        close("gb200 rack dram bw", gb.dram_bw.0 * 18.0, 14e12);
        close("gb200 dram bw per gpu", gb.dram_bw_per_accel().0, 14e12 / 72.0);
        // [A] MI300X 24 × 64 GB, 24 × DDR5-4800.
        close("mi300x dram", side("mi300x-node").dram.0, 1.536e12);
        close("mi300x dram bw", side("mi300x-node").dram_bw.0, 921.6e9);
        // [A] CloudMatrix node 2,048 GB, 4 × 8 × DDR4-2933.
        close("cm384 dram", side("cloudmatrix-node").dram.0, 2.048e12);
        close(
            "cm384 dram bw",
            side("cloudmatrix-node").dram_bw.0,
            4.0 * 8.0 * 2_933e6 * 8.0,
        );
    }

    /// Local NVMe drives (OS drives excluded).
    #[test]
    fn ssd_figures() {
        // [P] BasePOD RA "eight 3.84 TB U.2 NVMe drives"; DGX B200 User Guide "8 x 3.84 TB NVMe U.2".
        for id in ["dgx-h100", "hgx-h200", "hgx-b200"] {
            let s = side(id).ssd.unwrap();
            assert_eq!(s.drives, 8, "{id}");
            close(id, s.drive_capacity.0, 3.84e12);
            let (cap, bw) = side(id).ssd_per_accel().unwrap();
            close(id, cap.0, 3.84e12);
            close(id, bw.0, 7e9);
        }
        // [S] GB200 tray 4 E1.S; [P] GB300 tray "4 E1.S NVMe storage devices".
        for id in ["gb200-nvl72", "gb300-nvl72"] {
            assert_eq!(side(id).ssd.unwrap().drives, 4, "{id}");
        }
        for id in ["mi300x-node", "gaudi3-node", "cloudmatrix-node"] {
            assert!(side(id).ssd.is_none(), "{id}: unpublished");
        }
    }

    /// Pooled memory: CloudMatrix384's UB DRAM pool only.
    #[test]
    fn pooled_figures() {
        let p = side("cloudmatrix-node").pooled.unwrap();
        assert_eq!(p.kind, PoolKind::UbDram);
        assert!(p.from_host_dram);
        // [D] 192 Kunpeng × 160 GB/s / 384 NPUs; 48 nodes' DRAM / 384 NPUs.
        close("pool bw", p.bw_per_accel.0, 80e9);
        close(
            "pool capacity",
            p.capacity_per_accel.0 * 384.0,
            48.0 * side("cloudmatrix-node").dram.0,
        );
        for h in host_sides().iter().filter(|h| h.host != "cloudmatrix-node") {
            assert!(h.pooled.is_none(), "{}: no pooled tier in the sources", h.host);
        }
    }

    /// PCIe switches, retimers and NIC placement.
    #[test]
    fn pcie_topology_figures() {
        for id in ["dgx-h100", "hgx-h200", "hgx-h800", "hgx-b200"] {
            let p = side(id).pcie;
            assert_eq!((p.switches, p.retimers), (Some(4), Some(8)), "{id}");
            assert_eq!(p.nic_placement, NicPlacement::SharedSwitchWithAccel);
            // Two GPUs per [A] Gen5 x16 uplink.
            close(id, side(id).switch_uplink_per_accel().unwrap().0, PCIE_GEN5_X16.0 / 2.0);
        }
        assert_eq!(side("dgx-a100").pcie.switches, Some(4));
        assert_eq!(side("gaudi3-node").pcie.nic_placement, NicPlacement::OnAccelerator);
        assert_eq!(side("gb300-nvl72").pcie.nic_placement, NicPlacement::SwitchInNic);
        assert_eq!(side("hgx-b300").pcie.nic_placement, NicPlacement::SwitchInNic);
        assert_eq!(side("cloudmatrix-node").pcie.switches, Some(0));
        for h in host_sides() {
            assert!(!h.pcie.basis.trim().is_empty(), "{}", h.host);
        }
    }

    /// The KV tiers below HBM, in order, with the least bandwidth on each path.
    #[test]
    fn kv_tiers_in_order() {
        // DGX H100: host DRAM limited by the shared switch uplink (31.5 GB/s), then SSD.
        let t = kv_tiers("dgx-h100");
        let kinds: Vec<_> = t.iter().map(|t| t.kind).collect();
        assert_eq!(kinds, [KvTierKind::HostDram, KvTierKind::LocalSsd]);
        close("dgx host cap", t[0].capacity_per_accel.0, 250e9);
        close("dgx host bw", t[0].bandwidth_per_accel.0, PCIE_GEN5_X16.0 / 2.0);
        close("dgx ssd bw", t[1].bandwidth_per_accel.0, 7e9);
        // GB200: C2C (225 GB/s) wider than the DRAM share (194 GB/s).
        let t = kv_tiers("gb200-nvl72");
        assert_eq!(t[0].kind, KvTierKind::HostDram);
        close("gb200 host bw", t[0].bandwidth_per_accel.0, 14e12 / 72.0);
        assert!(t[0].name.contains("NVLink-C2C"));
        // CloudMatrix: the pool replaces host DRAM; no SSD published.
        let t = kv_tiers("CloudMatrix-Node");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].kind, KvTierKind::Pooled);
        close("cm pool bw", t[0].bandwidth_per_accel.0, 80e9);
        // MI300X: DRAM share (115 GB/s) wider than PCIe (63 GB/s).
        close(
            "mi300x host bw",
            kv_tiers("mi300x-node")[0].bandwidth_per_accel.0,
            PCIE_GEN5_X16.0,
        );
        assert!(kv_tiers("tpu-host").is_empty());
        assert!(kv_tiers("no-such-host").is_empty());
        for h in host_sides() {
            for t in kv_tiers(h.host) {
                assert!(
                    t.capacity_per_accel.0 > 0.0 && t.bandwidth_per_accel.0 > 0.0,
                    "{}",
                    h.host
                );
                assert!(!t.source.is_empty());
            }
        }
    }

    /// Every host side belongs to a catalogue host, once; every host but the TPU host has one.
    #[test]
    fn host_sides_cover_the_hosts() {
        let mut seen = std::collections::BTreeSet::new();
        for h in host_sides() {
            assert!(host(h.host).is_some(), "{} is not a catalogue host", h.host);
            assert!(seen.insert(h.host), "duplicate {}", h.host);
            assert!(h.accels > 0);
            for v in [h.link_bw.0, h.dram.0, h.dram_bw.0] {
                assert!(v.is_finite() && v > 0.0, "{}", h.host);
            }
            assert!(!h.link_source.is_empty() && !h.dram_source.is_empty());
        }
        for h in hosts() {
            assert_eq!(host_side(h.id).is_some(), h.id != "tpu-host", "{}", h.id);
        }
    }
}
