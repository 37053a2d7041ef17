//! The compute model: time of an operation = max(FLOPs / (peak × efficiency), bytes / HBM
//! bandwidth), with efficiency from a per-accelerator table by op shape.
//!
//! The efficiency table is a small set of smooth rules fitted over the whole of a kernel
//! measurement (the H100 one in `data/h100/`, or any table in the same format produced by
//! `tools/gpu-calibration/measure_kernels.py`), not a row lookup:
//!
//! * GEMM (per precision, per `nn.Linear` pass):
//!   `eff(M, N, K) = e_max(pass) / ((1 + m0/M)(1 + n0/N)(1 + k0/K)(1 + K/long_k))`
//! * attention (per backend, forward and backward):
//!   `eff = e_max / ((1 + s0/seq_kv)(1 + u0/(batch·heads·seq_q))) · ((d_qk + d_v)/256)^γ`
//! * memory-bound ops: a fraction of the HBM bandwidth per [`MemoryOp`].
//!
//! Parameters are fitted by Levenberg–Marquardt least squares on the log of the kernel time;
//! rows whose time is at the host dispatch floor count as upper bounds (one-sided residual).
//! See `docs/compute-model.md` for the rule, the fit quality and the calibration format.

use crate::flops::{MemoryOp, OpDesc, OpKind, Pass};
use crate::plan::Precision;
use crate::WorkloadError;

/// The H100 GEMM measurements the default table is fitted on (format: docs/compute-model.md).
pub const H100_GEMM_CSV: &str = include_str!("../data/h100/gemm.csv");
/// The H100 attention measurements (`F.scaled_dot_product_attention`, causal, BF16).
pub const H100_ATTENTION_CSV: &str = include_str!("../data/h100/attention.csv");
/// The H100 memory-bound op measurements.
pub const H100_MEMORY_CSV: &str = include_str!("../data/h100/memory.csv");
/// What the H100 table was measured on (GPU, clocks, library versions, date).
pub const H100_DEVICE_JSON: &str = include_str!("../data/h100/device.json");

/// Bytes per logit that [`MemoryOp::CrossEntropy`]'s `OpDesc::bytes` is counted with: the
/// minimal traffic of a fused kernel (read the BF16 logit, write its BF16 gradient). The fitted
/// fraction then carries the cost of the real (fp32, unfused) implementation.
pub const CROSS_ENTROPY_BYTES_PER_LOGIT: f64 = 4.0;

/// A GEMM row whose time is below this factor × the fastest time of its dtype in the table is at
/// the host's per-call dispatch floor: its time is an upper bound on the kernel time.
pub const HOST_FLOOR_BAND: f64 = 1.1;

/// How and when the default parameters were fitted.
pub const H100_FIT: &str = "Levenberg-Marquardt least squares on log(time) over all rows (host-floor rows \
                            one-sided), EfficiencyTable::from_csv on data/h100, fitted 2026-11-29";

/// Fitted GEMM efficiency for one precision:
/// `eff(M, N, K, pass) = e_max[pass] / ((1 + m0/M)(1 + n0/N)(1 + k0/K)(1 + K/long_k))`.
///
/// `m0`, `n0`, `k0` are the sizes at which a dimension alone halves the efficiency (tile
/// occupancy and pipeline fill); `long_k` is a long-reduction penalty (measured for FP8, where
/// efficiency falls for K ≳ 30k; infinite when the fit finds none).
#[derive(Debug, Clone, PartialEq)]
pub struct GemmRule {
    /// Asymptotic efficiency for `[fwd, dgrad, wgrad]`.
    pub e_max: [f64; 3],
    pub m0: f64,
    pub n0: f64,
    pub k0: f64,
    pub long_k: f64,
    /// Rows fitted, and how many of them were host-floor upper bounds.
    pub rows: usize,
    pub censored: usize,
}

impl GemmRule {
    /// Fraction of the precision's peak reached by an M×N×K GEMM in the `pass` layout.
    pub fn efficiency(&self, m: f64, n: f64, k: f64, pass: Pass) -> f64 {
        if !(m > 0.0 && n > 0.0 && k > 0.0) {
            return 0.0;
        }
        self.e_max[pass_index(pass)]
            / ((1.0 + self.m0 / m) * (1.0 + self.n0 / n) * (1.0 + self.k0 / k) * (1.0 + k / self.long_k))
    }
}

/// Fitted attention efficiency for one direction:
/// `eff = e_max / ((1 + s0/seq_kv)(1 + u0/(batch·heads·seq_q))) · ((d_qk + d_v)/256)^gamma`.
///
/// `s0`: sequence length (per-CTA pipeline) at which efficiency halves; `u0`: query rows in flight
/// (batch × heads × seq_q, the parallel work) at which it halves; `gamma`: head-dimension exponent
/// (relative to d_qk = d_v = 128).
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionPassRule {
    pub e_max: f64,
    pub s0: f64,
    pub u0: f64,
    pub gamma: f64,
}

impl AttentionPassRule {
    /// Fraction of the BF16 peak, against the FLOP accounting of [`reference_flops`].
    pub fn efficiency(&self, batch: f64, heads: f64, seq_q: f64, seq_kv: f64, d_qk: f64, d_v: f64) -> f64 {
        if !(batch > 0.0 && heads > 0.0 && seq_q > 0.0 && seq_kv > 0.0 && d_qk + d_v > 0.0) {
            return 0.0;
        }
        let e = self.e_max / ((1.0 + self.s0 / seq_kv) * (1.0 + self.u0 / (batch * heads * seq_q)))
            * ((d_qk + d_v) / 256.0).powf(self.gamma);
        e.min(1.0)
    }
}

/// Attention rule of one SDPA backend.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionRule {
    /// `cudnn` (what Megatron / Transformer Engine use on Hopper), `flash`, ...
    pub backend: String,
    pub fwd: AttentionPassRule,
    pub bwd: AttentionPassRule,
    pub rows: usize,
}

/// Achieved fraction of the HBM bandwidth of memory-bound ops.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryFractions {
    /// RMSNorm / LayerNorm.
    pub norm: f64,
    /// Fused elementwise (add, fused activation).
    pub elementwise: f64,
    pub copy: f64,
    /// Against `CROSS_ENTROPY_BYTES_PER_LOGIT` bytes per logit (fp32 forward + backward).
    pub cross_entropy: f64,
    /// Fused AdamW step on fp32 master weights (28 bytes per parameter).
    pub optimizer: f64,
}

impl MemoryFractions {
    pub fn get(&self, op: MemoryOp) -> f64 {
        match op {
            MemoryOp::Norm => self.norm,
            MemoryOp::Elementwise => self.elementwise,
            MemoryOp::Copy => self.copy,
            MemoryOp::CrossEntropy => self.cross_entropy,
            MemoryOp::Optimizer => self.optimizer,
        }
    }
}

