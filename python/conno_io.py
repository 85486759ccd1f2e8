"""conno_io: read and write conno's tables from a Python command stage (numpy only).

conno's stage outputs are Arrow IPC files (Feather v2). This one file, which needs only
numpy (1.24 or 2.x) and Python >= 3.9, reads them and writes tables in conno's schemas, so
a PyTorch (or any) training script can run as a conno command stage::

    import conno_io as cio
    clips = cio.read_table(cio.input_path('features'))     # the upstream 'features' output
    x = clips['features']                                  # float32 [rows, *conno.shape]
    ...
    cio.write_predictions('out/predictions.arrow', clip_id=ids, split=splits, label=labels,
                          logits=logits, classes=classes)

Reading
    read_table(path) -> Table with .num_rows, .column_names, .columns (dict), table[name],
    .types (conno's type names: 'int32', 'fixed_size_list<float32>[4]', ...), .metadata
    (schema metadata, str -> str) and .field_metadata (column -> dict). Column values:
      int32 (any Arrow int)  np.int32 (its dtype) array    float32/float64  np array, null = NaN
      bool                   np.bool_ array                utf8             list of str, null = None
      FixedSizeList<Float32>[n]  float32 [rows, n], or [rows, *shape] when the field metadata
                                 'conno.shape' is a JSON shape whose product is n; null rows = NaN
      List<Float32>          list of 1-D float32 arrays, null = None
    An int or bool column with nulls comes back as a numpy masked array (mask True = null).
    Compressed files, dictionaries, big-endian files and other types are refused with a
    ValueError naming the file and the column. The reader is this module's own, always
    (there is no pyarrow path), so every machine reads a file the same way.

Writing (always this module's own, deterministic writer: the same table gives the same bytes
on every machine and numpy version, as conno's `verify` expects)
    write_table(path, columns, metadata=None): columns is a dict or a list of (name, spec)
    pairs, spec = (type, values) or (type, values, field_metadata); type is one of
      'int32' 'float32' 'float64' 'bool'  1-D values; None (or a masked entry) is a null
      'utf8'              str values; None is a null
      'fixed_size_list'   float32 values [rows, *shape]; field metadata conno.shape = the shape
      'list_float32'      a sequence of 1-D arrays (None is a null)
    A column is nullable exactly when it holds a null. Record batches of 1024 rows, metadata
    keys sorted, written atomically (temp file + os.replace), readable by conno and pyarrow.

conno's tables (schema metadata conno.classes = the class names as JSON)
    write_predictions(path, *, clip_id, split, label, logits, classes, label_orig=None,
                      patch=None, cv_heldout=None, metadata=None)   one row per sample of every split
    write_dynamics(path, *, clip_id, epoch, loss, correct_given, margin, logits, classes,
                   p_given=None, p_orig=None, correct_orig=None, flipped=None, patch=None,
                   metadata=None)        train samples x epochs, epoch-major (checked); optional
                   columns are left out when None (score-difficulty needs only the required ones)
    write_embeddings(path, *, clip_id, split, label, embedding, classes, patch=None, metadata=None)
    write_curves(path, *, epoch, train_acc=None, train_acc_orig=None, flipped_acc_noisy=None,
                 dev_acc=None, best_epoch=None, metadata=None)
    dynamics_from_logits(logits_per_epoch [E, n, K], labels [n]) -> dict of epoch, loss,
        p_given, correct_given, margin, logits, epoch-major [E * n] like conno's train stage:
        write_dynamics(path, clip_id=list(ids) * E, classes=c, **dynamics_from_logits(l, y))

Stage environment
    stage_id() (CONNO_STAGE_ID, None outside conno), item() (CONNO_ITEM: the matrix values),
    inputs(output=None, from_=None) -> [Input(from_, output, path)] (CONNO_INPUTS; from_='train'
    also matches instances 'train@seed=1', ...), input_path(output, from_=None) -> the one path.
"""
import collections
import json
import os
import secrets
import struct

import numpy as np

__all__ = ['Table', 'read_table', 'write_table', 'write_predictions', 'write_dynamics', 'write_embeddings',
           'write_curves', 'dynamics_from_logits', 'stage_id', 'item', 'inputs', 'input_path', 'Input']

RECORD_BATCH_ROWS = 1024  # part of conno's on-disk format
SHAPE_KEY = 'conno.shape'
CLASSES_KEY = 'conno.classes'
_MAGIC = b'ARROW1'
_V5 = 4  # MetadataVersion.V5
# Arrow's Type union (Schema.fbs), for naming what we refuse.
_TYPE_NAMES = ['NONE', 'Null', 'Int', 'FloatingPoint', 'Binary', 'Utf8', 'Bool', 'Decimal', 'Date', 'Time',
               'Timestamp', 'Interval', 'List', 'Struct', 'Union', 'FixedSizeBinary', 'FixedSizeList', 'Map',
               'Duration', 'LargeBinary', 'LargeUtf8', 'LargeList', 'RunEndEncoded', 'BinaryView', 'Utf8View',
               'ListView', 'LargeListView']
