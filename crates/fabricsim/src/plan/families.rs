//! Why each family of plans loses: for every value of every searched dimension the winner does
//! not have ("TP 16", "CP 2", "PP 1 without FSDP", "recompute full", …), the family's best
//! member against the winner at the same fidelity, and the part of the step that costs it the
//! most (bubble, exposed TP/CP/EP/PP/DP communication, compute) — or, when no member was
//! simulated, the reason none was: it does not fit (by how much), its lower bound is already
//! above the plans that were kept, it recomputes more than it needs to, or `train` rejects it.

use super::{Entry, Eval, Ranked, Status};
use serde::Serialize;
use std::collections::BTreeMap;

/// One rejected family.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rejected {
    /// `TP 16`, `PP 1 without FSDP`, `CP 2`, `recompute full`, `order tp,cp,ep,dp,pp`, …
    pub family: String,
    /// Machine-readable cause: `does_not_fit`, `bubble`, `compute`, `exposed_tp_comm`,
    /// `exposed_cp_comm`, `exposed_ep_comm`, `exposed_pp_comm`, `exposed_dp_comm`, `tie`,
    /// `bound_above_kept`, `more_recompute_than_needed`, `invalid`, `too_big_to_simulate`.
    pub cause: String,
    /// The reason in words.
    pub reason: String,
    /// Candidates of the family.
    pub members: usize,
    /// The family's best simulated member (its plan in one line), if one was simulated.
    pub best_member: Option<String>,
    pub step_time_s: Option<f64>,
    /// Its step minus the winner's at the same fidelity.
    pub slower_by_s: Option<f64>,
    /// The fidelity of that comparison.
    pub fidelity: Option<String>,
    /// Least memory per accelerator of the family (when it does not fit).
    #[serde(serialize_with = "crate::rounded_bytes_opt")]
    pub memory_bytes_per_accel: Option<f64>,
    #[serde(serialize_with = "crate::rounded_bytes")]
    pub capacity_bytes: f64,
}

/// The families of a candidate, each with a sort key (dimension, value).
fn families_of(e: &Entry) -> Vec<((u8, u64), String)> {
    let c = &e.candidate;
    let p = &c.plan;
    let mut out = Vec::new();
    if let Some(m) = &c.mesh {
        for (i, (name, v)) in [
            ("ici tensor", m.ici_tensor),
            ("ici sequence", m.ici_sequence),
            ("ici fsdp", m.ici_fsdp),
            ("ici data", m.ici_data),
            ("dcn fsdp", m.dcn_fsdp),
            ("dcn data", m.dcn_data),
        ]
        .into_iter()
        .enumerate()
        {
            out.push(((i as u8, v as u64), format!("{name} {v}")));
        }
    } else {
        for (i, (name, v)) in [("TP", p.tp), ("PP", p.pp), ("CP", p.cp), ("EP", p.ep), ("VP", p.vp)]
            .into_iter()
            .enumerate()
        {
            out.push(((i as u8, v as u64), format!("{name} {v}")));
        }
        out.push(((5, p.mbs as u64), format!("mbs {}", p.mbs)));
        out.push(((6, p.zero as u64), super::space::sharding_label(p)));
        if p.pp == 1 && p.zero < 3 {
            out.push(((7, 0), "PP 1 without FSDP".into()));
        }
        let o = c.order;
        let code = o.iter().fold(0u64, |acc, &d| acc * 10 + d as u64);
        out.push(((9, code), format!("order {}", super::space::order_name(o))));
    }
    out.push((
        (8, super::space::recompute_rank(p.recompute) as u64),
        format!("recompute {}", format!("{:?}", p.recompute).to_lowercase()),
    ));
    out
}

