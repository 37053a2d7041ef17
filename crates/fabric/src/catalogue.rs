//! Hardware catalogue: accelerators, scale-up links, NICs, switches, transceivers, optical
//! circuit switches, host CPUs and hosts (servers, compute trays), each with the public figures
//! the simulator needs, and the facility default (PUE).
//!
//! # Invariants
//!
//! - Every figure is stored in SI base units (bytes, bytes per second, FLOP per second, watts,
//!   US dollars). Bandwidth is **per direction**: a "900 GB/s" NVLink marketing figure is
//!   bidirectional and is stored as 450 GB/s.
//! - Every figure carries its provenance in the doc comment of its entry: the section of the
//!   compiled reference table (`systems.md §N`, the project's hardware source table), the
//!   confidence tag, and the original source that table names.
//! - Ids are unique, lowercase, and stable; lookups are case-insensitive and accept the aliases
//!   listed in the private alias tables below.
//!
//! # Confidence tags
//!
//! | Tag | Meaning |
//! |---|---|
//! | `[P]` | primary: the vendor's own document, or the paper's own text |
//! | `[S]` | secondary: third-party article, analyst report or paper summary |
//! | `[D]` | derived: arithmetic from the `[P]`/`[S]` figures, shown next to it |
//! | `[U]` | unverified: recalled or implied, not confirmed by a source |
//! | `[C]` | sources conflict; the alternative is named |
//! | `[E]` | estimate from public reporting (press, analyst or trade-press price survey), not a list price |
//! | `[A]` | **assumption of this catalogue**: the reference table has no figure; the reasoning is given |
//!
//! # Assumption rules used by several entries
//!
//! The reference table gives no power or price for switches, NICs or optics. Rather than guess
//! each one separately, switch entries follow two stated rules so a cost/power model can be
//! re-based by changing one constant:
//!
//! - `[A]` **switch power** = [`A_SWITCH_W_PER_TBPS`] (20 W) per Tb/s of per-direction port
//!   capacity for single-chip boxes and switch ASICs, excluding pluggable optics (51.2 Tb/s class
//!   box ≈ 1 kW; 5 nm merchant 51.2T boxes are commonly quoted at 0.8–1.5 kW without optics).
//!   Modular deep-buffer chassis (fabric cards + HBM-buffered line cards) take twice that,
//!   [`A_CHASSIS_W_PER_TBPS`].
//! - `[A]` **switch price** = [`A_SWITCH_USD_PER_TBPS`] ($1,000) per Tb/s of per-direction
//!   capacity for fixed single-chip boxes (a 64 × 400G box ≈ $25.6k, the order of public street
//!   prices for NDR / 25.6T-class switches), three times that for modular chassis
//!   ([`A_CHASSIS_USD_PER_TBPS`]). Switch chips that are only sold inside a system are
//!   `Included` in their system's host line (NVSwitch, NVLink switch) or `Unpriced` (UB switch).
//! - `[A]` **optics and NIC prices** are order-of-magnitude street prices (about $1–1.25 per Gb/s
//!   for DSP single-mode modules, less for multimode and LPO); each entry states its figure.
//!   Use them for ranking designs, not for quotes.
//!
//! # Prices
//!
//! Every entry has a [`Price`]: a unit price, `Included` where another line of a bill of
//! materials pays for it (the NVSwitch chips of an HGX baseboard are in the server's host line),
//! or `Unpriced` with the reason no figure is given. A bill of materials therefore never drops
//! an item silently: it lists every unpriced line with its reason.
//!
//! # Hosts: power that is not an accelerator, a switch or an optic
//!
//! A server or compute tray draws power beyond its accelerators: CPUs, memory, storage, fans,
//! management NICs and the losses of its power supplies. Each [`Host`] names its CPU (listed on
//! its own bill-of-materials line) and an `overhead` for the rest. Where the vendor publishes the
//! system's maximum power (DGX H100 10.2 kW, DGX B200 14.3 kW, GB200 NVL72 ~132 kW), the
//! overhead is **derived** `[D]` so that the system adds up to that figure exactly:
//! overhead = published − accelerators − CPUs − scale-up switch chips − compute NICs. Pluggable
//! optics are counted with the fabric, not in the system figure. Where no system figure exists
//! the overhead is an assumption `[A]` with its reasoning.
//!
//! # Racks
//!
//! Each [`Host`] states how many hosts fill one compute rack (`hosts_per_rack`, with the
//! source of the rule). Switches outside the systems go in network racks by their [`Housing`]:
//! `[A]` [`A_BOXES_PER_NETWORK_RACK`] fixed switch boxes (or OCS) per rack, one modular chassis
//! per rack. With these rules the 4-SU DGX SuperPOD comes to the 38 racks NVIDIA's RA lists.

use units::{Bytes, BytesPerSec, FlopsPerSec, Usd, Watts};

pub mod failures;
mod host_side;
pub mod power;
pub use host_side::{
    host_side, host_sides, kv_tiers, HostLinkKind, HostSide, KvTier, KvTierKind, LocalSsd, NicPlacement, PcieTopology,
    PoolKind, PooledMemory, A_NVME_GEN4_READ, CLOUDMATRIX_SIDE, DGX_A100_SIDE, DGX_H100_SIDE, GAUDI3_SIDE,
    GB200_NVL72_SIDE, GB300_NVL72_SIDE, HGX_B200_SIDE, HGX_B300_SIDE, HGX_H200_SIDE, HGX_H800_SIDE, HOST_SIDES,
    MI300X_SIDE, PCIE_GEN4_X16, PCIE_GEN4_X4, PCIE_GEN5_X16,
};

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// What one unit costs, or why the catalogue gives no figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Price {
    /// A unit price in US dollars; its confidence tag and source are in the entry's docs.
    Usd(Usd),
    /// Paid for within another line of a bill of materials (`within` names it).
    Included { within: &'static str },
    /// No public figure; the reason.
    Unpriced { reason: &'static str },
}

impl Price {
    /// The unit price, where there is one.
    pub fn usd(&self) -> Option<Usd> {
        match self {
            Price::Usd(u) => Some(*u),
            _ => None,
        }
    }

    /// What one unit adds to a total: its price, or zero when another line pays for it or no
    /// figure exists (a bill of materials lists the latter).
    pub fn cost(&self) -> Usd {
        self.usd().unwrap_or(Usd::ZERO)
    }
}

/// Where a switch physically sits, which decides the racks it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Housing {
    /// A fixed switch box (1–2U): [`A_BOXES_PER_NETWORK_RACK`] share a network rack.
    Box,
    /// A modular chassis: one network rack each.
    Chassis,
    /// A chip inside a server or a system's own racks (NVSwitch, NVLink switch tray, UB switch):
    /// it takes no network rack.
    InSystem,
}

/// An accelerator (GPU, TPU, NPU): its peak dense compute, memory and power.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accelerator {
    /// Lowercase key, e.g. `"h100"`.
    pub id: &'static str,
    /// Human-readable name, e.g. `"NVIDIA H100 SXM5 80GB"`.
    pub name: &'static str,
    pub vendor: &'static str,
    /// Peak dense (no sparsity) BF16 tensor throughput.
    pub bf16_dense: FlopsPerSec,
    /// Peak dense FP8 tensor throughput; `None` where the chip has no FP8 path.
    pub fp8_dense: Option<FlopsPerSec>,
    /// Peak dense (no sparsity) FP4 tensor throughput (NVFP4 / MXFP4 on Blackwell); `None`
    /// where the chip has no FP4 tensor path (Hopper, Ampere, CDNA 3, Gaudi 3, TPUs, Ascend
    /// 910C). Uncalibrated: no measured FP4 kernel is in the compute model's data.
    pub fp4_dense: Option<FlopsPerSec>,
    /// HBM capacity.
    pub hbm: Bytes,
    /// HBM bandwidth.
    pub hbm_bw: BytesPerSec,
    /// Board / package power (TDP or TGP).
    pub tdp: Watts,
    /// Approximate unit price, or why there is none (see the entry's docs).
    pub price: Price,
    /// Where the figures come from (short form; the entry's doc comment has them per field).
    pub source: &'static str,
}

const MIB: f64 = 1_048_576.0;

impl Accelerator {
    /// HBM a process can allocate, as the driver reports the device's total (nvidia-smi's
    /// Memory-Usage total; the CUDA context and library workspaces come out of it and are
    /// counted by the memory model's fixed overhead). The marketing capacity `hbm` is in decimal
    /// GB (80 GB = 80×10⁹ B) while the parts carry binary-sized stacks, so the usable figure is
    /// larger: 74.5 GiB against ~79.6 GiB on H100. `hbm` stays the physical, bill-of-materials
    /// figure; accelerators without a reported total fall back to it.
    ///
    /// - H100 SXM5 80GB: 81,559 MiB — `[S]` nvidia-smi on HGX/DGX H100 ("0MiB / 81559MiB",
    ///   NVIDIA/nccl issue #1264; modal-labs/modal-client PR #2797 lists the totals nvidia-smi
    ///   reports per GPU type). H800 keeps the H100 SXM5 memory (`[A]`, see [`H800`]).
    /// - A100 SXM4 80GB: 81,920 MiB — `[S]` nvidia-smi total, same modal-labs/modal-client PR
    ///   #2797 ("A100 80GB: 81920MiB"); A800-SXM4-80GB reports the same.
    /// - GB200 (NVL72 compute tray): 189,471 MiB (198.7 GB, 185.0 GiB) — `[S]` nvidia-smi on
    ///   GB200 trays ("0MiB / 189471MiB", the same in every public tray listing found, e.g. an
    ///   OpenShift-on-GB200 install guide's listing, driver 580.126.09); the marketing 186 GB
    ///   is 13.4 TB / 72.
    pub fn usable_hbm(&self) -> Bytes {
        match self.id {
            "h100" | "h800" => Bytes(81_559.0 * MIB), // [S] nvidia-smi, NVIDIA/nccl#1264
            "a100" => Bytes(81_920.0 * MIB),          // [S] nvidia-smi, modal-client#2797
            "gb200" => Bytes(189_471.0 * MIB),        // [S] nvidia-smi on GB200 trays
            _ => self.hbm,
        }
    }
}

/// One scale-up link (NVLink, xGMI, ICI, UB, ...): the capacity of a single link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleUpLink {
    pub id: &'static str,
    pub name: &'static str,
    /// Capacity of one link, per direction.
    pub per_link: BytesPerSec,
    pub source: &'static str,
}

/// A scale-out network adapter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nic {
    pub id: &'static str,
    pub name: &'static str,
    /// Line rate of one port, per direction.
    pub port_speed: BytesPerSec,
    pub ports: u32,
    /// Adapter power, excluding pluggable optics.
    pub power: Watts,
    pub price: Price,
    pub source: &'static str,
}

/// A switch: a switch ASIC, a fixed single-chip switch box, or a modular chassis treated as one
/// switch of its documented radix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwitchChip {
    pub id: &'static str,
    pub name: &'static str,
    /// Number of ports at `port_speed`.
    pub radix: u32,
    /// Line rate of one port, per direction.
    pub port_speed: BytesPerSec,
    /// Power of the chip or box, excluding pluggable optics.
    pub power: Watts,
    pub price: Price,
    /// Where it sits (decides the network racks it takes).
    pub housing: Housing,
    pub source: &'static str,
}

/// A pluggable optical transceiver (one module).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transceiver {
    pub id: &'static str,
    pub name: &'static str,
    /// Total per-direction capacity of the module (both ports of a twin-port module).
    pub speed: BytesPerSec,
    pub power: Watts,
    pub price: Price,
    pub source: &'static str,
}

/// An optical circuit switch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ocs {
    pub id: &'static str,
    pub name: &'static str,
    /// Nominal port count (duplex ports).
    pub ports: u32,
    pub power: Watts,
    pub price: Price,
    pub source: &'static str,
}

/// A host CPU. Its price is part of its host's ([`Host::price`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cpu {
    pub id: &'static str,
    pub name: &'static str,
    pub vendor: &'static str,
    /// Thermal design power (package, or superchip share where stated).
    pub tdp: Watts,
    pub source: &'static str,
}

/// The host side of one server, compute tray or TPU host: what it draws and costs beyond the
/// lines a bill of materials lists on their own (accelerators, scale-up switch chips, compute
/// NICs, optics). See the module docs for how `overhead` is derived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Host {
    /// The node type it belongs to (`topology::nodes`), e.g. `"dgx-h100"`.
    pub id: &'static str,
    pub name: &'static str,
    /// Catalogue id of its CPU; the CPU count is the node type's.
    pub cpu: &'static str,
    /// Memory, storage, fans, management and storage NICs, BMC, power-conversion losses and the
    /// host's share of rack infrastructure (power shelves, management switches), per host.
    pub overhead: Watts,
    /// Per host, excluding the lines priced on their own; its CPUs are included.
    pub price: Price,
    /// Hosts in one compute rack, and where the rule comes from.
    pub hosts_per_rack: u32,
    pub rack_basis: &'static str,
    pub source: &'static str,
}

// ---------------------------------------------------------------------------------------------
// Assumption constants (see the module docs)
// ---------------------------------------------------------------------------------------------

/// `[A]` Power of a single-chip switch box or switch ASIC, per Tb/s of per-direction port
/// capacity, excluding optics. See the module docs for the reasoning.
pub const A_SWITCH_W_PER_TBPS: f64 = 20.0;
/// `[A]` Power of a modular deep-buffer chassis per Tb/s of per-direction capacity: twice the
/// single-chip figure, for the fabric stage and the HBM packet buffers.
pub const A_CHASSIS_W_PER_TBPS: f64 = 40.0;
/// `[A]` Price of a fixed single-chip switch box per Tb/s of per-direction capacity.
pub const A_SWITCH_USD_PER_TBPS: f64 = 1_000.0;
/// `[A]` Price of a modular chassis per Tb/s of per-direction capacity (3× a fixed box).
pub const A_CHASSIS_USD_PER_TBPS: f64 = 3_000.0;

/// Per-direction capacity of `radix` ports of `gbit` Gb/s each, in Tb/s. A macro, not a
/// `const fn`: float arithmetic in `const fn` needs Rust 1.82 and the workspace MSRV is 1.80.
macro_rules! tbps {
    ($radix:expr, $gbit:expr) => {
        ($radix as f64 * $gbit / 1_000.0)
    };
}

/// Bytes per second from Gb/s, usable in constants (`BytesPerSec::from_gbit` is not `const`).
macro_rules! gbit {
    ($g:expr) => {
        BytesPerSec($g * 1e9 / 8.0)
    };
}

/// 2^30 bytes, for capacities the vendor states in GiB.
const GIB: f64 = 1_073_741_824.0;

// ---------------------------------------------------------------------------------------------
// Accelerators
// ---------------------------------------------------------------------------------------------

/// `[S]` H100 unit price, systems.md §9.4 (figure used in Intel's 2024 Gaudi 3 comparison, y-ic.de).
/// Shared by [`H100`] and the DGX H100 host's derived price.
pub const H100_USD: Usd = Usd(30_700.0);

/// `[E]` Blackwell GPU unit price: midpoint of "between $30,000 and $40,000 per unit" (Jensen Huang
/// to CNBC, reported 2024-10-03 by briefbriefing.com). Shared by [`B200`], [`GB200`] and the
/// GB200 NVL72 tray's derived price.
pub const BLACKWELL_USD: Usd = Usd(35_000.0);

/// Why TPUs have no price: Google rents them and publishes no unit price or cost.
pub const TPU_PRICE: Price = Price::Unpriced {
    reason: "Google does not sell TPUs (rented per chip-hour on Google Cloud); no public unit-cost estimate found",
};

/// NVIDIA A100 SXM4 80GB (Ampere). The reference table covers no A100 hardware, so these are
/// datasheet values, marked `[A]`.
///
/// - `bf16_dense` 312 TFLOP/s — `[A]` NVIDIA A100 datasheet (dense BF16 tensor core; 624 with
///   sparsity). It is also the peak that Megatron-LM (Narayanan et al., SC'21) and Korthikanti et
///   al. 2022 use for their A100 utilisation figures.
/// - `fp8_dense` none — Ampere has no FP8 tensor path.
/// - `hbm` 80 GB HBM2e, `hbm_bw` 2,039 GB/s, `tdp` 400 W — `[A]` NVIDIA A100 datasheet
///   (SXM4 80GB column).
/// - `price` unpriced — the reference table gives no A100 price and the part is end-of-life.
///
/// Source: <https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf>
pub const A100: Accelerator = Accelerator {
    id: "a100",
    name: "NVIDIA A100 SXM4 80GB",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(312e12), // [A] A100 datasheet
    fp8_dense: None,                 // no FP8 on Ampere
    fp4_dense: None,                 // no FP4 on Ampere
    hbm: Bytes(80e9),                // [A] A100 datasheet
    hbm_bw: BytesPerSec(2.039e12),   // [A] A100 datasheet
    tdp: Watts(400.0),               // [A] A100 datasheet
    price: Price::Unpriced {
        reason: "end-of-life part; the reference table gives no A100 price",
    },
    source: "[A] NVIDIA A100 datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf); \
             312 TFLOP/s is also the peak used by Megatron-LM SC'21 and Korthikanti et al. 2022",
};

/// NVIDIA H100 SXM5 80GB (Hopper), as in DGX H100.
///
/// - `bf16_dense` 989.4 TFLOP/s, `fp8_dense` 1,978.9 TFLOP/s — `[A]` NVIDIA H100 SXM datasheet,
///   dense (sparsity figures halved). Cross-check `[D]` from reference table systems.md §1.1
///   "AI compute 32 PFLOPS FP8 (with sparsity)" per 8-GPU DGX H100 `[P]`: 32 / 8 / 2 = 2.0 PF FP8
///   dense per GPU (rounded marketing form of 1,978.9). Source of §1.1: NVIDIA DGX SuperPOD H100
///   RA, <https://docs.nvidia.com/dgx-superpod/reference-architecture-scalable-infrastructure-h100/latest/dgx-superpod-components.html>.
/// - `hbm` 80 GB — systems.md §1.1 `[P]` "8 × H100 SXM5 80 GB HBM3", same RA.
/// - `hbm_bw` 3.35 TB/s — `[A]` NVIDIA H100 SXM datasheet. `[C]` systems.md §1.1 `[P]` gives
///   "24 TB/s aggregate HBM bandwidth" per node, i.e. 3.0 TB/s per GPU; the datasheet figure is
///   kept because it is the per-GPU spec and the one kernel calibrations are normalised to.
/// - `tdp` 700 W — systems.md §1.1 / §9.3 `[S]`: Meta Llama-3 infra notes (sysdesign-wiki); the
///   H200 MLCommons JSON "H200 TGP 700W".
/// - `price` $30.7k — systems.md §9.4 `[S]`: figure used in Intel's 2024 Gaudi 3 comparison
///   (y-ic.de).
pub const H100: Accelerator = Accelerator {
    id: "h100",
    name: "NVIDIA H100 SXM5 80GB",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(989.4e12),       // [A] datasheet; [D] §1.1 cross-check
    fp8_dense: Some(FlopsPerSec(1978.9e12)), // [A] datasheet; [D] §1.1 32 PF sparse / 8 / 2
    fp4_dense: None,                         // no FP4 on Hopper
    hbm: Bytes(80e9),                        // [P] §1.1
    hbm_bw: BytesPerSec(3.35e12),            // [A] datasheet; [C] §1.1 node 24 TB/s / 8 = 3.0
    tdp: Watts(700.0),                       // [S] §1.1, §9.3
    price: Price::Usd(H100_USD),             // [S] §9.4 y-ic.de
    source: "systems.md §1.1 [P] NVIDIA DGX SuperPOD H100 RA (80 GB, 32 PF FP8 sparse per node); \
             §1.1/§9.3 [S] 700 W (Meta Llama-3 infra notes, MLCommons JSON); §9.4 [S] $30.7k (y-ic.de); \
             [A] NVIDIA H100 SXM datasheet for 989.4/1978.9 TFLOP/s dense and 3.35 TB/s",
};

/// NVIDIA H800 SXM5 80GB: the China-market variant of H100 SXM5. Not in the reference table.
///
/// - Compute, HBM, bandwidth and power: `[A]` identical to [`H100`] — the H800 keeps the H100
///   SXM5 die, clocks and memory; published H800 results (e.g. DeepSeek-V3, arXiv 2412.19437)
///   are normalised to the same 989 TFLOP/s BF16 peak.
/// - **NVLink is the difference**: `[A]` 400 GB/s bidirectional per GPU instead of 900, i.e.
///   **8 NVLink4 links** of [`NVLINK4`] (8 × 25 GB/s/dir = 200 GB/s/dir) instead of 18. This
///   struct has no link-count field; topology builders must use 8 links for H800.
/// - `price` unpriced — a China-market variant; no public unit price was found.
pub const H800: Accelerator = Accelerator {
    id: "h800",
    name: "NVIDIA H800 SXM5 80GB",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(989.4e12),       // [A] same as H100
    fp8_dense: Some(FlopsPerSec(1978.9e12)), // [A] same as H100
    fp4_dense: None,                         // no FP4 on Hopper
    hbm: Bytes(80e9),                        // [A] same as H100
    hbm_bw: BytesPerSec(3.35e12),            // [A] same as H100
    tdp: Watts(700.0),                       // [A] same as H100
    price: Price::Unpriced {
        reason: "China-market variant; no public unit price found",
    },
    source: "[A] H100 SXM5 figures (NVIDIA H100 datasheet) with NVLink cut to 400 GB/s bidir \
             = 8 NVLink4 links (NVIDIA H800 product information as widely reported)",
};

