//! Latency and efficiency constants, one documented table.
//!
//! Latency: NCCL's own tuning model (src/graph/tuning.cc of NVIDIA/nccl v2.26.2, the tables
//! NCCL 2.18–2.27 ship; the measured rows run NCCL 2.18–2.30): time = base latency + steps × per-step hardware
//! latency + bytes / (bandwidth × protocol factor), choosing the fastest protocol.
//!
//! Efficiency: the fraction of a link's bandwidth NCCL's data path achieves. Calibrated by one
//! documented rule (see `docs/calibration.md`): on the DGX/HGX **H100** rows of the
//! measurements file only, the median over the large-message rows of measured busbw divided by
//! the busbw the same algorithm would reach at full link speed. Every other GPU, every smaller
//! message and every other system is a held-out check.

/// NCCL protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Ll,
    Ll128,
    Simple,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Ll, Protocol::Ll128, Protocol::Simple];
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Ll => "LL",
            Protocol::Ll128 => "LL128",
            Protocol::Simple => "Simple",
        }
    }
    /// Share of the wire that carries payload: LL sends a 4-byte flag with every 4 bytes of data,
    /// LL128 one 8-byte flag per 128-byte line (NCCL design); Simple carries data only.
    pub fn bandwidth_factor(self) -> f64 {
        match self {
            Protocol::Ll => 0.5,
            Protocol::Ll128 => 120.0 / 128.0,
            Protocol::Simple => 1.0,
        }
    }
    fn idx(self) -> usize {
        self as usize
    }
}

impl std::str::FromStr for Protocol {
    type Err = crate::CollectiveError;
    /// NCCL's names (`NCCL_PROTO`), case-insensitively: LL, LL128, Simple.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "ll" => Ok(Protocol::Ll),
            "ll128" => Ok(Protocol::Ll128),
            "simple" => Ok(Protocol::Simple),
            _ => Err(crate::CollectiveError::UnknownProtocol(s.to_string())),
        }
    }
}

/// The class of link a step crosses, as NCCL distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkClass {
    /// NVLink and other scale-up links (ICI, UB, xGMI are treated as NVLink-class [A]).
    NvLink,
    /// The scale-out network (IB / RoCE) and long-haul links.
    Net,
}

/// NCCL hwLat, µs per step, [link][algo: ring=0, tree=1][protocol] (NVIDIA/nccl v2.26.2
/// src/graph/tuning.cc; NCCL ≈ 2.7 had NVLink ring 0.47 / 1.9 / 3.4, systems.md §9.1).
const HW_LAT_US: [[[f64; 3]; 2]; 2] = [
    // NVLink: Ring 0.6 / 1.9 / 3.4; Tree 0.6 / 1.25 / 4.0
    [[0.6, 1.9, 3.4], [0.6, 1.25, 4.0]],
    // NET: Ring 2.7 / 4.0 / 14.0; Tree 5.0 / 8.5 / 14.0
    [[2.7, 4.0, 14.0], [5.0, 8.5, 14.0]],
];

/// NCCL baseLat, µs, [algo: ring=0, tree=1][protocol] (NVIDIA/nccl v2.26.2 src/graph/tuning.cc).
const BASE_LAT_US: [[f64; 3]; 2] = [[6.6, 14.0, 8.4], [6.8, 14.0, 8.4]];

/// Per-step latency in seconds for ring-like (`tree = false`) or tree-like algorithms.
pub fn hw_lat(link: LinkClass, tree: bool, p: Protocol) -> f64 {
    let l = match link {
        LinkClass::NvLink => 0,
        LinkClass::Net => 1,
    };
    HW_LAT_US[l][tree as usize][p.idx()] * 1e-6
}

/// Base latency in seconds.
pub fn base_lat(tree: bool, p: Protocol) -> f64 {
    BASE_LAT_US[tree as usize][p.idx()] * 1e-6
}