/// The part of the step where `member` loses most against `best` (same fidelity): (cause,
/// words, seconds).
fn dominant_loss(member: &Eval, best: &Eval) -> (&'static str, &'static str, f64) {
    let (m, b) = (&member.breakdown, &best.breakdown);
    let parts = [
        (
            "compute",
            "compute (kernels and recomputation)",
            (m.compute_s + m.recompute_s) - (b.compute_s + b.recompute_s),
        ),
        ("bubble", "pipeline bubble", m.pipeline_bubble_s - b.pipeline_bubble_s),
        ("exposed_tp_comm", "exposed TP communication", m.tp_comm_s - b.tp_comm_s),
        ("exposed_cp_comm", "exposed CP communication", m.cp_comm_s - b.cp_comm_s),
        ("exposed_ep_comm", "exposed EP communication", m.ep_comm_s - b.ep_comm_s),
        ("exposed_pp_comm", "exposed PP communication", m.pp_comm_s - b.pp_comm_s),
        (
            "exposed_dp_comm",
            "exposed DP/FSDP communication",
            m.dp_comm_s - b.dp_comm_s,
        ),
    ];
    parts.into_iter().fold(
        ("compute", "compute (kernels and recomputation)", f64::NEG_INFINITY),
        |acc, x| {
            if x.2 > acc.2 {
                x
            } else {
                acc
            }
        },
    )
}

