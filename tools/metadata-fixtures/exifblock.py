"""A small EXIF (TIFF structure) writer that stores every entry with the type it is given,
so the fixtures can hold what cameras and editors were found to write: signed types (SSHORT,
SLONG, SRATIONAL) where the specification expects unsigned ones, a GPSInfo pointer stored as
SLONG, 0/0 rationals. Used by make_metadata_fixtures.py; the block is embedded by Pillow.

    ifd0 = [Entry(0x010F, ASCII, "Acme"), Entry(0x0112, SSHORT, [6]),
            Entry(0x8825, SLONG, Sub([...gps entries...]))]
    block = build(ifd0, big_endian=True)      # b"MM\\0*..."
"""
import struct

BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE, UNDEFINED, SSHORT, SLONG, SRATIONAL = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


class Sub:
    """An IFD that an entry points to (its value is the IFD's offset)."""
    def __init__(self, entries):
        self.entries = entries


class Entry:
    def __init__(self, tag, type_, value):
        self.tag, self.type, self.value = tag, type_, value


def _pack_values(type_, value, e):
    if type_ == ASCII:
        data = value.encode("utf-8") + b"\0" if isinstance(value, str) else bytes(value)
        return data, len(data)
    if type_ in (UNDEFINED, BYTE) and isinstance(value, (bytes, bytearray)):
        return bytes(value), len(value)
    fmt = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 11: "f", 12: "d", 13: "I"}
    out = b""
    if type_ in (RATIONAL, SRATIONAL):
        for n, d in value:
            out += struct.pack(e + ("II" if type_ == RATIONAL else "ii"), n, d)
    else:
        for v in value:
            out += struct.pack(e + fmt[type_], v)
    return out, len(value)


def build(ifd0, big_endian=True, next_ifds=()):
    """The TIFF block: header, IFD0 (and the IFDs chained after it), sub-IFDs, values."""
    e = ">" if big_endian else "<"
    buf = bytearray(b"MM\0*" if big_endian else b"II*\0") + struct.pack(e + "I", 8)

    def write_ifd(entries, at, next_offset_slot=None):
        # Lay out: count, entries, next pointer, then values and sub-IFDs after.
        entries = sorted(entries, key=lambda x: x.tag)
        n = len(entries)
        table = at
        data_at = at + 2 + 12 * n + 4
        blob = bytearray()
        fixups = []
        packed = []
        for ent in entries:
            if isinstance(ent.value, Sub):
                packed.append((ent, None, 1))
            else:
                data, count = _pack_values(ent.type, ent.value, e)
                packed.append((ent, data, count))
        for ent, data, count in packed:
            if data is not None and len(data) > 4:
                off = data_at + len(blob)
                blob += data + (b"\0" if len(data) % 2 else b"")
                fixups.append((ent, count, struct.pack(e + "I", off)))
            elif data is not None:
                fixups.append((ent, count, data.ljust(4, b"\0")))
            else:
                fixups.append((ent, count, None))
        end = data_at + len(blob)
        subs = []
        for i, (ent, count, val) in enumerate(fixups):
            if val is None:
                sub_at = end + (end % 2)
                subs.append((ent, sub_at))
                end = sub_at + 2 + 12 * len(ent.value.entries) + 4 + 4096  # generous room
                fixups[i] = (ent, 1, struct.pack(e + ("i" if ent.type == SLONG else "I"), sub_at))
        out = bytearray(struct.pack(e + "H", n))
        for ent, count, val in fixups:
            out += struct.pack(e + "HHI", ent.tag, ent.type, count) + val
        out += struct.pack(e + "I", 0)
        out += blob
        return table, out, subs

    layout = {}
    pos = 8

    def place(entries):
        nonlocal pos
        table, out, subs = write_ifd(entries, pos)
        layout[table] = out
        pos = table + len(out)
        for ent, sub_at in subs:
            pos = sub_at
            place(ent.value.entries)
        return table

    first = place(ifd0)
    # Chained IFDs (IFD1...) after everything else.
    prev_table = first
    for entries in next_ifds:
        pos += pos % 2
        t = place(entries)
        # patch the previous IFD's next pointer
        count = struct.unpack(e + "H", layout[prev_table][:2])[0]
        layout[prev_table][2 + 12 * count:2 + 12 * count + 4] = struct.pack(e + "I", t)
        prev_table = t
    size = max(t + len(b) for t, b in layout.items())
    buf += b"\0" * (size - len(buf))
    for t, b in layout.items():
        buf[t:t + len(b)] = b
    return bytes(buf)