/// Calibrated efficiencies of one accelerator: fitted rules, not a lookup table.
#[derive(Debug, Clone, PartialEq)]
pub struct EfficiencyTable {
    /// What was measured: GPU, clocks, library versions (from device.json, or the from_csv context).
    pub device: String,
    /// Measurement date (`unknown` when not given).
    pub measured: String,
    /// Fit method and date.
    pub fit: String,
    pub bf16: GemmRule,
    /// `None` when the calibration has no FP8 rows (FP8 GEMMs then run at the BF16 rule).
    pub fp8: Option<GemmRule>,
    /// The attention backend the model uses (cuDNN when measured).
    pub attention: AttentionRule,
    /// Alternative backend, for comparison (FlashAttention-2 when cuDNN is primary).
    pub attention_alt: Option<AttentionRule>,
    pub memory: MemoryFractions,
}

impl EfficiencyTable {
    /// The H100 SXM defaults: the rules fitted (by [`EfficiencyTable::from_csv`]) on the measured
    /// table in `data/h100/` (measured 2026-11-23).
    pub fn default_h100() -> EfficiencyTable {
        let (device, measured) = describe_device(H100_DEVICE_JSON).unwrap_or_else(|| {
            (
                "NVIDIA H100 80GB HBM3 (SXM, 132 SMs, 700 W, 1980 MHz)".to_string(),
                "2026-11-23".to_string(),
            )
        });
        EfficiencyTable {
            device,
            measured,
            fit: H100_FIT.to_string(),
            bf16: GemmRule {
                e_max: [0.71412, 0.71134, 0.71426],
                m0: 68.769,
                n0: 22.427,
                k0: 179.997,
                long_k: f64::INFINITY,
                rows: 1066,
                censored: 4,
            },
            fp8: Some(GemmRule {
                e_max: [0.69716, 0.70440, 0.70640],
                m0: 124.118,
                n0: 85.233,
                k0: 446.308,
                long_k: 355_682.0,
                rows: 1066,
                censored: 8,
            }),
            attention: AttentionRule {
                backend: "cudnn".to_string(),
                fwd: AttentionPassRule {
                    e_max: 0.67671,
                    s0: 479.37,
                    u0: 22_684.8,
                    gamma: 0.17687,
                },
                bwd: AttentionPassRule {
                    e_max: 0.60363,
                    s0: 1137.52,
                    u0: 15_214.0,
                    gamma: -0.87488,
                },
                rows: 40,
            },
            attention_alt: Some(AttentionRule {
                backend: "flash".to_string(),
                fwd: AttentionPassRule {
                    e_max: 0.35798,
                    s0: 276.31,
                    u0: 31_819.7,
                    gamma: -0.01956,
                },
                bwd: AttentionPassRule {
                    e_max: 0.34554,
                    s0: 1308.53,
                    u0: 15_828.9,
                    gamma: -0.16701,
                },
                rows: 35,
            }),
            memory: MemoryFractions {
                norm: 0.58139,
                elementwise: 0.88694,
                copy: 0.86065,
                cross_entropy: 0.063246,
                optimizer: 0.77058,
            },
        }
    }

    /// Refit the rules from a calibration in the format of `measure_kernels.py` (gemm.csv, and
    /// optionally attention.csv and memory.csv; see docs/compute-model.md). Parts not given keep
    /// the H100 defaults. `context` names the calibration in error messages and becomes `device`.
    pub fn from_csv(
        gemm_csv: &str,
        attention_csv: Option<&str>,
        memory_csv: Option<&str>,
        context: &str,
    ) -> Result<EfficiencyTable, WorkloadError> {
        let mut table = EfficiencyTable::default_h100();
        table.device = context.to_string();
        table.measured = "unknown".to_string();
        table.fit = format!("Levenberg-Marquardt least squares on log(time) over all rows (host-floor rows one-sided), from_csv({context})");
        let rows = parse_gemm(gemm_csv, context)?;
        let bf16: Vec<&GemmRow> = rows.iter().filter(|r| r.precision == Precision::Bf16).collect();
        let fp8: Vec<&GemmRow> = rows.iter().filter(|r| r.precision == Precision::Fp8).collect();
        table.bf16 = fit_gemm(&bf16).ok_or_else(|| WorkloadError::Invalid {
            context: format!("{context}: gemm.csv"),
            problem: format!(
                "{} usable bf16 rows; at least {MIN_GEMM_ROWS} are needed to fit",
                bf16.len()
            ),
        })?;
        table.fp8 = if fp8.is_empty() {
            None
        } else {
            Some(fit_gemm(&fp8).ok_or_else(|| WorkloadError::Invalid {
                context: format!("{context}: gemm.csv"),
                problem: format!(
                    "{} usable fp8 rows; at least {MIN_GEMM_ROWS} are needed to fit",
                    fp8.len()
                ),
            })?)
        };
        if let Some(text) = attention_csv {
            let (primary, alt) = fit_attention_csv(text, context)?;
            table.attention = primary;
            table.attention_alt = alt;
        }
        if let Some(text) = memory_csv {
            fit_memory_csv(text, context, &mut table.memory)?;
        }
        table.check_fit(context)?;
        Ok(table)
    }

