//! Flags shared by `collective` and `nccl-tests`: how the collective model chooses and prices
//! an algorithm (NCCL_ALGO, NCCL_PROTO, NCCL_COLLNET_ENABLE, NCCL_NVLS_ENABLE in NCCL's terms),
//! and `--routing` (also on `train` and `topo`).

use crate::UserError;
use collective::constants::{Protocol, NET_CHANNELS};
use collective::{Algo, AlgoRequest, InNetwork, Options};

/// `on` or `off`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    On,
    Off,
}

/// `--routing`, on every command that takes a cluster (`collective`, `nccl-tests`, `train`,
/// `topo`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RoutingFlag {
    /// How the scale-out network spreads flows over equal-cost paths: ecmp (static hash per
    /// flow; flows collide), adaptive (least-loaded link per flow at every switch, as InfiniBand
    /// adaptive routing), spray (every flow split evenly over all paths, as Spectrum-X)
    /// (default: the cluster's own, e.g. adaptive on the InfiniBand SuperPODs, ecmp on a
    /// generic fat-tree).
    #[arg(long)]
    pub routing: Option<String>,
}

impl RoutingFlag {
    /// Set the fabric's routing mode when the flag is given, or an error naming the flag.
    pub fn apply(&self, f: &mut fabric::Fabric) -> Result<(), UserError> {
        if let Some(r) = self.routing.as_deref() {
            f.routing = fabric::RoutingMode::parse(r).ok_or_else(|| {
                UserError(format!(
                    "--routing: unknown routing mode `{r}` (known: {})",
                    fabric::RoutingMode::names()
                ))
            })?;
        }
        Ok(())
    }
}

#[derive(clap::Args, Debug)]
pub struct ModelFlags {
    /// Force an algorithm: ring, tree, nvls, collnet, hierarchical, halving_doubling, direct,
    /// pairwise, torus, p2p, or NCCL's names Ring, Tree, CollnetDirect, CollnetChain, NVLS,
    /// NVLSTree, PAT (any case; approximate mappings are stated in the output) (default: chosen
    /// per size like NCCL).
    #[arg(long)]
    pub algo: Option<String>,
    /// Force a protocol: LL, LL128 or Simple, any case (default: the fastest per size).
    #[arg(long)]
    pub proto: Option<String>,
    /// IB SHARP (CollNet) as a candidate where the fabric has it (on) or never (off).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub sharp: Switch,
    /// NVLink SHARP (NVLS) as a candidate where the NVSwitch has it (on) or never (off).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub nvls: Switch,
    /// flow (max-min fair sharing, default) or analytical (alpha-beta, no contention).
    #[arg(long, default_value = "flow")]
    pub fidelity: String,
    /// Flows per ring edge on the scale-out network (NCCL channels, 1..=64; default 2).
    #[arg(long)]
    pub channels: Option<u32>,
    #[command(flatten)]
    pub routing: RoutingFlag,
}

impl ModelFlags {
    /// The forced algorithm (if any) and the model options, or an error naming the flag.
    pub fn resolve(&self) -> Result<(Option<AlgoRequest>, Options), UserError> {
        let algo = self
            .algo
            .as_deref()
            .map(collective::parse_algo)
            .transpose()
            .map_err(|e| UserError(format!("--algo: {e}")))?;
        let protocol = self
            .proto
            .as_deref()
            .map(|p| p.parse::<Protocol>())
            .transpose()
            .map_err(|e| UserError(format!("--proto: {e}")))?;
        let fidelity = match self.fidelity.as_str() {
            "flow" => engine::Fidelity::Flow,
            "analytical" => engine::Fidelity::Analytical,
            other => return Err(UserError(format!("--fidelity: `{other}` is not flow or analytical"))),
        };
        let channels = self.channels.unwrap_or(NET_CHANNELS);
        if channels == 0 || channels > 64 {
            return Err(UserError(format!("--channels {channels}: must be 1..=64")));
        }
        let in_network = InNetwork {
            sharp: self.sharp == Switch::On,
            nvls: self.nvls == Switch::On,
        };
        if let (Some(a), Some(name)) = (algo, self.algo.as_deref()) {
            for (off, flag, algo) in [
                (!in_network.sharp, "--sharp off", Algo::CollNet),
                (!in_network.nvls, "--nvls off", Algo::Nvls),
            ] {
                if off && a.algo == algo {
                    return Err(UserError(format!(
                        "--algo {name} runs {} but {flag} removes it: drop one of the two",
                        algo.name()
                    )));
                }
            }
        }
        let opts = Options {
            fidelity,
            channels,
            protocol,
            in_network,
            ..Options::default()
        };
        Ok((algo, opts))
    }
}
