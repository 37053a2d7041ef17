//! Readers of public GPU-cluster job traces (text in, jobs out; the caller reads the file).
//!
//! - **Acme** (InternLM/AcmeTrace, Hu et al., NSDI'24): Seren's columns `job_id, user,
//!   node_num, gpu_num, cpu_num, type, state, submit_time, start_time, end_time, duration,
//!   queue, gpu_time`; Kalos adds `mem_per_pod_GB, shared_mem_per_pod, fail_time, stop_time`.
//! - **Helios** (`cluster_log.csv`, SenseTime, SC'21): `job_id, user, vc, gpu_num, cpu_num,
//!   node_num, state, submit_time, start_time, end_time, duration, queue`.
//!
//! Columns are found by their header name, in any order; a missing column, a column neither
//! format has, or a value that does not parse is an error naming the file, the line and the
//! field. `state` is COMPLETED, CANCELLED, FAILED, TIMEOUT or NODE_FAIL (TIMEOUT and NODE_FAIL
//! count as failed). Times are ISO timestamps (`2023-03-01 08:00:05+08:00`, `T` or a space,
//! optional fraction, offset `+HH:MM`, `Z` or none = UTC). CPU jobs (`gpu_num` 0) are skipped
//! and counted. A job's simulated work is its `duration` (end − start when `duration` is empty,
//! 0 when it never started); its submit time is taken relative to the trace's first submit.

use super::{Job, JobState};

/// Which trace format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Acme,
    Helios,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "acme" => Some(Format::Acme),
            "helios" => Some(Format::Helios),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Format::Acme => "acme",
            Format::Helios => "helios",
        }
    }
    fn required(self) -> &'static [&'static str] {
        match self {
            Format::Acme => &[
                "job_id",
                "user",
                "node_num",
                "gpu_num",
                "cpu_num",
                "type",
                "state",
                "submit_time",
                "start_time",
                "end_time",
                "duration",
                "queue",
                "gpu_time",
            ],
            Format::Helios => &[
                "job_id",
                "user",
                "vc",
                "gpu_num",
                "cpu_num",
                "node_num",
                "state",
                "submit_time",
                "start_time",
                "end_time",
                "duration",
                "queue",
            ],
        }
    }
    fn optional(self) -> &'static [&'static str] {
        match self {
            Format::Acme => &["mem_per_pod_GB", "shared_mem_per_pod", "fail_time", "stop_time"],
            Format::Helios => &[],
        }
    }
}

/// The jobs of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// GPU jobs, sorted by submit time (then by line).
    pub jobs: Vec<Job>,
    /// CPU-only jobs left out.
    pub cpu_jobs_skipped: u64,
}

/// Seconds since 1970-01-01 UTC of an ISO timestamp.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        frac = format!("0.{}", &r[..n]).parse().ok()?;
        rest = &r[n..];
    }
    let offset = match rest {
        "" | "Z" => 0,
        r if (r.starts_with('+') || r.starts_with('-')) && r.len() == 6 && r.as_bytes()[3] == b':' => {
            let hh: i64 = r[1..3].parse().ok()?;
            let mm: i64 = r[4..6].parse().ok()?;
            if !r[1..3].bytes().all(|c| c.is_ascii_digit()) || !r[4..6].bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let sign = if r.starts_with('-') { -1 } else { 1 };
            sign * (hh * 3600 + mm * 60)
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset) as f64 + frac)
}