    /// A fitted table must give efficiencies a GPU can reach on ordinary shapes: finite, above
    /// 1e-4 of the peak and at most 1.5 × (measurement noise and boost clocks). A degenerate
    /// fit (rows that do not vary in M, N, K, or absurd fractions) is an error naming the file.
    fn check_fit(&self, context: &str) -> Result<(), WorkloadError> {
        let sane = |e: f64| e.is_finite() && (1e-4..=1.5).contains(&e);
        let mut rules = vec![("bf16", &self.bf16)];
        if let Some(r) = &self.fp8 {
            rules.push(("fp8", r));
        }
        for (name, r) in rules {
            for (m, n, k) in [
                (1024.0, 1024.0, 1024.0),
                (8192.0, 8192.0, 8192.0),
                (16384.0, 4096.0, 16384.0),
            ] {
                for pass in [Pass::Fwd, Pass::Dgrad, Pass::Wgrad] {
                    let e = r.efficiency(m, n, k, pass);
                    if !sane(e) {
                        return Err(WorkloadError::Invalid {
                            context: format!("{context}: gemm.csv"),
                            problem: format!(
                                "the {name} rows fit to an efficiency of {e:.3e} of the peak at M=N=K-scale shapes ({m}×{n}×{k}): the rows must vary in M, N and K and give fractions of the peak between 1e-6 and 1.5 (column frac_of_peak)"
                            ),
                        });
                    }
                }
            }
        }
        for (file, rule) in [
            ("attention.csv", Some(&self.attention)),
            ("attention.csv", self.attention_alt.as_ref()),
        ] {
            let Some(rule) = rule else { continue };
            for (pass, pr) in [("fwd", &rule.fwd), ("bwd", &rule.bwd)] {
                let e = pr.efficiency(1.0, 64.0, 8192.0, 8192.0, 128.0, 128.0);
                if !sane(e) {
                    return Err(WorkloadError::Invalid {
                        context: format!("{context}: {file}"),
                        problem: format!(
                            "the {pass} rows fit to an efficiency of {e:.3e} of the peak at sequence 8192: the rows must vary in sequence length and give fractions of the peak between 1e-6 and 1.5 (column {pass}_frac_of_peak)"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Take the device description and measurement date from a `device.json` of the calibration.
    pub fn set_device_json(&mut self, device_json: &str, context: &str) -> Result<(), WorkloadError> {
        let (device, measured) = describe_device(device_json).ok_or_else(|| WorkloadError::Invalid {
            context: format!("{context}: device.json"),
            problem: "not a JSON object with `gpu` and `date`".to_string(),
        })?;
        self.device = device;
        self.measured = measured;
        Ok(())
    }

    /// The GEMM rule used for `precision` (FP8 falls back to BF16 when the table has none).
    pub fn gemm_rule(&self, precision: Precision) -> &GemmRule {
        match (precision, &self.fp8) {
            (Precision::Fp8, Some(r)) => r,
            _ => &self.bf16,
        }
    }

    /// Relative time error (predicted / measured − 1) of every usable row of a gemm.csv, with
    /// its precision, pass, `model` column and whether it is a host-floor upper bound.
    pub fn gemm_errors(&self, gemm_csv: &str, context: &str) -> Result<Vec<GemmError>, WorkloadError> {
        let rows = parse_gemm(gemm_csv, context)?;
        Ok(rows
            .iter()
            .map(|r| GemmError {
                precision: r.precision,
                pass: r.pass,
                model: r.model.clone(),
                censored: r.censored,
                rel_err: r.frac / self.gemm_rule(r.precision).efficiency(r.m, r.n, r.k, r.pass) - 1.0,
            })
            .collect())
    }

    /// Relative time error of every usable row of an attention.csv for `backend`:
    /// `(backward, predicted / measured − 1)`, using this table's primary attention rule.
    pub fn attention_errors(
        &self,
        attention_csv: &str,
        backend: &str,
        context: &str,
    ) -> Result<Vec<(bool, f64)>, WorkloadError> {
        let rule = if self.attention.backend == backend {
            &self.attention
        } else if let Some(alt) = self.attention_alt.as_ref().filter(|a| a.backend == backend) {
            alt
        } else {
            &self.attention
        };
        let rows = parse_attention(attention_csv, context)?;
        let mut out = Vec::new();
        for r in rows.iter().filter(|r| r.backend == backend) {
            let f = rule.fwd.efficiency(r.batch, r.heads, r.seq, r.seq, r.d_qk, r.d_v);
            let b = rule.bwd.efficiency(r.batch, r.heads, r.seq, r.seq, r.d_qk, r.d_v);
            out.push((false, r.fwd_frac / f - 1.0));
            out.push((true, r.bwd_frac / b - 1.0));
        }
        Ok(out)
    }
}

/// One row's fit error, see [`EfficiencyTable::gemm_errors`].
#[derive(Debug, Clone, PartialEq)]
pub struct GemmError {
    pub precision: Precision,
    pub pass: Pass,
    pub model: String,
    pub censored: bool,
    /// Predicted time / measured time − 1.
    pub rel_err: f64,
}

/// Median, 90th percentile and maximum of absolute relative errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorStats {
    pub n: usize,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

/// Statistics of |errors| (nearest-rank percentiles). Empty input gives zeros.
pub fn error_stats(errors: impl IntoIterator<Item = f64>) -> ErrorStats {
    let mut a: Vec<f64> = errors.into_iter().map(f64::abs).collect();
    a.sort_by(f64::total_cmp);
    if a.is_empty() {
        return ErrorStats {
            n: 0,
            median: 0.0,
            p90: 0.0,
            max: 0.0,
        };
    }
    let pct = |p: f64| a[((p * a.len() as f64).ceil() as usize).clamp(1, a.len()) - 1];
    ErrorStats {
        n: a.len(),
        median: pct(0.5),
        p90: pct(0.9),
        max: a[a.len() - 1],
    }
}

/// Blackwell's sustained tensor-core throughput as a share of its datasheet dense peak, relative
/// to the H100's (whose kernel efficiencies the default table holds): the one fitted parameter
/// of the Blackwell compute model (docs/calibration.md, "NVL72 racks"). Rule: the value that
/// zeroes the median signed error of `validate --training` over the Blackwell rows T053 (GB300),
/// T056, T058, T059 (GB200) of the Megatron-Bridge 25.11 performance summary — 1 parameter on 4
/// rows. Its physical reading: the datasheet peaks (GB200 2.5 / 5 PF dense BF16 / FP8, NVIDIA's
/// NVL72 page ÷ 72) are at boost clock, and a GB200 held at its 1,200 W cap (GB300 1,400 W) runs
/// dense GEMMs below it, more so than an H100 at 700 W; the same-recipe Megatron-Bridge rows
/// show it: Llama-3-8B FP8 runs 2.18× an H100's tokens/s per GPU (T056 31,508 vs NeMo's H100
/// figures) where the peaks differ 2.53×.
pub const BLACKWELL_TENSOR_FRACTION: f64 = 0.82;

/// The A100's achievable tensor-core share of its datasheet dense peak relative to the H100's,
/// measured, not fitted: the best BF16 `matmul` over a shape scan (Maximum Achievable Matmul
/// FLOPS, stas00/ml-engineering compute/accelerator/README.md, "Maximum Achievable Matmul FLOPS
/// comparison table", CUDA 12.1) is 267.9 of 312 TFLOP/s on the A100 SXM (85.9 %) and 792.1 of
/// 989 on the H100 SXM (80.1 %): 0.8587 / 0.8009 = 1.072. The A100 (400 W) runs its GEMMs
/// nearer its boost-clock peak than the H100 at 700 W, so the H100 table scaled by peak alone
/// under-prices it by that ratio (docs/calibration.md, "Training accuracy").
pub const AMPERE_TENSOR_FRACTION: f64 = (267.9 / 312.0) / (792.1 / 989.0);

/// [`BLACKWELL_TENSOR_FRACTION`] for the Blackwell catalogue ids, [`AMPERE_TENSOR_FRACTION`]
/// for the A100, 1 for every other accelerator (their tables apply as calibrated, or as the
/// H100 rule scaled by peak).
pub fn sustained_tensor_fraction(accel_id: &str) -> f64 {
    if matches!(accel_id, "b200" | "b300" | "gb200" | "gb300") {
        // Read through `units::calibration` so `validate --cross-validate` can refit it.
        units::calibration::get("BLACKWELL_TENSOR_FRACTION", BLACKWELL_TENSOR_FRACTION)
    } else if accel_id == "a100" {
        AMPERE_TENSOR_FRACTION
    } else {
        1.0
    }
}

/// An accelerator's peaks: dense FLOP/s and HBM bytes/s.
#[derive(Debug, Clone, PartialEq)]
pub struct Accel {
    pub name: String,
    pub peak_bf16: f64,
    /// `None` when the accelerator has no FP8 tensor cores (FP8 plans then run GEMMs in BF16).
    pub peak_fp8: Option<f64>,
    pub hbm_bw: f64,
}

impl Accel {
    /// H100 SXM datasheet dense figures (the peaks the H100 table's fractions are relative to).
    pub fn h100() -> Accel {
        Accel {
            name: "H100-SXM".to_string(),
            peak_bf16: 989.4e12,
            peak_fp8: Some(1978.9e12),
            hbm_bw: 3.35e12,
        }
    }
}

/// Fraction of its roofline an operation reaches on a TPU under XLA (MaxText): the one fitted
/// parameter of [`TpuRule`], fitted on the four MaxText rows T077, T079, T081, T085 of
/// testdata/training.csv (rule: the median over those rows of the fraction that makes each
/// row's predicted throughput equal its measurement, with every other parameter physical);
/// docs/calibration.md, "TPU training as XLA runs it".
pub const TPU_ATTAINED_FRACTION: f64 = 0.80;

/// The TPU efficiency rule (not the H100 rule): every operation runs at
/// [`TPU_ATTAINED_FRACTION`] of its roofline, times the MXU tile occupancy of its shape — XLA
/// pads each matrix dimension to a multiple of the systolic array's side (`mxu`: 128 on v4,
/// v5e, v5p; 256 on v6e and Ironwood, catalogue `TPU_CORES`), so a GEMM of M × N × K runs at
/// `M·N·K / (⌈M⌉·⌈N⌉·⌈K⌉)` of the padded peak and attention at `d / ⌈d⌉` on its head
/// dimensions. Memory-bound operations reach the same fraction of the HBM bandwidth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TpuRule {
    /// Side of the MXU systolic array (elements).
    pub mxu: u32,
    /// Fraction of the roofline attained ([`TPU_ATTAINED_FRACTION`]).
    pub attained: f64,
}

impl TpuRule {
    fn occupancy(&self, x: u64) -> f64 {
        let t = self.mxu.max(1) as u64;
        if x == 0 {
            return 1.0;
        }
        x as f64 / (x.div_ceil(t) * t) as f64
    }

    /// Efficiency of `op` under this rule.
    pub fn efficiency(&self, op: &OpDesc) -> f64 {
        match op.kind {
            OpKind::Gemm { m, n, k, .. } => self.attained * self.occupancy(m) * self.occupancy(n) * self.occupancy(k),
            OpKind::Attention {
                head_dim_qk,
                head_dim_v,
                ..
            } => {
                let d = head_dim_qk + head_dim_v;
                let padded = head_dim_qk.div_ceil(self.mxu as u64) * self.mxu as u64
                    + head_dim_v.div_ceil(self.mxu as u64) * self.mxu as u64;
                self.attained * d as f64 / padded.max(1) as f64
            }
            OpKind::Memory { .. } => self.attained,
        }
    }
}

/// Roofline compute model with a calibrated efficiency table.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeModel {
    pub accel: Accel,
    pub table: EfficiencyTable,
    /// The TPU rule, which replaces the table when set ([`ComputeModel::tpu`]).
    pub tpu: Option<TpuRule>,
    /// What a report should say about this model's calibration (e.g. "uncalibrated").
    pub notes: Vec<String>,
    /// Extra time per kernel not in the calibration (e.g. host-bound eager launches). 0 by default:
    /// the calibration times are of back-to-back kernels, so GPU-side per-kernel gaps are already in
    /// the fitted efficiencies and host launch cost is hidden as in a training stream.
    pub kernel_overhead_s: f64,
    /// The training framework's kernels, fusions and overlap (`--framework`; Megatron by
    /// default): see `crate::framework`.
    pub framework: crate::framework::FrameworkProfile,
}

impl ComputeModel {
    /// H100 SXM with the fitted default table.
    pub fn h100() -> ComputeModel {
        ComputeModel::new(Accel::h100(), EfficiencyTable::default_h100())
    }

    /// A model from an accelerator and a table, no extra per-kernel overhead.
    pub fn new(accel: Accel, table: EfficiencyTable) -> ComputeModel {
        ComputeModel {
            accel,
            table,
            tpu: None,
            notes: Vec::new(),
            kernel_overhead_s: 0.0,
            framework: crate::framework::Framework::Megatron.profile(),
        }
    }

    /// A TPU generation from its peaks with the TPU rule ([`TpuRule`]); `calibrated` says whether
    /// the generation has measured rows in the rule's fit (v5e, v5p, v6e) — when not (v4,
    /// Ironwood) the model notes it is uncalibrated.
    pub fn tpu(
        name: &str,
        peak_bf16: f64,
        peak_fp8: Option<f64>,
        hbm_bw: f64,
        mxu: u32,
        calibrated: bool,
    ) -> ComputeModel {
        let mut cm = ComputeModel::from_peaks(name, peak_bf16, peak_fp8, hbm_bw);
        cm.tpu = Some(TpuRule {
            mxu,
            // Read through `units::calibration` so `validate --cross-validate` can refit it.
            attained: units::calibration::get("TPU_ATTAINED_FRACTION", TPU_ATTAINED_FRACTION),
        });
        cm.notes.push(format!(
            "compute: TPU rule ({:.0} % of roofline × MXU {mxu}×{mxu} tile occupancy, fitted on the MaxText rows; docs/calibration.md){}",
            TPU_ATTAINED_FRACTION * 100.0,
            if calibrated {
                String::new()
            } else {
                format!(" — uncalibrated: no measured {name} row")
            }
        ));
        cm
    }

    /// Another accelerator from its peaks (FLOP/s, bytes/s) with the H100-fitted efficiency rule
    /// applied to its own peaks (an assumption: see docs/compute-model.md).
    pub fn from_peaks(name: &str, peak_bf16: f64, peak_fp8: Option<f64>, hbm_bw: f64) -> ComputeModel {
        ComputeModel::new(
            Accel {
                name: name.to_string(),
                peak_bf16,
                peak_fp8,
                hbm_bw,
            },
            EfficiencyTable::default_h100(),
        )
    }

    /// The same model with every tensor-core efficiency (GEMMs at both precisions, attention)
    /// scaled by `fraction` — the sustained share of the datasheet tensor peak relative to the
    /// H100 on which the table was measured ([`sustained_tensor_fraction`]). Peaks, and so MFU
    /// denominators, are unchanged; memory-bound ops are unchanged (HBM bandwidth is its own
    /// figure).
    pub fn with_tensor_fraction(mut self, fraction: f64) -> ComputeModel {
        let t = &mut self.table;
        for e in t.bf16.e_max.iter_mut() {
            *e *= fraction;
        }
        if let Some(r) = t.fp8.as_mut() {
            for e in r.e_max.iter_mut() {
                *e *= fraction;
            }
        }
        t.attention.fwd.e_max *= fraction;
        t.attention.bwd.e_max *= fraction;
        if let Some(a) = t.attention_alt.as_mut() {
            a.fwd.e_max *= fraction;
            a.bwd.e_max *= fraction;
        }
        self
    }

    /// Whether a GEMM at `precision` runs on the FP8 path (needs an FP8 peak and an FP8 rule).
    fn fp8_gemm(&self, precision: Precision) -> bool {
        precision == Precision::Fp8 && self.accel.peak_fp8.is_some() && self.table.fp8.is_some()
    }

    /// Peak FLOP/s that `op` runs against: FP8 applies to GEMMs only.
    pub fn peak(&self, op: &OpDesc, precision: Precision) -> f64 {
        match (&op.kind, self.accel.peak_fp8) {
            (OpKind::Gemm { .. }, Some(fp8)) if self.fp8_gemm(precision) => fp8,
            _ => self.accel.peak_bf16,
        }
    }

    /// Fraction of [`ComputeModel::peak`] the op reaches (GEMM, attention), or for memory-bound
    /// ops the fraction of HBM bandwidth.
    pub fn efficiency(&self, op: &OpDesc, precision: Precision) -> f64 {
        if let Some(rule) = &self.tpu {
            return rule.efficiency(op);
        }
        match op.kind {
            OpKind::Gemm { m, n, k, pass } => {
                let rule = if self.fp8_gemm(precision) {
                    self.table.gemm_rule(Precision::Fp8)
                } else {
                    &self.table.bf16
                };
                rule.efficiency(m as f64, n as f64, k as f64, pass)
            }
            OpKind::Attention {
                batch,
                heads,
                seq_q,
                seq_kv,
                head_dim_qk,
                head_dim_v,
                backward,
                ..
            } => {
                let r = if backward {
                    &self.table.attention.bwd
                } else {
                    &self.table.attention.fwd
                };
                r.efficiency(
                    batch as f64,
                    heads as f64,
                    seq_q as f64,
                    seq_kv as f64,
                    head_dim_qk as f64,
                    head_dim_v as f64,
                )
            }
            OpKind::Memory { what } => self.table.memory.get(what),
        }
    }

    /// Seconds of `op`: max(FLOPs / (peak × efficiency), bytes / HBM bandwidth) for GEMM and
    /// attention, bytes / (fraction × HBM bandwidth) for memory-bound ops; plus
    /// `kernel_overhead_s`. `op.flops` must follow [`reference_flops`]' accounting.
    pub fn op_time(&self, op: &OpDesc, precision: Precision) -> f64 {
        let eff = self.efficiency(op, precision);
        let t = match op.kind {
            OpKind::Memory { .. } => div_or_inf(op.bytes.max(0.0), eff * self.accel.hbm_bw),
            _ => {
                let compute = div_or_inf(op.flops.max(0.0), self.peak(op, precision) * eff);
                compute.max(op.bytes.max(0.0) / self.accel.hbm_bw)
            }
        };
        t + self.kernel_overhead_s
    }
}

fn div_or_inf(num: f64, den: f64) -> f64 {
    if num <= 0.0 {
        0.0
    } else if den > 0.0 {
        num / den
    } else {
        f64::INFINITY
    }
}

/// The FLOP accounting the efficiencies are measured against: GEMM 2·M·N·K; attention forward
/// 2·b·h·(d_qk + d_v)·(query-key pairs), pairs = s_q·s_kv, causal s_q·s_kv − s_q²/2 (s_q ≤ s_kv,
/// the queries at the end of the keys), backward 2.5 × forward. `None` for memory-bound ops.
pub fn reference_flops(kind: &OpKind) -> Option<f64> {
    match *kind {
        OpKind::Gemm { m, n, k, .. } => Some(2.0 * m as f64 * n as f64 * k as f64),
        OpKind::Attention {
            batch,
            heads,
            seq_q,
            seq_kv,
            head_dim_qk,
            head_dim_v,
            causal,
            backward,
            ..
        } => {
            let (sq, skv) = (seq_q as f64, seq_kv as f64);
            let pairs = if causal {
                sq * skv - sq.min(skv) * sq.min(skv) / 2.0
            } else {
                sq * skv
            };
            let fwd = 2.0 * batch as f64 * heads as f64 * (head_dim_qk + head_dim_v) as f64 * pairs;
            Some(if backward { 2.5 * fwd } else { fwd })
        }
        OpKind::Memory { .. } => None,
    }
}

fn pass_index(pass: Pass) -> usize {
    match pass {
        Pass::Fwd => 0,
        Pass::Dgrad => 1,
        Pass::Wgrad => 2,
    }
}

fn describe_device(json: &str) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let s = |k: &str| {
        v.get(k)
            .map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()))
    };
    let gpu = s("gpu")?;
    let date = s("date")?;
    let mut extra = Vec::new();
    if let Some(sm) = s("sm_count") {
        extra.push(format!("{sm} SMs"));
    }
    if let Some(smi) = s("nvidia_smi") {
        extra.push(format!("nvidia-smi: {smi}"));
    }
    if let Some(t) = s("torch") {
        extra.push(format!("torch {t}"));
    }
    if let Some(c) = s("cudnn") {
        extra.push(format!("cuDNN {c}"));
    }
    Some((
        if extra.is_empty() {
            gpu
        } else {
            format!("{gpu} ({})", extra.join("; "))
        },
        date,
    ))
}

// ---------------------------------------------------------------------------------------------
// CSV parsing (the simple format csv.DictWriter writes: comma separated, optional double quotes).

struct Csv {
    file: &'static str,
    context: String,
    header: Vec<String>,
    /// (1-based line number, fields)
    rows: Vec<(usize, Vec<String>)>,
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

impl Csv {
    fn parse(text: &str, file: &'static str, context: &str) -> Result<Csv, WorkloadError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty());
        let header: Vec<String> = match lines.next() {
            Some((_, l)) => split_csv_line(l).into_iter().map(|s| s.trim().to_string()).collect(),
            None => {
                return Err(WorkloadError::Invalid {
                    context: format!("{context}: {file}"),
                    problem: "empty file".to_string(),
                })
            }
        };
        let mut rows = Vec::new();
        for (n, l) in lines {
            let f = split_csv_line(l);
            if f.len() != header.len() {
                return Err(WorkloadError::Invalid {
                    context: format!("{context}: {file} line {n}"),
                    problem: format!(
                        "expected {} comma-separated fields (as in the header), found {}",
                        header.len(),
                        f.len()
                    ),
                });
            }
            rows.push((n, f));
        }
        Ok(Csv {
            file,
            context: context.to_string(),
            header,
            rows,
        })
    }

    fn col(&self, name: &str) -> Result<usize, WorkloadError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| WorkloadError::Invalid {
                context: format!("{}: {} line 1", self.context, self.file),
                problem: format!("missing column `{name}` in the header"),
            })
    }

    fn opt_col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    fn bad(&self, line: usize, field: &str, problem: String) -> WorkloadError {
        WorkloadError::BadField {
            context: format!("{}: {} line {line}", self.context, self.file),
            field: field.to_string(),
            problem,
        }
    }

    /// A positive finite number.
    fn num(&self, line: usize, fields: &[String], col: usize) -> Result<f64, WorkloadError> {
        let raw = fields[col].trim();
        match raw.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            Ok(_) => Err(self.bad(line, &self.header[col], format!("`{raw}` must be a positive number"))),
            Err(_) => Err(self.bad(line, &self.header[col], format!("`{raw}` is not a number"))),
        }
    }

