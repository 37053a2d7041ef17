#![no_main]
//! A calibration directory: gemm.csv, attention.csv and memory.csv separated by NUL bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let mut parts = s.splitn(3, '\0');
    let gemm = parts.next().unwrap_or("");
    let att = parts.next();
    let mem = parts.next();
    let _ = workload::compute::EfficiencyTable::from_csv(gemm, att, mem, "fuzz");
});
