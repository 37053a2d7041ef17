//! Issue 8, part 10: every `train` and `collective` prediction carries the error of its nearest
//! class of validated rows.

use fabricsim::expected_error::{collective_in, part_of, training, training_in, Evidence};

const fn ev(row_id: &'static str, part: &'static str, class: &'static str, band: &'static str, e: f64) -> Evidence {
    Evidence {
        row_id,
        training: true,
        part,
        class,
        band,
        abs_error_pct: e,
    }
}

const T: &[Evidence] = &[
    ev("a", "h100", "megatron", "65-512", 2.0),
    ev("b", "h100", "megatron", "65-512", 4.0),
    ev("c", "h100", "megatron", "1-8", 30.0),
    ev("d", "a100", "megatron", "65-512", 10.0),
    ev("e", "a100", "torchtitan", "9-64", 50.0),
    ev("f", "tpu-v5p", "maxtext", "9-64", 7.0),
];

#[test]
fn the_nearest_class_with_enough_rows_wins() {
    // Exact class: two H100 Megatron rows at 65–512; the bar is their 90th percentile.
    let e = training_in(T, "NVIDIA H100 SXM5 80GB", "megatron", 256);
    assert_eq!(e.expected_error_pct, 4.0);
    assert!(e
        .expected_error_basis
        .contains("2 validated training rows on h100 under megatron at 65-512"));
    // One row at 1–8: falls back to the part and framework (a, b, c → 90th percentile 30).
    let e = training_in(T, "NVIDIA H100 SXM5 80GB", "megatron", 8);
    assert_eq!(e.expected_error_pct, 30.0);
    // H800 has no row: its generation (hopper) under megatron.
    let e = training_in(T, "NVIDIA H800 SXM5 80GB", "megatron", 64);
    assert_eq!(e.expected_error_pct, 30.0);
    assert!(e.expected_error_basis.contains("hopper"), "{}", e.expected_error_basis);
    // One TPU row only: every row, the TPU one among them.
    let e = training_in(T, "Google TPU v5p", "maxtext", 64);
    assert!(
        e.expected_error_basis.contains("every system"),
        "{}",
        e.expected_error_basis
    );
    // No row of its generation in the class it falls to: the largest error, said uncalibrated.
    let e = training_in(T, "NVIDIA GB200 Blackwell GPU (NVL72, 1200 W)", "torchtitan", 64);
    assert_eq!(e.expected_error_pct, 50.0);
    assert!(
        e.expected_error_basis.starts_with("uncalibrated here"),
        "{}",
        e.expected_error_basis
    );
    // No collective rows in this table: nothing to say.
    assert!(collective_in(T, "NVIDIA H100 SXM5 80GB", "scale-up", 1e9)
        .expected_error_pct
        .is_nan());
}

#[test]
fn parts_read_from_catalogue_and_csv_names() {
    for (name, part) in [
        ("NVIDIA H100 SXM5 80GB", "h100"),
        ("H100-SXM5-80GB", "h100"),
        ("NVIDIA GB200 Blackwell GPU (NVL72, 1200 W)", "gb200"),
        ("GB300 (Blackwell Ultra)", "gb300"),
        ("TPU v6e (Trillium)", "tpu-v6e"),
        ("Google TPU7x (Ironwood)", "tpu-v7"),
        ("SM90 (Hopper)", "h100"),
        ("NVIDIA Ampere (SKU not named; A100 assumed)", "a100"),
    ] {
        assert_eq!(part_of(name), part, "{name}");
    }
}

#[test]
fn the_bundled_table_gives_every_h100_prediction_a_bar() {
    let e = training("NVIDIA H100 SXM5 80GB", "megatron", 1024);
    assert!(e.expected_error_pct.is_finite() && e.expected_error_pct > 0.0);
    assert!(e.expected_error_pct < 50.0, "{e:?}");
}
