//! Pipeline schedules (1F1B and Megatron's interleaved 1F1B) and their execution on the engine:
//! every forward/backward of a (virtual stage, micro-batch) is a task on its physical stage's
//! compute stream, in the schedule's program order; activations and gradients cross stage
//! boundaries as point-to-point tasks; data-parallel gradient buckets run on a separate
//! communication stream as soon as the last micro-batch's backward of their layers is done.
//! Bubbles and overlap emerge from the schedule; nothing here is a closed-form bubble.

use engine::{Engine, Fidelity, Task, TaskId};

/// One forward or backward of a micro-batch on a virtual stage (chunk) of a physical stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeOp {
    pub chunk: u32,
    pub micro: u32,
    pub backward: bool,
}

/// Program order of each physical stage: Megatron's 1F1B (`vp = 1`) or interleaved 1F1B.
///
/// PRECONDITION: `pp ≥ 1`, `vp ≥ 1`, `m ≥ 1`; interleaving (`vp > 1`) needs `m % pp == 0`
/// (as in Megatron-LM).
pub fn order(pp: u32, vp: u32, m: u32) -> Result<Vec<Vec<PipeOp>>, String> {
    if pp == 0 || vp == 0 || m == 0 {
        return Err("pipeline sizes must be positive".into());
    }
    if vp > 1 && m % pp != 0 {
        return Err(format!(
            "interleaved 1F1B needs the micro-batches ({m}) to be a multiple of PP ({pp})"
        ));
    }
    let total = m * vp;
    // Megatron's mapping from the k-th forward (or backward) of a stage to (chunk, micro).
    let fwd = |k: u32| -> PipeOp {
        let chunk = (k / pp) % vp;
        let micro = (k / (pp * vp)) * pp + k % pp;
        PipeOp {
            chunk,
            micro,
            backward: false,
        }
    };
    let bwd = |k: u32| -> PipeOp {
        let chunk = vp - 1 - (k / pp) % vp;
        let micro = (k / (pp * vp)) * pp + k % pp;
        PipeOp {
            chunk,
            micro,
            backward: true,
        }
    };
    let mut out = Vec::with_capacity(pp as usize);
    for s in 0..pp {
        let warmup = if vp == 1 {
            (pp - s - 1).min(m)
        } else {
            ((pp - s - 1) * 2 + (vp - 1) * pp).min(total)
        };
        let mut ops = Vec::with_capacity(2 * total as usize);
        let (mut f, mut b) = (0u32, 0u32);
        for _ in 0..warmup {
            ops.push(fwd(f));
            f += 1;
        }
        while f < total {
            ops.push(fwd(f));
            f += 1;
            ops.push(bwd(b));
            b += 1;
        }
        while b < total {
            ops.push(bwd(b));
            b += 1;
        }
        out.push(ops);
    }
    Ok(out)
}

/// Durations the pipeline needs, per physical stage and chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTimes {
    /// Forward and backward time of one micro-batch on [stage][chunk] (compute plus exposed
    /// tensor/context/expert-parallel communication).
    pub fwd: Vec<Vec<f64>>,
    pub bwd: Vec<Vec<f64>>,
    /// Point-to-point time of one activation (or gradient) between consecutive stages.
    pub p2p: f64,
    /// Data-parallel gradient communication of each stage, split into buckets released as the
    /// last micro-batch's backward of each chunk completes (one bucket per chunk), on a
    /// separate stream. `dp[stage][chunk]` seconds.
    pub dp: Vec<Vec<f64>>,
    /// Optimizer step per stage (after its DP communication).
    pub optimizer: Vec<f64>,
}

/// A span's name in traces, written out only when shown (`Display`: "F c0 mb3",
/// "recv grad mb3", "grad sync c1", "optimizer step"): a step's schedule has thousands of
/// spans, and a search reads none of their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanName {
    /// A forward (`F`) or backward (`B`) pass of micro-batch `micro` on chunk `chunk`.
    Compute { backward: bool, chunk: u32, micro: u32 },
    /// The receive of activations (`act`) or gradients (`grad`) of micro-batch `micro`.
    Recv { backward: bool, micro: u32 },
    /// The data-parallel gradient synchronisation of chunk `chunk`.
    GradSync { chunk: u32 },
    /// The optimizer step.
    Optimizer,
}

