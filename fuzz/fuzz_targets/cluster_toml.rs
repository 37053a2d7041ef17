#![no_main]
//! A cluster TOML file with `key=value` overrides (the part after the first NUL byte).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (text, overrides) = s.split_once('\0').unwrap_or((s, ""));
    let _ = fabricsim::cluster::load(fabricsim::cluster::Source::File {
        path: "fuzz.toml",
        text,
        overrides,
    });
});
