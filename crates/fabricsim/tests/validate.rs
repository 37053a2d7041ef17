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
