"""Where dataset files are looked for, and how a missing one is downloaded.

Lookup order for a dataset called ``name`` (its folder name, e.g. ``"mnist"``):

1. the ``path`` the caller passed (a folder, or a file handled by the loader);
2. ``$FASTNN_DATA/<name>/`` when the environment variable ``FASTNN_DATA`` is set;
3. ``~/.fastnn/datasets/<name>/``;
4. system folders: ``<d>/<system name>/`` for each ``d`` in ``SYSTEM_DIRS`` (Debian's
   ``dataset-fashion-mnist`` installs to ``/usr/share/datasets/fashion-mnist/``);
5. a download from ``<base url>/<file>`` into the cache folder (``$FASTNN_DATA/<name>/`` if set,
   else ``~/.fastnn/datasets/<name>/``). ``FASTNN_DATASETS_URL``, when set, replaces every base
   URL with ``$FASTNN_DATASETS_URL/<name>/`` (a local mirror, or a test server).

Downloads are checked against a SHA-256 table before they are kept, and written to a temporary
file in the cache folder then renamed with ``os.replace``, so the cache never holds a partial or
unverified file. Files found on disk are not hashed (Debian's files are recompressed, so their
bytes differ from the canonical archives); the parsers check every header and size instead.
"""

import hashlib
import os
import tempfile
import urllib.request

SYSTEM_DIRS = ("/usr/share/datasets", "/usr/local/share/datasets")
DOWNLOAD_TIMEOUT = 60.0  # seconds without data before a download is abandoned
_CHUNK = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are neither on disk nor downloadable."""


class DatasetChecksumError(ValueError):
    """A downloaded file does not have the published SHA-256; it was not kept."""


def home_cache_dir(name):
    return os.path.join(os.path.expanduser("~"), ".fastnn", "datasets", name)


def cache_dir(name):
    """Folder that receives downloads of dataset ``name``."""
    root = os.environ.get("FASTNN_DATA")
    if root:
        return os.path.join(os.path.expanduser(root), name)
    return home_cache_dir(name)


def search_dirs(name, system_names=()):
    """Folders to look in after an explicit path, in priority order (existing or not)."""
    dirs = []
    root = os.environ.get("FASTNN_DATA")
    if root:
        dirs.append(os.path.join(os.path.expanduser(root), name))
    dirs.append(home_cache_dir(name))
    for base in SYSTEM_DIRS:
        for sub in system_names or (name,):
            dirs.append(os.path.join(base, sub))
    return dirs


def base_url(name, default):
    """Download base URL for dataset ``name``, ending with '/'."""
    override = os.environ.get("FASTNN_DATASETS_URL")
    url = f"{override.rstrip('/')}/{name}/" if override else default
    return url if url.endswith("/") else url + "/"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url, dest, sha256):
    """Fetch ``url`` into the file ``dest`` if its SHA-256 equals ``sha256``.

    Raises ``OSError`` (``urllib.error.URLError`` included) when the transfer fails and
    ``DatasetChecksumError`` when the bytes differ; in both cases nothing is left at ``dest``
    nor beside it.
    """
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise ValueError(f"no SHA-256 is known for {os.path.basename(dest)!r} (got {sha256!r}); "
                         "refusing to download an unverifiable file")
    folder = os.path.dirname(dest) or "."
    print(f"Downloading data from {url}", flush=True)
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(dest) + ".",
                                   suffix=".part")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
            got = digest.hexdigest()
            if got != sha256.lower():
                raise DatasetChecksumError(
                    f"downloaded file {url} has SHA-256 {got}, expected {sha256}; "
                    "the file was discarded (damaged transfer or wrong mirror)")
            os.replace(tmp, dest)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def not_found(title, needed, looked_in, name, reason=None):
    """The error raised when a dataset is absent and could not be downloaded."""
    msg = [f"{title} files not found. Needed: {', '.join(needed)}."]
    if looked_in:
        msg.append("Looked in: " + ", ".join(looked_in) + ".")
    if reason:
        msg.append(reason)
    msg.append(f"Put the files in {cache_dir(name)} (or in $FASTNN_DATA/{name}), "
               "or pass path= to load_data.")
    return DatasetNotFoundError(" ".join(msg))
