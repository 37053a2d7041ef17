//! Scale-up domain generators.

use super::nodes::ScaleUpSpec;
use crate::builder::{FabricBuilder, SwitchSpec};
use crate::model::*;
use crate::routing::{torus_coord, torus_index, torus_step};
use units::Seconds;

/// Per-hop latency inside a scale-up domain. No vendor publishes one; third parties describe
/// NVLink and ICI hops as "sub-µs" (reference table §9.1, [S]/[U]). Collective latency
/// constants (NCCL's tables) are applied by the collective layer, not here.
pub const SCALE_UP_HOP: Seconds = Seconds(0.25e-6);

/// Models registered once per fabric for the scale-up switches.
#[derive(Debug, Clone, Copy)]
pub struct ScaleUpModels {
    pub switch: u32,
    pub l2: u32,
}

pub fn register_models(b: &mut FabricBuilder, spec: &ScaleUpSpec) -> ScaleUpModels {
    match spec {
        ScaleUpSpec::Star {
            chip, chip_radix, lane, ..
        } => {
            let m = b.switch_model(chip, "scale-up switch", *chip_radix, *lane);
            ScaleUpModels { switch: m, l2: NONE }
        }
        ScaleUpSpec::UbClos {
            chip, chip_radix, lane, ..
        } => {
            let l1 = b.switch_model(chip, "UB L1", *chip_radix, *lane);
            let l2 = b.switch_model(chip, "UB L2", *chip_radix, *lane);
            ScaleUpModels { switch: l1, l2 }
        }
        _ => ScaleUpModels { switch: NONE, l2: NONE },
    }
}

/// Add one scale-up domain (its accelerators in rank order) and return their node ids.
pub fn add_domain(
    b: &mut FabricBuilder,
    spec: &ScaleUpSpec,
    models: ScaleUpModels,
    domain: u32,
    pod: u32,
    site: u32,
) -> Vec<NodeId> {
    let size = spec.size();
    let accels: Vec<NodeId> = (0..size).map(|_| b.accel(domain, pod, site)).collect();
    let sw = |tier, chips, model, scope| SwitchSpec {
        net: Net::ScaleUp,
        tier,
        chips,
        model,
        domain,
        plane: NONE,
        pod,
        site,
        scope,
    };
    match spec {
        ScaleUpSpec::Single => {}
        ScaleUpSpec::Star { chips, lanes, lane, .. } => {
            let scope = b.scope(NONE);
            let s = b.switch(sw(1, *chips, models.switch, scope));
            for &a in &accels {
                b.cable(
                    a,
                    s,
                    *lane * *lanes as f64,
                    SCALE_UP_HOP,
                    Medium::Copper,
                    Net::ScaleUp,
                    *lanes,
                );
            }
        }
        ScaleUpSpec::FullMesh { lanes, lane, .. } => {
            for i in 0..accels.len() {
                for j in i + 1..accels.len() {
                    b.cable(
                        accels[i],
                        accels[j],
                        *lane * *lanes as f64,
                        SCALE_UP_HOP,
                        Medium::Copper,
                        Net::ScaleUp,
                        *lanes,
                    );
                }
            }
        }
        ScaleUpSpec::Torus {
            dims,
            wrap,
            twist,
            lane,
            cube,
        } => {
            for (i, &a) in accels.iter().enumerate() {
                let c = torus_coord(i as u32, *dims);
                for d in 0..3 {
                    if dims[d] < 2 {
                        continue;
                    }
                    // Only the forward link of each pair; a dimension of 2 has no wraparound.
                    let w = [wrap[0] && dims[0] > 2, wrap[1] && dims[1] > 2, wrap[2] && dims[2] > 2];
                    if let Some(n) = torus_step(c, d, true, *dims, w, *twist) {
                        let j = torus_index(n, *dims) as usize;
                        let optical = match cube {
                            // A step from the + face of a cube leaves it (to the next cube,
                            // or around the wrap) through the cube's optical face link.
                            Some(cb) => c[d] % cb[d] == cb[d] - 1,
                            None => false,
                        };
                        let medium = if optical { Medium::OpticalOcs } else { Medium::Copper };
                        b.cable(a, accels[j], *lane, SCALE_UP_HOP, medium, Net::ScaleUp, 1);
                    }
                }
            }
        }
        ScaleUpSpec::UbClos {
            nodes,
            per_node,
            planes,
            l2_per_plane,
            lane,
            l1_up,
            ..
        } => {
            // UB sprays every transfer over all planes and all L2 chips of a plane, so the L2
            // tier acts as one logical switch (exact for the fluid model); the BOM still counts
            // planes × l2_per_plane chips.
            let top = b.scope(NONE);
            let l2 = b.switch(sw(2, planes * l2_per_plane, models.l2, top));
            for n in 0..*nodes {
                let scope = b.scope(top);
                let l1 = b.switch(sw(1, *planes, models.switch, scope));
                for k in 0..*per_node {
                    let a = accels[(n * per_node + k) as usize];
                    // SemiAnalysis counts the NPU's UB links as optical (a module at each end).
                    b.cable(
                        a,
                        l1,
                        *lane * *planes as f64,
                        SCALE_UP_HOP,
                        Medium::Optical,
                        Net::ScaleUp,
                        *planes,
                    );
                }
                let lanes = planes * l2_per_plane;
                b.cable(
                    l1,
                    l2,
                    *l1_up * lanes as f64,
                    SCALE_UP_HOP,
                    Medium::Copper,
                    Net::ScaleUp,
                    lanes,
                );
            }
        }
    }
    accels
}

/// Scale-up kind for routing.
pub fn kind(spec: &ScaleUpSpec) -> ScaleUpKind {
    match spec {
        ScaleUpSpec::Single => ScaleUpKind::None,
        ScaleUpSpec::Star { .. } | ScaleUpSpec::UbClos { .. } => ScaleUpKind::Switched,
        ScaleUpSpec::FullMesh { .. } => ScaleUpKind::FullMesh,
        ScaleUpSpec::Torus { dims, wrap, twist, .. } => ScaleUpKind::Torus {
            dims: *dims,
            wrap: [wrap[0] && dims[0] > 2, wrap[1] && dims[1] > 2, wrap[2] && dims[2] > 2],
            twist: *twist,
        },
    }
}
