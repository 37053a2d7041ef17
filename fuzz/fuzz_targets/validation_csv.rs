#![no_main]
//! A validation CSV: the first byte chooses the training or the collectives format.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if kind % 2 == 0 {
        let _ = fabricsim::validate_training::training(text);
    } else {
        let _ = fabricsim::validate::collectives(text, collective::simulate::Options::default());
    }
});
