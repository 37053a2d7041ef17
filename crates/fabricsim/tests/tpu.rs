//! TPU training as XLA runs it (issue 8 part 1): MaxText's default plan on a slice, mesh axes on
//! the torus, torus collectives on sub-tori, multislice DP over the DCN against its closed form,
//! the TPU compute rule and the MaxText validation rows.

use engine::Fidelity;
use fabric::Fabric;
use fabricsim::scenario;
use fabricsim::train::layout::Dim;
use fabricsim::train::tpu::{self, MaxTextMesh};
use fabricsim::train::{self, TrainOptions, TrainReport};
use workload::{ModelSpec, ParallelPlan};

fn cluster(spec: &str) -> Fabric {
    fabricsim::cluster::load(fabricsim::cluster::Source::Preset(spec))
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
        .1
}

fn model(name: &str) -> ModelSpec {
    workload::registry::lookup(name).unwrap_or_else(|| panic!("no model {name}"))
}

/// The plan `fabricsim train` picks with no plan flags (scenario defaults, least recompute that
/// fits), as the CLI resolves it.
fn default_plan(f: &Fabric, m: &ModelSpec, seq: u64, gbs: u32, mesh: Option<MaxTextMesh>) -> ParallelPlan {
    let mut sc = scenario::parse(scenario::DEFAULT_SCENARIO, "built-in").unwrap();
    sc.batch.seq = Some(seq);
    sc.batch.gbs = Some(gbs);
    let hbm = train::memory::physical_capacity(f);
    let mut p = scenario::plan_on(&sc, f, hbm, m, mesh).unwrap().plan;
    if let Some(r) = train::least_recompute_that_fits(f, m, &p) {
        p.recompute = r;
    }
    p
}

