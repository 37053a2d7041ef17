//! HTML reports in a real browser: Debian's chromium, headless, loads the page from a file,
//! runs its script and dumps the DOM; the tests read what the script wrote there (that it ran,
//! no JavaScript error, the marks it counted by kind and how many have a visible box) and
//! compare with the marks the input should draw — so an empty or broken chart fails.
//!
//! Chromium: `$FABRICSIM_CHROMIUM`, else `/usr/bin/chromium`, else `chromium` on the PATH.
//! Without one the browser tests print a loud SKIPPED message and pass — unless `CI` is set,
//! where a missing browser fails (`.ci/run` installs it). The tests that need no browser
//! (`train --html` determinism, errors) always run.

use fabricsim::html::{
    pareto_front, Axis, BarChart, BarMetric, BarRow, Better, Guide, LineChart, Page, ScatterChart, ScatterPoint,
    Series, StackedChart, StackedRow, StepParts, Unit,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("fabricsim-html-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create scratch dir");
        Scratch(d)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The browser to use, or `None` (after saying so loudly) where the test may be skipped.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("FABRICSIM_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.exists()))
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("chromium"))
                    .find(|p| p.exists())
            })
        });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("chromium not found and CI is set: the HTML browser test must run in CI (.ci/run installs Debian's chromium)");
        }
        eprintln!(
            "\n*** SKIPPED: HTML browser test — no chromium (/usr/bin/chromium, PATH or $FABRICSIM_CHROMIUM). \
             Install it: apt-get install -y chromium ***\n"
        );
    }
    found
}

/// The DOM of `file` after the page loaded and its script ran, as headless chromium dumps it.
fn dump_dom(browser: &Path, file: &Path, scratch: &Scratch) -> String {
    let profile = scratch.path("profile");
    let url = format!("file://{}", file.canonicalize().expect("report file").display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    // Read stdout on a thread so a large DOM cannot block the browser on a full pipe.
    let mut out = child.stdout.take().expect("chromium stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).map(|_| s)
    });
    let start = Instant::now();
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => {
                assert!(status.success(), "chromium exited with {status}");
                break;
            }
            None if start.elapsed() > Duration::from_secs(120) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 120 s on {url}");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    reader.join().expect("reader thread").expect("chromium stdout is UTF-8")
}

/// The attributes of the first `<tag …>` of `dom` (chromium writes them as `name="value"`).
fn attributes(dom: &str, tag: &str) -> BTreeMap<String, String> {
    let open = format!("<{tag}");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in the DOM:\n{dom}"))
        + open.len();
    let end = start + dom[start..].find('>').expect("tag end");
    let mut attrs = BTreeMap::new();
    let mut rest = &dom[start..end];
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim().to_string();
        let after = &rest[eq + 2..];
        let close = after.find('"').expect("attribute end");
        attrs.insert(name, after[..close].to_string());
        rest = &after[close + 1..];
    }
    attrs
}

/// Load `page` in chromium and check that its script ran without errors and counted exactly
/// `want` marks per kind, every one with a visible box inside its chart. Returns the body's
/// `None` where the browser test is skipped.
fn check_in_browser(file: &Path, scratch: &Scratch, charts: usize, want: &BTreeMap<String, usize>) -> Option<()> {
    let browser = chromium()?;
    let dom = dump_dom(&browser, file, scratch);
    let body = attributes(&dom, "body");
    assert_eq!(
        body.get("data-script").map(String::as_str),
        Some("ran"),
        "the page's script did not run: {body:?}"
    );
    assert_eq!(
        body.get("data-js-errors").map(String::as_str),
        Some("0"),
        "JavaScript errors: {}",
        dom.split("id=\"js-errors\"").nth(1).unwrap_or("")
    );
    assert_eq!(body.get("data-charts"), Some(&charts.to_string()), "{body:?}");
    let counted: BTreeMap<String, usize> = body
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("data-marks-")?.to_string(), v.parse().ok()?)))
        .filter(|(k, _)| k != "total")
        .collect();
    assert_eq!(&counted, want, "marks the browser counted vs the input's");
    for (kind, n) in want {
        assert!(*n > 0, "an expected kind with no marks: {kind}");
        assert_eq!(
            body.get(&format!("data-visible-{kind}")),
            Some(&n.to_string()),
            "{kind}: marks with a visible box inside the chart"
        );
    }
    let total: usize = want.values().sum();
    assert_eq!(body.get("data-marks-total"), Some(&total.to_string()));
    Some(())
}

