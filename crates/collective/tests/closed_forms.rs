//! Closed forms on uncontended fabrics: where no two flows share a link, the flow-level engine,
//! the analytical (alpha-beta) engine and the textbook alpha-beta formula written out here from
//! `collective::constants` must agree to rounding.

use collective::constants::{base_lat, hw_lat, pipeline_fill, LinkClass, Protocol, ETA_SCALE_UP};
use collective::simulate::run_sizes;
use collective::{simulate, Algo, CollectiveResult, Op, Options};
use engine::Fidelity;
use fabric::presets::build_preset;
use fabric::{Fabric, Net};

fn fabric(spec: &str) -> Fabric {
    build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}")).1
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

fn opts(fidelity: Fidelity, protocol: Option<Protocol>) -> Options {
    Options {
        fidelity,
        protocol,
        ..Default::default()
    }
}

/// alpha-beta for a single ring inside one NVLink domain: baseLat + steps × hwLat(NVLink) +
/// per-edge bytes / (η × link bandwidth × protocol factor), plus NCCL's staging term
/// (`constants::pipeline_fill`), under protocol `p`.
fn ring_formula(op: Op, n: u32, s: f64, link_bw: f64, p: Protocol) -> f64 {
    let nf = n as f64;
    let (edge_bytes, steps) = match op {
        Op::AllReduce => (2.0 * (nf - 1.0) / nf * s, 2 * (n - 1)),
        Op::ReduceScatter | Op::AllGather => ((nf - 1.0) / nf * s, n - 1),
        _ => unreachable!(),
    };
    let mut transfer = edge_bytes / (ETA_SCALE_UP * link_bw * p.bandwidth_factor());
    if p == Protocol::Ll {
        // NCCL's LL cap inside one node: bus bandwidth at most llMaxBw (Hopper 141 GB/s).
        transfer = transfer.max(edge_bytes / collective::constants::ll_max_busbw("h100").unwrap());
    }
    base_lat(false, p)
        + steps as f64 * hw_lat(LinkClass::NvLink, false, p)
        + transfer
        + pipeline_fill(steps, transfer, edge_bytes)
}

#[test]
fn single_node_ring_matches_alpha_beta() {
    let f = fabric("dgx-h100");
    let bw = f.accel_bandwidth(0, Net::ScaleUp).0;
    assert!((bw - 450e9).abs() < 1.0, "H100 NVLink per direction: {bw}");
    let sizes: Vec<f64> = (3..=33).step_by(3).map(|k| (1u64 << k) as f64).collect();
    let mut checked = 0;
    for n in [2u32, 3, 4, 8] {
        let ranks: Vec<u32> = (0..n).collect();
        for op in [Op::AllReduce, Op::ReduceScatter, Op::AllGather] {
            for p in Protocol::ALL {
                let flow = run_sizes(&f, &ranks, op, &sizes, Some(Algo::Ring), opts(Fidelity::Flow, Some(p))).unwrap();
                let ana = run_sizes(
                    &f,
                    &ranks,
                    op,
                    &sizes,
                    Some(Algo::Ring),
                    opts(Fidelity::Analytical, Some(p)),
                )
                .unwrap();
                for ((fl, an), &s) in flow.iter().zip(&ana).zip(&sizes) {
                    let want = ring_formula(op, n, s, bw, p);
                    assert!(
                        rel(fl.time_s, want) < 1e-9,
                        "{op} n={n} {p:?} {s}: flow {} vs formula {want}",
                        fl.time_s
                    );
                    assert!(
                        rel(an.time_s, want) < 1e-9,
                        "{op} n={n} {p:?} {s}: analytical {} vs {want}",
                        an.time_s
                    );
                    assert_eq!(fl.protocol, p);
                    checked += 1;
                }
            }
            // Unforced: the fastest protocol, i.e. the minimum of the three formulas.
            let best = run_sizes(&f, &ranks, op, &sizes, Some(Algo::Ring), Options::default()).unwrap();
            for (r, &s) in best.iter().zip(&sizes) {
                let want = Protocol::ALL
                    .into_iter()
                    .map(|p| ring_formula(op, n, s, bw, p))
                    .fold(f64::INFINITY, f64::min);
                assert!(rel(r.time_s, want) < 1e-9, "{op} n={n} {s}: {} vs {want}", r.time_s);
                assert!(rel(r.algbw_bytes_per_s, s / want) < 1e-9);
                assert!(rel(r.busbw_bytes_per_s, s / want * op.busbw_factor(n)) < 1e-9);
            }
        }
    }
    assert!(checked > 300);
}