_INT, _FLOAT, _UTF8, _BOOL, _LIST, _FSL = 2, 3, 5, 6, 12, 16


def _json(value):
    """JSON as JavaScript's JSON.stringify writes it (no spaces), the form conno stores."""
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False)


# ---------------------------------------------------------------- FlatBuffers, reading

class _FB:
    """A FlatBuffers table at `pos` of `buf`: an int32 back to its vtable, which holds the
    uint16 offset of each field (0 or past the vtable's end = absent, i.e. the default)."""

    def __init__(self, buf, pos):
        if not 0 <= pos <= len(buf) - 4:
            raise ValueError(f'flatbuffer offset {pos} out of range')
        self.buf, self.pos = buf, pos
        self.vt = pos - struct.unpack_from('<i', buf, pos)[0]
        self.vt_len = struct.unpack_from('<H', buf, self.vt)[0] if 0 <= self.vt < len(buf) - 1 else 0

    def _field(self, slot):
        at = 4 + 2 * slot
        return struct.unpack_from('<H', self.buf, self.vt + at)[0] if at < self.vt_len else 0

    def scalar(self, slot, fmt, default=0):
        o = self._field(slot)
        return struct.unpack_from('<' + fmt, self.buf, self.pos + o)[0] if o else default

    def _target(self, slot):  # offset fields hold a uint32 forward from where they are stored
        o = self._field(slot)
        if not o:
            return None
        at = self.pos + o
        return at + struct.unpack_from('<I', self.buf, at)[0]

    def table(self, slot):
        at = self._target(slot)
        return None if at is None else _FB(self.buf, at)

    def string(self, slot):
        at = self._target(slot)
        if at is None:
            return None
        n = struct.unpack_from('<I', self.buf, at)[0]
        return bytes(self.buf[at + 4:at + 4 + n]).decode('utf-8')

    def tables(self, slot):
        at = self._target(slot)
        n = 0 if at is None else struct.unpack_from('<I', self.buf, at)[0]
        return [_FB(self.buf, e + struct.unpack_from('<I', self.buf, e)[0]) for e in range(at + 4, at + 4 + 4 * n, 4)] if n else []

    def structs(self, slot, fmt):
        at = self._target(slot)
        if at is None:
            return []
        n, size = struct.unpack_from('<I', self.buf, at)[0], struct.calcsize('<' + fmt)
        return [struct.unpack_from('<' + fmt, self.buf, at + 4 + i * size) for i in range(n)]


# ---------------------------------------------------------------- reading

class Table:
    """A table read by read_table. Columns keep the file's order."""

    def __init__(self, columns, types, metadata, field_metadata, num_rows):
        self.columns, self.types = columns, types
        self.metadata, self.field_metadata, self.num_rows = metadata, field_metadata, num_rows

    @property
    def column_names(self):
        return list(self.columns)

    def __getitem__(self, name):
        if name not in self.columns:
            raise KeyError(f'no column {name!r} (columns: {", ".join(self.columns)})')
        return self.columns[name]

    def __contains__(self, name):
        return name in self.columns

    def __len__(self):
        return self.num_rows

    def __repr__(self):
        cols = ', '.join(f'{n}: {t}' for n, t in self.types.items())
        return f'<Table {self.num_rows} rows; {cols}>'


def _key_values(fb, slot):
    return {kv.string(0): kv.string(1) or '' for kv in fb.tables(slot)}


