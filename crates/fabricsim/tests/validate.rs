//! `fabricsim validate --collectives`: accuracy against the published measurements and the
//! JSON shape of the report.

use collective::Options;
use fabricsim::validate::{collectives, node_for, parse_inter_node};

const CSV: &str = include_str!("../../../testdata/collectives.csv");

#[test]
fn median_error_within_ten_percent() {
    let r = collectives(CSV, Options::default()).unwrap();
    let median = r.summary.median_abs_error_pct.expect("rows compared");
    eprintln!(
        "validate: {} rows compared, {} skipped, median |error| {:.2} %, max |error| {:.2} %",
        r.summary.rows_compared,
        r.summary.rows_skipped,
        median,
        r.summary.max_abs_error_pct.unwrap()
    );
    for s in &r.skipped {
        eprintln!("  skipped {}: {}", s.row_id, s.reason);
    }
    assert!(
        r.summary.rows_compared >= 25,
        "{} rows compared",
        r.summary.rows_compared
    );
    assert!(median <= 10.0, "median |error| {median} %");
    assert_eq!(r.rows.len(), r.summary.rows_compared);
    assert_eq!(r.skipped.len(), r.summary.rows_skipped);
    for c in &r.rows {
        assert!(c.measured > 0.0 && c.predicted > 0.0, "{}", c.row_id);
        let e = (c.predicted - c.measured) / c.measured * 100.0;
        assert!((e - c.error_pct).abs() < 1e-9, "{}", c.row_id);
    }
    // The summary is the median of the rows' |error|.
    let mut errs: Vec<f64> = r.rows.iter().map(|c| c.error_pct.abs()).collect();
    errs.sort_by(f64::total_cmp);
    let m = errs.len();
    let med = if m % 2 == 1 {
        errs[m / 2]
    } else {
        (errs[m / 2 - 1] + errs[m / 2]) / 2.0
    };
    assert!((med - median).abs() < 1e-12);
}

#[test]
fn json_has_the_documented_keys() {
    let r = collectives(CSV, Options::default()).unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["schema_version"], fabricsim::SCHEMA_VERSION);
    let rows = v["rows"].as_array().expect("rows[]");
    assert!(!rows.is_empty());
    for row in rows {
        assert!(row["row_id"].is_string(), "{row}");
        for k in ["measured", "predicted", "error_pct"] {
            assert!(row[k].is_number(), "{k} in {row}");
        }
    }
    let s = &v["summary"];
    assert!(s["rows_compared"].is_u64() && s["rows_skipped"].is_u64());
    assert!(s["median_abs_error_pct"].is_number());
}

/// Rows that cannot be simulated are skipped with a reason; a missing column is an error.
#[test]
fn bad_rows_are_skipped_and_bad_files_rejected() {
    let header = CSV.lines().next().unwrap();
    let cols: Vec<&str> = header.split(',').collect();
    let row = |f: &dyn Fn(&str) -> String| cols.iter().map(|c| f(c)).collect::<Vec<_>>().join(",");
    let base = |c: &str| -> String {
        match c {
            "row_id" => "X1".into(),
            "accelerator" => "H100-SXM5-80GB".into(),
            "num_ranks" => "8".into(),
            "num_nodes" => "1".into(),
            "gpus_per_node" => "8".into(),
            "collective" => "all_reduce".into(),
            "message_bytes" => "1073741824".into(),
            "busbw_GBps" => "360".into(),
            "algorithm" => "ring".into(),
            _ => String::new(),
        }
    };
    let good = row(&base);
    let unknown_accel = row(&|c| if c == "accelerator" { "TPU v9".into() } else { base(c) });
    let unknown_op = row(&|c| {
        if c == "collective" {
            "all_scream".into()
        } else {
            base(c)
        }
    });
    let no_bw = row(&|c| if c == "busbw_GBps" { String::new() } else { base(c) });
    let text = format!("{header}\n{good}\n{unknown_accel}\n{unknown_op}\n{no_bw}\n");
    let r = collectives(&text, Options::default()).unwrap();
    assert_eq!(r.summary.rows_compared, 1);
    assert_eq!(r.summary.rows_skipped, 3);
    assert!(
        r.rows[0].error_pct.abs() < 5.0,
        "H100 ring 1 GiB: {}",
        r.rows[0].error_pct
    );
    let reasons: Vec<&str> = r.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(reasons[0].contains("no standard system"), "{reasons:?}");
    assert!(reasons[1].contains("unknown operation"), "{reasons:?}");
    assert!(reasons[2].contains("no bandwidth"), "{reasons:?}");
    let e = collectives("row_id,accelerator\nX,H100\n", Options::default()).unwrap_err();
    assert!(e.contains("column `num_ranks` is missing"), "{e}");
}

