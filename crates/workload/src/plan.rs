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
    /// Layers of each pipeline chunk, in pipeline order (`None`: an even split, the first
    /// `layers % chunks` chunks one layer more). With VP = 1 one entry per stage; with VP > 1
    /// one per virtual stage (PP × VP entries; entry `v` runs on physical stage `v mod PP`), as
    /// Megatron's `--decoder-first/last-pipeline-num-layers` and Llama 3's uneven split do.
    /// Checked by [`ParallelPlan::check_layers_per_stage`].
    pub layers_per_stage: Option<Vec<u32>>,
    /// HSDP with ZeRO-3: parameters, gradients and optimizer states sharded inside groups of
    /// this many consecutive data-parallel ranks and replicated across the groups (gradients
    /// all-reduced across replicas); `None` shards over the whole DP group (FSDP). PyTorch
    /// FSDP2 `HSDP` mesh (replicate, shard), Megatron-FSDP `--num-distributed-optimizer-instances`.
    pub hsdp_shard: Option<u32>,
}

impl ParallelPlan {
    /// Accelerators the plan occupies: TP × CP × PP × DP (EP folds into DP × CP × TP).
    pub fn world(&self) -> u64 {
        self.tp as u64 * self.cp as u64 * self.pp as u64 * self.dp as u64
    }
    /// Data-parallel ranks one ZeRO/FSDP shard spans: the HSDP shard group, else DP.
    pub fn shard_group(&self) -> u32 {
        self.hsdp_shard.unwrap_or(self.dp).clamp(1, self.dp.max(1))
    }
    /// HSDP replicas: DP / shard group (1 for plain FSDP).
    pub fn shard_replicas(&self) -> u32 {
        (self.dp.max(1) / self.shard_group()).max(1)
    }
    /// Micro-batches per step per pipeline: GBS / (DP × MBS).
    pub fn microbatches(&self) -> u32 {
        self.gbs / (self.dp * self.mbs).max(1)
    }

    /// Pipeline chunks (virtual stages): PP × VP.
    pub fn chunks(&self) -> u32 {
        self.pp.max(1) * self.vp.max(1)
    }

    /// Layers of virtual stage `v` (0-based, pipeline order) of a model with `layers` layers:
    /// the given split, or an even one with the remainder on the first chunks.
    ///
    /// PRECONDITION: `check_layers_per_stage(layers)` passed and `v < chunks()`.
    pub fn chunk_layers(&self, layers: u32, v: u32) -> std::ops::Range<u32> {
        match &self.layers_per_stage {
            Some(list) if list.len() == self.chunks() as usize => {
                let start: u32 = list[..v as usize].iter().sum();
                start..start + list[v as usize]
            }
            _ => {
                let chunks = self.chunks();
                let base = layers / chunks;
                let extra = layers % chunks;
                let start = v * base + v.min(extra);
                start..start + base + u32::from(v < extra)
            }
        }
    }

    /// Layers physical stage `stage` holds (the layers of its chunks `c·PP + stage`, in order).
    pub fn stage_layers(&self, layers: u32, stage: u32) -> Vec<u32> {
        (0..self.vp.max(1))
            .flat_map(|c| self.chunk_layers(layers, c * self.pp.max(1) + stage))
            .collect()
    }

    /// Whether the split is uneven (given or not).
    pub fn uneven_split(&self, layers: u32) -> bool {
        let n = self.chunk_layers(layers, 0).len();
        (1..self.chunks()).any(|v| self.chunk_layers(layers, v).len() != n)
    }

    /// Check `layers_per_stage` against a model of `layers` layers: PP entries (PP × VP with
    /// interleaving), none zero, summing to the layers. Messages name `--layers-per-stage`.
    pub fn check_layers_per_stage(&self, layers: u32) -> Result<(), String> {
        let Some(list) = &self.layers_per_stage else {
            return Ok(());
        };
        let shown = list.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let want = self.chunks() as usize;
        if list.len() != want {
            return Err(if self.vp > 1 {
                format!(
                    "--layers-per-stage {shown} (or `layers_per_stage` in the scenario): {} entries; with --vp {} give PP × VP = {} × {} = {want} chunk sizes in pipeline order (entry v runs on stage v mod PP)",
                    list.len(),
                    self.vp,
                    self.pp,
                    self.vp
                )
            } else {
                format!(
                    "--layers-per-stage {shown} (or `layers_per_stage` in the scenario): {} entries for PP {}; give one layer count per pipeline stage",
                    list.len(),
                    self.pp
                )
            });
        }
        if let Some(i) = list.iter().position(|&n| n == 0) {
            return Err(format!(
                "--layers-per-stage {shown} (or `layers_per_stage` in the scenario): entry {i} is 0; every pipeline chunk needs at least one layer"
            ));
        }
        let sum: u64 = list.iter().map(|&n| n as u64).sum();
        if sum != layers as u64 {
            return Err(format!(
                "--layers-per-stage {shown} (or `layers_per_stage` in the scenario): sums to {sum}, but the model has {layers} layers"
            ));
        }
        Ok(())
    }
}
