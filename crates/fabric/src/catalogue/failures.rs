//! Failure catalogue: how often each class of component stops (or slows) a training job, per
//! component-hour, with the source and the derivation of every rate; and the constants of
//! checkpointing and restart (`fabricsim goodput`).
//!
//! Llama 3 405B's 54-day campaign (16,384 H100, 466 interruptions: 419 unexpected, 47 planned;
//! more than 90 % effective training time; Llama 3 paper, arXiv 2407.21783, Table 5) is the *check*
//! of this catalogue, never its fit: no rate below is taken from it.
//!
//! ## Derivations
//!
//! - **Node hardware rate** (Meta RSC, Kokolis et al., "Revisiting Reliability in Large-Scale
//!   Machine Learning Research Clusters", HPCA 2025, arXiv 2410.21680): 6.50 (RSC-1, 16k A100)
//!   and 2.34 (RSC-2, 8k A100) node failures per 1,000 node-days over 11 months; a node is an
//!   8-GPU DGX A100 with 8 compute NICs. Per node-hour: 6.50 / 1000 / 24 = 2.708×10⁻⁴ and
//!   2.34 / 1000 / 24 = 9.75×10⁻⁵. Central value: the geometric mean of the two clusters,
//!   √(6.50 × 2.34) = 3.90 per 1,000 node-days = 1.625×10⁻⁴ per node-hour; the two clusters are
//!   the low and high ends of the range the Monte Carlo draws from ([`RATE_RANGE_NODE`]).
//! - **Split of the node rate** by the breakdown of ~205 failures of an H200 cluster over four
//!   months (Crusoe, GTC 2025, as tabulated by G. Lockwood, "component reliability"): GPU
//!   recoverable faults 19.5 % + GPU host replacement 41.5 % = 61.0 % GPU-side; InfiniBand
//!   hardware 12.2 % (→ NIC); InfiniBand recoverable 4.9 % + other 17.0 % = 21.9 % (→ links:
//!   cable / optic); other host issues (CPU, memory, …) 4.9 % (→ host). Total 99.5 %.
//! - **HBM** (NCSA Delta, 448 A100 + 608 H100 over 2.5 years, arXiv 2503.11901): per-GPU
//!   uncorrectable-memory mean time between errors 88,768 h on H100 and 283,271 h on A100. RSC's
//!   GPU-side share was measured on A100, so it contains A100 HBM errors: the GPU class (die,
//!   SRAM, GSP, NVLink, thermal) is the GPU-side share minus Delta's A100 HBM rate, and HBM is a
//!   class of its own at the accelerator generation's Delta rate (H100 for HBM3/HBM3e parts and
//!   every later generation: no later measurement is public; A100 for HBM2e).
//! - **GPU**: 0.610 × 1.625×10⁻⁴ / 8 − 1/283,271 = 1.239×10⁻⁵ − 3.53×10⁻⁶ = 8.86×10⁻⁶ per
//!   GPU-hour (range from RSC-2 to RSC-1: 3.90×10⁻⁶ … 1.71×10⁻⁵). Cross-check: BLOOM-176B, 1–2
//!   GPU failures a week on ~400 A100 (≈ 2.2×10⁻⁵ per GPU-hour, all causes incl. HBM; BigScience
//!   BLOOM training chronicles) sits at the high end of GPU + A100 HBM (2.06×10⁻⁵).
//! - **NIC**: 0.122 × node rate / 8 NICs per node = 2.48×10⁻⁶ per NIC-hour.
//! - **Cable / optic** (the NIC-side link of each scale-out port): 0.219 × node rate / 8 links
//!   per node = 4.45×10⁻⁶ per link-hour. The same per-link rate is used for switch-to-switch
//!   links (an assumption: RSC counts only node-attributed failures).
//! - **Host** (CPU, DRAM, PSU, SSD, chassis): 0.049 × node rate = 7.96×10⁻⁶ per host-hour.
//! - **Switch**: ~2 % of data-centre switches fail within 3 months (Meng et al./Gill et al. as
//!   summarised in `operations.md`): 0.02 / (91.25 × 24 h) = 9.1×10⁻⁶ per switch-hour (32 %
//!   of them hardware; all counted: a switch that is down is down). Used on InfiniBand fabrics
//!   (no InfiniBand switch rate is public in the reference set).
//! - **Ethernet (RoCE) fabrics** take their network rates from an Ethernet AI-training source
//!   instead of RSC's InfiniBand-dominated period (Alibaba HPN, Qian et al., SIGCOMM 2024,
//!   DOI 10.1145/3651890.3672265, §2.3 and Figure 5: in Alibaba's operating LLM-training
//!   clusters "0.057% of NIC-ToR links fail each month, and about 0.051% of ToR switches
//!   encounter critical errors and crashes"). Per hour, with a month of 730.5 h:
//!   **cable / optic** 5.7×10⁻⁴ / 730.5 = 7.80×10⁻⁷ per link-hour (the NIC-side link; the same
//!   per-link rate for switch-to-switch links, an assumption as on InfiniBand) and **switch**
//!   5.1×10⁻⁴ / 730.5 = 6.98×10⁻⁷ per switch-hour (measured on ToRs; used for every tier, an
//!   assumption: upper tiers are routed around anyway). Both fixed (no RSC spread).
//!   Cross-check in the same paragraph: "a single LLM training job would encounter 1-2 crashes
//!   each month" from these — a 3K-GPU job (Figure 6: jobs use < 3K GPUs) has ~3,000 NIC-ToR
//!   links → 1.7 a month. The **NIC** class keeps the RSC-derived rate on Ethernet (no
//!   Ethernet NIC rate is public in the reference set; the share it comes from is Crusoe's
//!   "InfiniBand hardware issues", so on RoCE it is an upper bound).
//!   A fabric is InfiniBand when a scale-out switch is a Quantum chip ([`ScaleOut::of_switch_chip`]),
//!   Ethernet when it has scale-out switches and none is; a fabric with no scale-out switch
//!   modelled (one node, one rack) keeps the InfiniBand rates (its NICs' technology is unknown).
//! - **Software** (framework bugs, NCCL hangs, dependencies): **no source in the reference set
//!   other than Llama 3 gives a rate** — RSC's node rates are hardware only and Crusoe lists
//!   hardware only. Assumption (low confidence): 15 % of the node hardware rate per host
//!   (range 5–30 %), i.e. 2.44×10⁻⁵ per host-hour. Flagged in every report.
//!
//! Which failures stop the job and which only slow it is decided by the caller from the fabric
//! (dual-plane / dual-ToR NICs, upper-tier switches routed around by ECMP, OCS), see
//! `fabricsim::goodput`.

