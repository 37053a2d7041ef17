//! Sites joined over a data-centre interconnect (`fabric::topology::sites`): link counts follow
//! the stated capacity, the bill of materials lists the coherent modules and DCI routers,
//! routes between sites take the long-haul legs with the fibre's latency, cluster files of
//! `[[site]]` / `[[dci]]` tables load, and bad input is a clear error.

use fabric::bom::{self, Bom};
use fabric::presets;
use fabric::{Fabric, Medium, Net, NodeKind, RouteOpts};

const TWO_SITES: &str = include_str!("../../../examples/two-sites-30km.toml");

fn build(spec: &str) -> Fabric {
    presets::build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}")).1
}

fn file(text: &str) -> Result<Fabric, String> {
    presets::from_toml(text, "sites.toml", &[])
        .map(|x| x.1)
        .map_err(|e| e.to_string())
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-30)
}

/// Long-haul links (one direction each) with their lanes.
fn long_haul(f: &Fabric) -> Vec<fabric::Link> {
    f.links
        .iter()
        .step_by(2)
        .filter(|l| l.net == Net::LongHaul)
        .copied()
        .collect()
}

fn line<'a>(b: &'a Bom, item: &str) -> &'a bom::BomLine {
    b.lines.iter().find(|l| l.item == item).unwrap_or_else(|| {
        panic!(
            "no `{item}` line: {:?}",
            b.lines.iter().map(|l| &l.item).collect::<Vec<_>>()
        )
    })
}

