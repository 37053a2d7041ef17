//! Rendering of a training report: the human text report and the Chrome trace-event JSON.
//! The library returns a typed [`TrainReport`]; everything a person or Perfetto reads is made here.

use fabricsim::train::TrainReport;

/// Chrome trace-event JSON (opens in Perfetto): one process per pipeline stage, one thread per
/// stream.
pub fn trace_json(r: &TrainReport) -> serde_json::Value {
    let mut events = Vec::new();
    if let Some(tl) = &r.timeline {
        let stages: u32 = tl.spans.iter().map(|s| s.stage + 1).max().unwrap_or(0);
        for s in 0..stages {
            events.push(serde_json::json!({"name": "process_name", "ph": "M", "pid": s, "tid": 0, "args": {"name": format!("pipeline stage {s}")}}));
            for (tid, name) in [(0, "compute"), (1, "p2p"), (2, "dp"), (3, "optimizer")] {
                events.push(
                    serde_json::json!({"name": "thread_name", "ph": "M", "pid": s, "tid": tid, "args": {"name": name}}),
                );
            }
        }
        for sp in &tl.spans {
            let tid = match sp.stream {
                "compute" => 0,
                "p2p" => 1,
                "dp" => 2,
                _ => 3,
            };
            events.push(serde_json::json!({
                "name": sp.name, "cat": sp.stream, "ph": "X", "pid": sp.stage, "tid": tid,
                "ts": sp.start * 1e6, "dur": (sp.end - sp.start) * 1e6,
            }));
        }
    }
    serde_json::json!({ "traceEvents": events, "displayTimeUnit": "ms", "otherData": { "fabricsim_schema_version": r.schema_version, "model": r.model, "cluster": r.cluster } })
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
        "cluster  {} · {} × {}",
        r.cluster, r.accelerators_in_cluster, r.accelerator
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
        "step  {:>9}   tokens/s {}   per accelerator {:.0}   model TFLOP/s per accelerator {:.0}   MFU {:.1} %   HFU {:.1} %{}",
        si(r.step_time_s, "s"),
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
    let _ = writeln!(
        s,
        "  (first pipeline stage; communication is what the schedule leaves exposed)"
    );
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
        ("optimizer", b.optimizer_s, "fused AdamW"),
    ] {
        if v > 0.0 {
            let _ = writeln!(s, "  {:<18} {:>9}  {:>5.1} %   {}", name, si(v, "s"), pct(v), note);
        }
    }
    let g = 1073741824.0;
    let mm = &r.memory;
    let _ = writeln!(
        s,
        "memory per accelerator  {:.1} GiB of {:.1} GiB{}  (weights {:.1} · grads {:.1} · optimizer {:.1} · activations {:.1} · buffers {:.1})",
        mm.total_bytes / g,
        mm.capacity_bytes / g,
        if r.fits { "" } else { "  — DOES NOT FIT" },
        mm.weights_bytes / g,
        mm.gradients_bytes / g,
        mm.optimizer_bytes / g,
        mm.activations_bytes / g,
        mm.buffers_bytes / g
    );
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
    for w in &r.warnings {
        let _ = writeln!(s, "warning  {w}");
    }
    for a in &r.assumptions {
        let _ = writeln!(s, "assumed  {a}");
    }
    for d in &r.derived {
        let _ = writeln!(s, "derived  {d}");
    }
    s
}
