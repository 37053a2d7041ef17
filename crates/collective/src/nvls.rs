//! NVLS (NVLink SHARP): the NVSwitch reduces and multicasts. Each GPU pushes its buffer into the
//! switch and receives the reduced result: one flow per GPU over its up-link, a virtual link
//! standing for the switch's reduction rate at that port, and its down-link.

use crate::constants::{eta_nvls, LinkClass};
use crate::plan::{single_domain, Phase, Plan, PlanFlow};
use crate::{Algo, CollectiveError, Op};
use fabric::{Fabric, ScaleUpKind};

/// Accelerators whose NVSwitch generation supports NVLink SHARP (NVSwitch gen3 and later).
pub fn supported(f: &Fabric) -> bool {
    matches!(f.scale_up, ScaleUpKind::Switched)
        && matches!(
            f.accel_model,
            "h100" | "h200" | "h800" | "b200" | "b300" | "gb200" | "gb300"
        )
}

pub fn lower(f: &Fabric, ranks: &[u32], op: Op, size: f64) -> Result<Plan, CollectiveError> {
    let unsupported = |why: &str| CollectiveError::Unsupported {
        algo: Algo::Nvls,
        op,
        why: why.into(),
    };
    if op != Op::AllReduce {
        return Err(unsupported("modelled for all_reduce only"));
    }
    if !supported(f) {
        return Err(unsupported("needs an NVSwitch with NVLink SHARP (gen3 or later)"));
    }
    if !single_domain(f, ranks) {
        return Err(unsupported(
            "NVLS reduces inside one NVLink domain; use hierarchical or collnet across domains",
        ));
    }
    let mut plan = Plan::new(op, Algo::Nvls);
    plan.nvls = true;
    let mut phase = Phase::default();
    let base = f.links.len() as u32;
    for &r in ranks {
        let ports = f.scale_up_ports(r);
        // Star domains have one port per GPU (the logical switch).
        let Some(&up) = ports.first() else {
            return Err(unsupported("accelerator has no switch port"));
        };
        let bw = f.links[up as usize].capacity.0;
        let v = base + plan.virtual_links.len() as u32;
        plan.virtual_links.push(eta_nvls(f.accel_model) * bw);
        let mut pf = PlanFlow::new(r, r, size);
        pf.path = Some(vec![up, v, up ^ 1]);
        phase.flows.push(pf);
    }
    phase.steps(LinkClass::NvLink, 0);
    plan.phases.push(phase);
    Ok(plan)
}
