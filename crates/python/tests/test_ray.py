"""A sweep fanned out over a real local Ray cluster (no mock) gives exactly the single-process
result, in CSV and JSON, with its shards run by at least two worker processes."""

import pytest

import fabricsim

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    # A real local cluster: a head with 2 CPUs, so 2 worker processes run shards at once.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.parametrize("as_json", [False, True])
def test_ray_sweep_equals_single_process(cluster, grid_file, as_json):
    single = fabricsim.sweep_text(grid_file, json=as_json)
    workers = []
    merged = fabricsim.ray_sweep(grid_file, num_shards=4, json=as_json, workers=workers)
    assert merged == single
    assert len(workers) == 4
    assert len({pid for _, pid in workers}) >= 2, workers


def test_ray_sweep_frame(cluster, grid_file):
    df = fabricsim.ray_sweep(grid_file, num_shards=3, as_frame=True)
    single = fabricsim.sweep(grid_file)
    assert list(df["point"]) == list(single["point"])
    assert df["step_time_s"].fillna(-1).tolist() == single["step_time_s"].fillna(-1).tolist()


def test_ray_sweep_ships_mixed_cluster_files(cluster, mixed_grid_file):
    # The [[pool]] file's text travels with the grid: the workers need not find it themselves.
    single = fabricsim.sweep_text(mixed_grid_file)
    assert fabricsim.ray_sweep(mixed_grid_file, num_shards=2) == single