/// Component classes a failure is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureClass {
    /// Accelerator die: SRAM, GSP / system processor, NVLink, thermal interface, PCIe fall-off.
    Gpu,
    /// Accelerator memory (HBM) uncorrectable errors.
    Hbm,
    /// Scale-out NIC card.
    Nic,
    /// Host: CPU, DRAM, PSU, SSD, chassis, IO board.
    Host,
    /// Scale-out switch (leaf / ToR and above).
    Switch,
    /// Cable or optical transceiver of a scale-out link.
    CableOptic,
    /// Software: framework bugs, collective-library hangs, dependencies.
    Software,
}

impl FailureClass {
    pub const ALL: [FailureClass; 7] = [
        FailureClass::Gpu,
        FailureClass::Hbm,
        FailureClass::Nic,
        FailureClass::Host,
        FailureClass::Switch,
        FailureClass::CableOptic,
        FailureClass::Software,
    ];

    /// Name in reports and JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            FailureClass::Gpu => "gpu",
            FailureClass::Hbm => "hbm",
            FailureClass::Nic => "nic",
            FailureClass::Host => "host",
            FailureClass::Switch => "switch",
            FailureClass::CableOptic => "cable_optic",
            FailureClass::Software => "software",
        }
    }

    /// Whether a stop of this class needs a replacement node (hardware) before the restart.
    pub fn needs_replacement(self) -> bool {
        !matches!(self, FailureClass::Software)
    }
}