/// NVIDIA H100 96GB HBM2e at 500 W: the Meta Grand Teton part of the torchtitan benchmarks
/// (rows T067, T071).
///
/// - `hbm` 96 GB HBM2e, `hbm_bw` 2.4 TB/s, `tdp` 500 W — `[S]` pytorch/torchtitan
///   benchmarks/llama3_h100_202412_torchtitan.md, "Hardware": "Each H100 GPU is equipped with
///   96GB HBM2e with 2.4 TB/sec peak memory bandwidth"; "We used the default 500W power limit".
/// - `bf16_dense`, `fp8_dense` — `[E]` the same benchmark's footnote 2: "the actual peak TFLOPs
///   number is between SXM and NVL, and we don't know its exact value": the midpoint of H100 SXM
///   (989.4 / 1,978.9 TFLOP/s dense, datasheet) and H100 NVL (1,671 / 3,341 TFLOP/s with
///   sparsity, i.e. 835.5 / 1,670.5 dense, NVIDIA H100 datasheet) — a lower sustained clock at
///   the 500 W cap.
/// - NVLink: 18 NVLink4 links, as H100 SXM (Grand Teton: "8 NVIDIA H100 GPUs fully connected
///   with NVLink"); the RDMA network gives 400 Gb/s per GPU.
/// - `price` unpriced — not sold separately (Meta-specific SKU).
pub const H100_96GB: Accelerator = Accelerator {
    id: "h100-96gb",
    name: "NVIDIA H100 96GB HBM2e (500 W, Grand Teton)",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(912.45e12),      // [E] midpoint SXM 989.4 / NVL 835.5
    fp8_dense: Some(FlopsPerSec(1824.7e12)), // [E] midpoint SXM 1978.9 / NVL 1670.5
    fp4_dense: None,                         // no FP4 on Hopper
    hbm: Bytes(96e9),                        // [S] torchtitan benchmark, Hardware
    hbm_bw: BytesPerSec(2.4e12),             // [S] torchtitan benchmark, Hardware
    tdp: Watts(500.0),                       // [S] torchtitan benchmark, "default 500W power limit"
    price: Price::Unpriced {
        reason: "Meta Grand Teton part; not sold separately",
    },
    source: "[S] pytorch/torchtitan benchmarks/llama3_h100_202412_torchtitan.md (96GB HBM2e, 2.4 TB/s, \
             500 W; peak 'between SXM and NVL'); [E] midpoint of the H100 SXM and NVL datasheet peaks",
};

/// NVIDIA H20: the China-market Hopper with cut compute and full memory and NVLink.
///
/// - `bf16_dense` 148 TFLOP/s, `fp8_dense` 296 TFLOP/s, `hbm` 96 GB HBM3, `hbm_bw` 4.0 TB/s,
///   `tdp` 400 W, NVLink 900 GB/s bidirectional (18 NVLink4 links) — `[C]` NVIDIA H20 product
///   brief as reported by SemiAnalysis ("Nvidia's New China AI Chips Circumvent US
///   Restrictions", 2023-11-09) and willitrunai.com/gpus/h20-96gb ("96 GB HBM3 — 4,000 GB/s",
///   "148 TFLOPS FP16", "NVLink 4.0 (900 GB/s)", "400W TDP").
/// - `price` unpriced — China-market part; no list price published.
pub const H20: Accelerator = Accelerator {
    id: "h20",
    name: "NVIDIA H20 96GB",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(148e12),      // [C] product brief (SemiAnalysis; willitrunai)
    fp8_dense: Some(FlopsPerSec(296e12)), // [C] product brief
    fp4_dense: None,                      // no FP4 on Hopper
    hbm: Bytes(96e9),                     // [C] 96 GB HBM3
    hbm_bw: BytesPerSec(4.0e12),          // [C] 4.0 TB/s
    tdp: Watts(400.0),                    // [C] 400 W
    price: Price::Unpriced {
        reason: "China-market variant; no public unit price found",
    },
    source: "[C] NVIDIA H20 product brief as reported by SemiAnalysis (2023-11-09) and \
             willitrunai.com (148 TFLOP/s BF16, 296 FP8, 96 GB HBM3, 4.0 TB/s, NVLink 900 GB/s, 400 W)",
};

/// NVIDIA H200 SXM 141GB (Hopper with HBM3e).
///
/// - `bf16_dense`, `fp8_dense` — `[A]` NVIDIA H200 datasheet: same tensor throughput as H100 SXM
///   (989.4 / 1,978.9 TFLOP/s dense).
/// - `hbm` 141 GB — systems.md §1.1 `[P]`: MLCommons system JSON name "H200-SXM-141GBx8"
///   (mlcommons/inference_results_v4.1).
/// - `hbm_bw` 4.8 TB/s — `[A]` NVIDIA H200 datasheet (<https://www.nvidia.com/en-us/data-center/h200/>).
/// - `tdp` 700 W — systems.md §1.1 / §9.3 `[S]`: MLCommons JSON "H200 TGP 700W".
/// - `price` $35k — `[E]` not in the reference table. aiinframap.com "H100 vs H200 vs B200 TCO"
///   (trade-press survey, mid-2026: "H100 ≈ $30,000, H200 ≈ $35,000, B200 ≈ $40,000 per GPU
///   (±20–40 %)"); awesomeagents.ai H200 page "$25,000–$35,000". The figure both name is taken.
pub const H200: Accelerator = Accelerator {
    id: "h200",
    name: "NVIDIA H200 SXM 141GB",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(989.4e12),       // [A] H200 datasheet
    fp8_dense: Some(FlopsPerSec(1978.9e12)), // [A] H200 datasheet
    fp4_dense: None,                         // no FP4 on Hopper
    hbm: Bytes(141e9),                       // [P] §1.1 MLCommons "H200-SXM-141GBx8"
    hbm_bw: BytesPerSec(4.8e12),             // [A] H200 datasheet
    tdp: Watts(700.0),                       // [S] §1.1, §9.3 "H200 TGP 700W"
    price: Price::Usd(Usd(35_000.0)),        // [E] aiinframap.com; awesomeagents.ai
    source: "systems.md §1.1 [P] MLCommons inference_results_v4.1 H200-SXM-141GBx8 JSON (141 GB); \
             §9.3 [S] 700 W TGP; [A] NVIDIA H200 datasheet (989.4/1978.9 TFLOP/s, 4.8 TB/s); \
             [E] $35k (aiinframap.com H100/H200/B200 TCO survey; awesomeagents.ai $25-35k)",
};

/// NVIDIA B200 (Blackwell) in an 8-GPU HGX / DGX B200 board.
///
/// - `tdp` 1,000 W — systems.md §2.1 / §9.3 `[S]`: glennklockwood.com B200 page; Vultr HGX B200 doc.
/// - `bf16_dense` 2.25 PF, `fp8_dense` 4.5 PF — `[A]` NVIDIA DGX/HGX B200 spec (72 PF FP8 and
///   36 PF FP16/BF16 per 8 GPUs, quoted with sparsity; ÷ 8 ÷ 2). Lower than the GB200 GPU
///   (2.5 PF) because the HGX part runs at 1,000 W instead of 1,200 W.
/// - `hbm` 180 GB, `hbm_bw` 8 TB/s — `[A]` DGX B200 spec: 1,440 GB and 64 TB/s HBM3e per 8 GPUs.
/// - `fp4_dense` 9 PF — `[S]` glennklockwood.com B200 page, HGX variant at 1,000 W: FP4 matrix
///   9,000 TFLOP/s dense, 18,000 sparse. Cross-check `[D]`: the DGX B200 spec page's "144 PF"
///   FP4 inference per 8 GPUs (with sparsity) / 8 / 2 = 9 PF. Uncalibrated (no measured FP4
///   kernel).
/// - `price` $35k — `[E]` the midpoint of "between $30,000 and $40,000 per unit" for Blackwell
///   (Jensen Huang to CNBC, as reported 2024-10-03, briefbriefing.com). `[C]` aiinframap.com's
///   mid-2026 survey says ≈ $40k. systems.md §9.4 `[U]` has no B200 or DGX B200 price.
///
/// Spec page: <https://www.nvidia.com/en-us/data-center/dgx-b200/>
pub const B200: Accelerator = Accelerator {
    id: "b200",
    name: "NVIDIA B200 (HGX, 1000 W)",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(2.25e15),     // [A] DGX B200 spec 36 PF sparse / 8 / 2
    fp8_dense: Some(FlopsPerSec(4.5e15)), // [A] DGX B200 spec 72 PF sparse / 8 / 2
    fp4_dense: Some(FlopsPerSec(9e15)), // [S] glennklockwood B200 HGX 9,000 TF dense; [D] DGX B200 144 PF sparse / 8 / 2
    hbm: Bytes(180e9),                  // [A] DGX B200 spec 1,440 GB / 8
    hbm_bw: BytesPerSec(8e12),          // [A] DGX B200 spec 64 TB/s / 8
    tdp: Watts(1000.0),                 // [S] §2.1, §9.3
    price: Price::Usd(BLACKWELL_USD),   // [E] Huang/CNBC $30-40k midpoint
    source: "systems.md §2.1/§9.3 [S] 1,000 W (glennklockwood.com B200 page; Vultr HGX B200 doc); \
             [A] NVIDIA DGX B200 spec page for compute and memory (per-system figures / 8, sparsity halved); \
             [E] $35k: Blackwell $30-40k per unit (Jensen Huang to CNBC, 2024); \
             [S] FP4 9 PF dense (glennklockwood.com B200 page; DGX B200 144 PF sparse / 8 / 2 [D])",
};

/// The Blackwell GPU of a GB200 superchip (GB200 NVL72), per GPU.
///
/// - `bf16_dense` 2.5 PF — `[D]` systems.md §2.1 rack "BF16 360 / 180" PF sparse/dense `[P(S)]`
///   (NVIDIA GB200 NVL72 product page via AIPS-Boom wiki): 180 PF / 72.
/// - `fp8_dense` 5 PF — `[D]` same row, FP8 dense 360 PF / 72.
/// - `fp4_dense` 10 PF — `[D]` same row, "NVFP4 1,440 / 720 PF (sparse/dense)" per rack: 720 PF /
///   72. Uncalibrated (no measured FP4 kernel).
/// - `hbm` ≈ 186 GB — `[D]` §2.1 "13.4 TB HBM3e" `[P(S)]` / 72. `[C]` older and third-party figures
///   say 13.5 or 13.8 TB per rack.
/// - `hbm_bw` 8 TB/s — `[D]` §2.1 "576 TB/s" / 72.
/// - `tdp` 1,200 W — §2.1 / §9.3 `[S]` "The GB200 variant is rated at 1,200 W" (glennklockwood;
///   Vultr).
/// - `price` $35k — `[E]` the Blackwell per-unit range as [`B200`] ("$30,000 to $40,000",
///   Jensen Huang to CNBC), `[A]` applied to the GB200 GPU. §2.2 / §9.4 `[S]` give the rack
///   price (about $3M per NVL72, training.continuumlabs.ai, kshirol-dev); the rest of the rack
///   (Grace, trays, NVLink switches, power shelves) is priced on the rack's host line
///   ([`GB200_NVL72_TRAY`]) so that a rack totals $3M.
pub const GB200: Accelerator = Accelerator {
    id: "gb200",
    name: "NVIDIA GB200 Blackwell GPU (NVL72, 1200 W)",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(180e15 / 72.0),      // [D] §2.1 180 PF dense / 72
    fp8_dense: Some(FlopsPerSec(360e15 / 72.0)), // [D] §2.1 360 PF dense / 72
    fp4_dense: Some(FlopsPerSec(720e15 / 72.0)), // [D] §2.1 NVFP4 720 PF dense / 72
    hbm: Bytes(13.4e12 / 72.0),                  // [D] §2.1 13.4 TB / 72; [C] 13.5/13.8 TB
    hbm_bw: BytesPerSec(576e12 / 72.0),          // [D] §2.1 576 TB/s / 72
    tdp: Watts(1200.0),                          // [S] §2.1, §9.3
    price: Price::Usd(BLACKWELL_USD),            // [E] Blackwell $30-40k; [A] for GB200
    source: "systems.md §2.1 [P(S)] NVIDIA GB200 NVL72 product page via AIPS-Boom wiki (rack compute \
             and memory, divided by 72 [D]); §2.1/§9.3 [S] 1,200 W (glennklockwood.com; Vultr); \
             [E] $35k as B200 (Blackwell $30-40k, Jensen Huang to CNBC)",
};

/// NVIDIA B300 (Blackwell Ultra) in an 8-GPU HGX / DGX B300 board. The reference table gives
/// only system-level facts for B300 (the DGX SuperPOD B300 XDR RA); the per-GPU figures are
/// assumptions.
///
/// - `bf16_dense` 2.25 PF, `fp8_dense` 4.5 PF — `[A]` NVIDIA HGX B300 spec: the same FP8 and
///   BF16 tensor rates as HGX B200 (Blackwell Ultra raised FP4 and attention throughput, not
///   BF16/FP8). Recalled, not verified against the page.
/// - `hbm` 288 GB, `hbm_bw` 8 TB/s — `[A]` NVIDIA Blackwell Ultra: 288 GB HBM3e (12-high stacks),
///   same 8 TB/s as B200. Recalled, not verified.
/// - `fp4_dense` 13.5 PF — `[C]` three figures: NVIDIA HGX B300 spec "FP4 Tensor Core 144 /
///   108 PFLOPS" (sparse / dense) per 8 GPUs `[A]` (recalled) → 13.5 PF; glennklockwood.com B300
///   page `[S]` "13 PF on B300 vs. 9.0 PF on B200" (13,125 TFLOP/s in its table); verda.com
///   "GB300 NVL72 architecture" `[S]` 14 PF. The middle one is taken. Blackwell Ultra raised
///   dense FP4 only (its sparse FP4 equals Blackwell's). Uncalibrated.
/// - `tdp` 1,100 W — `[A]` widely reported HGX B300 rating. Consistent with systems.md §9.3 `[P]`
///   "about 56 kW per rack of 4 DGX B300" (B300 XDR RA) = 14 kW per 8-GPU system `[D]`.
/// - `price` unpriced — no public per-GPU estimate was found for Blackwell Ultra.
pub const B300: Accelerator = Accelerator {
    id: "b300",
    name: "NVIDIA B300 Blackwell Ultra (HGX)",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(2.25e15),    // [A] HGX B300 spec (as B200)
    fp8_dense: Some(FlopsPerSec(4.5e15)), // [A] HGX B300 spec (as B200)
    fp4_dense: Some(FlopsPerSec(13.5e15)), // [C] HGX B300 108 PF dense / 8 [A]; 13.1 [S]; 14 [S]
    hbm: Bytes(288e9),                   // [A] Blackwell Ultra 288 GB
    hbm_bw: BytesPerSec(8e12),           // [A] as B200
    tdp: Watts(1100.0),                  // [A] reported; [D] §9.3 14 kW per DGX B300
    price: Price::Unpriced {
        reason: "no public per-GPU estimate found for Blackwell Ultra",
    },
    source: "[A] NVIDIA HGX B300 / Blackwell Ultra public specs (not in systems.md, unverified); \
             [C] FP4 dense 13.5 PF (HGX B300 108 PF / 8 [A]; glennklockwood.com 13.1 [S]; verda.com 14 [S]); \
             systems.md §9.3 [P] DGX B300 about 56 kW per rack of 4 (B300 XDR RA, \
             https://docs.nvidia.com/dgx-superpod/reference-architecture/scalable-infrastructure-b300-xdr/latest/dgx-superpod-architecture.html)",
};

/// The Blackwell Ultra GPU of a GB300 superchip (GB300 NVL72), per GPU. The reference table gives
/// only the rack power and the NIC (4 × ConnectX-8 per tray); the per-GPU figures are
/// assumptions.
///
/// - `bf16_dense` 2.5 PF, `fp8_dense` 5 PF — `[A]` same as [`GB200`]: NVIDIA's GB300 NVL72 page
///   lists the same FP16/BF16 (360 PF) and FP8 (720 PF) rack figures as GB200, sparse.
/// - `hbm` 288 GB — `[A]` Blackwell Ultra 288 GB HBM3e per GPU (about 20.7 TB per rack).
/// - `fp4_dense` 15 PF — `[S]` GB300 NVL72 "FP4 Tensor Core sparse 1,440 PFLOPS, dense 1,080
///   PFLOPS" per rack (vendordeep.com report of NVIDIA's GTC announcement; verda.com's rack
///   aggregate 1,080 PF; glennklockwood.com "1.1 EF dense FP4") / 72; Tom's Hardware's Hot Chips
///   2025 table gives 15 PF per Blackwell Ultra package. Uncalibrated.
/// - `hbm_bw` 8 TB/s — `[A]` as GB200 (rack 576 TB/s / 72).
/// - `tdp` 1,400 W — `[A]` widely reported GB300 GPU rating. Upper-bound check: systems.md §2.1 /
///   §9.3 `[P]` "Full rack requiring up to 142 kW" (NVIDIA Enterprise RA NVL72) = 1.97 kW per GPU
///   all-in `[D]`, which also covers CPUs, switches and conversion losses.
/// - `price` unpriced — no public per-GPU or GB300 NVL72 rack estimate was found.
pub const GB300: Accelerator = Accelerator {
    id: "gb300",
    name: "NVIDIA GB300 Blackwell Ultra GPU (NVL72)",
    vendor: "NVIDIA",
    bf16_dense: FlopsPerSec(2.5e15),    // [A] as GB200
    fp8_dense: Some(FlopsPerSec(5e15)), // [A] as GB200
    fp4_dense: Some(FlopsPerSec(1080e15 / 72.0)), // [S] GB300 NVL72 1,080 PF dense / 72
    hbm: Bytes(288e9),                  // [A] Blackwell Ultra 288 GB
    hbm_bw: BytesPerSec(8e12),          // [A] as GB200
    tdp: Watts(1400.0),                 // [A] reported; [D] §2.1 142 kW / 72 upper bound
    price: Price::Unpriced {
        reason: "no public per-GPU or GB300 NVL72 rack estimate found",
    },
    source: "[A] NVIDIA GB300 NVL72 public specs (not in systems.md, unverified); [S] FP4 15 PF dense \
             (GB300 NVL72 1,080 PF dense / 72: vendordeep.com, verda.com; Tom's Hardware Hot Chips 2025); systems.md §2.1/§9.3 \
             [P] GB300 NVL72 rack up to 142 kW (NVIDIA Enterprise RA NVL72, \
             https://docs.nvidia.com/enterprise-reference-architectures/nvl72-ai-factory/latest/components.html)",
};

/// AMD Instinct MI300X (CDNA 3, OAM), 8-GPU UBB platform.
///
/// - `bf16_dense` 1.3 PF — systems.md §7.1 `[S]` "About 1.3 PF FP16 dense" (jaredwatkins;
///   awesomeagents); BF16 and FP16 run at the same rate on CDNA 3 (AMD datasheet: 1,307.4 TFLOPS).
/// - `fp8_dense` 2.6 PF — `[C]` systems.md §7.1 says "~2.6 PF FP8 with sparsity", but FP8 runs at
///   twice the FP16 rate on CDNA 3, so 2 × 1.3 PF dense = 2.6 PF is the **dense** FP8 figure
///   (AMD's datasheet lists 2,614.9 TFLOPS FP8 dense, 5,229.8 with sparsity). The table's
///   "with sparsity" label is taken to be an error.
/// - `hbm` 192 GB, `hbm_bw` 5.3 TB/s, `tdp` 750 W — §7.1 `[S/P]`: MLCommons JSON
///   ("MI300X-…-192GB-750W"); §9.3 `[S]` 750 W.
/// - `price` $15k — §7.1 / §9.4 `[S]` "about $10–15k street"; the upper end is the "MSRP $15k" of
///   the Hugging Face hardware page, taken as the single figure.
pub const MI300X: Accelerator = Accelerator {
    id: "mi300x",
    name: "AMD Instinct MI300X 192GB",
    vendor: "AMD",
    bf16_dense: FlopsPerSec(1.3e15),      // [S] §7.1
    fp8_dense: Some(FlopsPerSec(2.6e15)), // [C] §7.1 labelled "with sparsity"; dense per CDNA 3 2x rule
    fp4_dense: None,                      // no FP4 on CDNA 3
    hbm: Bytes(192e9),                    // [S/P] §7.1 MLCommons JSON
    hbm_bw: BytesPerSec(5.3e12),          // [S] §7.1
    tdp: Watts(750.0),                    // [S] §7.1, §9.3 MLCommons JSON name
    price: Price::Usd(Usd(15_000.0)),     // [S] §7.1/§9.4 HF hardware page "MSRP $15k"
    source: "systems.md §7.1 [S] gpu.blog, jaredwatkins, awesomeagents, MLCommons AMD system JSON \
             (MI300X-192GB-750W); §9.4 [S] $10-15k street (awesomeagents; Hugging Face hardware page)",
};

/// Intel Gaudi 3 (OAM).
///
/// - `bf16_dense`, `fp8_dense` 1,835 TFLOP/s — systems.md §7.2 `[S]` "1,835 TFLOPS BF16 / FP8 (MME)"
///   (yobitel; evokernel-specs). BF16 and FP8 run at the same MME rate.
/// - `hbm` 128 GB HBM2e, `hbm_bw` 3.7 TB/s, `tdp` 900 W — §7.2 `[S]` (yobitel); §9.3 `[S]` 900 W.
/// - `price` $15,625 — `[D]` §7.2 / §9.4 `[S]` "8-chip kit about $125,000 (Intel statement)"
///   (y-ic.de) / 8.
pub const GAUDI3: Accelerator = Accelerator {
    id: "gaudi3",
    name: "Intel Gaudi 3 (OAM)",
    vendor: "Intel",
    bf16_dense: FlopsPerSec(1835e12),        // [S] §7.2
    fp8_dense: Some(FlopsPerSec(1835e12)),   // [S] §7.2 same MME rate
    fp4_dense: None,                         // no FP4 on Gaudi 3
    hbm: Bytes(128e9),                       // [S] §7.2
    hbm_bw: BytesPerSec(3.7e12),             // [S] §7.2
    tdp: Watts(900.0),                       // [S] §7.2, §9.3
    price: Price::Usd(Usd(125_000.0 / 8.0)), // [D] §7.2/§9.4 $125k per 8-chip kit / 8
    source: "systems.md §7.2 [S] yobitel, evokernel-specs (compute, memory, 900 W); \
             §9.4 [S] Intel $125k per 8-chip kit (y-ic.de) / 8 [D]",
};

/// `[D]` TPU v4 peak BF16 per measured maximum watt, 275 TFLOP/s / 192 W (systems.md §3.1 `[P]`),
/// used to assume the power of later TPUs that Google does not publish.
pub const TPU_V4_FLOPS_PER_W: f64 = 275e12 / 192.0;

