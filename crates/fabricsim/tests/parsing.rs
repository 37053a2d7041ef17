//! Sizes, sweeps, placements.

use fabric::presets::build_preset;
use fabricsim::collective::{default_sizes, parse_placement, parse_size, parse_sizes, place, Placement};
use proptest::prelude::*;

#[test]
fn sizes() {
    let k = 1024.0;
    for (s, want) in [
        ("8", 8.0),
        ("0", 0.0),
        ("1K", k),
        ("1k", k),
        ("1KB", k),
        ("1KiB", k),
        ("1G", k * k * k),
        ("1.5M", 1.5 * k * k),
        (" 2 G ", 2.0 * k * k * k),
        ("1T", k * k * k * k),
        ("1024B", 1024.0),
        ("0.5K", 512.0),
    ] {
        assert_eq!(parse_size(s), Ok(want), "{s:?}");
    }
    for bad in [
        "", "G", "abc", "1X", "-1", "1..5M", "1 G G", "NaN", "inf", "2P", "1e300",
    ] {
        let e = parse_size(bad).expect_err(bad);
        assert!(e.contains(bad.trim()) || e.contains("range"), "{bad:?}: {e}");
    }
}

#[test]
fn sweeps() {
    let d = parse_sizes("8:8G").unwrap();
    assert_eq!(d.len(), 31);
    assert_eq!(d, default_sizes());
    assert_eq!(d[0], 8.0);
    assert_eq!(*d.last().unwrap(), 8.0 * 1073741824.0);
    assert!(d.windows(2).all(|w| w[1] == 2.0 * w[0]));
    assert_eq!(parse_sizes("1M:1M").unwrap(), vec![1048576.0]);
    assert_eq!(parse_sizes("3:13").unwrap(), vec![3.0, 6.0, 12.0]);
    for bad in ["8", "8:", ":8", "8G:8", "0:8", "x:8", "8:8:8"] {
        assert!(parse_sizes(bad).is_err(), "{bad:?}");
    }
}

proptest! {
    /// Every size printed as an integer parses back to itself; with a suffix, to × 1024^k.
    #[test]
    fn size_round_trip(v in 0u64..(1 << 40), k in 0usize..4) {
        let suffix = ["", "K", "M", "G"][k];
        let want = (v as f64 * 1024f64.powi(k as i32)).round();
        if want <= 1024f64.powi(5) {
            prop_assert_eq!(parse_size(&format!("{v}{suffix}")), Ok(want));
        }
    }
}

#[test]
fn placement_files() {
    assert_eq!(
        parse_placement("0 1 2\n3,4, 5 # six\n# nothing\n6"),
        Ok(vec![0, 1, 2, 3, 4, 5, 6])
    );
    let e = parse_placement("0 1\n2 x 3").unwrap_err();
    assert!(e.contains("line 2") && e.contains("`x`"), "{e}");
    let e = parse_placement("0 -1").unwrap_err();
    assert!(e.contains("`-1`"), "{e}");
    assert!(parse_placement("# only a comment\n\n")
        .unwrap_err()
        .contains("no accelerators"));
    assert!(parse_placement("").is_err());
}

#[test]
fn placements() {
    let f = build_preset("fat-tree:gpus=64").unwrap().1;
    assert_eq!(place(&f, 4, &Placement::Packed).unwrap(), vec![0, 1, 2, 3]);
    assert!(place(&f, 0, &Placement::Packed).unwrap_err().contains("--ranks 0"));
    assert!(place(&f, 65, &Placement::Packed)
        .unwrap_err()
        .contains("64 accelerators"));
    // Scattered: whole domains in a seeded order; a permutation of all accelerators.
    let s1 = place(&f, 64, &Placement::Scattered { seed: 1 }).unwrap();
    let s1b = place(&f, 64, &Placement::Scattered { seed: 1 }).unwrap();
    let s2 = place(&f, 64, &Placement::Scattered { seed: 2 }).unwrap();
    assert_eq!(s1, s1b);
    assert_ne!(s1, s2);
    let mut sorted = s1.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..64).collect::<Vec<u32>>());
    for chunk in s1.chunks(8) {
        let d = chunk[0] / 8;
        assert_eq!(chunk, (d * 8..d * 8 + 8).collect::<Vec<u32>>().as_slice());
    }
    // A list: exactly as many accelerators as ranks (regression: a longer list was silently
    // truncated).
    let list = Placement::List(vec![5, 9, 3]);
    assert_eq!(place(&f, 3, &list).unwrap(), vec![5, 9, 3]);
    assert!(place(&f, 2, &list)
        .unwrap_err()
        .contains("lists 3 accelerators but --ranks is 2"));
    assert!(place(&f, 4, &list).unwrap_err().contains("lists 3 accelerators"));
}
