"""Read the client patches in patches/ and list every OSC message they send or listen for.

Each reader returns :class:`Use` records: an address, how many arguments the patch
sends with it (``None`` for "a list of any length"), the OSC type tags when the
patch fixes them, and where in the file it was found. :func:`check_send` and
:func:`check_listen` compare a record with the server's address-space table, so a
renamed address or a changed argument list fails a test instead of a concert.

Formats: Pure Data (.pd text), Max (.maxpat JSON), SuperCollider (.scd/.sc code)
and Open Stage Control sessions (.json).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from morphsynth.server.address_space import BY_PATH, TABLE, Address, ArgError, parse_args

UNKNOWN = "unknown"  # an argument count the reader cannot tell


@dataclass(frozen=True)
class Use:
    file: str
    address: str
    nargs: int | None | str  # int, None (a list of any length) or UNKNOWN
    where: str
    types: str | None = None
    min_args: int = 0        # with nargs None: at least this many
    values: tuple | None = None  # the literal arguments, when the patch spells them out


# -- the table ---------------------------------------------------------------------------------


def arity(address: Address) -> tuple[int, int | None]:
    """(fewest, most) arguments the address accepts; most is None for a repeated last argument."""
    lo = sum(1 for a in address.args if not a.optional)
    hi = None if any(a.repeat for a in address.args) else len(address.args)
    return lo, hi


def reply_addresses() -> set[str]:
    """Every address the server sends: replies, /fail and the /notify notifications."""
    out = {"/fail"}
    for a in TABLE:
        if a.reply:
            out.add(a.reply.split()[0])
    notify = BY_PATH.get("/notify")
    if notify is not None:
        out.update(re.findall(r"(/[a-z][a-z0-9_.]*(?:/[a-z][a-z0-9_.]*)+)", notify.doc))
    return out


def check_send(use: Use) -> str | None:
    """None when the table accepts the message, else a one-line reason naming the file."""
    where = f"{use.file}: {use.where}: {use.address}"
    address = BY_PATH.get(use.address)
    if address is None:
        return f"{where}: not in the server's address table"
    lo, hi = arity(address)
    if use.nargs == UNKNOWN:
        return f"{where}: cannot tell how many arguments are sent"
    if use.nargs is None:
        if hi is not None:
            return f"{where}: sends a list of any length, the table takes {lo}..{hi}"
        return None
    if use.nargs < lo or (hi is not None and use.nargs > hi):
        most = "any number" if hi is None else str(hi)
        return f"{where}: sends {use.nargs} argument(s), the table takes {lo} to {most}"
    if use.types:
        for i, (tag, arg) in enumerate(zip(use.types, _expand(address, len(use.types)))):
            if tag != arg.type and not (tag == "i" and arg.type == "f"):
                return f"{where}: argument {i + 1} ({arg.name}) sent as '{tag}', the table says '{arg.type}'"
    if use.values is not None:
        try:
            parse_args(address, use.values)
        except ArgError as exc:
            shown = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in use.values)
            return f"{where}: {shown}: {exc}"
    return None


def literal_values(atoms: list[str]) -> tuple | None:
    """Message-box atoms as OSC values (numbers as floats, as Pd and Max send them), or None
    when a ``$1`` placeholder leaves them open."""
    out = []
    for a in atoms:
        if "$" in a:
            return None
        try:
            out.append(float(a))
        except ValueError:
            out.append(a)
    return tuple(out)


def check_listen(use: Use) -> str | None:
    if use.address in reply_addresses():
        return None
    return f"{use.file}: {use.where}: listens for {use.address}, which the server never sends"


def _expand(address: Address, n: int) -> list:
    args = list(address.args)
    out = []
    for i in range(n):
        out.append(args[min(i, len(args) - 1)])
    return out


# -- Pure Data ---------------------------------------------------------------------------------


@dataclass
class PdBox:
    index: int
    kind: str        # obj, msg, text, floatatom, symbolatom, listbox
    atoms: list[str]
    canvas: int

    @property
    def name(self) -> str:
        return self.atoms[0] if self.kind == "obj" and self.atoms else self.kind


@dataclass
class PdPatch:
    """Boxes of every canvas (numbered per canvas as Pd does) and their connections."""

    path: Path
    boxes: list[PdBox] = field(default_factory=list)
    # (canvas, src index, outlet, dst index, inlet)
    connections: list[tuple[int, int, int, int, int]] = field(default_factory=list)

    def box(self, canvas: int, index: int) -> PdBox:
        for b in self.boxes:
            if b.canvas == canvas and b.index == index:
                return b
        raise KeyError((canvas, index))

    def sources(self, b: PdBox, inlet: int | None = 0) -> list[tuple[PdBox, int]]:
        return [(self.box(cv, s), o) for cv, s, o, d, i in self.connections
                if cv == b.canvas and d == b.index and (inlet is None or i == inlet)]

    def targets(self, b: PdBox, outlet: int | None = 0) -> list[tuple[PdBox, int]]:
        return [(self.box(cv, d), i) for cv, s, o, d, i in self.connections
                if cv == b.canvas and s == b.index and (outlet is None or o == outlet)]

    def find(self, name: str, *args: str) -> list[PdBox]:
        return [b for b in self.boxes if b.kind == "obj" and b.atoms[:1 + len(args)] == [name, *args]]


def _pd_records(text: str) -> list[str]:
    records, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if ch == ";":
            records.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    return [r for r in records if r]


def _pd_atoms(record: str) -> list[str]:
    # Escaped separators ("\;", "\,") are atoms of their own in a box's text.
    return [a.replace("\\$", "$") for a in record.replace("\\;", " \\; ").replace("\\,", " \\, ").split()]


def read_pd(path: str | Path) -> PdPatch:
    patch = PdPatch(Path(path))
    stack: list[tuple[int, int]] = []  # (canvas id, next index)
    next_canvas = 0
    for rec in _pd_records(Path(path).read_text(encoding="utf-8")):
        atoms = _pd_atoms(rec)
        head = atoms[:2]
        if head == ["#N", "canvas"]:
            stack.append((next_canvas, 0))
            next_canvas += 1
            continue
        if not stack or atoms[0] != "#X":
            continue
        canvas, n = stack[-1]
        kind = atoms[1]
        if kind == "connect":
            s, o, d, i = (int(v) for v in atoms[2:6])
            patch.connections.append((canvas, s, o, d, i))
        elif kind == "restore":
            stack.pop()
            canvas, n = stack[-1]
            patch.boxes.append(PdBox(n, "obj", atoms[4:], canvas))
            stack[-1] = (canvas, n + 1)
        elif kind in ("obj", "msg", "text", "floatatom", "symbolatom", "listbox"):
            patch.boxes.append(PdBox(n, kind, atoms[4:], canvas))
            stack[-1] = (canvas, n + 1)
    return patch


_PD_ONE = {"f", "float", "+", "-", "*", "/", "expr", "int", "i", "moses", "nbx", "hsl", "vsl", "tgl",
           "hradio", "vradio", "mod", "div", "abs", "mtof", "ftom", "dbtorms", "rmstodb", "clip",
           "symbol", "random", "==", "!=", ">", "<", ">=", "<=", "max", "min", "change", "value", "v",
           "wrap", "makefilename"}
_PD_ZERO = {"bng", "bang", "b", "loadbang", "delay", "del", "metro"}
_PD_THROUGH = {"spigot"}


def _msg_segments(atoms: list[str]) -> list[list[str]]:
    """The part of a message box that leaves its outlet, split at commas."""
    out, cur = [], []
    for a in atoms:
        if a == "\\;":
            break
        if a == "\\,":
            out.append(cur)
            cur = []
        else:
            cur.append(a)
    out.append(cur)
    return out


def pd_counts(patch: PdPatch, b: PdBox, outlet: int, seen=frozenset()) -> list[int | None | str]:
    """The argument counts box ``b`` can send from ``outlet`` (one entry per distinct message)."""
    if (b.canvas, b.index, outlet) in seen:
        return []
    seen = seen | {(b.canvas, b.index, outlet)}
    if b.kind == "msg":
        counts = []
        for seg in _msg_segments(b.atoms):
            if not seg or seg[0] in ("format", "set"):
                continue
            if seg[0] in ("list", "symbol", "float"):
                counts.append(len(seg) - 1)
            elif seg[0] == "bang":
                counts.append(0)
            else:
                counts.append(len(seg))
        return counts
    if b.kind in ("floatatom", "symbolatom"):
        return [1]
    if b.kind == "listbox":
        return [None]
    name, args = b.name, b.atoms[1:]
    if name in _PD_ZERO:
        return [0]
    if name in _PD_ONE:
        return [1]
    if name == "pack":
        return [max(len(args), 2)]
    if name == "unpack":
        return [1]
    if name in ("t", "trigger"):
        kind = args[outlet] if outlet < len(args) else "a"
        if kind in ("b", "bang"):
            return [0]
        if kind in ("f", "float", "s", "symbol"):
            return [1]
        return _pd_inputs(patch, b, seen)
    if name in _PD_THROUGH:
        return _pd_inputs(patch, b, seen)
    if name == "list" and args[:1] == ["split"] and outlet == 0 and len(args) > 1:
        return [int(float(args[1]))]
    if name == "list":
        return [None]
    return [UNKNOWN]


def _pd_inputs(patch: PdPatch, b: PdBox, seen) -> list:
    out = []
    for src, o in patch.sources(b, 0):
        out += pd_counts(patch, src, o, seen)
    return out


def pd_sends(path: str | Path) -> list[Use]:
    patch = read_pd(path)
    uses = []
    for b in patch.find("oscformat"):
        words, types, rest = [], None, b.atoms[1:]
        while rest:
            if rest[0] == "-f" and len(rest) > 1:  # creation flag: the type tags
                types, rest = rest[1], rest[2:]
            else:
                words.append(rest[0])
                rest = rest[1:]
        address = "/" + "/".join(words)
        for src, _ in patch.sources(b, 0):
            if src.kind == "msg" and src.atoms[:1] == ["format"] and len(src.atoms) > 1:
                types = src.atoms[1]
        where = f"[oscformat {' '.join(b.atoms[1:])}] (box {b.index}, canvas {b.canvas})"
        counts = []
        for src, o in patch.sources(b, 0):
            counts += pd_counts(patch, src, o)
            if src.kind == "msg":
                for seg in _msg_segments(src.atoms):
                    if seg and seg[0] not in ("format", "set", "bang"):
                        words = seg[1:] if seg[0] in ("list", "symbol", "float") else seg
                        uses.append(Use(str(path), address, len(words), f"{where} <- [{' '.join(seg)}(",
                                        types, values=literal_values(words)))
        if not counts:
            uses.append(Use(str(path), address, UNKNOWN, where + ", nothing connected"))
        for n in dict.fromkeys(counts):
            uses.append(Use(str(path), address, n, where, types if isinstance(n, int) else None))
    return uses


def pd_listens(path: str | Path) -> list[Use]:
    """Reply addresses a patch routes on after [oscparse] ([route done] is /done; a [route]
    behind [route library] adds a level: /library/list.reply)."""
    patch = read_pd(path)
    uses = []

    def walk(route: PdBox, prefix: str) -> None:
        for k, sel in enumerate(route.atoms[1:]):
            full = f"{prefix}/{sel}"
            deeper = [t for t, _ in patch.targets(route, k) if t.name == "route"]
            if deeper:
                for t in deeper:
                    walk(t, full)
            else:
                uses.append(Use(str(path), full, 0, f"[route ... {sel}] (box {route.index})"))

    for b in patch.boxes:
        if b.name == "route" and _after_oscparse(patch, b):
            walk(b, "")
    return uses


def _after_oscparse(patch: PdPatch, b: PdBox, depth: int = 0) -> bool:
    """True when ``b`` receives parsed replies: from [oscparse] or a client abstraction's outlet."""
    if depth > 4:
        return False
    for src, _ in patch.sources(b, 0):
        if src.name == "oscparse" or src.name.endswith("-client"):
            return True
        if src.name == "list" and src.atoms[1:2] == ["trim"] and _after_oscparse(patch, src, depth + 1):
            return True
    return False