    /// A fraction of a peak: a positive number between 1e-6 and 1.5.
    fn frac(&self, line: usize, fields: &[String], col: usize) -> Result<f64, WorkloadError> {
        let v = self.num(line, fields, col)?;
        if !(1e-6..=1.5).contains(&v) {
            return Err(self.bad(
                line,
                &self.header[col],
                format!("{v:e} is not a fraction of the peak between 1e-6 and 1.5"),
            ));
        }
        Ok(v)
    }

    fn has_error(fields: &[String], col: Option<usize>) -> bool {
        col.is_some_and(|c| !fields[c].trim().is_empty())
    }
}

struct GemmRow {
    precision: Precision,
    pass: Pass,
    m: f64,
    n: f64,
    k: f64,
    time_us: f64,
    frac: f64,
    model: String,
    censored: bool,
}

/// Usable (error-free) rows of a gemm.csv, with host-floor rows flagged.
fn parse_gemm(text: &str, context: &str) -> Result<Vec<GemmRow>, WorkloadError> {
    let csv = Csv::parse(text, "gemm.csv", context)?;
    let (dt, pa, cm, cn, ck, ct, cf) = (
        csv.col("dtype")?,
        csv.col("pass_")?,
        csv.col("M")?,
        csv.col("N")?,
        csv.col("K")?,
        csv.col("time_us")?,
        csv.col("frac_of_peak")?,
    );
    let (ce, cmodel) = (csv.opt_col("error"), csv.opt_col("model"));
    let mut rows = Vec::new();
    for (line, f) in &csv.rows {
        if Csv::has_error(f, ce) {
            continue;
        }
        let precision = match f[dt].trim() {
            "bf16" => Precision::Bf16,
            s if s.starts_with("fp8") => Precision::Fp8,
            s => return Err(csv.bad(*line, "dtype", format!("`{s}` is not bf16 or fp8_e4m3"))),
        };
        let pass = match f[pa].trim() {
            "fwd" => Pass::Fwd,
            "dgrad" => Pass::Dgrad,
            "wgrad" => Pass::Wgrad,
            s => return Err(csv.bad(*line, "pass_", format!("`{s}` is not fwd, dgrad or wgrad"))),
        };
        let frac = csv.num(*line, f, cf)?;
        if frac > 1.5 {
            return Err(csv.bad(*line, "frac_of_peak", format!("{frac:e} is above the peak")));
        }
        if frac < 1e-6 {
            return Err(csv.bad(
                *line,
                "frac_of_peak",
                format!("{frac:e} is below 1e-6 of the peak: not a measurement a GPU gives"),
            ));
        }
        rows.push(GemmRow {
            precision,
            pass,
            m: csv.num(*line, f, cm)?,
            n: csv.num(*line, f, cn)?,
            k: csv.num(*line, f, ck)?,
            time_us: csv.num(*line, f, ct)?,
            frac,
            model: cmodel.map(|c| f[c].trim().to_string()).unwrap_or_default(),
            censored: false,
        });
    }
    for p in [Precision::Bf16, Precision::Fp8] {
        let floor = rows
            .iter()
            .filter(|r| r.precision == p)
            .map(|r| r.time_us)
            .fold(f64::INFINITY, f64::min);
        for r in rows.iter_mut().filter(|r| r.precision == p) {
            r.censored = r.time_us < HOST_FLOOR_BAND * floor;
        }
    }
    Ok(rows)
}