impl std::fmt::Display for SpanName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            SpanName::Compute { backward, chunk, micro } => {
                write!(f, "{} c{chunk} mb{micro}", if backward { "B" } else { "F" })
            }
            SpanName::Recv { backward, micro } => {
                write!(f, "recv {} mb{micro}", if backward { "grad" } else { "act" })
            }
            SpanName::GradSync { chunk } => write!(f, "grad sync c{chunk}"),
            SpanName::Optimizer => f.write_str("optimizer step"),
        }
    }
}

/// A span on a stream, for traces.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The physical stage (for a p2p span, the receiving stage).
    pub stage: u32,
    /// "compute", "p2p", "dp", "optimizer".
    pub stream: &'static str,
    pub name: SpanName,
    pub start: f64,
    pub end: f64,
    /// Compute spans: the forward/backward run; p2p spans: the one the send feeds.
    pub op: Option<PipeOp>,
    /// p2p spans: the sending stage and the forward/backward whose output is sent.
    pub from: Option<(u32, PipeOp)>,
}

/// The timeline of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub step_time: f64,
    pub spans: Vec<Span>,
    /// Time each stage's compute stream was busy with forward/backward.
    pub busy: Vec<f64>,
}

/// How communication between compute tasks is added to the engine. The symmetric model
/// ([`DelayHooks`]) uses precomputed durations; a full simulation adds real flow transfers.
pub trait Hooks {
    /// Add the send of an activation (`backward = false`) or gradient from physical stage
    /// `from` to `to` of pipeline `replica`, after `dep`; return the task the receiver waits on.
    fn p2p(
        &mut self,
        e: &mut Engine,
        replica: u32,
        from: u32,
        to: u32,
        backward: bool,
        dep: TaskId,
    ) -> Result<TaskId, String>;
    /// Add the data-parallel gradient synchronisation of `chunk` on physical `stage` (all
    /// replicas together), after `deps`; return its first and last task.
    fn dp(&mut self, e: &mut Engine, stage: u32, chunk: u32, deps: &[TaskId]) -> Result<(TaskId, TaskId), String>;
}

/// Communication as fixed durations: p2p as a delay, DP buckets on a per-stage stream.
pub struct DelayHooks<'a> {
    pub times: &'a StageTimes,
    pub pp: u32,
}

impl Hooks for DelayHooks<'_> {
    fn p2p(
        &mut self,
        e: &mut Engine,
        _replica: u32,
        _from: u32,
        _to: u32,
        _backward: bool,
        dep: TaskId,
    ) -> Result<TaskId, String> {
        e.add_task(
            Task::Delay {
                seconds: self.times.p2p,
            },
            &[dep],
        )
        .map_err(|e| e.to_string())
    }
    fn dp(&mut self, e: &mut Engine, stage: u32, chunk: u32, deps: &[TaskId]) -> Result<(TaskId, TaskId), String> {
        let secs = self
            .times
            .dp
            .get(stage as usize)
            .and_then(|d| d.get(chunk as usize))
            .copied()
            .unwrap_or(0.0);
        let id = e
            .add_task(
                Task::Compute {
                    resource: self.pp + stage,
                    seconds: secs,
                },
                deps,
            )
            .map_err(|e| e.to_string())?;
        Ok((id, id))
    }
}

/// Run the schedule of one pipeline on its own engine (compute streams are resources
/// `stage`, DP streams `pp + stage`); communication as fixed durations.
pub fn simulate(pp: u32, vp: u32, m: u32, t: &StageTimes) -> Result<Timeline, String> {
    let e = Engine::new(vec![1.0], Fidelity::Analytical).map_err(|e| e.to_string())?;
    let mut hooks = DelayHooks { times: t, pp };
    simulate_with(pp, vp, m, 1, t, e, &mut hooks)
}

