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
//!   of them hardware; all counted: a switch that is down is down).
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

/// HBM uncorrectable-error rate per accelerator-hour for an accelerator catalogue id.
pub fn hbm_per_hour(accel_model: &str) -> f64 {
    if accel_model == "a100" {
        1.0 / DELTA_HBM_MTBE_A100_H
    } else {
        1.0 / DELTA_HBM_MTBE_H100_H
    }
}

/// Every class's rate for a fabric whose accelerator is `accel_model`.
pub fn failure_rates(accel_model: &str) -> Vec<FailureRate> {
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
        FailureRate {
            class: FailureClass::Switch,
            per: PerComponent::Switch,
            per_hour: SWITCH_PER_HOUR,
            node_derived: false,
            source: "data-centre switches: ~2 % fail within 3 months (operations.md)",
        },
        FailureRate {
            class: FailureClass::CableOptic,
            per: PerComponent::Link,
            per_hour: SHARE_LINK * node / RSC_GPUS_PER_NODE,
            node_derived: true,
            source: "Meta RSC node rate × 21.9 % InfiniBand recoverable + other (Crusoe H200) / 8 links per node",
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

/// How long the surviving ranks wait before a failed peer is noticed: PyTorch's default
/// ProcessGroupNCCL timeout, 10 min (`torch.distributed.init_process_group`, "default value is
/// 10 minutes for NCCL"). Crashes that kill the process quickly still leave the peers blocked
/// in a collective until the watchdog fires.
pub const DETECT_S: f64 = 600.0;

/// Re-queue, process start, communicator initialisation and warm-up of a restarted job: the
/// MTTR of the Young–Daly worked example (600 s; changlan.org/posts/optimal-checkpointing,
/// operations.csv O052). Low confidence: no large-job restart time is public in the reference set.
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
        let r = failure_rates("h100");
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
}
