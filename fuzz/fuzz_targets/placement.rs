#![no_main]
//! A placement file, then placed on a small fabric.
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static F: OnceLock<fabric::Fabric> = OnceLock::new();
    let f = F.get_or_init(|| fabric::presets::build_preset("fat-tree:gpus=64").unwrap().1);
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(v) = fabricsim::collective::parse_placement(text) {
        let n = v.len() as u32;
        if let Ok(ranks) = fabricsim::collective::place(f, n, &fabricsim::collective::Placement::List(v)) {
            let _ = collective::plan::check_group(f, &ranks);
        }
    }
});