fn axis(label: &str, unit: Unit, log: bool) -> Axis {
    Axis {
        label: label.into(),
        unit,
        log,
    }
}

/// One chart of each kind, with mark counts known from the data.
fn every_kind() -> (Page, BTreeMap<String, usize>) {
    let mut page = Page::new("every chart kind <&>");
    page.facts([("what", "a test page"), ("escaped", "<b>not bold</b>")]);
    // (a) 7 designs; the front is a, b, c, d (e, f, g dominated); c highlighted.
    let designs = [
        ("a", 2.0e8, 1.30),
        ("b", 3.0e8, 1.10),
        ("c", 4.5e8, 1.04),
        ("d", 9.0e8, 1.00),
        ("e", 5.0e8, 1.20),
        ("f", 3.5e8, 1.40),
        ("g", 9.5e8, 1.05),
    ];
    let front = pareto_front(&designs.iter().map(|d| (d.1, d.2)).collect::<Vec<_>>());
    page.chart(ScatterChart {
        title: "Pareto front".into(),
        x: axis("capital cost", Unit::Usd, true),
        y: axis("step time", Unit::Seconds, false),
        points: designs
            .iter()
            .zip(front)
            .map(|(d, f)| ScatterPoint {
                label: d.0.into(),
                x: d.1,
                y: d.2,
                on_front: f,
                highlight: d.0 == "c",
            })
            .collect(),
        x_guides: vec![],
        y_guides: vec![Guide {
            label: "non-blocking + 5 %".into(),
            value: 1.05,
        }],
        highlight_label: "cheapest within 5 % of non-blocking".into(),
    });
    // (b) 5 fabrics × 4 metrics = 20 bars.
    let metric = |l: &str, unit: Unit, better| BarMetric {
        label: l.into(),
        unit,
        better,
    };
    page.chart(BarChart {
        title: "Fabrics side by side".into(),
        metrics: vec![
            metric("step time", Unit::Seconds, Better::Lower),
            metric("tokens/s", Unit::Count("tokens/s".into()), Better::Higher),
            metric("capital cost", Unit::Usd, Better::Lower),
            metric("tokens per dollar", Unit::Count("tokens/$".into()), Better::Higher),
        ],
        rows: [
            "dgx-h100-superpod",
            "hpn7-pod",
            "meta-roce-24k",
            "rail-only",
            "fat-tree 1:3",
        ]
        .iter()
        .enumerate()
        .map(|(i, l)| BarRow {
            label: l.to_string(),
            values: vec![
                10.0 + i as f64,
                1.6e6 - i as f64 * 1e5,
                1.0e9 - i as f64 * 1e8,
                2.0e3 + i as f64 * 50.0,
            ],
        })
        .collect(),
    });
    // (c) 3 plans; 4 + 3 + 5 positive parts = 12 segments.
    let plan = |compute_s, bubble_s, tp_comm_s, dp_comm_s, optimizer_s| StepParts {
        compute_s,
        bubble_s,
        tp_comm_s,
        dp_comm_s,
        optimizer_s,
        ..Default::default()
    };
    page.chart(StackedChart::step_breakdown(
        "Step breakdown of the best plans",
        [
            ("TP 8 · PP 16 · DP 120".to_string(), plan(10.0, 1.5, 0.8, 0.3, 0.0)),
            ("TP 8 · PP 8 · DP 240".to_string(), plan(10.0, 0.9, 0.8, 0.0, 0.0)),
            ("TP 4 · PP 16 · DP 240".to_string(), plan(10.5, 1.4, 0.4, 0.6, 0.1)),
        ],
    ));
    // A stacked chart of another unit, with a guide.
    page.chart(StackedChart {
        title: "Memory".into(),
        unit: Unit::Bytes,
        parts: vec!["weights".into(), "activations".into()],
        rows: vec![StackedRow {
            label: "H100".into(),
            values: vec![30e9, 40e9],
        }],
        guides: vec![Guide {
            label: "capacity".into(),
            value: 80e9,
        }],
    });
    // (d) 2 series over a log x axis: 4 + 3 points, 2 lines.
    page.chart(LineChart {
        title: "MFU over cluster size".into(),
        x: axis("accelerators", Unit::Count(String::new()), true),
        y: axis("MFU", Unit::Fraction, false),
        series: vec![
            Series {
                name: "llama-3.1-405b".into(),
                points: vec![(1024.0, 0.42), (2048.0, 0.41), (4096.0, 0.39), (8192.0, 0.36)],
            },
            Series {
                name: "deepseek-v3".into(),
                points: vec![(1024.0, 0.30), (4096.0, 0.27), (8192.0, 0.25)],
            },
        ],
    });
    let want: BTreeMap<String, usize> = [
        ("pareto-point", 4),
        ("point", 3),
        ("pareto-line", 1),
        ("highlight", 1),
        ("bar", 20),
        ("segment", 14),
        ("line-point", 7),
        ("line", 2),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    (page, want)
}

#[test]
fn every_chart_kind_renders_in_chromium() {
    let (page, want) = every_kind();
    assert_eq!(
        page.expected_marks(),
        want,
        "the library's own count agrees with the data"
    );
    let s = Scratch::new("kinds");
    let file = s.path("report.html");
    std::fs::write(&file, page.render()).unwrap();
    // To look at the page: FABRICSIM_HTML_KEEP=DIR keeps a copy.
    if let Some(dir) = std::env::var_os("FABRICSIM_HTML_KEEP") {
        std::fs::write(PathBuf::from(dir).join("every-kind.html"), page.render()).unwrap();
    }
    check_in_browser(&file, &s, 5, &want);
}

/// The checks can fail: a script error and an attempt to load from the network are recorded in
/// the DOM (the page's policy blocks the load before any request).
#[test]
fn chromium_sees_script_errors_and_blocked_loads() {
    let Some(browser) = chromium() else { return };
    let (page, _) = every_kind();
    let html = page.render().replace(
        "</main>",
        "<img src=\"http://198.51.100.1/x.png\" alt=\"\"><script>notDefinedAnywhere();</script></main>",
    );
    let s = Scratch::new("broken");
    let file = s.path("broken.html");
    std::fs::write(&file, html).unwrap();
    let dom = dump_dom(&browser, &file, &s);
    let body = attributes(&dom, "body");
    assert_eq!(body.get("data-script").map(String::as_str), Some("ran"));
    let errors: usize = body["data-js-errors"].parse().unwrap();
    assert!(errors >= 2, "expected the error and the blocked load: {body:?}\n{dom}");
    assert!(
        dom.contains("notDefinedAnywhere"),
        "the error's message is in #js-errors"
    );
    assert!(
        dom.contains("blocked by the page policy"),
        "the blocked load is in #js-errors"
    );
}

/// An empty chart draws no marks: the page says "no data" and the browser counts nothing, so a
/// check expecting marks would fail.
#[test]
fn an_empty_chart_counts_no_marks_in_chromium() {
    let Some(browser) = chromium() else { return };
    let mut page = Page::new("empty");
    page.chart(BarChart {
        title: "nothing".into(),
        metrics: vec![],
        rows: vec![],
    });
    let s = Scratch::new("empty");
    let file = s.path("empty.html");
    std::fs::write(&file, page.render()).unwrap();
    let dom = dump_dom(&browser, &file, &s);
    let body = attributes(&dom, "body");
    assert_eq!(body.get("data-script").map(String::as_str), Some("ran"));
    assert_eq!(body.get("data-marks-total").map(String::as_str), Some("0"));
    assert!(dom.contains(">no data</text>"));
}

fn fabricsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .output()
        .expect("run fabricsim")
}