/// Google TPU v4.
///
/// - `bf16_dense` 275 TFLOP/s, `hbm` 32 GiB HBM2, `hbm_bw` 1,200 GB/s — systems.md §3.1 `[P]`:
///   Cloud TPU v4 docs, <https://cloud.google.com/tpu/docs/v4>.
/// - `fp8_dense` none — v4 has BF16 and INT8 (275 TOPS), no FP8.
/// - `tdp` 192 W — §3.1 / §9.3 `[P]`: measured power min / mean / max 90 / 170 / 192 W; the
///   maximum stands in for a TDP (the mean, 170 W, suits energy models).
/// - `price` unpriced ([`TPU_PRICE`]) — Google does not sell TPUs and no public unit-cost
///   estimate was found; a cost model must supply its own (e.g. from Cloud TPU pricing).
pub const TPU_V4: Accelerator = Accelerator {
    id: "tpu-v4",
    name: "Google TPU v4",
    vendor: "Google",
    bf16_dense: FlopsPerSec(275e12), // [P] §3.1
    fp8_dense: None,                 // no FP8
    fp4_dense: None,                 // no FP4
    hbm: Bytes(32.0 * GIB),          // [P] §3.1 32 GiB
    hbm_bw: BytesPerSec(1200e9),     // [P] §3.1
    tdp: Watts(192.0),               // [P] §3.1/§9.3 measured max
    price: TPU_PRICE,
    source: "systems.md §3.1 [P] Cloud TPU v4 docs https://cloud.google.com/tpu/docs/v4 \
             (275 TFLOPS, 32 GiB, 1,200 GB/s, 90/170/192 W measured)",
};

/// Google TPU v5e ("v5 lite"). Not in the reference table except as context.
///
/// - `bf16_dense` 197 TFLOP/s, `hbm` 16 GB HBM2, `hbm_bw` 819 GB/s — `[A]` Cloud TPU v5e docs
///   (<https://cloud.google.com/tpu/docs/v5e>), public system-architecture table.
/// - `fp8_dense` none — v5e has BF16 and INT8 (394 TOPS), no FP8.
/// - `tdp` 140 W — `[A]` not published. Assumed at TPU v4's measured peak efficiency
///   (275 TFLOP/s / 192 W = 1.43 TFLOP/s per W, systems.md §3.1 `[P]`): 197 / 1.43 ≈ 138 W,
///   rounded to 140 W. Treat as ±30 %.
/// - `price` unpriced — Google does not sell TPUs; see [`TPU_V4`].
pub const TPU_V5E: Accelerator = Accelerator {
    id: "tpu-v5e",
    name: "Google TPU v5e",
    vendor: "Google",
    bf16_dense: FlopsPerSec(197e12), // [A] Cloud TPU v5e docs
    fp8_dense: None,                 // no FP8
    fp4_dense: None,                 // no FP4
    hbm: Bytes(16e9),                // [A] Cloud TPU v5e docs
    hbm_bw: BytesPerSec(819e9),      // [A] Cloud TPU v5e docs
    tdp: Watts(140.0),               // [A] v4 efficiency rule: 197e12 / TPU_V4_FLOPS_PER_W ≈ 138 W
    price: TPU_PRICE,
    source: "[A] Cloud TPU v5e docs https://cloud.google.com/tpu/docs/v5e (197 TFLOPS, 16 GB, 819 GB/s); \
             power assumed at TPU v4 efficiency (systems.md §3.1 [P])",
};

/// Google TPU v5p.
///
/// - `bf16_dense` 459 TFLOP/s; `fp8_dense` 459 — systems.md §3.2 `[P]` "459 TFLOPS bf16 (FP8 also
///   listed as 459)": no speed-up over BF16.
/// - `hbm` 95 GiB HBM2e, `hbm_bw` 2,765 GB/s — §3.2 `[P]`: Cloud TPU v5p docs,
///   <https://cloud.google.com/tpu/docs/v5p>.
/// - `tdp` 320 W — `[A]` not published. TPU v4 efficiency rule (see [`TPU_V5E`]):
///   459 / 1.43 ≈ 320 W.
/// - `price` unpriced — Google does not sell TPUs; see [`TPU_V4`].
pub const TPU_V5P: Accelerator = Accelerator {
    id: "tpu-v5p",
    name: "Google TPU v5p",
    vendor: "Google",
    bf16_dense: FlopsPerSec(459e12),      // [P] §3.2
    fp8_dense: Some(FlopsPerSec(459e12)), // [P] §3.2 "FP8 also listed as 459"
    fp4_dense: None,                      // no FP4
    hbm: Bytes(95.0 * GIB),               // [P] §3.2 95 GiB
    hbm_bw: BytesPerSec(2765e9),          // [P] §3.2
    tdp: Watts(320.0),                    // [A] v4 efficiency rule
    price: TPU_PRICE,
    source: "systems.md §3.2 [P] Cloud TPU v5p docs https://cloud.google.com/tpu/docs/v5p \
             (459 TFLOPS, 95 GiB, 2,765 GB/s); power assumed at TPU v4 efficiency",
};

/// Google TPU v6e (Trillium).
///
/// - `bf16_dense` 918 TFLOP/s, `hbm` 32 GiB — systems.md §3.3 `[P/S]`: Cloud TPU7x docs comparison
///   table (<https://docs.cloud.google.com/tpu/docs/tpu7x>); brendanjameslynskey deck.
/// - `fp8_dense` none — v6e has BF16 and INT8, no FP8.
/// - `hbm_bw` 1,640 GB/s — `[A]` Cloud TPU v6e docs (<https://cloud.google.com/tpu/docs/v6e>).
/// - `tdp` 385 W — `[A]` not published. Google's launch claim "67 % more energy-efficient than
///   TPU v5e" applied to the v4-efficiency rule: 918 / (1.43 × 1.67) ≈ 384 W, rounded to 385 W.
/// - `price` unpriced — Google does not sell TPUs; see [`TPU_V4`].
pub const TPU_V6E: Accelerator = Accelerator {
    id: "tpu-v6e",
    name: "Google TPU v6e (Trillium)",
    vendor: "Google",
    bf16_dense: FlopsPerSec(918e12), // [P/S] §3.3
    fp8_dense: None,                 // no FP8
    fp4_dense: None,                 // no FP4
    hbm: Bytes(32.0 * GIB),          // [P/S] §3.3 32 GiB
    hbm_bw: BytesPerSec(1640e9),     // [A] Cloud TPU v6e docs
    tdp: Watts(385.0),               // [A] v4 efficiency × 1.67 (Google Trillium claim)
    price: TPU_PRICE,
    source: "systems.md §3.3 [P/S] Cloud TPU7x docs comparison table (918 TFLOPS, 32 GiB); \
             [A] Cloud TPU v6e docs https://cloud.google.com/tpu/docs/v6e (1,640 GB/s); power assumed",
};

/// Google TPU7x "Ironwood".
///
/// - `bf16_dense` 2,307 TFLOP/s, `fp8_dense` 4,614 TFLOP/s, `hbm` 192 GiB HBM3e, `hbm_bw`
///   7.37 TB/s — systems.md §3.3 `[P/S]`: Cloud TPU7x docs table,
///   <https://docs.cloud.google.com/tpu/docs/tpu7x>; Hot Chips 2025 coverage.
/// - `tdp` 1,000 W — `[A]` not published. Blackwell-class peak efficiency (B200: 2.25 PF at
///   1,000 W) applied to 2,307 TFLOP/s gives ≈ 1,025 W, rounded to 1 kW. Chaining Google's perf/W
///   marketing claims from v4 gives ≈ 500 W, which looks too low for 192 GiB of HBM3e at
///   7.37 TB/s. Treat as ±50 %.
/// - `price` unpriced — Google does not sell TPUs; see [`TPU_V4`].
pub const TPU_V7: Accelerator = Accelerator {
    id: "tpu-v7",
    name: "Google TPU7x (Ironwood)",
    vendor: "Google",
    bf16_dense: FlopsPerSec(2307e12),      // [P/S] §3.3
    fp8_dense: Some(FlopsPerSec(4614e12)), // [P/S] §3.3
    fp4_dense: None,                       // [P/S] §3.3 lists BF16 and FP8 only
    hbm: Bytes(192.0 * GIB),               // [P/S] §3.3 192 GiB
    hbm_bw: BytesPerSec(7.37e12),          // [P/S] §3.3
    tdp: Watts(1000.0),                    // [A] B200-class efficiency
    price: TPU_PRICE,
    source: "systems.md §3.3 [P/S] Cloud TPU7x docs https://docs.cloud.google.com/tpu/docs/tpu7x; \
             Hot Chips 2025 coverage; power assumed",
};

/// What a TPU generation's training model needs beyond [`Accelerator`]: the MXU systolic
/// array's side (XLA pads matrix dimensions to it), chips per host and the host's data-center
/// network (DCN) bandwidth, over which multislice jobs reach other slices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TpuCore {
    /// Catalogue id of the accelerator.
    pub accel: &'static str,
    /// MXU side (elements): a `mxu × mxu` systolic array.
    pub mxu: u32,
    /// TPU chips per host (VM host of a multi-host slice).
    pub chips_per_host: u32,
    /// DCN bandwidth per host, per direction.
    pub dcn_per_host: BytesPerSec,
    /// Whether the generation has measured training rows in the TPU compute rule's fit.
    pub calibrated: bool,
    pub source: &'static str,
}

impl TpuCore {
    /// DCN bandwidth per chip: the host's NICs shared evenly by its chips.
    pub fn dcn_per_chip(&self) -> BytesPerSec {
        BytesPerSec(self.dcn_per_host.0 / self.chips_per_host as f64)
    }
}

/// TPU generations (see [`TpuCore`]).
///
/// - v4: MXU 128×128 (4 MXUs per TensorCore) — systems.md §3.1 `[P]`, Jouppi et al. ISCA 2023; 4
///   chips per host (a tray is 4 chips + 1 host, §3.1 `[S]`); DCN `[A]` not published for v4 —
///   taken as v5p's 50 Gb/s per chip.
/// - v5e: MXU 128×128 (four per TensorCore), 8 chips per host, "2 x 100 Gbps NIC" per host and
///   "6.4 Tbps" DCN per 256-chip pod (= 25 Gb/s per chip, consistent) — `[P]` Cloud TPU v5e docs
///   <https://cloud.google.com/tpu/docs/v5e>, system architecture table.
/// - v5p: MXU 128×128 (four per TensorCore, two TensorCores), 4 chips per host ("4-chip VM"),
///   "Data center network (DCN) bandwidth per chip 50 Gbps" → 200 Gb/s per host — `[P]` Cloud TPU
///   v5p docs <https://cloud.google.com/tpu/docs/v5p>.
/// - v6e: "two 256x256 matrix-multiply units", 8 chips per host — `[P]` Cloud TPU v6e docs
///   <https://cloud.google.com/tpu/docs/v6e>; "4 × 200 Gbps" NIC per host and 25.6 Tbps DCN per
///   256-chip pod `[S]` (a summary of the same page; consistent: 100 Gb/s per chip).
/// - Ironwood (TPU7x): MXU 256×256 and 4 chips per host `[A]` (as v6e's MXU and v5p's host);
///   DCN `[A]` taken as v6e's 100 Gb/s per chip. Not calibrated (no measured row).
pub const TPU_CORES: &[TpuCore] = &[
    TpuCore {
        accel: "tpu-v4",
        mxu: 128,
        chips_per_host: 4,
        dcn_per_host: gbit!(200.0), // [A] 4 × 50 Gb/s, as v5p
        calibrated: false,
        source: "[P] Cloud TPU v4 docs (MXU 128x128, 4 chips per host); DCN [A] as v5p",
    },
    TpuCore {
        accel: "tpu-v5e",
        mxu: 128,
        chips_per_host: 8,
        dcn_per_host: gbit!(200.0), // [P] 2 × 100 Gbps NIC per host
        calibrated: true,
        source: "[P] Cloud TPU v5e docs https://cloud.google.com/tpu/docs/v5e (8 chips per host, 2 x 100 Gbps NIC, 6.4 Tbps DCN per pod)",
    },
    TpuCore {
        accel: "tpu-v5p",
        mxu: 128,
        chips_per_host: 4,
        dcn_per_host: gbit!(4.0 * 50.0), // [P] 50 Gbps per chip
        calibrated: true,
        source: "[P] Cloud TPU v5p docs https://cloud.google.com/tpu/docs/v5p (DCN 50 Gbps per chip, 4-chip VM)",
    },
    TpuCore {
        accel: "tpu-v6e",
        mxu: 256,
        chips_per_host: 8,
        dcn_per_host: gbit!(4.0 * 200.0), // [S] 4 × 200 Gbps per host
        calibrated: true,
        source: "[P] Cloud TPU v6e docs https://cloud.google.com/tpu/docs/v6e (two 256x256 MXUs, 8 chips per host); [S] 4 x 200 Gbps NIC per host",
    },
    TpuCore {
        accel: "tpu-v7",
        mxu: 256,
        chips_per_host: 4,
        dcn_per_host: gbit!(4.0 * 100.0), // [A] as v6e per chip
        calibrated: false,
        source: "[A] Ironwood: MXU as v6e, host as v5p, DCN per chip as v6e (not published)",
    },
];

/// The TPU figures of accelerator `id` (`"tpu-v5p"`), if it is a TPU.
pub fn tpu_core(id: &str) -> Option<&'static TpuCore> {
    TPU_CORES.iter().find(|t| t.accel == id)
}

/// Huawei Ascend 910C (two dies per package), as in CloudMatrix384.
///
/// - `bf16_dense` 752 TFLOP/s — systems.md §4 `[S]` (paper, arXiv 2506.12708, via emergentmind and
///   StrataCL notes). `[C]` SemiAnalysis / Huawei give 780 TFLOP/s (§4 "Compute (system)").
/// - `fp8_dense` none — `[A]` the 910C has no FP8 tensor path in the figures the table cites.
/// - `hbm` 128 GB, `hbm_bw` 3.2 TB/s — §4 `[S]` (64 GB and 1.6 TB/s per die).
/// - `tdp` 800 W — `[A]` not in the table. Two dies of the 910B class, which is commonly quoted at
///   about 400 W. Consistency check: §4 / §9.3 `[S]` "about 559 kW per system" (SemiAnalysis) is
///   1,456 W per NPU all-in (CPUs, 6,912 optics and UB switches included) `[D]`.
/// - `price` ≈ $28.6k — `[E]` Huawei's reported target of "70,000 chips, with a total value
///   approaching $2 billion" (The Wall Street Journal, 2024, as reported by cointeeth.com) `[D]`
///   $2 B / 70,000. `[C]` §4 / §9.4 `[S]` "up to US$8.2 M per system" (capacitymedia) is only
///   $21.4k per NPU *all-in*, below this chip estimate: the two public figures conflict, and a
///   CloudMatrix384 priced from this catalogue costs more than the press figure.
pub const ASCEND_910C: Accelerator = Accelerator {
    id: "ascend-910c",
    name: "Huawei Ascend 910C",
    vendor: "Huawei",
    bf16_dense: FlopsPerSec(752e12),        // [S] §4 paper; [C] 780 SemiAnalysis
    fp8_dense: None,                        // [A] no FP8
    fp4_dense: None,                        // [A] no FP4
    hbm: Bytes(128e9),                      // [S] §4
    hbm_bw: BytesPerSec(3.2e12),            // [S] §4
    tdp: Watts(800.0),                      // [A] 2 × 910B-class die
    price: Price::Usd(Usd(2e9 / 70_000.0)), // [E] WSJ: ~$2 B for 70,000 chips; [C] §9.4
    source: "systems.md §4 [S] Zuo et al. arXiv 2506.12708 via emergentmind and StrataCL notes \
             (752 TFLOPS BF16, 128 GB, 3.2 TB/s); [C] 780 TFLOPS SemiAnalysis 2025-04-16; power assumed; \
             [E] ~$2 B for 70,000 chips (WSJ 2024 via cointeeth.com); [C] up to $8.2 M per CloudMatrix384 (§9.4)",
};

/// Every accelerator in the catalogue.
pub static ACCELERATORS: &[Accelerator] = &[
    A100,
    H100,
    H800,
    H100_96GB,
    H20,
    H200,
    B200,
    GB200,
    B300,
    GB300,
    MI300X,
    GAUDI3,
    TPU_V4,
    TPU_V5E,
    TPU_V5P,
    TPU_V6E,
    TPU_V7,
    ASCEND_910C,
];

/// Accelerator aliases, normalised (lowercase, `-` separators) → id.
static ACCELERATOR_ALIASES: &[(&str, &str)] = &[
    ("a100-sxm4-80gb", "a100"),
    ("a100-sxm4", "a100"),
    ("a100-sxm", "a100"),
    ("a100-80gb", "a100"),
    ("h100-sxm5-80gb", "h100"),
    ("h100-sxm5", "h100"),
    ("h100-sxm", "h100"),
    ("h100-80gb", "h100"),
    ("h100-sxm-80gb", "h100"),
    ("h100-96gb-hbm2e", "h100-96gb"),
    ("h100-hbm2e", "h100-96gb"),
    ("h20-96gb", "h20"),
    ("h800-sxm5-80gb", "h800"),
    ("h800-sxm5", "h800"),
    ("h800-sxm", "h800"),
    ("h200-sxm-141gb", "h200"),
    ("h200-sxm5-141gb", "h200"),
    ("h200-sxm", "h200"),
    ("hgx-b200", "b200"),
    ("dgx-b200", "b200"),
    ("gb200-nvl72", "gb200"),
    ("hgx-b300", "b300"),
    ("dgx-b300", "b300"),
    ("gb300-nvl72", "gb300"),
    ("instinct-mi300x", "mi300x"),
    ("gaudi-3", "gaudi3"),
    ("tpuv4", "tpu-v4"),
    ("v4", "tpu-v4"),
    ("tpuv5e", "tpu-v5e"),
    ("v5e", "tpu-v5e"),
    ("tpu-v5-lite", "tpu-v5e"),
    ("v5litepod", "tpu-v5e"),
    ("tpuv5p", "tpu-v5p"),
    ("v5p", "tpu-v5p"),
    ("tpuv6e", "tpu-v6e"),
    ("v6e", "tpu-v6e"),
    ("trillium", "tpu-v6e"),
    ("ironwood", "tpu-v7"),
    ("tpu7x", "tpu-v7"),
    ("tpu-7x", "tpu-v7"),
    ("tpuv7", "tpu-v7"),
    ("v7", "tpu-v7"),
    ("910c", "ascend-910c"),
    ("ascend910c", "ascend-910c"),
];

// ---------------------------------------------------------------------------------------------
// Scale-up links
// ---------------------------------------------------------------------------------------------

/// NVLink 3 (A100): one link.
///
/// - 25 GB/s/dir — `[A]` NVIDIA A100 datasheet: 600 GB/s bidirectional NVLink per GPU over
///   12 links = 50 GB/s bidir = 25 GB/s/dir per link. Not in the reference table.
pub const NVLINK3: ScaleUpLink = ScaleUpLink {
    id: "nvlink3",
    name: "NVLink 3 (A100, 12 links per GPU)",
    per_link: BytesPerSec(25e9), // [A] A100 datasheet 600 GB/s bidir / 12 / 2
    source: "[A] NVIDIA A100 datasheet: 600 GB/s bidir NVLink per GPU, 12 links",
};

/// NVLink 4 (H100, H200, H800): one link.
///
/// - 25 GB/s/dir — systems.md §1.1 `[D]` "50 GB/s bidir = 25 GB/s/dir" = 900 / 18, from `[P]` "NVLink 4,
///   18 links per GPU, 900 GB/s bidir" (NVIDIA NVLink page <https://www.nvidia.com/en-us/data-center/nvlink/>;
///   MLCommons system JSON "18x 4th Gen NVLink, 900GB/s"). §9.1 repeats it.
/// - H100/H200 use 18 links per GPU; H800 uses 8 (`[A]`, see [`H800`]).
pub const NVLINK4: ScaleUpLink = ScaleUpLink {
    id: "nvlink4",
    name: "NVLink 4 (H100/H200: 18 links per GPU; H800: 8)",
    per_link: BytesPerSec(900e9 / 18.0 / 2.0), // [D] §1.1 900 GB/s bidir / 18 links / 2
    source: "systems.md §1.1 [P] NVIDIA NVLink page (900 GB/s bidir, 18 links) and MLCommons \
             inference_results_v4.1 JSON; per link [D] 900/18 = 50 GB/s bidir",
};

/// NVLink 5 (B200, GB200, B300, GB300): one link.
///
/// - 50 GB/s/dir — systems.md §2.1 `[P]` "NVLink 5 per link 100 GB/s bidir (50 GB/s/dir) × 18 =
///   1.8 TB/s bidir per GPU": NVIDIA NVLink page ("18 NVLink 100 GB/s connections … 1.8 TB/s").
///   §9.1 repeats it. `[C]` NVIDIA's Mission Control page says "900 GB/s bidirectional per link",
///   which is the per-GPU per-direction figure (doc error, §2.1).
pub const NVLINK5: ScaleUpLink = ScaleUpLink {
    id: "nvlink5",
    name: "NVLink 5 (Blackwell, 18 links per GPU)",
    per_link: BytesPerSec(50e9), // [P] §2.1
    source: "systems.md §2.1 [P] NVIDIA NVLink page https://www.nvidia.com/en-us/data-center/nvlink/ \
             (18 × 100 GB/s bidir = 1.8 TB/s per GPU)",
};

/// AMD Infinity Fabric / xGMI on MI300X: one link of the 8-GPU full mesh (7 per GPU).
///
/// - 64 GB/s/dir — systems.md §7.1 `[S]` "128 GB/s bidirectional (64 GB/s/dir)" (emergentmind MI300X
///   summary, citing papers). Open item §10.9: check against AMD's CDNA 3 white paper.
pub const XGMI3: ScaleUpLink = ScaleUpLink {
    id: "xgmi3",
    name: "AMD xGMI / Infinity Fabric (MI300X, 7 links per GPU)",
    per_link: BytesPerSec(64e9), // [S] §7.1
    source: "systems.md §7.1 [S] emergentmind MI300X summary (128 GB/s bidir per link); \
             gpu.blog (896 GB/s bidir per GPU)",
};

/// Gaudi 3 scale-up: one on-die 200 GbE RoCE port (21 per chip for scale-up; 3 to each of the 7
/// peers in an HLS-3 box).
///
/// - 25 GB/s/dir — systems.md §7.2 `[P]` "24 × 200 GbE RoCE per chip: 21 scale-up + 3 scale-out";
///   "21 × 200 Gb/s = 525 GB/s/dir": Intel Gaudi docs, Network Configuration,
///   <https://docs.habana.ai/en/latest/Management_and_Monitoring/Network_Configuration/index.html>.
pub const GAUDI3_ROCE: ScaleUpLink = ScaleUpLink {
    id: "gaudi3-roce",
    name: "Gaudi 3 on-die 200GbE RoCE port (21 scale-up per chip)",
    per_link: gbit!(200.0), // [P] §7.2
    source: "systems.md §7.2 [P] Intel Gaudi docs, Network Configuration \
             https://docs.habana.ai/en/latest/Management_and_Monitoring/Network_Configuration/index.html",
};

