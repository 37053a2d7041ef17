//! Helpers shared by the CLI test files that drive one subcommand (`serve`, `goodput`,
//! `schedule`): run it from the repository root, or run it with `--json` and parse the output.

use serde_json::Value;
use std::process::{Command, Output};

/// `fabricsim SUB ARGS…`, run from the repository root (examples and testdata resolve).
pub fn run_sub(sub: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .arg(sub)
        .args(args)
        .output()
        .expect("run fabricsim")
}

/// `fabricsim SUB ARGS… --json`, which must succeed; its output parsed.
pub fn json_sub(sub: &str, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let o = run_sub(sub, &a);
    assert!(
        o.status.success(),
        "{sub} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("json")
}