/// Base latency of NVLS (NVLink SHARP), Simple protocol only. NCCL's tuning model puts 23 µs
/// (2.18) or 25 µs (2.26) (tuning.cc, NVLS Simple); here fitted by least squares in ln(time)
/// over the single-node H100/H200 NVLS rows below 1 GiB (C001–C003, C006–C008), bandwidth fixed
/// by `ETA_NVLS` and NCCL's NVLS pipeline fill ([`nvls_fill_bytes`]) in force; the refit
/// (`fabricsim::calibration`) gives 27.2 µs.
pub const NVLS_BASE_LAT_S: f64 = 27e-6;

/// NVLS channels NCCL runs (`NCCL_NVLS_NCHANNELS`, default 16: "NVLS should not need more than
/// 16 channels to get peak BW", NVIDIA/nccl src/enqueue.cc).
pub const NVLS_CHANNELS: f64 = 16.0;

/// Stages of NCCL's NVLS all_reduce kernel: scatter warps copy the input into the NVLS buffer,
/// reduce warps reduce through the switch (multimem ld_reduce) and multicast the result, gather
/// warps copy it out (`RunWorkElement<AllReduce, NVLS, SIMPLE>` in NVIDIA/nccl
/// src/collectives/device/all_reduce.h). A chunk passes the three in turn, so the pipeline fills
/// over `stages − 1` rounds of chunks.
pub const NVLS_PIPELINE_STAGES: f64 = 3.0;

/// NCCL's NVLS chunk size for a message of `size` bytes with `ops` chunks in flight per round
/// (NVLS channels × NVLS heads, the ranks of the NVLink domain): 128 KiB, halved to 64 KiB below
/// 64 rounds, to 32 KiB below 8 rounds and to 16 KiB below 2 rounds (src/enqueue.cc,
/// `NCCL_ALGO_NVLS` chunk size, NCCL 2.18–2.2x).
pub fn nvls_chunk_bytes(size: f64, ops: f64) -> f64 {
    let mut c: f64 = 131072.0;
    if size < 64.0 * ops * c && c > 65536.0 {
        c = 65536.0;
    }
    if size < 8.0 * ops * c && c > 32768.0 {
        c = 32768.0;
    }
    if size < 2.0 * ops * c && c > 16384.0 {
        c = 16384.0;
    }
    c
}

/// Bytes whose transfer time NVLS's pipeline fill adds for a message of `size` bytes on a domain
/// of `heads` ranks: (stages − 1) rounds of `NVLS_CHANNELS × heads` chunks, a round never more
/// than the message. Nothing fitted: NCCL's channel count, chunk rule and kernel stages.
pub fn nvls_fill_bytes(size: f64, heads: u32) -> f64 {
    let ops = NVLS_CHANNELS * heads.max(1) as f64;
    (NVLS_PIPELINE_STAGES - 1.0) * (ops * nvls_chunk_bytes(size, ops)).min(size)
}

/// Fraction of NVLink-class bandwidth NCCL's ring/direct data path reaches. Calibrated: median
/// of the H100 large-message ring-class rows (C033 370, C040 360, C041 360, C042 350 GB/s busbw
/// against 450 GB/s) = 0.80.
pub const ETA_SCALE_UP: f64 = 0.80;

/// NVLS: the switch's reduction/multicast rate per GPU port as a fraction of the GPU's NVLink
/// bandwidth. Calibrated: median ratio over the H100 large NVLS rows (C005 478.87, C034 480 GB/s
/// busbw → algbw 273.6, 274.3 GB/s against 450 GB/s), with the NVLS pipeline fill in force
/// (it adds 0.2 % at 8 GiB) = 0.612.
pub const ETA_NVLS: f64 = 0.612;

