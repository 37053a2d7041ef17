//! The `plan --json` document and each plan's scenario file, built in the library so the CLI
//! and the Python package print the same thing.

use super::{launch, Constraints, Job, Outcome};

/// The scenario TOML of plan `i` of `out` (`fabricsim train FILE` re-runs it exactly).
pub fn scenario_of(job: &Job, out: &Outcome, i: usize) -> String {
    let r = &out.ranked[i];
    launch::scenario_toml(
        job,
        &r.candidate,
        out.fidelity,
        &format!(
            "Plan {} of `fabricsim plan` for {} on {} ({} accelerators): {} · step {} at {} fidelity",
            i + 1,
            job.model.name,
            job.cluster,
            job.accelerators,
            r.candidate.label(),
            units::si(r.report.step_time_s, "s"),
            r.report.fidelity
        ),
    )
}

/// The `plan --json` document.
pub fn json(job: &Job, cons: &Constraints, out: &Outcome) -> serde_json::Value {
    let plans: Vec<serde_json::Value> = out
        .ranked
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let c = &r.candidate;
            serde_json::json!({
                "rank": i + 1,
                "plan": r.report.plan,
                "label": c.label(),
                "order": super::space::order_name(c.order),
                "mesh": c.mesh.map(|m| serde_json::json!({
                    "ici_data": m.ici_data, "ici_fsdp": m.ici_fsdp, "ici_sequence": m.ici_sequence,
                    "ici_tensor": m.ici_tensor, "dcn_data": m.dcn_data, "dcn_fsdp": m.dcn_fsdp,
                })),
                "step_time_s": r.report.step_time_s,
                "mfu": r.report.mfu,
                "memory_bytes_per_accel": r.report.memory_bytes_per_accel.round() as u64,
                "fidelity": r.report.fidelity,
                "tokens_per_s": r.report.tokens_per_s,
                "breakdown": r.report.breakdown,
                "lower_bound_s": r.bound.step_s,
                "analytical_step_time_s": r.analytical_step_s,
                "scenario_toml": scenario_of(job, out, i),
                "launch": launch::launch(job, c),
            })
        })
        .collect();
    serde_json::json!({
        "schema_version": crate::SCHEMA_VERSION,
        "cluster": job.cluster,
        "accelerator": job.fabric.accel_model,
        "accelerators": job.accelerators,
        "model": job.model.name,
        "seq": job.seq,
        "gbs": job.gbs,
        "precision": format!("{:?}", job.precision).to_lowercase(),
        "framework": job.framework.name(),
        "constraints": cons.describe().trim().trim_start_matches('(').trim_end_matches(')'),
        "fidelity": out.ranked[0].report.fidelity,
        "search": out.stats,
        "plans": plans,
        "rejected": out.rejected,
    })
}