class _Field:
    def __init__(self, fb, where):
        self.name = fb.string(0) or ''
        self.meta = _key_values(fb, 6)
        where = f'{where}: column {self.name!r}'
        if fb.table(4) is not None:
            raise ValueError(f'{where} is dictionary-encoded, which conno_io does not read')
        code, t = fb.scalar(2, 'B'), fb.table(3)
        self.size = 0
        if code == _INT and t.scalar(0, 'i') in (8, 16, 32, 64):
            self.dtype = np.dtype(f'<{"i" if t.scalar(1, "?", False) else "u"}{t.scalar(0, "i") // 8}')
            self.kind, self.type = 'int', str(self.dtype.newbyteorder('='))
        elif code == _FLOAT and t.scalar(0, 'h') in (1, 2):
            self.dtype = np.dtype('<f4' if t.scalar(0, 'h') == 1 else '<f8')
            self.kind, self.type = 'float', 'float32' if t.scalar(0, 'h') == 1 else 'float64'
        elif code in (_UTF8, _BOOL):
            self.kind = self.type = 'utf8' if code == _UTF8 else 'bool'
        elif code in (_LIST, _FSL):
            children = [_Field(c, where) for c in fb.tables(5)]
            if len(children) != 1 or children[0].type != 'float32':
                raise ValueError(f'{where} is a list of {", ".join(c.type for c in children)}; conno_io reads lists of float32 only')
            if code == _LIST:
                self.kind, self.type = 'list', 'list<float32>'
            else:
                self.size = t.scalar(0, 'i')
                self.kind, self.type = 'fsl', f'fixed_size_list<float32>[{self.size}]'
        else:
            name = _TYPE_NAMES[code] if code < len(_TYPE_NAMES) else f'#{code}'
            name = {_INT: f'Int({t.scalar(0, "i")} bits)', _FLOAT: 'Float16'}.get(code, name)
            raise ValueError(f'{where} has Arrow type {name}, which conno_io does not read '
                             '(it reads int, float32, float64, bool, utf8, FixedSizeList<Float32>, List<Float32>)')


def read_table(path):
    """Reads the Arrow IPC file `path` into a Table (see the module docstring)."""
    path = os.fspath(path)
    with open(path, 'rb') as f:
        buf = f.read()
    if not buf.startswith(_MAGIC):
        raise ValueError(f'{path} is not an Arrow IPC file')
    if len(buf) < 2 * 8 + 4 or not buf.endswith(_MAGIC):
        raise ValueError(f'{path} is not an Arrow IPC file (truncated: no trailing ARROW1 magic)')
    try:
        return _read(buf, path)
    except (struct.error, IndexError, StopIteration, UnicodeError, OverflowError, AttributeError, TypeError, ValueError) as e:
        if isinstance(e, ValueError) and str(e).startswith(path):
            raise
        raise ValueError(f'{path}: damaged Arrow IPC file ({e})') from e


def _read(buf, path):
    # The file ends: footer flatbuffer, its int32 length, ARROW1.
    at = len(buf) - 10 - struct.unpack_from('<i', buf, len(buf) - 10)[0]
    if not 8 <= at < len(buf) - 10:
        raise ValueError(f'{path}: damaged Arrow IPC file (bad footer length)')
    footer = _FB(buf, at + struct.unpack_from('<I', buf, at)[0])
    schema = footer.table(1)
    if schema is None:
        raise ValueError(f'{path}: the footer has no schema')
    if schema.scalar(0, 'h') != 0:
        raise ValueError(f'{path} is big-endian, which conno_io does not read')
    fields = [_Field(fb, path) for fb in schema.tables(1)]
    if footer.structs(2, 'qi4xq'):
        raise ValueError(f'{path} has dictionary batches, which conno_io does not read')
    parts = {f.name: [] for f in fields}
    num_rows = 0
    for offset, meta_len, body_len in footer.structs(3, 'qi4xq'):
        # A message: 0xFFFFFFFF, int32 length, the Message flatbuffer (older files: no 0xFFFFFFFF).
        prefix = 8 if struct.unpack_from('<i', buf, offset)[0] == -1 else 4
        root = offset + prefix
        message = _FB(buf, root + struct.unpack_from('<I', buf, root)[0])
        batch = message.table(2)
        if message.scalar(1, 'B') != 3 or batch is None:
            raise ValueError(f'{path}: block at byte {offset} is not a record batch')
        if batch.table(3) is not None:
            raise ValueError(f'{path} is compressed, which conno_io does not read (write it uncompressed)')
        body_at = offset + meta_len
        if body_at + body_len > len(buf):
            raise ValueError(f'{path}: record batch at byte {offset} runs past the end of the file')
        body = memoryview(buf)[body_at:body_at + body_len]
        nodes, buffers = iter(batch.structs(1, 'qq')), iter(batch.structs(2, 'qq'))
        length = batch.scalar(0, 'q')
        for f in fields:
            values, valid = _read_column(f, nodes, buffers, body, f'{path}: column {f.name!r}')
            if len(values) != length:
                raise ValueError(f'{path}: column {f.name!r} has {len(values)} rows in a batch of {length}')
            parts[f.name].append((values, valid))
        num_rows += length
    columns = {f.name: _concat(f, parts[f.name]) for f in fields}
    return Table(columns, {f.name: f.type for f in fields}, _key_values(schema, 2),
                 {f.name: f.meta for f in fields}, num_rows)