/// Scale-out network technology of a fabric: decides which network failure sources apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleOut {
    /// InfiniBand (NVIDIA Quantum switches): RSC / Crusoe-derived link rates.
    InfiniBand,
    /// Ethernet / RoCE (and everything that is not InfiniBand): Alibaba HPN link and ToR rates.
    Ethernet,
}

impl ScaleOut {
    /// The technology a scale-out switch chip (catalogue id) belongs to: NVIDIA Quantum
    /// (`quantum*`) is InfiniBand, every other scale-out chip in the catalogue is Ethernet.
    pub fn of_switch_chip(chip_id: &str) -> ScaleOut {
        if chip_id.starts_with("quantum") {
            ScaleOut::InfiniBand
        } else {
            ScaleOut::Ethernet
        }
    }

    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ScaleOut::InfiniBand => "infiniband",
            ScaleOut::Ethernet => "ethernet",
        }
    }
}

/// The component a rate is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerComponent {
    Accelerator,
    Host,
    Nic,
    /// One scale-out link (cable with its optics, if any).
    Link,
    Switch,
}

/// A failure rate of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailureRate {
    pub class: FailureClass,
    pub per: PerComponent,
    /// Central rate, failures per component-hour.
    pub per_hour: f64,
    /// Whether the rate scales with the node hardware rate (RSC) and so draws its spread from
    /// [`RATE_RANGE_NODE`]; otherwise it is fixed.
    pub node_derived: bool,
    pub source: &'static str,
}

/// RSC-1 node failures per node-hour: 6.50 per 1,000 node-days (Kokolis et al., HPCA 2025).
pub const RSC1_PER_NODE_HOUR: f64 = 6.50 / 1000.0 / 24.0;
/// RSC-2 node failures per node-hour: 2.34 per 1,000 node-days (Kokolis et al., HPCA 2025).
pub const RSC2_PER_NODE_HOUR: f64 = 2.34 / 1000.0 / 24.0;

/// Central node hardware rate: the geometric mean of RSC-1 and RSC-2 (3.90 per 1,000
/// node-days).
pub fn node_rate_per_hour() -> f64 {
    (RSC1_PER_NODE_HOUR * RSC2_PER_NODE_HOUR).sqrt()
}

/// Range of the node hardware rate as multipliers of the central value: RSC-2 … RSC-1
/// (0.60 … 1.67). A Monte Carlo trial draws one multiplier log-uniformly in it for every
/// node-derived class (they come from the same measurement).
pub fn rate_range_node() -> (f64, f64) {
    let c = node_rate_per_hour();
    (RSC2_PER_NODE_HOUR / c, RSC1_PER_NODE_HOUR / c)
}

/// Shorthand name for the range (documentation links).
pub const RATE_RANGE_NODE: &str = "RSC-2 … RSC-1 node failure rates (2.34 … 6.50 per 1,000 node-days)";

/// GPUs (and compute NICs, NIC-side links) per node where RSC measured the node rate (DGX A100).
pub const RSC_GPUS_PER_NODE: f64 = 8.0;

/// Shares of the Crusoe H200 cluster's ~205 failures over 4 months (GTC 2025).
pub const SHARE_GPU_SIDE: f64 = 0.195 + 0.415;
pub const SHARE_NIC: f64 = 0.122;
pub const SHARE_LINK: f64 = 0.049 + 0.170;
pub const SHARE_HOST: f64 = 0.049;
/// Software as a share of the node hardware rate: an assumption (no non-Llama source).
pub const SHARE_SOFTWARE: f64 = 0.15;

