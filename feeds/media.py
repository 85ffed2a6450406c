"""Enclosures: a post's ``enclosure`` made whole, its length and type read from the site's
own file when the URL points into the site.

Pure: the file sizes come from a function the caller passes (the pipeline reads the
output folder, where ``site.base_url`` is served from).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import unquote, urljoin, urlsplit

from feeds.config import SiteConfig
from feeds.model import Enclosure, Post, Problem, Source
from feeds.site import permalink

#: MIME type by file suffix, for enclosures whose type is not given: a fixed table, so
#: the feeds do not depend on the machine's /etc/mime.types
MEDIA_TYPES: dict[str, str] = {
    ".aac": "audio/aac",
    ".epub": "application/epub+zip",
    ".flac": "audio/flac",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".m4a": "audio/mp4",
    ".m4b": "audio/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
    ".oga": "audio/ogg",
    ".ogg": "audio/ogg",
    ".ogv": "video/ogg",
    ".opus": "audio/opus",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".wav": "audio/wav",
    ".webm": "video/webm",
    ".webp": "image/webp",
}

#: types written for media that are no registered MIME type, and the registered one
UNREGISTERED_TYPES: dict[str, str] = {
    "audio/mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
    "audio/m4a": "audio/mp4",
    "audio/x-m4a": "audio/mp4",
    "video/mp4v": "video/mp4",
}

#: the size in bytes of a file under the output folder (a ``/``-separated relative path),
#: or None when there is no such regular file
SizeOf = Callable[[str], "int | None"]


@dataclass(frozen=True)
class Attached:
    """Posts with their enclosures made whole, and what went wrong."""

    #: every post whose enclosure (if any) could be made whole, in the given order
    posts: tuple[Post, ...]
    #: an error per post left out (its enclosure file is missing, or its length or type
    #: unknown), and warnings
    problems: tuple[Problem, ...]


def local_path(site: SiteConfig, url: str) -> str | None:
    """The path under the output folder that an absolute ``url`` names, when it lies under
    ``site.base_url`` (query and fragment ignored); None for a URL elsewhere.

    ValueError when it is under the base URL but names no file there: a folder, or a path
    climbing out of it.
    """
    base = urlsplit(site.base_url)
    parts = urlsplit(url)
    if (parts.scheme.lower(), parts.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()):
        return None
    if not parts.path.startswith(base.path):
        return None
    rel = unquote(parts.path[len(base.path) :])
    segments = rel.split("/")
    if not rel or rel.endswith("/") or any(s in ("", ".", "..") for s in segments):
        raise ValueError(f"{url} names no file under the site's folder")
    return posixpath.join(*segments)


def attach_enclosures(
    posts: Sequence[Post],
    sources: Mapping[str, Source],
    site: SiteConfig,
    size_of: SizeOf,
    folder_name: str,
) -> Attached:
    """Give each post the enclosure its source names, made whole.

    A URL relative to the post's page, or absolute under ``site.base_url``, names a file
    in the output folder (``folder_name`` names it in messages): its size is the length
    (a different length in front matter draws a warning) and its suffix gives the type
    unless one is written. Elsewhere, length and type must be written. A post whose
    enclosure cannot be made whole is left out with an error at the ``enclosure`` line.
    """
    kept: list[Post] = []
    problems: list[Problem] = []
    for post in posts:
        source = sources[post.path]
        given = source.enclosure
        if given is None:
            kept.append(post)
            continue
        page = permalink(site, post.slug, post.path, post.published)
        url = urljoin(page, given.url)

        def fail(message: str, path: str = post.path, line: int | None = given.line) -> None:
            problems.append(Problem("error", "bad-enclosure", message, path, line))

        try:
            rel = local_path(site, url)
        except ValueError as e:
            fail(f"'enclosure.url': {e}")
            continue
        length, mime = given.length, given.type
        if rel is not None:
            size = size_of(rel)
            if size is None:
                fail(
                    f"enclosure file {folder_name}/{rel} not found (an enclosure URL on this "
                    f"site names a file in {folder_name}/, where site.base_url is served from)"
                )
                continue
            if length is not None and length != size:
                problems.append(
                    Problem(
                        "warning",
                        "enclosure-length",
                        f"'enclosure.length' is {length} but {folder_name}/{rel} has {size} "
                        "bytes; using the file's size",
                        post.path,
                        given.line,
                    )
                )
            length = size
            mime = mime or MEDIA_TYPES.get(posixpath.splitext(rel)[1].lower())
            if mime is None:
                fail(f"cannot tell the type of {rel} from its name: give 'enclosure.type'")
                continue
        else:
            missing = [name for name, v in (("length", length), ("type", mime)) if v is None]
            if missing:
                fail(
                    f"'enclosure' needs {' and '.join(repr(m) for m in missing)}: {url} is not "
                    "on this site, so it cannot be read from the file"
                )
                continue
        assert length is not None and mime is not None
        if rel is not None and length == 0:
            problems.append(
                Problem(
                    "warning",
                    "enclosure-empty",
                    f"{folder_name}/{rel} is empty (0 bytes)",
                    post.path,
                    given.line,
                )
            )
        usual = UNREGISTERED_TYPES.get(mime.lower())
        if usual is not None:
            problems.append(
                Problem(
                    "warning",
                    "enclosure-type",
                    f"'enclosure.type' {mime} is not a registered type; podcast apps "
                    f"expect {usual}",
                    post.path,
                    given.line,
                )
            )
        kept.append(replace(post, enclosure=Enclosure(url=url, length=length, type=mime)))
    return Attached(tuple(kept), tuple(problems))


#: the side, in pixels, of the square cover art Apple asks of a show: at least, at most
COVER_SIDES = (1400, 3000)
#: how much of the cover art's file tells its size (a JPEG's Exif block comes first)
COVER_HEAD = 256 * 1024


def cover_problems(image: str, rel: str, head: bytes | None, folder_name: str) -> list[Problem]:
    """Warnings for a podcast's cover art on this site (``rel`` under the output folder,
    ``head`` its file's first :data:`COVER_HEAD` bytes, or None when there is no such
    file): podcast apps show no art they cannot fetch, and Apple refuses a show whose art
    is not a square JPEG or PNG of 1,400 to 3,000 pixels."""
    where = f"{folder_name}/{rel}"

    def warn(message: str) -> list[Problem]:
        return [Problem("warning", "podcast-image", f"'podcast.image' {image}: {message}")]

    if head is None:
        return warn(
            f"{where} not found (podcast apps would show no cover art; put it there, where "
            "site.base_url is served from)"
        )
    size = image_size(head)
    if size is None:
        return warn(f"{where} is not a JPEG or PNG image")
    width, height = size
    low, high = COVER_SIDES
    if width != height or not low <= width <= high:
        return warn(
            f"{where} is {width}x{height} pixels; podcast directories ask for a square of "
            f"{low:,} to {high:,}"
        )
    return []


def image_size(head: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG image from its first bytes; None if they do not
    say (another format, or the JPEG's size lies further on)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if not head.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 9 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers with no length
            at += 2
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            # A frame header: length, precision, then height and width.
            return int.from_bytes(head[at + 7 : at + 9], "big"), int.from_bytes(
                head[at + 5 : at + 7], "big"
            )
        else:
            at += 2 + int.from_bytes(head[at + 2 : at + 4], "big")
    return None
