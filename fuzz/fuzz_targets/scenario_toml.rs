#![no_main]
//! A training scenario: parse, resolve the model and the plan (no simulation).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(sc) = fabricsim::scenario::parse(text, "fuzz.toml") else { return };
    let Ok(Some(field)) = fabricsim::scenario::model_field(&sc, "fuzz.toml") else { return };
    let Ok(model) = fabricsim::scenario::model(&field, "fuzz.toml") else { return };
    let _ = fabricsim::scenario::plan(&sc, 1024, 8, 80e9, &model);
});
