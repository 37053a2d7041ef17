//! Rendering of a training report: the human text report and the Chrome trace-event JSON.
//! The library returns a typed [`TrainReport`]; everything a person or Perfetto reads is made here.

use fabricsim::train::comm::{CommKind, PricedComm};
use fabricsim::train::report::StepDetail;
use fabricsim::train::timing::{Block, BlockTiming, PassTime};
use fabricsim::train::TrainReport;
use serde_json::{json, Value};
use workload::schedule::{PipeOp, Span};

/// Most events of the pipeline skeleton (compute, send, sync and optimizer slices and flow
/// arrows): beyond it only the first micro-batches are drawn.
pub const TRACE_MAX_SCHEDULE_EVENTS: usize = 250_000;
/// Most per-layer events (blocks and their kernels / exposed-communication slices): beyond it
/// only the first micro-batches are nested.
pub const TRACE_MAX_LAYER_EVENTS: usize = 150_000;
/// Most link-utilisation counter events.
pub const TRACE_MAX_COUNTER_EVENTS: usize = 25_000;

/// Thread ids of a stage's tracks.
const TID_COMPUTE: u32 = 0;
const TID_DP: u32 = 2;
const TID_OPTIMIZER: u32 = 3;
/// Pipeline sends: the first lane, further lanes from `TID_P2P_MORE` when sends overlap.
const TID_P2P: u32 = 1;
const TID_P2P_MORE: u32 = 10;

/// µs, the trace's time unit.
fn us(s: f64) -> f64 {
    s * 1e6
}

fn block_name(b: &BlockTiming) -> String {
    match b.block {
        Block::Layer(l) if b.moe => format!("layer {l} (MoE)"),
        Block::Layer(l) => format!("layer {l}"),
        Block::Embedding => "embedding".into(),
        Block::Output => "output layer + loss".into(),
    }
}

/// The sub-slices of one block's pass, in drawing order: (name, category, seconds, kind).
/// The order is conventional (gather, recompute, kernels, exposed communication), not the
/// kernels' interleaving.
fn parts(p: &PassTime) -> [(&'static str, &'static str, f64, Option<CommKind>); 6] {
    [
        ("ZeRO-3 all-gather (exposed)", "zero3", p.zero3_s, Some(CommKind::Zero3)),
        ("recompute", "recompute", p.recompute_s, None),
        ("kernels", "compute", p.compute_s, None),
        ("TP collectives (exposed)", "tp", p.tp_s, Some(CommKind::Tp)),
        ("EP dispatch + combine (exposed)", "ep", p.ep_s, Some(CommKind::Ep)),
        ("CP K/V ring (exposed)", "cp", p.cp_s, Some(CommKind::Cp)),
    ]
}

/// `args` describing the collectives of a kind: operation, bytes per occurrence per rank,
/// algorithm, protocol, group size.
fn comm_args(d: &StepDetail, kind: CommKind) -> Value {
    let list: Vec<Value> = d
        .collectives
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c: &PricedComm| {
            json!({
                "op": c.op.name(),
                "bytes": c.bytes.round() as u64,
                "algorithm": fabricsim::train::moe::algorithm_name(c),
                "protocol": c.cost.protocol.map(|p| p.name()).unwrap_or(""),
                "group_size": c.group_size,
                "groups_at_once": c.groups,
                "seconds_each": c.cost.seconds,
            })
        })
        .collect();
    json!({ "collectives": list, "exposed": true })
}

/// Pipeline-send lanes: the first free lane of a stage (sends may overlap).
fn lane(lanes: &mut Vec<f64>, start: f64, end: f64) -> u32 {
    let i = lanes.iter().position(|&e| e <= start).unwrap_or_else(|| {
        lanes.push(0.0);
        lanes.len() - 1
    });
    lanes[i] = end;
    if i == 0 {
        TID_P2P
    } else {
        TID_P2P_MORE + i as u32 - 1
    }
}

/// A counter's value changes (time, +/− utilisation).
type Deltas = Vec<(f64, f64)>;