fn run(spec: &str, f: &Fabric, m: &ModelSpec, p: &ParallelPlan) -> TrainReport {
    let cm = train::compute_model_for(f.accel_model).unwrap();
    let o = TrainOptions {
        allow_oom: true,
        ..TrainOptions::new(Fidelity::Flow)
    };
    train::simulate(spec, f, m, p, &cm, &o).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// `train --cluster tpu-v5p-pod:slice=8x8x16 --model llama-3.1-70b --seq 8192 --gbs 1024`:
/// MaxText's default plan (FSDP over the slice, no TP, no PP) at an MFU in 45–75 % (the MaxText
/// v5p rows run at 65–71 %); it was TP 8 · PP 4 at 8.4 % before.
#[test]
fn v5p_default_plan_is_maxtext_fsdp() {
    let spec = "tpu-v5p-pod:slice=8x8x16";
    let f = cluster(spec);
    let m = model("llama-3.1-70b");
    let p = default_plan(&f, &m, 8192, 1024, None);
    assert_eq!((p.tp, p.pp, p.cp, p.dp, p.zero), (1, 1, 1, 1024, 3), "{p:?}");
    let r = run(spec, &f, &m, &p);
    assert!(r.mfu > 0.45 && r.mfu < 0.75, "MFU {:.1} %", r.mfu * 100.0);
    assert!(r.fits);
    // The FSDP collectives run as the TPU runtime's torus rings.
    assert!(
        r.collectives.iter().all(|c| c.algorithm == "torus"),
        "{:?}",
        r.collectives
    );
}

/// Generations without a measured row say so; calibrated ones do not.
#[test]
fn uncalibrated_generations_say_so() {
    for (gen, calibrated) in [
        ("v4", false),
        ("v7", false),
        ("v5p", true),
        ("v5e", true),
        ("v6e", true),
    ] {
        let slice = if matches!(gen, "v5e" | "v6e") { "8x8" } else { "4x4x4" };
        let f = cluster(&format!("tpu-{gen}-pod:slice={slice}"));
        let cm = train::compute_model_for(f.accel_model).unwrap();
        assert!(cm.tpu.is_some(), "{gen}: TPU rule, not the H100 one");
        let said = cm.notes.iter().any(|n| n.contains("uncalibrated"));
        assert_eq!(said, !calibrated, "{gen}: {:?}", cm.notes);
    }
}

/// MaxText's `-1` takes the rest; mesh axes map to TP/CP/DP and ZeRO-3 when an fsdp axis shards.
#[test]
fn maxtext_mesh_resolves() {
    let f = cluster("tpu-v5p-pod:slice=4x4x4");
    let mesh = MaxTextMesh {
        ici_tensor: 4,
        ..MaxTextMesh::default()
    };
    let r = mesh.resolve(&f).unwrap();
    assert_eq!((r.ici_fsdp, r.ici_tensor, r.dcn_data), (16, 4, 1));
    assert_eq!(r.plan_sizes(), (4, 1, 16, 3));
    let pure_dp = MaxTextMesh {
        ici_data: -1,
        ici_fsdp: 1,
        ..MaxTextMesh::default()
    };
    assert_eq!(pure_dp.resolve(&f).unwrap().plan_sizes(), (1, 1, 64, 0));
    let two = cluster("tpu-v5e-pod:slices=2");
    let r = MaxTextMesh::default().resolve(&two).unwrap();
    assert_eq!((r.ici_fsdp, r.dcn_data), (256, 2));
    // TP 4 takes the x dimension of a 4×4×4 cube whole; TP 8 would split y.
    assert!(tpu::placement_notes(&f, &mesh.resolve(&f).unwrap()).is_empty());
    let split = MaxTextMesh {
        ici_tensor: 8,
        ..MaxTextMesh::default()
    };
    assert!(!tpu::placement_notes(&f, &split.resolve(&f).unwrap()).is_empty());
}

/// Groups on whole torus dimensions are sub-tori: TP along x, FSDP over y × z, the whole slice;
/// a contiguous part of a dimension is a box (a line without its wrap-around); a strided group
/// is neither.
#[test]
fn torus_groups_are_sub_tori() {
    let f = cluster("tpu-v5p-pod:slice=4x4x4");
    let st = collective::torus::sub_torus(&f, &[0, 1, 2, 3]).unwrap();
    assert_eq!(st.spans, vec![0]);
    let yz: Vec<u32> = (0..16).map(|i| 1 + 4 * i).collect();
    assert_eq!(collective::torus::sub_torus(&f, &yz).unwrap().spans, vec![1, 2]);
    let all: Vec<u32> = (0..64).collect();
    assert_eq!(collective::torus::sub_torus(&f, &all).unwrap().spans, vec![0, 1, 2]);
    let half = collective::torus::sub_torus(&f, &[0, 1]).unwrap();
    assert_eq!((half.spans.clone(), half.ext), (vec![0], [2, 1, 1]));
    assert!(collective::torus::sub_torus(&f, &[0, 2]).is_none());
    // 8 of a 16-long dimension (a mesh axis that splits it): all-gather bytes as any ring's.
    let f16 = cluster("tpu-v5p-pod:slice=4x4x16");
    let box_ranks: Vec<u32> = (0..128).collect();
    let st = collective::torus::sub_torus(&f16, &box_ranks).unwrap();
    assert_eq!(st.ext, [4, 4, 8]);
    let plan = collective::torus::lower(&f16, &box_ranks, collective::Op::AllGather, 128e6).unwrap();
    let sent: f64 = plan.phases.iter().flat_map(|p| &p.flows).map(|f| f.bytes).sum::<f64>() / 128.0;
    assert!((sent / (128e6 * 127.0 / 128.0) - 1.0).abs() < 1e-9, "{sent}");
    // The TP 4 plan's TP groups are x rings priced with the torus algorithm; no TP flow leaves
    // its x line (the busiest TP links join neighbours 1 apart).
    let m = model("maxtext-32b");
    let p = default_plan(
        &f,
        &m,
        2048,
        448,
        Some(MaxTextMesh {
            ici_tensor: 4,
            ..MaxTextMesh::default()
        }),
    );
    let r = run("tpu-v5p-pod:slice=4x4x4", &f, &m, &p);
    let tp: Vec<_> = r.collectives.iter().filter(|c| c.dimension == "TP").collect();
    assert!(!tp.is_empty() && tp.iter().all(|c| c.algorithm == "torus"), "{tp:?}");
}

/// All dimensions at once: a reduce-scatter over a whole 4×4×4 cube moves the textbook bytes
/// and takes about a third of the time the bucket algorithm (one dimension at a time) would.
#[test]
fn torus_runs_all_dimensions_at_once() {
    let f = cluster("tpu-v4-pod:slice=4x4x4");
    let ranks: Vec<u32> = (0..64).collect();
    let size = 1u64 << 30;
    let plan = collective::simulate::lower(
        &f,
        &ranks,
        collective::Op::ReduceScatter,
        size as f64,
        collective::Algo::Torus,
        1,
    )
    .unwrap();
    assert_eq!(plan.phases.len(), 3);
    // Every phase uses all three dimensions.
    for ph in &plan.phases {
        let mut dims = std::collections::BTreeSet::new();
        for fl in &ph.flows {
            let d = (fl.dst as i64 - fl.src as i64).unsigned_abs();
            dims.insert(if d % 16 == 0 {
                2
            } else if d % 4 == 0 {
                1
            } else {
                0
            });
        }
        assert_eq!(dims.len(), 3);
    }
    // Bytes each chip sends: (n − 1)/n of the data, as any reduce-scatter.
    let sent: f64 = plan.phases.iter().flat_map(|p| &p.flows).map(|f| f.bytes).sum::<f64>() / 64.0;
    assert!((sent / (size as f64 * 63.0 / 64.0) - 1.0).abs() < 1e-9, "{sent}");
}

/// Two v5e slices over the DCN: the priced cross-slice all-reduce agrees with the closed form
/// (gradient shard bytes × 2(S−1)/S ÷ DCN bandwidth per chip), and what the step exposes of the
/// gradient sync follows the overlap rule: max(T − W, T / L) with W the backward less one layer.
#[test]
fn two_slice_dcn_time_matches_closed_form() {
    let spec = "tpu-v5e-pod:slices=2";
    let f = cluster(spec);
    let m = model("llama-3.1-8b");
    let dcn = fabric::catalogue::tpu_core("tpu-v5e").unwrap().dcn_per_chip().0;
    // A short step (little backward to hide behind) and a long one.
    for (seq, gbs) in [(256u64, 512u32), (2048, 512)] {
        let p = default_plan(&f, &m, seq, gbs, None);
        assert_eq!(p.dp, 512);
        let pl = train::layout::place(&f, &m, &p, train::DEFAULT_ORDER, false).unwrap();
        assert_eq!(pl.layout.slices(), 2);
        assert_eq!(pl.layout.groups(Dim::Dcn).len(), 256);
        assert!(pl.layout.groups(Dim::Dp).iter().all(|g| g.len() == 256));
        let mut comm = train::comm::price(&f, &pl, &m, Fidelity::Flow).unwrap();
        let priced = comm
            .collectives
            .iter()
            .find(|c| c.dim == Some(Dim::Dcn))
            .expect("DCN all-reduce");
        let bytes = tpu::dcn_bytes(&pl, &m);
        assert!((bytes - m.params() * 2.0 / 256.0).abs() < 1.0, "{bytes}");
        // The DCN port at the efficiency the collective layer gives every network link
        // (collective::constants::ETA_NET); the priced time adds the ring's latency and NCCL's
        // staging term, a few per cent at this size.
        let closed = tpu::dcn_closed_form(bytes, 2, dcn * collective::constants::ETA_NET);
        let t = priced.cost.seconds;
        assert!(
            t >= closed && (t - closed) / closed < 0.08,
            "DCN {t} s vs closed form {closed} s"
        );
        eprintln!(
            "seq {seq}: DCN all-reduce {:.2} ms, closed form {:.2} ms",
            t * 1e3,
            closed * 1e3
        );
        // Exposure.
        let cm = train::compute_model_for(f.accel_model).unwrap();
        let timings = train::timing::stage_timings(&pl, &m, &cm, &comm);
        let total: f64 = comm
            .dp
            .iter()
            .filter(|s| s.op != collective::Op::AllGather)
            .map(|s| s.cost.seconds)
            .sum();
        let w = &timings.stages[0];
        let window = (w.backward_s + w.recompute_s) * (1.0 - 1.0 / w.layers as f64);
        tpu::overlap_gradient_sync(&f, &pl, &m, &timings, &mut comm);
        let want = (total - window).max(total / m.layers as f64);
        assert!(
            (comm.dp_total - want).abs() < 1e-12 * want.max(1.0),
            "{} vs {want}",
            comm.dp_total
        );
        let dcn_exposed = comm.dp.iter().find(|s| s.dim == Dim::Dcn).unwrap().cost.seconds;
        assert!((dcn_exposed - t * want / total).abs() <= 1e-12 * t);
        eprintln!(
            "seq {seq}: gradient sync {:.2} ms, overlap window {:.2} ms, exposed {:.2} ms (DCN {:.2} ms)",
            total * 1e3,
            window * 1e3,
            want * 1e3,
            dcn_exposed * 1e3
        );
        // The step carries the exposed part (the schedule runs it as flows: within 5 %; the
        // breakdown's DP line also holds the exposed ZeRO-3 gathers, the stage's does not).
        let r = run(spec, &f, &m, &p);
        // Since FSDP reduce-scatters per layer during the backward (issue 8 part 4), only the
        // DCN all-reduce is left for the end of the step and the backward hides all but its
        // last layer's share (T / L, under a millisecond): 5 % or 0.1 ms, whichever is larger.
        let got = r.stages[0].dp_comm_s;
        assert!((got - want).abs() <= (0.05 * want).max(1e-4), "{got} vs {want}");
    }
}

/// The four MaxText rows run (they were skipped: "no standard system") within ±15 %.
#[test]
fn maxtext_rows_compare() {
    let r = fabricsim::validate_training::training(include_str!("../../../testdata/training.csv")).unwrap();
    for id in ["T077", "T079", "T081", "T085"] {
        let row = r
            .rows
            .iter()
            .find(|c| c.row_id == id)
            .unwrap_or_else(|| panic!("{id} not compared: {:?}", r.skipped.iter().find(|s| s.row_id == id)));
        assert!(row.error_pct.abs() <= 15.0, "{id}: {:.1} %", row.error_pct);
    }
}

/// A multislice job shards inside each slice and replicates across slices: the report's FSDP
/// shard group is the in-slice data parallelism, the replicas the slices.
#[test]
fn multislice_reports_in_slice_shard_groups() {
    let spec = "tpu-v5e-pod:slices=2";
    let f = cluster(spec);
    let m = model("llama-3.1-8b");
    let p = default_plan(&f, &m, 2048, 512, None);
    let r = run(spec, &f, &m, &p);
    assert_eq!((r.plan.fsdp_shard_group, r.plan.hsdp_replicas), (256, 2));
}
