//! `fabricsim train` on a mixed-accelerator cluster (`--cluster mixed:...` or a cluster TOML
//! with `[[pool]]` tables): the job balanced over the pools (`--mixed-balance`), and the pool
//! ratio × balancing sweep (`--mixed-sweep`).

use crate::train_cmd::{self, TrainArgs};
use crate::UserError;
use fabricsim::mixed::{self, Balance, MixedJob, MixedReport, MixedSpec, SweepRow};

/// Run `train` on a mixed cluster if `--cluster` (or the scenario's) names one; `None`
/// otherwise (the ordinary single-accelerator path runs, unchanged).
pub fn maybe_run(
    t: &TrainArgs,
    load: &dyn Fn(&str) -> Result<fabric::Fabric, UserError>,
) -> Result<Option<u8>, UserError> {
    let job = train_cmd::job(&t.job, t.cluster.as_deref())?;
    let cluster = job.cluster();
    let Some(spec) = spec_of(&cluster)? else {
        if t.mixed_balance.is_some() || t.mixed_sweep.is_some() {
            return Err(UserError(format!(
                "--mixed-balance / --mixed-sweep: cluster `{cluster}` is not a mixed cluster (give --cluster mixed:... or a TOML with [[pool]] tables)"
            )));
        }
        return Ok(None);
    };
    if t.job.cross_site.is_some() || t.job.diloco_inner_steps.is_some() || t.dci_sweep {
        return Err(UserError(format!(
            "--cross-site / --diloco-inner-steps / --dci-sweep: cluster `{cluster}` is a mixed-accelerator cluster of pools, not sites; these flags apply to multi-site clusters"
        )));
    }
    if t.trace.is_some() || t.html.is_some() {
        return Err(UserError(format!(
            "--trace / --html: not available on a mixed-accelerator cluster (`{cluster}`); use --json"
        )));
    }
    let balance = Balance::parse(t.mixed_balance.as_deref().unwrap_or("best")).map_err(UserError)?;
    if let Some(ratios) = &t.mixed_sweep {
        let rows = sweep(&job, &cluster, &spec, ratios, load)?;
        if t.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else if t.mixed_csv {
            print!("{}", mixed::sweep_csv(&rows));
        } else {
            print!("{}", render_sweep(&rows));
        }
        return Ok(Some(0));
    }
    let r = run_spec(&job, &cluster, &spec, balance, load)?;
    if t.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", render(&r));
    }
    Ok(Some(0))
}

/// The mixed spec `cluster` names (a `mixed:` preset, or a cluster TOML with `[[pool]]`
/// tables), `None` for any other cluster; an error for a mixed spec that does not parse.
pub fn spec_of(cluster: &str) -> Result<Option<MixedSpec>, UserError> {
    if mixed::is_mixed_preset(cluster) {
        return Ok(Some(mixed::parse_preset(cluster).map_err(UserError)?));
    }
    if fabricsim::cluster::looks_like_path(cluster) && cluster.ends_with(".toml") {
        if let Ok(text) = std::fs::read_to_string(cluster) {
            if mixed::is_mixed_toml(&text) {
                return Ok(Some(mixed::parse_toml(&text, cluster).map_err(UserError)?));
            }
        }
    }
    Ok(None)
}

/// `fabricsim topo` on a mixed cluster: each pool's summary and the pool link.
pub fn topo(
    cluster: &str,
    spec: &MixedSpec,
    routing: &crate::model_flags::RoutingFlag,
    opts: &fabricsim::topo::TopoOptions,
    at_load: Option<fabricsim::power::Load>,
    load: &mixed::topo::LoadPool,
    json: bool,
) -> Result<(), UserError> {
    let load = |cs: &str| {
        let (c, mut f) = load(cs)?;
        routing.apply(&mut f).map_err(|e| e.0)?;
        Ok((c, f))
    };
    let r = mixed::topo::report(cluster, spec, &load, opts, at_load).map_err(UserError)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", mixed::topo::render(&r));
    }
    Ok(())
}

fn run_spec(
    job: &train_cmd::Job,
    cluster: &str,
    spec: &MixedSpec,
    balance: Balance,
    load: &dyn Fn(&str) -> Result<fabric::Fabric, UserError>,
) -> Result<MixedReport, UserError> {
    let load = |cs: &str| -> Result<fabric::Fabric, String> {
        let mut f = load(cs).map_err(|e| e.0)?;
        job.args.routing.apply(&mut f).map_err(|e| e.0)?;
        Ok(f)
    };
    let mj = MixedJob {
        scenario: &job.scenario,
        model: &job.model,
        order: job.args.order.as_deref(),
        fidelity: job.fidelity,
        in_network: collective::InNetwork {
            sharp: job.args.sharp == crate::model_flags::Switch::On,
            nvls: job.args.nvls == crate::model_flags::Switch::On,
        },
        balance,
        // `--max-memory` (default 2 GiB) pool by pool, by the rule of a sweep's mixed points.
        max_memory_bytes: Some(crate::max_memory(job.args.max_memory.as_deref())?),
    };
    mixed::setup::run_job(cluster, spec, &mj, &load)
        .map(|r| r.report)
        .map_err(UserError)
}