/// Chrome trace-event JSON (opens in Perfetto): one process per pipeline stage with compute,
/// pipeline-send, gradient-sync and optimizer threads; forward/backward slices with nested
/// per-layer slices and their kernels and exposed TP/EP/CP/ZeRO-3 communication; sends with
/// flow arrows from the sender's slice through the send to the receiver's slice; the exposed
/// part of each gradient sync as a nested slice; and a "busiest links" process of utilisation
/// counters. Bounded by [`TRACE_MAX_SCHEDULE_EVENTS`], [`TRACE_MAX_LAYER_EVENTS`] and
/// [`TRACE_MAX_COUNTER_EVENTS`]: how many micro-batches are drawn and nested is in `otherData`.
pub fn trace_json(r: &TrainReport) -> Value {
    let mut events: Vec<Value> = Vec::new();
    let mut other = json!({
        "fabricsim_schema_version": r.schema_version,
        "model": r.model,
        "cluster": r.cluster,
        "fidelity": r.fidelity,
        "step_time_s": r.step_time_s,
        "breakdown_stage": r.breakdown_stage,
        "microbatches": r.plan.microbatches,
    });
    let (Some(tl), Some(d)) = (&r.timeline, &r.detail) else {
        return json!({ "traceEvents": events, "displayTimeUnit": "ms", "otherData": other });
    };
    let pp = d.pp;
    let m = r.plan.microbatches.max(1);
    // Micro-batches drawn, and nested per layer, within the caps.
    let sched_per_mb = 2 * (pp * d.vp) as usize * 6;
    let drawn = ((TRACE_MAX_SCHEDULE_EVENTS / sched_per_mb.max(1)) as u32).clamp(1, m);
    let layer_per_mb: usize = d
        .blocks
        .iter()
        .flatten()
        .flatten()
        .map(|b| {
            [&b.forward, &b.backward]
                .iter()
                .map(|p| 1 + parts(p).iter().filter(|x| x.2 > 0.0).count())
                .sum::<usize>()
        })
        .sum();
    let nested = ((TRACE_MAX_LAYER_EVENTS / layer_per_mb.max(1)) as u32).clamp(1, drawn);
    other["microbatches_drawn"] = json!(drawn);
    other["layer_detail_microbatches"] = json!(nested);
    other["event_caps"] = json!({
        "schedule": TRACE_MAX_SCHEDULE_EVENTS,
        "layers": TRACE_MAX_LAYER_EVENTS,
        "counters": TRACE_MAX_COUNTER_EVENTS,
    });
    other["note"] = json!(format!(
        "{drawn} of {m} micro-batches drawn, the first {nested} nested per layer (caps: {TRACE_MAX_SCHEDULE_EVENTS} schedule, {TRACE_MAX_LAYER_EVENTS} layer, {TRACE_MAX_COUNTER_EVENTS} counter events); \
         sub-slices of a layer are in a conventional order (gather, recompute, kernels, exposed TP, EP, CP), not the kernels' interleaving; \
         counters show each busiest link's utilisation while its communication runs on the stage of the accelerator it attaches to (the breakdown stage for switch-to-switch links), \
         exact in nested micro-batches and averaged over the slice elsewhere"
    ));
    let shown = |op: &Option<PipeOp>| op.is_none_or(|o| o.micro < drawn);

    for s in 0..pp {
        events.push(json!({"name": "process_name", "ph": "M", "pid": s, "tid": 0, "args": {"name": format!("pipeline stage {s}")}}));
        events.push(json!({"name": "process_sort_index", "ph": "M", "pid": s, "tid": 0, "args": {"sort_index": s}}));
        for (tid, name) in [
            (TID_COMPUTE, "compute"),
            (TID_P2P, "pipeline sends"),
            (TID_DP, "gradient sync"),
            (TID_OPTIMIZER, "optimizer"),
        ] {
            events.push(json!({"name": "thread_name", "ph": "M", "pid": s, "tid": tid, "args": {"name": name}}));
        }
    }

    // Compute slices and their layers; counter activity of each stage on the way.
    let link_stage = |l: &fabricsim::train::report::LinkActivity| l.stage.unwrap_or(r.breakdown_stage);
    let mut deltas: Vec<Deltas> = vec![Vec::new(); d.links.len()];
    let mut compute_of: std::collections::HashMap<(u32, u32, u32, bool), (f64, f64)> = Default::default();
    for sp in tl.spans.iter().filter(|x| x.stream == "compute" && shown(&x.op)) {
        let Some(op) = sp.op else { continue };
        compute_of.insert((sp.stage, op.chunk, op.micro, op.backward), (sp.start, sp.end));
        let blocks = &d.blocks[sp.stage as usize][op.chunk as usize];
        let pass = |b: &BlockTiming| if op.backward { b.backward } else { b.forward };
        let flops: f64 = blocks.iter().map(|b| pass(b).flops).sum();
        let layers: Vec<u32> = blocks
            .iter()
            .filter_map(|b| match b.block {
                Block::Layer(l) => Some(l),
                _ => None,
            })
            .collect();
        let layer_range = match (layers.first(), layers.last()) {
            (Some(a), Some(b)) => format!("{a}–{b}"),
            _ => String::new(),
        };
        events.push(json!({
            "name": sp.name.to_string(), "cat": if op.backward { "backward" } else { "forward" }, "ph": "X",
            "pid": sp.stage, "tid": TID_COMPUTE, "ts": us(sp.start), "dur": us(sp.end - sp.start),
            "args": {"chunk": op.chunk, "micro_batch": op.micro, "layers": layer_range, "flops": flops},
        }));
        let detailed = op.micro < nested;
        let mut t = sp.start;
        for b in blocks {
            let p = pass(b);
            let b_end = (t + p.total()).min(sp.end);
            if detailed && b_end > t {
                let mut a = json!({"flops": p.flops});
                if let Block::Layer(l) = b.block {
                    a["layer"] = json!(l);
                    a["moe"] = json!(b.moe);
                }
                events.push(json!({
                    "name": block_name(b), "cat": "layer", "ph": "X", "pid": sp.stage, "tid": TID_COMPUTE,
                    "ts": us(t), "dur": us(b_end - t), "args": a,
                }));
            }
            let mut u = t;
            for (name, cat, secs, kind) in parts(&p) {
                if secs <= 0.0 {
                    continue;
                }
                let e = (u + secs).min(b_end);
                if detailed && e > u {
                    let args = match kind {
                        Some(k) => comm_args(d, k),
                        None if cat == "compute" => json!({"flops": p.flops}),
                        None => json!({}),
                    };
                    events.push(json!({
                        "name": name, "cat": cat, "ph": "X", "pid": sp.stage, "tid": TID_COMPUTE,
                        "ts": us(u), "dur": us(e - u), "args": args,
                    }));
                }
                if let Some(k) = kind {
                    for (i, l) in d.links.iter().enumerate() {
                        if l.during == k && link_stage(l) == sp.stage && detailed {
                            deltas[i].push((u, l.utilisation));
                            deltas[i].push((e, -l.utilisation));
                        }
                    }
                }
                u = e;
            }
            t = b_end;
        }
        if !detailed {
            // Slice-average utilisation of each link whose kind runs inside this slice.
            let dur = sp.end - sp.start;
            for (i, l) in d.links.iter().enumerate() {
                if link_stage(l) != sp.stage || dur <= 0.0 {
                    continue;
                }
                let busy: f64 = blocks
                    .iter()
                    .map(|b| {
                        let p = pass(b);
                        match l.during {
                            CommKind::Tp => p.tp_s,
                            CommKind::Ep => p.ep_s,
                            CommKind::Cp => p.cp_s,
                            CommKind::Zero3 => p.zero3_s,
                            _ => 0.0,
                        }
                    })
                    .sum();
                if busy > 0.0 {
                    let v = l.utilisation * busy / dur;
                    deltas[i].push((sp.start, v));
                    deltas[i].push((sp.end, -v));
                }
            }
        }
    }

    // Pipeline sends on the sender's send track, with flow arrows sender → send → receiver.
    let mut lanes: Vec<Vec<f64>> = vec![Vec::new(); pp as usize];
    let mut sends: Vec<&Span> = tl.spans.iter().filter(|x| x.stream == "p2p" && shown(&x.op)).collect();
    sends.sort_by(|a, b| a.start.total_cmp(&b.start));
    let p2p_args = comm_args(d, CommKind::Pp);
    let mut flow_id = 0u64;
    let mut extra_lanes: Vec<(u32, u32)> = Vec::new();
    for sp in sends {
        let (Some(to_op), Some((from, from_op))) = (sp.op, sp.from) else {
            continue;
        };
        let tid = lane(&mut lanes[from as usize], sp.start, sp.end);
        if tid >= TID_P2P_MORE && !extra_lanes.contains(&(from, tid)) {
            extra_lanes.push((from, tid));
        }
        let what = if to_op.backward { "grad" } else { "act" };
        let mut args = p2p_args.clone();
        // A send runs beside compute; only the critical path's sends that leave a stage idle are
        // exposed (the report's PP time), which a single slice cannot say.
        args["exposed"] = json!(false);
        args["note"] = json!(
            "runs beside compute; the report's exposed PP time is the critical path's sends the schedule leaves idle"
        );
        args["to_stage"] = json!(sp.stage);
        args["micro_batch"] = json!(to_op.micro);
        events.push(json!({
            "name": format!("send {what} mb{} → stage {}", to_op.micro, sp.stage), "cat": "pp", "ph": "X",
            "pid": from, "tid": tid, "ts": us(sp.start), "dur": us(sp.end - sp.start), "args": args,
        }));
        if let Some(&(a, b)) = compute_of.get(&(from, from_op.chunk, from_op.micro, from_op.backward)) {
            flow_id += 1;
            let eps = ((b - a) * 0.01).min(1e-6);
            events.push(json!({"name": "pipeline send", "cat": "pp", "ph": "s", "id": flow_id, "pid": from, "tid": TID_COMPUTE, "ts": us(b - eps)}));
            events.push(json!({"name": "pipeline send", "cat": "pp", "ph": "f", "bp": "e", "id": flow_id, "pid": from, "tid": tid, "ts": us(sp.start)}));
        }
        if let Some(&(a, _)) = compute_of.get(&(sp.stage, to_op.chunk, to_op.micro, to_op.backward)) {
            flow_id += 1;
            events.push(json!({"name": "pipeline send", "cat": "pp", "ph": "s", "id": flow_id, "pid": from, "tid": tid, "ts": us(sp.start)}));
            events.push(json!({"name": "pipeline send", "cat": "pp", "ph": "f", "bp": "e", "id": flow_id, "pid": sp.stage, "tid": TID_COMPUTE, "ts": us(a)}));
        }
        for (i, l) in d.links.iter().enumerate() {
            if l.during == CommKind::Pp && link_stage(l) == from {
                deltas[i].push((sp.start, l.utilisation));
                deltas[i].push((sp.end, -l.utilisation));
            }
        }
    }
    for (s, tid) in extra_lanes {
        events.push(json!({"name": "thread_name", "ph": "M", "pid": s, "tid": tid, "args": {"name": "pipeline sends (overlapping)"}}));
    }

    // Gradient syncs, each with its exposed part (after the stage's last backward) nested.
    let dp_args = comm_args(d, CommKind::Dp);
    let mut last_compute = vec![0.0f64; pp as usize];
    for x in tl.spans.iter().filter(|x| x.stream == "compute") {
        last_compute[x.stage as usize] = last_compute[x.stage as usize].max(x.end);
    }
    let tail: Vec<&Span> = tl
        .spans
        .iter()
        .filter(|x| x.stream == "dp" || x.stream == "optimizer")
        .collect();
    for s in 0..pp {
        let last_b = last_compute[s as usize];
        for sp in tail.iter().filter(|x| x.stage == s && x.stream == "dp") {
            let mut args = dp_args.clone();
            args["exposed"] = json!(false);
            events.push(json!({
                "name": sp.name.to_string(), "cat": "dp", "ph": "X", "pid": s, "tid": TID_DP,
                "ts": us(sp.start), "dur": us(sp.end - sp.start), "args": args,
            }));
            let a = sp.start.max(last_b);
            if sp.end > a {
                events.push(json!({
                    "name": "exposed gradient sync", "cat": "dp_exposed", "ph": "X", "pid": s, "tid": TID_DP,
                    "ts": us(a), "dur": us(sp.end - a), "args": {"exposed": true},
                }));
            }
            for (i, l) in d.links.iter().enumerate() {
                if l.during == CommKind::Dp && link_stage(l) == s {
                    deltas[i].push((sp.start, l.utilisation));
                    deltas[i].push((sp.end, -l.utilisation));
                }
            }
        }
        for sp in tail.iter().filter(|x| x.stage == s && x.stream == "optimizer") {
            events.push(json!({
                "name": sp.name.to_string(), "cat": "optimizer", "ph": "X", "pid": s, "tid": TID_OPTIMIZER,
                "ts": us(sp.start), "dur": us(sp.end - sp.start),
            }));
        }
    }

    // Link-utilisation counters, in a process of their own.
    if !d.links.is_empty() {
        let pid = pp;
        events
            .push(json!({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "busiest links"}}));
        events
            .push(json!({"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0, "args": {"sort_index": pid}}));
        let per_link = TRACE_MAX_COUNTER_EVENTS / d.links.len();
        for (i, l) in d.links.iter().enumerate() {
            let mut ds = std::mem::take(&mut deltas[i]);
            ds.sort_by(|a, b| a.0.total_cmp(&b.0));
            let name = format!("{} ({})", l.name, l.during.label());
            let mut level = 0.0f64;
            let mut n = 0usize;
            events.push(json!({"name": name, "cat": "link", "ph": "C", "pid": pid, "tid": 0, "ts": 0.0, "args": {"utilisation": 0.0}}));
            let mut k = 0;
            while k < ds.len() && n < per_link {
                let t = ds[k].0;
                while k < ds.len() && ds[k].0 == t {
                    level += ds[k].1;
                    k += 1;
                }
                let v = if level.abs() < 1e-12 {
                    0.0
                } else {
                    level.clamp(0.0, 1.0)
                };
                events.push(json!({"name": name, "cat": "link", "ph": "C", "pid": pid, "tid": 0, "ts": us(t), "args": {"utilisation": v}}));
                n += 1;
            }
        }
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ms", "otherData": other })
}

/// Human report.
pub fn render(r: &TrainReport) -> String {
    use std::fmt::Write;
    use units::si;
    let mut s = String::new();
    let pct = |x: f64| x / r.step_time_s * 100.0;
    let _ = writeln!(
        s,
        "fabricsim {} · {} fidelity · schema {}",
        env!("CARGO_PKG_VERSION"),
        r.fidelity,
        r.schema_version
    );
    let _ = writeln!(
        s,
        "cluster  {} · {} × {} · routing {}",
        r.cluster, r.accelerators_in_cluster, r.accelerator, r.routing
    );
    let _ = writeln!(
        s,
        "model    {} · {:.1} B parameters ({:.1} B active) · seq {} · {}",
        r.model,
        r.model_params / 1e9,
        r.model_active_params / 1e9,
        r.plan.seq,
        r.plan.precision.to_uppercase()
    );
    let p = &r.plan;
    let _ = writeln!(
        s,
        "plan     TP {} · PP {} · DP {} · CP {} · EP {} ({} accelerators) · mbs {} · GBS {} ({} micro-batches) · {} · ZeRO-{} · {}{}",
        p.tp,
        p.pp,
        p.dp,
        p.cp,
        p.ep,
        p.accelerators_used,
        p.mbs,
        p.gbs,
        p.microbatches,
        p.schedule,
        p.zero,
        if p.recompute == "none" { "no recompute".to_string() } else { format!("{} recompute", p.recompute) },
        if p.sequence_parallel { " · sequence parallel" } else { "" }
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "step  {:>9}{}   tokens/s {}   per accelerator {:.0}   model TFLOP/s per accelerator {:.0}   MFU {:.1} %   HFU {:.1} %{}",
        si(r.step_time_s, "s"),
        if r.expected_error_pct.is_finite() {
            format!(" ± {:.0} %", r.expected_error_pct)
        } else {
            String::new()
        },
        si(r.tokens_per_s, ""),
        r.tokens_per_s_per_accel,
        r.model_tflops_per_accel,
        r.mfu * 100.0,
        r.hfu * 100.0,
        if r.plan.precision == "fp8" {
            format!(
                " (of the FP8 peak; MFU {:.1} % of the BF16 peak)",
                r.mfu_vs_bf16_peak * 100.0
            )
        } else {
            String::new()
        }
    );
    let b = &r.breakdown;
    if p.pp > 1 {
        let _ = writeln!(
            s,
            "  (pipeline stage {} of {}, the slowest: the most busy time; communication is what the schedule leaves exposed)",
            r.breakdown_stage, p.pp
        );
    } else {
        let _ = writeln!(s, "  (communication is what the schedule leaves exposed)");
    }
    for (name, v, note) in [
        ("compute", b.compute_s, "forward + backward kernels"),
        ("recompute", b.recompute_s, "activation recomputation"),
        ("exposed TP comm", b.tp_comm_s, "tensor-parallel collectives"),
        ("exposed CP comm", b.cp_comm_s, "ring attention beyond overlap"),
        ("exposed EP comm", b.ep_comm_s, "expert all-to-all"),
        ("exposed PP comm", b.pp_comm_s, "activation / gradient sends"),
        ("pipeline bubble", b.pipeline_bubble_s, ""),
        (
            "exposed DP comm",
            b.dp_comm_s,
            "gradient sync after the last backward (+ ZeRO-3 gathers)",
        ),
        ("optimizer", b.optimizer_s, "AdamW step"),
    ] {
        if v > 0.0 {
            let _ = writeln!(s, "  {:<18} {:>9}  {:>5.1} %   {}", name, si(v, "s"), pct(v), note);
        }
    }
    if b.fsdp_comm_s > 0.0 {
        let _ = writeln!(
            s,
            "    of which FSDP   {:>9}  {:>5.1} %   per-layer gathers / reduce-scatters beyond the layers' compute",
            si(b.fsdp_comm_s, "s"),
            pct(b.fsdp_comm_s)
        );
    }
    if p.pp > 1 {
        s.push_str(&stage_table(r));
    }
    let g = 1073741824.0;
    let mm = &r.memory;
    let _ = writeln!(
        s,
        "memory per accelerator  {:.1} GiB of {:.1} GiB{}  (weights {:.1} · grads {:.1} · optimizer {:.1} · activations {:.1} · buffers {:.1}){}",
        mm.total_bytes / g,
        mm.capacity_bytes / g,
        if r.fits { "" } else { "  — DOES NOT FIT" },
        mm.weights_bytes / g,
        mm.gradients_bytes / g,
        mm.optimizer_bytes / g,
        mm.activations_bytes / g,
        mm.buffers_bytes / g,
        if p.pp > 1 { format!("  on stage {}, the heaviest", mm.stage) } else { String::new() }
    );
    if let Some(e) = &r.energy {
        s.push_str(&crate::power_flags::render_train(e));
    }
    if !r.busiest_links.is_empty() {
        let _ = writeln!(s, "busiest links (share of the step each is busy)");
        for l in &r.busiest_links {
            let _ = writeln!(
                s,
                "  {:<64} {:>5.1} %  during {}",
                l.name,
                l.utilisation * 100.0,
                l.during
            );
        }
    }
    if let Some(ms) = &r.multi_site {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "sites    {} sites · cross-site {} · DCI {} per site and direction · one-way {} (RTT {})",
            ms.sites,
            ms.cross_site,
            si(ms.dci_bytes_per_s * 8.0, "bit/s"),
            si(ms.one_way_delay_s, "s"),
            si(ms.rtt_s, "s")
        );
        let _ = writeln!(
            s,
            "         per step each site sends {} over the DCI: {} at full DCI rate, {} in the flow engine; {} latency-bound crossings ({})",
            si(ms.dci_bytes_per_site_per_step, "B"),
            si(ms.dci_serialisation_s, "s"),
            si(ms.dci_flow_s, "s"),
            ms.latency_steps,
            si(ms.latency_s, "s")
        );
        if let (Some(h), Some(sync), Some(u), Some(eq)) = (
            ms.diloco_inner_steps,
            ms.diloco_outer_sync_s,
            ms.diloco_compute_utilisation_fraction,
            ms.diloco_step_equivalent_s,
        ) {
            let _ = writeln!(
                s,
                "         DiLoCo: outer sync of fp32 pseudo-gradients {} every {h} inner steps → compute utilisation {:.2} %, {} per step equivalent",
                si(sync, "s"),
                u * 100.0,
                si(eq, "s")
            );
        }
        match (r.single_site_step_time_s, r.multi_site_loss_fraction) {
            (Some(single), Some(loss)) => {
                let _ = writeln!(
                    s,
                    "loss     {:.2} % against one site of the same size ({}: {}) · extra {} = bandwidth {} + latency {} + congestion {}",
                    loss * 100.0,
                    ms.baseline,
                    si(single, "s"),
                    si(ms.extra_s, "s"),
                    si(ms.extra_bandwidth_s, "s"),
                    si(ms.extra_latency_s, "s"),
                    si(ms.extra_congestion_s, "s")
                );
            }
            _ => {
                let _ = writeln!(s, "loss     not computed (no single-site equivalent of this cluster)");
            }
        }
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning  {w}");
    }
    for a in &r.assumptions {
        let _ = writeln!(s, "assumed  {a}");
    }
    for d in &r.derived {
        let _ = writeln!(s, "derived  {d}");
    }
    if r.expected_error_pct.is_finite() {
        let _ = writeln!(
            s,
            "accuracy ± {:.1} % expected: {}",
            r.expected_error_pct, r.expected_error_basis
        );
    }
    s
}

/// The per-stage table: one row per pipeline stage, columns that are zero on every stage left
/// out, the slowest stage marked.
fn stage_table(r: &TrainReport) -> String {
    use std::fmt::Write;
    use units::si;
    type Col = (&'static str, fn(&fabricsim::train::report::StageReport) -> f64);
    let all: [Col; 12] = [
        ("busy", |x| x.busy_s),
        ("compute", |x| x.compute_s),
        ("recompute", |x| x.recompute_s),
        ("TP", |x| x.tp_comm_s),
        ("EP", |x| x.ep_comm_s),
        ("CP", |x| x.cp_comm_s),
        ("ZeRO-3", |x| x.zero3_comm_s),
        ("PP", |x| x.pp_comm_s),
        ("bubble", |x| x.bubble_s),
        ("DP", |x| x.dp_comm_s),
        ("optimizer", |x| x.optimizer_s),
        ("memory", |x| x.memory_bytes),
    ];
    let cols: Vec<&Col> = all
        .iter()
        .filter(|(_, f)| r.stages.iter().any(|x| f(x) > 0.0))
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "pipeline stages (busy = compute + recompute + exposed TP/EP/CP/ZeRO-3; TP…DP exposed; busy + PP + bubble + DP + optimizer = step)"
    );
    let _ = write!(s, "  {:>5} {:>6}", "stage", "layers");
    for (name, _) in &cols {
        let _ = write!(s, " {:>9}", name);
    }
    let _ = writeln!(s, " {:>6}", "busy %");
    for x in &r.stages {
        let _ = write!(s, "  {:>5} {:>6}", x.stage, x.layers);
        for (name, f) in &cols {
            let v = f(x);
            let cell = if v <= 0.0 {
                "—".to_string()
            } else if *name == "memory" {
                format!("{:.1} GiB", v / 1073741824.0)
            } else {
                si(v, "s")
            };
            let _ = write!(s, " {:>9}", cell);
        }
        let _ = write!(s, " {:>5.1} %", x.busy_fraction * 100.0);
        if x.stage == r.breakdown_stage {
            s.push_str("  ◀ slowest");
        }
        s.push('\n');
    }
    s
}

/// The HTML report of a training step (`train --html`): setup and headline numbers, the step's
/// breakdown (the slowest stage's, as the text report), every pipeline stage's breakdown when
/// PP > 1, memory per accelerator against HBM, and the busiest links.
pub fn html_page(r: &TrainReport) -> fabricsim::html::Page {
    use fabricsim::html::{
        BarChart, BarMetric, BarRow, Better, Guide, Page, StackedChart, StackedRow, StepParts, Unit,
    };
    use units::si;
    let p = &r.plan;
    let mut page = Page::new(format!("fabricsim train · {} on {}", r.model, r.cluster));
    let g = 1073741824.0;
    page.facts([
        (
            "cluster",
            format!(
                "{} · {} × {} · routing {}",
                r.cluster, r.accelerators_in_cluster, r.accelerator, r.routing
            ),
        ),
        (
            "model",
            format!(
                "{} · {:.1} B parameters ({:.1} B active) · seq {} · {}",
                r.model,
                r.model_params / 1e9,
                r.model_active_params / 1e9,
                p.seq,
                p.precision.to_uppercase()
            ),
        ),
        (
            "plan",
            format!(
                "TP {} · PP {} · DP {} · CP {} · EP {} ({} accelerators) · mbs {} · GBS {} ({} micro-batches) · {} · ZeRO-{} · recompute {}",
                p.tp, p.pp, p.dp, p.cp, p.ep, p.accelerators_used, p.mbs, p.gbs, p.microbatches, p.schedule, p.zero, p.recompute
            ),
        ),
        ("framework · fidelity", format!("{} · {}", r.framework, r.fidelity)),
        (
            "step time",
            if r.expected_error_pct.is_finite() {
                format!("{} ± {:.0} %", si(r.step_time_s, "s"), r.expected_error_pct)
            } else {
                si(r.step_time_s, "s")
            },
        ),
        (
            "throughput",
            format!(
                "{} tokens/s · {:.0} per accelerator",
                si(r.tokens_per_s, ""),
                r.tokens_per_s_per_accel
            ),
        ),
        ("MFU · HFU", format!("{:.1} % · {:.1} %", r.mfu * 100.0, r.hfu * 100.0)),
        (
            "memory per accelerator",
            format!(
                "{:.1} GiB of {:.1} GiB{}",
                r.memory.total_bytes / g,
                r.memory.capacity_bytes / g,
                if r.fits { "" } else { " — does not fit" }
            ),
        ),
    ]);
    page.heading("Where the step goes");
    let step_label = if p.pp > 1 {
        format!("stage {} (slowest)", r.breakdown_stage)
    } else {
        "step".to_string()
    };
    let mut step = StackedChart::step_breakdown(
        "Step breakdown (communication as exposed)",
        [(step_label, StepParts::from_breakdown(&r.breakdown))],
    );
    step.guides.push(Guide {
        label: format!("step {}", si(r.step_time_s, "s")),
        value: r.step_time_s,
    });
    page.chart(step);
    if p.pp > 1 {
        page.text(
            "Every pipeline stage's step: busy time (compute, recompute, exposed TP/CP/EP/ZeRO-3) \
             plus exposed sends, bubble, exposed DP sync and the optimizer add up to the step.",
        );
        page.chart(StackedChart::step_breakdown(
            "Pipeline stages",
            r.stages.iter().map(|x| {
                (
                    format!(
                        "stage {} · {} layers{}",
                        x.stage,
                        x.layers,
                        if x.stage == r.breakdown_stage {
                            " ◀ slowest"
                        } else {
                            ""
                        }
                    ),
                    StepParts::from_stage(x),
                )
            }),
        ));
    }
    let mm = &r.memory;
    page.heading("Memory per accelerator");
    page.chart(StackedChart {
        title: if p.pp > 1 {
            format!("Memory per accelerator (stage {}, the heaviest)", mm.stage)
        } else {
            "Memory per accelerator".into()
        },
        unit: Unit::Bytes,
        parts: ["weights", "gradients", "optimizer states", "activations", "buffers"]
            .map(String::from)
            .to_vec(),
        rows: vec![StackedRow {
            label: r.accelerator.clone(),
            values: vec![
                mm.weights_bytes,
                mm.gradients_bytes,
                mm.optimizer_bytes,
                mm.activations_bytes,
                mm.buffers_bytes,
            ],
        }],
        guides: vec![Guide {
            label: format!("capacity {:.0} GiB", mm.capacity_bytes / g),
            value: mm.capacity_bytes,
        }],
    });
    if !r.busiest_links.is_empty() {
        page.heading("Busiest links");
        page.chart(BarChart {
            title: "Busiest links: share of the step each is busy".into(),
            metrics: vec![BarMetric {
                label: "busy share of the step".into(),
                unit: Unit::Fraction,
                better: Better::Neither,
            }],
            rows: r
                .busiest_links
                .iter()
                .map(|l| BarRow {
                    label: format!("{} · during {}", l.name, l.during),
                    values: vec![l.utilisation],
                })
                .collect(),
        });
    }
    let notes: Vec<String> = r
        .warnings
        .iter()
        .map(|w| format!("warning: {w}"))
        .chain(r.assumptions.iter().map(|a| format!("assumed: {a}")))
        .chain(r.derived.iter().map(|d| format!("derived: {d}")))
        .collect();
    if !notes.is_empty() {
        page.heading("Notes");
        for n in notes {
            page.text(n);
        }
    }
    page
}

/// The text table of `train --dci-sweep`.
pub fn render_dci_sweep(sw: &fabricsim::train::sites::DciSweep) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "DCI sweep · {} against {} ({:.3} s per step)",
        sw.cluster, sw.baseline, sw.single_site_step_time_s
    );
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>12} {:>9} {:>14} {:>14} {:>12} {:>14}",
        "distance km", "DCI Gb/s/site", "step s", "loss %", "serialise s", "bandwidth s", "latency s", "congestion s"
    );
    for p in &sw.points {
        let _ = writeln!(
            s,
            "{:>12} {:>14} {:>12.4} {:>9.2} {:>14.4} {:>14.4} {:>12.5} {:>14.4}",
            p.distance_km,
            p.dci_gbit_per_s,
            p.step_time_s,
            p.multi_site_loss_fraction * 100.0,
            p.dci_serialisation_s,
            p.extra_bandwidth_s,
            p.extra_latency_s,
            p.extra_congestion_s
        );
    }
    for t in &sw.thresholds {
        let _ = writeln!(
            s,
            "{} km: loss ≤ {:.1} % needs {} (closed form {:.0} Gb/s per site; {} bisection runs)",
            t.distance_km,
            t.target_loss_fraction * 100.0,
            match (t.dci_gbit_per_s_needed, t.loss_fraction_at_needed) {
                (Some(g), Some(l)) => format!("{g:.0} Gb/s per site (loss {:.2} %)", l * 100.0),
                _ => "more than the largest capacity swept".to_string(),
            },
            t.closed_form_gbit_per_s,
            t.simulations
        );
    }
    s
}
