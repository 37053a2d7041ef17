//! Point-to-point send/recv as nccl-tests runs it: every rank sends `size` bytes to the next rank
//! and receives as much from the previous one.

use crate::constants::LinkClass;
use crate::plan::{single_domain, Phase, Plan, PlanFlow};
use crate::{Algo, CollectiveError, Op};
use fabric::Fabric;

pub fn lower(f: &Fabric, ranks: &[u32], op: Op, size: f64) -> Result<Plan, CollectiveError> {
    if op != Op::SendRecv {
        return Err(CollectiveError::Unsupported {
            algo: Algo::P2p,
            op,
            why: "serves send_recv".into(),
        });
    }
    let n = ranks.len();
    let mut plan = Plan::new(op, Algo::P2p);
    let mut ph = Phase::default();
    if n > 1 {
        for i in 0..n {
            let mut pf = PlanFlow::new(ranks[i], ranks[(i + 1) % n], size);
            pf.pxn = true;
            ph.flows.push(pf);
        }
    }
    ph.steps(
        if single_domain(f, ranks) {
            LinkClass::NvLink
        } else {
            LinkClass::Net
        },
        1,
    );
    plan.phases.push(ph);
    Ok(plan)
}
