"""A dry run of torch's weights-only unpickler that allocates nothing (issue 18).

``torch.load(weights_only=True)`` never runs code from a file, but it does what the file asks
within its allow-list: ``builtins.bytearray(4·10⁹)``, ``torch.FloatTensor(10⁹)``, a quantized
tensor of any declared size, a dict key made of 2⁴⁰ shared tuples (hashing it never ends).
:func:`scan_pickle` interprets the same opcodes on stand-in values first, so each of those is
refused with one line before torch sees the file, and the objects created, the size of hashed
keys and integer widths stay within :mod:`.budgets`. Storage references (``BINPERSID``) are
handed to a callback that checks them against the archive's real records.

It mirrors ``torch/_weights_only_unpickler.py`` (protocol 2, as ``torch.save`` writes):
anything that unpickler would refuse is refused here too, with a plainer message.
"""

from __future__ import annotations

import _compat_pickle
import struct

from grokviz.core.importers import budgets


class PickleRefused(Exception):
    """The pickle asks for something grokviz will not do; ``str()`` is the one-line reason.
    ``malformed``: the bytes are not a well-formed pickle at all (rather than a refused request)."""

    def __init__(self, message: str, malformed: bool = False):
        super().__init__(message)
        self.malformed = malformed


class _Global:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _Node:
    """A mutable container or an object made by the pickle (tuples are plain tuples). ``n``:
    entries; ``key_tree``: the largest hashing cost of an entry (for ``set(list)``)."""

    __slots__ = ("kind", "n", "key_tree", "nbytes")

    def __init__(self, kind: str):
        self.kind = kind
        self.n = 0
        self.key_tree = 1
        self.nbytes = 0


class _Blob:
    """A long string or bytes: only its length matters."""

    __slots__ = ("length",)

    def __init__(self, length: int):
        self.length = length


_TENSOR_REBUILDERS = frozenset(
    "torch._utils." + name
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter", "_rebuild_parameter_with_state")
)
_REFUSED_REBUILDERS = {
    "torch._utils._rebuild_qtensor": "a quantized tensor",
    "torch._utils._rebuild_sparse_tensor": "a sparse tensor",
    "torch._utils._rebuild_meta_tensor_no_storage": "a meta tensor (a shape without data)",
    "torch._utils._rebuild_nested_tensor": "a nested tensor",
    "torch._utils._rebuild_wrapper_subclass": "a tensor subclass",
    "torch._utils._rebuild_device_tensor_from_numpy": "a tensor rebuilt from a device copy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": "a tensor rebuilt from a device copy",
}
_PLAIN_TENSOR_TYPES = frozenset({"torch.Tensor", "torch.nn.parameter.Parameter"})
_CONTAINER_CALLS = {"builtins.set": "set", "collections.Counter": "dict", "collections.OrderedDict": "dict"}
_NEW_OBJECTS = frozenset({"torch.nn.parameter.Parameter", "collections.OrderedDict", "collections.Counter", "builtins.set"})
_PROTOCOL_4_OPS = frozenset(b"\x8c\x8d\x8e\x90\x91\x92\x93\x94\x95\x96\x97\x98")
_BYTES_OPS = frozenset(b"BCT")


def _storage_element_sizes() -> dict:
    import torch

    sizes = {"torch.UntypedStorage": 1, "torch.storage.UntypedStorage": 1}
    for dtype, name in torch.storage._dtype_to_storage_type_map().items():
        sizes[f"torch.{name}"] = torch._utils._element_size(dtype)
    return sizes