/// NCSA Delta per-GPU uncorrectable-memory MTBE, hours (arXiv 2503.11901).
pub const DELTA_HBM_MTBE_H100_H: f64 = 88_768.0;
pub const DELTA_HBM_MTBE_A100_H: f64 = 283_271.0;

/// Data-centre switch failures per switch-hour: ~2 % within 3 months.
pub const SWITCH_PER_HOUR: f64 = 0.02 / (91.25 * 24.0);

/// Hours in a month (365.25 × 24 / 12), to turn monthly failure fractions into hourly rates.
pub const HOURS_PER_MONTH: f64 = 365.25 * 24.0 / 12.0;

/// Alibaba HPN (SIGCOMM 2024, §2.3, Figure 5): "0.057% of NIC-ToR links fail each month" in
/// Alibaba's operating (RoCE) LLM-training clusters; per link-hour.
pub const HPN_NIC_TOR_LINK_PER_HOUR: f64 = 0.057e-2 / HOURS_PER_MONTH;

/// Alibaba HPN (SIGCOMM 2024, §2.3): "about 0.051% of ToR switches encounter critical errors and
/// crashes" each month; per switch-hour.
pub const HPN_TOR_PER_HOUR: f64 = 0.051e-2 / HOURS_PER_MONTH;

/// HBM uncorrectable-error rate per accelerator-hour for an accelerator catalogue id.
pub fn hbm_per_hour(accel_model: &str) -> f64 {
    if accel_model == "a100" {
        1.0 / DELTA_HBM_MTBE_A100_H
    } else {
        1.0 / DELTA_HBM_MTBE_H100_H
    }
}

/// Every class's rate for a fabric whose accelerator is `accel_model` and whose scale-out
/// network is `scale_out`.
pub fn failure_rates(accel_model: &str, scale_out: ScaleOut) -> Vec<FailureRate> {
    let node = node_rate_per_hour();
    let hbm_source = if accel_model == "a100" {
        "NCSA Delta per-GPU uncorrectable-memory MTBE 283,271 h on A100 (arXiv 2503.11901)"
    } else {
        "NCSA Delta per-GPU uncorrectable-memory MTBE 88,768 h on H100 (arXiv 2503.11901); later HBM generations taken at H100's rate"
    };
    vec![
        FailureRate {
            class: FailureClass::Gpu,
            per: PerComponent::Accelerator,
            per_hour: SHARE_GPU_SIDE * node / RSC_GPUS_PER_NODE - 1.0 / DELTA_HBM_MTBE_A100_H,
            node_derived: true,
            source: "Meta RSC node rate (geo. mean of 6.50 and 2.34 per 1,000 node-days, Kokolis et al. HPCA 2025) × 61 % GPU-side (Crusoe H200, GTC 2025) / 8 GPUs, minus Delta's A100 HBM rate",
        },
        FailureRate {
            class: FailureClass::Hbm,
            per: PerComponent::Accelerator,
            per_hour: hbm_per_hour(accel_model),
            node_derived: false,
            source: hbm_source,
        },
        FailureRate {
            class: FailureClass::Nic,
            per: PerComponent::Nic,
            per_hour: SHARE_NIC * node / RSC_GPUS_PER_NODE,
            node_derived: true,
            source: "Meta RSC node rate × 12.2 % InfiniBand hardware (Crusoe H200) / 8 NICs per node",
        },
        FailureRate {
            class: FailureClass::Host,
            per: PerComponent::Host,
            per_hour: SHARE_HOST * node,
            node_derived: true,
            source: "Meta RSC node rate × 4.9 % other host issues (Crusoe H200)",
        },
        match scale_out {
            ScaleOut::InfiniBand => FailureRate {
                class: FailureClass::Switch,
                per: PerComponent::Switch,
                per_hour: SWITCH_PER_HOUR,
                node_derived: false,
                source: "data-centre switches: ~2 % fail within 3 months (operations.md)",
            },
            ScaleOut::Ethernet => FailureRate {
                class: FailureClass::Switch,
                per: PerComponent::Switch,
                per_hour: HPN_TOR_PER_HOUR,
                node_derived: false,
                source: "Alibaba HPN (SIGCOMM 2024, §2.3): 0.051 % of ToR switches crash each month (RoCE LLM-training clusters)",
            },
        },
        match scale_out {
            ScaleOut::InfiniBand => FailureRate {
                class: FailureClass::CableOptic,
                per: PerComponent::Link,
                per_hour: SHARE_LINK * node / RSC_GPUS_PER_NODE,
                node_derived: true,
                source: "Meta RSC node rate × 21.9 % InfiniBand recoverable + other (Crusoe H200) / 8 links per node",
            },
            ScaleOut::Ethernet => FailureRate {
                class: FailureClass::CableOptic,
                per: PerComponent::Link,
                per_hour: HPN_NIC_TOR_LINK_PER_HOUR,
                node_derived: false,
                source: "Alibaba HPN (SIGCOMM 2024, §2.3): 0.057 % of NIC-ToR links fail each month (RoCE LLM-training clusters)",
            },
        },
        FailureRate {
            class: FailureClass::Software,
            per: PerComponent::Host,
            per_hour: SHARE_SOFTWARE * node,
            node_derived: true,
            source: "ASSUMPTION (no source other than Llama 3): 15 % of the RSC node hardware rate per host",
        },
    ]
}