struct AttentionRow {
    backend: String,
    batch: f64,
    heads: f64,
    seq: f64,
    d_qk: f64,
    d_v: f64,
    fwd_frac: f64,
    bwd_frac: f64,
}

fn parse_attention(text: &str, context: &str) -> Result<Vec<AttentionRow>, WorkloadError> {
    let csv = Csv::parse(text, "attention.csv", context)?;
    let (cb, cba, cs, ch, cd, cv, cf, cbw) = (
        csv.col("backend")?,
        csv.col("batch")?,
        csv.col("seq")?,
        csv.col("q_heads")?,
        csv.col("head_dim")?,
        csv.col("v_head_dim")?,
        csv.col("fwd_frac_of_peak")?,
        csv.col("bwd_frac_of_peak")?,
    );
    let ce = csv.opt_col("error");
    let mut rows = Vec::new();
    for (line, f) in &csv.rows {
        if Csv::has_error(f, ce) {
            continue;
        }
        rows.push(AttentionRow {
            backend: f[cb].trim().to_string(),
            batch: csv.num(*line, f, cba)?,
            seq: csv.num(*line, f, cs)?,
            heads: csv.num(*line, f, ch)?,
            d_qk: csv.num(*line, f, cd)?,
            d_v: csv.num(*line, f, cv)?,
            fwd_frac: csv.frac(*line, f, cf)?,
            bwd_frac: csv.frac(*line, f, cbw)?,
        });
    }
    Ok(rows)
}

