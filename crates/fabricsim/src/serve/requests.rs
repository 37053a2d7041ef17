//! Workloads: synthetic requests, agent sessions, trace replay — generated lazily and
//! deterministically from a seed.

use serde::Serialize;

/// A token-length distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LenDist {
    Fixed {
        tokens: u32,
    },
    /// Uniform over `lo..=hi` (InferenceX's "random range ratio" draws lengths this way).
    Uniform {
        lo: u32,
        hi: u32,
    },
}

impl LenDist {
    /// Parse `1024` or `512..2048` (`what` names the flag).
    pub fn parse(s: &str, what: &str) -> Result<LenDist, String> {
        let num = |x: &str| -> Result<u32, String> {
            x.trim()
                .parse::<u32>()
                .map_err(|_| format!("{what}: `{x}` is not a whole number of tokens"))
        };
        let d = match s.split_once("..") {
            Some((a, b)) => {
                let (lo, hi) = (num(a)?, num(b.trim_start_matches('='))?);
                if lo > hi {
                    return Err(format!("{what}: {lo}..{hi} is an empty range"));
                }
                LenDist::Uniform { lo, hi }
            }
            None => LenDist::Fixed { tokens: num(s)? },
        };
        if d.max() > MAX_TOKENS {
            return Err(format!("{what}: {} tokens is more than {MAX_TOKENS}", d.max()));
        }
        Ok(d)
    }

    pub fn max(&self) -> u32 {
        match *self {
            LenDist::Fixed { tokens } => tokens,
            LenDist::Uniform { hi, .. } => hi,
        }
    }

    pub fn mean(&self) -> f64 {
        match *self {
            LenDist::Fixed { tokens } => tokens as f64,
            LenDist::Uniform { lo, hi } => (lo as f64 + hi as f64) / 2.0,
        }
    }

    fn draw(&self, rng: &mut Rng) -> u32 {
        match *self {
            LenDist::Fixed { tokens } => tokens,
            LenDist::Uniform { lo, hi } => lo + (rng.next_u64() % (hi as u64 - lo as u64 + 1)) as u32,
        }
    }

    pub fn describe(&self) -> String {
        match *self {
            LenDist::Fixed { tokens } => tokens.to_string(),
            LenDist::Uniform { lo, hi } => format!("{lo}..{hi}"),
        }
    }
}

/// Longest prompt or output one request may have.
pub const MAX_TOKENS: u32 = 10_000_000;

/// How requests (or sessions) arrive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arrivals {
    /// Open loop: Poisson arrivals at `rate_per_s`.
    Poisson { rate_per_s: f64 },
    /// Closed loop: `users` each send the next request (session) when the previous one ends.
    Concurrency { users: u32 },
}

/// One row of a trace (`arrival_s,input_tokens,output_tokens[,session]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceRow {
    pub arrival_s: f64,
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub session: Option<u64>,
}

/// A workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Workload {
    /// Independent requests; `shared_prefix_tokens` of every prompt are a common system prompt.
    Synthetic {
        input: LenDist,
        output: LenDist,
        arrivals: Arrivals,
        shared_prefix_tokens: u32,
    },
    /// Agent sessions: multi-turn conversations whose prompt is the whole earlier context plus
    /// `turn_input` new tokens (tool results, the user's next message), after a tool-call pause
    /// (exponential, mean `pause_mean_s`) between a turn's end and the next turn.
    Agent {
        arrivals: Arrivals,
        turns: LenDist,
        first_input: LenDist,
        turn_input: LenDist,
        output: LenDist,
        pause_mean_s: f64,
    },
    /// Trace replay: rows in arrival order; rows of one session are its turns (each row's input
    /// counts the whole prompt; the previous turn's context is its cacheable prefix).
    Trace { rows: Vec<TraceRow> },
}

impl Workload {
    /// One-line description.
    pub fn describe(&self) -> String {
        let arr = |a: &Arrivals| match *a {
            Arrivals::Poisson { rate_per_s } => format!("Poisson {rate_per_s} /s"),
            Arrivals::Concurrency { users } => format!("concurrency {users}"),
        };
        match self {
            Workload::Synthetic {
                input,
                output,
                arrivals,
                shared_prefix_tokens,
            } => format!(
                "synthetic: input {} / output {} tokens, {}{}",
                input.describe(),
                output.describe(),
                arr(arrivals),
                if *shared_prefix_tokens > 0 {
                    format!(", shared prefix {shared_prefix_tokens}")
                } else {
                    String::new()
                }
            ),
            Workload::Agent {
                arrivals,
                turns,
                first_input,
                turn_input,
                output,
                pause_mean_s,
            } => format!(
                "agent sessions: {} turns, first input {}, +{} per turn, output {}, tool pause {pause_mean_s} s, {}",
                turns.describe(),
                first_input.describe(),
                turn_input.describe(),
                output.describe(),
                arr(arrivals)
            ),
            Workload::Trace { rows } => format!("trace: {} requests", rows.len()),
        }
    }