/// TPU v4 ICI: one of 6 ports per chip.
///
/// - 50 GB/s/dir — systems.md §3.1 `[S/D]` "about 400 Gb/s per direction per link, i.e. ~50 GB/s/dir"
///   (glennklockwood.com/garden/tpuv4; v5p documented as 2× that). Consistent with the `[P]` 24 TB/s
///   pod bisection (§3.1).
pub const ICI_V4: ScaleUpLink = ScaleUpLink {
    id: "ici-v4",
    name: "TPU v4 ICI (6 ports per chip, 3D torus)",
    per_link: gbit!(400.0), // [S/D] §3.1
    source: "systems.md §3.1 [S] glennklockwood.com/garden/tpuv4 (400 Gb/s per direction per link); \
             [P] Cloud TPU v4 docs 24 TB/s bisection cross-check",
};

/// TPU v5e ICI: one of 4 ports per chip (2D torus).
///
/// - 50 GB/s/dir — `[A]` Cloud TPU v5e docs give "Interchip Interconnect BW 1,600 Gbps" per chip.
///   Read like v5p's "4800 Gbps" (per direction, systems.md §0), spread over 4 ports: 400 Gb/s =
///   50 GB/s/dir per link.
pub const ICI_V5E: ScaleUpLink = ScaleUpLink {
    id: "ici-v5e",
    name: "TPU v5e ICI (4 ports per chip, 2D torus)",
    per_link: gbit!(1600.0 / 4.0), // [A] v5e docs 1,600 Gbps / 4 ports
    source: "[A] Cloud TPU v5e docs https://cloud.google.com/tpu/docs/v5e (1,600 Gbps ICI per chip, \
             2D torus); per-direction reading as systems.md §0 for v5p",
};

/// TPU v5p ICI: one of 6 ports per chip.
///
/// - 100 GB/s/dir — systems.md §3.2 `[D]` "600 GB/s/dir / 6" from `[P]` "1,200 GB/s bidirectional per
///   chip" (Cloud TPU v5p docs, <https://cloud.google.com/tpu/docs/v5p>).
pub const ICI_V5P: ScaleUpLink = ScaleUpLink {
    id: "ici-v5p",
    name: "TPU v5p ICI (6 ports per chip, 3D torus)",
    per_link: BytesPerSec(1200e9 / 2.0 / 6.0), // [D] §3.2
    source: "systems.md §3.2 [P] Cloud TPU v5p docs (1,200 GB/s bidir per chip); per link [D] / 2 / 6",
};

/// TPU v6e (Trillium) ICI: one of 4 ports per chip (2D torus).
///
/// - 100 GB/s/dir — `[D]` systems.md §3.3 `[P/S]`: Ironwood's 1.2 TB/s bidir ICI is "1.5× Trillium",
///   so Trillium has 0.8 TB/s bidir = 400 GB/s/dir per chip; v6e has "2D torus (4 ICI ports)"
///   [P/S, §3.3] → 100 GB/s/dir per link. Matches Google's "2× v5e ICI" Trillium claim `[A]`.
pub const ICI_V6E: ScaleUpLink = ScaleUpLink {
    id: "ici-v6e",
    name: "TPU v6e ICI (4 ports per chip, 2D torus)",
    per_link: BytesPerSec(1.2e12 / 1.5 / 2.0 / 4.0), // [D] §3.3
    source: "systems.md §3.3 [P/S] blog.google / Cloud TPU7x docs (Ironwood 1.2 TB/s = 1.5× Trillium; \
             v6e 4 ICI ports); per link [D]",
};

/// TPU7x (Ironwood) ICI: one link.
///
/// - 100 GB/s/dir — systems.md §3.3 `[P/S]` "9.6 Tb/s = 1.2 TB/s bidir per chip" (blog.google
///   "3 things to know about Ironwood"), over `[A]` 6 ports as in v5p's 3D torus (§3.3 "same
///   family as v5p"; the port count is not stated).
pub const ICI_V7: ScaleUpLink = ScaleUpLink {
    id: "ici-v7",
    name: "TPU7x Ironwood ICI (6 ports per chip assumed, 3D torus)",
    per_link: BytesPerSec(1.2e12 / 2.0 / 6.0), // [P/S] §3.3 / [A] 6 ports
    source: "systems.md §3.3 [P/S] blog.google Ironwood, Cloud TPU7x docs (1.2 TB/s bidir per chip); \
             [A] 6 ports per chip as v5p",
};

/// Huawei Unified Bus (UB) link of an Ascend 910C (14 per NPU, 7 per die, in CloudMatrix384).
///
/// - 28 GB/s/dir — systems.md §4 `[S/D]` "392 / 14 = 28 GB/s per link" from "over 392 GB/s of
///   unidirectional bandwidth … 14 × 400 Gb/s-class interfaces" (besthub summary of arXiv
///   2506.12708). `[C]` SemiAnalysis gives 2,800 Gb/s/dir per NPU (350 GB/s; 7 × 400G optics).
pub const UB_910C: ScaleUpLink = ScaleUpLink {
    id: "ub-910c",
    name: "Huawei UB link (Ascend 910C, 14 per NPU)",
    per_link: BytesPerSec(392e9 / 14.0), // [S/D] §4; [C] SemiAnalysis 350 GB/s per NPU
    source: "systems.md §4 [S] Zuo et al. arXiv 2506.12708 via besthub (392 GB/s/dir per NPU, 14 links); \
             [C] SemiAnalysis 350 GB/s",
};

/// Every scale-up link in the catalogue.
pub static SCALE_UP_LINKS: &[ScaleUpLink] = &[
    NVLINK3,
    NVLINK4,
    NVLINK5,
    XGMI3,
    GAUDI3_ROCE,
    ICI_V4,
    ICI_V5P,
    ICI_V5E,
    ICI_V6E,
    ICI_V7,
    UB_910C,
];

static SCALE_UP_LINK_ALIASES: &[(&str, &str)] = &[
    ("nvlink-3", "nvlink3"),
    ("nvlink-4", "nvlink4"),
    ("nvlink-5", "nvlink5"),
    ("xgmi", "xgmi3"),
    ("infinity-fabric", "xgmi3"),
    ("ici-v7x", "ici-v7"),
    ("ici-ironwood", "ici-v7"),
    ("ici-trillium", "ici-v6e"),
    ("ub", "ub-910c"),
];

// ---------------------------------------------------------------------------------------------
// NICs
// ---------------------------------------------------------------------------------------------

/// NVIDIA ConnectX-7, single-port 400 Gb/s (NDR IB / 400GbE), one per GPU in DGX H100 and in the
/// GB200 NVL72 compute tray.
///
/// - 1 × 400 Gb/s — systems.md §1.1 `[P]` "8 × single-port ConnectX-7, 400 Gb/s IB/Ethernet, one per
///   GPU" (DGX BasePOD RA core components; DGX H100 User Guide §1.2.3); §2.1 `[P]` (DGX GB200 User
///   Guide).
/// - `power` 25 W — `[A]` not in the table; NVIDIA ConnectX-7 adapter manuals put single-port 400G
///   cards in the ~20–25 W range without optics; the top of the range is taken.
/// - `price` $2,000 — `[A]` order of public street prices for single-port 400G ConnectX-7 cards.
pub const CX7_400G: Nic = Nic {
    id: "cx7-400g",
    name: "NVIDIA ConnectX-7 1x400G (NDR/400GbE)",
    port_speed: gbit!(400.0),   // [P] §1.1, §2.1
    ports: 1,                   // [P] §1.1
    power: Watts(25.0),         // [A]
    price: Price::Usd(CX7_USD), // [A]
    source: "systems.md §1.1 [P] DGX BasePOD RA core components, DGX H100 User Guide §1.2.3; \
             §2.1 [P] DGX GB200 User Guide; power and price [A]",
};

/// NVIDIA ConnectX-6 HDR 200 Gb/s (the DGX A100 compute NIC; id kept as `cx7-200g-hdr` for the
/// 200G HDR class).
///
/// - 1 × 200 Gb/s — `[A]` NVIDIA DGX A100 datasheet: 8 × single-port ConnectX-6 200 Gb/s HDR
///   InfiniBand for the compute fabric. Not in the reference table.
/// - `power` 20 W — `[A]` ConnectX-6 HDR single-port adapters are specified around 15–20 W
///   without optics; the top of the range is taken.
/// - `price` $1,200 — `[A]` order of public street prices.
pub const CX6_200G_HDR: Nic = Nic {
    id: "cx7-200g-hdr",
    name: "NVIDIA ConnectX-6 1x200G HDR",
    port_speed: gbit!(200.0),        // [A] DGX A100 datasheet
    ports: 1,                        // [A] DGX A100 datasheet
    power: Watts(20.0),              // [A]
    price: Price::Usd(Usd(1_200.0)), // [A]
    source: "[A] NVIDIA DGX A100 datasheet (8 × ConnectX-6 200 Gb/s HDR); power and price [A]",
};

/// NVIDIA ConnectX-8 SuperNIC, 800 Gb/s (GB300 NVL72 tray, B300 XDR SuperPOD).
///
/// - 1 × 800 Gb/s — systems.md §2.2 `[P]` "GB300 tray has 4 × ConnectX-8" (NVIDIA Enterprise RA
///   NVL72) and §2.3 model hint "1 × 800 Gb/s (GB300 with ConnectX-8)"; §9.1 `[P(S)]` XDR 800 Gb/s
///   per port.
/// - `power` 45 W — `[A]` not in the table; twice ConnectX-7's bandwidth on 200G SerDes plus an
///   integrated PCIe Gen6 switch, assumed at about 1.8 × the ConnectX-7 figure.
/// - `price` $3,000 — `[A]` order of magnitude, 1.5 × ConnectX-7.
pub const CX8_800G: Nic = Nic {
    id: "cx8-800g",
    name: "NVIDIA ConnectX-8 SuperNIC 1x800G (XDR/800GbE)",
    port_speed: gbit!(800.0), // [P] §2.2, §9.1
    ports: 1,
    power: Watts(45.0),              // [A]
    price: Price::Usd(Usd(3_000.0)), // [A]
    source: "systems.md §2.2 [P] NVIDIA Enterprise RA NVL72 (GB300 tray 4 × ConnectX-8) and B300 XDR RA; \
             §9.1 [P(S)] XDR 800 Gb/s; power and price [A]",
};

/// Dual-port 2 × 200 Gb/s backend NIC as in Alibaba HPN (one port to each ToR of a dual-ToR
/// pair), modelled as a BlueField-3 class card.
///
/// - 2 × 200 Gb/s — systems.md §5 `[S]` "8 backend NICs, each 2 × 200 Gb/s … so 400 Gb/s per GPU"
///   (bearblog paper notes; Tom's Hardware rewrite), Alibaba HPN, SIGCOMM 2024,
///   <https://ennanzhai.github.io/pub/sigcomm24-hpn.pdf>. The NIC model is not stated there;
///   BlueField-3 (2 × 200G) is `[A]`.
/// - `power` 75 W — `[A]` BlueField-3 class DPU/SuperNIC cards fit the 75 W PCIe slot envelope
///   (the DPU variant can draw more with auxiliary power).
/// - `price` $2,500 — `[A]` order of magnitude.
pub const BF3_2X200G: Nic = Nic {
    id: "bf3-2x200g",
    name: "2x200G backend NIC (HPN-style, BlueField-3 class)",
    port_speed: gbit!(200.0),        // [S] §5
    ports: 2,                        // [S] §5
    power: Watts(75.0),              // [A]
    price: Price::Usd(Usd(2_500.0)), // [A]
    source: "systems.md §5 [S] Alibaba HPN SIGCOMM'24 via bearblog notes (2 × 200 Gb/s per NIC); \
             model, power and price [A]",
};

/// Every NIC in the catalogue.
pub static NICS: &[Nic] = &[CX7_400G, CX6_200G_HDR, CX8_800G, BF3_2X200G, GAUDI3_ONCHIP];

/// Intel Gaudi 3 on-die RoCE NIC ports (3 × 200 GbE scale-out per chip).
///
/// - 3 ports × 200 Gb/s — systems.md §7.2 `[P]` Intel Gaudi docs, Network Configuration.
/// - `power` 0 W, price included: the NICs are on the accelerator die, inside its 900 W TDP and
///   its price.
pub const GAUDI3_ONCHIP: Nic = Nic {
    id: "gaudi3-onchip-200g",
    name: "Intel Gaudi 3 on-die 200 GbE RoCE ports (3 scale-out per chip)",
    port_speed: gbit!(200.0),
    ports: 3,
    power: Watts(0.0),
    price: Price::Included {
        within: "the Gaudi 3 accelerator (on-die NICs)",
    },
    source: "systems.md §7.2 [P] Intel Gaudi docs, Network Configuration; power inside the chip TDP",
};

static NIC_ALIASES: &[(&str, &str)] = &[
    ("connectx-7", "cx7-400g"),
    ("cx7", "cx7-400g"),
    ("cx7-400", "cx7-400g"),
    ("connectx-6", "cx7-200g-hdr"),
    ("cx6", "cx7-200g-hdr"),
    ("cx6-200g-hdr", "cx7-200g-hdr"),
    ("connectx-8", "cx8-800g"),
    ("cx8", "cx8-800g"),
    ("bluefield-3", "bf3-2x200g"),
    ("bf3", "bf3-2x200g"),
    ("hpn-2x200g", "bf3-2x200g"),
];

// ---------------------------------------------------------------------------------------------
// Switches
// ---------------------------------------------------------------------------------------------

/// The price of a switch chip sold only on a server's baseboard or in a rack system.
const IN_SERVER: Price = Price::Included {
    within: "the server or rack (host line)",
};

/// NVIDIA Quantum-2 QM9700 / QM9790 NDR InfiniBand switch (DGX SuperPOD H100 and GB200 compute
/// fabrics).
///
/// - 64 × 400 Gb/s — systems.md §1.2 `[P]` "64 × NDR 400G ports in 32 twin-port OSFP cages,
///   51.2 Tb/s" (QM97xx user manual, docs.nvidia.com/networking/display/QM97X0PUB); §9.1 `[P]`.
/// - `power` 512 W, `price` $25.6k — `[A]` switch rules (module docs): 25.6 Tb/s/dir × 20 W and
///   × $1,000.
pub const QM9700: SwitchChip = SwitchChip {
    id: "quantum2-qm9700",
    name: "NVIDIA Quantum-2 QM9700 (64x NDR 400G)",
    radix: 64,                                                        // [P] §1.2
    port_speed: gbit!(400.0),                                         // [P] §1.2
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(64, 400.0)),             // [A] rule
    price: Price::Usd(Usd(A_SWITCH_USD_PER_TBPS * tbps!(64, 400.0))), // [A] rule
    housing: Housing::Box,
    source: "systems.md §1.2/§9.1 [P] NVIDIA QM97xx user manual \
             https://docs.nvidia.com/networking/display/QM97X0PUB; power and price [A] rule",
};

/// NVIDIA Quantum QM8700 HDR InfiniBand switch (A100-era fabrics).
///
/// - 40 × 200 Gb/s — `[A]` NVIDIA QM8700 datasheet (40 HDR 200 Gb/s ports, 16 Tb/s bidir). The
///   reference table names QM8700 only for its latency (§9.1 `[U]` ~130 ns).
/// - `power` 160 W, `price` $8k — `[A]` switch rules: 8 Tb/s/dir.
pub const QM8700: SwitchChip = SwitchChip {
    id: "quantum-qm8700",
    name: "NVIDIA Quantum QM8700 (40x HDR 200G)",
    radix: 40,                                                        // [A] QM8700 datasheet
    port_speed: gbit!(200.0),                                         // [A] QM8700 datasheet
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(40, 200.0)),             // [A] rule
    price: Price::Usd(Usd(A_SWITCH_USD_PER_TBPS * tbps!(40, 200.0))), // [A] rule
    housing: Housing::Box,
    source: "[A] NVIDIA QM8700 datasheet https://www.nvidia.com/en-us/networking/infiniband/qm8700/ \
             (40 × 200 Gb/s); power and price [A] rule",
};

/// NVIDIA Quantum-X800 Q3400 XDR InfiniBand switch (B300 XDR SuperPOD).
///
/// - 144 × 800 Gb/s — systems.md §2.2 `[P]` "Quantum-X800 Q3400 = 144 × 800G ports"; §9.1 `[P(S)]`
///   "800 Gb/s per port; Q3400 has 144 ports (115.2 Tb/s)" (AIPS-Boom Quantum-X800 summary of
///   nvidia.com).
/// - `power` 2,304 W, `price` $115.2k — `[A]` switch rules: 115.2 Tb/s/dir.
pub const Q3400: SwitchChip = SwitchChip {
    id: "quantum-x800-q3400",
    name: "NVIDIA Quantum-X800 Q3400 (144x XDR 800G)",
    radix: 144,                                                        // [P] §2.2, §9.1
    port_speed: gbit!(800.0),                                          // [P] §9.1
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(144, 800.0)),             // [A] rule
    price: Price::Usd(Usd(A_SWITCH_USD_PER_TBPS * tbps!(144, 800.0))), // [A] rule
    housing: Housing::Box,
    source: "systems.md §2.2/§9.1 [P(S)] NVIDIA Quantum-X800 (AIPS-Boom summary of nvidia.com); \
             B300 XDR RA; power and price [A] rule",
};

/// NVIDIA Spectrum-4 SN5600 Ethernet switch (GB200 storage / in-band fabric; Spectrum-X).
///
/// - 64 × 800 Gb/s — systems.md §9.1 `[S]` "51.2 Tb/s Ethernet (64 × 800G)" (NVIDIA RA mentions;
///   router-switch); §2.2 `[S]`.
/// - `power` 1,024 W, `price` $51.2k — `[A]` switch rules: 51.2 Tb/s/dir.
pub const SN5600: SwitchChip = SwitchChip {
    id: "spectrum4-sn5600",
    name: "NVIDIA Spectrum-4 SN5600 (64x 800GbE)",
    radix: 64,                                                        // [S] §9.1
    port_speed: gbit!(800.0),                                         // [S] §9.1
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(64, 800.0)),             // [A] rule
    price: Price::Usd(Usd(A_SWITCH_USD_PER_TBPS * tbps!(64, 800.0))), // [A] rule
    housing: Housing::Box,
    source: "systems.md §9.1/§2.2 [S] NVIDIA RA mentions, router-switch (51.2 Tb/s, 64 × 800G); \
             power and price [A] rule",
};

/// Broadcom Tomahawk 5 51.2 Tb/s switch box, configured as 64 × 800G (Gaudi 3 reference leaf).
///
/// - 64 × 800 Gb/s — systems.md §7.2 `[S]` "3 leaf switches (Tomahawk 5, 51.2 T, half the ports down
///   at 800G)" (Next Platform via hn.masterscheme mirror). 51.2 T / 800G = 64 ports `[D]`.
/// - `power` 1,024 W, `price` $51.2k — `[A]` switch rules.
pub const TOMAHAWK5: SwitchChip = SwitchChip {
    id: "tomahawk5-51t",
    name: "Broadcom Tomahawk 5 51.2T (64x 800G)",
    radix: 64,                                                        // [D] §7.2 51.2T / 800G
    port_speed: gbit!(800.0),                                         // [S] §7.2
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(64, 800.0)),             // [A] rule
    price: Price::Usd(Usd(A_SWITCH_USD_PER_TBPS * tbps!(64, 800.0))), // [A] rule
    housing: Housing::Box,
    source: "systems.md §7.2 [S] Next Platform (Gaudi 3 reference sub-cluster, TH5 51.2T, 800G); \
             power and price [A] rule",
};

/// Alibaba HPN 7.0 single-chip 51.2 Tb/s Ethernet switch, 128 × 400G (ToR and aggregation).
///
/// - 128 × 400 Gb/s — systems.md §5 `[S]` "Single-chip 51.2 Tb/s Ethernet switch (128 × 400G)"
///   (thomarite notes; bearblog; CCF 2023 keynote), Alibaba HPN SIGCOMM 2024,
///   <https://ennanzhai.github.io/pub/sigcomm24-hpn.pdf>. The ToR runs its down ports as
///   128 × 200G (§5 `[S/D/U]`); a builder splits ports as needed.
/// - `power` 1,024 W, `price` $51.2k — `[A]` switch rules.
pub const HPN_51T: SwitchChip = SwitchChip {
    id: "hpn-51t-128x400",
    name: "Alibaba HPN 51.2T single-chip switch (128x 400G)",
    radix: 128,                                                        // [S] §5
    port_speed: gbit!(400.0),                                          // [S] §5
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(128, 400.0)),             // [A] rule
    price: Price::Usd(Usd(A_SWITCH_USD_PER_TBPS * tbps!(128, 400.0))), // [A] rule
    housing: Housing::Box,
    source: "systems.md §5 [S] Alibaba HPN SIGCOMM'24 via thomarite and bearblog notes, CCF 2023 keynote; \
             power and price [A] rule",
};

/// Meta Minipack2 (Llama 3 RoCE cluster rack switch, RTSW).
///
/// - Role — systems.md §6.1 `[P(S)]` "Rack: 16 GPUs in 2 servers + 1 Minipack2 ToR … 400 Gb/s per GPU"
///   (Llama 3 paper §3.3.1, arXiv 2407.21783).
/// - 64 × 400 Gb/s — `[A]` not in the table. Minipack2 is a Tomahawk 4 (25.6 Tb/s) OCP switch
///   (Meta engineering blog / OCP, 2021), offered as 128 × 200G or 64 × 400G; the 400G form fits
///   the 400 Gb/s-per-GPU RTSW role.
/// - `power` 512 W, `price` $25.6k — `[A]` switch rules.
pub const MINIPACK2: SwitchChip = SwitchChip {
    id: "minipack2",
    name: "Meta Minipack2 (Tomahawk 4 25.6T, 64x 400G)",
    radix: 64,                                                        // [A] TH4 25.6T / 400G
    port_speed: gbit!(400.0),                                         // [P(S)] §6.1 400G per GPU
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(64, 400.0)),             // [A] rule
    price: Price::Usd(Usd(A_SWITCH_USD_PER_TBPS * tbps!(64, 400.0))), // [A] rule
    housing: Housing::Box,
    source: "systems.md §6.1 [P(S)] Llama 3 paper arXiv 2407.21783 §3.3.1 (Minipack2 ToR, 400G per GPU); \
             [A] Tomahawk 4 25.6T radix (Meta/OCP Minipack2); power and price [A] rule",
};