/// Positive finite values: the segments a stacked bar draws.
fn positive(vals: &[f64]) -> usize {
    vals.iter().filter(|v| v.is_finite() && **v > 0.0).count()
}

/// Segments the stacked bar of a report's `breakdown` draws: its non-zero parts, with exposed
/// ZeRO-3/FSDP time as its own part (the JSON counts it inside `dp_comm_s`).
fn breakdown_segments(b: &Value) -> usize {
    let f = |k: &str| b[k].as_f64().unwrap_or_else(|| panic!("{k} in {b}"));
    positive(&[
        f("compute_s"),
        f("recompute_s"),
        f("tp_comm_s"),
        f("cp_comm_s"),
        f("ep_comm_s"),
        f("fsdp_comm_s"),
        f("pp_comm_s"),
        f("pipeline_bubble_s"),
        (f("dp_comm_s") - f("fsdp_comm_s")).max(0.0),
        f("optimizer_s"),
    ])
}

/// Marks `train --html` should draw for a `train --json` report.
fn train_marks(r: &Value) -> (usize, BTreeMap<String, usize>) {
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
    let mut segments = breakdown_segments(&r["breakdown"]);
    let mut charts = 2;
    if r["plan"]["pp"].as_u64().unwrap() > 1 {
        charts += 1;
        for s in r["stages"].as_array().unwrap() {
            segments += positive(
                &[
                    "compute_s",
                    "recompute_s",
                    "tp_comm_s",
                    "cp_comm_s",
                    "ep_comm_s",
                    "zero3_comm_s",
                    "pp_comm_s",
                    "bubble_s",
                    "dp_comm_s",
                    "optimizer_s",
                ]
                .map(|k| f(s, k)),
            );
        }
    }
    let m = &r["memory"];
    segments += positive(
        &[
            "weights_bytes",
            "gradients_bytes",
            "optimizer_bytes",
            "activations_bytes",
            "buffers_bytes",
        ]
        .map(|k| f(m, k)),
    );
    let mut want = BTreeMap::from([("segment".to_string(), segments)]);
    let links = r["busiest_links"].as_array().unwrap().len();
    if links > 0 {
        charts += 1;
        want.insert("bar".into(), links);
    }
    (charts, want)
}

