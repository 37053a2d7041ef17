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

/// The grid's `max_memory` bounds mixed points by the rule of ordinary ones, pool by pool: a
/// pool whose part of the run is estimated above the cap refuses the point, naming the pool;
/// the small cluster's point runs under the same cap.
#[test]
fn max_memory_bounds_mixed_points_pool_by_pool() {
    let grid = |cap: &str| {
        format!(
            r#"{cap}
[[train]]
clusters = ["mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=64,link=rdma",
            "mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=16384,link=rdma"]
models = ["llama-3.1-8b"]
plans = [{{ tp = 8, pp = 4 }}]
mixed_balance = ["pp"]
seq = 4096
gbs = 64
fidelity = "analytical"
"#
        )
    };
    let run = |text: &str| sweep::run(&Grid::parse(text, "m.toml").unwrap(), Shard::ALL, &load, &|_, _| {});
    let capped = run(&grid("max_memory = \"32M\""));
    assert!(capped.rows[0].error.is_none(), "{:?}", capped.rows[0].error);
    let e = capped.rows[1].error.clone().unwrap();
    assert!(
        e.contains("pool `second` (`fat-tree:gpus=16384,node=dgx-a100`)")
            && e.contains("above max_memory 32 MiB")
            && e.contains("largest part"),
        "{e}"
    );
    // The 16,384-accelerator pool of the same job as an ordinary cluster: refused too.
    let plain = run(&grid("max_memory = \"32M\"")
        .replace("mixed_balance = [\"pp\"]\n", "")
        .replace(
            "\"mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=64,link=rdma\",\n            \"mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=16384,link=rdma\"",
            "\"fat-tree:gpus=16384,node=dgx-a100\"",
        )
        .replace("gbs = 64", "gbs = 512"));
    let e = plain.rows[0].error.clone().unwrap();
    assert!(e.contains("above max_memory 32 MiB"), "{e}");
    // Under the default cap (2 GiB) the pool is not refused for memory.
    let free = run(&grid(""));
    assert!(free.rows[0].error.is_none());
    assert!(
        !free.rows[1].error.as_deref().unwrap_or("").contains("max_memory"),
        "{:?}",
        free.rows[1].error
    );
}

/// A mixed cluster file the caller read: its points are those of the same pools as a `mixed:`
/// spec (same results), `pool_shares` resize its node-typed pools, its content is in the
/// fingerprint (layout and comments are not), and without the file's text the grid is as
/// before (the point carries the loader's error).
#[test]
fn mixed_cluster_files_expand_like_mixed_specs() {
    let file = "# two pools\n[[pool]]\nname = \"h100\"\nnode = \"dgx-h100\"\ngpus = 64\n[[pool]]\nname = \"a100\"\nnode = \"dgx-a100\"\ngpus = 64\n[pool_link]\nkind = \"rdma\"\n";
    let from_file = GRID.replace(
        "\"mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=64,link=rdma\"",
        "\"dir/pools.toml\"",
    );
    assert_eq!(
        sweep::cluster_files(&from_file, "g.toml").unwrap(),
        [sweep::FileRef {
            field: "train[0].clusters[0]".into(),
            path: "dir/pools.toml".into()
        }]
    );
    let files = |text: &str| sweep::ClusterFiles::from([("dir/pools.toml".to_string(), Ok(text.to_string()))]);
    let g = Grid::parse_with(&from_file, "g.toml", &files(file)).unwrap();
    let spec = Grid::parse(GRID, "g.toml").unwrap();
    assert_eq!(g.points.len(), spec.points.len());
    let a = sweep::run(&g, Shard::ALL, &load, &|_, _| {});
    let b = sweep::run(&spec, Shard::ALL, &load, &|_, _| {});
    assert_eq!(
        a.errors(),
        0,
        "{:?}",
        a.rows.iter().map(|r| &r.error).collect::<Vec<_>>()
    );
    for (x, y) in a.rows.iter().zip(&b.rows) {
        assert_eq!(x.cluster, "dir/pools.toml");
        assert_eq!(x.step_time_s, y.step_time_s);
        assert_eq!(x.mixed, y.mixed);
    }
    // Layout and comments: same fingerprint; another pool size: another one.
    let relaid = file.replace("# two pools\n", "").replace(" = ", "=");
    assert_eq!(
        Grid::parse_with(&from_file, "g.toml", &files(&relaid))
            .unwrap()
            .fingerprint,
        g.fingerprint
    );
    let other = file.replace("gpus = 64\n[pool_link]", "gpus = 128\n[pool_link]");
    assert_ne!(
        Grid::parse_with(&from_file, "g.toml", &files(&other))
            .unwrap()
            .fingerprint,
        g.fingerprint
    );
    // Unreadable or malformed: refused naming the field and the file.
    for (found, want) in [
        (
            Err("no such file".to_string()),
            "cannot read cluster file `dir/pools.toml`: no such file",
        ),
        (
            Ok("[[pool]] x".to_string()),
            "cluster file `dir/pools.toml` is not TOML",
        ),
        (
            Ok("[[pool]]\nname = \"a\"\nnode = \"dgx-h100\"\n".to_string()),
            "`node` needs `gpus`",
        ),
        (
            Ok("[[pool]]\nnode = \"dgx-h100\"\ngpus = 8\n".to_string()),
            "at least two [[pool]] tables",
        ),
    ] {
        let fs = sweep::ClusterFiles::from([("dir/pools.toml".to_string(), found)]);
        let e = Grid::parse_with(&from_file, "g.toml", &fs).unwrap_err();
        assert!(
            e.starts_with("g.toml: train[0].clusters[0]: ") && e.contains("dir/pools.toml") && e.contains(want),
            "{e}"
        );
    }
    // Without the text (a caller that reads no files), the error says the file was not read.
    let e = Grid::parse(&from_file, "g.toml").unwrap_err();
    assert!(
        e.contains("train[0].clusters[0]") && e.contains("dir/pools.toml") && e.contains("was not read"),
        "{e}"
    );
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