def _read_column(field, nodes, buffers, body, where):
    """One column of one record batch -> (values, validity or None). Buffers are read where
    the message says they are, so any alignment and padding is fine."""
    length, null_count = next(nodes)

    def take(dtype, count, buffer=None):  # a buffer as `count` items of `dtype` (a native-order copy)
        offset, size = buffer or next(buffers)
        dtype = np.dtype(dtype)
        if count * dtype.itemsize > size or offset + size > len(body):
            raise ValueError(f'{where}: a buffer is shorter than its {count} values')
        return np.frombuffer(body, dtype, count, offset).astype(dtype.newbyteorder('='))

    def bits(count, buffer=None):  # a bitmap, least significant bit first
        return np.unpackbits(take('u1', (count + 7) // 8, buffer), bitorder='little')[:count].astype(bool)

    validity = next(buffers)  # size 0 when nothing is null
    valid = bits(length, validity) if null_count and validity[1] else None
    if field.kind in ('int', 'float'):
        return take(field.dtype, length), valid
    if field.kind == 'bool':
        return bits(length), valid
    offsets = take('<i4', length + 1) if field.kind in ('utf8', 'list') else None
    if field.kind == 'utf8':
        start, size = next(buffers)
        data = bytes(body[start:start + size])
        return [data[a:b].decode('utf-8') for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())], valid
    # A list: its own buffers (above), then the float32 child's node and buffers.
    values, child_valid = _read_column(_FLOAT32, nodes, buffers, body, where)
    if child_valid is not None:
        values[~child_valid] = np.nan
    if field.kind == 'list':
        return [values[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())], valid
    return values[:length * field.size].reshape(length, field.size), valid


_FLOAT32 = collections.namedtuple('_Child', 'kind dtype')('float', np.dtype('<f4'))


def _concat(field, parts):
    """A column's batches as one column (the module docstring says how nulls read)."""
    valid = None
    if any(ok is not None for _, ok in parts):
        valid = np.concatenate([np.ones(len(v), bool) if ok is None else ok for v, ok in parts])
    if field.kind in ('utf8', 'list'):
        out = [v for values, _ in parts for v in values]
        return out if valid is None else [v if ok else None for v, ok in zip(out, valid.tolist())]
    if field.kind == 'fsl':
        values = np.concatenate([v for v, _ in parts]) if parts else np.zeros((0, field.size), np.float32)
        if valid is not None:
            values[~valid] = np.nan
        try:
            shape = json.loads(field.meta.get(SHAPE_KEY, 'null'))
        except ValueError:
            shape = None  # a foreign or damaged shape is no reason to refuse the data
        if isinstance(shape, list) and shape and all(type(d) is int and d > 0 for d in shape) and int(np.prod(shape)) == field.size:
            values = values.reshape((len(values), *shape))
        return values
    values = np.concatenate([v for v, _ in parts]) if parts else np.zeros(0, getattr(field, 'dtype', bool))
    if valid is None:
        return values
    if field.kind == 'float':
        values[~valid] = np.nan
        return values
    return np.ma.MaskedArray(values, mask=~valid)


# ---------------------------------------------------------------- FlatBuffers, writing
#
# Objects are laid out front to back: a table's vtable, then the table, then whatever it
# points at (FlatBuffers offsets must point forward; a table's signed offset to its vtable
# may point back). Every scalar is aligned to its size, as FlatBuffers verifiers check.

def _table(*fields):  # fields: (slot, struct format, or 'o' for an offset to a child object, value)
    return ('table', [f for f in fields if f[2] is not None])


def _str(text):
    return ('str', text.encode('utf-8'))


def _vec(items):  # a vector of tables or strings
    return ('vec', list(items))


def _structs(fmt, items):  # a vector of structs packed with `fmt` (Arrow's hold longs: 8-aligned)
    return ('structs', fmt, list(items))


def _pad(out, align, shift=0):
    out.extend(bytes(-(len(out) + shift) % align))


def _emit(out, obj):
    """Appends `obj` (and what it points at) to bytearray `out`; returns where it starts."""
    what, *rest = obj
    if what == 'str':
        _pad(out, 4)
        at = len(out)
        out += struct.pack('<I', len(rest[0])) + rest[0] + b'\0'
        return at
    if what == 'structs':
        _pad(out, 8, 4)  # the elements after the uint32 length start 8-aligned
        at = len(out)
        out += struct.pack('<I', len(rest[1])) + b''.join(struct.pack('<' + rest[0], *i) for i in rest[1])
        return at
    if what == 'vec':
        _pad(out, 4)
        at = len(out)
        out += struct.pack('<I', len(rest[0])) + bytes(4 * len(rest[0]))
        for i, child in enumerate(rest[0]):
            slot = at + 4 + 4 * i
            struct.pack_into('<I', out, slot, _emit(out, child) - slot)
        return at
    # A table: fields inline after its int32 vtable offset, largest first, each aligned to its size.
    fields = rest[0]
    sizes = [4 if f == 'o' else struct.calcsize('<' + f) for _, f, _ in fields]
    order = sorted(range(len(fields)), key=lambda i: (-sizes[i], fields[i][0]))
    inline, size = {}, 4
    for i in order:
        size += -size % sizes[i]
        inline[i], size = size, size + sizes[i]
    align = max([4] + sizes)
    size += -size % align
    slots = max([f[0] for f in fields], default=-1) + 1
    vtable = [0] * slots
    for i, (slot, _, _) in enumerate(fields):
        vtable[slot] = inline[i]
    _pad(out, 2)
    vt_at = len(out)
    out += struct.pack(f'<{2 + slots}H', 4 + 2 * slots, size, *vtable)
    _pad(out, align)
    at = len(out)
    out += struct.pack('<i', at - vt_at) + bytes(size - 4)
    children = []
    for i, (_, fmt, value) in enumerate(fields):
        if fmt == 'o':
            children.append((at + inline[i], value))
        else:
            struct.pack_into('<' + fmt, out, at + inline[i], value)
    for slot, child in children:
        struct.pack_into('<I', out, slot, _emit(out, child) - slot)
    return at


def _flatbuffer(root):
    out = bytearray(4)
    struct.pack_into('<I', out, 0, _emit(out, root))
    return bytes(out)


# ---------------------------------------------------------------- writing

class _Col:
    """A validated column: `values` is an array ('<i4', '<f4', '<f8', bool, '<f4' [rows, n]) or a
    list (utf8 as bytes, list_float32 as '<f4' arrays); `valid` a bool array or None (no nulls)."""

    def __init__(self, name, kind, values, valid, meta):
        self.name, self.kind, self.values, self.valid, self.meta = name, kind, values, valid, meta


def _nulls(values, where, fill=0):
    """(values with nulls as `fill`, validity or None). Nulls are None, or masked entries."""
    if isinstance(values, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(values)
        return values.filled(fill), (~mask if mask.any() else None)
    if isinstance(values, np.ndarray) and values.dtype != object:
        return values, None
    if not hasattr(values, '__len__') or isinstance(values, (str, bytes)):
        raise ValueError(f'{where}: values must be a sequence, not {type(values).__name__}')
    values = list(values)
    valid = np.array([v is not None for v in values], bool)
    if valid.all():
        return values, None
    return [v if ok else fill for v, ok in zip(values, valid)], valid


def _numbers(values, where, kinds='iuf'):
    arr = np.asarray(values)
    if arr.dtype.kind not in kinds and arr.size:
        raise ValueError(f'{where}: expected {"bool" if kinds == "b" else "number"} values, got {arr.dtype}')
    if arr.ndim != 1:
        raise ValueError(f'{where}: expected one value per row, got an array of shape {arr.shape}')
    return arr


def _column(name, spec, where):
    if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
        raise ValueError(f'{where}: the spec must be (type, values) or (type, values, field_metadata)')
    kind, values = spec[0], spec[1]
    meta = dict(spec[2]) if len(spec) == 3 and spec[2] else {}
    if kind in ('int32', 'float32', 'float64', 'bool'):
        values, valid = _nulls(values, where, False if kind == 'bool' else 0)
        if kind == 'bool':
            return _Col(name, kind, _numbers(values, where, 'b').astype(bool), valid, meta)
        arr = _numbers(values, where)
        if kind == 'int32':
            bad = ~np.isfinite(arr) | (arr != np.round(arr)) if arr.dtype.kind == 'f' else np.zeros(len(arr), bool)
            with np.errstate(invalid='ignore'):
                bad |= (arr < -2 ** 31) | (arr > 2 ** 31 - 1)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise ValueError(f'{where}: row {row} value {arr[row]} is not an int32')
        with np.errstate(over='ignore'):  # non-finite floats are allowed
            return _Col(name, kind, arr.astype({'int32': '<i4', 'float32': '<f4', 'float64': '<f8'}[kind]), valid, meta)
    if kind == 'utf8':
        values, valid = _nulls(values, where, '')
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise ValueError(f'{where}: row {i} is {type(v).__name__}, not str')
        return _Col(name, kind, [v.encode('utf-8') for v in values], valid, meta)
    if kind == 'fixed_size_list':
        arr = np.asarray(values)
        if arr.dtype.kind not in 'iuf' or arr.ndim < 2 or 0 in arr.shape[1:]:
            raise ValueError(f'{where}: fixed_size_list values must be numbers [rows, ...], got {arr.dtype} {arr.shape}')
        shape = [int(d) for d in arr.shape[1:]]
        meta[SHAPE_KEY] = _json(shape)  # as conno writes it, e.g. "[64,128]"
        with np.errstate(over='ignore'):
            return _Col(name, kind, np.ascontiguousarray(arr.reshape(len(arr), int(np.prod(shape))), '<f4'), None, meta)
    if kind == 'list_float32':
        values, valid = _nulls(values, where, ())
        rows = []
        for i, v in enumerate(values):
            a = np.ascontiguousarray(v, '<f4')
            if a.ndim != 1:
                raise ValueError(f'{where}: row {i} has shape {a.shape}; list_float32 rows are 1-D')
            rows.append(a)
        return _Col(name, kind, rows, valid, meta)
    raise ValueError(f'{where}: unknown type {kind!r} (int32, float32, float64, bool, utf8, fixed_size_list, list_float32)')


def _prepare(path, columns):
    pairs = list(columns.items()) if isinstance(columns, dict) else list(columns)
    cols, first = [], None
    for pair in pairs:
        name, spec = pair
        where = f'{path}: column {name!r}'
        if not isinstance(name, str) or any(c.name == name for c in cols):
            raise ValueError(f'{where}: column names must be distinct strings')
        col = _column(name, spec, where)
        if first is not None and len(col.values) != len(first.values):
            raise ValueError(f'{path}: column {name!r} has {len(col.values)} rows but column {first.name!r} has {len(first.values)}')
        first = first or col
        cols.append(col)
    return cols


def _sorted_meta(meta, where):
    for k, v in meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ValueError(f'{where}: metadata keys and values must be str ({k!r}: {v!r})')
    # Sorted by UTF-16 code units, as conno's JS writer sorts them.
    return [_table((0, 'o', _str(k)), (1, 'o', _str(meta[k]))) for k in sorted(meta, key=lambda k: k.encode('utf-16-be'))]


def _field(col, path):
    f32 = _table((0, 'h', 1))  # FloatingPoint(SINGLE)
    item = _table((0, 'o', _str('item')), (1, '?', False), (2, 'B', _FLOAT), (3, 'o', f32), (5, 'o', _vec([])))
    code, type_ = {
        'int32': (_INT, _table((0, 'i', 32), (1, '?', True))),
        'float32': (_FLOAT, f32),
        'float64': (_FLOAT, _table((0, 'h', 2))),
        'bool': (_BOOL, _table()),
        'utf8': (_UTF8, _table()),
        'fixed_size_list': (_FSL, _table((0, 'i', col.values.shape[-1] if col.kind == 'fixed_size_list' else 0))),
        'list_float32': (_LIST, _table()),
    }[col.kind]
    meta = _sorted_meta(col.meta, f'{path}: column {col.name!r}')
    return _table((0, 'o', _str(col.name)), (1, '?', col.valid is not None), (2, 'B', code), (3, 'o', type_),
                  (5, 'o', _vec([item] if code in (_FSL, _LIST) else [])), (6, 'o', _vec(meta) if meta else None))


def _batch(cols, start, stop, path):
    """(nodes, buffers, body) of rows [start, stop): each buffer 8-byte padded in the body."""
    nodes, buffers, body = [], [], bytearray()

    def put(data):
        buffers.append((len(body), len(data)))
        body.extend(data)
        _pad(body, 8)

    def bitmap(flags):
        return np.packbits(flags, bitorder='little').tobytes()

    for c in cols:
        n, valid = stop - start, None if c.valid is None else c.valid[start:stop]
        nulls = 0 if valid is None else int(n - valid.sum())
        nodes.append((n, nulls))
        put(bitmap(valid) if nulls else b'')
        values = c.values[start:stop]
        if c.kind in ('int32', 'float32', 'float64'):
            put(values.tobytes())
        elif c.kind == 'bool':
            put(bitmap(values))
        elif c.kind == 'fixed_size_list':
            nodes.append((values.size, 0))
            put(b'')
            put(values.tobytes())
        else:
            lengths = [len(v) for v in values]
            offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
            if offsets[-1] > 2 ** 31 - 1:
                raise ValueError(f'{path}: column {c.name!r}: more than 2 GiB in one record batch')
            put(offsets.astype('<i4').tobytes())
            if c.kind == 'utf8':
                put(b''.join(values))
            else:
                nodes.append((int(offsets[-1]), 0))
                put(b'')
                put(b''.join(v.tobytes() for v in values))
    return nodes, buffers, bytes(body)


def _message(header_type, header, body_len):
    """An encapsulated message: 0xFFFFFFFF, int32 length, the flatbuffer padded to 8 bytes."""
    fb = _flatbuffer(_table((0, 'h', _V5), (1, 'B', header_type), (2, 'o', header), (3, 'q', body_len)))
    fb += bytes(-len(fb) % 8)
    return struct.pack('<Ii', 0xFFFFFFFF, len(fb)) + fb


def write_table(path, columns, metadata=None):
    """Writes `columns` (see the module docstring) to the Arrow IPC file `path`, atomically."""
    path = os.fspath(path)
    _write(path, _prepare(path, columns), metadata)


def _write(path, cols, metadata):
    rows = len(cols[0].values) if cols else 0
    schema = _table((0, 'h', 0), (1, 'o', _vec(_field(c, path) for c in cols)),
                    (2, 'o', _vec(_sorted_meta(metadata, path)) if metadata else None))
    out = bytearray(_MAGIC + b'\0\0')
    out += _message(1, schema, 0)
    blocks = []
    for start in range(0, rows, RECORD_BATCH_ROWS):
        stop = min(rows, start + RECORD_BATCH_ROWS)
        nodes, buffers, body = _batch(cols, start, stop, path)
        meta = _message(3, _table((0, 'q', stop - start), (1, 'o', _structs('qq', nodes)), (2, 'o', _structs('qq', buffers))), len(body))
        blocks.append((len(out), len(meta), len(body)))
        out += meta + body
    out += struct.pack('<Ii', 0xFFFFFFFF, 0)  # end-of-stream, for readers of the stream part
    footer = _flatbuffer(_table((0, 'h', _V5), (1, 'o', schema), (2, 'o', _structs('qi4xq', [])),
                                (3, 'o', _structs('qi4xq', blocks))))
    out += footer + struct.pack('<i', len(footer)) + _MAGIC
    tmp = f'{path}.tmp-{os.getpid()}-{secrets.token_hex(4)}'
    try:
        with open(tmp, 'wb') as f:
            f.write(out)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# ---------------------------------------------------------------- conno's tables

def _classes(classes, path, logits=None):
    classes = list(classes)
    if not classes or not all(isinstance(c, str) for c in classes):
        raise ValueError(f'{path}: classes must be a non-empty list of str')
    if logits is not None and list(np.shape(logits)[1:]) != [len(classes)]:
        raise ValueError(f"{path}: column 'logits' has shape {list(np.shape(logits))}, not [rows, {len(classes)}] for {len(classes)} classes")
    return {CLASSES_KEY: _json(classes)}


def _optional(*columns):
    return [(n, spec) for n, spec in columns if spec[1] is not None]


def write_predictions(path, *, clip_id, split, label, logits, classes, label_orig=None, patch=None,
                      cv_heldout=None, metadata=None):
    """conno's predictions: one row per sample of every split (train, test, test@snr=..., ...)."""
    path = os.fspath(path)
    meta = {**(metadata or {}), **_classes(classes, path, logits)}
    write_table(path, _optional(('clip_id', ('utf8', clip_id)), ('split', ('utf8', split)), ('label', ('int32', label)),
                                ('label_orig', ('int32', label if label_orig is None else label_orig)),
                                ('patch', ('int32', patch)), ('logits', ('fixed_size_list', logits)),
                                ('cv_heldout', ('bool', cv_heldout))), meta)


def write_embeddings(path, *, clip_id, split, label, embedding, classes, patch=None, metadata=None):
    """conno's embeddings: one row per sample, embedding float32 [rows, D]."""
    path = os.fspath(path)
    meta = {**(metadata or {}), **_classes(classes, path)}
    write_table(path, _optional(('clip_id', ('utf8', clip_id)), ('split', ('utf8', split)), ('label', ('int32', label)),
                                ('patch', ('int32', patch)), ('embedding', ('fixed_size_list', embedding))), meta)


def write_dynamics(path, *, clip_id, epoch, loss, correct_given, margin, logits, classes, p_given=None,
                   p_orig=None, correct_orig=None, flipped=None, patch=None, metadata=None):
    """conno's training dynamics: one row per (train sample, epoch), epoch-major: epoch 0's
    samples, then epoch 1's in the same order, ... (checked: a ValueError names the first row
    that breaks it). Optional columns are left out when None."""
    path = os.fspath(path)
    meta = {**(metadata or {}), **_classes(classes, path, logits)}
    cols = _prepare(path, _optional(
        ('clip_id', ('utf8', clip_id)), ('patch', ('int32', patch)), ('epoch', ('int32', epoch)), ('loss', ('float32', loss)),
        ('p_given', ('float32', p_given)), ('correct_given', ('bool', correct_given)), ('p_orig', ('float32', p_orig)),
        ('correct_orig', ('bool', correct_orig)), ('margin', ('float32', margin)), ('flipped', ('bool', flipped)),
        ('logits', ('fixed_size_list', logits))))
    by = {c.name: c for c in cols}
    # What conno's score-difficulty checks: n = rows of epoch 0; row j has epoch j // n and row j % n's clip.
    epochs, rows = by['epoch'].values, len(by['epoch'].values)
    n = int((epochs == 0).sum())
    if rows and (n == 0 or rows % n):
        raise ValueError(f'{path}: {rows} rows are not whole epochs of the {n} rows of epoch 0')
    ids = np.array(by['clip_id'].values, object)
    at = np.arange(rows) % max(n, 1)
    bad = (epochs != np.arange(rows) // max(n, 1)) | (ids != ids[at])
    if 'patch' in by:
        bad |= by['patch'].values != by['patch'].values[at]
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f'{path}: row {j} breaks the epoch-major order (epoch {epochs[j]}, clip {ids[j].decode()!r}; '
                         f'expected epoch {j // n}, clip {ids[j % n].decode()!r})')
    _write(path, cols, meta)


def write_curves(path, *, epoch, train_acc=None, train_acc_orig=None, flipped_acc_noisy=None, dev_acc=None,
                 best_epoch=None, metadata=None):
    """conno's learning curves: one row per epoch; conno.best_epoch when best_epoch is given."""
    meta = dict(metadata or {})
    if best_epoch is not None:
        meta['conno.best_epoch'] = str(int(best_epoch))
    write_table(path, _optional(('epoch', ('int32', epoch)), ('train_acc', ('float64', train_acc)),
                                ('train_acc_orig', ('float64', train_acc_orig)),
                                ('flipped_acc_noisy', ('float64', flipped_acc_noisy)), ('dev_acc', ('float64', dev_acc))), meta)


def dynamics_from_logits(logits_per_epoch, labels):
    """Training dynamics as conno's train stage records them, from logits [E, n, K] and the
    given labels [n]: a dict of epoch-major [E * n] columns epoch (int32), loss (cross-entropy
    on the given label, -log max(p, 1e-7)), p_given, correct_given (argmax == label, the first
    maximum winning), margin (logit[label] - max other logit; 0 when K = 1), and logits
    [E * n, K], ready for write_dynamics(**...). Computed in float64 from the float32 logits."""
    logits = np.asarray(logits_per_epoch, np.float32)
    labels = np.asarray(labels)
    if logits.ndim != 3 or labels.shape != logits.shape[1:2]:
        raise ValueError(f'dynamics_from_logits: logits {logits.shape} must be [epochs, n, K] for labels {labels.shape} [n]')
    e, n, k = logits.shape
    if n and (labels.dtype.kind not in 'iu' or labels.min() < 0 or labels.max() >= k):
        raise ValueError(f'dynamics_from_logits: labels must be class indices in [0, {k})')
    z = logits.reshape(e * n, k).astype(np.float64)
    y = np.tile(labels.astype(np.int64), e)
    rows = np.arange(e * n)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p_given = p[rows, y]
    other = z.copy()
    other[rows, y] = -np.inf
    margin = z[rows, y] - other.max(axis=1) if k > 1 else np.zeros(e * n)
    return {'epoch': np.repeat(np.arange(e, dtype=np.int32), n), 'loss': (-np.log(np.maximum(p_given, 1e-7))).astype(np.float32),
            'p_given': p_given.astype(np.float32), 'correct_given': z.argmax(axis=1) == y,
            'margin': margin.astype(np.float32), 'logits': logits.reshape(e * n, k)}


# ---------------------------------------------------------------- the stage's environment

Input = collections.namedtuple('Input', 'from_ output path')


def stage_id():
    """This stage instance's id (CONNO_STAGE_ID, e.g. 'train@seed=1'); None outside conno."""
    return os.environ.get('CONNO_STAGE_ID')


def item():
    """This instance's matrix values (CONNO_ITEM); {} when it has none."""
    return json.loads(os.environ.get('CONNO_ITEM') or '{}')


def inputs(output=None, from_=None):
    """The upstream outputs this stage sees (CONNO_INPUTS), optionally only those named `output`
    and from stage `from_` (an instance id, or a stage name matching all its instances)."""
    found = [Input(i['from'], i['output'], i['path']) for i in json.loads(os.environ.get('CONNO_INPUTS') or '[]')]
    return [i for i in found if (output is None or i.output == output)
            and (from_ is None or i.from_ == from_ or i.from_.startswith(from_ + '@'))]


def input_path(output, from_=None):
    """The path of the one upstream output named `output` (from `from_`); ValueError otherwise."""
    found = inputs(output, from_)
    if len(found) != 1:
        what = f'output {output!r}' + ('' if from_ is None else f' from {from_!r}')
        have = ', '.join(f'{i.from_}:{i.output}' for i in inputs()) or 'none (is CONNO_INPUTS set?)'
        raise ValueError(f'{len(found)} inputs match {what}; this stage has {have}')
    return found[0].path
