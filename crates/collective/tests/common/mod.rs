//! Shared by the collective crate's property tests.

/// The fabrics the property tests draw from: one scale-up node, fat-trees (non-blocking and
/// 3:1), rail-optimized, an NVL72 rack and, last, a TPU slice (a test that needs switches takes
/// all but the last).
pub const FABRICS: &[&str] = &[
    "dgx-h100",
    "fat-tree:gpus=64",
    "fat-tree:gpus=256,oversub=3",
    "rail-optimized:gpus=128",
    "gb200-nvl72",
    "tpu-v4-pod:slice=4x4x4",
];
