//! Mixed-accelerator clusters as a library: naive ≤ balanced ≤ ideal over pool ratios, the
//! layer split under each pool's memory, the pool link priced at the slower side, bad input.

use engine::Fidelity;
use fabric::Fabric;
use fabricsim::mixed::{self, Balance, MixedOptions, MixedReport, Pool};
use workload::{ModelSpec, ParallelPlan, Precision, Recompute};

fn fabric(spec: &str) -> Fabric {
    fabricsim::cluster::load(fabricsim::cluster::Source::Preset(spec))
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
        .1
}

fn pool(name: &str, spec: &str) -> Pool {
    let f = fabric(spec);
    let mut cm = fabricsim::train::compute_model_for(f.accel_model).expect("compute model");
    cm.framework = workload::Framework::default_for(f.accel_model).profile();
    Pool {
        name: name.into(),
        cluster: spec.into(),
        fabric: f,
        cm,
    }
}

fn model(name: &str) -> ModelSpec {
    workload::registry::lookup(name).unwrap_or_else(|| panic!("no model {name}"))
}

fn plan(tp: u32, pp: u32, dp: u32, gbs: u32) -> ParallelPlan {
    ParallelPlan {
        tp,
        pp,
        dp,
        cp: 1,
        ep: 1,
        vp: 1,
        mbs: 1,
        gbs,
        seq: 4096,
        zero: 1,
        recompute: Recompute::Selective,
        precision: Precision::Bf16,
        sequence_parallel: tp > 1,
        tp_comm_overlap: false,
        layers_per_stage: None,
        hsdp_shard: None,
    }
}

fn opts(balance: Balance) -> MixedOptions {
    MixedOptions {
        fidelity: Fidelity::Analytical,
        in_network: collective::InNetwork::default(),
        order: fabricsim::train::DEFAULT_ORDER,
        balance,
        recompute_given: false,
    }
}

fn rdma() -> mixed::spec::PoolLinkSpec {
    mixed::spec::PoolLinkSpec {
        kind: mixed::LinkKind::Rdma,
        nics: None,
        hosts: None,
    }
}

fn run(pools: &[Pool], m: &ModelSpec, p: &ParallelPlan, balance: Balance) -> Result<MixedReport, String> {
    let named: Vec<(&str, &Fabric)> = pools.iter().map(|p| (p.name.as_str(), &p.fabric)).collect();
    let link = mixed::link::price(Some(&rdma()), &named, "pool_link")?;
    mixed::run("test", pools, &link, m, p, &opts(balance))
}

#[test]
fn naive_le_balanced_le_ideal_over_pool_ratios() {
    let m = model("llama-3.1-8b");
    // 128 accelerators in all, TP 8 · PP 4 → DP 4 in the pipeline mode; the H100 share varies.
    for (h100, a100) in [(32u32, 96u32), (64, 64), (96, 32)] {
        let pools = [
            pool("h100", &format!("fat-tree:gpus={h100},node=dgx-h100")),
            pool("a100", &format!("fat-tree:gpus={a100},node=dgx-a100")),
        ];
        let r = run(&pools, &m, &plan(8, 4, 4, 64), Balance::Best).unwrap();
        assert_eq!(r.modes.len(), 2, "{h100}+{a100}: both modes run: {:?}", r.modes_skipped);
        for md in &r.modes {
            let (b, n) = (md.efficiency_vs_ideal_fraction, md.naive_split_efficiency_fraction);
            assert!(
                n > 0.0 && n <= b + 1e-12,
                "{h100}+{a100} {}: naive {n} ≤ balanced {b}",
                md.balance
            );
            assert!(b <= 1.0, "{h100}+{a100} {}: balanced {b} ≤ ideal", md.balance);
        }
        // The faster pool takes the larger share of the layers (pp) and micro-batches (dp) per
        // accelerator.
        let pp = &r.modes[0];
        let share = pp.pools[0].layer_share_fraction.unwrap();
        assert!(share > h100 as f64 / 128.0, "{h100}+{a100}: H100 layer share {share}");
        let dp = &r.modes[1];
        let share = dp.pools[0].microbatch_share_fraction.unwrap();
        assert!(
            share > h100 as f64 / 128.0,
            "{h100}+{a100}: H100 micro-batch share {share}"
        );
        assert!(r.efficiency_vs_ideal_fraction >= pp.efficiency_vs_ideal_fraction.min(dp.efficiency_vs_ideal_fraction));
    }
}

