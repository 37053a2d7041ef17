//! Mixed-accelerator clusters outside `train`: `sweep` grids with `mixed:` clusters and mixed
//! cluster files, the `pool_shares` and `mixed_balance` axes (shards merged equal the unsharded
//! run byte for byte; rows carry what `train --json` prints for the same point), `topo` per
//! pool with the pool link, and `plan` refusing a mixed cluster with a pointer to what does
//! take one.

mod common;

use common::{json_sub, run_sub};
use serde_json::Value;
use std::path::PathBuf;

const MIXED: &str = "mixed:first=dgx-h100,first_gpus=64,second=dgx-a100,second_gpus=64,link=rdma";

/// A grid of 3 pool shares × 2 modes on one mixed cluster, then one ordinary point (7 points:
/// shares are uneven over 4 shards, and one grid holds both kinds of row).
fn grid() -> String {
    format!(
        r#"
[[train]]
clusters = ["{MIXED}"]
pool_shares = [0.25, 0.5, 0.75]
models = ["llama-3.1-8b"]
plans = [{{ tp = 8, pp = 4 }}]
mixed_balance = ["pp", "dp"]
seq = 4096
gbs = 64
fidelity = "analytical"

[[train]]
clusters = ["fat-tree:gpus=64"]
models = ["llama-3.1-8b"]
plans = [{{ tp = 8, pp = 1 }}]
seq = 4096
gbs = 64
fidelity = "analytical"
"#
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("mixed-sweep-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn ok(sub: &str, args: &[&str]) -> String {
    let o = run_sub(sub, args);
    assert!(
        o.status.success(),
        "{sub} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

/// Exit 2 with every fragment in stderr.
fn fails(sub: &str, args: &[&str], fragments: &[&str]) {
    let o = run_sub(sub, args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{sub} {args:?}: {e}");
    assert!(!e.contains("panicked"), "{e}");
    for f in fragments {
        assert!(e.contains(f), "{sub} {args:?}: `{e}` lacks `{f}`");
    }
}

#[test]
fn mixed_grid_shards_merged_equal_the_unsharded_run_byte_for_byte() {
    let dir = temp_dir("shards");
    let g = dir.join("grid.toml");
    std::fs::write(&g, grid()).unwrap();
    let g = g.to_str().unwrap();
    for json in [false, true] {
        let ext = if json { "json" } else { "csv" };
        let fmt: &[&str] = if json { &["--json"] } else { &[] };
        let whole_path = dir.join(format!("whole.{ext}"));
        let whole_path = whole_path.to_str().unwrap();
        ok("sweep", &[&[g, "-o", whole_path], fmt].concat());
        let mut parts = Vec::new();
        for i in 0..4 {
            let p = dir.join(format!("part{i}.{ext}")).to_str().unwrap().to_string();
            let shard = format!("{i}/4");
            ok("sweep", &[&[g, "--shard", &shard, "-o", &p], fmt].concat());
            parts.push(p);
        }
        parts.reverse();
        let args: Vec<&str> = parts.iter().map(String::as_str).collect();
        let merged = ok("merge", &args);
        let whole = std::fs::read_to_string(whole_path).unwrap();
        assert_eq!(merged, whole, "{ext}");
        if !json {
            let head = whole.lines().next().unwrap();
            assert!(
                head.ends_with(",protocol,error,mixed_balance,mixed_balance_used,first_pool_gpus,second_pool_gpus,first_pool_share_fraction,ideal_tokens_per_s,efficiency_vs_ideal_fraction,naive_split_efficiency_fraction"),
                "{head}"
            );
            assert_eq!(whole.lines().count(), 8, "{whole}");
        }
    }
}

/// A grid naming a mixed cluster file (`[[pool]]` tables): the CLI reads it; its rows are
/// those of the same pools as a `mixed:` spec; shards merged equal the unsharded run byte for
/// byte; shares run against different contents of the file are of different grids (merge
/// refuses them); a missing or malformed file exits 2 naming the field and the file.
#[test]
fn mixed_cluster_files_in_a_grid_shard_merge_and_fingerprint_their_content() {
    let dir = temp_dir("file");
    let pools = dir.join("pools.toml");
    let pools_path = pools.to_str().unwrap().to_string();
    let pools_text = "[[pool]]\nname = \"h100\"\nnode = \"dgx-h100\"\ngpus = 64\n[[pool]]\nname = \"a100\"\nnode = \"dgx-a100\"\ngpus = 64\n[pool_link]\nkind = \"rdma\"\n";
    std::fs::write(&pools, pools_text).unwrap();
    let g = dir.join("grid.toml");
    std::fs::write(&g, grid().replace(MIXED, &pools_path)).unwrap();
    let g = g.to_str().unwrap();
    let whole = ok("sweep", &[g, "--json"]);
    let v: Value = serde_json::from_str(&whole).unwrap();
    let spec_grid = dir.join("spec.toml");
    std::fs::write(&spec_grid, grid()).unwrap();
    let w: Value = serde_json::from_str(&ok("sweep", &[spec_grid.to_str().unwrap(), "--json"])).unwrap();
    assert_ne!(v["grid_fingerprint"], w["grid_fingerprint"]);
    for (a, b) in rows(&v)[..6].iter().zip(&rows(&w)[..6]) {
        assert!(a["error"].is_null(), "{a}");
        assert_eq!(a["cluster"], pools_path.as_str());
        for k in [
            "step_time_s",
            "mfu",
            "first_pool_gpus",
            "first_pool_share_fraction",
            "efficiency_vs_ideal_fraction",
            "naive_split_efficiency_fraction",
        ] {
            assert_eq!(a[k], b[k], "{k}");
        }
    }
    // Shards merged = the unsharded run, byte for byte (CSV).
    let whole_csv = ok("sweep", &[g]);
    let part = |i: usize| {
        let p = dir.join(format!("part{i}.csv")).to_str().unwrap().to_string();
        ok("sweep", &[g, "--shard", &format!("{i}/3"), "-o", &p]);
        p
    };
    let parts: Vec<String> = (0..3).map(part).collect();
    let args: Vec<&str> = parts.iter().map(String::as_str).collect();
    assert_eq!(ok("merge", &args), whole_csv);
    // The file changes between shares: another fingerprint, and merge refuses.
    std::fs::write(
        &pools,
        pools_text.replace("gpus = 64\n[pool_link]", "gpus = 128\n[pool_link]"),
    )
    .unwrap();
    let changed = ok("sweep", &[g, "--count"]);
    assert!(!changed.contains(v["grid_fingerprint"].as_str().unwrap()), "{changed}");
    let p1 = part(1);
    fails("merge", &[&parts[0], &p1, &parts[2]], &["another grid"]);
    // Missing or malformed: exit 2 naming the grid field and the file.
    for (text, want) in [
        (None, "cannot read cluster file"),
        (
            Some("[[pool]]\nname = \"a\"\nnode = \"dgx-h100\"\n"),
            "`node` needs `gpus`",
        ),
        (Some("[[pool]] x"), "is not TOML"),
    ] {
        match text {
            Some(t) => std::fs::write(&pools, t).unwrap(),
            None => std::fs::remove_file(&pools).unwrap(),
        }
        fails("sweep", &[g], &[g, "train[0].clusters[0]", &pools_path, want]);
    }
}

fn rows(v: &Value) -> &Vec<Value> {
    v["rows"].as_array().expect("rows")
}

/// Each mixed row is `train --json` on the resized cluster with the same balancing; the
/// ordinary row has the mixed keys null; naive < balanced ≤ 1.
#[test]
fn mixed_rows_carry_what_train_prints() {
    let dir = temp_dir("rows");
    let g = dir.join("grid.toml");
    std::fs::write(&g, grid()).unwrap();
    let html = dir.join("sweep.html");
    let out = ok(
        "sweep",
        &[g.to_str().unwrap(), "--json", "--html", html.to_str().unwrap()],
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("efficiency against the ideal by the first pool"),
        "no mixed chart"
    );
    assert!(
        page.contains("dgx-h100 + dgx-a100 (rdma) · llama-3.1-8b · tp=8,pp=4 · pp"),
        "no mixed line"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = rows(&v);
    assert_eq!(rows.len(), 7);
    let firsts: Vec<u64> = rows[..6]
        .iter()
        .map(|r| r["first_pool_gpus"].as_u64().unwrap())
        .collect();
    assert_eq!(firsts, [32, 32, 64, 64, 96, 96]);
    for r in &rows[..6] {
        assert!(r["error"].is_null(), "{r}");
        let cluster = r["cluster"].as_str().unwrap();
        assert!(cluster.starts_with("mixed:first=dgx-h100,first_gpus="), "{cluster}");
        let bal = r["mixed_balance"].as_str().unwrap();
        assert_eq!(r["mixed_balance_used"], r["mixed_balance"]);
        let t = json_sub(
            "train",
            &[
                "--cluster",
                cluster,
                "--model",
                "llama-3.1-8b",
                "--tp",
                "8",
                "--pp",
                "4",
                "--seq",
                "4096",
                "--gbs",
                "64",
                "--fidelity",
                "analytical",
                "--mixed-balance",
                bal,
            ],
        );
        for k in [
            "step_time_s",
            "tokens_per_s",
            "efficiency_vs_ideal_fraction",
            "naive_split_efficiency_fraction",
            "ideal_tokens_per_s",
        ] {
            assert_eq!(r[k], t[k], "{k} of {cluster} {bal}");
        }
        let eff = r["efficiency_vs_ideal_fraction"].as_f64().unwrap();
        let naive = r["naive_split_efficiency_fraction"].as_f64().unwrap();
        assert!(eff > 0.0 && eff <= 1.0, "{r}");
        assert!(naive <= eff + 1e-12, "{r}");
        let mfu = r["mfu"].as_f64().unwrap();
        assert!(mfu > 0.0 && mfu < 1.0, "{r}");
        assert_eq!(r["accelerators_used"], 128);
    }
    let plain = &rows[6];
    assert_eq!(plain["cluster"], "fat-tree:gpus=64");
    assert!(plain["step_time_s"].as_f64().unwrap() > 0.0);
    assert!(plain["efficiency_vs_ideal_fraction"].is_null());
    assert!(plain["mixed_balance"].is_null());
}

/// A grid without mixed clusters writes the columns and keys it always did.
#[test]
fn grids_without_mixed_clusters_keep_their_columns() {
    let dir = temp_dir("plain");
    let g = dir.join("grid.toml");
    std::fs::write(
        &g,
        "[[train]]\nclusters = [\"fat-tree:gpus=64\"]\nmodels = [\"llama-3.1-8b\"]\nplans = [{ tp = 8 }]\ngbs = 64\nseq = 4096\nfidelity = \"analytical\"\n",
    )
    .unwrap();
    let csv = ok("sweep", &[g.to_str().unwrap()]);
    assert!(
        csv.lines().next().unwrap().ends_with(",algorithm,protocol,error"),
        "{csv}"
    );
    let json = ok("sweep", &[g.to_str().unwrap(), "--json"]);
    assert!(
        !json.contains("mixed_balance") && !json.contains("efficiency_vs_ideal"),
        "{json}"
    );
}

#[test]
fn bad_mixed_grids_exit_2_naming_the_field() {
    let dir = temp_dir("bad");
    let cases: &[(&str, &[&str])] = &[
        (
            "[[train]]\nclusters = [\"fat-tree:gpus=64\"]\nmodels = [\"llama-3.1-8b\"]\nmixed_balance = [\"pp\"]\n",
            &["train[0].clusters[0]", "not a mixed-accelerator cluster"],
        ),
        (
            "[[train]]\nclusters = [\"mixed:first_gpus=64,second_gpus=64\"]\nmodels = [\"llama-3.1-8b\"]\nmixed_balance = [\"zz\"]\n",
            &["train[0].mixed_balance[0]", "`zz`", "pp, dp or best"],
        ),
        (
            "[[train]]\nclusters = [\"mixed:first_gpus=64,second_gpus=64\"]\nmodels = [\"llama-3.1-8b\"]\npool_shares = [0.5, 1.5]\n",
            &["train[0].pool_shares[1]", "(0, 1)"],
        ),
        (
            "[[train]]\nclusters = [\"mixed:first_gpus=64,second_gpus=64\"]\nmodels = [\"llama-3.1-8b\"]\ngpus = [64]\n",
            &["train[0].gpus", "pool_shares"],
        ),
        (
            "[[train]]\nclusters = [\"mixed:first_gpus=64,colour=red\"]\nmodels = [\"llama-3.1-8b\"]\n",
            &["train[0].clusters[0]", "unknown parameter `colour`"],
        ),
        (
            "[[train]]\nclusters = [\"mixed:first_gpus=8,second_gpus=0\"]\nmodels = [\"llama-3.1-8b\"]\npool_shares = [0.5]\n",
            &["train[0].pool_shares[0]", "at least 16"],
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let g = dir.join(format!("bad{i}.toml"));
        std::fs::write(&g, text).unwrap();
        let mut want = want.to_vec();
        let name = g.to_str().unwrap().to_string();
        want.push(&name);
        fails("sweep", &[&name], &want);
    }
    // A mixed point that cannot run (no link between the pools) is a row with its error.
    let g = dir.join("nolink.toml");
    std::fs::write(
        &g,
        "[[train]]\nclusters = [\"mixed:first_gpus=64,second_gpus=64,link=none\"]\nmodels = [\"llama-3.1-8b\"]\nplans = [{ tp = 8, pp = 4 }]\ngbs = 64\nfidelity = \"analytical\"\n",
    )
    .unwrap();
    let out = ok("sweep", &[g.to_str().unwrap(), "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let e = rows(&v)[0]["error"].as_str().unwrap().to_string();
    assert!(e.contains("no link between pools"), "{e}");
}

#[test]
fn topo_on_a_mixed_cluster_summarises_each_pool_and_the_link() {
    let v = json_sub("topo", &[MIXED]);
    assert_eq!(v["kind"], "mixed_topo");
    assert_eq!(v["accelerator_count"], 128);
    let pools = v["pools"].as_array().unwrap();
    assert_eq!(pools.len(), 2);
    assert_eq!(pools[0]["topo"]["accelerators"]["model"], "h100");
    assert_eq!(pools[1]["topo"]["accelerators"]["model"], "a100");
    // Each pool is what `topo` says of its cluster alone.
    let alone = json_sub("topo", &[pools[1]["cluster"].as_str().unwrap()]);
    assert_eq!(pools[1]["topo"], alone);
    let it: f64 = pools.iter().map(|p| p["topo"]["it_power_w"].as_f64().unwrap()).sum();
    assert!((v["it_power_w"].as_f64().unwrap() - it).abs() < 1e-6);
    assert_eq!(v["pool_link"]["kind"], "rdma");
    assert!(v["pool_link"]["capacity_bytes_per_s"].as_f64().unwrap() > 0.0);
    let text = ok(
        "topo",
        &["mixed:first=dgx-h100,first_gpus=64,second=ascend-910c,second_gpus=64,link=cpu-forwarding"],
    );
    for want in [
        "2 pools, 128 accelerators",
        "pool link      cpu-forwarding",
        "=== pool `first` ===",
        "=== pool `second` ===",
        "bill of materials",
    ] {
        assert!(text.contains(want), "`{want}` missing:\n{text}");
    }
    // A cluster TOML with [[pool]] tables too.
    let dir = temp_dir("topo");
    let f = dir.join("mixed.toml");
    std::fs::write(
        &f,
        "[[pool]]\nname = \"h100\"\nnode = \"dgx-h100\"\ngpus = 64\n[[pool]]\nname = \"a100\"\ncluster = \"fat-tree:gpus=64,node=dgx-a100\"\n[pool_link]\nkind = \"rdma\"\n",
    )
    .unwrap();
    let t = json_sub("topo", &[f.to_str().unwrap()]);
    assert_eq!(t["pools"][0]["name"], "h100");
    assert_eq!(t["pools"][1]["topo"]["accelerators"]["count"], 64);
}

#[test]
fn topo_bad_mixed_input_exits_2_naming_the_problem() {
    fails(
        "topo",
        &["mixed:first_gpus=64,second_gpus=64,link=none"],
        &["no link between pools"],
    );
    fails(
        "topo",
        &["mixed:first=dgx-z900,first_gpus=64"],
        &["unknown pool node type `dgx-z900`"],
    );
    fails(
        "topo",
        &["mixed:first_gpus=64,link=carrier-pigeon"],
        &["mixed:link", "carrier-pigeon"],
    );
    fails(
        "topo",
        &["mixed:first_gpus=64,second=ascend-910c,second_gpus=12"],
        &["pool `second`", "multiple of 8"],
    );
}

#[test]
fn plan_and_one_fabric_commands_refuse_a_mixed_cluster_clearly() {
    fails(
        "plan",
        &["--cluster", MIXED, "--model", "llama-3.1-8b", "--gbs", "64"],
        &[
            "does not search plans over a mixed-accelerator cluster",
            "--mixed-sweep",
            "examples/sweep-mixed.toml",
        ],
    );
    fails(
        "collective",
        &["--cluster", MIXED, "--op", "all_reduce", "--size", "1M"],
        &["mixed-accelerator cluster", "needs one fabric"],
    );
}
