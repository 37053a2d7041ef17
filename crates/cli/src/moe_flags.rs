//! `collective --op moe_dispatch|moe_combine`: DeepEP's expert-parallel kernels. The flags
//! (`--tokens`, `--hidden`, `--topk`, `--experts`, `--dtype`, `--kernel`) and their defaults:
//! DeepEP's benchmark setting (DeepSeek-V3: 7168 hidden, top-8 of 256 experts; 4096 tokens per
//! rank for the normal kernels, 128 for the low-latency ones; FP8 dispatch, BF16 combine).

use crate::model_flags::ModelFlags;
use crate::UserError;
use collective::moe::{MoeDtype, MoeKernel, MoeOp, MoeSpec};
use fabric::Fabric;

#[derive(clap::Args, Debug, Default)]
pub struct MoeFlags {
    /// moe ops: tokens each rank dispatches (default 4096 for --kernel normal, 128 for
    /// low-latency, as DeepEP's benchmarks).
    #[arg(long)]
    pub tokens: Option<u64>,
    /// moe ops: hidden size (default 7168, DeepSeek-V3).
    #[arg(long)]
    pub hidden: Option<u64>,
    /// moe ops: experts per token (default 8).
    #[arg(long)]
    pub topk: Option<u32>,
    /// moe ops: routed experts over the group, a multiple of the ranks (default 256, or the
    /// next multiple of the ranks).
    #[arg(long)]
    pub experts: Option<u32>,
    /// moe ops: payload fp8 or bf16 (default fp8 for moe_dispatch, bf16 for moe_combine).
    #[arg(long)]
    pub dtype: Option<String>,
    /// moe ops: DeepEP kernels, normal (NVLink forwarding + RDMA, node-limited) or low-latency
    /// (pure RDMA, per-expert messages) (default normal).
    #[arg(long)]
    pub kernel: Option<String>,
}

impl MoeFlags {
    fn given(&self) -> Option<&'static str> {
        [
            (self.tokens.is_some(), "--tokens"),
            (self.hidden.is_some(), "--hidden"),
            (self.topk.is_some(), "--topk"),
            (self.experts.is_some(), "--experts"),
            (self.dtype.is_some(), "--dtype"),
            (self.kernel.is_some(), "--kernel"),
        ]
        .into_iter()
        .find(|(g, _)| *g)
        .map(|(_, n)| n)
    }

    /// Non-MoE ops take none of these flags.
    pub fn reject_without_moe(&self) -> Result<(), UserError> {
        match self.given() {
            Some(flag) => Err(UserError(format!(
                "{flag} applies to --op moe_dispatch or moe_combine only"
            ))),
            None => Ok(()),
        }
    }

    /// The spec these flags describe for `op` on `ranks` ranks.
    pub fn spec(&self, op: MoeOp, ranks: u32) -> Result<MoeSpec, UserError> {
        let kernel = match &self.kernel {
            Some(k) => MoeKernel::parse(k).map_err(|e| UserError(format!("--kernel: {e}")))?,
            None => MoeKernel::Normal,
        };
        let dtype = match &self.dtype {
            Some(d) => MoeDtype::parse(d).map_err(|e| UserError(format!("--dtype: {e}")))?,
            None => op.default_dtype(),
        };
        if op == MoeOp::Combine && dtype == MoeDtype::Fp8 {
            return Err(UserError(
                "--dtype fp8: DeepEP's combine sends BF16 only (FP8 is a dispatch payload)".into(),
            ));
        }
        let tokens = self.tokens.unwrap_or(match kernel {
            MoeKernel::Normal => 4096,
            MoeKernel::LowLatency => 128,
        });
        let experts = match self.experts {
            Some(e) => e,
            None => {
                let r = ranks.max(1);
                256u32.div_ceil(r).saturating_mul(r)
            }
        };
        let mut spec = MoeSpec::new(
            op,
            kernel,
            tokens,
            self.hidden.unwrap_or(7168),
            self.topk.unwrap_or(8),
            experts,
        );
        spec.dtype = dtype;
        spec.check(ranks as usize).map_err(UserError)?;
        Ok(spec)
    }
}

/// Run one dispatch or combine over `ranks`.
pub fn run(
    f: &Fabric,
    cluster: &str,
    ranks: &[u32],
    op: MoeOp,
    flags: &MoeFlags,
    model: &ModelFlags,
    sized: bool,
) -> Result<fabricsim::moe::MoeReport, UserError> {
    if sized {
        return Err(UserError(format!(
            "--size/--sizes do not apply to --op {}: the batch is --tokens × --hidden",
            op.name()
        )));
    }
    if model.algo.is_some() || model.proto.is_some() || model.channels.is_some() {
        return Err(UserError(format!(
            "--algo/--proto/--channels do not apply to --op {}: DeepEP's kernels are not NCCL's",
            op.name()
        )));
    }
    let (_, opts) = model.resolve()?;
    let spec = flags.spec(op, ranks.len() as u32)?;
    fabricsim::moe::run(f, cluster, ranks, &spec, opts.fidelity).map_err(UserError)
}