#[test]
fn layer_split_respects_each_pools_memory() {
    // 70B on 32 + 32 accelerators, PP 4: two stages per pool, 20 layers each when even — the
    // balanced split must keep every stage within its own pool's HBM.
    let m = model("llama-3.1-70b");
    let pools = [
        pool("h100", "fat-tree:gpus=32,node=dgx-h100"),
        pool("a100", "fat-tree:gpus=32,node=dgx-a100"),
    ];
    let mut p = plan(8, 4, 2, 32);
    p.recompute = Recompute::Full;
    let mut o = opts(Balance::Pp);
    o.recompute_given = true;
    let named: Vec<(&str, &Fabric)> = pools.iter().map(|p| (p.name.as_str(), &p.fabric)).collect();
    let link = mixed::link::price(Some(&rdma()), &named, "pool_link").unwrap();
    let r = mixed::run("test", &pools, &link, &m, &p, &o).unwrap();
    let md = &r.modes[0];
    let split = md.layers_per_stage.clone().unwrap();
    assert_eq!(split.iter().sum::<u32>(), m.layers);
    let with = ParallelPlan {
        layers_per_stage: Some(split.clone()),
        ..p.clone()
    };
    for (s, _) in split.iter().enumerate() {
        let pool = &pools[s / 2];
        let used = fabricsim::train::memory::stage_memory(&m, &with, s as u32).total();
        let cap = fabricsim::train::memory::capacity(&pool.fabric);
        assert!(used <= cap, "stage {s} on {}: {used} > {cap}", pool.name);
    }
    // Where the memory limit binds, the report says what the forbidden split would give.
    if md.losses.memory_limited {
        assert!(md.losses.without_memory_limit_step_s.unwrap() < md.step_time_s);
    }
}

#[test]
fn pool_link_is_priced_at_the_slower_side() {
    let h = fabric("fat-tree:gpus=64,node=dgx-h100");
    let a = fabric("fat-tree:gpus=32,node=dgx-a100");
    let pools = [("h100", &h), ("a100", &a)];
    let slower = h.extras.scale_out_per_accel.0.min(a.extras.scale_out_per_accel.0);
    assert!(
        slower < h.extras.scale_out_per_accel.0,
        "A100's 200G NIC is the slower side"
    );
    let l = mixed::link::price(Some(&rdma()), &pools, "pool_link").unwrap();
    assert_eq!(l.per_flow_bytes_per_s, slower);
    // Default border: one NIC per accelerator of the smaller pool.
    assert_eq!(l.nics, Some(32));
    assert_eq!(l.capacity_bytes_per_s, 32.0 * slower);
    // One flow of 1 GB takes its time at the slower NIC's rate; many flows share the capacity.
    let one = l.transfer_s(1, 1e9) - l.latency_s;
    assert!((one - 1e9 / slower).abs() < 1e-12);
    let many = l.transfer_s(64, 1e9) - l.latency_s;
    assert!((many - 64.0 * 1e9 / l.capacity_bytes_per_s).abs() < 1e-12);
    // CPU forwarding: no faster, and later.
    let cpu = mixed::spec::PoolLinkSpec {
        kind: mixed::LinkKind::CpuForwarding,
        nics: None,
        hosts: None,
    };
    let c = mixed::link::price(Some(&cpu), &pools, "pool_link").unwrap();
    assert!(c.per_flow_bytes_per_s <= l.per_flow_bytes_per_s);
    assert!(c.latency_s > l.latency_s);
}

#[test]
fn bad_mixed_input_is_an_error_naming_the_field() {
    let h = fabric("fat-tree:gpus=16,node=dgx-h100");
    let a = fabric("fat-tree:gpus=16,node=dgx-a100");
    let pools = [("h100", &h), ("a100", &a)];
    let e = mixed::link::price(None, &pools, "pool_link").unwrap_err();
    assert!(e.contains("pool_link") && e.contains("no link"), "{e}");
    let zero = mixed::spec::PoolLinkSpec {
        nics: Some(0),
        ..rdma()
    };
    let e = mixed::link::price(Some(&zero), &pools, "pool_link").unwrap_err();
    assert!(e.contains("nics = 0"), "{e}");
    let e = mixed::parse_preset("mixed:first=dgx-x999").unwrap();
    let e = e.pools[0].source.cluster_spec("pool `first`").unwrap_err();
    assert!(e.contains("pool `first`") && e.contains("dgx-x999"), "{e}");
    let e = mixed::parse_preset("mixed:third=dgx-h100").unwrap_err();
    assert!(e.contains("third"), "{e}");
    let e = mixed::parse_toml("[[pool]]\nname = \"a\"\n", "c.toml").unwrap_err();
    assert!(e.contains("pool[0]") && e.contains("cluster"), "{e}");
    // PP smaller than the number of pools, for pipeline balancing.
    let m = model("llama-3.1-8b");
    let pools = [
        pool("h100", "fat-tree:gpus=16,node=dgx-h100"),
        pool("a100", "fat-tree:gpus=16,node=dgx-a100"),
    ];
    let e = run(&pools, &m, &plan(8, 1, 4, 16), Balance::Pp).unwrap_err();
    assert!(e.contains("--pp 1"), "{e}");
}

#[test]
fn toml_and_preset_describe_the_same_cluster() {
    let text = "[[pool]]\nname = \"first\"\nnode = \"dgx-h100\"\ngpus = 512\n[[pool]]\nname = \"second\"\nnode = \"dgx-a100\"\ngpus = 512\n[pool_link]\nkind = \"rdma\"\n";
    assert!(mixed::is_mixed_toml(text));
    assert_eq!(
        mixed::parse_toml(text, "c.toml").unwrap(),
        mixed::parse_preset("mixed:").unwrap()
    );
}