/// NCCL's own NVLS efficiency per GPU architecture (`nvlsEfficiency[]`: Hopper 0.85, Blackwell
/// 0.74, in NVIDIA/nccl's tuning model, src/graph/tuning.cc of NCCL 2.2x, moved to
/// src/tuning/ in 2.29): NVIDIA's measured NVLS busbw per channel relative to the NVLink
/// bandwidth, i.e. Blackwell's NVLink SHARP reduces at a smaller share of its (doubled) NVLink
/// bandwidth than Hopper's. Only the ratio is used: [`eta_nvls`] scales the H100-calibrated
/// [`ETA_NVLS`] by it, so nothing is fitted on Blackwell rows.
pub const NCCL_NVLS_EFFICIENCY_HOPPER: f64 = 0.85;
pub const NCCL_NVLS_EFFICIENCY_BLACKWELL: f64 = 0.74;

/// NVLS reduction rate per GPU port as a fraction of its NVLink bandwidth, for the catalogue
/// accelerator `accel`: [`ETA_NVLS`] (H100 rows) on Hopper, × 0.74 / 0.85 (NCCL's ratio) on
/// Blackwell (B200, B300, GB200, GB300) = 0.533. Checked, not fitted, against the Blackwell NVLS
/// rows: C036 8 × B300 483 GB/s algbw (0.537 of 900), C037 8 × B200 474 (0.527).
pub fn eta_nvls(accel: &str) -> f64 {
    // Read through `units::calibration` so `validate --cross-validate` can refit ETA_NVLS.
    let eta = units::calibration::get("ETA_NVLS", ETA_NVLS);
    if matches!(accel, "b200" | "b300" | "gb200" | "gb300") {
        eta * NCCL_NVLS_EFFICIENCY_BLACKWELL / NCCL_NVLS_EFFICIENCY_HOPPER
    } else {
        eta
    }
}

/// NCCL's cap on the LL protocol's bus bandwidth inside one node (`llMaxBws[arch][N1]` in
/// NVIDIA/nccl src/graph/tuning.cc, GB/s): Volta 39.0, Ampere 87.7, Hopper 141.0 (87.7 up to
/// NCCL 2.20), Blackwell 2 × 141.0. LL moves 8-byte lines (4 bytes of data + a flag) with one
/// thread block per channel, and this is the most NVIDIA's tuning model lets it reach: ring
/// busBw = min(llMaxBw, nChannels × bw / 4). Applied to ring and tree LL inside one NVLink
/// domain (across nodes NCCL indexes the table by CPU vendor, which fabricsim does not model).
/// Bytes/s of bus bandwidth; `None` for accelerators NCCL's table does not cover.
pub fn ll_max_busbw(accel: &str) -> Option<f64> {
    let gbps = match accel {
        "v100" => 39.0,
        "a100" | "a800" => 87.7,
        "h100" | "h200" | "h800" | "h20" => 141.0,
        "b200" | "b300" | "gb200" | "gb300" => 2.0 * 141.0,
        _ => return None,
    };
    Some(gbps * 1e9)
}

/// Fraction of a scale-out port's bandwidth NCCL reaches over IB/RoCE. [A] assumption, not
/// calibrated (the measurements file has no multi-node rows): 0.92, the usual ratio of
/// nccl-tests busbw to line rate on 400G NDR (≈ 46 of 50 GB/s).
pub const ETA_NET: f64 = 0.92;

/// Default NCCL channels per ring edge that crosses the scale-out network (several flows per
/// edge, each with its own ECMP hash, as NCCL spreads a ring over channels/QPs) [A].
pub const NET_CHANNELS: u32 = 2;

/// In-network reduction (IB SHARP) rate as a fraction of the port bandwidth [A].
pub const ETA_SHARP: f64 = 0.90;

/// `ETA_SCALE_UP` as the model reads it: the shipped value, or a refit's during
/// `validate --cross-validate` (`units::calibration`).
pub fn eta_scale_up() -> f64 {
    units::calibration::get("ETA_SCALE_UP", ETA_SCALE_UP)
}

/// `NVLS_BASE_LAT_S` as the model reads it (see [`eta_scale_up`]).
pub fn nvls_base_lat_s() -> f64 {
    units::calibration::get("NVLS_BASE_LAT_S", NVLS_BASE_LAT_S)
}

