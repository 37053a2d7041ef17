//! Mixed-accelerator clusters through the library's outer rooms: a sweep grid with `mixed:`
//! clusters (every split merged is the whole; each row is `job::train_mixed` of its point;
//! MFU against Σ pools' peaks) and `mixed::topo` (each pool is `topo` of its cluster; totals
//! are sums).

use fabric::topology::clos::ClusterSpec;
use fabric::Fabric;
use fabricsim::job::{self, TrainInputs};
use fabricsim::sweep::{self, Grid, Shard};

fn load(spec: &str) -> Result<(ClusterSpec, Fabric), String> {
    fabricsim::cluster::load(fabricsim::cluster::Source::Preset(spec)).map_err(|e| e.to_string())
}

const GRID: &str = r#"
[[train]]
clusters = ["mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=64,link=rdma"]
pool_shares = [0.25, 0.75]
models = ["llama-3.1-8b"]
plans = [{ tp = 8, pp = 4 }]
mixed_balance = ["pp", "dp", "best"]
seq = 4096
gbs = 64
fidelity = "analytical"
"#;

#[test]
fn mixed_grid_rows_are_their_points_and_shards_merge_to_the_whole() {
    let g = Grid::parse(GRID, "g.toml").unwrap();
    assert_eq!(g.points.len(), 6);
    let whole = sweep::run(&g, Shard::ALL, &load, &|_, _| {});
    assert!(whole.mixed_columns);
    assert_eq!(
        whole.errors(),
        0,
        "{:?}",
        whole.rows.iter().map(|r| &r.error).collect::<Vec<_>>()
    );
    for (row, p) in whole.rows.iter().zip(&g.points) {
        let sweep::Job::Train { inputs, .. } = &p.job else {
            unreachable!()
        };
        let m = job::train_mixed(inputs, &load).unwrap();
        let c = row.mixed.as_ref().unwrap();
        assert_eq!(row.step_time_s, Some(m.report.step_time_s));
        assert_eq!(
            c.efficiency_vs_ideal_fraction,
            Some(m.report.efficiency_vs_ideal_fraction)
        );
        assert_eq!(
            c.naive_split_efficiency_fraction,
            Some(m.report.naive_split_efficiency_fraction)
        );
        let (eff, naive) = (
            c.efficiency_vs_ideal_fraction.unwrap(),
            c.naive_split_efficiency_fraction.unwrap(),
        );
        assert!(
            naive < eff && eff <= 1.0,
            "point {}: naive {naive}, balanced {eff}",
            row.point
        );
        // MFU: model FLOPs over Σ pools' accelerators × dense BF16 peak.
        let mfu = row.mfu.unwrap();
        assert!(mfu > 0.1 && mfu < 0.8, "{mfu}");
        // best is the better of pp and dp.
        if c.mixed_balance.as_deref() == Some("best") {
            let i = row.point as usize;
            let (pp, dp) = (&whole.rows[i - 2], &whole.rows[i - 1]);
            let best = pp.tokens_per_s.unwrap().max(dp.tokens_per_s.unwrap());
            assert_eq!(row.tokens_per_s, Some(best));
        }
    }
    let (csv, json) = (sweep::to_csv(&whole).unwrap(), sweep::to_json(&whole));
    for k in [2u64, 4] {
        let parts: Vec<_> = (0..k)
            .map(|i| sweep::run(&g, Shard { index: i, count: k }, &load, &|_, _| {}))
            .collect();
        let csvs: Vec<String> = parts.iter().map(|p| sweep::to_csv(p).unwrap()).collect();
        let jsons: Vec<String> = parts.iter().map(sweep::to_json).collect();
        let m = |v: &[String]| {
            sweep::merge(
                &v.iter()
                    .map(|t| sweep::Share { name: "s", text: t })
                    .collect::<Vec<_>>(),
            )
            .unwrap()
        };
        assert_eq!(m(&csvs), csv, "csv k={k}");
        assert_eq!(m(&jsons), json, "json k={k}");
    }
}

#[test]
fn train_mixed_refuses_what_it_cannot_run() {
    let base = TrainInputs {
        cluster: Some("mixed:first_gpus=64,second_gpus=64".into()),
        model: Some("llama-3.1-8b".into()),
        tp: Some(8),
        pp: Some(4),
        gbs: Some(64),
        fidelity: Some("analytical".into()),
        ..TrainInputs::default()
    };
    let err = |x: TrainInputs| job::train_mixed(&x, &load).err().unwrap();
    let e = err(TrainInputs {
        mixed_balance: Some("zigzag".into()),
        ..base.clone()
    });
    assert!(e.contains("zigzag") && e.contains("pp, dp or best"), "{e}");
    let e = err(TrainInputs {
        cluster: Some("fat-tree:gpus=64".into()),
        ..base.clone()
    });
    assert!(e.contains("not a mixed-accelerator cluster"), "{e}");
    let e = err(TrainInputs {
        cross_site: Some("pp".into()),
        ..base.clone()
    });
    assert!(e.contains("not sites"), "{e}");
    let e = err(TrainInputs {
        cluster: Some("mixed:first_gpus=64,second_gpus=64,link=none".into()),
        ..base
    });
    assert!(e.contains("no link between pools"), "{e}");
}

#[test]
fn mixed_topo_is_each_pool_topo_plus_the_link() {
    let spec = fabricsim::mixed::parse_preset(
        "mixed:first=dgx-h100,first_gpus=64,second=ascend-910c,second_gpus=64,link=cpu-forwarding",
    )
    .unwrap();
    let opts = fabricsim::topo::TopoOptions::default();
    let r = fabricsim::mixed::topo::report("m", &spec, &load, &opts, None).unwrap();
    assert_eq!(r.accelerator_count, 128);
    assert_eq!(r.pool_link.kind, "cpu-forwarding");
    for p in &r.pools {
        let (c, f) = load(&p.cluster).unwrap();
        let alone = fabricsim::topo::report(&c, &f, &opts);
        assert_eq!(
            serde_json::to_string(&p.topo).unwrap(),
            serde_json::to_string(&alone).unwrap()
        );
    }
    let it: f64 = r.pools.iter().map(|p| p.topo.it_power_w).sum();
    assert_eq!(r.it_power_w, it);
    let cost: f64 = r.pools.iter().map(|p| p.topo.cost_usd).sum();
    assert_eq!(r.cost_usd, cost);
    let one = fabricsim::mixed::MixedSpec {
        pools: spec.pools[..1].to_vec(),
        link: spec.link.clone(),
    };
    let e = fabricsim::mixed::topo::report("m", &one, &load, &opts, None).unwrap_err();
    assert!(e.contains("at least two pools"), "{e}");
}
