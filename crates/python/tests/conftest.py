import pytest

# A small grid of both kinds: 2 fabrics x 2 plans x 2 sizes of training, 2 x 2 x 3 collectives,
# one failing point (a plan whose TP does not divide the heads).
GRID = """
[[train]]
clusters = ["fat-tree:gpus=64", "rail-only:gpus=64"]
models = ["llama-3.1-8b"]
gpus = [32, 64]
plans = [{ tp = 8, pp = 1 }, { tp = 4, pp = 2 }, { tp = 3 }]
seq = 4096
gbs = 64
fidelity = "analytical"

[[collective]]
clusters = ["fat-tree:gpus=64", "rail-only:gpus=64"]
ops = ["all_reduce", "all_to_all"]
ranks = [16]
sizes = ["1M", "16M", "256M"]
fidelity = "flow"
"""


@pytest.fixture
def grid_file(tmp_path):
    p = tmp_path / "grid.toml"
    p.write_text(GRID)
    return p


# A mixed-accelerator cluster written as a file of [[pool]] tables, named by a grid by a
# relative path (read from the working directory, as the CLI reads it).
POOLS = """# two pools
[[pool]]
name = "h100"
node = "dgx-h100"
gpus = 64
[[pool]]
name = "a100"
node = "dgx-a100"
gpus = 64
[pool_link]
kind = "rdma"
"""

MIXED_GRID = """
[[train]]
clusters = ["pools.toml"]
pool_shares = [0.25, 0.75]
models = ["llama-3.1-8b"]
plans = [{ tp = 8, pp = 4 }]
mixed_balance = ["pp", "dp"]
seq = 4096
gbs = 64
fidelity = "analytical"
"""


@pytest.fixture
def mixed_grid_file(tmp_path, monkeypatch):
    (tmp_path / "pools.toml").write_text(POOLS)
    p = tmp_path / "grid.toml"
    p.write_text(MIXED_GRID)
    monkeypatch.chdir(tmp_path)
    return p
