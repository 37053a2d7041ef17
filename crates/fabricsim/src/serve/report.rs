//! `serve`'s result and its JSON schema.

use serde::Serialize;

use super::cost::{BusyLink, KvTier, Priced};
use super::sim::{Record, SimOut};
use super::{Features, Layout, ServeScenario, Slo};

/// A distribution over requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Dist {
    pub mean: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Dist {
    /// Nearest-rank percentiles of `v`; with no value every field is NaN, which JSON writes as
    /// `null` (no request finished: there is no latency to report, not a latency of 0).
    pub fn of(mut v: Vec<f64>) -> Dist {
        v.retain(|x| x.is_finite());
        if v.is_empty() {
            return Dist {
                mean: f64::NAN,
                p10: f64::NAN,
                p50: f64::NAN,
                p90: f64::NAN,
                p99: f64::NAN,
            };
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let pct = |p: f64| v[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
        Dist {
            mean: v.iter().sum::<f64>() / n as f64,
            p10: pct(10.0),
            p50: pct(50.0),
            p90: pct(90.0),
            p99: pct(99.0),
        }
    }
}

/// One role of the deployment.
#[derive(Debug, Clone, Serialize)]
pub struct RoleReport {
    pub role: String,
    pub instances: u32,
    pub layout: String,
    pub accelerators: u64,
    pub weights_bytes_per_accel: f64,
    pub hbm_usable_bytes_per_accel: f64,
    pub kv_pool_bytes_per_accel: f64,
    pub kv_bytes_per_token: f64,
    pub kv_bytes_per_token_per_accel: f64,
    pub kv_capacity_tokens_per_rank: u64,
    pub kv_tiers: Vec<KvTier>,
    /// Time-weighted mean and peak of KV blocks in use over the pool.
    pub kv_occupancy_mean_fraction: f64,
    pub kv_occupancy_peak_fraction: f64,
    pub steps: u64,
    pub mean_step_s: f64,
    /// Busy time of the role's instances over the simulated time.
    pub busy_fraction: f64,
    /// Mean decode requests per attention rank per step.
    pub mean_decode_batch_per_rank: f64,
    pub mean_tokens_per_rank_step: f64,
    /// Where a step's time goes (fractions of the summed step times).
    pub step_breakdown: Breakdown,
    /// Inside the window, per accelerator of this role.
    pub input_tokens_per_s_per_accel: f64,
    pub output_tokens_per_s_per_accel: f64,
    pub preemptions: u64,
    /// Links that bound the role's EP dispatch/combine.
    pub busiest_links: Vec<BusyLink>,
}

/// Fractions of step time.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Breakdown {
    pub gemm_fraction: f64,
    pub attention_fraction: f64,
    pub moe_experts_fraction: f64,
    pub other_compute_fraction: f64,
    pub comm_exposed_fraction: f64,
    /// Communication before overlap over step time (a ratio: with overlap it can exceed the
    /// exposed share, and 1).
    pub tp_comm_ratio: f64,
    pub ep_comm_ratio: f64,
    pub pp_comm_ratio: f64,
}

/// Little's law on the simulated queue: L (time-averaged requests in the system) against λ·W.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LittlesLaw {
    pub mean_in_system: f64,
    pub arrival_rate_per_s: f64,
    pub mean_time_in_system_s: f64,
}

/// The serving report.
#[derive(Debug, Clone, Serialize)]
pub struct ServeReport {
    pub schema_version: u32,
    pub cluster: String,
    pub accelerator: String,
    pub model: String,
    pub precision: String,
    pub deployment: Layout,
    pub deployment_text: String,
    pub accelerators: u64,
    pub workload: String,
    pub features: Features,
    pub slo: Slo,
    pub seed: u64,
    pub warmup_s: f64,
    pub window_s: f64,
    pub simulated_s: f64,
    pub requests_arrived: u64,
    pub requests_finished: u64,
    pub requests_unfinished: u64,
    pub output_tokens_per_s_per_accel: f64,
    pub input_tokens_per_s_per_accel: f64,
    /// Share of prompt tokens served from a cache.
    pub cached_input_fraction: f64,
    /// Share of cacheable prompt tokens (a session's earlier context, a shared prompt) the cache
    /// had.
    pub kv_cache_hit_fraction: f64,
    /// Mean over requests of their decode speed, (output − 1) / (end − first token).
    pub output_tokens_per_s_per_user: f64,
    pub ttft_s: Dist,
    pub tpot_s: Dist,
    pub e2e_s: Dist,
    pub slo_attainment_fraction: f64,
    pub slo_met: bool,
    pub preemptions: u64,
    pub kv_transfer_bytes: f64,
    pub kv_transfer_s: Dist,
    pub kv_demotions_below_hbm: u64,
    /// Of the cached prompt tokens, the share fetched back from a tier below HBM.
    pub cached_from_lower_tiers_fraction: f64,
    pub roles: Vec<RoleReport>,
    pub littles_law: LittlesLaw,
    /// Accelerator energy per output token: the accelerators at TDP while their instance steps
    /// (idle accelerators, hosts and network left out; `topo` has the cluster's power).
    pub accel_energy_j_per_output_token: f64,
    pub events: u64,
    pub assumptions: Vec<String>,
    /// Power and energy of the deployment (`crate::power::serve_energy`): filled by the caller
    /// that knows the power options (`serve` in the CLI); `None` adds no keys.
    #[serde(flatten)]
    pub energy: Option<crate::power::ServeEnergy>,
}