    /// Longest prompt and longest context (prompt + output) one request can reach.
    pub fn max_tokens(&self) -> (u64, u64) {
        match self {
            Workload::Synthetic { input, output, .. } => (input.max() as u64, input.max() as u64 + output.max() as u64),
            Workload::Agent {
                turns,
                first_input,
                turn_input,
                output,
                ..
            } => {
                let t = turns.max().max(1) as u64;
                let prompt = first_input.max() as u64 + (t - 1) * (turn_input.max() as u64 + output.max() as u64);
                (prompt, prompt + output.max() as u64)
            }
            Workload::Trace { rows } => (
                rows.iter().map(|r| r.input_tokens as u64).max().unwrap_or(0),
                rows.iter()
                    .map(|r| r.input_tokens as u64 + r.output_tokens as u64)
                    .max()
                    .unwrap_or(0),
            ),
        }
    }

    /// Check the parameters.
    pub fn check(&self) -> Result<(), String> {
        let arr = |a: &Arrivals| -> Result<(), String> {
            match *a {
                Arrivals::Poisson { rate_per_s }
                    if !(rate_per_s.is_finite() && rate_per_s > 0.0 && rate_per_s <= 1e7) =>
                {
                    Err(format!("--rate: {rate_per_s} requests/s must be in (0, 1e7]"))
                }
                Arrivals::Concurrency { users } if users == 0 || users > 10_000_000 => {
                    Err(format!("--concurrency: {users} must be in 1..=10,000,000"))
                }
                _ => Ok(()),
            }
        };
        match self {
            Workload::Synthetic {
                input,
                output,
                arrivals,
                shared_prefix_tokens,
            } => {
                arr(arrivals)?;
                if output.max() == 0 {
                    return Err("--output-len: requests must generate at least 1 token".into());
                }
                if input.max() == 0 {
                    return Err("--input-len: prompts must have at least 1 token".into());
                }
                if *shared_prefix_tokens > 0 && matches!(input, LenDist::Uniform{lo, ..} if *lo < *shared_prefix_tokens)
                    || matches!(input, LenDist::Fixed{tokens} if *tokens < *shared_prefix_tokens)
                {
                    return Err(format!(
                        "--shared-prefix: {shared_prefix_tokens} tokens is longer than the shortest prompt"
                    ));
                }
                Ok(())
            }
            Workload::Agent {
                arrivals,
                turns,
                first_input,
                output,
                pause_mean_s,
                ..
            } => {
                arr(arrivals)?;
                if turns.max() == 0 || output.max() == 0 || first_input.max() == 0 {
                    return Err("agent sessions need at least 1 turn, 1 input and 1 output token".into());
                }
                if !(pause_mean_s.is_finite() && *pause_mean_s >= 0.0) {
                    return Err(format!("--tool-pause: {pause_mean_s} s must be ≥ 0"));
                }
                Ok(())
            }
            Workload::Trace { rows } => {
                if rows.is_empty() {
                    return Err("the trace has no requests".into());
                }
                Ok(())
            }
        }
    }
}

/// One request (one turn of a session).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// Prompt tokens (the whole prompt, including any cacheable prefix).
    pub input: u32,
    pub output: u32,
    /// Leading prompt tokens that an earlier request left in a cache (the session's previous
    /// context, or the shared system prompt).
    pub prefix: u32,
    /// Whether `prefix` is the shared system prompt (cached once per attention rank) rather than
    /// the session's own context.
    pub shared_prefix: bool,
    /// Pause between the previous turn's end and this turn's release (0 for a first turn).
    pub pause_s: f64,
    /// A trace turn's own arrival: it is released then, or when the previous turn ends if that
    /// is later (a turn cannot be sent before the answer it follows).
    pub at_s: Option<f64>,
}

/// A session: one or more turns, released one after the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: u64,
    /// Open-loop arrival of the first turn (closed-loop sessions start when a user is free).
    pub arrival_s: Option<f64>,
    pub turns: Vec<RequestSpec>,
}