fn sweep(
    job: &train_cmd::Job,
    cluster: &str,
    spec: &MixedSpec,
    ratios: &str,
    load: &dyn Fn(&str) -> Result<fabric::Fabric, UserError>,
) -> Result<Vec<SweepRow>, UserError> {
    let Some([(_, a), (_, b)]) = spec.node_pools() else {
        return Err(UserError(
            "--mixed-sweep: needs two pools given by node type and GPU count (mixed:first=...,first_gpus=... or node/gpus in [[pool]])".into(),
        ));
    };
    let total = a + b;
    let mut shares = Vec::new();
    for s in ratios.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let v: f64 = s.parse().map_err(|_| {
            UserError(format!(
                "--mixed-sweep `{s}`: expected first-pool shares in (0, 1), e.g. 0.25,0.5,0.75"
            ))
        })?;
        if !(v > 0.0 && v < 1.0) {
            return Err(UserError(format!(
                "--mixed-sweep {v}: a first-pool share must lie in (0, 1)"
            )));
        }
        shares.push(v);
    }
    if shares.is_empty() {
        return Err(UserError("--mixed-sweep: give at least one first-pool share".into()));
    }
    if total < 16 {
        return Err(UserError(format!(
            "--mixed-sweep: the pools hold {total} accelerators in all; a sweep of whole 8-accelerator servers per pool needs at least 16"
        )));
    }
    let mut rows = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for share in shares {
        // Whole servers of 8.
        let g1 = mixed::spec::first_pool_gpus(share, total);
        if !seen.insert(g1) {
            continue;
        }
        let s = spec.with_first_share(share, "--mixed-sweep").map_err(UserError)?;
        for (name, b) in [("pp", Balance::Pp), ("dp", Balance::Dp)] {
            let r = run_spec(job, cluster, &s, b, load);
            rows.push(match r {
                Ok(r) => SweepRow {
                    first_pool_gpus: g1,
                    second_pool_gpus: total - g1,
                    first_pool_share_fraction: g1 as f64 / total as f64,
                    balance: name.into(),
                    step_time_s: Some(r.step_time_s),
                    tokens_per_s: Some(r.tokens_per_s),
                    ideal_tokens_per_s: Some(r.ideal_tokens_per_s),
                    efficiency_vs_ideal_fraction: Some(r.efficiency_vs_ideal_fraction),
                    naive_split_efficiency_fraction: Some(r.naive_split_efficiency_fraction),
                    error: None,
                },
                Err(e) => SweepRow {
                    first_pool_gpus: g1,
                    second_pool_gpus: total - g1,
                    first_pool_share_fraction: g1 as f64 / total as f64,
                    balance: name.into(),
                    step_time_s: None,
                    tokens_per_s: None,
                    ideal_tokens_per_s: None,
                    efficiency_vs_ideal_fraction: None,
                    naive_split_efficiency_fraction: None,
                    error: Some(e.0),
                },
            });
        }
    }
    Ok(rows)
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn render_sweep(rows: &[SweepRow]) -> String {
    let mut s = String::from("pool-ratio sweep (first pool's share of the accelerators × balancing)\n");
    s.push_str(&format!(
        "{:>6} {:>6} {:>6} {:>4} {:>10} {:>12} {:>10} {:>10}  note\n",
        "first", "second", "share", "bal", "step", "tokens/s", "balanced", "naive"
    ));
    for r in rows {
        let f = |v: Option<f64>, p: bool| match v {
            Some(x) if p => pct(x),
            Some(x) => format!("{x:.3}"),
            None => "—".into(),
        };
        s.push_str(&format!(
            "{:>6} {:>6} {:>6} {:>4} {:>10} {:>12} {:>10} {:>10}  {}\n",
            r.first_pool_gpus,
            r.second_pool_gpus,
            pct(r.first_pool_share_fraction),
            r.balance,
            r.step_time_s.map(|x| format!("{x:.3} s")).unwrap_or("—".into()),
            f(r.tokens_per_s.map(|x| x / 1e3), false).replace(".000", "")
                + if r.tokens_per_s.is_some() { " k" } else { "" },
            f(r.efficiency_vs_ideal_fraction, true),
            f(r.naive_split_efficiency_fraction, true),
            r.error.clone().unwrap_or_default()
        ));
    }
    s
}