/// The families the winner (`best`, entry `best_index`) is not in, each with why it loses.
pub fn explain(entries: &[Entry], best: &Ranked, best_index: usize, capacity: f64) -> Vec<Rejected> {
    let winner = &entries[best_index];
    let winner_families: Vec<String> = families_of(winner).into_iter().map(|(_, n)| n).collect();
    let mut groups: BTreeMap<(u8, u64), (String, Vec<usize>)> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        for (k, name) in families_of(e) {
            if winner_families.contains(&name) {
                continue;
            }
            groups.entry(k).or_insert_with(|| (name, Vec::new())).1.push(i);
        }
    }
    let gib = |b: f64| b / 1073741824.0;
    let secs = |v: f64| units::si(v, "s");
    let mut out = Vec::new();
    for (_, (family, members)) in groups {
        let mut r = Rejected {
            family: family.clone(),
            cause: String::new(),
            reason: String::new(),
            members: members.len(),
            best_member: None,
            step_time_s: None,
            slower_by_s: None,
            fidelity: None,
            memory_bytes_per_accel: None,
            capacity_bytes: capacity,
        };
        // Compare at the final fidelity when a member has it, else analytically.
        let at = |e: &Entry, rerank: bool| -> Option<f64> {
            if rerank {
                e.rerank.as_ref().map(|x| x.step_time_s)
            } else {
                e.analytical.as_ref().map(|x| x.step_time_s)
            }
        };
        let pick = |rerank: bool| -> Option<usize> {
            members
                .iter()
                .copied()
                .filter(|&i| at(&entries[i], rerank).is_some())
                .min_by(|&a, &b| {
                    super::by_time(
                        (at(&entries[a], rerank).unwrap_or(f64::INFINITY), &entries[a].candidate),
                        (at(&entries[b], rerank).unwrap_or(f64::INFINITY), &entries[b].candidate),
                    )
                })
        };
        let simulated = [true, false].into_iter().find_map(|rerank| {
            let winner_eval = if rerank {
                winner.rerank.as_ref()
            } else {
                winner.analytical.as_ref()
            };
            let i = pick(rerank)?;
            let m = if rerank {
                entries[i].rerank.as_ref()
            } else {
                entries[i].analytical.as_ref()
            }?;
            Some((i, m, winner_eval?, rerank))
        });
        let fits: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| !matches!(entries[i].status, Status::Invalid(_) | Status::OverMemory))
            .collect();
        if let Some((i, m, w, rerank)) = simulated {
            let (cause, words, by) = dominant_loss(m, w);
            let slower = m.step_time_s - w.step_time_s;
            let tie = slower <= 1e-9 * w.step_time_s.abs();
            r.cause = cause.into();
            r.best_member = Some(entries[i].candidate.label());
            r.step_time_s = Some(m.step_time_s);
            r.slower_by_s = Some(slower);
            r.fidelity = Some(if rerank {
                best.report.fidelity.clone()
            } else {
                "analytical".into()
            });
            r.reason = if tie {
                r.cause = "tie".into();
                format!(
                    "ties with the best plan: its best plan ({}) also takes {}; the simpler plan is listed first",
                    entries[i].candidate.label(),
                    secs(m.step_time_s)
                )
            } else {
                format!(
                    "{words}: its best plan ({}) takes {} (+{}), {} +{} against the best plan",
                    entries[i].candidate.label(),
                    secs(m.step_time_s),
                    secs(slower.max(0.0)),
                    words,
                    secs(by.max(0.0))
                )
            };
        } else if fits.is_empty() {
            let least = members
                .iter()
                .copied()
                .filter(|&i| entries[i].status == Status::OverMemory)
                .min_by(|&a, &b| entries[a].memory_bytes.total_cmp(&entries[b].memory_bytes));
            match least {
                Some(i) => {
                    let need = entries[i].memory_bytes;
                    r.cause = "does_not_fit".into();
                    r.memory_bytes_per_accel = Some(need);
                    r.reason = format!(
                        "does not fit: its least memory is {:.1} GiB per accelerator ({}), {:.1} GiB over the {:.1} GiB of HBM",
                        gib(need),
                        entries[i].candidate.label(),
                        gib(need - capacity),
                        gib(capacity)
                    );
                }
                None => {
                    let msg = members.iter().find_map(|&i| match &entries[i].status {
                        Status::Invalid(m) => Some(m.clone()),
                        _ => None,
                    });
                    r.cause = "invalid".into();
                    r.reason = format!("not a valid plan: {}", msg.unwrap_or_default());
                }
            }
        } else if let Some(i) = fits
            .iter()
            .copied()
            .filter(|&i| entries[i].status == Status::Pruned)
            .min_by(|&a, &b| {
                let (x, y) = (
                    entries[a].bound.unwrap_or_default(),
                    entries[b].bound.unwrap_or_default(),
                );
                x.step_s.total_cmp(&y.step_s)
            })
        {
            let b = entries[i].bound.unwrap_or_default();
            let wb = &best.report.breakdown;
            let parts = [
                (
                    "compute",
                    "compute (kernels and recomputation)",
                    b.compute_s - (wb.compute_s + wb.recompute_s),
                ),
                ("bubble", "pipeline bubble", b.bubble_s - wb.pipeline_bubble_s),
                (
                    "exposed_tp_comm",
                    "exposed TP communication",
                    b.tp_comm_s - wb.tp_comm_s,
                ),
            ];
            // The largest excess (the first of equals).
            let (cause, words, _) = parts
                .iter()
                .copied()
                .fold(parts[0], |a, x| if x.2 > a.2 { x } else { a });
            r.cause = cause.into();
            r.best_member = Some(entries[i].candidate.label());
            r.reason = format!(
                "{}: even with free communication beyond its TP collectives its best plan ({}) needs at least {}{}, above the plans kept; the best plan takes {}",
                words,
                entries[i].candidate.label(),
                secs(b.step_s),
                {
                    let mut parts = vec![format!("compute {}", secs(b.compute_s))];
                    if b.tp_comm_s > 0.0 {
                        parts.push(format!("TP collectives {}", secs(b.tp_comm_s)));
                    }
                    if b.bubble_s > 0.0 {
                        parts.push(format!("pipeline fill and drain {}", secs(b.bubble_s)));
                    }
                    if parts.len() > 1 {
                        format!(" ({})", parts.join(" + "))
                    } else {
                        String::new()
                    }
                },
                secs(best.report.step_time_s)
            );
        } else if fits.iter().any(|&i| entries[i].status == Status::Dominated) {
            r.cause = "more_recompute_than_needed".into();
            r.reason = "every member fits with less recomputation, which only removes compute".into();
        } else {
            r.cause = "too_big_to_simulate".into();
            r.reason = "its members' simulations would exceed the host memory limit".into();
        }
        out.push(r);
    }
    out
}
