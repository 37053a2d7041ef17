#![no_main]
//! A preset spec (`NAME:key=value,...`) as `topo` and `--cluster` read it.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if s.len() <= 256 {
            let _ = fabric::presets::build_preset(s);
        }
    }
});
