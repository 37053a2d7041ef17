"""The Python package: topo, collective, train, sweep and merge return what the CLI prints."""

import json
import os
import shutil
import subprocess

import pytest

import fabricsim
from conftest import POOLS

CLI = os.environ.get("FABRICSIM_BIN") or shutil.which("fabricsim")


def cli(*args):
    if CLI is None:
        pytest.skip("no fabricsim binary (set FABRICSIM_BIN)")
    return subprocess.run([CLI, *args], check=True, capture_output=True, text=True).stdout


def test_topo_is_the_cli_json():
    t = fabricsim.topo("dgx-h100-superpod:su=1")
    assert t["schema_version"] == fabricsim.SCHEMA_VERSION
    assert t["accelerators"]["count"] == 248
    if CLI:
        assert t == json.loads(cli("topo", "dgx-h100-superpod:su=1", "--json"))


def test_train_is_the_cli_json():
    r = fabricsim.train(cluster="fat-tree:gpus=64", model="llama-3.1-8b", tp=4, pp=2, seq=4096, gbs=64,
                        fidelity="analytical")
    assert r["plan"]["tp"] == 4 and r["plan"]["pp"] == 2 and r["plan"]["dp"] == 8
    assert 0 < r["mfu"] < 1 and r["step_time_s"] > 0
    if CLI:
        c = json.loads(cli("train", "--cluster", "fat-tree:gpus=64", "--model", "llama-3.1-8b", "--tp", "4",
                           "--pp", "2", "--seq", "4096", "--gbs", "64", "--fidelity", "analytical", "--json"))
        assert r == c


def test_train_default_scenario_and_errors():
    with pytest.raises(ValueError, match="unknown field `tpp`"):
        fabricsim.train(tpp=4)
    with pytest.raises(ValueError, match="unknown model `gpt-9`"):
        fabricsim.train(model="gpt-9")


def test_collective_dict_and_frame():
    r = fabricsim.collective("dgx-h100", "all_reduce", sizes=["1M", 1 << 30], fidelity="analytical")
    assert [row["size_bytes"] for row in r["rows"]] == [1 << 20, 1 << 30]
    if CLI:
        c = json.loads(cli("collective", "--cluster", "dgx-h100", "--op", "all_reduce", "--size", "1G",
                           "--fidelity", "analytical", "--json"))
        assert r["rows"][1] == c["rows"][0]
    df = fabricsim.collective("dgx-h100", "all_gather", sizes=["1M", "1G"], as_frame=True)
    assert list(df["size_bytes"]) == [1 << 20, 1 << 30]
    assert (df["busbw_bytes_per_s"] > 0).all()
    with pytest.raises(ValueError, match="op"):
        fabricsim.collective("dgx-h100", "all_mix", sizes=[8])


def test_sweep_frame_text_and_merge(grid_file):
    n, fingerprint = fabricsim.grid_points(grid_file)
    assert n == 2 * 2 * 3 + 2 * 2 * 3
    df = fabricsim.sweep(grid_file)
    assert list(df["point"]) == list(range(n))
    assert (df["grid_fingerprint"] == fingerprint).all()
    assert df.loc[df["plan"] == "tp=3", "error"].notna().all()
    ok = df[df["error"].isna()]
    assert len(ok) == n - 4
    assert (ok[ok["kind"] == "train"]["step_time_s"] > 0).all()
    assert (ok[ok["kind"] == "collective"]["time_s"] > 0).all()
    for as_json in (False, True):
        whole = fabricsim.sweep_text(grid_file, json=as_json)
        parts = [fabricsim.sweep_text(grid_file, shard=f"{i}/4", json=as_json, threads=1) for i in range(4)]
        assert fabricsim.merge(parts[::-1]) == whole
        with pytest.raises(ValueError, match="missing"):
            fabricsim.merge(parts[:3])
        if CLI:
            assert cli("sweep", str(grid_file), *(["--json"] if as_json else [])) == whole


def test_sweep_reads_mixed_cluster_files(mixed_grid_file):
    # The grid names a [[pool]] file: its content is in the points and the fingerprint, as the CLI has it.
    n, fingerprint = fabricsim.grid_points(mixed_grid_file)
    assert n == 4
    assert fabricsim._native.grid_cluster_files(mixed_grid_file.read_text(), "grid.toml") == {
        "pools.toml": (mixed_grid_file.parent / "pools.toml").read_text()
    }
    df = fabricsim.sweep(mixed_grid_file)
    assert df["error"].isna().all(), list(df["error"])
    assert (df["efficiency_vs_ideal_fraction"] > 0).all()
    whole = fabricsim.sweep_text(mixed_grid_file)
    parts = [fabricsim.sweep_text(mixed_grid_file, shard=f"{i}/3", threads=1) for i in range(3)]
    assert fabricsim.merge(parts) == whole
    if CLI:
        assert cli("sweep", str(mixed_grid_file)) == whole
    # Texts given for the files replace the working directory's: another pool size, another grid.
    other = fabricsim._native.grid_points(
        mixed_grid_file.read_text(), "grid.toml", {"pools.toml": POOLS.replace("gpus = 64", "gpus = 32", 1)}
    )
    assert other[1] != fingerprint
    (mixed_grid_file.parent / "pools.toml").unlink()
    with pytest.raises(ValueError, match="pools.toml"):
        fabricsim.grid_points(mixed_grid_file)


def test_plan_is_the_cli_json():
    r = fabricsim.plan("fat-tree:gpus=64", "llama-3.1-8b", seq=4096, gbs=64, fidelity="analytical", top=3)
    assert r["schema_version"] == fabricsim.SCHEMA_VERSION
    assert 1 <= len(r["plans"]) <= 3
    best = r["plans"][0]
    assert best["step_time_s"] > 0 and 0 < best["mfu"] < 1
    assert best["plan"]["tp"] * best["plan"]["pp"] * best["plan"]["dp"] * best["plan"]["cp"] == 64
    times = [p["step_time_s"] for p in r["plans"]]
    assert times == sorted(times)
    if CLI:
        c = json.loads(cli("plan", "--cluster", "fat-tree:gpus=64", "--model", "llama-3.1-8b", "--seq", "4096",
                           "--gbs", "64", "--fidelity", "analytical", "--top", "3", "--json"))
        assert r == c
    with pytest.raises(ValueError):
        fabricsim.plan("fat-tree:gpus=64", "no-such-model", seq=4096, gbs=64)


def test_serve_is_the_cli_json():
    args = dict(cluster="hgx:gpu=h100", model="llama-3.1-8b", tp=1, concurrency=8, duration="5s")
    r = fabricsim.serve(**args)
    assert r["schema_version"] == fabricsim.SCHEMA_VERSION
    assert r["output_tokens_per_s_per_accel"] > 0
    assert set(r["ttft_s"]) == {"mean", "p10", "p50", "p90", "p99"}
    if CLI:
        c = json.loads(cli("serve", "--cluster", "hgx:gpu=h100", "--model", "llama-3.1-8b", "--tp", "1",
                           "--concurrency", "8", "--duration", "5s", "--json"))
        assert r == c
    with pytest.raises(ValueError, match="unknown field `tpp`"):
        fabricsim.serve(tpp=2)
