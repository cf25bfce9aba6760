"""Finding a place for per-session ``pids`` cgroups, and running without one where the machine refuses.

Seen on a GPU host (a Firecracker VM, cgroup v2): the ``pids`` controller is listed at the top, this
process's group is writable, but ``pids`` is not enabled in that group's ``cgroup.subtree_control``, so
a session's group can be made and its ``pids.max`` cannot be written (EACCES). Every kernel then failed
to start and every cell became an infrastructure error. These tests lay out that tree in a temporary
folder (cgroupfs itself cannot be built in a test).
"""

import builtins
import os

import pytest

from cort.executor import cgroup


def _v2_tree(tmp_path, subtree_control: str):
    top = tmp_path / "cgroup"
    base = top / "process_api" / "run-1"
    base.mkdir(parents=True)
    (top / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (base / "cgroup.subtree_control").write_text(subtree_control)
    return top, base


@pytest.fixture
def v2(tmp_path, monkeypatch):
    """A cgroup v2 layout whose base group is ``process_api/run-1``; returns a function taking its subtree_control."""
    real_rmdir = os.rmdir

    def rmdir(path, *args, **kwargs):  # cgroupfs removes a group with its interface files in it
        if str(path).startswith(str(tmp_path)) and os.path.isdir(path):
            for name in os.listdir(path):
                if os.path.isfile(os.path.join(path, name)):
                    os.remove(os.path.join(path, name))
        return real_rmdir(path, *args, **kwargs)

    def make(subtree_control: str):
        top, base = _v2_tree(tmp_path, subtree_control)
        monkeypatch.setattr(cgroup, "_V2_ROOT", str(top))
        monkeypatch.setattr(cgroup, "_v2_base", lambda: str(base))
        monkeypatch.setattr(os, "rmdir", rmdir)
        return base
    return make


def _refuse_pids_max(monkeypatch):
    """Writing a group's pids.max fails as on cgroupfs when the controller is not enabled there."""
    real_open = builtins.open

    def fake_open(path, mode="r", *args, **kwargs):
        if str(path).endswith("pids.max") and "w" in mode:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(cgroup, "open", fake_open, raising=False)


def test_v2_group_without_pids_below_it_is_not_used(v2):
    base = v2("cpu memory\n")
    assert cgroup.pids_root() is None
    assert os.listdir(base) == ["cgroup.subtree_control"]  # nothing was left behind


def test_v2_group_with_pids_below_it_is_used_after_one_capped_probe_group(v2):
    base = v2("cpu pids\n")
    assert cgroup.pids_root() == str(base)
    assert os.listdir(base) == ["cgroup.subtree_control"]  # the probe group was removed


def test_a_cap_that_cannot_be_written_means_no_cgroups_and_no_empty_group_left(v2, monkeypatch):
    base = v2("pids\n")  # says pids, but the machine refuses the cap itself
    _refuse_pids_max(monkeypatch)
    with pytest.raises(PermissionError):
        cgroup.PidsGroup(str(base), 64)
    assert os.listdir(base) == ["cgroup.subtree_control"]
    assert cgroup.pids_root() is None


def test_kernels_start_and_run_cells_where_the_cap_is_refused(v2, monkeypatch):
    """The executor on such a machine: no cgroup root, kernels start, cells run (capped by other means)."""
    from cort.executor import JupyterExecutor

    v2("pids\n")
    _refuse_pids_max(monkeypatch)
    with JupyterExecutor(timeout=10, warm_kernels=1, max_kernels=2) as ex:
        assert ex.pool.cgroup_root is None
        assert ex.run_program("print(6 * 7)").output == "42\n"
        session = ex.open("s")
        assert session.run("x = 5\nprint(x + 1)").output == "6\n"
        ex.close("s")
