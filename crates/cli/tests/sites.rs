//! `fabricsim topo` on clusters of sites joined over a data-centre interconnect: the example
//! file shows the DCI lines, and a bad `[[dci]]` table exits 2 naming the file and the field.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("run fabricsim")
}

#[test]
fn topo_shows_the_dci() {
    let o = run(&["topo", "examples/two-sites-30km.toml"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for frag in [
        "16384 × NVIDIA H100",
        "switch chip: DCI router",
        "optical transceiver: long-haul (DCI)",
        "512",
        "30 km: each site 15 km from the meeting point",
    ] {
        assert!(out.contains(frag), "lacks {frag:?}:\n{out}");
    }
    let j = run(&["topo", "multi-site:gpus=512,wan_gbit=100", "--json"]);
    assert!(j.status.success());
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    // 100 Gb/s per site: one 400ZR wavelength per site, a module at each end.
    assert_eq!(
        v["optical_transceivers"]["long_haul"], 4,
        "{}",
        v["optical_transceivers"]
    );
}

#[test]
fn unconnected_site_exits_2() {
    let dir = std::env::temp_dir().join(format!("fabricsim-sites-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("three-sites.toml");
    std::fs::write(
        &path,
        "[[site]]\nname = \"a\"\ncluster = \"fat-tree:gpus=64\"\n\
         [[site]]\nname = \"b\"\ncluster = \"fat-tree:gpus=64\"\n\
         [[site]]\nname = \"c\"\ncluster = \"fat-tree:gpus=64\"\n\
         [[dci]]\nbetween = [\"a\", \"b\"]\ndistance_km = 30\ngbit = 3200\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let o = run(&["topo", p]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    for frag in [p, "site[2]", "site `c` is not connected by any `[[dci]]` table"] {
        assert!(e.contains(frag), "{e:?} lacks {frag:?}");
    }
    assert!(!e.contains("panicked"));
    std::fs::remove_dir_all(&dir).ok();
}