fn fit_attention_csv(text: &str, context: &str) -> Result<(AttentionRule, Option<AttentionRule>), WorkloadError> {
    let rows = parse_attention(text, context)?;
    let count = |b: &str| rows.iter().filter(|r| r.backend == b).count();
    let mut backends: Vec<String> = Vec::new();
    for r in &rows {
        if !backends.contains(&r.backend) {
            backends.push(r.backend.clone());
        }
    }
    let usable: Vec<String> = backends
        .into_iter()
        .filter(|b| count(b) >= MIN_ATTENTION_ROWS)
        .collect();
    let pick = ["cudnn", "flash"]
        .iter()
        .map(|s| s.to_string())
        .find(|b| usable.contains(b))
        .or_else(|| usable.first().cloned());
    let Some(primary) = pick else {
        return Err(WorkloadError::Invalid {
            context: format!("{context}: attention.csv"),
            problem: format!("no backend with at least {MIN_ATTENTION_ROWS} usable rows to fit"),
        });
    };
    let alt = if primary == "cudnn" && usable.iter().any(|b| b == "flash") {
        Some("flash".to_string())
    } else {
        None
    };
    let fit = |backend: &str| {
        let sel: Vec<&AttentionRow> = rows.iter().filter(|r| r.backend == backend).collect();
        AttentionRule {
            backend: backend.to_string(),
            fwd: fit_attention_pass(&sel, false),
            bwd: fit_attention_pass(&sel, true),
            rows: sel.len(),
        }
    };
    Ok((fit(&primary), alt.map(|b| fit(&b))))
}

