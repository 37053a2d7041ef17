//! Replays the bad-input corpus (`testdata/bad-inputs/corpus.toml`): every case runs the binary,
//! must end with its exit code (2 for bad input) without a panic, and must name what is wrong
//! (every `expect` fragment on stderr, every `stdout` fragment on stdout). Cases are named after
//! the bug they pin.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    args: Vec<String>,
    #[serde(default = "two")]
    exit: i32,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default)]
    stdout: Vec<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
}

fn two() -> i32 {
    2
}

fn corpus() -> Corpus {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/bad-inputs/corpus.toml");
    let text = std::fs::read_to_string(&path).expect("read the corpus");
    toml::from_str(&text).expect("corpus.toml parses")
}

/// Run the binary; `None` if it is still running after `limit` (then it is killed).
fn run_with_timeout(args: &[String], limit: std::time::Duration) -> Option<std::process::Output> {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run fabricsim");
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    Some(std::process::Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    })
}

#[test]
fn every_bad_input_exits_2_naming_the_problem() {
    let corpus = corpus();
    assert!(corpus.case.len() >= 50, "the corpus shrank to {}", corpus.case.len());
    let mut failures = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for c in &corpus.case {
        assert!(names.insert(c.name.clone()), "case `{}` twice", c.name);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bad-{}-{}", c.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in &c.files {
            let p = dir.join(file);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let d = dir.to_str().unwrap();
        let args: Vec<String> = c.args.iter().map(|a| a.replace("{dir}", d)).collect();
        let o = run_with_timeout(&args, std::time::Duration::from_secs(120));
        let Some(o) = o else {
            failures.push(format!("{}: still running after 120 s (a hang)", c.name));
            continue;
        };
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        let mut why = Vec::new();
        if o.status.code() != Some(c.exit) {
            why.push(format!("exit {:?}, expected {}", o.status.code(), c.exit));
        }
        if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
            why.push("panicked".to_string());
        }
        for e in &c.expect {
            if !err.contains(e.as_str()) {
                why.push(format!("stderr lacks {e:?}"));
            }
        }
        for e in &c.stdout {
            if !out.contains(e.as_str()) {
                why.push(format!("stdout lacks {e:?}"));
            }
        }
        if !why.is_empty() {
            failures.push(format!("{}: {}\n    stderr: {}", c.name, why.join("; "), err.trim()));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
