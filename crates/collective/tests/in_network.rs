//! `Options::in_network`: switching SHARP or NVLS off removes that algorithm from NCCL-like
//! selection and leaves every other choice as it was.

use collective::simulate::run_sizes;
use collective::{Algo, InNetwork, Op, Options};
use fabric::presets::build_preset;

const SIZES: [f64; 3] = [1048576.0, 67108864.0, 1073741824.0];

fn chosen(spec: &str, ranks: u32, in_network: InNetwork) -> Vec<Algo> {
    let f = build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}")).1;
    let ranks: Vec<u32> = (0..ranks).collect();
    let opts = Options {
        in_network,
        ..Default::default()
    };
    run_sizes(&f, &ranks, Op::AllReduce, &SIZES, None, opts)
        .unwrap()
        .iter()
        .map(|r| r.algo)
        .collect()
}

#[test]
fn nvls_off_removes_nvls_inside_an_nvswitch_domain() {
    let on = chosen("dgx-h100", 8, InNetwork::default());
    assert_eq!(on.last(), Some(&Algo::Nvls), "{on:?}");
    let off = chosen(
        "dgx-h100",
        8,
        InNetwork {
            sharp: true,
            nvls: false,
        },
    );
    assert!(!off.contains(&Algo::Nvls), "{off:?}");
    // Sizes where NVLS was not chosen keep their algorithm.
    for (a, b) in on.iter().zip(&off) {
        if *a != Algo::Nvls {
            assert_eq!(a, b);
        }
    }
}

#[test]
fn sharp_off_removes_collnet_across_domains() {
    let on = chosen("fat-tree:gpus=64", 64, InNetwork::default());
    assert_eq!(on.last(), Some(&Algo::CollNet), "{on:?}");
    let off = chosen(
        "fat-tree:gpus=64",
        64,
        InNetwork {
            sharp: false,
            nvls: true,
        },
    );
    assert!(!off.contains(&Algo::CollNet), "{off:?}");
}
