"""Download the official NATS-Bench archives from their public location, unpack them and convert them.

Where the files come from: the "Preparation and Download" table of D-X-Y/NATS-Bench's README (read at
commit 00201cc9d0f0eccf21c3abbffd4872905f0df66c) links the 2020.08.31 archives
`NATS-tss-v1_0-3ffb9-simple.tar` (Google Drive file 17_saCsj_krKjlCBLOJEpNtzPXArMCqxU) and
`NATS-sss-v1_0-50262-simple.tar` (file 1scOMTUwcQhAMa_IMedp9lTzwmgqHLGgA), inside the shared folder
https://drive.google.com/drive/folders/1zjB6wMANiKwB2A1yil2hQ8H_qyeSe2yt. Google Drive may refuse
scripted downloads (quota, sign-in pages); the error then says what to download by hand and where
to put it.
"""

from __future__ import annotations

import shutil
import tarfile
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from greenmachine.benchmark.convert import convert_official
from greenmachine.benchmark.official import official_files
from greenmachine.errors import DataNotFoundError, GreenmachineError
from greenmachine.files import atomic_open

PAGE = "https://github.com/D-X-Y/NATS-Bench#preparation-and-download"


def archive_url(space: str) -> str:
    """Return the direct-download URL of the official `*-simple.tar` archive of `space`."""
    return f"https://drive.usercontent.google.com/download?id={official_files(space).drive_id}&export=download&confirm=t"


def manual_url(space: str) -> str:
    """Return the Google Drive page of the official `*-simple.tar` archive of `space` (for a browser)."""
    return f"https://drive.google.com/file/d/{official_files(space).drive_id}/view"


def unpack(archive: str | Path, dest: str | Path, space: str) -> Path:
    """Unpack an official `*-simple.tar` into `dest` and return the official folder it holds.

    Refuses members that would land outside `dest` (tarfile's `data` filter); raises
    DataNotFoundError if the file is no tar archive or does not hold the expected folder.
    """
    folder_name = official_files(space).folder
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise DataNotFoundError(f"{archive} is not a readable tar archive ({exc}); download {folder_name}.tar "
                                f"again from {manual_url(space)} (listed at {PAGE})") from exc
    folder = dest / folder_name
    if not (folder / "meta.pickle.pbz2").is_file():
        raise DataNotFoundError(f"{archive} does not hold {folder_name}/meta.pickle.pbz2; is it the {space} archive?")
    return folder


def download(url: str, path: Path) -> Path:
    """Download `url` to `path` with a progress bar, through a temporary file; return `path`.

    Raises OSError (network, HTTP) or GreenmachineError when the server sends something other than a
    tar archive (Google Drive answers refusals with an HTML page).
    """
    with urllib.request.urlopen(url, timeout=60) as response, atomic_open(path) as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {path.name}") as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))
        out.flush()
        if not tarfile.is_tarfile(out.name):  # the temporary file: the target is replaced only by an archive
            raise GreenmachineError(f"the server sent {out.tell()} bytes that are not a tar archive "
                                    "(a quota or sign-in page?)")
    return path


def fetch_official(space: str, dest: str | Path, data_dir: str | Path, progress: bool = True) -> Path:
    """Download (unless already there), unpack and convert the official files of `space`; return the table's path.

    Args:
        space: a space with official NATS-Bench files (`nats_tss`, `nats_sss`).
        dest: where the archive `<folder>.tar` and the unpacked official folder go; an archive already
            there is used as is (this is where to put one downloaded by hand).
        data_dir: the data folder the compact table is written into (`<data_dir>/<space>/accuracies_long.csv.gz`).
        progress: show progress bars.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / f"{official_files(space).folder}.tar"
    if not archive.is_file():
        try:
            download(archive_url(space), archive)
        except (OSError, GreenmachineError) as exc:
            raise DataNotFoundError(
                f"could not download {archive.name} ({exc}). Download it by hand from {manual_url(space)} "
                f"(listed at {PAGE}), put it at {archive} and run `greenmachine fetch space={space}` again") from exc
    if shutil.disk_usage(dest).free < 4 * archive.stat().st_size:
        raise GreenmachineError(f"too little free disk under {dest} to unpack {archive.name} "
                                f"({archive.stat().st_size / 1e9:.1f} GB packed; about 4x that is needed)")
    return convert_official(space, unpack(archive, dest, space), data_dir, progress=progress)