/// Arista 7800 modular deep-buffer chassis (Meta Llama 3 cluster switch, CTSW), treated as one
/// switch of its documented radix.
///
/// - Role — systems.md §6.1 `[P(S)]` "Pod: 192 racks = 3,072 GPUs, full bisection via cluster
///   switches (Arista 7800)" (Llama 3 paper §3.3.1).
/// - 576 × 400 Gb/s — `[A]` not in the table. Arista 7800R3 series data sheet: the 16-slot 7816R3
///   takes up to 576 × 400G ports (<https://www.arista.com/en/products/7800r3-series>).
/// - `power` 9,216 W, `price` $691.2k — `[A]` chassis rules: 230.4 Tb/s/dir × 40 W and × $3,000.
pub const ARISTA_7800: SwitchChip = SwitchChip {
    id: "arista-7800",
    name: "Arista 7800R3 modular chassis (7816R3, 576x 400G)",
    radix: 576,                                                         // [A] Arista 7816R3 data sheet
    port_speed: gbit!(400.0),                                           // [P(S)] §6.1 400G
    power: Watts(A_CHASSIS_W_PER_TBPS * tbps!(576, 400.0)),             // [A] chassis rule
    price: Price::Usd(Usd(A_CHASSIS_USD_PER_TBPS * tbps!(576, 400.0))), // [A] chassis rule
    housing: Housing::Chassis,
    source: "systems.md §6.1 [P(S)] Llama 3 paper §3.3.1 (Arista 7800 cluster switch); \
             [A] Arista 7800R3 data sheet (7816R3: 576 × 400G); power and price [A] chassis rule",
};

/// NVIDIA third-generation NVSwitch (DGX H100 / HGX H100: 4 per node).
///
/// - 64 NVLink4 ports at 25 GB/s/dir — systems.md §1.1 `[S/D]` "64 NVLink4 ports … 64 × 50 GB/s =
///   3.2 TB/s bidir switching per chip" (PC Gamer quoting NVIDIA; NVIDIA dev blog "Upgrading
///   Multi-GPU Interconnectivity with the Third-Generation NVSwitch").
/// - `power` 256 W — `[A]` switch rule: 64 × 200 Gb/s = 12.8 Tb/s/dir × 20 W.
/// - `price` included — sold only on HGX baseboards, paid for with the server (its host line).
pub const NVSWITCH3: SwitchChip = SwitchChip {
    id: "nvswitch3",
    name: "NVIDIA NVSwitch gen3 (64x NVLink4)",
    radix: 64,                                            // [S] §1.1
    port_speed: NVLINK4.per_link,                         // [D] §1.1 25 GB/s/dir
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(64, 200.0)), // [A] rule
    price: IN_SERVER,
    housing: Housing::InSystem,
    source: "systems.md §1.1 [S/D] NVIDIA dev blog 'Upgrading Multi-GPU Interconnectivity with the \
             Third-Generation NVSwitch', PC Gamer; power [A] rule",
};

/// NVIDIA NVLink 5 switch chip (GB200/GB300 NVL72: 18 chips, 2 per switch tray).
///
/// - 72 ports at 50 GB/s/dir — systems.md §2.1 `[D]` "72 ports (one per GPU), 7.2 TB/s" = 144 / 2,
///   from `[P]` "NVLink Switch features 144 NVLink ports with a non-blocking switching capacity of
///   14.4TB/s" per tray (NVIDIA NVLink page, <https://www.nvidia.com/en-us/data-center/nvlink/>).
/// - `power` 576 W — `[A]` switch rule: 72 × 400 Gb/s = 28.8 Tb/s/dir × 20 W.
/// - `price` included — sold only inside NVL72 racks and HGX B200/B300 boards, paid for with the
///   rack or server (its host line).
pub const NVLINK5_SWITCH: SwitchChip = SwitchChip {
    id: "nvlink5-switch",
    name: "NVIDIA NVLink 5 switch chip (72x NVLink5)",
    radix: 72,                                            // [D] §2.1 144 / 2
    port_speed: NVLINK5.per_link,                         // [P] §2.1 50 GB/s/dir
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(72, 400.0)), // [A] rule
    price: IN_SERVER,
    housing: Housing::InSystem,
    source: "systems.md §2.1 [P] NVIDIA NVLink page (144 ports, 14.4 TB/s per tray) and SuperPOD GB200 RA \
             (18 chips); per chip [D] 144/2; power [A] rule",
};

/// Huawei UB switch chip of CloudMatrix384 (L1 on-board and L2 rack tiers).
///
/// - 48 × 400 Gb/s — systems.md §4 `[S]` "19.2 Tb/s = 48 × 400G" (Chinese research note citing a Huawei
///   paper summary); L2 chips use one port per node (48 nodes). Note that the paper's per-link
///   figure is 28 GB/s/dir ([`UB_910C`]), below the 50 GB/s nominal port rate.
/// - `power` 384 W — `[A]` switch rule: 19.2 Tb/s/dir × 20 W.
/// - `price` unpriced — sold only inside CloudMatrix systems; no separate figure.
pub const UB_SWITCH_910C: SwitchChip = SwitchChip {
    id: "ub-switch-910c",
    name: "Huawei UB switch chip (CloudMatrix384, 48x 400G)",
    radix: 48,                                            // [S] §4
    port_speed: gbit!(400.0),                             // [S] §4
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(48, 400.0)), // [A] rule
    price: Price::Unpriced {
        reason: "sold only inside CloudMatrix systems; no separate figure",
    },
    housing: Housing::InSystem,
    source: "systems.md §4 [S] Chinese research note citing Huawei paper summary (19.2 Tb/s = 48 × 400G); \
             Zuo et al. arXiv 2506.12708; power [A] rule",
};

/// Every switch in the catalogue.
pub static SWITCH_CHIPS: &[SwitchChip] = &[
    QM9700,
    QM8700,
    Q3400,
    SN5600,
    TOMAHAWK5,
    HPN_51T,
    MINIPACK2,
    ARISTA_7800,
    NVSWITCH3,
    NVSWITCH2,
    NVLINK5_SWITCH,
    UB_SWITCH_910C,
];

/// NVIDIA NVSwitch gen2 (DGX A100: 6 chips).
///
/// - 36 NVLink3 ports at 25 GB/s/dir — `[A]` NVIDIA DGX A100 system architecture whitepaper
///   (6 NVSwitches, 12 NVLinks per GPU, 36 ports per switch); not in the reference table.
pub const NVSWITCH2: SwitchChip = SwitchChip {
    id: "nvswitch2",
    name: "NVIDIA NVSwitch gen2 (36x NVLink3)",
    radix: 36,
    port_speed: NVLINK3.per_link,
    power: Watts(A_SWITCH_W_PER_TBPS * tbps!(36, 200.0)),
    price: IN_SERVER,
    housing: Housing::InSystem,
    source: "[A] NVIDIA DGX A100 system architecture whitepaper; power [A] rule",
};

static SWITCH_ALIASES: &[(&str, &str)] = &[
    ("qm9700", "quantum2-qm9700"),
    ("qm9790", "quantum2-qm9700"),
    ("quantum-2", "quantum2-qm9700"),
    ("ndr", "quantum2-qm9700"),
    ("qm8700", "quantum-qm8700"),
    ("hdr", "quantum-qm8700"),
    ("q3400", "quantum-x800-q3400"),
    ("quantum-x800", "quantum-x800-q3400"),
    ("xdr", "quantum-x800-q3400"),
    ("sn5600", "spectrum4-sn5600"),
    ("spectrum-4", "spectrum4-sn5600"),
    ("tomahawk5", "tomahawk5-51t"),
    ("th5", "tomahawk5-51t"),
    ("hpn-51t", "hpn-51t-128x400"),
    ("arista-7800r3", "arista-7800"),
    ("nvswitch-gen3", "nvswitch3"),
    ("nvlink-switch", "nvlink5-switch"),
    ("ub-switch", "ub-switch-910c"),
];

// ---------------------------------------------------------------------------------------------
// Transceivers
// ---------------------------------------------------------------------------------------------

/// NVIDIA LinkX 400G single-port OSFP SMF DR4 (MMS4X00-NS400), NIC side, 500 m class.
///
/// - 400 Gb/s, 9 W — systems.md §9.2 `[P]` "9 W max / 9 W typical (5 W in 200G mode)",
///   <https://docs.nvidia.com/networking/display/mms4x00ns400/overview>.
/// - `price` $500 — `[A]` ~$1.25 per Gb/s for DSP single-mode modules (module docs).
pub const OSFP_400G_DR4: Transceiver = Transceiver {
    id: "osfp-400g-dr4",
    name: "NVIDIA MMS4X00-NS400 400G OSFP DR4 (SMF)",
    speed: gbit!(400.0),          // [P] §9.2
    power: Watts(9.0),           // [P] §9.2
    price: Price::Usd(Usd(500.0)),     // [A]
    source: "systems.md §9.2 [P] NVIDIA LinkX MMS4X00-NS400 https://docs.nvidia.com/networking/display/mms4x00ns400/overview; \
             price [A]",
};

/// NVIDIA LinkX 800G twin-port OSFP 2 × 400G SMF DR4 (MMS4X00-NS / -NS-T), switch side, 100 m.
/// One module serves two 400G switch ports; `speed` is the module total.
///
/// - 800 Gb/s, 17 W — systems.md §9.2 `[P]` "17 W for all configurations",
///   <https://docs.nvidia.com/networking/display/800gmms4x00nst/overview>.
/// - `price` $1,000 — `[A]` ~$1.25 per Gb/s.
pub const OSFP_800G_2X400G_DR4: Transceiver = Transceiver {
    id: "osfp-800g-2x400g-dr4",
    name: "NVIDIA MMS4X00-NS 800G twin-port OSFP 2x400G DR4 (SMF)",
    speed: gbit!(800.0),          // [P] §9.2
    power: Watts(17.0),          // [P] §9.2
    price: Price::Usd(Usd(1_000.0)),   // [A]
    source: "systems.md §9.2 [P] NVIDIA LinkX MMS4X00-NS https://docs.nvidia.com/networking/display/800gmms4x00nst/overview; \
             price [A]",
};

/// NVIDIA LinkX 800G twin-port OSFP 2 × 400G MMF SR4 (MMA4Z00-NS), 50 m.
///
/// - 800 Gb/s, 15 W — systems.md §9.2 `[P]`, <https://docs.nvidia.com/networking/display/800GMMA4Z00NS/Overview>.
/// - `price` $800 — `[A]` multimode at ~80 % of the single-mode price.
pub const OSFP_800G_2X400G_SR4: Transceiver = Transceiver {
    id: "osfp-800g-2x400g-sr4",
    name: "NVIDIA MMA4Z00-NS 800G twin-port OSFP 2x400G SR4 (MMF)",
    speed: gbit!(800.0),          // [P] §9.2
    power: Watts(15.0),          // [P] §9.2
    price: Price::Usd(Usd(800.0)),     // [A]
    source: "systems.md §9.2 [P] NVIDIA LinkX MMA4Z00-NS https://docs.nvidia.com/networking/display/800GMMA4Z00NS/Overview; \
             price [A]",
};

/// NVIDIA LinkX 400G single-port OSFP MMF SR4 (MMA4Z00-NS400-T), NIC side.
///
/// - 400 Gb/s, 8 W typical (9 W max) — systems.md §9.2 `[P]`,
///   <https://docs.nvidia.com/networking/display/MMA4Z00NS400T/Connectivity+Scenarios>. The typical
///   figure is stored, as energy models want.
/// - `price` $400 — `[A]` multimode at ~80 % of the single-mode price.
pub const OSFP_400G_SR4: Transceiver = Transceiver {
    id: "osfp-400g-sr4",
    name: "NVIDIA MMA4Z00-NS400 400G OSFP SR4 (MMF)",
    speed: gbit!(400.0),           // [P] §9.2
    power: Watts(8.0),             // [P] §9.2 typical (9 W max)
    price: Price::Usd(Usd(400.0)), // [A]
    source: "systems.md §9.2 [P] NVIDIA LinkX MMA4Z00-NS400-T; price [A]",
};

/// 400G linear-drive pluggable optic (LPO), as in CloudMatrix384 (6,912 per system).
///
/// - 400 Gb/s — systems.md §4 `[S]` "6,912 × 400G LPO transceivers: 5,376 scale-up + 1,536
///   scale-out" (SemiAnalysis via FiberMall; capacitymedia). `[C]` some outlets say 800G.
/// - `power` 5 W — `[A]` not in the table. An LPO drops the DSP, roughly half the power of the
///   9 W DSP-based 400G DR4 module (§9.2 `[P]`).
/// - `price` $400 — `[A]` ~80 % of a DSP module.
pub const LPO_400G: Transceiver = Transceiver {
    id: "lpo-400g",
    name: "400G LPO (linear pluggable optic, CloudMatrix384)",
    speed: gbit!(400.0),           // [S] §4; [C] 800G in some outlets
    power: Watts(5.0),             // [A] ~half of §9.2 400G DR4
    price: Price::Usd(Usd(400.0)), // [A]
    source: "systems.md §4 [S] SemiAnalysis 2025-04-16 via FiberMall, capacitymedia (400G LPO); \
             power and price [A]",
};

/// 200G QSFP56 SR4 module (HDR InfiniBand / 200GbE).
///
/// - 200 Gb/s — `[A]` HDR line rate (NVIDIA QM8700 / ConnectX-6 datasheets). Not in the reference
///   table.
/// - `power` 5 W — `[A]` 200G QSFP56 SR4 modules are specified around 4.5–5 W; the top is taken.
/// - `price` $250 — `[A]` order of magnitude.
pub const QSFP56_200G: Transceiver = Transceiver {
    id: "qsfp56-200g",
    name: "200G QSFP56 SR4 (HDR)",
    speed: gbit!(200.0),           // [A] HDR line rate
    power: Watts(5.0),             // [A]
    price: Price::Usd(Usd(250.0)), // [A]
    source: "[A] HDR 200G QSFP56 SR4 class module (NVIDIA LinkX HDR optics); power and price [A]",
};

// Long-haul (DCI) coherent modules: one at each end of every long-haul link, plugged into the
// DCI router of each site. Reach is in `DCI_REACH_KM`.

/// 400ZR coherent DWDM module (QSFP-DD), OIF 400ZR implementation agreement.
///
/// - 400 Gb/s, DP-16QAM; reach ~120 km over amplified DWDM, 80 km single span unamplified —
///   `[P]` OIF 400ZR IA (precisionot.com "400G ZRx Part 1": "400GbE DCIs on DWDM amplified
///   links up to 120km"; Huawei 400G QSFP-DD 80 km module data sheet: single span).
/// - `power` 15 W — `[A]` the 400ZR IA's QSFP-DD power target (≤ 15 W); shipping modules
///   quote 15–20 W.
/// - `price` $4,000 — `[A]` order of magnitude for a 400ZR pluggable (~$10 per Gb/s, eight
///   times a DR4), no public list price.
pub const QSFP_DD_400ZR: Transceiver = Transceiver {
    id: "qsfp-dd-400zr",
    name: "400ZR coherent QSFP-DD (OIF 400ZR, ~120 km)",
    speed: gbit!(400.0),             // [P] OIF 400ZR
    power: Watts(15.0),              // [A] IA target
    price: Price::Usd(Usd(4_000.0)), // [A]
    source: "[P] OIF 400ZR implementation agreement (400GbE over amplified DWDM up to 120 km; \
             https://www.precisionot.com/400g-zrx-explore-the-possibilities/); power ≤ 15 W QSFP-DD \
             target [A]; price [A]",
};

/// 400G ZR+ (OpenZR+) coherent module (QSFP-DD, high-power variant): metro and long haul.
///
/// - 400 Gb/s, DP-16QAM with oFEC; hundreds of km to ~1,000+ km with in-line amplification —
///   `[P]` OpenZR+ MSA (f-tone 400G QSFP-DD ZR+ data sheet: "IP over Metro or Long Haul DWDM").
/// - `power` 22.5 W — `[P]` the same data sheet: "typical power consumption 21W (400GbE),
///   maximum power consumption 22.5W"; the maximum is taken, as for every nameplate line.
/// - `price` $6,000 — `[A]` order of magnitude (1.5× a 400ZR), no public list price.
pub const QSFP_DD_400ZR_PLUS: Transceiver = Transceiver {
    id: "qsfp-dd-400zr-plus",
    name: "400G ZR+ coherent QSFP-DD (OpenZR+, long haul)",
    speed: gbit!(400.0),             // [P] OpenZR+
    power: Watts(22.5),              // [P] data sheet maximum
    price: Price::Usd(Usd(6_000.0)), // [A]
    source: "[P] OpenZR+ MSA 400G QSFP-DD ZR+ data sheet (typical 21 W, max 22.5 W; \
             https://www.f-tone.com/?p=1727); price [A]",
};

/// 800G ZR+ coherent module (OSFP / QSFP-DD800), OIF 800ZR / OpenZR+ 800G class.
///
/// - 800 Gb/s; ~120 km (800ZR) to several hundred km (ZR+) with amplification — `[A]` OIF
///   800ZR work and vendor announcements of 800G ZR+ pluggables (no data sheet in the
///   reference set).
/// - `power` 30 W — `[A]` announced 800G ZR/ZR+ pluggables quote 25–30 W; the top is taken.
/// - `price` $10,000 — `[A]` order of magnitude, no public list price.
pub const OSFP_800ZR_PLUS: Transceiver = Transceiver {
    id: "osfp-800zr-plus",
    name: "800G ZR+ coherent OSFP (OIF 800ZR / OpenZR+ class)",
    speed: gbit!(800.0),              // [A]
    power: Watts(30.0),               // [A]
    price: Price::Usd(Usd(10_000.0)), // [A]
    source: "[A] OIF 800ZR / 800G ZR+ pluggables (vendor announcements: 25–30 W); price [A]",
};

/// Reach of the long-haul (DCI) modules, km, without regeneration: the distance a site pair
/// may be apart before the model warns that the optics would need amplifiers or a transport
/// system. 400ZR: 120 km amplified (OIF 400ZR IA) [P]; 400G ZR+: ~1,000 km with in-line
/// amplification (OpenZR+ class, metro/long haul) [A]; 800G ZR+: ~600 km [A].
pub const DCI_REACH_KM: &[(&str, f64)] = &[
    ("qsfp-dd-400zr", 120.0),        // [P] OIF 400ZR
    ("qsfp-dd-400zr-plus", 1_000.0), // [A] OpenZR+ long haul
    ("osfp-800zr-plus", 600.0),      // [A]
];

/// Reach of a long-haul module, km, where the catalogue gives one (see [`DCI_REACH_KM`]).
pub fn dci_reach_km(id: &str) -> Option<f64> {
    let t = transceiver(id)?;
    DCI_REACH_KM.iter().find(|(i, _)| *i == t.id).map(|(_, km)| *km)
}

/// The DCI router of each site: a deep-buffer modular chassis (Jericho2 class) whose ports take
/// the ZR/ZR+ modules; the catalogue's Arista 7800R3 (`arista-7800`).
pub const DCI_ROUTER: &str = "arista-7800";

/// Every transceiver in the catalogue.
pub static TRANSCEIVERS: &[Transceiver] = &[
    OSFP_400G_DR4,
    OSFP_800G_2X400G_DR4,
    OSFP_800G_2X400G_SR4,
    OSFP_400G_SR4,
    LPO_400G,
    QSFP56_200G,
    QSFP_DD_400ZR,
    QSFP_DD_400ZR_PLUS,
    OSFP_800ZR_PLUS,
];

static TRANSCEIVER_ALIASES: &[(&str, &str)] = &[
    ("mms4x00-ns400", "osfp-400g-dr4"),
    ("mms4x00-ns", "osfp-800g-2x400g-dr4"),
    ("mms4x00-ns-t", "osfp-800g-2x400g-dr4"),
    ("mma4z00-ns", "osfp-800g-2x400g-sr4"),
    ("mma4z00-ns400", "osfp-400g-sr4"),
    ("mma4z00-ns400-t", "osfp-400g-sr4"),
    ("lpo", "lpo-400g"),
    ("hdr-200g", "qsfp56-200g"),
    ("zr", "qsfp-dd-400zr"),
    ("400zr", "qsfp-dd-400zr"),
    ("zr+", "qsfp-dd-400zr-plus"),
    ("400zr+", "qsfp-dd-400zr-plus"),
    ("zr+800", "osfp-800zr-plus"),
    ("800zr+", "osfp-800zr-plus"),
];

// ---------------------------------------------------------------------------------------------
// Optical circuit switches
// ---------------------------------------------------------------------------------------------

/// Google Palomar 3D-MEMS optical circuit switch (TPU v4 pod: 48 per pod).
///
/// - `ports` 136 — systems.md §3.1 `[U]` "Reported nominal size 136×136 (128 used + spares)", recalled
///   from the "Mission Apollo" paper (arXiv 2208.10041), not verified. A TPU v4 pod uses **128**
///   per OCS `[S/D]`: 6,144 optical links / 48 OCS (HPCwire; glennklockwood).
/// - `power` 108 W — `[A]` not in the table; recalled from the Mission Apollo paper (unverified).
///   Check: 48 × 108 W = 5.2 kW, 0.7 % of the 786 kW that 4,096 TPU v4 chips alone draw at 192 W,
///   consistent with the `[P(S)]` "< 3 % of system power" of §3.1 (paper abstract).
/// - `price` unpriced — the only figure is a share, "< 5 % of system cost" (§3.1 `[P(S)]`), and no
///   system cost is given.
pub const PALOMAR: Ocs = Ocs {
    id: "palomar",
    name: "Google Palomar OCS (136x136 nominal, 128 used)",
    ports: 136,          // [U] §3.1; 128 used [S/D]
    power: Watts(108.0), // [A] Mission Apollo (recalled)
    price: Price::Unpriced {
        reason: "only a share is public (< 5 % of TPU v4 system cost) and no system cost",
    },
    source: "systems.md §3.1 [S] HPCwire 2023-04-10, glennklockwood (48 OCS, 128 used ports); \
             [U] 136 ports and [A] 108 W from Mission Apollo arXiv 2208.10041 (unverified); \
             [P(S)] TPU v4 paper arXiv 2304.01433 (< 5 % cost, < 3 % power)",
};

/// Every optical circuit switch in the catalogue.
pub static OCSES: &[Ocs] = &[PALOMAR];

static OCS_ALIASES: &[(&str, &str)] = &[("palomar-ocs", "palomar"), ("google-ocs", "palomar")];

// ---------------------------------------------------------------------------------------------
// Host CPUs
// ---------------------------------------------------------------------------------------------

