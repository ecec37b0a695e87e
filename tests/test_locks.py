"""Locks between processes: claims are exclusive, free again when their process dies, and leave no file behind."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from greenmachine.locks import Claim, file_lock


def test_a_claim_is_exclusive_and_its_file_goes_with_it(tmp_path):
    path = tmp_path / "claims" / "7.lock"
    first = Claim.take(path)
    assert first is not None and Claim.take(path) is None  # a second descriptor counts as another process
    first.release()
    assert not path.exists()
    again = Claim.take(path)
    assert again is not None
    again.release()


def test_a_claim_whose_process_died_is_free(tmp_path):
    path = tmp_path / "7.lock"
    code = "import os, sys; from greenmachine.locks import Claim; Claim.take(sys.argv[1]); os._exit(0)"
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
    assert path.exists()
    claim = Claim.take(path)
    assert claim is not None
    claim.release()


def test_a_folder_this_user_may_only_read_is_read_under_a_shared_lock(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args):  # what a read-only cache folder answers (root is never refused)
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    (tmp_path / "existing.lock").touch()
    monkeypatch.setattr(os, "open", read_only)
    with file_lock(tmp_path / ".lock", shared=True):  # no lock file yet, and none can be made: read anyway
        pass
    with file_lock(tmp_path / "existing.lock", shared=True):
        pass
    with pytest.raises(PermissionError):
        with file_lock(tmp_path / ".lock"):  # an exclusive lock is for writers: they need the right to write
            pass
