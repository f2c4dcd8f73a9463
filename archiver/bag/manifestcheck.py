"""Payload and tag manifests: find and parse them, check each line, check tag-manifest coverage.

The manifest half of the validator (:mod:`archiver.bag.validate` composes it with the other
checks). Each line is decoded as the bag's BagIt version says, refused if it points outside the
bag or to the wrong side of ``data/``, and matched to the files the walk found.
"""

from __future__ import annotations

import re
import sys

from archiver.bag.fixity import ALGORITHMS, WEAK_ALGORITHMS, hexdigest_length
from archiver.bag.tagfiles import ManifestLine, excerpt, parse_manifest_line
from archiver.bag.walk import _BagCheck, _Manifest

# Anchors over the tag manifests cannot be listed in them (archiver.attest.anchors verifies them).
ANCHORS_PREFIX = "provenance-anchors/"
MANIFEST_NAME = re.compile(r"^(tag)?manifest-(.+)\.txt$")


class ManifestChecks(_BagCheck):
    """Read every manifest of the bag and check it against the walk."""

    def read_manifests(self) -> None:
        for rel in sorted(f for f in self.walk.files if "/" not in f):
            m = MANIFEST_NAME.match(rel)
            if not m:
                continue
            label = m.group(2)
            normal = re.sub(r"[^a-z0-9]", "", label.lower())
            if normal != label:
                self.add(
                    "manifest-algorithm-name",
                    rel,
                    f"the algorithm should be written {normal!r} (lower case, letters and digits)",
                    "warning",
                )
            algorithm = ALGORITHMS.get(normal)
            if algorithm is None:
                self.add(
                    "manifest-algorithm-unknown",
                    rel,
                    f"unknown algorithm {label!r}: its checksums cannot be verified",
                )
            manifest = _Manifest(rel, "tag" if m.group(1) else "payload", algorithm)
            self.parse_manifest(manifest)
            self.manifests.append(manifest)
        if not self.payload_manifests:
            self.add("payload-manifest-missing", "", "the bag has no manifest-<algorithm>.txt")
        elif all(m.algorithm in WEAK_ALGORITHMS for m in self.payload_manifests):
            self.add(
                "manifest-weak-algorithm",
                "",
                "payload checksums use only MD5/SHA-1; add a SHA-256 or SHA-512 manifest",
                "warning",
            )
        if not self.tag_manifests:
            self.add(
                "tagmanifest-missing",
                "",
                "no tagmanifest: changes to bag-info.txt and manifests go undetected",
                "warning",
            )

    def parse_manifest(self, manifest: _Manifest) -> None:
        """Record each valid line of ``manifest`` in its entries; report every bad line."""
        rel = manifest.rel
        expected_len = hexdigest_length(manifest.algorithm) if manifest.algorithm else None
        for n, text in self.lines(rel):
            line = parse_manifest_line(n, text, rel, self.problems)
            if line is None:
                continue
            path, unsafe = self.resolve(line.raw_path)
            if unsafe:
                self.add("path-unsafe", rel, f"line {n}: {excerpt(line.raw_path)!r}: {unsafe}")
                continue
            if not self._placed_right(manifest, n, path, line):
                continue
            if expected_len is not None and (
                len(line.checksum) != expected_len or not re.fullmatch(r"[0-9a-f]+", line.checksum)
            ):
                self.add(
                    "manifest-checksum-malformed",
                    rel,
                    f"line {n}: {excerpt(line.checksum)!r} is not a {expected_len}-digit hex "
                    "digest",
                )
            self._add_entry(manifest, n, path, line.checksum)

    def _placed_right(self, manifest: _Manifest, n: int, path: str, line: ManifestLine) -> bool:
        """Whether a line's path belongs in this kind of manifest (payload under data/ only)."""
        rel = manifest.rel
        if manifest.kind == "payload" and not path.startswith("data/"):
            if self.bagit.version <= (0, 96) and "/" not in path and path != "data":
                # Allowed up to 0.96 (bagit-java and bagit-python accept it): the tag
                # file's checksum is still checked, it is just in the other manifest.
                self.add(
                    "payload-manifest-lists-tag-file",
                    rel,
                    f"line {n}: lists the tag file {excerpt(path)!r} (allowed before "
                    "BagIt 0.97; checked like any entry)",
                    "warning",
                )
                return True
            self.add(
                "payload-manifest-path-outside-data",
                rel,
                f"line {n}: {excerpt(line.raw_path)!r} is not under data/",
            )
            return False
        if manifest.kind == "tag" and path.startswith("data/"):
            self.add(
                "tagmanifest-lists-payload", rel, f"line {n}: lists payload file {excerpt(path)!r}"
            )
            return False
        if manifest.kind == "tag" and path.startswith("tagmanifest-"):
            self.add(
                "tagmanifest-lists-tagmanifest",
                rel,
                f"line {n}: lists tag manifest {excerpt(path)!r}",
            )
            return False
        return True

    def _add_entry(self, manifest: _Manifest, n: int, path: str, checksum: str) -> None:
        """Add one line's entry, matching Unicode normalization and reporting duplicates."""
        rel = manifest.rel
        if path not in self.walk.files and (alt := self.nfc_match(path)) is not None:
            self.add(
                "path-normalization-mismatch",
                rel,
                f"line {n}: {excerpt(path)!r} matches the file {alt!r} only after Unicode "
                "normalization",
                "warning",
            )
            path = alt
        path = sys.intern(path)  # the walk's string for the same file: held once, not per manifest
        previous = manifest.lines_of(path)
        if not previous:
            manifest.entries[path] = (checksum, n)
        else:
            manifest.more.setdefault(path, []).append((checksum, n))
            same = all(c == checksum for c, _ in previous)
            if self.bagit.version >= (1, 0) or not same:
                self.add(
                    "manifest-duplicate-entry",
                    rel,
                    f"line {n}: {excerpt(path)!r} is listed more than once"
                    + ("" if same else " with different checksums"),
                )
            else:
                self.add(
                    "manifest-duplicate-entry",
                    rel,
                    f"line {n}: {excerpt(path)!r} is listed more than once (same checksum)",
                    "warning",
                )

    def check_tag_manifests(self) -> None:
        tag_manifests = self.tag_manifests
        if not tag_manifests:
            return
        v10 = self.bagit.version >= (1, 0)
        for tm in tag_manifests:
            for pm in self.payload_manifests:
                if pm.rel not in tm.entries:
                    self.add(
                        "tagmanifest-missing-manifest",
                        tm.rel,
                        f"does not list the payload manifest {pm.rel}",
                        "error" if v10 else "warning",
                    )
        listed = set().union(*(set(tm.entries) for tm in tag_manifests))
        for rel in sorted(self.walk.files):
            is_manifest = "/" not in rel and MANIFEST_NAME.match(rel) is not None
            if rel.startswith("data/") or is_manifest:
                continue  # payload manifests are checked above; tag manifests list no manifests
            if rel.startswith(ANCHORS_PREFIX):
                continue  # tokens and signatures attest to the tag manifests: checked by anchors
            if rel not in listed:
                self.add(
                    "tag-file-not-in-tagmanifest",
                    rel,
                    "is not covered by any tag manifest, so changes to it go undetected",
                    "warning",
                )
        sets = {frozenset(tm.entries) for tm in tag_manifests}
        if len(sets) > 1:
            self.add(
                "tagmanifest-sets-differ", "", "the tag manifests list different files", "warning"
            )
