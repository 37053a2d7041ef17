//! LL128 over the network is an NCCL-version property of Grace-attached NICs
//! (`Options::ll128_over_network`): off, a ring that crosses racks never runs LL128, while a ring
//! inside one NVLink domain still may.

use collective::constants::Protocol;
use collective::simulate::run_sizes;
use collective::{Algo, Op, Options};
use fabric::presets::build_preset;

fn protocols(spec: &str, ranks: u32, ll128_over_network: bool) -> Vec<Protocol> {
    let f = build_preset(spec).unwrap().1;
    let ranks: Vec<u32> = (0..ranks).collect();
    let sizes: Vec<f64> = (10..34).step_by(2).map(|e| (1u64 << e) as f64).collect();
    let opts = Options {
        ll128_over_network,
        ..Options::default()
    };
    run_sizes(&f, &ranks, Op::AllReduce, &sizes, Some(Algo::Ring), opts)
        .unwrap()
        .iter()
        .map(|r| r.protocol)
        .collect()
}

#[test]
fn no_ll128_across_racks_when_the_nccl_version_forbids_it() {
    let on = protocols("gb200-superpod:racks=2", 128, true);
    let off = protocols("gb200-superpod:racks=2", 128, false);
    assert!(on.contains(&Protocol::Ll128), "{on:?}");
    assert!(!off.contains(&Protocol::Ll128), "{off:?}");
    // Inside one rack the option changes nothing: no step crosses the network.
    assert_eq!(
        protocols("gb200-superpod:racks=1", 72, false),
        protocols("gb200-superpod:racks=1", 72, true)
    );
}

#[test]
fn forbidding_ll128_never_makes_a_ring_faster() {
    let f = build_preset("gb200-superpod:racks=2").unwrap().1;
    let ranks: Vec<u32> = (0..128).collect();
    let sizes = [1e6, 64e6, 512e6, 4e9];
    let t = |ll128_over_network| {
        let opts = Options {
            ll128_over_network,
            ..Options::default()
        };
        run_sizes(&f, &ranks, Op::AllReduce, &sizes, Some(Algo::Ring), opts).unwrap()
    };
    for (a, b) in t(true).iter().zip(t(false).iter()) {
        assert!(b.time_s >= a.time_s, "{} B: {} < {}", a.size_bytes, b.time_s, a.time_s);
    }
}
