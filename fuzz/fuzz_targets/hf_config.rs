#![no_main]
//! A Hugging Face config.json.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = workload::hf::from_hf_config(text, "config.json");
    }
});