/// Deterministic generator of sessions.
#[derive(Debug, Clone)]
pub struct Generator {
    workload: Workload,
    rng: Rng,
    next_id: u64,
    clock_s: f64,
    trace_pos: usize,
    /// Trace rows grouped by session, in first-arrival order (built once).
    trace_sessions: Vec<Session>,
    duration_s: f64,
}

/// Check the workload and build its generator.
pub fn generate(w: &Workload, duration_s: f64, seed: u64) -> Result<Generator, String> {
    w.check()?;
    let mut trace_sessions = Vec::new();
    if let Workload::Trace { rows } = w {
        let mut index: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            let key = r.session.unwrap_or(u64::MAX - i as u64);
            match index.get(&key) {
                Some(&s) if r.session.is_some() => {
                    let sess: &mut Session = &mut trace_sessions[s];
                    let prev = sess.turns.last().expect("a session has a turn");
                    let prefix = (prev.input + prev.output).min(r.input_tokens);
                    // The row's arrival is when the turn was sent: it is released then, or when
                    // the previous turn ends if that is later.
                    sess.turns.push(RequestSpec {
                        input: r.input_tokens,
                        output: r.output_tokens,
                        prefix,
                        shared_prefix: false,
                        pause_s: 0.0,
                        at_s: Some(r.arrival_s),
                    });
                }
                _ => {
                    index.insert(key, trace_sessions.len());
                    trace_sessions.push(Session {
                        id: trace_sessions.len() as u64,
                        arrival_s: Some(r.arrival_s),
                        turns: vec![RequestSpec {
                            input: r.input_tokens,
                            output: r.output_tokens,
                            prefix: 0,
                            shared_prefix: false,
                            pause_s: 0.0,
                            at_s: None,
                        }],
                    });
                }
            }
        }
    }
    Ok(Generator {
        workload: w.clone(),
        rng: Rng::new(seed),
        next_id: 0,
        clock_s: 0.0,
        trace_pos: 0,
        trace_sessions,
        duration_s,
    })
}

impl Generator {
    /// Closed-loop users, if the workload is closed-loop.
    pub fn users(&self) -> Option<u32> {
        match &self.workload {
            Workload::Synthetic {
                arrivals: Arrivals::Concurrency { users },
                ..
            }
            | Workload::Agent {
                arrivals: Arrivals::Concurrency { users },
                ..
            } => Some(*users),
            _ => None,
        }
    }

    /// The next session; open-loop sessions carry their arrival and stop at the window's end.
    pub fn next_session(&mut self) -> Option<Session> {
        let id = self.next_id;
        match self.workload.clone() {
            Workload::Trace { .. } => {
                let s = self.trace_sessions.get(self.trace_pos)?.clone();
                self.trace_pos += 1;
                if s.arrival_s.unwrap_or(0.0) > self.duration_s {
                    return None;
                }
                self.next_id += 1;
                Some(s)
            }
            Workload::Synthetic {
                input,
                output,
                arrivals,
                shared_prefix_tokens,
            } => {
                let arrival = self.arrival(arrivals)?;
                let turn = RequestSpec {
                    input: input.draw(&mut self.rng).max(1),
                    output: output.draw(&mut self.rng).max(1),
                    prefix: shared_prefix_tokens,
                    shared_prefix: shared_prefix_tokens > 0,
                    pause_s: 0.0,
                    at_s: None,
                };
                self.next_id += 1;
                Some(Session {
                    id,
                    arrival_s: arrival,
                    turns: vec![turn],
                })
            }
            Workload::Agent {
                arrivals,
                turns,
                first_input,
                turn_input,
                output,
                pause_mean_s,
            } => {
                let arrival = self.arrival(arrivals)?;
                let n = turns.draw(&mut self.rng).max(1);
                let mut v = Vec::with_capacity(n as usize);
                let mut context = 0u32;
                for t in 0..n {
                    let new = if t == 0 {
                        first_input.draw(&mut self.rng).max(1)
                    } else {
                        turn_input.draw(&mut self.rng).max(1)
                    };
                    let out = output.draw(&mut self.rng).max(1);
                    let pause = if t == 0 {
                        0.0
                    } else {
                        self.rng.exponential(pause_mean_s)
                    };
                    let input = context.saturating_add(new).min(MAX_TOKENS);
                    v.push(RequestSpec {
                        input,
                        output: out,
                        prefix: context.min(input),
                        shared_prefix: false,
                        pause_s: pause,
                        at_s: None,
                    });
                    context = input.saturating_add(out).min(MAX_TOKENS);
                }
                self.next_id += 1;
                Some(Session {
                    id,
                    arrival_s: arrival,
                    turns: v,
                })
            }
        }
    }