def _torch_allowed() -> frozenset | None:
    """Global names torch's weights-only unpickler allows by default (None: unknown here, so
    torch decides; the calls this scan allows are a fixed list either way)."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        return frozenset(_get_allowed_globals())
    except (ImportError, AttributeError):
        return None


_CACHE: dict = {}


def _tables():
    if not _CACHE:
        _CACHE["elements"] = _storage_element_sizes()
        _CACHE["allowed"] = _torch_allowed()
    return _CACHE["elements"], _CACHE["allowed"]


_TENSOR, _SCALAR, _SIZE, _BYTES = (_Node(kind) for kind in ("tensor", "scalar", "size", "bytes"))


def _tuple_tree(value: tuple, cache: dict, limit: int) -> int:
    """Entries of tuple ``value`` counting shared parts once per use (what ``hash`` walks),
    saturating just past ``limit``; ``cache`` (id → (tuple, count)) keeps each tuple alive."""
    known = cache.get(id(value))
    if known is not None:
        return known[1]
    total = 1
    for item in value:
        total += _tuple_tree(item, cache, limit) if type(item) is tuple else 1
        if total > limit:
            total = limit + 1
            break
    cache[id(value)] = (value, total)
    return total


def _short(value) -> str:
    if type(value) is _Global:
        return value.name
    if type(value) is _Node:
        return f"a {value.kind}"
    if type(value) is tuple:
        return f"a {len(value)}-tuple"
    if type(value) is _Blob:
        return f"a {value.length}-character string"
    if isinstance(value, int) and value.bit_length() > 64:
        return f"a {value.bit_length()}-bit integer"
    return repr(value)[:40]


def scan_pickle(data, start: int = 0, *, storage=None, extra_classes=frozenset(), extra_functions=frozenset(),
                wide_ints=frozenset()):
    """Interpret the pickle in ``data[start:]`` on stand-ins; return ``(top value, end offset)``.

    ``storage(key, nbytes, pid)`` is called for each storage reference (a missing callback
    refuses them); ``extra_classes``/``extra_functions`` are names the caller will allow torch to
    build (the TransformerLens config fallback); ``wide_ints`` are integers allowed past
    ``MAX_INT_BITS`` (the legacy format's 77-bit magic number). Raises :class:`PickleRefused`.
    """
    elements, allowed = _tables()
    max_objects, max_key, max_bits = budgets.MAX_PICKLE_OBJECTS, budgets.MAX_KEY_NODES, budgets.MAX_INT_BITS
    end = len(data)
    pos = start
    stack: list = []
    metastack: list = []
    memo: dict = {}
    objects = 0
    unpack_from = struct.unpack_from
    trees: dict = {}

    def refuse(message: str):
        raise PickleRefused(message)

    def malformed(what: str = "a malformed pickle"):
        raise PickleRefused(f"not a valid torch file ({what})", malformed=True)

    def need(count: int):
        if pos + count > end:
            malformed("it ends too early")

    def pop_mark():
        nonlocal stack
        items = stack
        if not metastack:
            malformed()
        stack = metastack.pop()
        return items

    def tree(value) -> int:
        if type(value) is not tuple:
            return 1
        try:
            return _tuple_tree(value, trees, max_key)
        except RecursionError:  # nested thousands deep: far past any budget
            return max_key + 1

    def refuse_key():
        refuse(
            f"a dict key or set element is built from more than {max_key:,} shared parts "
            f"(limit budgets.MAX_KEY_NODES): hashing it would take unbounded time"
        )

    def check_key(key):
        if type(key) is tuple and tree(key) > max_key:
            refuse_key()

    def check_global(name: str):
        if allowed is None or name in allowed or name in extra_classes or name in extra_functions:
            return
        refuse(f"not a plain-data torch file: it asks to import {name[:120]}, which grokviz refuses")

    def call(func, args):
        """The stand-in result of ``func(*args)`` (REDUCE), or a refusal."""
        nonlocal objects
        if type(func) is not _Global:
            refuse(f"not a plain-data torch file: it asks to call {_short(func)}, which grokviz refuses")
        name = func.name
        items = args if type(args) is tuple else None
        if items is None:
            refuse("not a valid torch file (a call without an argument tuple)")
        if name in _TENSOR_REBUILDERS:
            return _TENSOR
        if name in _REFUSED_REBUILDERS:
            refuse(f"holds {_REFUSED_REBUILDERS[name]}; run files hold plain dense tensors only")
        if name == "torch._tensor._rebuild_from_type_v2":
            if len(items) < 3 or type(items[1]) is not _Global or items[1].name not in _PLAIN_TENSOR_TYPES:
                refuse(f"holds a tensor of type {_short(items[1]) if len(items) > 1 else '?'}; run files hold plain tensors only")
            inner_args = items[2]
            return call(items[0], inner_args)
        if name == "builtins.bytearray":
            first = items[0] if items else b""
            if isinstance(first, int):
                if first > end:
                    refuse(f"asks to allocate a {first:,}-byte bytearray, more than the whole file holds")
            return _BYTES
        if name in _CONTAINER_CALLS:
            source = items[0] if items else None
            node = _Node(_CONTAINER_CALLS[name])
            if type(source) is _Node:
                objects += source.n
                node.n = source.n
                if source.key_tree > max_key:
                    refuse_key()
            return node
        if name in ("builtins.complex", "_codecs.encode", "torch.device", "torch.serialization._get_layout"):
            return _SCALAR
        if name == "torch.Size":
            return _SIZE
        if name in extra_functions:
            return _SCALAR
        refuse(f"not a plain-data torch file: it asks to call {name[:120]}, which grokviz refuses")

    try:
        while True:
            op = data[pos]
            pos += 1
            objects += 1
            if objects > max_objects:
                refuse(f"its pickle creates more than {max_objects:,} objects (limit budgets.MAX_PICKLE_OBJECTS)")
            if op == 0x72:  # LONG_BINPUT
                if not stack:
                    malformed()
                memo[unpack_from("<I", data, pos)[0]] = stack[-1]
                pos += 4
            elif op == 0x68:  # BINGET
                index = data[pos]
                pos += 1
                if index not in memo:
                    malformed()
                stack.append(memo[index])
            elif op == 0x4B:  # BININT1
                stack.append(data[pos])
                pos += 1
            elif op == 0x28:  # MARK
                metastack.append(stack)
                stack = []
            elif op == 0x58:  # BINUNICODE
                (length,) = unpack_from("<I", data, pos)
                pos += 4
                need(length)
                if length <= 256:
                    try:
                        stack.append(str(data[pos : pos + length], "utf-8", "surrogatepass"))
                    except UnicodeDecodeError:
                        malformed("unrecognised content")
                else:
                    stack.append(_Blob(length))
                pos += length
            elif op == 0x74:  # TUPLE
                items = tuple(pop_mark())  # pop_mark rebinds stack: call it first
                stack.append(items)
            elif op == 0x52:  # REDUCE
                if len(stack) < 2:
                    malformed()
                args = stack.pop()
                stack[-1] = call(stack[-1], args)
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x51:  # BINPERSID
                if not stack:
                    malformed()
                pid = stack.pop()
                items = pid if type(pid) is tuple else ()
                if len(items) < 5 or items[0] != "storage" or type(items[1]) is not _Global:
                    refuse("not a valid torch file (a malformed storage reference)")
                element = elements.get(items[1].name)
                key, numel = items[2], items[4]
                if element is None or not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
                    refuse(f"not a valid torch file (a storage reference of type {_short(items[1])})")
                if storage is None:
                    refuse("not a valid torch file (a storage reference outside the tensor data)")
                node = _Node("storage")
                node.nbytes = numel * element
                storage(key, node.nbytes, items)
                stack.append(node)
            elif op in (0x85, 0x86, 0x87):  # TUPLE1..3
                count = op - 0x84
                if len(stack) < count:
                    malformed()
                items = tuple(stack[-count:])
                del stack[-count:]
                stack.append(items)
            elif op == 0x4D:  # BININT2
                stack.append(unpack_from("<H", data, pos)[0])
                pos += 2
            elif op == 0x71:  # BINPUT
                memo[data[pos]] = stack[-1] if stack else malformed()
                pos += 1
            elif op == 0x4A:  # BININT
                stack.append(unpack_from("<i", data, pos)[0])
                pos += 4
            elif op == 0x7D:  # EMPTY_DICT
                stack.append(_Node("dict"))
            elif op == 0x75:  # SETITEMS
                items = pop_mark()
                if not stack or type(stack[-1]) is not _Node or stack[-1].kind != "dict" or len(items) % 2:
                    malformed()
                for key in items[::2]:
                    check_key(key)
                stack[-1].n += len(items) // 2
                objects += len(items)
            elif op == 0x47:  # BINFLOAT
                stack.append(unpack_from(">d", data, pos)[0])
                pos += 8
            elif op == 0x5D:  # EMPTY_LIST
                stack.append(_Node("list"))
            elif op == 0x65:  # APPENDS
                items = pop_mark()
                if not stack or type(stack[-1]) is not _Node or stack[-1].kind != "list":
                    malformed()
                target = stack[-1]
                target.n += len(items)
                objects += len(items)
                for item in items:
                    if type(item) is tuple and tree(item) > target.key_tree:
                        target.key_tree = tree(item)
            elif op == 0x61:  # APPEND
                if len(stack) < 2 or type(stack[-2]) is not _Node or stack[-2].kind != "list":
                    malformed()
                item = stack.pop()
                target = stack[-1]
                target.n += 1
                if type(item) is tuple and tree(item) > target.key_tree:
                    target.key_tree = tree(item)
            elif op == 0x73:  # SETITEM
                if len(stack) < 3 or type(stack[-3]) is not _Node or stack[-3].kind != "dict":
                    malformed()
                stack.pop()
                check_key(stack.pop())
                stack[-1].n += 1
            elif op == 0x4E:  # NONE
                stack.append(None)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x8F:  # EMPTY_SET
                stack.append(_Node("set"))
            elif op == 0x63:  # GLOBAL
                line_end = data.find(b"\n", pos, min(end, pos + 512))
                second = data.find(b"\n", line_end + 1, min(end, line_end + 512)) if line_end >= 0 else -1
                if second < 0:
                    malformed()
                try:
                    module = str(data[pos:line_end], "utf-8")
                    name = str(data[line_end + 1 : second], "utf-8")
                except UnicodeDecodeError:
                    malformed("unrecognised content")
                pos = second + 1
                if (module, name) in _compat_pickle.NAME_MAPPING:
                    module, name = _compat_pickle.NAME_MAPPING[(module, name)]
                elif module in _compat_pickle.IMPORT_MAPPING:
                    module = _compat_pickle.IMPORT_MAPPING[module]
                full = f"{module}.{name}"
                check_global(full)
                stack.append(_Global(full))
            elif op == 0x81:  # NEWOBJ
                if len(stack) < 2:
                    malformed()
                args = stack.pop()
                cls = stack.pop()
                if type(cls) is not _Global or (cls.name not in _NEW_OBJECTS and cls.name not in extra_classes):
                    refuse(f"not a plain-data torch file: it asks to create {_short(cls)}, which grokviz refuses")
                if cls.name == "torch.nn.parameter.Parameter":
                    stack.append(_TENSOR)
                else:
                    stack.append(_Node("dict" if cls.name in ("collections.OrderedDict", "collections.Counter") else "object"))
            elif op == 0x62:  # BUILD
                if len(stack) < 2:
                    malformed()
                stack.pop()
            elif op == 0x6A:  # LONG_BINGET
                index = unpack_from("<I", data, pos)[0]
                pos += 4
                if index not in memo:
                    malformed()
                stack.append(memo[index])
            elif op == 0x55:  # SHORT_BINSTRING
                length = data[pos]
                need(1 + length)
                stack.append(bytes(data[pos + 1 : pos + 1 + length]))
                pos += 1 + length
            elif op == 0x8A:  # LONG1
                length = data[pos]
                need(1 + length)
                value = int.from_bytes(data[pos + 1 : pos + 1 + length], "little", signed=True)
                pos += 1 + length
                if value.bit_length() > max_bits and value not in wide_ints:
                    refuse(f"holds a {value.bit_length()}-bit integer; run files hold counts, sizes and seeds "
                           f"of at most {max_bits} bits (limit budgets.MAX_INT_BITS)")
                stack.append(value)
            elif op == 0x80:  # PROTO
                protocol = data[pos]
                pos += 1
                if protocol > 3:
                    refuse(f"is a pickle protocol {protocol} file; torch's safe loader reads protocol 2, which "
                           "torch.save writes by default (re-save it without pickle_protocol)")
            elif op == 0x2E:  # STOP
                if len(stack) != 1 or metastack:
                    malformed()
                return stack[0], pos
            elif op == 0x8B:  # LONG4
                refuse(f"holds an integer wider than 2040 bits; run files hold counts, sizes and seeds of at "
                       f"most {max_bits} bits (limit budgets.MAX_INT_BITS)")
            elif op in _PROTOCOL_4_OPS:
                refuse("is a pickle protocol 4 or 5 file; torch's safe loader reads protocol 2, which torch.save "
                       "writes by default (re-save it without pickle_protocol)")
            elif op in _BYTES_OPS:
                refuse("holds raw bytes (pickle protocol 3), which torch's safe loader does not read")
            else:
                malformed("unrecognised content")
    except (IndexError, struct.error):  # read past the end, or popped an empty stack
        malformed("it ends too early")
