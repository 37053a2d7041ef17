//! Power by phase: what a device draws while it computes, communicates or waits, and the
//! published figures the energy model is checked against. Confidence tags are the catalogue's
//! (see the parent module); sources are `../shared/reference/operations.md` ("Power") and its
//! rows in `measurements/operations.csv` (O053–O065).
//!
//! The phase figures are fractions of the accelerator's TDP ([`super::Accelerator::tdp`]).
//! Every other line of the bill of materials (hosts, scale-up switches, NICs, scale-out
//! switches, optics, OCS) is taken at its nameplate in every phase: an upper bound — links stay
//! up and switches draw nearly constant power; host fans, memory and power supplies are sized
//! for the system's maximum `[A]`.

/// `[D]` Accelerator power while it computes (forward, backward, optimizer), as a fraction of
/// TDP: the middle of the 0.85–1.0 × TDP of operations.md "Power" (O057: Microsoft, OpenAI and
/// NVIDIA's production training on DGX H100, arXiv 2508.14318 — compute phase near TDP).
pub const ACCEL_COMPUTE_TDP_FRACTION: f64 = 0.925;

/// `[D]` Accelerator power while it communicates (exposed collectives, pipeline sends), waits
/// (pipeline bubble) or checkpoints, as a fraction of TDP: the middle of operations.md's
/// 0.15–0.3 × TDP (O057: communication phase near idle). OLMo measured 15–85 % of the
/// hardware's maximum over a run (O059, arXiv 2503.05804), inside both ranges.
pub const ACCEL_LOW_TDP_FRACTION: f64 = 0.225;

/// `[A]` The load `topo` reports a cluster at by default: accelerators averaging 0.8 × TDP,
/// inside the 75–85 % of nameplate the prior study finds plausible for ~3 M kWh/day per 100k
/// H100-class cards (O065).
pub const TOPO_LOAD_DEFAULT: f64 = 0.8;

/// `[P]` NVIDIA GB300 NVL72 rack energy storage: "up to 30 %" less peak grid demand (O058,
/// developer.nvidia.com "How new GB300 NVL72 features provide steady power for AI").
pub const GB300_STORAGE_PEAK_REDUCTION_FRACTION: f64 = 0.30;

/// `[P]` NVIDIA DGX SuperPOD with GB200 NVL72: "Each SU requires a TDP of 1.2 MW" (8 racks,
/// 576 GPUs; systems.md §2.1, GB200 RA).
pub const GB200_SU_TDP_W: f64 = 1.2e6;

/// `[D]` Meta's ~83,000-GB200 site: 150 MW of site power → ~1.81 kW per GPU, facility, at site
/// capacity (O053, arXiv 2605.24461 abstract; the division is the row's).
pub const META_GB200_FACILITY_W_PER_GPU: f64 = 150e6 / 83_000.0;

/// `[S]` (low confidence) ~3 million kWh per day for 100,000 cards, ~125 MW average (O065: seed
/// claim; the prior study finds it plausible for H100-class at 75–85 % of nameplate facility
/// draw).
pub const SEED_KWH_PER_DAY_PER_100K_CARDS: f64 = 3.0e6;

/// Seconds in a day, for kWh per day.
pub const SECONDS_PER_DAY: f64 = 86_400.0;