fn in_window(r: &Record, w: (f64, f64)) -> bool {
    r.arrival_s >= w.0 && r.arrival_s <= w.1
}

/// Turn the simulation's records into the report.
pub fn assemble(s: &ServeScenario, priced: &Priced, out: &SimOut) -> ServeReport {
    let w = out.window;
    // A run that ends before the window does (a short trace) is measured up to its end.
    let window_s = (w.1.min(out.end_s) - w.0).max(1e-9);
    let recs: Vec<&Record> = out.records.iter().filter(|r| in_window(r, w)).collect();
    let finished: Vec<&&Record> = recs.iter().filter(|r| r.finished()).collect();
    let accels = s.layout.gpus();
    let out_tokens: f64 = out.roles.iter().map(|r| r.window_output_tokens).sum();
    let in_tokens: f64 = out
        .roles
        .iter()
        .zip(&priced.roles)
        .filter(|(_, rc)| rc.role != super::Role::Decode)
        .map(|(r, _)| r.window_prefill_tokens + r.window_cached_tokens)
        .sum::<f64>();
    // Decode-only runs prefill nothing: their input is the context they were given.
    let in_tokens = if matches!(s.layout, Layout::DecodeOnly { .. }) {
        0.0
    } else {
        in_tokens
    };
    let cached: f64 = recs.iter().map(|r| r.cached as f64).sum();
    let cacheable: f64 = recs.iter().map(|r| r.cacheable as f64).sum();
    let input_all: f64 = recs.iter().map(|r| r.input as f64).sum();
    let ttft = Dist::of(finished.iter().map(|r| r.ttft_s()).collect());
    let tpot = Dist::of(finished.iter().filter(|r| r.output > 1).map(|r| r.tpot_s()).collect());
    let e2e = Dist::of(finished.iter().map(|r| r.end_s - r.arrival_s).collect());
    let speeds: Vec<f64> = finished
        .iter()
        .filter(|r| r.output > 1 && r.end_s > r.first_token_s)
        .map(|r| (r.output - 1) as f64 / (r.end_s - r.first_token_s))
        .collect();
    let per_user = if speeds.is_empty() {
        0.0
    } else {
        speeds.iter().sum::<f64>() / speeds.len() as f64
    };
    let prefill_only = matches!(s.layout, Layout::PrefillOnly { .. });
    let meets = |r: &&Record| {
        r.finished()
            && r.ttft_s() <= s.slo.ttft_s + 1e-12
            && (prefill_only || r.output <= 1 || r.tpot_s() <= s.slo.tpot_s + 1e-12)
    };
    let attained = if recs.is_empty() {
        0.0
    } else {
        recs.iter().filter(|r| meets(r)).count() as f64 / recs.len() as f64
    };
    let simulated = out.end_s.max(1e-9);
    let mut roles = Vec::new();
    let mut busy_accel_s = 0.0;
    for (st, rc) in out.roles.iter().zip(&priced.roles) {
        let gpus = rc.spec.gpus() as u64 * rc.spec.instances as u64;
        let total = st.cost.total_s.max(1e-30);
        let ranks = rc.spec.dp_attn as f64;
        let steps = st.steps.max(1) as f64;
        busy_accel_s += st.busy_s * rc.spec.gpus() as f64;
        let role_in = if rc.role == super::Role::Decode {
            0.0
        } else {
            st.window_prefill_tokens + st.window_cached_tokens
        };
        roles.push(RoleReport {
            role: format!("{:?}", rc.role).to_lowercase(),
            instances: rc.spec.instances,
            layout: rc.spec.describe(),
            accelerators: gpus,
            weights_bytes_per_accel: rc.weights_bytes_per_gpu.round(),
            hbm_usable_bytes_per_accel: rc.hbm_usable_bytes_per_gpu.round(),
            kv_pool_bytes_per_accel: rc.kv_pool_bytes_per_gpu.round(),
            kv_bytes_per_token: rc.kv_bytes_per_token,
            kv_bytes_per_token_per_accel: rc.kv_bytes_per_token_per_gpu,
            kv_capacity_tokens_per_rank: rc.kv_capacity_tokens_per_rank,
            kv_tiers: rc.tiers.clone(),
            kv_occupancy_mean_fraction: if st.busy_s > 0.0 {
                st.kv_used_block_s / st.busy_s
            } else {
                0.0
            },
            kv_occupancy_peak_fraction: st.kv_peak_fraction,
            steps: st.steps,
            mean_step_s: st.busy_s / steps,
            busy_fraction: (st.busy_s / (simulated * rc.spec.instances as f64)).min(1.0),
            mean_decode_batch_per_rank: st.decode_reqs as f64 / steps / ranks,
            mean_tokens_per_rank_step: st.tokens as f64 / steps / ranks,
            step_breakdown: Breakdown {
                gemm_fraction: st.cost.gemm_s / total,
                attention_fraction: st.cost.attention_s / total,
                moe_experts_fraction: st.cost.moe_s / total,
                other_compute_fraction: st.cost.other_s / total,
                comm_exposed_fraction: st.cost.comm_exposed_s / total,
                tp_comm_ratio: st.cost.tp_comm_s / total,
                ep_comm_ratio: st.cost.ep_comm_s / total,
                pp_comm_ratio: st.cost.pp_comm_s / total,
            },
            input_tokens_per_s_per_accel: role_in / window_s / gpus as f64,
            output_tokens_per_s_per_accel: st.window_output_tokens / window_s / gpus as f64,
            preemptions: st.preemptions,
            busiest_links: rc.busiest_links.clone(),
        });
    }
    let arrived = recs.len() as f64;
    let mut assumptions: Vec<String> = priced.roles.iter().flat_map(|r| r.notes.clone()).collect();
    assumptions.dedup();
    assumptions.push("communication inside a step is priced on the role's real groups at set-up (analytical fidelity); P→D KV transfers are priced per request on the path between the first prefill and decode GPUs and queue on their sending rank, without contention elsewhere on the fabric".into());
    let tdp = priced.roles.first().map_or(0.0, |r| r.tdp_w);
    ServeReport {
        schema_version: crate::SCHEMA_VERSION,
        cluster: s.cluster.clone(),
        accelerator: priced.roles.first().map_or_else(String::new, |r| r.accel_name.clone()),
        model: s.model.name.clone(),
        precision: s.precision.name().to_string(),
        deployment: s.layout.clone(),
        deployment_text: s.layout.describe(),
        accelerators: accels,
        workload: s.workload.describe(),
        features: s.features.clone(),
        slo: s.slo,
        seed: s.seed,
        warmup_s: s.warmup_s,
        window_s,
        simulated_s: out.end_s,
        requests_arrived: recs.len() as u64,
        requests_finished: finished.len() as u64,
        requests_unfinished: (recs.len() - finished.len()) as u64,
        output_tokens_per_s_per_accel: out_tokens / window_s / accels as f64,
        input_tokens_per_s_per_accel: in_tokens / window_s / accels as f64,
        cached_input_fraction: if input_all > 0.0 { cached / input_all } else { 0.0 },
        kv_cache_hit_fraction: if cacheable > 0.0 { cached / cacheable } else { 0.0 },
        output_tokens_per_s_per_user: per_user,
        ttft_s: ttft,
        tpot_s: tpot,
        e2e_s: e2e,
        slo_attainment_fraction: attained,
        slo_met: attained >= s.slo.attainment_target_fraction,
        preemptions: out.roles.iter().map(|r| r.preemptions).sum(),
        kv_transfer_bytes: out.kv_transfer_bytes,
        kv_transfer_s: Dist::of(
            out.records
                .iter()
                .filter(|r| r.kv_transfer_s > 0.0)
                .map(|r| r.kv_transfer_s)
                .collect(),
        ),
        kv_demotions_below_hbm: out.demotions_below_hbm,
        cached_from_lower_tiers_fraction: if cached > 0.0 {
            recs.iter().map(|r| r.fetched as f64).sum::<f64>() / cached
        } else {
            0.0
        },
        roles,
        littles_law: LittlesLaw {
            mean_in_system: out.in_system_integral / window_s,
            arrival_rate_per_s: arrived / window_s,
            mean_time_in_system_s: e2e.mean,
        },
        accel_energy_j_per_output_token: if out_tokens > 0.0 {
            busy_accel_s * tdp / out_tokens.max(1e-9) * (window_s / simulated).min(1.0)
        } else {
            0.0
        },
        events: out.events,
        assumptions,
        energy: None,
    }
}