# -- Max ---------------------------------------------------------------------------------------


@dataclass
class MaxPatch:
    path: Path
    boxes: dict[str, dict]
    lines: list[tuple[str, int, str, int]]

    def sources(self, box_id: str, inlet: int | None = 0) -> list[tuple[str, int]]:
        return [(s, o) for s, o, d, i in self.lines if d == box_id and (inlet is None or i == inlet)]

    def targets(self, box_id: str, outlet: int | None = 0) -> list[tuple[str, int]]:
        return [(d, i) for s, o, d, i in self.lines if s == box_id and (outlet is None or o == outlet)]

    def text(self, box_id: str) -> str:
        return self.boxes[box_id].get("text", "")

    def by_text(self, prefix: str) -> list[str]:
        return [k for k, b in self.boxes.items() if b.get("maxclass") == "newobj"
                and (b.get("text", "") == prefix or b.get("text", "").startswith(prefix + " "))]

    def by_class(self, maxclass: str) -> list[str]:
        return [k for k, b in self.boxes.items() if b.get("maxclass") == maxclass]


def read_maxpat(path: str | Path) -> MaxPatch:
    """Parse a .maxpat and check the parts of Max's patcher format the patches rely on."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    patcher = data["patcher"]
    boxes = {}
    for entry in patcher["boxes"]:
        box = entry["box"]
        for key in ("id", "maxclass", "numinlets", "numoutlets", "patching_rect"):
            if key not in box:
                raise ValueError(f"{path}: box {box.get('id', '?')} lacks '{key}'")
        if box["maxclass"] in ("newobj", "message", "comment") and "text" not in box:
            raise ValueError(f"{path}: box {box['id']} ({box['maxclass']}) lacks 'text'")
        if box["numoutlets"] and len(box.get("outlettype", [])) != box["numoutlets"]:
            raise ValueError(f"{path}: box {box['id']} has {box['numoutlets']} outlets but "
                             f"{len(box.get('outlettype', []))} outlet types")
        if box["id"] in boxes:
            raise ValueError(f"{path}: duplicate box id {box['id']}")
        boxes[box["id"]] = box
    lines = []
    for entry in patcher["lines"]:
        line = entry["patchline"]
        (s, o), (d, i) = line["source"], line["destination"]
        for bid, port, key in ((s, o, "numoutlets"), (d, i, "numinlets")):
            if bid not in boxes:
                raise ValueError(f"{path}: a line names missing box {bid}")
            if not 0 <= port < boxes[bid][key]:
                raise ValueError(f"{path}: a line uses {key[3:-1]} {port} of {bid}, which has {boxes[bid][key]}")
        lines.append((s, o, d, i))
    return MaxPatch(Path(path), boxes, lines)


_MAX_ONE = {"live.dial", "live.numbox", "live.toggle", "number", "flonum", "toggle", "kslider", "pictslider",
            "slider", "dial", "live.slider"}
_MAX_ONE_OBJ = {"/", "*", "+", "-", "scale", "zmap", "int", "i", "float", "f", "tosymbol", "counter", "!-",
                "!/", "clip", "round", "mtof", "ftom", "dbtoa", "atodb", "change"}


def max_counts(patch: MaxPatch, box_id: str, outlet: int, seen=frozenset()) -> list:
    if (box_id, outlet) in seen:
        return []
    seen = seen | {(box_id, outlet)}
    box = patch.boxes[box_id]
    cls = box["maxclass"]
    if cls == "message":
        out = []
        for seg in box["text"].split(","):
            words = seg.split()
            if words and words[0] not in ("set",):
                out.append(len(words) - (1 if words[0] in ("list", "symbol", "float", "int") else 0))
        return out
    if cls in _MAX_ONE:
        return [1]
    if cls == "button":
        return [0]
    if cls == "umenu":
        return [1]
    if cls != "newobj":
        return [UNKNOWN]
    name, *args = box["text"].split()
    if name in ("pack", "pak", "join"):
        return [max(len(args), 2)]
    if name in _MAX_ONE_OBJ or name == "unpack":
        return [1]
    if name in ("t", "trigger"):
        kind = args[outlet] if outlet < len(args) else "l"
        if kind == "b":
            return [0]
        if kind in ("i", "f", "s"):
            return [1]
        return _max_inputs(patch, box_id, seen)
    if name == "gate":
        return _max_inputs(patch, box_id, seen, inlet=1)
    if name in ("loadbang", "live.thisdevice", "del", "delay"):
        return [0]
    if name == "midiparse" and outlet in (0, 1, 2):
        return [2]  # note pairs, poly pressure and control changes: number value
    if name == "prepend":
        return [n + len(args) if isinstance(n, int) else n for n in _max_inputs(patch, box_id, seen)]
    if name == "zl.reg":
        return [None]
    return [UNKNOWN]


def _max_inputs(patch: MaxPatch, box_id: str, seen, inlet: int = 0) -> list:
    out = []
    for s, o in patch.sources(box_id, inlet):
        out += max_counts(patch, s, o, seen)
    return out


def max_sends(path: str | Path) -> list[Use]:
    patch = read_maxpat(path)
    uses = []
    for sender in patch.by_text("udpsend"):
        for s, o in patch.sources(sender, 0):
            uses += _max_messages(patch, s, o, str(path))
    return uses


def _max_messages(patch: MaxPatch, box_id: str, outlet: int, file: str, depth: int = 0) -> list[Use]:
    """OSC messages leaving ``box_id``: an address box, or a pass-through towards [udpsend]."""
    box = patch.boxes[box_id]
    where = f"{box_id} [{box.get('text', box['maxclass'])}]"
    if box["maxclass"] == "message":
        out = []
        for seg in box["text"].split(","):
            words = seg.split()
            if words and words[0].startswith("/"):
                out.append(Use(file, words[0], len(words) - 1, where, values=literal_values(words[1:])))
            elif words:
                out.append(Use(file, words[0], UNKNOWN, where + ": a message that is not OSC"))
        return out
    if box["maxclass"] == "newobj":
        name, *args = box["text"].split()
        if name == "prepend" and args and args[0].startswith("/"):
            counts = _max_inputs(patch, box_id, frozenset())
            extra = len(args) - 1
            return [Use(file, args[0], n + extra if isinstance(n, int) else n, where)
                    for n in dict.fromkeys(counts)] or [Use(file, args[0], UNKNOWN, where)]
        if name in ("t", "trigger", "gate") and depth < 4:
            out = []
            for s, o in patch.sources(box_id, 1 if name == "gate" else 0):
                out += _max_messages(patch, s, o, file, depth + 1)
            return out
    return [Use(file, "?", UNKNOWN, where + ": cannot tell which OSC address reaches [udpsend]")]


def max_listens(path: str | Path) -> list[Use]:
    patch = read_maxpat(path)
    uses = []
    for recv in patch.by_text("udpreceive"):
        for d, _ in patch.targets(recv, 0):
            text = patch.text(d)
            if text.startswith("route "):
                for sel in text.split()[1:]:
                    uses.append(Use(str(path), sel, 0, f"{d} [{text}]"))
    return uses


# -- SuperCollider and JavaScript (Open Stage Control scripts) ----------------------------------


def _strip_code(src: str, symbols_quote: bool) -> str:
    """Blank out comments, keep strings; ``symbols_quote``: single quotes delimit literals."""
    out, i, n = [], 0, len(src)
    while i < n:
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
            continue
        ch = src[i]
        if ch == '"' or (ch == "'" and symbols_quote) or ch == "`":
            j = i + 1
            while j < n and src[j] != ch:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _call_args(code: str, start: int) -> tuple[list[str], int]:
    """Split the top-level arguments of the call whose '(' is at ``start``."""
    depth, args, cur, i = 0, [], [], start
    while i < len(code):
        ch = code[i]
        if ch in "\"'`":
            j = i + 1
            while j < len(code) and code[j] != ch:
                j += 2 if code[j] == "\\" else 1
            cur.append(code[i:j + 1])
            i = j + 1
            continue
        if ch in "([{":
            depth += 1
            if depth > 1:
                cur.append(ch)
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return [a for a in args if a], i
            cur.append(ch)
        elif ch == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    raise ValueError("unbalanced parentheses")


def _literal(arg: str) -> str | None:
    m = re.fullmatch(r"""\\?["'`]?(/[^"'`\s]*)["'`]?""", arg.strip())
    if m and (arg.strip()[0] in "\"'`\\"):
        return m.group(1)
    return None


def _line_of(code: str, pos: int) -> int:
    return code.count("\n", 0, pos) + 1


def code_sends(path: str | Path, functions=("sendMsg",), symbols_quote: bool = True,
               text: str | None = None, label: str | None = None) -> list[Use]:
    """Calls like ``x.sendMsg("/addr", a, b)`` (SC) or ``send('/addr', a)`` (JS)."""
    code = _strip_code(text if text is not None else Path(path).read_text(encoding="utf-8"), symbols_quote)
    uses = []
    for fn in functions:
        for m in re.finditer(rf"\b{re.escape(fn)}\s*\(", code):
            args, _ = _call_args(code, m.end() - 1)
            where = f"{label or 'line'} {_line_of(code, m.start())}"
            idx = next((k for k, a in enumerate(args) if _literal(a)), None)
            if idx is None:
                uses.append(Use(str(path), "?", UNKNOWN, where + f": {fn}() without a literal address"))
                continue
            rest = args[idx + 1:]
            spread = [a for a in rest if a.startswith("*") or a.startswith("...")]
            if spread:
                uses.append(Use(str(path), _literal(args[idx]), None, where, min_args=len(rest) - len(spread)))
            else:
                uses.append(Use(str(path), _literal(args[idx]), len(rest), where, values=_code_values(rest)))
    return uses


def _code_values(args: list[str]) -> tuple | None:
    """Arguments written as number or string literals, else None."""
    out = []
    for a in args:
        a = a.strip()
        if re.fullmatch(r"-?\d+", a):
            out.append(int(a))
        elif re.fullmatch(r"-?(\d+\.\d*|\.\d+)(e-?\d+)?", a):
            out.append(float(a))
        elif len(a) >= 2 and a[0] == a[-1] and a[0] in "\"'" and a[0] not in a[1:-1]:
            out.append(a[1:-1])
        else:
            return None
    return tuple(out)


def scd_sends(path: str | Path) -> list[Use]:
    return code_sends(path, ("sendMsg",))


def scd_listens(path: str | Path) -> list[Use]:
    """Paths of ``OSCFunc(func, path, ...)`` and ``OSCdef(key, func, path, ...)``."""
    code = _strip_code(Path(path).read_text(encoding="utf-8"), True)
    uses = []
    for fn, pos in (("OSCFunc", 1), ("OSCdef", 2)):
        for m in re.finditer(rf"\b{fn}\s*\(", code):
            args, _ = _call_args(code, m.end() - 1)
            if len(args) > pos and _literal(args[pos]):
                uses.append(Use(str(path), _literal(args[pos]), 0, f"line {_line_of(code, m.start())}"))
            elif len(args) > pos:
                uses.append(Use(str(path), "?", UNKNOWN, f"line {_line_of(code, m.start())}: "
                                f"{fn} path is not a literal"))
    return uses


# -- Open Stage Control ------------------------------------------------------------------------

# Number of values each widget type sends (before its preArgs).
OSC_WIDGET_VALUES = {"xy": 2, "range": 2, "fader": 1, "knob": 1, "encoder": 1, "button": 1, "switch": 1,
                     "dropdown": 1, "menu": 1, "input": 1, "keyboard": 2, "toggle": 1, "push": 1}
OSC_DISPLAY = {"text", "led", "html", "textarea"}
OSC_SCRIPTS = ("onCreate", "onValue", "onTouch", "onKeyboard", "script")


def read_osc_session(path: str | Path) -> list[dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("type") != "session" or "content" not in data:
        raise ValueError(f"{path}: not an Open Stage Control session (type/content missing)")
    widgets = []

    def walk(node):
        for child in node.get("widgets", []) + node.get("tabs", []):
            widgets.append(child)
            walk(child)

    walk(data["content"])
    return widgets


def osc_session_sends(path: str | Path) -> list[Use]:
    uses = []
    for w in read_osc_session(path):
        wid, kind = w.get("id", "?"), w.get("type")
        for prop in OSC_SCRIPTS:
            if w.get(prop):
                uses += code_sends(path, ("send",), symbols_quote=True, text=w[prop],
                                   label=f"widget {wid} {prop} line")
        if w.get("bypass") or kind in OSC_DISPLAY or kind not in OSC_WIDGET_VALUES:
            continue
        address = w.get("address", "auto")
        if address == "auto":
            address = "/" + wid
        pre = w.get("preArgs", [])
        pre = pre if isinstance(pre, list) else [pre]
        on_off = [w.get("on"), w.get("off")] if kind == "button" else []
        values = 0 if kind == "button" and all(v is None for v in on_off) else OSC_WIDGET_VALUES[kind]
        tags = w.get("typeTags") or None
        uses.append(Use(str(path), address, len(pre) + values, f"widget {wid} ({kind})", tags))
    return uses


def osc_session_listens(path: str | Path) -> list[Use]:
    return [Use(str(path), w["address"], 0, f"widget {w.get('id')} ({w.get('type')})")
            for w in read_osc_session(path)
            if w.get("type") in OSC_DISPLAY and str(w.get("address", "auto")).startswith("/")]


# -- Max message flow --------------------------------------------------------------------------


class MaxFlow:
    """Pushes messages through a Max patch the way Max orders them, for the few objects the
    shipped patches use, and collects what reaches [udpsend].

    Max sends an outlet's message to its destinations right to left (by box position), and
    objects emit from their rightmost outlet first; [pack]'s left inlet is the hot one.
    This models those rules; it is not Max, and it refuses objects it does not know.
    """

    def __init__(self, patch: MaxPatch):
        self.patch = patch
        self.sent: list[list] = []
        self.state: dict[str, list] = {}

    def press(self, box_id: str, *values) -> list[list]:
        """Act on a UI box (a key, the pad, a dial, a menu, a button); returns the messages sent."""
        start = len(self.sent)
        cls = self.patch.boxes[box_id]["maxclass"]
        if cls in ("kslider", "pictslider"):
            self._out(box_id, 1, [values[1]])
            self._out(box_id, 0, [values[0]])
        elif cls == "umenu":
            self._out(box_id, 1, [values[0]])
        elif cls in ("button",) or self.patch.text(box_id) in ("loadbang", "live.thisdevice"):
            self._out(box_id, 0, ["bang"])
        elif cls == "message":
            self._in(box_id, 0, ["bang"])
        else:
            self._out(box_id, 0, list(values))
        return self.sent[start:]

    def _out(self, box_id: str, outlet: int, msg: list) -> None:
        dests = self.patch.targets(box_id, outlet)
        dests.sort(key=lambda d: -self.patch.boxes[d[0]]["patching_rect"][0])
        for dst, inlet in dests:
            self._in(dst, inlet, list(msg))

    def _in(self, box_id: str, inlet: int, msg: list) -> None:
        box = self.patch.boxes[box_id]
        cls = box["maxclass"]
        if cls == "message":
            if inlet != 0:
                return
            words = box["text"].split()
            out = []
            for w in words:
                if w.startswith("$") and w[1:].isdigit():
                    out.append(msg[int(w[1:]) - 1])
                else:
                    out.append(_number_or_word(w))
            self._out(box_id, 0, out)
            return
        if cls in ("comment", "umenu", "live.dial", "kslider", "pictslider", "button"):
            return  # messages into these only set or display them
        name, *args = box["text"].split()
        if name == "udpsend":
            self.sent.append(msg)
        elif name == "prepend":
            self._out(box_id, 0, [_number_or_word(a) for a in args] + msg)
        elif name in ("pack", "pak"):
            values = self.state.setdefault(box_id, [_number_or_word(a) for a in args])
            if msg == ["bang"]:
                pass
            elif inlet == 0:
                for i, v in enumerate(msg):
                    values[i] = _typed_like(values[i], v)
            else:
                values[inlet] = _typed_like(values[inlet], msg[0])
            if inlet == 0 or name == "pak":
                self._out(box_id, 0, list(values))
        elif name in ("/", "*") and inlet == 0:
            arg = float(args[0]) if args else 0.0
            value = msg[0] / arg if name == "/" else msg[0] * arg
            self._out(box_id, 0, [value if ("." in args[0]) else int(value)])
        elif name in ("t", "trigger"):
            for k in range(len(args) - 1, -1, -1):
                kind = args[k]
                if kind == "b":
                    out = ["bang"]
                elif kind in ("f", "i"):
                    out = [float(msg[0]) if kind == "f" else int(msg[0])]
                else:
                    out = msg
                self._out(box_id, k, out)
        elif name in ("print", "route", "udpreceive", "iter", "midiout", "midiparse", "loadbang",
                      "live.thisdevice"):
            return
        else:
            raise ValueError(f"MaxFlow does not model [{box['text']}]")


def _number_or_word(w: str):
    try:
        return int(w)
    except ValueError:
        try:
            return float(w)
        except ValueError:
            return w


def _typed_like(template, value):
    if isinstance(template, float):
        return float(value)
    if isinstance(template, int) and not isinstance(template, bool):
        return int(value)
    return value