/// Detection time added on top of [`RESTART_S`] after an unexpected stop: 0 s by default,
/// because the one published at-scale recovery figure counts detection in (see [`RESTART_S`]).
/// A hang that only PyTorch's ProcessGroupNCCL watchdog catches waits its timeout (default 10
/// min, `torch.distributed.init_process_group`: "default value is 10 minutes for NCCL");
/// `--detect-s 600` models a stack that relies on it (this catalogue's default before
/// 2026-12).
pub const DETECT_S: f64 = 0.0;

/// Whole recovery of a synchronous job after a stop — detection, re-queue, process start,
/// communicator initialisation, warm-up — 600 s: Meta's FT-HSDP paper (Salpekar et al.,
/// "Training LLMs with Fault Tolerant HSDP on 100,000 GPUs", arXiv 2602.00277, abstract):
/// "Compared with fully synchronous training at O(100K) GPUs, FT-HSDP can reduce the stall time
/// due to failure recovery from 10 minutes to 3 minutes". A later, larger Meta deployment than
/// Llama 3's campaign, whose interruption counts and times are not used. The same 600 s is the
/// MTTR of the Young–Daly worked example (changlan.org, operations.csv O052). The checkpoint
/// read is added on top (it is modelled from the checkpoint size). No split between detection
/// and restart is published, so a planned restart (no detection) takes the same 600 s, an upper
/// bound; a job smaller than O(100K) GPUs is assumed to restart no faster (conservative).
pub const RESTART_S: f64 = 600.0;

/// A failed node returns to the spare pool after this long (hardware swap by the operator):
/// ASSUMPTION, 24 h (no figure in the reference set). Only matters when the job has no spare
/// node left (it waits for one).
pub const NODE_REPAIR_S: f64 = 24.0 * 3600.0;

/// OCS reconfiguration around a failed TPU cube: ~10 s (operations.md, TPU v4 OCS). Replaces
/// the wait for a spare node on OCS fabrics.
pub const OCS_RECONFIG_S: f64 = 10.0;

