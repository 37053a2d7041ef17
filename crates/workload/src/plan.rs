//! Parallelism and training options.

/// Compute precision of the matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    Bf16,
    Fp8,
}

/// Activation recomputation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recompute {
    None,
    /// Recompute the attention core only (Korthikanti et al.).
    Selective,
    /// Recompute every layer's forward in the backward pass.
    Full,
}

/// A parallel plan for training.
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelPlan {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub cp: u32,
    pub ep: u32,
    /// Virtual pipeline stages per rank (interleaved 1F1B when > 1).
    pub vp: u32,
    /// Micro-batch size and global batch size, in sequences.
    pub mbs: u32,
    pub gbs: u32,
    pub seq: u64,
    /// ZeRO stage (0–3; 3 = FSDP-like parameter sharding).
    pub zero: u8,
    pub recompute: Recompute,
    pub precision: Precision,
    /// Megatron sequence parallelism with TP (reduce-scatter/all-gather instead of all-reduce).
    pub sequence_parallel: bool,
    /// Overlap tensor-parallel communication with the GEMMs (Megatron `--tp-comm-overlap`):
    /// only the part longer than the layer's GEMMs stays exposed.
    pub tp_comm_overlap: bool,
}

impl ParallelPlan {
    /// Accelerators the plan occupies: TP × CP × PP × DP (EP folds into DP × CP × TP).
    pub fn world(&self) -> u64 {
        self.tp as u64 * self.cp as u64 * self.pp as u64 * self.dp as u64
    }
    /// Micro-batches per step per pipeline: GBS / (DP × MBS).
    pub fn microbatches(&self) -> u32 {
        self.gbs / (self.dp * self.mbs).max(1)
    }
}