/// Pipeline granule: NCCL moves each step through a staging buffer of `NCCL_BUFFSIZE` (4 MiB by
/// default, per NCCL's documentation), split into `NCCL_STEPS` (8) slots per connection.
pub const PIPELINE_BUFFER_BYTES: f64 = 4.0 * 1024.0 * 1024.0;

/// Slots NCCL keeps in flight on a connection (`NCCL_STEPS` in NCCL's source): the depth of the
/// pipeline that has to fill.
pub const PIPELINE_DEPTH: f64 = 8.0;

/// NCCL's staging term for a plan of `steps` sequential steps whose fluid transfer takes
/// `transfer` seconds while moving `per_rank_bytes` per rank in all: the pipeline of at most
/// `PIPELINE_DEPTH` steps fills once, each step costing its share of the transfer, scaled by how
/// much of a step one buffer is: min(steps − 1, depth) × (transfer / steps) × min(1, buffer /
/// bytes per step). An idealised uniform ring has no such term (see the chunked reference
/// simulation in the tests): this is an empirical model of NCCL's staging, documented in
/// docs/calibration.md, with NCCL's own constants and nothing fitted.
pub fn pipeline_fill(steps: u32, transfer: f64, per_rank_bytes: f64) -> f64 {
    if steps <= 1 || per_rank_bytes <= 0.0 {
        return 0.0;
    }
    let k = steps as f64;
    let per_step = per_rank_bytes / k;
    (k - 1.0).min(PIPELINE_DEPTH) * (transfer / k) * (PIPELINE_BUFFER_BYTES / per_step).min(1.0)
}

/// One-rank collectives touch no link: NCCL copies the buffer on the device (out-of-place) and
/// returns. Modelled as the smallest NCCL base latency (Ring/LL, 6.6 µs, taken as the floor of
/// any launched NCCL call) plus a device-to-device copy that reads and writes every byte once
/// at the accelerator's HBM bandwidth [A]. Size 0 costs nothing (NCCL returns without
/// launching).
pub fn one_rank_time(size_bytes: f64, hbm_bytes_per_s: f64) -> f64 {
    if size_bytes <= 0.0 {
        return 0.0;
    }
    base_lat(false, Protocol::Ll) + 2.0 * size_bytes / hbm_bytes_per_s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_by_nccl_name_in_any_case() {
        for (s, p) in [
            ("LL", Protocol::Ll),
            ("ll", Protocol::Ll),
            ("LL128", Protocol::Ll128),
            ("ll128", Protocol::Ll128),
            ("Simple", Protocol::Simple),
            ("SIMPLE", Protocol::Simple),
        ] {
            assert_eq!(s.parse::<Protocol>(), Ok(p), "{s}");
            assert_eq!(p.name().parse::<Protocol>(), Ok(p));
        }
        let e = "LL64".parse::<Protocol>().unwrap_err().to_string();
        assert!(e.contains("`LL64`") && e.contains("LL128"), "{e}");
    }

    /// NCCL's NVLS efficiencies (tuning model) and what they give on Blackwell.
    #[test]
    fn nvls_efficiency_by_architecture() {
        assert_eq!(NCCL_NVLS_EFFICIENCY_HOPPER, 0.85);
        assert_eq!(NCCL_NVLS_EFFICIENCY_BLACKWELL, 0.74);
        assert_eq!(eta_nvls("h100"), ETA_NVLS);
        for a in ["b200", "b300", "gb200", "gb300"] {
            assert!((eta_nvls(a) - 0.5328).abs() < 1e-3, "{a}: {}", eta_nvls(a));
        }
    }

    #[test]
    fn one_rank_time_is_floor_plus_copy() {
        assert_eq!(one_rank_time(0.0, 3.35e12), 0.0);
        let t = one_rank_time(3.35e9, 3.35e12);
        assert!((t - (6.6e-6 + 2e-3)).abs() < 1e-12, "{t}");
    }
}