fn fit_memory_csv(text: &str, context: &str, out: &mut MemoryFractions) -> Result<(), WorkloadError> {
    let csv = Csv::parse(text, "memory.csv", context)?;
    let (co, cs, cb, ct, cf) = (
        csv.col("op")?,
        csv.col("shape")?,
        csv.col("bytes")?,
        csv.col("time_us")?,
        csv.col("frac_of_hbm")?,
    );
    let ce = csv.opt_col("error");
    // (class, bytes, time_us, fraction or None)
    let mut samples: Vec<(MemoryOp, f64, f64, Option<f64>)> = Vec::new();
    let mut bw_estimates = Vec::new();
    for (line, f) in &csv.rows {
        if Csv::has_error(f, ce) {
            continue;
        }
        let op = f[co].trim();
        let class = if op == "copy" {
            MemoryOp::Copy
        } else if op == "add" || op.starts_with("elementwise") {
            MemoryOp::Elementwise
        } else if op.starts_with("rms_norm") || op.starts_with("layer_norm") {
            MemoryOp::Norm
        } else if op.starts_with("cross_entropy") {
            MemoryOp::CrossEntropy
        } else if op.starts_with("adamw") {
            MemoryOp::Optimizer
        } else {
            continue; // e.g. swiglu_fwd_eager: not a class of the model (fused activations are Elementwise)
        };
        let time_us = csv.num(*line, f, ct)?;
        if class == MemoryOp::CrossEntropy && f[cb].trim().is_empty() {
            let shape = f[cs].trim();
            let dims: Vec<f64> = shape.split('x').filter_map(|d| d.trim().parse::<f64>().ok()).collect();
            if dims.len() != 2 || dims.iter().any(|d| *d <= 0.0) {
                return Err(csv.bad(*line, "shape", format!("`{shape}` is not TOKENSxVOCAB")));
            }
            samples.push((class, CROSS_ENTROPY_BYTES_PER_LOGIT * dims[0] * dims[1], time_us, None));
        } else {
            let bytes = csv.num(*line, f, cb)?;
            let frac = csv.frac(*line, f, cf)?;
            bw_estimates.push(bytes / (time_us * 1e-6 * frac));
            samples.push((class, bytes, time_us, Some(frac)));
        }
    }
    bw_estimates.sort_by(f64::total_cmp);
    let bw = bw_estimates.get(bw_estimates.len() / 2).copied();
    for class in [
        MemoryOp::Norm,
        MemoryOp::Elementwise,
        MemoryOp::Copy,
        MemoryOp::CrossEntropy,
        MemoryOp::Optimizer,
    ] {
        // Least squares on log time with time = bytes / (fraction × bw): the geometric mean.
        let logs: Vec<f64> = samples
            .iter()
            .filter(|s| s.0 == class)
            .filter_map(|&(_, bytes, t, frac)| frac.or_else(|| bw.map(|bw| bytes / (t * 1e-6 * bw))))
            .map(f64::ln)
            .collect();
        if logs.is_empty() {
            continue;
        }
        let frac = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
        if !(frac.is_finite() && (1e-4..=1.5).contains(&frac)) {
            return Err(WorkloadError::Invalid {
                context: format!("{context}: memory.csv"),
                problem: format!(
                    "the {class:?} rows give {frac:.3e} of the HBM bandwidth: not a fraction a GPU reaches (columns bytes, time_us, frac_of_hbm)"
                ),
            });
        }
        match class {
            MemoryOp::Norm => out.norm = frac,
            MemoryOp::Elementwise => out.elementwise = frac,
            MemoryOp::Copy => out.copy = frac,
            MemoryOp::CrossEntropy => out.cross_entropy = frac,
            MemoryOp::Optimizer => out.optimizer = frac,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fitting.

const MIN_GEMM_ROWS: usize = 8;
const MIN_ATTENTION_ROWS: usize = 5;

/// Fit the GEMM rule of one precision. Parameters θ = [ln e_fwd, ln e_dgrad, ln e_wgrad, ln m0,
/// ln n0, ln k0, u] with 1/long_k = u²; residual ln t_pred − ln t_meas = ln frac − ln eff, set to
/// max(·, 0) for host-floor rows (their time is an upper bound).
fn fit_gemm(rows: &[&GemmRow]) -> Option<GemmRule> {
    if rows.len() < MIN_GEMM_ROWS {
        return None;
    }
    let mut init = [0.0f64; 3];
    let mut present = [false; 3];
    for (pi, p) in [Pass::Fwd, Pass::Dgrad, Pass::Wgrad].into_iter().enumerate() {
        let mut f: Vec<f64> = rows
            .iter()
            .filter(|r| r.pass == p && !r.censored)
            .map(|r| r.frac)
            .collect();
        f.sort_by(f64::total_cmp);
        present[pi] = !f.is_empty();
        init[pi] = f.get(f.len() * 9 / 10).copied().unwrap_or(0.6).ln();
    }
    let p0 = vec![init[0], init[1], init[2], 64f64.ln(), 64f64.ln(), 64f64.ln(), 2e-3];
    let p = levenberg_marquardt(p0, rows.len(), |p, r, jac| {
        let (m0, n0, k0, u) = (p[3].exp(), p[4].exp(), p[5].exp(), p[6]);
        for (i, row) in rows.iter().enumerate() {
            let (xm, xn, xk, xl) = (m0 / row.m, n0 / row.n, k0 / row.k, u * u * row.k);
            let pi = pass_index(row.pass);
            let res = row.frac.ln() - p[pi] + xm.ln_1p() + xn.ln_1p() + xk.ln_1p() + xl.ln_1p();
            let j = &mut jac[i * 7..i * 7 + 7];
            j.fill(0.0);
            if row.censored && res < 0.0 {
                r[i] = 0.0;
                continue;
            }
            r[i] = res;
            j[pi] = -1.0;
            j[3] = xm / (1.0 + xm);
            j[4] = xn / (1.0 + xn);
            j[5] = xk / (1.0 + xk);
            j[6] = 2.0 * u * row.k / (1.0 + xl);
        }
    });
    let mut e_max = [p[0].exp(), p[1].exp(), p[2].exp()];
    let fitted: Vec<f64> = (0..3).filter(|&i| present[i]).map(|i| e_max[i]).collect();
    let mean = fitted.iter().sum::<f64>() / fitted.len().max(1) as f64;
    for i in 0..3 {
        if !present[i] {
            e_max[i] = mean;
        }
    }
    let c = p[6] * p[6];
    Some(GemmRule {
        e_max,
        m0: p[3].exp(),
        n0: p[4].exp(),
        k0: p[5].exp(),
        // No measurable long-K penalty (K/long_k < 1e-6 at any realistic K): none.
        long_k: if c > 1e-12 { 1.0 / c } else { f64::INFINITY },
        rows: rows.len(),
        censored: rows.iter().filter(|r| r.censored).count(),
    })
}

/// Fit one direction of attention: θ = [ln e_max, ln s0, ln u0, gamma].
fn fit_attention_pass(rows: &[&AttentionRow], backward: bool) -> AttentionPassRule {
    let meas = |r: &AttentionRow| if backward { r.bwd_frac } else { r.fwd_frac };
    let mut f: Vec<f64> = rows.iter().map(|r| meas(r)).collect();
    f.sort_by(f64::total_cmp);
    let p0 = vec![f[f.len() * 9 / 10].ln(), 1000f64.ln(), 16384f64.ln(), 0.0];
    let p = levenberg_marquardt(p0, rows.len(), |p, r, jac| {
        let (s0, u0) = (p[1].exp(), p[2].exp());
        for (i, row) in rows.iter().enumerate() {
            let xs = s0 / row.seq;
            let xu = u0 / (row.batch * row.heads * row.seq);
            let ld = ((row.d_qk + row.d_v) / 256.0).ln();
            r[i] = meas(row).ln() - p[0] + xs.ln_1p() + xu.ln_1p() - p[3] * ld;
            let j = &mut jac[i * 4..i * 4 + 4];
            j[0] = -1.0;
            j[1] = xs / (1.0 + xs);
            j[2] = xu / (1.0 + xu);
            j[3] = -ld;
        }
    });
    AttentionPassRule {
        e_max: p[0].exp(),
        s0: p[1].exp(),
        u0: p[2].exp(),
        gamma: p[3],
    }
}

/// Levenberg–Marquardt minimisation of ½‖r(θ)‖². `eval(θ, r, J)` fills the `n` residuals and the
/// row-major n × len(θ) Jacobian.
fn levenberg_marquardt(mut p: Vec<f64>, n: usize, eval: impl Fn(&[f64], &mut [f64], &mut [f64])) -> Vec<f64> {
    let np = p.len();
    let (mut r, mut jac) = (vec![0.0; n], vec![0.0; n * np]);
    let (mut r2, mut jac2) = (vec![0.0; n], vec![0.0; n * np]);
    eval(&p, &mut r, &mut jac);
    let mut cost: f64 = r.iter().map(|x| x * x).sum::<f64>() / 2.0;
    let mut lambda = 1e-3;
    for _ in 0..1000 {
        // Normal equations A = JᵀJ, g = Jᵀr.
        let mut a = vec![0.0; np * np];
        let mut g = vec![0.0; np];
        for i in 0..n {
            let row = &jac[i * np..(i + 1) * np];
            for x in 0..np {
                g[x] += row[x] * r[i];
                for y in 0..np {
                    a[x * np + y] += row[x] * row[y];
                }
            }
        }
        let mut improved = false;
        while lambda < 1e12 {
            let mut m = a.clone();
            for x in 0..np {
                m[x * np + x] += lambda * a[x * np + x] + 1e-12;
            }
            let Some(step) = solve(m, g.iter().map(|v| -v).collect()) else {
                lambda *= 10.0;
                continue;
            };
            let trial: Vec<f64> = p.iter().zip(&step).map(|(a, b)| a + b).collect();
            eval(&trial, &mut r2, &mut jac2);
            let c2: f64 = r2.iter().map(|x| x * x).sum::<f64>() / 2.0;
            if c2.is_finite() && c2 <= cost {
                let gain = cost - c2;
                p = trial;
                std::mem::swap(&mut r, &mut r2);
                std::mem::swap(&mut jac, &mut jac2);
                cost = c2;
                lambda = (lambda / 3.0).max(1e-12);
                improved = gain > 1e-15 * (1.0 + cost) || step.iter().any(|s| s.abs() > 1e-10);
                break;
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
    }
    p
}

/// Solve A·x = b (A n×n row-major) by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[piv * n + col].abs() < 1e-300 || !a[piv * n + col].is_finite() {
            return None;
        }
        if piv != col {
            for k in 0..n {
                a.swap(col * n + k, piv * n + k);
            }
            b.swap(col, piv);
        }
        for i in col + 1..n {
            let f = a[i * n + col] / a[col * n + col];
            for k in col..n {
                a[i * n + k] -= f * a[col * n + k];
            }
            b[i] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i * n + k] * x[k]).sum();
        x[i] = (b[i] - s) / a[i * n + i];
    }
    Some(x)
}

#[cfg(test)]
mod blackwell_tests {
    use super::*;

    /// The Blackwell compute model's one fitted parameter, and what it touches: tensor-core
    /// efficiencies only, never the peaks (MFU denominators) or HBM-bound ops.
    #[test]
    fn blackwell_tensor_fraction_scales_tensor_efficiency_only() {
        assert_eq!(BLACKWELL_TENSOR_FRACTION, 0.82);
        for a in ["b200", "b300", "gb200", "gb300"] {
            assert_eq!(sustained_tensor_fraction(a), 0.82, "{a}");
        }
        for a in ["h100", "h200", "mi300x"] {
            assert_eq!(sustained_tensor_fraction(a), 1.0, "{a}");
        }
        // The A100's measured MAMF ratio (not fitted).
        assert!((AMPERE_TENSOR_FRACTION - 1.072).abs() < 1e-3);
        assert_eq!(sustained_tensor_fraction("a100"), AMPERE_TENSOR_FRACTION);
        let base = ComputeModel::from_peaks("gb200", 2.5e15, Some(5e15), 8e12);
        let bw = base.clone().with_tensor_fraction(0.81);
        assert_eq!(bw.accel, base.accel);
        let gemm = OpDesc {
            name: "fc1",
            kind: OpKind::Gemm {
                m: 16384,
                n: 4096,
                k: 4096,
                pass: crate::flops::Pass::Fwd,
            },
            flops: 2.0 * 16384.0 * 4096.0 * 4096.0,
            bytes: 0.0,
        };
        for p in [Precision::Bf16, Precision::Fp8] {
            let r = bw.efficiency(&gemm, p) / base.efficiency(&gemm, p);
            assert!((r - 0.81).abs() < 1e-12, "{p:?}: {r}");
        }
        assert_eq!(bw.table.memory, base.table.memory);
    }
}
