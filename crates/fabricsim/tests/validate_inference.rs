//! `validate --inference` on the bundled testdata/inference.csv (issue 9, point 8): the file
//! parses, the workload/fleet rows are inputs, the predictions are compared within the gate,
//! and a bad line is named.

use fabricsim::validate::DataSet;
use fabricsim::validate_inference::{inference, inference_from, parse};

#[test]
fn bundled_file_parses_with_every_column() {
    let rows = parse(DataSet::BUNDLED_INFERENCE.text).expect("the bundled file parses");
    assert_eq!(rows.len(), 28);
}

#[test]
fn bundled_file_validates_within_the_gate() {
    let r = inference_from(DataSet::BUNDLED_INFERENCE, &mut |_, _| {}).expect("validates");
    // Inputs: decided by metric (hit rate, KV length, tokens per day, fleet size, relative claim
    // on unstated hardware).
    let mut inputs: Vec<&str> = r.inputs.iter().map(|l| l.row_id.as_str()).collect();
    inputs.sort();
    assert_eq!(inputs, ["I003", "I005", "I006", "I007", "I008", "I068"]);
    // Every other row is a prediction: compared or listed with a reason.
    assert_eq!(r.rows.len() + r.not_compared.len(), 22);
    for l in &r.not_compared {
        assert!(!l.reason.is_empty(), "{} has no reason", l.row_id);
    }
    for c in &r.rows {
        assert!(
            c.predicted.is_finite() && c.predicted > 0.0,
            "{}: {}",
            c.row_id,
            c.predicted
        );
    }
    // Issue 9's gate: at least 18 of the 22 predictions compared, median |error| ≤ 15 % — the
    // headline median, over the rows that state their setup, as every validation reports it
    // (12.1 % on 2026-12-02). Over every compared row, assumed ones included, the median is
    // 15.8 % (docs/serving.md): that figure is held where it stands so a regression fails.
    assert!(r.summary.rows_compared >= 18, "compared {}", r.summary.rows_compared);
    let median = r.summary.median_abs_error_pct.expect("a median");
    assert!(median <= 15.0, "median |error| {median:.1} %");
    let all = r.summary.all_median_abs_error_pct.expect("a median");
    assert!(all <= 15.0, "median |error| over all rows {all:.1} %");
    // The JSON carries the other validations' summary keys plus inputs and not_compared.
    let j = serde_json::to_value(&r).unwrap();
    for k in [
        "rows_compared",
        "rows_skipped",
        "median_abs_error_pct",
        "max_abs_error_pct",
        "all_median_abs_error_pct",
        "by_source_group",
    ] {
        assert!(j["summary"].get(k).is_some(), "summary lacks {k}");
    }
    assert!(j["inputs"].is_array() && j["not_compared"].is_array());
}

#[test]
fn a_bad_line_is_named() {
    let text = DataSet::BUNDLED_INFERENCE.text;
    let header = text.lines().next().unwrap();
    // A record with too few fields on line 3.
    let good = "X1,sys,NVIDIA H100,8,nvlink,Llama-3.1-70B,FP8,colocated,8,,,1,,128,128,1,,output_tokens_per_s (benchmark_latency),36,src,loc,high,";
    let bad = format!("{header}\n{good}\nX2,too,few\n");
    let e = inference(&bad).unwrap_err();
    assert!(e.contains("line 3"), "{e}");
    // An unreadable value names its line too.
    let bad = format!("{header}\n{}\n", good.replace(",36,", ",lots,"));
    let e = inference(&bad).unwrap_err();
    assert!(e.contains("line 2") && e.contains("lots"), "{e}");
    // A missing column is named.
    let e = inference("row_id,metric,value\nA,b,1\n").unwrap_err();
    assert!(e.contains("column"), "{e}");
}

/// The fitted serving constant comes from its rule: refitting it on the bundled rows gives the
/// shipped value (within 2 %), and it is fitted on the rows docs/serving.md names.
#[test]
fn refit_gives_the_shipped_serving_constant() {
    use fabricsim::calibration::{refit_all, DataKind};
    let fits = refit_all(DataKind::Inference, DataSet::BUNDLED_INFERENCE.text).unwrap();
    assert_eq!(fits.len(), 1);
    let r = &fits[0];
    assert_eq!(r.fit_rows, ["I010", "I018"]);
    assert!(
        (r.value / r.shipped - 1.0).abs() < 0.02,
        "refit {} vs shipped {}",
        r.value,
        r.shipped
    );
}
