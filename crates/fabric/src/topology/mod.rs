//! Topology generators. Each family builds nodes and cables into a [`FabricBuilder`]:
//! - [`scaleup`]: switch star (NVSwitch, NVLink Switch; one or several planes folded into one
//!   logical switch), full mesh, 1–3D torus (twisted, OCS-joined cubes), UB-style 2-level Clos;
//! - [`clos`]: scale-out fat-tree / Clos of 1–4 tiers with per-tier oversubscription,
//!   rail-optimized or sequential leaf assignment, single or dual plane (dual-ToR), rail-only,
//!   and multi-site joins over long-haul links;
//! - [`sites`]: sites (any single-plane scale-out cluster) joined over a data-centre
//!   interconnect: per-site DCI routers, long-haul legs to a WAN meeting point;
//! - [`nodes`]: the server / rack types (what one scale-up domain is made of).

pub mod clos;
pub mod nodes;
pub mod scaleup;
pub mod sites;
