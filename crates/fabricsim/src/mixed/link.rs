//! The link between pools, priced at the slower side: its aggregate capacity, the rate one
//! flow (one accelerator's traffic) gets, and its latency. The one constants table of the
//! mixed-cluster model is here.

use super::spec::{LinkKind, PoolLinkSpec};
use collective::constants::{base_lat, hw_lat, LinkClass, Protocol};
use fabric::Fabric;

/// One staging copy between accelerator memory and host DRAM (`cudaMemcpyAsync` / `aclrtMemcpy`
/// of a pinned bounce buffer, issue to completion): ~10 µs. Source: NVIDIA's CUDA samples
/// `bandwidthTest` / nvbandwidth small-copy latencies on PCIe Gen4/Gen5 hosts are 5–10 µs per
/// copy; the upper end is taken for a CPU proxy that also polls the NIC. Confidence: low (Baidu
/// publishes no latency for its CPU-forwarding bridge).
pub const HOST_STAGING_COPY_S: f64 = 10e-6;

/// Host DRAM passes of a forwarded byte on each side (written by one device's DMA, read by the
/// other's): a bounce buffer costs the host's memory bandwidth twice. Source: the data path of
/// a CPU-forwarding proxy (accelerator → DRAM → NIC); Baidu Baige's bridge to Ascend
/// sub-clusters forwards through the hosts' CPUs (operations.md, "Mixed-chip training").
pub const DRAM_PASSES_PER_FORWARDED_BYTE: f64 = 2.0;

/// The priced pool link.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PoolLink {
    /// `rdma` or `cpu-forwarding`.
    pub kind: String,
    /// Border NICs (RDMA) or forwarding hosts (CPU forwarding).
    pub nics: Option<u32>,
    pub hosts: Option<u32>,
    /// Aggregate capacity per direction between the pools.
    pub capacity_bytes_per_s: f64,
    /// The rate one accelerator's flow gets across (the slower side's NIC, or its host path).
    pub per_flow_bytes_per_s: f64,
    /// Latency of one crossing.
    pub latency_s: f64,
    /// How the figures were derived.
    pub basis: String,
}

impl PoolLink {
    /// Time for `flows` concurrent flows of `bytes` each to cross.
    pub fn transfer_s(&self, flows: u64, bytes: f64) -> f64 {
        let per_flow = bytes / self.per_flow_bytes_per_s;
        let aggregate = flows as f64 * bytes / self.capacity_bytes_per_s;
        self.latency_s + per_flow.max(aggregate)
    }
}

fn nic_rate(f: &Fabric) -> f64 {
    f.extras.scale_out_per_accel.0
}

/// Price the link between `pools` (name, fabric); `spec` `None` means no link.
pub fn price(spec: Option<&PoolLinkSpec>, pools: &[(&str, &Fabric)], field: &str) -> Result<PoolLink, String> {
    let names: Vec<&str> = pools.iter().map(|p| p.0).collect();
    let Some(spec) = spec else {
        return Err(format!(
            "{field}: no link between pools {}: the job has no path between them (give link=rdma or link=cpu-forwarding)",
            names.join(", ")
        ));
    };
    for (name, f) in pools {
        if nic_rate(f) <= 0.0 {
            return Err(format!(
                "{field}: pool `{name}` ({}) has no scale-out NIC to reach the other pools",
                f.accel_model
            ));
        }
    }
    let slower_nic = pools.iter().map(|p| nic_rate(p.1)).fold(f64::INFINITY, f64::min);
    let smaller = pools.iter().map(|p| p.1.accel_count() as u32).min().unwrap_or(0);
    let net_latency = base_lat(false, Protocol::Simple) + hw_lat(LinkClass::Net, false, Protocol::Simple);
    match spec.kind {
        LinkKind::Rdma => {
            let nics = spec.nics.unwrap_or(smaller);
            if nics == 0 {
                return Err(format!(
                    "{field}: link nics = 0: no capacity between pools {} (no path)",
                    names.join(", ")
                ));
            }
            Ok(PoolLink {
                kind: "rdma".into(),
                nics: Some(nics),
                hosts: None,
                capacity_bytes_per_s: nics as f64 * slower_nic,
                per_flow_bytes_per_s: slower_nic,
                latency_s: net_latency,
                basis: format!(
                    "GPUDirect RDMA: {nics} border NICs at the slower pool's NIC rate {:.1} GB/s; latency NCCL's net base + hop (Simple)",
                    slower_nic / 1e9
                ),
            })
        }
        LinkKind::CpuForwarding => {
            // Each side's host path per accelerator: its link to the CPU and its share of host
            // DRAM bandwidth, which a bounce buffer crosses twice.
            let mut per_flow = slower_nic;
            let mut accels_per_host = u32::MAX;
            for (name, f) in pools {
                let hs = f.host_side().ok_or_else(|| {
                    format!(
                        "{field}: cpu-forwarding needs the host side of pool `{name}` ({}), which the catalogue does not have",
                        f.accel_model
                    )
                })?;
                per_flow = per_flow
                    .min(hs.link_bw.0)
                    .min(hs.dram_bw_per_accel().0 / DRAM_PASSES_PER_FORWARDED_BYTE);
                accels_per_host = accels_per_host.min(hs.accels);
            }
            let smaller_hosts = smaller.div_ceil(accels_per_host.max(1));
            let hosts = spec.hosts.unwrap_or(smaller_hosts);
            if hosts == 0 {
                return Err(format!(
                    "{field}: link hosts = 0: no forwarding capacity between pools {} (no path)",
                    names.join(", ")
                ));
            }
            Ok(PoolLink {
                kind: "cpu-forwarding".into(),
                nics: None,
                hosts: Some(hosts),
                capacity_bytes_per_s: hosts as f64 * accels_per_host as f64 * per_flow,
                per_flow_bytes_per_s: per_flow,
                // Two staging copies per side.
                latency_s: net_latency + 4.0 * HOST_STAGING_COPY_S,
                basis: format!(
                    "CPU forwarding through {hosts} hosts × {accels_per_host} accelerators at {:.1} GB/s each (least of the slower NIC, the accelerator–CPU link and half the host DRAM share); +4 staging copies of {:.0} µs",
                    per_flow / 1e9,
                    HOST_STAGING_COPY_S * 1e6
                ),
            })
        }
    }
}