/// Intel Xeon Platinum 8480C (Sapphire Rapids, 56 cores): 2 per DGX H100.
///
/// - Role — systems.md §1.1 `[P]` "2 × Xeon Platinum 8480C (56 cores each, 112 total)" (DGX
///   BasePOD RA).
/// - `tdp` 350 W — `[A]` Intel ARK lists 350 W for the Xeon Platinum 8480+; the 8480C is NVIDIA's
///   variant of the same part. Not in the reference table.
pub const XEON_8480C: Cpu = Cpu {
    id: "xeon-8480c",
    name: "Intel Xeon Platinum 8480C (56 cores)",
    vendor: "Intel",
    tdp: Watts(350.0), // [A] Intel ARK 8480+
    source: "systems.md §1.1 [P] DGX BasePOD RA (2 × Xeon 8480C per DGX H100); [A] 350 W Intel ARK (8480+)",
};

/// Intel Xeon Platinum 8570 (Emerald Rapids, 56 cores): 2 per DGX B200.
///
/// - Role — `[P]` NVIDIA DGX B200 User Guide: "2 x Intel Xeon 8570 … 56 cores each"
///   (<https://docs.nvidia.com/dgx/dgxb200-user-guide/introduction-to-dgxb200.html>); not in
///   systems.md. Also taken for DGX B300 `[A]`.
/// - `tdp` 350 W — `[A]` Intel ARK.
pub const XEON_8570: Cpu = Cpu {
    id: "xeon-8570",
    name: "Intel Xeon Platinum 8570 (56 cores)",
    vendor: "Intel",
    tdp: Watts(350.0), // [A] Intel ARK
    source: "[P] NVIDIA DGX B200 User Guide (2 × Xeon 8570); [A] 350 W Intel ARK",
};

/// AMD EPYC 7742 (Rome, 64 cores): 2 per DGX A100; the stand-in for a TPU host's CPU.
///
/// - Role — `[A]` NVIDIA DGX A100 datasheet (2 × AMD EPYC 7742); not in the reference table.
/// - `tdp` 225 W — `[A]` AMD product page.
pub const EPYC_7742: Cpu = Cpu {
    id: "epyc-7742",
    name: "AMD EPYC 7742 (64 cores)",
    vendor: "AMD",
    tdp: Watts(225.0), // [A] AMD
    source: "[A] NVIDIA DGX A100 datasheet (2 × EPYC 7742); 225 W AMD product page",
};

/// AMD EPYC 9654 (Genoa, 96 cores): the host CPU assumed for MI300X platforms.
///
/// - Role — `[A]` MI300X 8-GPU servers pair the UBB with two 4th-generation EPYC; the reference
///   table names none (§7.1), so the 96-core part is assumed.
/// - `tdp` 360 W — `[A]` AMD product page.
pub const EPYC_9654: Cpu = Cpu {
    id: "epyc-9654",
    name: "AMD EPYC 9654 (96 cores)",
    vendor: "AMD",
    tdp: Watts(360.0), // [A] AMD
    source: "[A] typical MI300X platform host CPU; 360 W AMD product page",
};

/// NVIDIA Grace (72 Arm Neoverse V2 cores, with its LPDDR5X): one per GB200/GB300 superchip, 36
/// per NVL72 rack.
///
/// - Role — systems.md §2.1 `[P]` "72 Blackwell GPUs + 36 Grace CPUs" (DGX GB200 User Guide).
/// - `tdp` 300 W — `[D]` a GB200 superchip board (1 Grace + 2 Blackwell, "Bianca") is quoted at
///   2,700 W (FiberMall, "In-depth analysis for NVIDIA GB200" `[S]`); minus 2 × 1,200 W GPUs
///   ([`GB200`]) leaves 300 W for the Grace and its memory.
pub const GRACE: Cpu = Cpu {
    id: "grace",
    name: "NVIDIA Grace (72 cores, LPDDR5X)",
    vendor: "NVIDIA",
    tdp: Watts(2_700.0 - 2.0 * GB200.tdp.0), // [D] 2,700 W superchip [S] − 2 × 1,200 W
    source: "systems.md §2.1 [P] DGX GB200 User Guide (36 Grace per rack); [D] 2,700 W GB200 \
             superchip (FiberMall GB200 analysis [S]) − 2 × 1,200 W GPUs",
};

/// Huawei Kunpeng 920 (64 Arm cores): 4 per CloudMatrix384 node, 192 per system.
///
/// - Role — systems.md §4 `[S]` "8 × Ascend 910C + 4 × Kunpeng" per node; "384 Ascend 910C NPUs
///   + 192 Kunpeng CPUs" (arXiv 2506.12708 summaries).
/// - `tdp` 200 W — `[A]` 64-core Kunpeng 920 parts are quoted at about 180–200 W; the top is taken.
pub const KUNPENG_920: Cpu = Cpu {
    id: "kunpeng-920",
    name: "Huawei Kunpeng 920 (64 cores)",
    vendor: "Huawei",
    tdp: Watts(200.0), // [A]
    source: "systems.md §4 [S] (4 Kunpeng per node, 192 per system); [A] 200 W",
};

/// Every host CPU in the catalogue.
pub static CPUS: &[Cpu] = &[XEON_8480C, XEON_8570, EPYC_7742, EPYC_9654, GRACE, KUNPENG_920];

static CPU_ALIASES: &[(&str, &str)] = &[
    ("8480c", "xeon-8480c"),
    ("xeon-platinum-8480c", "xeon-8480c"),
    ("8570", "xeon-8570"),
    ("7742", "epyc-7742"),
    ("9654", "epyc-9654"),
    ("nvidia-grace", "grace"),
    ("kunpeng", "kunpeng-920"),
];

// ---------------------------------------------------------------------------------------------
// Hosts: servers, compute trays, TPU hosts
// ---------------------------------------------------------------------------------------------

/// `[S]` DGX H100 maximum system power — systems.md §1.1 / §9.3 "about 10.2 kW max" (NVIDIA
/// datasheet value quoted by flashgenius.net and kshirol-dev); the DGX H100/H200 User Guide's
/// power specification gives "10.2 kW max" for six 3.3 kW supplies (as quoted by unanswered.io).
pub const DGX_H100_MAX_POWER: Watts = Watts(10_200.0);

/// `[E]` DGX H100 sale price, about $270,000 — SemiAnalysis "AI server cost analysis" (an analyst
/// estimate) as used by Epoch AI (<https://github.com/epoch-research/training-cost-trends>). systems.md §9.4 `[U]` has
/// none ("DGX H100: not found").
pub const DGX_H100_PRICE: Usd = Usd(270_000.0);

/// `[A]` DGX A100 maximum system power 6.5 kW (NVIDIA DGX A100 datasheet); not in systems.md.
pub const DGX_A100_MAX_POWER: Watts = Watts(6_500.0);

/// `[P]` DGX B200 "14.3 kW max." — NVIDIA DGX B200 User Guide, power specifications
/// (<https://docs.nvidia.com/dgx/dgxb200-user-guide/introduction-to-dgxb200.html>); not in
/// systems.md.
pub const DGX_B200_MAX_POWER: Watts = Watts(14_300.0);

/// `[D]` DGX B300 system power, 14 kW — systems.md §9.3 `[P]` "about 56 kW per rack of 4 DGX
/// B300" (B300 XDR RA) / 4.
pub const DGX_B300_POWER: Watts = Watts(56_000.0 / 4.0);

/// `[S]` GB200 NVL72 rack power, 132 kW — Supermicro's breakdown of 8 power shelves with 132 kW
/// of DC output (18 compute trays ≈ 117 kW, 9 NVLink switch trays ≈ 3.6 kW), quoted by
/// introl.com ("Why the NVIDIA GB300 NVL72 matters"). `[C]` systems.md §2.1 / §9.3 `[S]` "about
/// 120 kW reported" (STH): the press figure; 132 kW is the rack's maximum, and 8 racks of it plus
/// the compute fabric (~1.09 MW) fit §2.2 `[P]` "Each SU requires a TDP of 1.2 MW" with room for
/// the SU's storage and management equipment.
pub const GB200_NVL72_POWER: Watts = Watts(132_000.0);

/// `[S]` GB200 NVL72 rack price, about $3M — systems.md §2.2 / §9.4 (training.continuumlabs.ai;
/// kshirol-dev).
pub const GB200_NVL72_PRICE: Usd = Usd(3_000_000.0);

/// `[P]` GB300 NVL72 "Full rack requiring up to 142 kW" — systems.md §2.1 / §9.3 (NVIDIA
/// Enterprise RA NVL72 components).
pub const GB300_NVL72_POWER: Watts = Watts(142_000.0);

/// `[A]` ConnectX-7 street price, shared by [`CX7_400G`] and the derived host prices.
const CX7_USD: Usd = Usd(2_000.0);

/// The rack rule of 8-GPU NVIDIA servers at about 40 kW per rack.
const FOUR_PER_RACK_DGX_H100: &str = "4 DGX H100 per rack: systems.md §1.2 [S] counts 38 racks for \
     the 127-node 4-SU SuperPOD = 32 racks of 4 nodes + 6 network racks [D]";

/// DGX H100 (and HGX H100, the same baseboard and host in NVIDIA's reference design; Meta's Grand
/// Teton and Alibaba's HPN hosts are modelled with it).
///
/// - `overhead` 2,676 W — `[D]` [`DGX_H100_MAX_POWER`] 10,200 W − 8 × 700 W H100 − 4 × 256 W
///   NVSwitch `[A]` − 8 × 25 W ConnectX-7 `[A]` − 2 × 350 W Xeon 8480C `[A]`: 2 TB DDR5, 10 NVMe
///   drives, 2 storage ConnectX-7, fans and the losses of six 3.3 kW supplies.
/// - `price` $8,400 — `[D]` [`DGX_H100_PRICE`] $270k `[E]` − 8 × $30.7k H100 `[S]` − 8 × $2k
///   ConnectX-7 `[A]`: CPUs, memory, chassis, storage and the NVSwitch baseboard.
/// - 4 per rack (≈ 41 kW) — `[D]` systems.md §1.2 `[S]`: 38 racks for 127 nodes and 48 switches.
/// - No OEM figure for other HGX H100 servers was found; they take the DGX's `[A]`.
pub const DGX_H100: Host = Host {
    id: "dgx-h100",
    name: "DGX H100 host",
    cpu: "xeon-8480c",
    overhead: Watts(
        DGX_H100_MAX_POWER.0
            - 8.0 * H100.tdp.0
            - 4.0 * NVSWITCH3.power.0
            - 8.0 * CX7_400G.power.0
            - 2.0 * XEON_8480C.tdp.0,
    ), // [D] 10.2 kW [S] − parts
    price: Price::Usd(Usd(DGX_H100_PRICE.0 - 8.0 * H100_USD.0 - 8.0 * CX7_USD.0)), // [D]
    hosts_per_rack: 4,
    rack_basis: FOUR_PER_RACK_DGX_H100,
    source: "systems.md §1.1/§9.3 [S] DGX H100 10.2 kW max; [D] overhead = 10.2 kW − GPUs, NVSwitch, \
             NICs, CPUs; [D] price = $270k DGX H100 (SemiAnalysis via Epoch AI [E]) − GPUs − NICs",
};

/// HGX H200 server, taken as NVIDIA's DGX H200.
///
/// - `overhead` — `[D]` DGX H200 "10.2 kW max" (the DGX H100/H200 User Guide gives one power
///   specification for both, as quoted by unanswered.io `[S]`) − the same parts as [`DGX_H100`]
///   with 700 W H200 (systems.md §9.3 `[S]`): the same 2,676 W.
/// - `price` — `[A]` the DGX H100 host's: same chassis, CPUs and baseboard.
/// - 4 per rack — `[A]` as DGX H100 (same 10.2 kW).
pub const HGX_H200: Host = Host {
    id: "hgx-h200",
    name: "HGX H200 host (as DGX H200)",
    cpu: "xeon-8480c",
    overhead: Watts(
        DGX_H100_MAX_POWER.0
            - 8.0 * H200.tdp.0
            - 4.0 * NVSWITCH3.power.0
            - 8.0 * CX7_400G.power.0
            - 2.0 * XEON_8480C.tdp.0,
    ), // [D] DGX H200 10.2 kW [S] − parts
    price: DGX_H100.price, // [A] as DGX H100
    hosts_per_rack: 4,
    rack_basis: "4 per rack [A], as DGX H100 (same 10.2 kW)",
    source: "DGX H100/H200 User Guide 10.2 kW max [S] (via unanswered.io); [D] overhead; [A] price and \
             rack rule as DGX H100",
};

/// HGX H800 server: `[A]` the DGX H100's host in every figure (same baseboard and NVSwitch chips;
/// only the NVLink count differs).
pub const HGX_H800: Host = Host {
    id: "hgx-h800",
    name: "HGX H800 host (as DGX H100)",
    cpu: "xeon-8480c",
    overhead: DGX_H100.overhead, // [A] as DGX H100
    price: DGX_H100.price,       // [A] as DGX H100
    hosts_per_rack: 4,
    rack_basis: "4 per rack [A], as DGX H100",
    source: "[A] DGX H100 host figures",
};

/// DGX A100 (Selene-era).
///
/// - `overhead` 1,826 W — `[D]` [`DGX_A100_MAX_POWER`] 6.5 kW `[A]` − 8 × 400 W A100 − 6 × 144 W
///   NVSwitch gen2 `[A]` − 8 × 20 W ConnectX-6 `[A]` − 2 × 225 W EPYC 7742 `[A]`.
/// - `price` unpriced — the A100 has no unit price here, so no host share can be derived.
/// - 4 per rack (≈ 26 kW) — `[A]`.
pub const DGX_A100: Host = Host {
    id: "dgx-a100",
    name: "DGX A100 host",
    cpu: "epyc-7742",
    overhead: Watts(
        DGX_A100_MAX_POWER.0
            - 8.0 * A100.tdp.0
            - 6.0 * NVSWITCH2.power.0
            - 8.0 * CX6_200G_HDR.power.0
            - 2.0 * EPYC_7742.tdp.0,
    ), // [D] 6.5 kW [A] − parts
    price: Price::Unpriced {
        reason: "no DGX A100 price in the reference table, and the A100 has none to subtract",
    },
    hosts_per_rack: 4,
    rack_basis: "4 DGX A100 per rack [A] (~26 kW)",
    source: "[A] NVIDIA DGX A100 datasheet (6.5 kW max, 2 × EPYC 7742); [D] overhead = 6.5 kW − parts",
};

/// HGX / DGX B200.
///
/// - `overhead` 4,248 W — `[D]` [`DGX_B200_MAX_POWER`] 14.3 kW `[P]` − 8 × 1,000 W B200 − 2 ×
///   576 W NVLink 5 switch `[A]` − 8 × 25 W ConnectX-7 − 2 × 350 W Xeon 8570 `[A]`.
/// - `price` unpriced — systems.md §9.4 `[U]` "DGX B200: not found".
/// - 2 per rack — `[D/U]` the DGX SuperPOD B200 RA says "power consumption per rack exceeds
///   25 kW", read as 2 × 14.3 kW (NVIDIA does not give the count in the captured text).
pub const HGX_B200: Host = Host {
    id: "hgx-b200",
    name: "DGX B200 host",
    cpu: "xeon-8570",
    overhead: Watts(
        DGX_B200_MAX_POWER.0
            - 8.0 * B200.tdp.0
            - 2.0 * NVLINK5_SWITCH.power.0
            - 8.0 * CX7_400G.power.0
            - 2.0 * XEON_8570.tdp.0,
    ), // [D] 14.3 kW [P] − parts
    price: Price::Unpriced {
        reason: "DGX B200 price not found (systems.md §9.4 [U])",
    },
    hosts_per_rack: 2,
    rack_basis: "2 DGX B200 per rack [D/U]: the B200 SuperPOD RA's \"power consumption per rack exceeds 25 kW\"",
    source: "[P] NVIDIA DGX B200 User Guide (14.3 kW max, 2 × Xeon 8570, 2 NVLink switches); [D] overhead",
};

/// HGX / DGX B300.
///
/// - `overhead` 2,988 W — `[D]` [`DGX_B300_POWER`] 14 kW − 8 × 1,100 W B300 `[A]` − 2 × 576 W
///   NVLink 5 switch `[A]` − 8 × 45 W ConnectX-8 `[A]` − 2 × 350 W Xeon 8570 `[A]`.
/// - `price` unpriced — no public DGX/HGX B300 price.
/// - 4 per rack (~56 kW) — systems.md §9.3 `[P]` (B300 XDR RA).
pub const HGX_B300: Host = Host {
    id: "hgx-b300",
    name: "DGX B300 host",
    cpu: "xeon-8570",
    overhead: Watts(
        DGX_B300_POWER.0
            - 8.0 * B300.tdp.0
            - 2.0 * NVLINK5_SWITCH.power.0
            - 8.0 * CX8_800G.power.0
            - 2.0 * XEON_8570.tdp.0,
    ), // [D] 14 kW [D/P] − parts
    price: Price::Unpriced {
        reason: "no public DGX/HGX B300 price",
    },
    hosts_per_rack: 4,
    rack_basis: "4 DGX B300 per rack (~56 kW): systems.md §9.3 [P] B300 XDR RA",
    source: "systems.md §9.3 [P] ~56 kW per rack of 4 DGX B300 (B300 XDR RA); [D] overhead; [A] Xeon 8570",
};

/// One GB200 NVL72 compute tray (2 Grace + 4 Blackwell) with its 1/18 share of the rack: NVLink
/// switch-tray fans and management, the 2 management ToR switches, power shelves, BlueField-3
/// DPUs, E1.S drives and conversion losses.
///
/// - `overhead` ≈ 1,257 W per tray — `[D]` ([`GB200_NVL72_POWER`] 132 kW `[S]` − 72 × 1,200 W
///   GB200 − 36 × 300 W Grace `[D]` − 18 × 576 W NVLink 5 switch `[A]` − 72 × 25 W ConnectX-7
///   `[A]`) / 18.
/// - `price` ≈ $18,667 per tray — `[D]` ([`GB200_NVL72_PRICE`] $3M `[S]` − 72 × $35k GB200 `[E]`
///   − 72 × $2k ConnectX-7 `[A]`) / 18: the Grace CPUs, trays, NVLink switch trays, copper
///   spine and power shelves, so that a rack totals $3M.
/// - 18 per rack — systems.md §2.1 `[P]` "18 × 1RU compute trays" (DGX GB200 User Guide).
pub const GB200_NVL72_TRAY: Host = Host {
    id: "gb200-nvl72",
    name: "GB200 NVL72 compute tray and 1/18 of its rack",
    cpu: "grace",
    overhead: Watts(
        (GB200_NVL72_POWER.0
            - 72.0 * GB200.tdp.0
            - 36.0 * GRACE.tdp.0
            - 18.0 * NVLINK5_SWITCH.power.0
            - 72.0 * CX7_400G.power.0)
            / 18.0,
    ), // [D] 132 kW [S] − parts, per tray
    price: Price::Usd(Usd(
        (GB200_NVL72_PRICE.0 - 72.0 * BLACKWELL_USD.0 - 72.0 * CX7_USD.0) / 18.0
    )), // [D] $3M [S] − GPUs [E] − NICs [A], per tray
    hosts_per_rack: 18,
    rack_basis: "one NVL72 per rack (18 compute trays): systems.md §2.1 [P] DGX GB200 User Guide",
    source: "systems.md §2.1 [P] DGX GB200 User Guide (18 trays, 36 Grace, 9 switch trays); [S] 132 kW \
             rack (Supermicro via introl.com), [C] ~120 kW (§2.1); [S] $3M rack (§2.2); [D] per-tray shares",
};

/// One GB300 NVL72 compute tray with its 1/18 share of the rack.
///
/// - `overhead` ≈ 933 W per tray — `[D]` ([`GB300_NVL72_POWER`] 142 kW `[P]` − 72 × 1,400 W GB300
///   `[A]` − 36 × 300 W Grace `[D]` − 18 × 576 W NVLink 5 switch `[A]` − 72 × 45 W ConnectX-8
///   `[A]`) / 18.
/// - `price` unpriced — no public GB300 NVL72 rack price.
/// - 18 per rack — systems.md §2.1 `[P]`.
pub const GB300_NVL72_TRAY: Host = Host {
    id: "gb300-nvl72",
    name: "GB300 NVL72 compute tray and 1/18 of its rack",
    cpu: "grace",
    overhead: Watts(
        (GB300_NVL72_POWER.0
            - 72.0 * GB300.tdp.0
            - 36.0 * GRACE.tdp.0
            - 18.0 * NVLINK5_SWITCH.power.0
            - 72.0 * CX8_800G.power.0)
            / 18.0,
    ), // [D] 142 kW [P] − parts, per tray
    price: Price::Unpriced {
        reason: "no public GB300 NVL72 rack price",
    },
    hosts_per_rack: 18,
    rack_basis: "one NVL72 per rack (18 compute trays): systems.md §2.1 [P]",
    source: "systems.md §2.1/§9.3 [P] NVIDIA Enterprise RA NVL72 (up to 142 kW); [D] per-tray overhead",
};

/// AMD MI300X 8-GPU platform host.
///
/// - `overhead` 2,676 W — `[A]` the DGX H100's (memory, storage, fans, PSU losses of an 8-GPU
///   server); no MI300X system power figure is in the reference table. With 8 × 750 W GPUs and
///   2 × 360 W EPYC the server comes to about 9.6 kW.
/// - `price` unpriced — platform-dependent; no public server price in the reference table.
/// - 4 per rack — `[A]` as DGX H100 (~38 kW).
pub const MI300X_NODE: Host = Host {
    id: "mi300x-node",
    name: "MI300X 8-GPU server host",
    cpu: "epyc-9654",
    overhead: DGX_H100.overhead, // [A] as DGX H100
    price: Price::Unpriced {
        reason: "MI300X servers are platform-dependent; no public server price",
    },
    hosts_per_rack: 4,
    rack_basis: "4 per rack [A], as DGX H100 (~38 kW)",
    source: "[A] DGX H100 host overhead; [A] 2 × EPYC 9654",
};

/// Intel Gaudi 3 8-OAM server host (HLS-3 class).
///
/// - `overhead` 2,676 W — `[A]` the DGX H100's; no Gaudi 3 system power is in the reference table.
///   With 8 × 900 W Gaudi 3 and 2 × 350 W Xeon the server comes to about 10.6 kW.
/// - `price` unpriced — Intel's "$125k per 8-chip kit" (§9.4 `[S]`) covers the chips and
///   baseboard (priced on the accelerator line); the host server has no public price.
/// - 4 per rack — `[A]` as DGX H100.
pub const GAUDI3_NODE: Host = Host {
    id: "gaudi3-node",
    name: "Gaudi 3 8-OAM server host",
    cpu: "xeon-8480c",
    overhead: DGX_H100.overhead, // [A] as DGX H100
    price: Price::Unpriced {
        reason: "Intel's $125k kit covers the 8 chips and baseboard; the host server has no public price",
    },
    hosts_per_rack: 4,
    rack_basis: "4 per rack [A], as DGX H100 (~42 kW)",
    source: "[A] DGX H100 host overhead; [A] 2 × 350 W Xeon; systems.md §9.4 [S] $125k kit",
};

