"""Raw RESP for the Redis stores: HSETs built column-wise, pipelined HMGETs and their decoding.

On Redis, the views of a request that share a join key live in the same hashes, so a request
is one ``HMGET`` per entity, packed here as raw RESP (redis-py's per-command packing costs more
than Redis answering). One Redis sends them in one pipeline; a cluster routes each to its slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from services.online.answer import Key, StoredColumns, Wanted
from services.online.codec import decode_column, decode_timestamp
from services.online.columnar import bulk_timestamps, encode_bulk, hset_commands, redis_keys_array
from services.online.keys import KeyColumns, field_key, redis_keys, ts_key
from services.reads import ViewRead


@dataclass(frozen=True)
class Group:
    """Views read from the same hashes (same join key and keys): one HMGET per entity."""

    key_columns: KeyColumns
    keys: Sequence[Key]
    members: tuple[int, ...]  # positions in the request's ``wanted``
    fields: bytes  # the HMGET field arguments, RESP-framed
    n_fields: int


def _framed(arg: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


class Hmget:
    """Builds a request's HMGETs and decodes their replies; keeps the framed field lists."""

    def __init__(self, project: str) -> None:
        self.project = project
        self._fields: dict[tuple[int, ...], tuple[tuple[ViewRead, ...], bytes, int]] = {}

    def groups(self, wanted: Wanted) -> list[Group]:
        merged: dict[tuple[KeyColumns, tuple[Key, ...]], list[int]] = {}
        for i, (read, keys) in enumerate(wanted):
            merged.setdefault((read.key_columns, tuple(keys)), []).append(i)
        groups = []
        for (key_columns, keys), members in merged.items():
            reads = tuple(wanted[i][0] for i in members)
            fields, n_fields = self._fields_of(reads)
            groups.append(Group(key_columns, keys, tuple(members), fields, n_fields))
        return groups

    def _fields_of(self, reads: tuple[ViewRead, ...]) -> tuple[bytes, int]:
        """The framed HMGET field arguments of these views, cached by the reads' identity.

        Plans are cached, so the same ``ViewRead`` objects come back on every request; the
        cache keeps them alive, so an id is never reused by another read while cached.
        """
        key = tuple(id(r) for r in reads)
        hit = self._fields.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], reads, strict=True)):
            return hit[1], hit[2]
        if len(self._fields) >= 1024:  # ad-hoc feature lists: keep the cache bounded
            self._fields.clear()
        args = []
        for read in reads:
            args += [field_key(read.view, f.name) for f in read.features]
            args.append(ts_key(read.view).encode())
        blob = b"".join(_framed(a) for a in args)
        self._fields[key] = (reads, blob, len(args))
        return blob, len(args)

    def commands(self, groups: list[Group]) -> tuple[list[bytes], list[bytes]]:
        """The entity keys and one framed HMGET per key, in the groups' order."""
        keys: list[bytes] = []
        commands: list[bytes] = []
        for g in groups:
            head = b"*%d\r\n$5\r\nHMGET\r\n" % (g.n_fields + 2)
            tail = b"\r\n" + g.fields
            for key in redis_keys(self.project, g.key_columns, g.keys):
                keys.append(key)
                commands.append(head + b"$%d\r\n" % len(key) + key + tail)
        return keys, commands

    @staticmethod
    def decode(
        wanted: Wanted, groups: list[Group], replies: list[list[bytes | None]]
    ) -> list[StoredColumns]:
        results: list[StoredColumns] = [([], {}) for _ in wanted]
        at = 0
        for g in groups:
            batch = replies[at : at + len(g.keys)]
            at += len(g.keys)
            start = 0
            for member in g.members:
                read = wanted[member][0]
                stop = start + len(read.features)
                stamps = [decode_timestamp(reply[stop]) for reply in batch]
                values = {
                    f.name: decode_column([reply[start + j] for reply in batch], f.type)
                    for j, f in enumerate(read.features)
                }
                results[member] = (stamps, values)
                start = stop + 1
        return results


def hset_rows(
    project: str, read: ViewRead, rows: pa.RecordBatch | pa.Table
) -> tuple[pa.Array, pa.BinaryArray, Any]:
    """Entity keys, the rows' HSET commands as one binary array, and each command's offsets."""
    keys = redis_keys_array(project, read.key_columns, [rows.column(k.name) for k in read.keys])
    fields = [(ts_key(read.view).encode(), bulk_timestamps(rows.column("event_timestamp")))]
    fields += [
        (field_key(read.view, f.name), encode_bulk(rows.column(f.name), f.type))
        for f in read.features
    ]
    commands, offsets = hset_commands(keys, fields)
    return keys, commands, offsets