#[test]
fn helpers() {
    assert_eq!(node_for("H100-SXM5-80GB"), Some("dgx-h100"));
    assert_eq!(node_for("MI300X"), Some("mi300x"));
    assert_eq!(node_for("GB200"), Some("gb200-nvl72"));
    assert_eq!(node_for("TPU v5p"), None);
    assert_eq!(parse_inter_node("8x 400G NDR per node"), Some(3200.0));
    assert_eq!(parse_inter_node("EFA 32x100 Gb/s per instance"), Some(3200.0));
    assert_eq!(parse_inter_node("n/a"), None);
}

/// Issue 8 part 7: rows that omit their layout or batch are compared by a stated rule (a sibling
/// row of the same model and source), reported as assumed, and kept out of the headline.
#[test]
fn rows_without_layout_or_batch_take_their_siblings_and_are_assumed() {
    let r = fabricsim::validate_training::training(include_str!("../../../testdata/training.csv")).unwrap();
    let row = |id: &str| {
        r.rows
            .iter()
            .find(|c| c.row_id == id)
            .unwrap_or_else(|| panic!("{id} not compared"))
    };
    // T020/T021: Megatron-LM README strong scaling states no layout; T017 (same 177B model,
    // weak-scaling table of the same README) runs TP 8 · PP 6.
    for (id, dp) in [("T020", 2), ("T021", 96)] {
        let c = row(id);
        assert_eq!((c.plan.tp, c.plan.pp, c.plan.dp), (8, 6, dp), "{id}");
        assert!(
            c.assumptions.iter().any(|a| a.contains("T017")),
            "{id}: {:?}",
            c.assumptions
        );
        assert_eq!(c.model.vocab, 131_072, "{id}: the sibling's vocabulary");
        assert!(c.plan.tp_comm_overlap, "{id}: the sibling's options");
    }
    // T026: Korthikanti's 530B on 2240 GPUs gives no batch; T024 (same model, 280 GPUs) runs
    // 280 sequences on DP 1, i.e. 280 per replica → 2240 on DP 8.
    let c = row("T026");
    assert_eq!(c.plan.global_batch_seqs, 2240);
    assert!(c.assumptions.iter().any(|a| a.contains("T024")), "{:?}", c.assumptions);
    // Architecture names map to the flagship part and say so, without making the row assumed.
    let c = row("T037");
    assert!(c.cluster.contains("dgx-a100"), "{}", c.cluster);
    assert!(c.assumptions.is_empty());
    assert!(c.defaults.iter().any(|d| d.contains("flagship")), "{:?}", c.defaults);
    // The headline covers the stated rows only; the assumed rows have their own figures.
    let s = &r.summary;
    assert_eq!(s.rows_stated + s.rows_assumed, s.rows_compared);
    for id in ["T020", "T021", "T026"] {
        assert!(s.assumed_rows.iter().any(|a| a == id), "{id}");
    }
    let stated: Vec<f64> = r
        .rows
        .iter()
        .filter(|c| c.assumptions.is_empty())
        .map(|c| c.error_pct)
        .collect();
    assert_eq!(s.median_abs_error_pct, fabricsim::validate::median_abs(stated));
    let assumed: Vec<f64> = r
        .rows
        .iter()
        .filter(|c| !c.assumptions.is_empty())
        .map(|c| c.error_pct)
        .collect();
    assert_eq!(s.assumed_median_abs_error_pct, fabricsim::validate::median_abs(assumed));
    // Per source group: every compared row in exactly one group.
    assert_eq!(s.by_source_group.iter().map(|g| g.rows).sum::<usize>(), s.rows_compared);
}

/// Training rows have their own JSON schema: the plan, the model and the memory in bytes.
#[test]
fn training_rows_have_their_own_schema() {
    let r = fabricsim::validate_training::training(include_str!("../../../testdata/training.csv")).unwrap();
    let j = serde_json::to_value(&r).unwrap();
    let row = &j["rows"][0];
    for k in [
        "row_id",
        "source_group",
        "run",
        "cluster",
        "framework",
        "metric",
        "measured",
        "predicted",
        "error_pct",
    ] {
        assert!(row.get(k).is_some(), "{k} missing: {row}");
    }
    for k in [
        "tp",
        "pp",
        "dp",
        "cp",
        "ep",
        "vp",
        "micro_batch",
        "global_batch_seqs",
        "seq_len",
        "zero",
        "recompute",
        "precision",
    ] {
        assert!(row["plan"].get(k).is_some(), "plan.{k} missing");
    }
    assert!(row["memory"]["fits"].is_boolean());
    assert!(row["memory"]["required_bytes"].is_u64());
    assert!(row["memory"]["capacity_bytes"].is_u64());
    assert!(row.get("algorithm").is_none() && row.get("size_bytes").is_none());
    for k in [
        "rows_stated",
        "rows_assumed",
        "assumed_rows",
        "assumed_median_abs_error_pct",
        "by_source_group",
    ] {
        assert!(j["summary"].get(k).is_some(), "summary.{k} missing");
    }
}