/// Large messages: busbw approaches η × link bandwidth (the nccl-tests "bus" figure).
#[test]
fn single_node_ring_busbw_tends_to_eta_link() {
    let f = fabric("dgx-h100");
    let ranks: Vec<u32> = (0..8).collect();
    for op in [Op::AllReduce, Op::ReduceScatter, Op::AllGather] {
        let r = simulate(&f, &ranks, op, 8.0 * 1073741824.0, Some(Algo::Ring), Options::default()).unwrap();
        let limit = ETA_SCALE_UP * 450e9;
        assert!(r.busbw_bytes_per_s <= limit * (1.0 + 1e-12));
        assert!(r.busbw_bytes_per_s > 0.99 * limit, "{op}: {}", r.busbw_bytes_per_s);
    }
}

fn mi300x(op: Op, s: f64, fidelity: Fidelity) -> CollectiveResult {
    let f = fabric("mi300x-node");
    let ranks: Vec<u32> = (0..8).collect();
    simulate(&f, &ranks, op, s, Some(Algo::Direct), opts(fidelity, None)).unwrap()
}

/// MI300X: a full xGMI mesh of 7 × 64 GB/s links per GPU; the direct algorithm uses all seven at
/// once, so its busbw (from the transfer part) is exactly 7 × 64 GB/s × η, and the total at
/// 8 GiB is within 0.1 % of it.
#[test]
fn mi300x_direct_reaches_seven_links() {
    let f = fabric("mi300x-node");
    assert!((f.accel_bandwidth(0, Net::ScaleUp).0 - 7.0 * 64e9).abs() < 1.0);
    let limit = 7.0 * 64e9 * ETA_SCALE_UP;
    for op in [Op::AllReduce, Op::ReduceScatter, Op::AllGather, Op::AllToAll] {
        for fid in [Fidelity::Flow, Fidelity::Analytical] {
            let s = 8.0 * 1073741824.0;
            let r = mi300x(op, s, fid);
            assert_eq!(r.protocol, Protocol::Simple);
            // Take off the staging term between the two phases of an all_reduce (RS then AG).
            let phases = if op == Op::AllReduce { 2 } else { 1 };
            let per_rank = phases as f64 * 7.0 / 8.0 * s;
            let fluid = per_rank / (7.0 * 64e9 * ETA_SCALE_UP);
            let busbw_transfer = s / (r.transfer_s - pipeline_fill(phases, fluid, per_rank)) * op.busbw_factor(8);
            assert!(
                rel(busbw_transfer, limit) < 1e-9,
                "{op} {fid:?}: {busbw_transfer} vs {limit}"
            );
            assert!(
                r.busbw_bytes_per_s <= limit && r.busbw_bytes_per_s > 0.999 * limit,
                "{op}"
            );
        }
    }
}

/// Analytical and flow fidelity agree whenever no link is shared: NVLS (one flow per GPU port),
/// torus rings on a TPU cube, and point-to-point inside a node.
#[test]
fn flow_equals_analytical_without_sharing() {
    let cases: &[(&str, Op, Algo)] = &[
        ("dgx-h100", Op::AllReduce, Algo::Nvls),
        ("dgx-h100", Op::SendRecv, Algo::P2p),
        ("mi300x-node", Op::AllToAll, Algo::Direct),
        ("tpu-v4-pod:slice=4x4x4", Op::AllReduce, Algo::Torus),
    ];
    for &(spec, op, algo) in cases {
        let f = fabric(spec);
        let ranks: Vec<u32> = (0..f.accel_count() as u32).collect();
        let s = 1073741824.0;
        let a = simulate(&f, &ranks, op, s, Some(algo), opts(Fidelity::Flow, None)).unwrap();
        let b = simulate(&f, &ranks, op, s, Some(algo), opts(Fidelity::Analytical, None)).unwrap();
        assert!(
            rel(a.time_s, b.time_s) < 1e-9,
            "{spec} {algo} {op}: {} vs {}",
            a.time_s,
            b.time_s
        );
    }
}

/// Contention is exactly what separates the fidelities: flow ≥ analytical always (the analytical
/// model lets every flow run at its path's bottleneck capacity regardless of sharing).
#[test]
fn flow_never_faster_than_analytical() {
    for spec in [
        "fat-tree:gpus=64",
        "hpn7-pod:segments=1,hosts=4",
        "dgx-h100",
        "tpu-v4-pod:slice=4x4x4",
    ] {
        let f = fabric(spec);
        let ranks: Vec<u32> = (0..f.accel_count() as u32).collect();
        for op in Op::ALL {
            for algo in Algo::ALL {
                let s = 1073741824.0;
                let Ok(a) = simulate(&f, &ranks, op, s, Some(algo), opts(Fidelity::Flow, None)) else {
                    continue;
                };
                let b = simulate(&f, &ranks, op, s, Some(algo), opts(Fidelity::Analytical, None)).unwrap();
                assert!(
                    a.time_s >= b.time_s * (1.0 - 1e-12),
                    "{spec} {algo} {op}: flow {} < analytical {}",
                    a.time_s,
                    b.time_s
                );
            }
        }
    }
}