/// Read a trace. `file` names it in messages.
pub fn read(file: &str, text: &str, format: Format) -> Result<Trace, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| format!("{file}:1: cannot read the header: {e}"))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    for h in headers.iter() {
        if !format.required().contains(&h) && !format.optional().contains(&h) {
            return Err(format!(
                "{file}:1: column `{h}` is not in the {} format (columns: {})",
                format.name(),
                format.required().join(", ")
            ));
        }
    }
    let mut idx = std::collections::BTreeMap::new();
    for &r in format.required() {
        let i = col(r).ok_or_else(|| {
            format!(
                "{file}:1: the {} format needs a `{r}` column (columns: {})",
                format.name(),
                format.required().join(", ")
            )
        })?;
        idx.insert(r, i);
    }
    let mut raw = Vec::new();
    let mut cpu = 0u64;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            format!("{file}:{line}: {e}")
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let get = |f: &str| rec.get(idx[f]).unwrap_or("");
        let bad = |f: &str, why: &str| format!("{file}:{line}: field `{f}`: `{}` {why}", get(f));
        let gpus_f: f64 = get("gpu_num")
            .parse()
            .map_err(|_| bad("gpu_num", "is not a number of GPUs"))?;
        if !(gpus_f >= 0.0 && gpus_f.fract() == 0.0 && gpus_f <= 1e7) {
            return Err(bad("gpu_num", "is not a whole number of GPUs (0 … 10,000,000)"));
        }
        let state = match get("state") {
            "COMPLETED" => JobState::Completed,
            "CANCELLED" => JobState::Cancelled,
            "FAILED" | "TIMEOUT" | "NODE_FAIL" => JobState::Failed,
            _ => {
                return Err(bad(
                    "state",
                    "is not COMPLETED, CANCELLED, FAILED, TIMEOUT or NODE_FAIL",
                ))
            }
        };
        let submit = parse_timestamp(get("submit_time"))
            .ok_or_else(|| bad("submit_time", "is not an ISO timestamp (2023-03-01 08:00:05+08:00)"))?;
        let opt_time = |f: &str| -> Result<Option<f64>, String> {
            let v = get(f);
            if v.is_empty() || v.eq_ignore_ascii_case("nan") || v.eq_ignore_ascii_case("none") {
                return Ok(None);
            }
            parse_timestamp(v)
                .map(Some)
                .ok_or_else(|| bad(f, "is not an ISO timestamp (2023-03-01 08:00:05+08:00)"))
        };
        let start = opt_time("start_time")?;
        let end = opt_time("end_time")?;
        let opt_secs = |f: &str| -> Result<Option<f64>, String> {
            let v = get(f);
            if v.is_empty() || v.eq_ignore_ascii_case("nan") {
                return Ok(None);
            }
            let x: f64 = v.parse().map_err(|_| bad(f, "is not a number of seconds"))?;
            if !(x.is_finite() && x >= 0.0) {
                return Err(bad(f, "is not a non-negative number of seconds"));
            }
            Ok(Some(x))
        };
        let duration = match (opt_secs("duration")?, start, end) {
            (Some(d), _, _) => d,
            (None, Some(s), Some(e)) if e >= s => e - s,
            (None, Some(_), Some(_)) => return Err(bad("end_time", "is before start_time")),
            _ => 0.0,
        };
        let queue = opt_secs("queue")?;
        if gpus_f == 0.0 {
            cpu += 1;
            continue;
        }
        let priority = match format {
            // Pre-training jobs are the lab's reserved, high-priority work (Hu et al. §2).
            Format::Acme if get("type").eq_ignore_ascii_case("pretrain") => 1,
            _ => 0,
        };
        raw.push(Job {
            id: get("job_id").to_string(),
            submit_s: submit,
            gpus: gpus_f as u32,
            run_s: duration,
            state,
            priority,
            trace_queue_s: queue,
        });
    }
    if raw.is_empty() {
        return Err(format!("{file}: the trace has no GPU jobs"));
    }
    raw.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
    let t0 = raw[0].submit_s;
    for j in &mut raw {
        j.submit_s -= t0;
    }
    Ok(Trace {
        jobs: raw,
        cpu_jobs_skipped: cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_with_offsets() {
        let a = parse_timestamp("2023-03-01 08:00:05+08:00").unwrap();
        let b = parse_timestamp("2023-03-01T00:00:05Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(parse_timestamp("1970-01-01 00:00:00").unwrap(), 0.0);
        assert_eq!(parse_timestamp("2000-03-01 00:00:00").unwrap(), 951_868_800.0);
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5-00:30").unwrap(), 1801.5);
        assert!(parse_timestamp("2023-13-01 00:00:00").is_none());
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn seren_and_kalos_and_helios_files_read() {
        let s = read(
            "seren.csv",
            include_str!("../../../../testdata/traces/seren-sample.csv"),
            Format::Acme,
        )
        .unwrap();
        assert_eq!(s.cpu_jobs_skipped, 1);
        assert_eq!(s.jobs.len(), 7);
        assert_eq!(s.jobs[0].submit_s, 0.0);
        assert!(s.jobs.iter().any(|j| j.priority == 1));
        let k = read(
            "kalos.csv",
            include_str!("../../../../testdata/traces/kalos-sample.csv"),
            Format::Acme,
        )
        .unwrap();
        assert!(k.jobs.iter().any(|j| j.gpus == 256));
        let h = read(
            "cluster_log.csv",
            include_str!("../../../../testdata/traces/helios-sample.csv"),
            Format::Helios,
        )
        .unwrap();
        assert!(h.jobs.len() >= 5);
        assert!(h.jobs.windows(2).all(|w| w[0].submit_s <= w[1].submit_s));
    }

    #[test]
    fn a_bad_line_is_named_with_its_field() {
        let text = include_str!("../../../../testdata/traces/seren-sample.csv");
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[3] = lines[3]
            .replacen("COMPLETED", "DONE", 1)
            .replacen("CANCELLED", "DONE", 1)
            .replacen("FAILED", "DONE", 1);
        let e = read("t.csv", &lines.join("\n"), Format::Acme).unwrap_err();
        assert!(e.starts_with("t.csv:4: field `state`"), "{e}");
        let e = read(
            "t.csv",
            &text.replacen("2023-03-01 08:02:10+08:00", "2023-03-01 8h", 1),
            Format::Acme,
        )
        .unwrap_err();
        assert!(e.contains(":3: field `submit_time`"), "{e}");
        let e = read(
            "h.csv",
            include_str!("../../../../testdata/traces/seren-sample.csv"),
            Format::Helios,
        )
        .unwrap_err();
        assert!(e.contains("h.csv:1: column `type`"), "{e}");
    }
}