/// `train --html` on the built-in scenario (PP > 1, so every stage is drawn): the page runs in
/// chromium and draws one segment per non-zero part of the step, of every stage and of memory,
/// and one bar per busiest link — the numbers of the same run's `--json`.
#[test]
fn train_html_renders_in_chromium() {
    let s = Scratch::new("train");
    let file = s.path("train.html");
    let o = fabricsim(&[
        "train",
        "--fidelity",
        "analytical",
        "--json",
        "--html",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).expect("train --json");
    assert!(
        r["plan"]["pp"].as_u64().unwrap() > 1,
        "the built-in scenario is pipelined"
    );
    let (charts, want) = train_marks(&r);
    assert!(want["segment"] >= 8, "{want:?}");
    let html = std::fs::read_to_string(&file).unwrap();
    for (kind, n) in &want {
        assert_eq!(html.matches(&format!("data-kind=\"{kind}\"")).count(), *n, "{kind}");
    }
    check_in_browser(&file, &s, charts, &want);
}

/// `--html` changes nothing else: stdout is the same with and without it, and the page is the
/// same bytes on every run. (Needs no browser.)
#[test]
fn train_html_is_deterministic_and_leaves_stdout_alone() {
    let s = Scratch::new("determinism");
    let (a, b) = (s.path("a.html"), s.path("b.html"));
    let args = ["train", "--fidelity", "analytical", "--pp", "1", "--tp", "8"];
    let plain = fabricsim(&args);
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    for f in [&a, &b] {
        let mut with = args.to_vec();
        with.extend(["--html", f.to_str().unwrap()]);
        let o = fabricsim(&with);
        assert!(o.status.success());
        assert_eq!(o.stdout, plain.stdout, "stdout with --html");
    }
    let (ha, hb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(ha, hb, "same run, same bytes");
    let html = String::from_utf8(ha).unwrap();
    // PP 1: no per-stage chart; the step, memory (and links) charts.
    assert!(!html.contains("Pipeline stages"));
    assert!(html.contains("data-chart=\"stacked\""));
}

#[test]
fn train_html_to_an_unwritable_path_is_a_user_error() {
    let o = fabricsim(&[
        "train",
        "--fidelity",
        "analytical",
        "--html",
        "/nonexistent-dir-fabricsim/report.html",
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--html: cannot write `/nonexistent-dir-fabricsim/report.html`"),
        "{e}"
    );
    assert!(!e.contains("panicked"));
}

/// `compare --html`: one bar per fabric per metric (seven metrics for a training job), counted
/// by the browser against the rows of the same run's `--json`.
#[test]
fn compare_html_renders_in_chromium() {
    let s = Scratch::new("compare");
    let file = s.path("compare.html");
    let o = fabricsim(&[
        "compare",
        "--clusters",
        "fat-tree:gpus=64,rail-optimized:gpus=64,fat-tree:gpus=128,oversub=3",
        "--model",
        "llama-3.1-8b",
        "--gpus",
        "64",
        "--tp",
        "1",
        "--pp",
        "1",
        "--seq",
        "4096",
        "--gbs",
        "64",
        "--fidelity",
        "analytical",
        "--json",
        "--html",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).expect("compare --json");
    let rows = r["rows"].as_array().unwrap().len();
    assert_eq!(rows, 3);
    let want = BTreeMap::from([("bar".to_string(), rows * 7)]);
    check_in_browser(&file, &s, 1, &want);
}

/// `design --html`: one point per design on the front (the reference included), the front's
/// step line, and the ring around the cheapest design within the slowdown.
#[test]
fn design_html_renders_in_chromium() {
    let s = Scratch::new("design");
    let file = s.path("design.html");
    let o = fabricsim(&[
        "design",
        "--gpus",
        "256",
        "--node",
        "dgx-h100",
        "--model",
        "llama-3.1-8b",
        "--tp",
        "1",
        "--pp",
        "1",
        "--seq",
        "4096",
        "--gbs",
        "256",
        "--json",
        "--html",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).expect("design --json");
    let front = r["front"].as_array().unwrap();
    let dominated = front.iter().filter(|d| d["dominated"].as_bool() == Some(true)).count();
    let on_front = front.len() - dominated;
    let mut want = BTreeMap::from([("pareto-point".to_string(), on_front)]);
    if dominated > 0 {
        want.insert("point".into(), dominated);
    }
    if on_front >= 2 {
        want.insert("pareto-line".into(), 1);
    }
    if let Some(c) = r["cheapest_within"].as_object() {
        want.insert("highlight".into(), 1);
        let spec = c["spec"].as_str().unwrap();
        if !front.iter().any(|d| d["spec"].as_str() == Some(spec)) {
            *want.entry("point".into()).or_insert(0) += 1;
        }
    }
    assert!(on_front >= 1, "{r}");
    check_in_browser(&file, &s, 1, &want);
}

/// `sweep --html`: one line point per training point of the bundled example grid, one line per
/// series with two or more points.
#[test]
fn sweep_html_renders_in_chromium() {
    let s = Scratch::new("sweep");
    let file = s.path("sweep.html");
    let out = s.path("sweep.json");
    let grid = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sweep.toml");
    let o = fabricsim(&[
        "sweep",
        grid,
        "--json",
        "-o",
        out.to_str().unwrap(),
        "--html",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("sweep --json");
    let mut series: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut charts = BTreeMap::new();
    for row in r["rows"].as_array().unwrap() {
        if !row["error"].is_null() {
            continue;
        }
        let key = if row["kind"] == "train" {
            if row["step_time_s"].is_null() || (row["accelerators_used"].is_null() && row["gpus"].is_null()) {
                continue;
            }
            charts.insert("train", ());
            format!("t {} {} {}", row["cluster"], row["model"], row["plan"])
        } else {
            if row["busbw_bytes_per_s"].is_null() {
                continue;
            }
            charts.insert("coll", ());
            let ranks = if row["ranks"].is_null() {
                &row["ranks_used"]
            } else {
                &row["ranks"]
            };
            format!("c {} {} {}", row["cluster"], row["op"], ranks)
        };
        *series.entry((key, String::new())).or_insert(0) += 1;
    }
    let points: usize = series.values().sum();
    let lines = series.values().filter(|n| **n >= 2).count();
    assert!(points > 0);
    let mut want = BTreeMap::from([("line-point".to_string(), points)]);
    if lines > 0 {
        want.insert("line".into(), lines);
    }
    check_in_browser(&file, &s, charts.len(), &want);
}

/// `plan --html`: one stacked bar per plan shown, one segment per non-zero part of its step —
/// the breakdowns of the same run's `--json`.
#[test]
fn plan_html_renders_in_chromium() {
    let s = Scratch::new("plan");
    let file = s.path("plan.html");
    let o = fabricsim(&[
        "plan",
        "--cluster",
        "fat-tree:gpus=64",
        "--model",
        "llama-3.1-8b",
        "--seq",
        "4096",
        "--gbs",
        "64",
        "--fidelity",
        "analytical",
        "--top",
        "3",
        "--json",
        "--html",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).expect("plan --json");
    let segments: usize = r["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| breakdown_segments(&p["breakdown"]))
        .sum();
    assert!(segments >= 3);
    let want = BTreeMap::from([("segment".to_string(), segments)]);
    check_in_browser(&file, &s, 1, &want);
}