/// Run `replicas` identical pipelines on `e` (compute stream of replica `r`, stage `s` is
/// resource `r·pp + s`), communication added by `hooks`. Spans and busy times are reported for
/// replica 0.
pub fn simulate_with(
    pp: u32,
    vp: u32,
    m: u32,
    replicas: u32,
    t: &StageTimes,
    mut e: Engine,
    hooks: &mut dyn Hooks,
) -> Result<Timeline, String> {
    let ord = order(pp, vp, m)?;
    let nv = pp * vp;
    let replicas = replicas.max(1);
    let idx = |r: u32, v: u32, mb: u32| ((r * nv + v) * m + mb) as usize;
    let size = (replicas * nv * m) as usize;
    let mut f_task: Vec<Option<TaskId>> = vec![None; size];
    let mut b_task: Vec<Option<TaskId>> = vec![None; size];
    // (stage, stream, name, first task, last task, op, sender).
    type Meta = (
        u32,
        &'static str,
        SpanName,
        TaskId,
        TaskId,
        Option<PipeOp>,
        Option<(u32, PipeOp)>,
    );
    let mut spans_meta: Vec<Meta> = Vec::new();
    let err = |e: engine::EngineError| e.to_string();
    let mut last_on_stage: Vec<Option<TaskId>> = vec![None; (replicas * pp) as usize];
    for r in 0..replicas {
        // Ops must be added after their dependencies exist: take the next op of a stage when
        // its cross-stage dependency is placed.
        let mut pos = vec![0usize; pp as usize];
        let mut placed = 0usize;
        let total: usize = ord.iter().map(|o| o.len()).sum();
        while placed < total {
            let mut progress = false;
            for s in 0..pp {
                let su = s as usize;
                let rs = (r * pp + s) as usize;
                while pos[su] < ord[su].len() {
                    let op = ord[su][pos[su]];
                    let v = op.chunk * pp + s;
                    let dep = if !op.backward {
                        if v == 0 {
                            Some(None)
                        } else {
                            f_task[idx(r, v - 1, op.micro)].map(Some)
                        }
                    } else if v == nv - 1 {
                        f_task[idx(r, v, op.micro)].map(Some)
                    } else {
                        b_task[idx(r, v + 1, op.micro)].map(Some)
                    };
                    let Some(dep) = dep else { break };
                    let mut deps: Vec<TaskId> = Vec::new();
                    if let Some(d) = dep {
                        // The dependency sits on another physical stage unless this is the last
                        // virtual stage turning around, or there is one stage.
                        let from = if op.backward { (v + 1) % pp } else { (v + pp - 1) % pp };
                        let crosses = !(op.backward && v == nv - 1) && pp > 1;
                        if crosses {
                            let hop = hooks.p2p(&mut e, r, from, s, op.backward, d)?;
                            if r == 0 {
                                let sender_v = if op.backward { v + 1 } else { v - 1 };
                                let sender = PipeOp {
                                    chunk: sender_v / pp,
                                    micro: op.micro,
                                    backward: op.backward,
                                };
                                spans_meta.push((
                                    s,
                                    "p2p",
                                    SpanName::Recv {
                                        backward: op.backward,
                                        micro: op.micro,
                                    },
                                    hop,
                                    hop,
                                    Some(op),
                                    Some((from, sender)),
                                ));
                            }
                            deps.push(hop);
                        } else {
                            deps.push(d);
                        }
                    }
                    if op.backward {
                        if let Some(fw) = f_task[idx(r, v, op.micro)] {
                            deps.push(fw);
                        }
                    }
                    if let Some(prev) = last_on_stage[rs] {
                        deps.push(prev);
                    }
                    let c = op.chunk as usize;
                    let secs = if op.backward { t.bwd[su][c] } else { t.fwd[su][c] };
                    let id = e
                        .add_task(
                            Task::Compute {
                                resource: r * pp + s,
                                seconds: secs,
                            },
                            &deps,
                        )
                        .map_err(err)?;
                    if r == 0 {
                        let name = SpanName::Compute {
                            backward: op.backward,
                            chunk: op.chunk,
                            micro: op.micro,
                        };
                        spans_meta.push((s, "compute", name, id, id, Some(op), None));
                    }
                    if op.backward {
                        b_task[idx(r, v, op.micro)] = Some(id);
                    } else {
                        f_task[idx(r, v, op.micro)] = Some(id);
                    }
                    last_on_stage[rs] = Some(id);
                    pos[su] += 1;
                    placed += 1;
                    progress = true;
                }
            }
            if !progress {
                return Err("pipeline schedule deadlocks (a dependency is never placed)".into());
            }
        }
    }
    // DP buckets: chunk c of stage s is released once every replica has finished the backward of
    // its last micro-batch on that chunk; buckets go out last chunk first (backward order).
    for s in 0..pp {
        let su = s as usize;
        let mut prev_dp: Option<TaskId> = None;
        for c in (0..vp).rev() {
            let v = c * pp + s;
            let mut deps: Vec<TaskId> = (0..replicas)
                .filter_map(|r| (0..m).filter_map(|mb| b_task[idx(r, v, mb)]).max())
                .collect();
            deps.extend(prev_dp);
            let (first, id) = hooks.dp(&mut e, s, c, &deps)?;
            spans_meta.push((s, "dp", SpanName::GradSync { chunk: c }, first, id, None, None));
            prev_dp = Some(id);
        }
        for r in 0..replicas {
            let mut deps: Vec<TaskId> = prev_dp.into_iter().collect();
            deps.extend(last_on_stage[(r * pp + s) as usize]);
            let opt = e
                .add_task(
                    Task::Compute {
                        resource: r * pp + s,
                        seconds: t.optimizer.get(su).copied().unwrap_or(0.0),
                    },
                    &deps,
                )
                .map_err(err)?;
            if r == 0 {
                spans_meta.push((s, "optimizer", SpanName::Optimizer, opt, opt, None, None));
            }
        }
    }
    let rep = e.run().map_err(|e| e.to_string())?;
    let mut busy = vec![0.0; pp as usize];
    let spans: Vec<Span> = spans_meta
        .into_iter()
        .map(|(stage, stream, name, first, last, op, from)| {
            let (a, b) = (rep.task_start_s[first.0 as usize], rep.task_end_s[last.0 as usize]);
            if stream == "compute" {
                busy[stage as usize] += b - a;
            }
            Span {
                stage,
                stream,
                name,
                start: a,
                end: b,
                op,
                from,
            }
        })
        .collect();
    Ok(Timeline {
        step_time: rep.makespan_s,
        spans,
        busy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(pp: u32, vp: u32, tf: f64, tb: f64) -> StageTimes {
        StageTimes {
            fwd: vec![vec![tf / vp as f64; vp as usize]; pp as usize],
            bwd: vec![vec![tb / vp as f64; vp as usize]; pp as usize],
            p2p: 0.0,
            dp: vec![vec![0.0; vp as usize]; pp as usize],
            optimizer: vec![0.0; pp as usize],
        }
    }

    #[test]
    fn every_stage_runs_every_op_once() {
        for (pp, vp, m) in [(1, 1, 1), (4, 1, 8), (4, 2, 8), (8, 3, 16), (2, 4, 6)] {
            let o = order(pp, vp, m).unwrap();
            for ops in &o {
                assert_eq!(ops.len() as u32, 2 * m * vp);
                for c in 0..vp {
                    for mb in 0..m {
                        for bw in [false, true] {
                            assert_eq!(
                                ops.iter()
                                    .filter(|p| p.chunk == c && p.micro == mb && p.backward == bw)
                                    .count(),
                                1
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn one_f_one_b_bubble_emerges() {
        // Compute-only: step = (m + p − 1)(tf + tb), bubble fraction (p − 1)/(m + p − 1).
        for (pp, m) in [(4u32, 8u32), (8, 8), (8, 32), (16, 64), (2, 1)] {
            let t = uniform(pp, 1, 1.0, 2.0);
            let tl = simulate(pp, 1, m, &t).unwrap();
            let expect = (m + pp - 1) as f64 * 3.0;
            assert!(
                (tl.step_time - expect).abs() < 1e-9,
                "pp {pp} m {m}: {} vs {expect}",
                tl.step_time
            );
            let bubble = 1.0 - tl.busy[0] / tl.step_time;
            assert!((bubble - (pp - 1) as f64 / (m + pp - 1) as f64).abs() < 1e-9);
        }
    }

    #[test]
    fn interleaving_shrinks_the_bubble_by_the_virtual_stages() {
        // Megatron: bubble time (p − 1)(tf + tb)/v against m(tf + tb) of work.
        for (pp, vp, m) in [(4u32, 2u32, 8u32), (4, 4, 16), (8, 2, 16), (8, 4, 32)] {
            let t = uniform(pp, vp, 1.0, 2.0);
            let tl = simulate(pp, vp, m, &t).unwrap();
            let work = m as f64 * 3.0;
            let bubble = tl.step_time - work;
            let expect = (pp - 1) as f64 * 3.0 / vp as f64;
            assert!(
                (bubble - expect).abs() < 1e-6,
                "pp {pp} vp {vp} m {m}: bubble {bubble} vs {expect}"
            );
        }
    }

    #[test]
    fn interleaving_needs_whole_rounds() {
        assert!(order(4, 2, 6).is_err());
    }

    #[test]
    fn dp_buckets_overlap_with_backward() {
        // One stage, 2 chunks: the first released bucket overlaps the remaining backward.
        let mut t = uniform(1, 2, 1.0, 2.0);
        t.dp = vec![vec![0.5, 0.5]];
        let tl = simulate(1, 2, 2, &t).unwrap();
        // compute 6 s; the chunk-1 bucket runs during chunk-0 backward; chunk-0 bucket after.
        assert!((tl.step_time - 6.5).abs() < 1e-9, "{}", tl.step_time);
    }
}
