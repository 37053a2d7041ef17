//! The routing mode a published measurement's network implies, for `validate`: the rows
//! describe their inter-node network in words, and the technology fixes how it spreads flows
//! (`fabric::RoutingMode`). One rule per technology, each from its documentation:
//!
//! - **InfiniBand** → `adaptive`: the subnet manager enables adaptive routing on the switches
//!   by default (NVIDIA InfiniBand Cluster Bring-up Procedure v1.0, "Adaptive Routing":
//!   opensm.conf, `routing_engine ar_updn`), and NCCL uses it on IB (NCCL 2.6.4 release notes).
//! - **AWS EFA** → `spray`: EFA's SRD transport sprays the packets of one connection over up to
//!   64 paths and reorders at the receiver's Nitro card (Shalev et al., "A Cloud-Optimized
//!   Transport Protocol for Elastic and Scalable HPC", IEEE Micro 40(6), 2020).
//! - anything else (RoCE, Ethernet, Omni-Path, not stated) → `ecmp`, the default of an IP
//!   Clos (RoCE fabrics such as Meta's and ByteDance's MegaScale hash per flow).

use fabric::RoutingMode;

/// The routing mode of an inter-node network described as `text` (a CSV cell).
pub fn for_interconnect(text: &str) -> RoutingMode {
    let t = text.to_lowercase();
    if t.contains("efa") {
        RoutingMode::Spray
    } else if t.contains("infiniband") || t.contains(" ndr") || t.contains(" hdr") || t.contains("quantum") {
        RoutingMode::Adaptive
    } else {
        RoutingMode::Ecmp
    }
}

/// Whether in-network reduction (IB SHARP, NCCL's CollNet) can exist on the network `text`
/// describes: not on AWS EFA, an Ethernet fabric with no in-switch reduction (SRD transport;
/// NCCL reaches it through the aws-ofi-nccl plugin, which offers no CollNet) — CollNet is then
/// removed from the candidates, like `NCCL_COLLNET_ENABLE=0`.
pub fn has_sharp(text: &str) -> bool {
    !text.to_lowercase().contains("efa")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efa_has_no_sharp() {
        assert!(!has_sharp("EFA 32x100 Gb/s (3200 Gb/s) per instance"));
        assert!(has_sharp("8x 400G NDR InfiniBand per node with SHARP"));
    }

    #[test]
    fn technologies_map_to_their_routing() {
        for (text, want) in [
            ("8x 200Gb/s HDR InfiniBand per node", RoutingMode::Adaptive),
            ("8x 400G NDR InfiniBand per node with SHARP", RoutingMode::Adaptive),
            ("EFA 32x100 Gb/s (3200 Gb/s) per instance", RoutingMode::Spray),
            ("RoCE Clos (Tomahawk 4 switches)", RoutingMode::Ecmp),
            ("not stated", RoutingMode::Ecmp),
            ("", RoutingMode::Ecmp),
        ] {
            assert_eq!(for_interconnect(text), want, "{text}");
        }
    }
}