/// The text report of a mixed run.
pub fn render(r: &MixedReport) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "fabricsim · mixed-accelerator cluster · {} fidelity · schema {}\n",
        r.fidelity, r.schema_version
    ));
    s.push_str(&format!(
        "cluster  {} · {} accelerators\n",
        r.cluster, r.accelerators_in_cluster
    ));
    for p in &r.pools {
        s.push_str(&format!(
            "  pool {:<8} {:>6} × {:<6} {:>4.0} GiB ({})  alone: {} replicas, step {:.3} s (balanced {:.3} s, train {:.3} s), ideal {:.0} k tokens/s, recompute {}{}\n",
            p.name,
            p.gpus,
            p.accelerator,
            p.hbm_bytes / (1u64 << 30) as f64,
            p.cluster,
            p.replicas,
            p.step_time_s,
            p.ideal_step_time_s,
            p.train_step_time_s,
            p.tokens_per_s / 1e3,
            p.recompute,
            if p.fits { "" } else { " (does not fit)" }
        ));
    }
    let l = &r.pool_link;
    s.push_str(&format!(
        "  pool link {}: {:.1} GB/s aggregate, {:.1} GB/s per flow, {:.1} µs  ({})\n",
        l.kind,
        l.capacity_bytes_per_s / 1e9,
        l.per_flow_bytes_per_s / 1e9,
        l.latency_s * 1e6,
        l.basis
    ));
    s.push_str(&format!(
        "model    {} · TP {} · PP {} · CP {} · DP {} (pp mode) · mbs {} · GBS {} · seq {}\n\n",
        r.model, r.tp, r.pp, r.cp, r.dp, r.mbs, r.gbs, r.seq
    ));
    s.push_str(&format!(
        "balance  {} ({})\nstep     {:.3} s   tokens/s {:.0} k   ideal {:.0} k\n",
        r.balance,
        r.balance_basis,
        r.step_time_s,
        r.tokens_per_s / 1e3,
        r.ideal_tokens_per_s / 1e3
    ));
    s.push_str(&format!(
        "efficiency vs ideal  {}   naive split  {}\n",
        pct(r.efficiency_vs_ideal_fraction),
        pct(r.naive_split_efficiency_fraction)
    ));
    for m in &r.modes {
        s.push_str(&format!(
            "\nmode {}  (recompute {}): step {:.3} s, {} of ideal; naive {:.3} s, {} of ideal\n",
            m.balance,
            m.recompute,
            m.step_time_s,
            pct(m.efficiency_vs_ideal_fraction),
            m.naive_step_time_s,
            pct(m.naive_split_efficiency_fraction)
        ));
        if let (Some(b), Some(n)) = (&m.layers_per_stage, &m.naive_layers_per_stage) {
            s.push_str(&format!(
                "  layers per stage {:?}  (naive {:?}{})\n",
                b,
                n,
                if m.naive_fits == Some(false) {
                    ", does not fit memory"
                } else {
                    ""
                }
            ));
        }
        for p in &m.pools {
            match (p.layer_share_fraction, p.microbatch_share_fraction) {
                (Some(ls), _) => s.push_str(&format!(
                    "  pool {:<8} {} stages, {} of the layers, busiest stage busy {:.3} s\n",
                    p.name,
                    p.stages.unwrap_or(0),
                    pct(ls),
                    p.time_s
                )),
                (_, Some(ms)) => s.push_str(&format!(
                    "  pool {:<8} {} replicas × {} micro-batches, {} of the micro-batches, pool step {:.3} s\n",
                    p.name,
                    p.replicas.unwrap_or(0),
                    p.microbatches_per_replica.unwrap_or(0),
                    pct(ms),
                    p.time_s
                )),
                _ => {}
            }
        }
        let lo = &m.losses;
        s.push_str("  where the loss comes from:\n");
        if m.balance == "pp" {
            s.push_str(&format!(
                "    integer layers (vs continuous balance)  {:.1} ms\n    pool-link sends (vs in-pool sends)      {:.1} ms  (one send {:.2} ms)\n",
                lo.integer_imbalance_s * 1e3,
                lo.pool_link_sends_s * 1e3,
                m.pool_link_send_s.unwrap_or(0.0) * 1e3
            ));
            match lo.without_memory_limit_step_s {
                Some(w) => s.push_str(&format!(
                    "    memory limits                           {:.1} ms  (the split memory forbids: {:.3} s)\n",
                    (m.step_time_s - w) * 1e3,
                    w
                )),
                None => s.push_str("    memory limits                           none binding\n"),
            }
        } else {
            s.push_str(&format!(
                "    cross-pool gradient sync (exposed)      {:.1} ms\n    pool step spread (integer micro-batches) {:.1} ms\n",
                lo.cross_pool_sync_s * 1e3,
                lo.pool_step_spread_s * 1e3
            ));
        }
        s.push_str("    pipeline bubble and in-pool communication are in the ideal too\n");
    }
    for k in &r.modes_skipped {
        s.push_str(&format!("\nskipped  {k}\n"));
    }
    for n in &r.notes {
        s.push_str(&format!("note     {n}\n"));
    }
    s
}