/// Storage bandwidth for checkpoints: Meta's Tectonic for the Llama 3 cluster sustains 2 TB/s
/// (7 TB/s peak) over 24,576 GPUs (Llama 3 paper §3.3.1 "Storage"): per accelerator of the
/// cluster, 2e12 / 24,576 = 81.4 MB/s. A storage system, not a failure figure (the campaign's
/// interruption counts are not used).
pub const STORAGE_BYTES_PER_S_PER_ACCEL: f64 = 2.0e12 / 24_576.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_rates_per_hour() {
        assert!((RSC1_PER_NODE_HOUR - 2.708e-4).abs() < 1e-7);
        assert!((RSC2_PER_NODE_HOUR - 9.75e-5).abs() < 1e-8);
        assert!((node_rate_per_hour() * 24_000.0 - 3.90).abs() < 0.01);
        let (lo, hi) = rate_range_node();
        assert!(lo < 1.0 && hi > 1.0);
    }

    #[test]
    fn every_class_has_a_positive_rate_and_a_source() {
        let r = failure_rates("h100", ScaleOut::InfiniBand);
        assert_eq!(r.len(), FailureClass::ALL.len());
        for (x, c) in r.iter().zip(FailureClass::ALL) {
            assert_eq!(x.class, c);
            assert!(x.per_hour > 0.0 && x.per_hour < 1e-3, "{:?}", x);
            assert!(!x.source.is_empty());
        }
        // GPU 8.86e-6, HBM 1.127e-5 per GPU-hour on H100.
        assert!((r[0].per_hour - 8.86e-6).abs() < 0.02e-6, "{}", r[0].per_hour);
        assert!((r[1].per_hour - 1.1265e-5).abs() < 0.001e-5);
        assert!((SWITCH_PER_HOUR - 9.1e-6).abs() < 0.05e-6);
        // A100 HBM at Delta's A100 rate.
        assert!(hbm_per_hour("a100") < hbm_per_hour("h100") / 3.0);
    }

    #[test]
    fn ethernet_fabrics_take_hpn_network_rates_infiniband_keeps_rsc() {
        let rate = |t: ScaleOut, c: FailureClass| {
            failure_rates("h100", t)
                .into_iter()
                .find(|r| r.class == c)
                .map(|r| r.per_hour)
                .unwrap_or(0.0)
        };
        // HPN §2.3: 0.057 % of NIC-ToR links and 0.051 % of ToRs a month.
        assert!((HPN_NIC_TOR_LINK_PER_HOUR - 7.80e-7).abs() < 0.01e-7);
        assert!((HPN_TOR_PER_HOUR - 6.98e-7).abs() < 0.01e-7);
        assert_eq!(
            rate(ScaleOut::Ethernet, FailureClass::CableOptic),
            HPN_NIC_TOR_LINK_PER_HOUR
        );
        assert_eq!(rate(ScaleOut::Ethernet, FailureClass::Switch), HPN_TOR_PER_HOUR);
        // InfiniBand keeps the RSC × Crusoe link rate and the data-centre switch rate.
        assert!((rate(ScaleOut::InfiniBand, FailureClass::CableOptic) - 4.45e-6).abs() < 0.01e-6);
        assert_eq!(rate(ScaleOut::InfiniBand, FailureClass::Switch), SWITCH_PER_HOUR);
        // Every other class is the same on both.
        for c in [
            FailureClass::Gpu,
            FailureClass::Hbm,
            FailureClass::Nic,
            FailureClass::Host,
            FailureClass::Software,
        ] {
            assert_eq!(rate(ScaleOut::Ethernet, c), rate(ScaleOut::InfiniBand, c), "{c:?}");
        }
        // HPN's own cross-check: a 3K-GPU job (one NIC-ToR link per GPU) sees 1–2 link crashes
        // a month.
        let per_month = 3000.0 * HPN_NIC_TOR_LINK_PER_HOUR * HOURS_PER_MONTH;
        assert!((1.0..=2.0).contains(&per_month), "{per_month}");
        assert_eq!(ScaleOut::of_switch_chip("quantum2-qm9700"), ScaleOut::InfiniBand);
        assert_eq!(ScaleOut::of_switch_chip("minipack2"), ScaleOut::Ethernet);
    }

    #[test]
    fn restart_is_ft_hsdp_ten_minute_synchronous_stall_detection_included() {
        assert_eq!(DETECT_S + RESTART_S, 600.0);
    }
}