#[test]
fn link_counts_follow_the_capacity() {
    // Issue 11: `multi-site:wan_gbit=100` used to count 262 long-haul links (one per core
    // switch); 100 Gb/s needs one 400ZR wavelength per site.
    for (spec, per_site, module) in [
        ("multi-site:gpus=512,wan_gbit=100", 1u32, "qsfp-dd-400zr"),
        ("multi-site:gpus=512,wan_gbit=51200", 128, "qsfp-dd-400zr"),
        (
            "multi-site:gpus=512,wan_gbit=51200,optics=zr+800",
            64,
            "osfp-800zr-plus",
        ),
        ("multi-site:gpus=512,wan_gbit=1000,optics=zr+", 3, "qsfp-dd-400zr-plus"),
    ] {
        let f = build(spec);
        let lh = long_haul(&f);
        assert_eq!(lh.len(), 2, "{spec}: one leg per site");
        assert!(
            lh.iter().all(|l| l.lanes == per_site && l.medium == Medium::LongHaul),
            "{spec}: {lh:?}"
        );
        assert_eq!(f.extras.long_haul_transceiver, Some(module), "{spec}");
        let b = bom::bom(&f);
        assert_eq!(
            b.transceivers_long_haul,
            2 * 2 * per_site as u64,
            "{spec}: 2 modules per wavelength"
        );
        // The capacity per site is the stated one, whatever the modules round up to.
        let gbit: f64 = spec
            .split("wan_gbit=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(lh.iter().all(|l| close(l.capacity.as_gbit(), gbit, 1e-12)), "{spec}");
        assert!(
            close(f.bisection.as_gbit(), gbit, 1e-12),
            "{spec}: bisection {}",
            f.bisection.as_gbit()
        );
    }
}

#[test]
fn two_site_file_bom_and_routes() {
    let f = file(TWO_SITES).unwrap();
    assert_eq!(f.accel_count(), 16_384);
    assert_eq!(f.site_count(), 2);
    assert_eq!(f.site_of(0), 0);
    assert_eq!(f.site_of(8_191), 0);
    assert_eq!(f.site_of(8_192), 1);
    assert_eq!(f.site_of(16_383), 1);
    let b = bom::bom(&f);
    // 51.2 Tb/s per site over 400ZR: 128 wavelengths per site, a module at each end.
    let zr = line(&b, "optical transceiver: long-haul (DCI)");
    assert_eq!(zr.count, 512);
    assert!(zr.model.contains("400ZR"), "{}", zr.model);
    assert!(close(zr.power().0, 512.0 * 15.0, 1e-12));
    assert!(zr.cost().0 > 0.0);
    // One DCI router chassis per site: 128 long-haul + the top tier's site-side ports ≤ 576.
    let r = line(&b, "switch chip: DCI router");
    assert_eq!(r.count, 2);
    assert!(r.model.contains("7800R3"), "{}", r.model);
    assert!(r.power().0 > 0.0 && r.cost().0 > 0.0);
    assert_eq!(b.cables_by_medium.get("long-haul long-haul fibre"), Some(&256));
    // Routes between sites cross the two legs: 30 km of fibre in all.
    for (src, dst) in [(0u32, 16_383u32), (5, 9_000), (8_191, 8_192)] {
        for flow in 0..4 {
            let route = f.route_vec(src, dst, flow, RouteOpts::default()).unwrap();
            let lh: Vec<_> = route
                .iter()
                .map(|&l| f.links[l as usize])
                .filter(|l| l.net == Net::LongHaul)
                .collect();
            assert_eq!(lh.len(), 2, "{src} → {dst}: site → WAN point → site");
            let t: f64 = lh.iter().map(|l| l.latency.0).sum();
            assert!(close(t, 4.9e-6 * 30.0, 1e-9), "30 km × 4.9 µs/km: {t}");
            // The route is a path: consecutive links meet.
            for w in route.windows(2) {
                assert_eq!(f.links[w[0] as usize].dst, f.links[w[1] as usize].src);
            }
            assert_eq!(f.links[route[0] as usize].src, f.accels[src as usize]);
            assert_eq!(f.links[*route.last().unwrap() as usize].dst, f.accels[dst as usize]);
        }
    }
    // Routes inside a site never leave it.
    for (src, dst) in [(0u32, 8_191u32), (8_192, 16_383)] {
        let route = f.route_vec(src, dst, 0, RouteOpts::default()).unwrap();
        assert!(route.iter().all(|&l| f.links[l as usize].net != Net::LongHaul));
    }
}

#[test]
fn sites_of_different_depths_route() {
    // A 1-tier site and a 3-tier site: their DCI routers sit at different tiers and both reach
    // the WAN meeting point.
    let text = r#"
[[site]]
name = "small"
cluster = "fat-tree:gpus=32,tiers=1"
[[site]]
name = "big"
cluster = "dgx-h100-superpod:su=4"
[[dci]]
between = ["small", "big"]
distance_km = 400
gbit = 3200
optics = "zr+"
"#;
    let f = file(text).unwrap();
    let n = f.accel_count() as u32;
    let tiers: Vec<u8> = f
        .nodes
        .iter()
        .filter(|x| x.kind == NodeKind::Switch && f.switch_models[x.model as usize].role == "DCI router")
        .map(|x| x.tier)
        .collect();
    assert_eq!(tiers.len(), 2);
    assert_ne!(tiers[0], tiers[1], "different depths: {tiers:?}");
    for (a, b) in [(0, n - 1), (n - 1, 0), (31, 32)] {
        let route = f.route_vec(a, b, 0, RouteOpts::default()).unwrap();
        let t: f64 = route
            .iter()
            .map(|&l| f.links[l as usize])
            .filter(|l| l.net == Net::LongHaul)
            .map(|l| l.latency.0)
            .sum();
        assert!(close(t, 4.9e-6 * 400.0, 1e-9), "{a} → {b}: {t}");
    }
    // 400 km is within ZR+ reach: no warning; 400ZR at 400 km is flagged.
    assert!(!f.assumptions.iter().any(|a| a.contains("beyond the")));
    let g = file(&text.replace("\"zr+\"", "\"zr\"")).unwrap();
    assert!(
        g.assumptions.iter().any(|a| a.contains("beyond the ~120 km")),
        "{:?}",
        g.assumptions
    );
}

#[test]
fn multi_site_headline_figures() {
    // The default preset: 2 × 8,192 rail-optimized H100, 100 km apart, 51.2 Tb/s per site.
    let f = build("multi-site");
    let b = bom::bom(&f);
    assert_eq!(f.accel_count(), 16_384);
    assert_eq!(f.site_count(), 2);
    assert_eq!(
        b.switches_by_tier.get("core"),
        Some(&262),
        "131 core switches per site (one DCI port each)"
    );
    assert_eq!(b.switches_by_tier.get("DCI router"), Some(&2));
    assert_eq!(b.transceivers_long_haul, 512);
    assert!(close(f.bisection.as_gbit(), 51_200.0, 1e-12));
    let lh = long_haul(&f);
    assert!(lh.iter().all(|l| close(l.latency.0, 4.9e-6 * 50.0, 1e-12)));
    // Nameplate IT power and cost, pinned (fabric lines: DCI routers and ZR modules included).
    assert!(close(b.power.0, 22.5e6, 0.005), "power {}", b.power.0);
    assert!(close(b.cost.0, 638.7e6, 0.005), "cost {}", b.cost.0);
    // Other site presets join the same way.
    for (spec, n) in [
        ("multi-site:site=dgx-h100-superpod:su=4", 2_032),
        ("multi-site:site=fat-tree,gpus=1024,sites=4", 1_024),
    ] {
        let f = build(spec);
        assert_eq!(f.accel_count(), n, "{spec}");
        let last = n as u32 - 1;
        let route = f.route_vec(0, last, 0, RouteOpts::default()).unwrap();
        assert_eq!(
            route
                .iter()
                .filter(|&&l| f.links[l as usize].net == Net::LongHaul)
                .count(),
            2,
            "{spec}"
        );
    }
}

#[test]
fn bad_sites_are_clear_errors() {
    let two = |dci: &str, second: &str| {
        format!(
            "[[site]]\nname = \"a\"\ncluster = \"fat-tree:gpus=64\"\n[[site]]\nname = \"b\"\ncluster = \"{second}\"\n{dci}"
        )
    };
    let pair = "[[dci]]\nbetween = [\"a\", \"b\"]\ndistance_km = 30\ngbit = 400\n";
    let cases: Vec<(String, &[&str])> = vec![
        (two(&pair.replace("\"b\"]", "\"c\"]"), "fat-tree:gpus=64"), &["sites.toml", "dci[0].between", "unknown site `c`"]),
        (two(&pair.replace("gbit = 400", "gbit = 0"), "fat-tree:gpus=64"), &["dci[0].gbit", "positive"]),
        (two(&pair.replace("distance_km = 30", "distance_km = -5"), "fat-tree:gpus=64"), &["dci[0].distance_km", "positive"]),
        (two(pair, "fat-tree:gpus=64,node=hgx-a100"), &["share one accelerator model", "pools"]),
        (two(pair, "dgx-h100"), &["no scale-out network"]),
        (two(pair, "hpn7-pod"), &["planes"]),
        (two("", "fat-tree:gpus=64"), &["`dci`", "no `[[dci]]`"]),
        (
            format!("{}[[site]]\nname = \"c\"\ncluster = \"fat-tree:gpus=64\"\n", two(pair, "fat-tree:gpus=64")),
            &["site[2]", "site `c` is not connected"],
        ),
        (
            format!(
                "{}[[site]]\nname = \"c\"\ncluster = \"fat-tree:gpus=64\"\n[[site]]\nname = \"d\"\ncluster = \"fat-tree:gpus=64\"\n{}",
                two(pair, "fat-tree:gpus=64"),
                pair.replace("\"a\", \"b\"", "\"c\", \"d\"")
            ),
            &["one connected graph", "cannot reach `c`"],
        ),
        (two(&pair.replace("gbit = 400", "gbit = 400\noptics = \"dr4\""), "fat-tree:gpus=64"), &["dci[0].optics", "unknown long-haul module"]),
        (two(pair, "fat-tree:gpus=64,bogus=1"), &["site[1].cluster", "bogus"]),
    ];
    for (text, fragments) in cases {
        let e = file(&text).err().unwrap_or_else(|| panic!("accepted:\n{text}"));
        for frag in fragments {
            assert!(e.contains(frag), "{e:?} lacks {frag:?}\n{text}");
        }
    }
    for (spec, frag) in [
        ("multi-site:optics=dr4", "unknown long-haul module"),
        ("multi-site:site=dgx-h100", "no scale-out network"),
        ("multi-site:gpus=1000,sites=3", "do not split evenly"),
    ] {
        let e = presets::build_preset(spec)
            .err()
            .unwrap_or_else(|| panic!("{spec} accepted"))
            .to_string();
        assert!(e.contains(frag), "{spec}: {e}");
    }
}

#[test]
fn dci_modules_in_the_catalogue() {
    use fabric::catalogue as cat;
    for (alias, id, gbit, watts, reach) in [
        ("zr", "qsfp-dd-400zr", 400.0, 15.0, 120.0),
        ("zr+", "qsfp-dd-400zr-plus", 400.0, 22.5, 1_000.0),
        ("zr+800", "osfp-800zr-plus", 800.0, 30.0, 600.0),
    ] {
        let t = cat::transceiver(alias).unwrap_or_else(|| panic!("{alias}"));
        assert_eq!(t.id, id);
        assert!(close(t.speed.as_gbit(), gbit, 1e-12), "{id}");
        assert!(close(t.power.0, watts, 1e-12), "{id}");
        assert!(t.price.cost().0 > 0.0, "{id}");
        assert_eq!(cat::dci_reach_km(id), Some(reach), "{id}");
    }
    assert_eq!(cat::dci_reach_km("osfp-400g-dr4"), None, "a DR4 is no DCI module");
    assert!(cat::switch_chip(cat::DCI_ROUTER).is_some());
}

#[test]
fn single_site_equivalent_of_a_file() {
    let two = |a: &str, b: &str| {
        format!(
            "name = \"t\"\n[[site]]\nname = \"a\"\ncluster = \"{a}\"\n[[site]]\nname = \"b\"\ncluster = \"{b}\"\n[[dci]]\nbetween = [\"a\", \"b\"]\ndistance_km = 30\ngbit = 800\n"
        )
    };
    let f = file(&two("fat-tree:gpus=64", "fat-tree:gpus=64")).expect("builds");
    assert_eq!(f.extras.single_site_equivalent.as_deref(), Some("fat-tree:gpus=128"));
    let f = file(&two("fat-tree:gpus=64,oversub=2", "fat-tree:oversub=2,gpus=128")).expect("builds");
    assert_eq!(
        f.extras.single_site_equivalent.as_deref(),
        Some("fat-tree:gpus=192,oversub=2")
    );
    // Different presets or parameters: no rule gives one site of the same size.
    let f = file(&two("fat-tree:gpus=64", "rail-optimized:gpus=64")).expect("builds");
    assert_eq!(f.extras.single_site_equivalent, None);
    let f = file(&two("fat-tree:gpus=64,oversub=2", "fat-tree:gpus=64")).expect("builds");
    assert_eq!(f.extras.single_site_equivalent, None);
}
