"""Download the official NATS-Bench archives from their public location, unpack them and convert them.

The URLs are the `*-simple.tar` archives listed in D-X-Y/NATS-Bench's README (Google Drive, 2020.08.31).
"""

from __future__ import annotations

import shutil
import tarfile
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from greenmachine.benchmark.convert import convert_official
from greenmachine.benchmark.official import FOLDERS
from greenmachine.errors import DataNotFoundError, GreenmachineError

DRIVE_IDS = {"nats_tss": "17_saCsj_krKjlCBLOJEpNtzPXArMCqxU", "nats_sss": "1scOMTUwcQhAMa_IMedp9lTzwmgqHLGgA"}
PAGE = "https://github.com/D-X-Y/NATS-Bench#preparation-and-download"


def archive_url(space: str) -> str:
    """Return the direct-download URL of the official `*-simple.tar` archive of `space`."""
    return f"https://drive.usercontent.google.com/download?id={DRIVE_IDS[space]}&export=download&confirm=t"


def unpack(archive: str | Path, dest: str | Path, space: str) -> Path:
    """Unpack an official `*-simple.tar` into `dest` and return the official folder it holds.

    Refuses members that would land outside `dest`; raises DataNotFoundError if the archive does not
    hold the expected folder.
    """
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise DataNotFoundError(f"{archive} is not a readable tar archive ({exc}); download "
                                f"{FOLDERS[space]}.tar again from {PAGE}") from exc
    folder = dest / FOLDERS[space]
    if not (folder / "meta.pickle.pbz2").is_file():
        raise DataNotFoundError(f"{archive} does not hold {FOLDERS[space]}/meta.pickle.pbz2; is it the {space} archive?")
    return folder


def download(url: str, path: Path) -> Path:
    """Download `url` to `path` with a progress bar (through a temporary file); return `path`."""
    tmp = path.with_suffix(path.suffix + ".part")
    with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=path.name) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))
    tmp.replace(path)
    return path


def fetch_official(space: str, dest: str | Path, data_dir: str | Path) -> Path:
    """Download, unpack and convert the official files of `space`; return the compact table's path.

    Args:
        space: `nats_tss` or `nats_sss`.
        dest: where the archive and the unpacked official folder go.
        data_dir: the data folder the compact table is written into.
    """
    if space not in DRIVE_IDS:
        raise GreenmachineError(f"unknown space {space!r}; valid: {', '.join(DRIVE_IDS)}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / f"{FOLDERS[space]}.tar"
    if not archive.is_file():
        try:
            download(archive_url(space), archive)
        except OSError as exc:
            raise DataNotFoundError(
                f"could not download {FOLDERS[space]}.tar ({exc}). Download it by hand from {PAGE}, put it at "
                f"{archive} and run `greenmachine fetch space={space}` again") from exc
    if shutil.disk_usage(dest).free < 4 * archive.stat().st_size:
        raise GreenmachineError(f"too little free disk under {dest} to unpack {archive.name}")
    return convert_official(space, unpack(archive, dest, space), data_dir)