    /// `Some(Some(t))` open-loop arrival, `Some(None)` closed loop, `None` past the window.
    fn arrival(&mut self, a: Arrivals) -> Option<Option<f64>> {
        match a {
            Arrivals::Poisson { rate_per_s } => {
                self.clock_s += self.rng.exponential(1.0 / rate_per_s);
                (self.clock_s <= self.duration_s).then_some(Some(self.clock_s))
            }
            Arrivals::Concurrency { .. } => Some(None),
        }
    }
}

/// Parse a trace CSV: a header naming at least `arrival_s`, `input_tokens`, `output_tokens`
/// (and optionally `session`), then one request per line in non-decreasing arrival order.
/// `file` names the file in errors; a bad line is named by its number.
pub fn parse_trace(text: &str, file: &str) -> Result<Vec<TraceRow>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    });
    let (_, header) = lines.next().ok_or_else(|| format!("{file}: the trace is empty"))?;
    let cols: Vec<String> = header.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
    let find = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
    let ia = find(&["arrival_s", "arrival", "timestamp_s", "time_s"])
        .ok_or_else(|| format!("{file}: line 1: no `arrival_s` column (header: {header})"))?;
    let ii = find(&["input_tokens", "input", "prompt_tokens", "input_len"])
        .ok_or_else(|| format!("{file}: line 1: no `input_tokens` column (header: {header})"))?;
    let io = find(&["output_tokens", "output", "completion_tokens", "output_len"])
        .ok_or_else(|| format!("{file}: line 1: no `output_tokens` column (header: {header})"))?;
    let is = find(&["session", "session_id", "conversation"]);
    let mut rows = Vec::new();
    let mut last = 0.0f64;
    for (n, line) in lines {
        let line_no = n + 1;
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |i: usize, name: &str| -> Result<&str, String> {
            f.get(i)
                .copied()
                .ok_or_else(|| format!("{file}: line {line_no}: missing `{name}` (have {} fields)", f.len()))
        };
        let arrival: f64 = get(ia, "arrival_s")?
            .parse()
            .map_err(|_| format!("{file}: line {line_no}: arrival_s `{}` is not a number", f[ia]))?;
        if !(arrival.is_finite() && arrival >= 0.0) {
            return Err(format!("{file}: line {line_no}: arrival_s {arrival} must be ≥ 0"));
        }
        if arrival < last {
            return Err(format!(
                "{file}: line {line_no}: arrival_s {arrival} is before the previous row's {last} (rows must be in arrival order)"
            ));
        }
        last = arrival;
        let tok = |i: usize, name: &str| -> Result<u32, String> {
            let v = get(i, name)?;
            let t: u32 = v
                .parse()
                .map_err(|_| format!("{file}: line {line_no}: {name} `{v}` is not a whole number"))?;
            if t == 0 || t > MAX_TOKENS {
                return Err(format!(
                    "{file}: line {line_no}: {name} {t} must be in 1..={MAX_TOKENS}"
                ));
            }
            Ok(t)
        };
        let input = tok(ii, "input_tokens")?;
        let output = tok(io, "output_tokens")?;
        let session = match is {
            Some(i) => {
                let v = get(i, "session")?;
                if v.is_empty() {
                    None
                } else {
                    Some(
                        v.parse::<u64>()
                            .map_err(|_| format!("{file}: line {line_no}: session `{v}` is not a whole number"))?,
                    )
                }
            }
            None => None,
        };
        rows.push(TraceRow {
            arrival_s: arrival,
            input_tokens: input,
            output_tokens: output,
            session,
        });
        if rows.len() > super::MAX_REQUESTS {
            return Err(format!("{file}: more than {} requests", super::MAX_REQUESTS));
        }
    }
    if rows.is_empty() {
        return Err(format!("{file}: the trace has a header but no requests"));
    }
    Ok(rows)
}

/// SplitMix64: small, fast, deterministic across platforms.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5EED_F00D_CAFE_BABE)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Exponential with the given mean (0 when the mean is 0).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            0.0
        } else {
            -mean * self.unit().ln()
        }
    }
}