/// A Google TPU host: one CPU server per 4 chips (systems.md §3.1 `[P(S)]`: "4 PCIe connectors"
/// per board of 4 chips; v5p "4 chips per host" §3.2 `[P]`).
///
/// - `cpu` — `[A]` one AMD EPYC-class CPU per host (225 W, [`EPYC_7742`]); Google publishes no
///   host power.
/// - `overhead` 250 W — `[A]` memory, the DCN NIC, fans and supply losses of a host serving
///   4 chips. Treat as ±50 %.
/// - `price` unpriced — [`TPU_PRICE`].
/// - 16 hosts (64 chips, one 4×4×4 cube) per rack — systems.md §3.1 `[S]` "4×4×4 cube = 64 chips
///   = 1 rack"; `[A]` for the 2D-torus v5e / v6e pods.
pub const TPU_HOST: Host = Host {
    id: "tpu-host",
    name: "TPU host, 4 chips",
    cpu: "epyc-7742",
    overhead: Watts(250.0), // [A]
    price: TPU_PRICE,
    hosts_per_rack: 16,
    rack_basis: "64 chips (16 hosts) per rack: systems.md §3.1 [S] one 4×4×4 cube per rack",
    source: "systems.md §3.1/§3.2 [P(S)] 4 chips per host, one cube per rack; [A] host CPU and overhead",
};

/// A Huawei CloudMatrix384 node (8 Ascend 910C, 4 Kunpeng, 7 on-board L1 UB switch chips).
///
/// - `overhead` 1,000 W — `[A]` memory, storage, the Qingtian VPC card, fans and supply losses of a
///   node; Huawei publishes no node power. Check: the whole system then comes to about 619 kW,
///   11 % above §4 / §9.3 `[S]` "about 559 kW per system" (SemiAnalysis); most of the gap is
///   the `[A]` switch-power rule's 172 kW for the 448 UB switch chips.
/// - `price` unpriced — Huawei sells whole systems (up to $8.2M, §9.4 `[S]`), and the 384 NPU
///   estimates alone exceed that (`[C]`, see [`ASCEND_910C`]): no host share can be derived.
/// - 4 nodes per compute rack — systems.md §4 `[S]` "12 compute racks (4 nodes each)"; the
///   4 communication racks are the preset's.
pub const CLOUDMATRIX_NODE: Host = Host {
    id: "cloudmatrix-node",
    name: "CloudMatrix384 node host",
    cpu: "kunpeng-920",
    overhead: Watts(1_000.0), // [A]
    price: Price::Unpriced {
        reason: "Huawei sells whole CloudMatrix384 systems; the NPU estimates exceed the system price [C], so no host share can be derived",
    },
    hosts_per_rack: 4,
    rack_basis: "4 nodes per compute rack: systems.md §4 [S] (12 compute racks × 4 nodes)",
    source: "systems.md §4 [S] (4 Kunpeng per node, 12 compute racks of 4 nodes); [A] overhead",
};

/// Every host in the catalogue.
pub static HOSTS: &[Host] = &[
    DGX_H100,
    HGX_H200,
    HGX_H800,
    DGX_A100,
    HGX_B200,
    HGX_B300,
    GB200_NVL72_TRAY,
    GB300_NVL72_TRAY,
    MI300X_NODE,
    GAUDI3_NODE,
    TPU_HOST,
    CLOUDMATRIX_NODE,
];

// ---------------------------------------------------------------------------------------------
// Facility and racks
// ---------------------------------------------------------------------------------------------

/// `[A]` Default power usage effectiveness (facility power ÷ IT power): 1.3, the upper end of the
/// "PUE 1.1–1.3" that the project's operations reference gives for sizing AI sites (its Power
/// section); Baidu reports PUE 1.199 for a 32,000-card cluster (systems.md §7.3 `[S]`). The upper
/// end is taken so that a site is not under-sized; `fabricsim topo --pue` overrides it.
pub const PUE_DEFAULT: f64 = 1.3;

/// Where [`PUE_DEFAULT`] comes from, for reports.
pub const PUE_DEFAULT_BASIS: &str =
    "default [A]: upper end of the 1.1-1.3 quoted for AI sites, Baidu reports 1.199; --pue to change";

/// `[A]` Fixed switch boxes (or optical circuit switches) per network rack: 1–2U boxes with patch
/// panels, cable management and PDUs. With 8 per rack the 48 QM9700 of the 4-SU DGX SuperPOD
/// take 6 racks, which with 127 DGX H100 at 4 per rack (32 racks) gives the 38 racks of
/// systems.md §1.2 `[S]`. A modular chassis takes a rack of its own.
pub const A_BOXES_PER_NETWORK_RACK: u32 = 8;

// ---------------------------------------------------------------------------------------------
// Lookup
// ---------------------------------------------------------------------------------------------

/// What the lookup and the tests need from every catalogue entry.
trait Entry: 'static {
    fn id(&self) -> &'static str;
    fn name(&self) -> &'static str;
    #[cfg_attr(not(test), allow(dead_code))] // read by the table checks in the tests
    fn source(&self) -> &'static str;
}

macro_rules! entry {
    ($($t:ty),*) => {$(
        impl Entry for $t {
            fn id(&self) -> &'static str { self.id }
            fn name(&self) -> &'static str { self.name }
            fn source(&self) -> &'static str { self.source }
        }
    )*};
}
entry!(Accelerator, ScaleUpLink, Nic, SwitchChip, Transceiver, Ocs, Cpu, Host);

/// Lowercase, trimmed, with `_` and spaces turned into `-`.
fn normalise(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace(['_', ' '], "-")
}

/// Find an entry by id, alias or full name, ignoring case.
fn lookup<T: Entry>(table: &'static [T], aliases: &[(&str, &str)], key: &str) -> Option<&'static T> {
    let key = normalise(key);
    let id = aliases
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or(key.as_str(), |(_, id)| *id);
    table
        .iter()
        .find(|e| e.id() == id)
        .or_else(|| table.iter().find(|e| normalise(e.name()) == key))
}

/// An accelerator by id (`"h100"`), alias (`"H100-SXM5-80GB"`, `"ironwood"`, `"910c"`) or full
/// name, case-insensitively.
pub fn accelerator(id: &str) -> Option<&'static Accelerator> {
    lookup(ACCELERATORS, ACCELERATOR_ALIASES, id)
}

/// Every accelerator in the catalogue.
pub fn accelerators() -> &'static [Accelerator] {
    ACCELERATORS
}

/// A scale-up link by id (`"nvlink4"`), alias or name, case-insensitively.
pub fn scale_up_link(id: &str) -> Option<&'static ScaleUpLink> {
    lookup(SCALE_UP_LINKS, SCALE_UP_LINK_ALIASES, id)
}

/// Every scale-up link in the catalogue.
pub fn scale_up_links() -> &'static [ScaleUpLink] {
    SCALE_UP_LINKS
}

/// A NIC by id (`"cx7-400g"`), alias (`"ConnectX-7"`) or name, case-insensitively.
pub fn nic(id: &str) -> Option<&'static Nic> {
    lookup(NICS, NIC_ALIASES, id)
}

/// Every NIC in the catalogue.
pub fn nics() -> &'static [Nic] {
    NICS
}

/// A switch by id (`"quantum2-qm9700"`), alias (`"QM9700"`) or name, case-insensitively.
pub fn switch_chip(id: &str) -> Option<&'static SwitchChip> {
    lookup(SWITCH_CHIPS, SWITCH_ALIASES, id)
}

/// Every switch in the catalogue.
pub fn switch_chips() -> &'static [SwitchChip] {
    SWITCH_CHIPS
}

/// A transceiver by id (`"osfp-800g-2x400g-dr4"`), alias (part number) or name, case-insensitively.
pub fn transceiver(id: &str) -> Option<&'static Transceiver> {
    lookup(TRANSCEIVERS, TRANSCEIVER_ALIASES, id)
}

/// Every transceiver in the catalogue.
pub fn transceivers() -> &'static [Transceiver] {
    TRANSCEIVERS
}

/// An optical circuit switch by id (`"palomar"`), alias or name, case-insensitively.
pub fn ocs(id: &str) -> Option<&'static Ocs> {
    lookup(OCSES, OCS_ALIASES, id)
}

/// Every optical circuit switch in the catalogue.
pub fn ocses() -> &'static [Ocs] {
    OCSES
}

/// A host CPU by id (`"grace"`), alias (`"8480c"`) or name, case-insensitively.
pub fn cpu(id: &str) -> Option<&'static Cpu> {
    lookup(CPUS, CPU_ALIASES, id)
}

/// Every host CPU in the catalogue.
pub fn cpus() -> &'static [Cpu] {
    CPUS
}

/// A host (server, compute tray, TPU host) by id (`"dgx-h100"`) or name, case-insensitively.
pub fn host(id: &str) -> Option<&'static Host> {
    lookup(HOSTS, &[], id)
}

