"""`demo --workdir` cleans only a directory a demo created."""

from __future__ import annotations

import pytest

from vitrage_selfheal import paths
from vitrage_selfheal.cli.main import main


def test_a_new_directory_is_created_and_marked(tmp_path):
    workdir = paths.fresh_workdir(tmp_path / "a" / "demo")
    assert [p.name for p in workdir.iterdir()] == [paths.WORKDIR_MARKER]


def test_an_empty_directory_is_used_and_marked(tmp_path):
    paths.fresh_workdir(tmp_path)
    assert (tmp_path / paths.WORKDIR_MARKER).is_file()


def test_a_marked_directory_is_emptied(tmp_path):
    workdir = paths.fresh_workdir(tmp_path / "demo")
    (workdir / "ledger.db").write_text("last run")
    (workdir / "engine").mkdir()
    paths.fresh_workdir(workdir)
    assert [p.name for p in workdir.iterdir()] == [paths.WORKDIR_MARKER]


def test_a_directory_without_the_marker_is_refused_and_kept(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(paths.WorkdirNotOurs, match="no .vitrage-selfheal"):
        paths.fresh_workdir(tmp_path)
    assert (tmp_path / "thesis.tex").read_text() == "years of work"
    assert not (tmp_path / paths.WORKDIR_MARKER).exists()


def test_a_file_or_a_link_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    target = tmp_path / "target"
    paths.fresh_workdir(target)
    (tmp_path / "link").symlink_to(target)
    for name in ("file", "link"):
        with pytest.raises(paths.WorkdirNotOurs):
            paths.fresh_workdir(tmp_path / name)
    assert (tmp_path / "file").read_text() == "x"
    assert (target / paths.WORKDIR_MARKER).is_file()


def test_demo_command_refuses_a_foreign_workdir(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["demo", "--workdir", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert f"refusing to clean {tmp_path}" in err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_cloud_demo_refuses_a_foreign_workdir(tmp_path, monkeypatch):
    pytest.importorskip("openstack")
    from vitrage_selfheal.democloud.run import CloudDemo

    # CloudDemo points the OpenStack SDK at its clouds.yaml for the process.
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", "")
    (tmp_path / "keep.txt").write_text("mine")
    demo = CloudDemo(tmp_path, tmp_path / "clouds.yaml", "fake:/")
    with pytest.raises(paths.WorkdirNotOurs):
        demo.setup()
    assert (tmp_path / "keep.txt").read_text() == "mine"
