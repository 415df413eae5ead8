"""benchmarks/ab_builds.py: two git revisions timed in turns, each from its own worktree, which it removes after."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "ab_builds.py")


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repository():
    try:
        git("rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout with a commit")


@pytest.mark.slow
def test_times_both_builds_and_removes_its_worktrees(repository):
    before = git("worktree", "list")
    result = subprocess.run([sys.executable, SCRIPT, "HEAD", "HEAD", "--net", "A", "--mode", "predict", "--batch-size",
                             "16", "--images", "32", "--rounds", "2"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("A HEAD: ") and "B/A" in last and last.count("rounds:") == 1
    speeds = [float(part.split()[0]) for part in last.split(": ")[1:3]]
    assert all(speed > 0 for speed in speeds)
    assert git("worktree", "list") == before


@pytest.mark.slow
def test_in_process_imports_both_builds_into_one_process_and_times_each_round(repository):
    before = git("worktree", "list")
    result = subprocess.run([sys.executable, SCRIPT, "HEAD", "HEAD", "--net", "A", "--mode", "predict",
                             "--batch-size", "16", "--images", "32", "--rounds", "3", "--in-process"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    first, last = result.stdout.strip().splitlines()[-2:]
    assert first.endswith("both builds in one process")
    assert last.startswith("A HEAD: ") and " B HEAD: " in last
    assert len(last.split("rounds: ")[1].split(",")) == 3
    assert git("worktree", "list") == before


def test_rejects_a_non_positive_round_count():
    result = subprocess.run([sys.executable, SCRIPT, "HEAD", "HEAD", "--rounds", "0"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 2 and "Received: rounds=0" in result.stderr


def test_rejects_an_unknown_revision_before_checking_anything_out(repository):
    result = subprocess.run([sys.executable, SCRIPT, "HEAD", "no-such-revision"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 2 and "Received: 'no-such-revision'" in result.stderr