/// Every host in the catalogue.
pub fn hosts() -> &'static [Host] {
    HOSTS
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative comparison: the figures are products and quotients of decimal literals.
    #[track_caller]
    fn close(what: &str, got: f64, want: f64) {
        let tol = want.abs().max(1e-30) * 1e-9;
        assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
    }

    /// Usable HBM (the driver's reported total) pinned where sourced; physical `hbm` kept for
    /// the bill of materials; other parts fall back to `hbm`.
    #[test]
    fn usable_hbm_is_the_reported_total() {
        let h100 = accelerator("h100").unwrap();
        close("h100 usable", h100.usable_hbm().0, 81_559.0 * 1_048_576.0);
        close("h100 physical", h100.hbm.0, 80e9);
        assert!((h100.usable_hbm().0 / GIB - 79.65).abs() < 0.01);
        close(
            "h800 usable",
            accelerator("h800").unwrap().usable_hbm().0,
            81_559.0 * 1_048_576.0,
        );
        let a100 = accelerator("a100").unwrap();
        close("a100 usable", a100.usable_hbm().0, 81_920.0 * 1_048_576.0);
        close("a100 physical", a100.hbm.0, 80e9);
        let h200 = accelerator("h200").unwrap();
        close("h200 falls back", h200.usable_hbm().0, h200.hbm.0);
        close(
            "gb200 usable",
            accelerator("gb200").unwrap().usable_hbm().0,
            189_471.0 * 1_048_576.0,
        );
    }

    /// TPU MXU sides and DCN bandwidth per chip (Cloud TPU docs: v5e 2 × 100 Gb/s per 8-chip
    /// host, v5p 50 Gb/s per chip, v6e 4 × 200 Gb/s per 8-chip host).
    #[test]
    fn tpu_cores_headline_figures() {
        let per_chip_gbit = |id: &str| tpu_core(id).unwrap().dcn_per_chip().0 * 8.0 / 1e9;
        close("v5e dcn", per_chip_gbit("tpu-v5e"), 25.0);
        close("v5p dcn", per_chip_gbit("tpu-v5p"), 50.0);
        close("v6e dcn", per_chip_gbit("tpu-v6e"), 100.0);
        assert_eq!(tpu_core("tpu-v5p").unwrap().mxu, 128);
        assert_eq!(tpu_core("tpu-v6e").unwrap().mxu, 256);
        for t in TPU_CORES {
            assert!(accelerator(t.accel).is_some(), "{} is not an accelerator", t.accel);
        }
        assert!(!tpu_core("tpu-v4").unwrap().calibrated && !tpu_core("tpu-v7").unwrap().calibrated);
    }

    /// Pins the headline figures of one accelerator.
    #[track_caller]
    fn acc(id: &str, bf16: f64, fp8: Option<f64>, hbm: f64, hbm_bw: f64, tdp: f64) {
        let a = accelerator(id).unwrap_or_else(|| panic!("no accelerator {id}"));
        assert_eq!(a.id, id);
        close(&format!("{id} bf16"), a.bf16_dense.0, bf16);
        match (a.fp8_dense, fp8) {
            (Some(got), Some(want)) => close(&format!("{id} fp8"), got.0, want),
            (None, None) => {}
            (got, want) => panic!("{id} fp8: got {got:?}, want {want:?}"),
        }
        close(&format!("{id} hbm"), a.hbm.0, hbm);
        close(&format!("{id} hbm_bw"), a.hbm_bw.0, hbm_bw);
        close(&format!("{id} tdp"), a.tdp.0, tdp);
    }

    #[test]
    fn accelerator_headline_figures() {
        // A100: [A] NVIDIA A100 datasheet (312 TFLOP/s, 80 GB, 2.039 TB/s, 400 W).
        acc("a100", 312e12, None, 80e9, 2.039e12, 400.0);
        // H100: §1.1 "8 × H100 SXM5 80 GB" [P], 700 W [S]; 989.4/1978.9 TFLOP/s and 3.35 TB/s [A].
        acc("h100", 989.4e12, Some(1978.9e12), 80e9, 3.35e12, 700.0);
        // H800: [A] same as H100.
        acc("h800", 989.4e12, Some(1978.9e12), 80e9, 3.35e12, 700.0);
        // H200: §1.1 "H200-SXM-141GBx8" [P], "H200 TGP 700W" [S]; 4.8 TB/s [A].
        acc("h200", 989.4e12, Some(1978.9e12), 141e9, 4.8e12, 700.0);
        // B200: §2.1/§9.3 "B200: 1,000 W (HGX)" [S]; compute and memory [A].
        acc("b200", 2.25e15, Some(4.5e15), 180e9, 8e12, 1000.0);
        // GB200: §2.1 "BF16 360 / 180" PF, "FP8 720 / 360", "13.4 TB … 576 TB/s" per 72 GPUs [D];
        // "The GB200 variant is rated at 1,200 W" [S].
        acc("gb200", 2.5e15, Some(5e15), 13.4e12 / 72.0, 8e12, 1200.0);
        // B300 / GB300: [A] Blackwell Ultra.
        acc("b300", 2.25e15, Some(4.5e15), 288e9, 8e12, 1100.0);
        acc("gb300", 2.5e15, Some(5e15), 288e9, 8e12, 1400.0);
        // MI300X: §7.1 "192 GB HBM3, 5.3 TB/s, 750 W … About 1.3 PF FP16 dense" [S]; FP8 [C].
        acc("mi300x", 1.3e15, Some(2.6e15), 192e9, 5.3e12, 750.0);
        // Gaudi 3: §7.2 "1,835 TFLOPS BF16 / FP8 (MME), 128 GB HBM2e, 3.7 TB/s, OAM, 900 W" [S].
        acc("gaudi3", 1835e12, Some(1835e12), 128e9, 3.7e12, 900.0);
        // TPU v4: §3.1 "275 TFLOPS bf16/int8; 32 GiB HBM2 at 1,200 GB/s; … 90/170/192 W" [P].
        acc("tpu-v4", 275e12, None, 32.0 * 1073741824.0, 1.2e12, 192.0);
        // TPU v5e: [A] Cloud TPU v5e docs (197 TFLOP/s, 16 GB, 819 GB/s); 140 W [A].
        acc("tpu-v5e", 197e12, None, 16e9, 819e9, 140.0);
        // TPU v5p: §3.2 "459 TFLOPS bf16 (FP8 also listed as 459); 95 GiB HBM2e at 2,765 GB/s" [P].
        acc("tpu-v5p", 459e12, Some(459e12), 95.0 * 1073741824.0, 2.765e12, 320.0);
        // TPU v6e: §3.3 "918 TFLOPS bf16, 32 GiB HBM" [P/S]; 1,640 GB/s [A]; 385 W [A].
        acc("tpu-v6e", 918e12, None, 32.0 * 1073741824.0, 1.64e12, 385.0);
        // TPU7x: §3.3 "2,307 TFLOPS BF16, 4,614 TFLOPS FP8, 192 GiB HBM3e, 7.37 TB/s" [P/S].
        acc("tpu-v7", 2307e12, Some(4614e12), 192.0 * 1073741824.0, 7.37e12, 1000.0);
        // Ascend 910C: §4 "752 TFLOPS BF16 dense per package (paper); 128 GB HBM; 3.2 TB/s" [S].
        acc("ascend-910c", 752e12, None, 128e9, 3.2e12, 800.0);
    }

    /// Dense FP4 peaks: Blackwell only, each from its source; every other chip has no FP4 path.
    #[test]
    fn fp4_headline_figures() {
        let fp4 = |id: &str| accelerator(id).unwrap().fp4_dense.map(|f| f.0);
        // [S] glennklockwood.com B200 (HGX, 1,000 W) 9,000 TFLOP/s dense; DGX B200 144 PF sparse / 16.
        close("b200 fp4", fp4("b200").unwrap(), 9e15);
        close("b200 fp4 vs DGX B200 sparse", fp4("b200").unwrap() * 8.0 * 2.0, 144e15);
        // [D] §2.1 "NVFP4 1,440 / 720 PF (sparse/dense)" per 72-GPU rack.
        close("gb200 fp4", fp4("gb200").unwrap(), 10e15);
        close("gb200 rack fp4 sparse", fp4("gb200").unwrap() * 72.0 * 2.0, 1_440e15);
        // [C] HGX B300 108 PF dense per 8 GPUs (13.1 and 14 PF in the other sources).
        close("b300 fp4", fp4("b300").unwrap(), 13.5e15);
        // [S] GB300 NVL72 1,080 PF dense per rack.
        close("gb300 fp4", fp4("gb300").unwrap(), 15e15);
        close("gb300 rack fp4", fp4("gb300").unwrap() * 72.0, 1_080e15);
        for id in [
            "a100",
            "h100",
            "h800",
            "h100-96gb",
            "h20",
            "h200",
            "mi300x",
            "gaudi3",
            "tpu-v4",
            "tpu-v5e",
            "tpu-v5p",
            "tpu-v6e",
            "tpu-v7",
            "ascend-910c",
        ] {
            assert_eq!(fp4(id), None, "{id} has no FP4 tensor path");
        }
        // FP4 is at least twice FP8 wherever both exist (Blackwell: 2× on B200/GB200, 3× on Ultra).
        for a in accelerators() {
            if let (Some(f4), Some(f8)) = (a.fp4_dense, a.fp8_dense) {
                assert!(f4.0 >= 2.0 * f8.0, "{}: fp4 {} < 2 × fp8 {}", a.id, f4.0, f8.0);
            }
        }
    }

    #[test]
    fn accelerator_prices() {
        let usd = |id: &str| {
            accelerator(id)
                .unwrap()
                .price
                .usd()
                .unwrap_or_else(|| panic!("{id} has no price"))
                .0
        };
        // §9.4 "H100: about $30.7k per GPU" [S].
        close("h100 price", usd("h100"), 30_700.0);
        // [E] aiinframap.com survey "H200 ≈ $35,000"; awesomeagents.ai "$25,000–$35,000".
        close("h200 price", usd("h200"), 35_000.0);
        // [E] Jensen Huang to CNBC: Blackwell "between $30,000 and $40,000 per unit", midpoint.
        close("b200 price", usd("b200"), 35_000.0);
        close("gb200 price", usd("gb200"), 35_000.0);
        // §9.4 "Gaudi 3: $125k per 8-chip kit (Intel)" [S] / 8.
        close("gaudi3 price", usd("gaudi3"), 15_625.0);
        // §9.4 "MI300X: about $10–15k street" [S]; HF "MSRP $15k".
        close("mi300x price", usd("mi300x"), 15_000.0);
        // [E] WSJ: ~$2 billion for 70,000 Ascend 910C.
        close("910c price", usd("ascend-910c"), 2e9 / 70_000.0);
        // The rest say why not.
        for id in [
            "a100", "h800", "b300", "gb300", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "tpu-v7",
        ] {
            match accelerator(id).unwrap().price {
                Price::Unpriced { reason } => assert!(reason.len() > 10, "{id}: {reason}"),
                other => panic!("{id}: {other:?}"),
            }
        }
    }

    /// Every entry of every table has a price, is paid for within another line, or says why not.
    #[test]
    fn every_price_is_a_figure_or_a_reason() {
        let check = |id: &str, p: Price| match p {
            Price::Usd(u) => assert!(u.0 > 0.0 && u.0.is_finite(), "{id}: {u:?}"),
            Price::Included { within } => assert!(!within.trim().is_empty(), "{id}"),
            Price::Unpriced { reason } => assert!(!reason.trim().is_empty(), "{id}"),
        };
        accelerators().iter().for_each(|e| check(e.id, e.price));
        nics().iter().for_each(|e| check(e.id, e.price));
        switch_chips().iter().for_each(|e| check(e.id, e.price));
        transceivers().iter().for_each(|e| check(e.id, e.price));
        ocses().iter().for_each(|e| check(e.id, e.price));
        hosts().iter().for_each(|e| check(e.id, e.price));
    }

    #[test]
    fn cpu_figures() {
        let tdp = |id: &str| cpu(id).unwrap_or_else(|| panic!("no cpu {id}")).tdp.0;
        // [A] Intel ARK / AMD product pages.
        close("xeon 8480c", tdp("xeon-8480c"), 350.0);
        close("xeon 8570", tdp("xeon-8570"), 350.0);
        close("epyc 7742", tdp("epyc-7742"), 225.0);
        close("epyc 9654", tdp("epyc-9654"), 360.0);
        // [D] 2,700 W GB200 superchip (FiberMall [S]) − 2 × 1,200 W: Grace draws power.
        close("grace", tdp("grace"), 300.0);
        close("kunpeng 920", tdp("kunpeng-920"), 200.0);
        for h in hosts() {
            assert!(cpu(h.cpu).is_some(), "host {} names unknown cpu {}", h.id, h.cpu);
            assert!(h.overhead.0 > 0.0, "host {}: overhead {} W", h.id, h.overhead.0);
            assert!(h.hosts_per_rack > 0 && !h.rack_basis.is_empty(), "host {}", h.id);
        }
    }

    /// Each system with a published power adds up to it: accelerators + CPUs + scale-up switch
    /// chips + compute NICs + host overheads.
    #[test]
    fn hosts_add_up_to_the_published_system_power() {
        #[track_caller]
        fn system(host: &str, hosts: f64, acc: (&str, f64), cpus: f64, sw: (&str, f64), nic: (&str, f64)) -> f64 {
            let h = super::host(host).unwrap();
            hosts * h.overhead.0
                + acc.1 * accelerator(acc.0).unwrap().tdp.0
                + cpus * cpu(h.cpu).unwrap().tdp.0
                + sw.1 * switch_chip(sw.0).unwrap().power.0
                + nic.1 * nic_of(nic.0).power.0
        }
        fn nic_of(id: &str) -> Nic {
            *nic(id).unwrap()
        }
        // §1.1 / §9.3 "DGX H100 about 10.2 kW max" [S].
        let dgx = system(
            "dgx-h100",
            1.0,
            ("h100", 8.0),
            2.0,
            ("nvswitch3", 4.0),
            ("cx7-400g", 8.0),
        );
        close("DGX H100", dgx, 10_200.0);
        close("DGX H100 overhead", DGX_H100.overhead.0, 2_676.0);
        // DGX H200 "10.2 kW max" (DGX H100/H200 User Guide [S]).
        let h200 = system(
            "hgx-h200",
            1.0,
            ("h200", 8.0),
            2.0,
            ("nvswitch3", 4.0),
            ("cx7-400g", 8.0),
        );
        close("DGX H200", h200, 10_200.0);
        // [A] DGX A100 datasheet 6.5 kW.
        let a100 = system(
            "dgx-a100",
            1.0,
            ("a100", 8.0),
            2.0,
            ("nvswitch2", 6.0),
            ("cx7-200g-hdr", 8.0),
        );
        close("DGX A100", a100, 6_500.0);
        // [P] DGX B200 User Guide "14.3 kW max".
        let b200 = system(
            "hgx-b200",
            1.0,
            ("b200", 8.0),
            2.0,
            ("nvlink5-switch", 2.0),
            ("cx7-400g", 8.0),
        );
        close("DGX B200", b200, 14_300.0);
        // §9.3 [P] "about 56 kW per rack of 4 DGX B300" / 4.
        let b300 = system(
            "hgx-b300",
            1.0,
            ("b300", 8.0),
            2.0,
            ("nvlink5-switch", 2.0),
            ("cx8-800g", 8.0),
        );
        close("DGX B300", b300, 14_000.0);
        // [S] GB200 NVL72 132 kW (Supermicro via introl.com); 36 Grace CPUs draw 10.8 kW of it.
        let gb200 = system(
            "gb200-nvl72",
            18.0,
            ("gb200", 72.0),
            36.0,
            ("nvlink5-switch", 18.0),
            ("cx7-400g", 72.0),
        );
        close("GB200 NVL72", gb200, 132_000.0);
        // §2.1 / §9.3 [P] GB300 NVL72 "up to 142 kW".
        let gb300 = system(
            "gb300-nvl72",
            18.0,
            ("gb300", 72.0),
            36.0,
            ("nvlink5-switch", 18.0),
            ("cx8-800g", 72.0),
        );
        close("GB300 NVL72", gb300, 142_000.0);
    }

    #[test]
    fn host_prices_complete_the_system_prices() {
        // [E] DGX H100 ~$270k (SemiAnalysis via Epoch AI) = 8 GPUs + 8 NICs + host.
        let dgx = DGX_H100.price.usd().unwrap().0 + 8.0 * 30_700.0 + 8.0 * 2_000.0;
        close("DGX H100 price", dgx, 270_000.0);
        // §2.2 / §9.4 [S] GB200 NVL72 about $3M = 72 GPUs + 72 NICs + 18 trays.
        let rack = 18.0 * GB200_NVL72_TRAY.price.usd().unwrap().0 + 72.0 * 35_000.0 + 72.0 * 2_000.0;
        close("GB200 NVL72 price", rack, 3_000_000.0);
        // NVLink and NVSwitch chips are paid for with their server or rack.
        for id in ["nvswitch3", "nvswitch2", "nvlink5-switch"] {
            assert!(matches!(switch_chip(id).unwrap().price, Price::Included { .. }), "{id}");
        }
    }

    #[test]
    fn facility_and_rack_rules() {
        // [A] operations reference "PUE 1.1–1.3", upper end.
        assert!((1.1..=1.3).contains(&PUE_DEFAULT));
        // §1.2 [S] 38 racks for the 4-SU SuperPOD: 127 DGX at 4 per rack + 48 switches at 8.
        let racks = 127u32.div_ceil(DGX_H100.hosts_per_rack) + 48u32.div_ceil(A_BOXES_PER_NETWORK_RACK);
        assert_eq!(racks, 38);
        // §2.1 [P] 18 compute trays per NVL72 rack; §3.1 [S] 64 TPU chips (16 hosts) per rack;
        // §4 [S] 4 CloudMatrix nodes per compute rack.
        assert_eq!(GB200_NVL72_TRAY.hosts_per_rack, 18);
        assert_eq!(TPU_HOST.hosts_per_rack, 16);
        assert_eq!(CLOUDMATRIX_NODE.hosts_per_rack, 4);
    }

    #[test]
    fn tpu_power_assumptions_follow_their_rules() {
        // [A] v5e and v5p at TPU v4's measured efficiency (§3.1 275 TFLOPS / 192 W [P]).
        for id in ["tpu-v5e", "tpu-v5p"] {
            let a = accelerator(id).unwrap();
            let rule = a.bf16_dense.0 / TPU_V4_FLOPS_PER_W;
            assert!(
                (a.tdp.0 / rule - 1.0).abs() < 0.02,
                "{id}: {} W vs rule {rule:.0} W",
                a.tdp.0
            );
        }
        // [A] v6e: Google's "67 % more energy-efficient than v5e" on top of that rule.
        let v6e = accelerator("tpu-v6e").unwrap();
        let rule = v6e.bf16_dense.0 / (TPU_V4_FLOPS_PER_W * 1.67);
        assert!(
            (v6e.tdp.0 / rule - 1.0).abs() < 0.02,
            "v6e: {} W vs rule {rule:.0} W",
            v6e.tdp.0
        );
    }

    #[test]
    fn gb200_reproduces_the_rack_figures() {
        // §2.1 rack: BF16 dense 180 PF, FP8 dense 360 PF, 576 TB/s HBM over 72 GPUs.
        let g = accelerator("gb200").unwrap();
        close("rack bf16", g.bf16_dense.0 * 72.0, 180e15);
        close("rack fp8", g.fp8_dense.unwrap().0 * 72.0, 360e15);
        close("rack hbm bw", g.hbm_bw.0 * 72.0, 576e12);
        close("rack hbm", g.hbm.0 * 72.0, 13.4e12);
    }

    #[test]
    fn scale_up_link_figures() {
        let link = |id: &str| scale_up_link(id).unwrap_or_else(|| panic!("no link {id}")).per_link.0;
        // [A] A100 datasheet: 600 GB/s bidir / 12 links.
        close("nvlink3", link("nvlink3"), 25e9);
        // §1.1 "Per-link bandwidth 50 GB/s bidir = 25 GB/s/dir" [D].
        close("nvlink4", link("nvlink4"), 25e9);
        // §1.1: 18 links reproduce "450 GB/s/dir" per GPU.
        close("nvlink4 × 18", link("nvlink4") * 18.0, 450e9);
        // §2.1 "NVLink 5 per link 100 GB/s bidir (50 GB/s/dir)" [P].
        close("nvlink5", link("nvlink5"), 50e9);
        // §2.1: 18 links reproduce "1.8 TB/s bidir per GPU".
        close("nvlink5 × 18 × 2", link("nvlink5") * 18.0 * 2.0, 1.8e12);
        // §7.1 "128 GB/s bidirectional (64 GB/s/dir)" [S]; 7 links = "448 GB/s/dir".
        close("xgmi3", link("xgmi3"), 64e9);
        close("xgmi3 × 7", link("xgmi3") * 7.0, 448e9);
        // §7.2 "21 × 200 Gb/s = 525 GB/s/dir" [P].
        close("gaudi3-roce × 21", link("gaudi3-roce") * 21.0, 525e9);
        // §3.1 "~50 GB/s/dir" per ICI link [S/D].
        close("ici-v4", link("ici-v4"), 50e9);
        // [A] v5e docs 1,600 Gbps over 4 ports.
        close("ici-v5e", link("ici-v5e"), 50e9);
        // §3.2 "ICI per link 100 GB/s/dir (if 6 links)" [D].
        close("ici-v5p", link("ici-v5p"), 100e9);
        // §3.3 Ironwood 1.2 TB/s bidir = 1.5 × Trillium, 4 ports [D].
        close("ici-v6e", link("ici-v6e"), 100e9);
        // §3.3 "1.2 TB/s bidir per chip" [P/S] over [A] 6 ports.
        close("ici-v7", link("ici-v7"), 100e9);
        // §4 "392/14 = 28 GB/s per link" [S/D].
        close("ub-910c", link("ub-910c"), 28e9);
    }

    #[test]
    fn nic_figures() {
        let n = |id: &str| *nic(id).unwrap_or_else(|| panic!("no nic {id}"));
        // §1.1 "8 × single-port ConnectX-7, 400 Gb/s" [P].
        let cx7 = n("cx7-400g");
        assert_eq!(cx7.ports, 1);
        close("cx7 speed", cx7.port_speed.0, 50e9);
        close("cx7 power [A]", cx7.power.0, 25.0);
        // [A] DGX A100 datasheet: ConnectX-6 200 Gb/s HDR.
        let cx6 = n("cx7-200g-hdr");
        assert_eq!(cx6.ports, 1);
        close("cx6 speed", cx6.port_speed.0, 25e9);
        // §2.2/§2.3 "1 × 800 Gb/s (GB300 with ConnectX-8)" [P].
        let cx8 = n("cx8-800g");
        assert_eq!(cx8.ports, 1);
        close("cx8 speed", cx8.port_speed.0, 100e9);
        // §5 "8 backend NICs, each 2 × 200 Gb/s … 400 Gb/s per GPU" [S].
        let bf3 = n("bf3-2x200g");
        assert_eq!(bf3.ports, 2);
        close("bf3 per GPU", bf3.port_speed.0 * bf3.ports as f64, 50e9);
    }

    #[test]
    fn switch_figures() {
        let s = |id: &str| *switch_chip(id).unwrap_or_else(|| panic!("no switch {id}"));
        // (id, radix, port Gb/s, systems.md row)
        let cases: &[(&str, u32, f64)] = &[
            ("quantum2-qm9700", 64, 400.0),     // §1.2 "64 × NDR 400G ports" [P]
            ("quantum-qm8700", 40, 200.0),      // [A] QM8700 datasheet 40 × HDR 200G
            ("quantum-x800-q3400", 144, 800.0), // §2.2/§9.1 "Q3400 = 144 × 800G ports" [P]
            ("spectrum4-sn5600", 64, 800.0),    // §9.1 "51.2 Tb/s Ethernet (64 × 800G)" [S]
            ("tomahawk5-51t", 64, 800.0),       // §7.2 "Tomahawk 5, 51.2 T … 800G" [S/D]
            ("hpn-51t-128x400", 128, 400.0),    // §5 "51.2 Tb/s Ethernet switch (128 × 400G)" [S]
            ("minipack2", 64, 400.0),           // §6.1 400 Gb/s per GPU; [A] TH4 25.6T
            ("arista-7800", 576, 400.0),        // [A] Arista 7816R3 576 × 400G
            ("nvswitch3", 64, 200.0),           // §1.1 "64 NVLink4 ports" × 25 GB/s/dir [S/D]
            ("nvlink5-switch", 72, 400.0),      // §2.1 "72 ports (one per GPU), 7.2 TB/s" [D]
            ("ub-switch-910c", 48, 400.0),      // §4 "19.2 Tb/s = 48 × 400G" [S]
        ];
        for &(id, radix, gb) in cases {
            let sw = s(id);
            assert_eq!(sw.radix, radix, "{id} radix");
            close(&format!("{id} port speed"), sw.port_speed.0, gb * 1e9 / 8.0);
            // [A] switch power rule (module docs); chassis at twice the rate.
            let w_per_tbps = if id == "arista-7800" { 40.0 } else { 20.0 };
            close(
                &format!("{id} power"),
                sw.power.0,
                w_per_tbps * radix as f64 * gb / 1000.0,
            );
        }
        // §1.2 "51.2 Tb/s" for QM9700 is bidirectional: 64 × 50 GB/s × 2.
        let qm = s("quantum2-qm9700");
        close(
            "qm9700 bidir Tb/s",
            qm.port_speed.0 * 8.0 * qm.radix as f64 * 2.0,
            51.2e12,
        );
        // §9.1 "Q3400 has 144 ports (115.2 Tb/s)".
        let q3 = s("quantum-x800-q3400");
        close("q3400 Tb/s", q3.port_speed.0 * 8.0 * q3.radix as f64, 115.2e12);
        // §2.1 NVLink Switch tray "144 NVLink ports … 14.4TB/s": 2 chips × 72 × 50 GB/s × 2.
        let nvs = s("nvlink5-switch");
        close("nvlink tray", 2.0 * nvs.radix as f64 * nvs.port_speed.0 * 2.0, 14.4e12);
        // §1.1 NVSwitch gen3 "64 × 50 GB/s = 3.2 TB/s bidir".
        let nv3 = s("nvswitch3");
        close("nvswitch3", nv3.radix as f64 * nv3.port_speed.0 * 2.0, 3.2e12);
        // [A] price rule: 64 × 400G box = $25.6k; modular chassis 3×.
        close("qm9700 price", qm.price.usd().unwrap().0, 25_600.0);
        close("arista price", s("arista-7800").price.usd().unwrap().0, 3_000.0 * 230.4);
        for id in ["nvswitch3", "nvlink5-switch", "ub-switch-910c"] {
            assert_eq!(s(id).price.usd(), None, "{id} is not sold separately");
            assert_eq!(s(id).housing, Housing::InSystem, "{id}");
        }
        assert_eq!(s("arista-7800").housing, Housing::Chassis);
        assert_eq!(qm.housing, Housing::Box);
    }

    #[test]
    fn transceiver_figures() {
        let t = |id: &str| *transceiver(id).unwrap_or_else(|| panic!("no transceiver {id}"));
        // (id, Gb/s, W)
        let cases: &[(&str, f64, f64)] = &[
            ("osfp-400g-dr4", 400.0, 9.0),         // §9.2 MMS4X00-NS400 "9 W max / 9 W typical" [P]
            ("osfp-800g-2x400g-dr4", 800.0, 17.0), // §9.2 MMS4X00-NS "17 W for all configurations" [P]
            ("osfp-800g-2x400g-sr4", 800.0, 15.0), // §9.2 MMA4Z00-NS "15 W" [P]
            ("osfp-400g-sr4", 400.0, 8.0),         // §9.2 MMA4Z00-NS400-T "8 W typical" [P]
            ("lpo-400g", 400.0, 5.0),              // §4 "400G LPO" [S]; 5 W [A]
            ("qsfp56-200g", 200.0, 5.0),           // [A] HDR QSFP56
        ];
        for &(id, gb, w) in cases {
            let x = t(id);
            close(&format!("{id} speed"), x.speed.0, gb * 1e9 / 8.0);
            close(&format!("{id} power"), x.power.0, w);
            assert!(x.price.usd().is_some(), "{id} has an [A] price");
        }
    }

    #[test]
    fn ocs_figures() {
        // §3.1 "Reported nominal size 136×136 (128 used + spares)" [U]; 108 W [A].
        let p = ocs("palomar").unwrap();
        assert_eq!(p.ports, 136);
        close("palomar power", p.power.0, 108.0);
        // §3.1 "6,144 / 48 = 128 ports used per OCS" fits within the nominal size.
        assert!(6144 / 48 <= p.ports);
    }

    #[test]
    fn lookups_accept_aliases_and_case() {
        let acc_cases = [
            ("H100-SXM5-80GB", "h100"),
            ("h100-sxm", "h100"),
            ("H100", "h100"),
            ("h100_sxm5_80gb", "h100"),
            ("NVIDIA H100 SXM5 80GB", "h100"),
            ("A100-SXM4-80GB", "a100"),
            ("a100", "a100"),
            ("H800", "h800"),
            ("H200-SXM-141GB", "h200"),
            ("ironwood", "tpu-v7"),
            ("Ironwood", "tpu-v7"),
            ("TPU7x", "tpu-v7"),
            ("910c", "ascend-910c"),
            ("Ascend-910C", "ascend-910c"),
            ("trillium", "tpu-v6e"),
            ("v5p", "tpu-v5p"),
            ("MI300X", "mi300x"),
            ("Gaudi-3", "gaudi3"),
        ];
        for (key, id) in acc_cases {
            assert_eq!(accelerator(key).map(|a| a.id), Some(id), "{key}");
        }
        assert_eq!(accelerator("h999"), None);
        assert_eq!(scale_up_link("NVLink4").map(|l| l.id), Some("nvlink4"));
        assert_eq!(scale_up_link("xgmi").map(|l| l.id), Some("xgmi3"));
        assert_eq!(nic("ConnectX-7").map(|n| n.id), Some("cx7-400g"));
        assert_eq!(nic("connectx-6").map(|n| n.id), Some("cx7-200g-hdr"));
        assert_eq!(switch_chip("QM9700").map(|s| s.id), Some("quantum2-qm9700"));
        assert_eq!(switch_chip("Q3400").map(|s| s.id), Some("quantum-x800-q3400"));
        assert_eq!(switch_chip("SN5600").map(|s| s.id), Some("spectrum4-sn5600"));
        assert_eq!(transceiver("MMS4X00-NS").map(|t| t.id), Some("osfp-800g-2x400g-dr4"));
        assert_eq!(ocs("Palomar").map(|o| o.id), Some("palomar"));
    }

    /// Ids unique and normalised, sources non-empty, aliases well-formed, for one table.
    fn check_table<T: Entry>(table: &'static [T], aliases: &[(&str, &str)]) {
        let mut seen = std::collections::BTreeSet::new();
        for e in table {
            assert!(seen.insert(e.id()), "duplicate id {}", e.id());
            assert_eq!(normalise(e.id()), e.id(), "id {} is not normalised", e.id());
            assert!(!e.name().trim().is_empty(), "{} has no name", e.id());
            assert!(!e.source().trim().is_empty(), "{} has no source", e.id());
            assert!(lookup(table, aliases, e.id()).is_some_and(|f| f.id() == e.id()));
        }
        let mut alias_seen = std::collections::BTreeSet::new();
        for (alias, id) in aliases {
            assert_eq!(normalise(alias), *alias, "alias {alias} is not normalised");
            assert!(alias_seen.insert(*alias), "duplicate alias {alias}");
            assert!(!seen.contains(alias), "alias {alias} shadows an id");
            assert!(seen.contains(id), "alias {alias} points to unknown id {id}");
        }
    }

    /// The SKUs that differ from H100 SXM in power, memory or compute (issue 8, part 5).
    #[test]
    fn hopper_variant_pins() {
        let t = accelerator("h100-96gb").unwrap();
        assert_eq!((t.hbm.0, t.hbm_bw.0, t.tdp.0), (96e9, 2.4e12, 500.0));
        assert!(t.bf16_dense.0 < H100.bf16_dense.0 && t.bf16_dense.0 > 835.5e12);
        let h20 = accelerator("h20").unwrap();
        assert_eq!(
            (h20.bf16_dense.0, h20.hbm.0, h20.hbm_bw.0, h20.tdp.0),
            (148e12, 96e9, 4.0e12, 400.0)
        );
        assert_eq!(h20.fp8_dense.map(|x| x.0), Some(296e12));
        // H800: H100 compute, NVLink cut to 8 links (400 GB/s bidir) in its node type.
        assert_eq!(accelerator("h800").unwrap().bf16_dense.0, H100.bf16_dense.0);
    }

    #[test]
    fn tables_are_well_formed() {
        check_table(ACCELERATORS, ACCELERATOR_ALIASES);
        check_table(SCALE_UP_LINKS, SCALE_UP_LINK_ALIASES);
        check_table(NICS, NIC_ALIASES);
        check_table(SWITCH_CHIPS, SWITCH_ALIASES);
        check_table(TRANSCEIVERS, TRANSCEIVER_ALIASES);
        check_table(OCSES, OCS_ALIASES);
        check_table(CPUS, CPU_ALIASES);
        check_table(HOSTS, &[]);
    }

    #[test]
    fn required_ids_are_present() {
        for id in [
            "a100",
            "h100",
            "h800",
            "h200",
            "b200",
            "gb200",
            "gb300",
            "b300",
            "mi300x",
            "gaudi3",
            "tpu-v4",
            "tpu-v5e",
            "tpu-v5p",
            "tpu-v6e",
            "tpu-v7",
            "ascend-910c",
        ] {
            assert!(accelerator(id).is_some(), "{id}");
        }
        for id in [
            "nvlink3",
            "nvlink4",
            "nvlink5",
            "xgmi3",
            "gaudi3-roce",
            "ici-v4",
            "ici-v5p",
            "ici-v5e",
            "ici-v6e",
            "ici-v7",
            "ub-910c",
        ] {
            assert!(scale_up_link(id).is_some(), "{id}");
        }
        for id in ["cx7-400g", "cx7-200g-hdr", "cx8-800g", "bf3-2x200g"] {
            assert!(nic(id).is_some(), "{id}");
        }
        for id in [
            "quantum2-qm9700",
            "quantum-qm8700",
            "quantum-x800-q3400",
            "spectrum4-sn5600",
            "tomahawk5-51t",
            "hpn-51t-128x400",
            "minipack2",
            "arista-7800",
            "nvswitch3",
            "nvlink5-switch",
            "ub-switch-910c",
        ] {
            assert!(switch_chip(id).is_some(), "{id}");
        }
        for id in [
            "osfp-400g-dr4",
            "osfp-800g-2x400g-dr4",
            "osfp-800g-2x400g-sr4",
            "osfp-400g-sr4",
            "lpo-400g",
            "qsfp56-200g",
        ] {
            assert!(transceiver(id).is_some(), "{id}");
        }
        assert!(ocs("palomar").is_some());
    }

    #[test]
    fn bandwidths_are_per_direction_and_physical() {
        // Every figure positive and finite; accelerator FP8 never below BF16.
        for a in accelerators() {
            for v in [a.bf16_dense.0, a.hbm.0, a.hbm_bw.0, a.tdp.0] {
                assert!(v.is_finite() && v > 0.0, "{}", a.id);
            }
            if let Some(f) = a.fp8_dense {
                assert!(f.0 >= a.bf16_dense.0, "{}", a.id);
            }
        }
        for l in scale_up_links() {
            assert!(
                l.per_link.0 > 0.0 && l.per_link.0 <= 200e9,
                "{} looks bidirectional",
                l.id
            );
        }
    }
}
