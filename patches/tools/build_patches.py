"""Generate the Pure Data and Max patches in patches/ from the descriptions below.

    .venv/bin/python patches/tools/build_patches.py          # rewrite the patches
    .venv/bin/python patches/tools/build_patches.py --check  # exit 1 if any file is stale

Edit this file, not the generated .pd/.maxpat files: connections are made by the
handles the writers return, so an inserted object never shifts another's wiring.
The OSC addresses used here are checked against the server's address-space table
by tests/test_patches.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from patch_writers import MaxPatcher, PdCanvas  # noqa: E402

PATCHES = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 57130
REPLY_PORT = 57131
# The Max for Live device listens on a port of its own, so it can run beside the Max patch.
DEVICE_REPLY_PORT = 57132

# -- Pure Data ---------------------------------------------------------------------------------


def pd_client() -> str:
    """morphsynth-client.pd: one UDP socket to the server; replies come out parsed.

    Creation argument: the server's UDP port on this machine (default 57130). Inlet:
    OSC packets from [oscformat], or ``port P`` / ``connect HOST PORT`` / ``disconnect``.
    Outlet: each reply as a message (the address split at its slashes: ``done /render
    note.wav``). A global ``morphsynth-port P`` message retargets every open client.
    """
    c = PdCanvas(620, 420)
    c.comment(10, 5, "morphsynth-client: [netsend -u -b] to the server and [oscparse] on its replies")
    inlet = c.obj(20, 40, "inlet")
    route = c.obj(20, 75, "route connect disconnect port")
    lb = c.obj(300, 40, "loadbang")
    port_arg = c.obj(300, 70, "f $1")
    no_arg = c.obj(300, 100, "sel 0")
    default = c.msg(300, 130, str(DEFAULT_PORT))
    r_port = c.obj(430, 40, "r morphsynth-port")
    t_port = c.obj(250, 160, "t f b")
    with_host = c.obj(250, 185, "list prepend 127.0.0.1")
    disconnect = c.msg(420, 185, "disconnect")
    prep = c.obj(20, 215, "list prepend connect")
    trim = c.obj(20, 245, "list trim")
    net = c.obj(20, 300, "netsend -u -b")
    status = c.floatatom(20, 335, 3, label="connected")
    parse = c.obj(140, 335, "oscparse")
    trim2 = c.obj(140, 365, "list trim")
    prn = c.obj(260, 395, "print morphsynth")
    out = c.obj(140, 395, "outlet")
    again = c.obj(20, 110, "t a b")  # an open connection is closed before a new one
    c.connect(inlet, 0, route)
    c.connect(route, 0, again)
    c.connect(again, 1, disconnect)
    c.connect(again, 0, prep)
    c.connect(route, 1, disconnect)
    c.connect(route, 2, t_port)
    c.connect(route, 3, net)           # OSC packets (lists of bytes) go straight out
    c.chain(lb, port_arg, no_arg, default, t_port)
    c.connect(no_arg, 1, t_port)
    c.connect(r_port, 0, t_port)
    c.connect(t_port, 0, with_host)
    c.connect(t_port, 1, disconnect)
    c.connect(with_host, 0, prep)
    c.connect(disconnect, 0, net)
    c.chain(prep, trim, net)
    c.connect(net, 0, status)
    c.connect(net, 1, parse)
    c.chain(parse, trim2, out)
    c.connect(trim2, 0, prn)
    return c.text()


def _osc(c: PdCanvas, x: int, y: int, words: str, tags: str = "") -> int:
    """[oscformat -f TAGS words] and, to its right, [s $0-out] towards the client.

    ``-f`` fixes the type tags (Pd would send every number as a float); the send keeps
    wires from crossing the patch to the one [morphsynth-client].
    """
    text = f"oscformat {'-f ' + tags + ' ' if tags else ''}{words}"
    fmt = c.obj(x, y, text)
    out = c.obj(x + 7 * len(text) + 14, y, "s $0-out")
    c.connect(fmt, 0, out)
    return fmt


def _replies(c: PdCanvas, client: int, x: int, y: int) -> None:
    """Show the server's replies (the client also prints them) and pass them on by name."""
    c.comment(x, y, "REPLIES (all are also printed: morphsynth: ...)")
    route = c.obj(x, y + 20, "route done fail status.reply synced library note")
    c.connect(client, 0, route)
    lib = c.obj(x + 330, y + 45, "route list.reply changed")
    note = c.obj(x + 330, y + 70, "route ready")
    c.connect(route, 4, lib)
    c.connect(route, 5, note)
    rows = [("/done", route, 0, "morphsynth-done"), ("/fail", route, 1, "morphsynth-fail"),
            ("/status.reply", route, 2, "morphsynth-status"), ("/synced", route, 3, "morphsynth-synced"),
            ("/library/list.reply", lib, 0, "morphsynth-library"),
            ("/library/changed", lib, 1, "morphsynth-library-changed"), ("/note/ready", note, 0, "morphsynth-ready")]
    for k, (label, src, outlet, name) in enumerate(rows):
        # [list] turns "/render path" (a symbol first) into a list the list box accepts.
        as_list = c.obj(x, y + 45 + 25 * k, "list")
        box = c.listbox(x + 45, y + 45 + 25 * k, 32)
        send = c.obj(x + 330, y + 95 + 25 * k, f"s {name}")
        c.comment(x + 560, y + 95 + 25 * k, label)
        c.connect(src, outlet, as_list)
        c.connect(as_list, 0, box)
        c.connect(src, outlet, send)


def pd_main() -> str:
    c = PdCanvas(1400, 960)
    c.comment(20, 8, "morphsynth: play and morph the neural synthesizer over OSC (UDP). "
                     "Open with the server running: morphsynth serve")
    c.comment(20, 28, "Every control also listens on a receive name (in brackets) so other "
                      "patches or pd -send can drive it. See morphsynth-*-help.pd per address group.")
    client = c.obj(980, 60, f"morphsynth-client {DEFAULT_PORT}")
    c.comment(1180, 62, "<- the server (retarget: morphsynth-port P)")
    c.connect(c.obj(1180, 35, "r $0-out"), 0, client)

    # Notes ------------------------------------------------------------------------------
    c.comment(20, 60, "NOTES /note/on /note/off /panic")
    pitch = c.nbx(20, 95, 0, 127, receive="ms-pitch", label="pitch_[ms-pitch]", init=60)
    vel = c.nbx(130, 95, 1, 127, receive="ms-velocity", label="velocity_[ms-velocity]", init=100)
    on = c.bng(20, 125, receive="ms-on", label="on_[ms-on]")
    off = c.bng(130, 125, receive="ms-off", label="off_[ms-off]")
    t_on = c.obj(20, 160, "t b b")
    f_pitch = c.obj(20, 190, "f")
    f_vel = c.obj(70, 190, "f")
    pack_on = c.obj(20, 225, "pack f f")
    fmt_on = _osc(c, 20, 290, "note on", "ii")
    f_off = c.obj(130, 190, "f")
    fmt_off = _osc(c, 20, 320, "note off", "i")
    c.connect(pitch, 0, f_pitch, 1)
    c.connect(pitch, 0, f_off, 1)
    c.connect(vel, 0, f_vel, 1)
    c.connect(on, 0, t_on)
    c.connect(t_on, 1, f_vel)
    c.connect(t_on, 0, f_pitch)
    c.connect(f_vel, 0, pack_on, 1)
    c.connect(f_pitch, 0, pack_on, 0)
    c.connect(pack_on, 0, fmt_on)
    c.connect(off, 0, f_off)
    c.connect(f_off, 0, fmt_off)
    r_noteon = c.obj(20, 255, "r ms-noteon")
    un_on = c.obj(110, 255, "unpack f f")
    c.connect(r_noteon, 0, un_on)
    c.connect(un_on, 1, pack_on, 1)
    c.connect(un_on, 0, pack_on, 0)
    r_noteoff = c.obj(200, 255, "r ms-noteoff")
    c.connect(r_noteoff, 0, f_off)
    # A MIDI keyboard plays too: velocity 0 is a note-off.
    # A MIDI keyboard plays too: pairs go through [s ms-midinote] (so other patches can play
    # the same way), and velocity 0 becomes /note/off.
    c.comment(20, 355, "MIDI keyboard in [ms-midinote]")
    notein = c.obj(20, 375, "notein")
    pack_in = c.obj(20, 400, "pack f f")
    s_midi = c.obj(100, 400, "s ms-midinote")
    c.connect(notein, 1, pack_in, 1)
    c.connect(notein, 0, pack_in, 0)
    c.connect(pack_in, 0, s_midi)
    r_midi = c.obj(20, 430, "r ms-midinote")
    un_pair = c.obj(120, 430, "unpack f f")
    pack_midi = c.obj(20, 455, "pack f f")
    c.connect(r_midi, 0, un_pair)
    c.connect(un_pair, 1, pack_midi, 1)
    c.connect(un_pair, 0, pack_midi, 0)
    t_midi = c.obj(20, 480, "t l l")
    un_midi = c.obj(120, 505, "unpack f f")
    is_on = c.obj(120, 530, "> 0")
    t_gate = c.obj(120, 555, "t f f")
    is_off = c.obj(190, 580, "== 0")
    gate_on = c.obj(20, 580, "spigot")
    gate_off = c.obj(190, 605, "spigot")
    split_off = c.obj(190, 630, "list split 1")
    c.connect(pack_midi, 0, t_midi)
    c.connect(t_midi, 1, un_midi)
    c.connect(un_midi, 1, is_on)
    c.connect(is_on, 0, t_gate)
    c.connect(t_gate, 1, gate_on, 1)
    c.connect(t_gate, 0, is_off)
    c.connect(is_off, 0, gate_off, 1)
    c.connect(t_midi, 0, gate_on)
    c.connect(t_midi, 0, gate_off)
    c.connect(gate_on, 0, fmt_on)
    c.connect(gate_off, 0, split_off)
    c.connect(split_off, 0, fmt_off)
    panic = c.bng(20, 675, receive="ms-panic", label="panic_[ms-panic]")
    fmt_panic = _osc(c, 20, 705, "panic")
    c.connect(panic, 0, fmt_panic)

    # Morph ------------------------------------------------------------------------------
    c.comment(300, 60, "MORPH /morph/sources /morph/xy /morph/weights /knob")
    c.comment(300, 80, "sources at the XY corners (0 0) (1 0) (0 1) (1 1): type a name, or its")
    c.comment(300, 96, "index in the library list [ms-pick1..4], then set [ms-sources-send]")
    # [pd sources] collects the filled slots (an empty symbol has no characters) into a list.
    slots = PdCanvas(520, 300)
    slots.comment(10, 5, "bang: the filled source slots as one list")
    inlet = slots.obj(10, 30, "inlet")
    t_src = slots.obj(10, 55, "t b b b b b b")
    acc = slots.obj(10, 255, "list prepend")
    result = slots.obj(120, 255, "list")
    outlet = slots.obj(120, 280, "outlet")
    slots.chain(inlet, t_src)
    slots.connect(t_src, 5, acc, 1)
    slots.connect(t_src, 5, result, 1)
    slots.connect(acc, 0, acc, 1)
    slots.connect(acc, 0, result, 1)
    slots.connect(t_src, 0, result, 0)
    slots.connect(result, 0, outlet)
    for i in range(4):
        value = slots.obj(60 + 120 * i, 80, f"r ms-src{i + 1}-value")
        store = slots.obj(10 + 120 * i, 105, "symbol")
        t_s = slots.obj(10 + 120 * i, 130, "t s s")
        chars = slots.obj(40 + 120 * i, 155, "list fromsymbol")
        length = slots.obj(40 + 120 * i, 180, "list length")
        filled = slots.obj(40 + 120 * i, 205, "> 0")
        gate = slots.obj(10 + 120 * i, 230, "spigot")
        slots.connect(value, 0, store, 1)
        slots.connect(t_src, 4 - i, store)
        slots.connect(store, 0, t_s)
        slots.connect(t_s, 1, chars)
        slots.chain(chars, length, filled)
        slots.connect(filled, 0, gate, 1)
        slots.connect(t_s, 0, gate)
        slots.connect(gate, 0, acc)
    send_src = c.bng(590, 128, receive="ms-sources-send", label="set")
    collect = c.subpatch(300, 195, "sources", slots)
    as_list = c.obj(300, 220, "list")
    fmt_src = _osc(c, 300, 245, "morph sources")
    c.chain(send_src, collect, as_list, fmt_src)
    # Each slot can also pick a name by its index in the last /library/list.reply.
    picks = PdCanvas(520, 260)
    picks.comment(10, 5, "index in the library's list -> source slot")
    for i in range(4):
        r_pick = picks.obj(10 + 125 * i, 30, f"r ms-pick{i + 1}")
        get = picks.msg(10 + 125 * i, 60, "get $1 1")
        store = picks.obj(10 + 125 * i, 120, "list store")
        r_lib = picks.obj(60 + 125 * i, 90, "r morphsynth-library")
        trim = picks.obj(10 + 125 * i, 150, "list trim")
        sym = picks.obj(10 + 125 * i, 180, "symbol")
        s_slot = picks.obj(10 + 125 * i, 210, f"s ms-src{i + 1}")
        picks.chain(r_pick, get, store, trim, sym, s_slot)
        picks.connect(r_lib, 0, store, 1)
    c.subpatch(400, 195, "library-picks", picks)
    for i in range(4):
        c.symbolatom(300 + 140 * (i % 2), 128 + 32 * (i // 2), 11, receive=f"ms-src{i + 1}",
                     send=f"ms-src{i + 1}-value", label=f"[ms-src{i + 1}]", label_pos=2)
        c.nbx(300 + 140 * (i % 2) + 88, 128 + 32 * (i // 2), 0, 999, width=2, send=f"ms-pick{i + 1}")
    # XY pad: a canvas with a puck, driven by the two sliders along its edges.
    pad_x, pad_y, size = 330, 300, 160
    c.cnv(pad_x, pad_y, size, size, color="#dce6f0", label="XY")
    c.cnv(pad_x + size // 2 - 5, pad_y + size // 2 - 5, 10, 10, color="#3060a0", receive="ms-puck")
    ysl = c.vsl(pad_x - 22, pad_y, 0, 1, receive="ms-y", label="y", init=0.5, height=size)
    xsl = c.hsl(pad_x, pad_y + size + 8, 0, 1, receive="ms-x", label="x_[ms-x]_[ms-y]", init=0.5, width=size)
    t_y = c.obj(520, 310, "t b f")
    pack_xy = c.obj(520, 340, "pack f f")
    fmt_xy = _osc(c, 520, 425, "morph xy")
    c.connect(xsl, 0, pack_xy, 0)
    c.connect(ysl, 0, t_y)
    c.connect(t_y, 1, pack_xy, 1)
    c.connect(t_y, 0, pack_xy, 0)
    c.connect(pack_xy, 0, fmt_xy)
    r_xy = c.obj(600, 310, "r ms-xy")
    un_xy = c.obj(600, 340, "unpack f f")
    c.connect(r_xy, 0, un_xy)
    c.connect(un_xy, 1, pack_xy, 1)
    c.connect(un_xy, 0, pack_xy, 0)
    to_px = c.obj(520, 370, f"expr $f1*{size - 10}+{pad_x} \\; (1-$f2)*{size - 10}+{pad_y}")
    pack_pos = c.obj(660, 455, "pack f f")
    pos = c.msg(660, 480, "pos $1 $2")
    s_puck = c.obj(660, 505, "s ms-puck")
    c.connect(pack_xy, 0, to_px)
    c.connect(to_px, 1, pack_pos, 1)
    c.connect(to_px, 0, pack_pos, 0)
    c.connect(pack_pos, 0, pos)
    c.connect(pos, 0, s_puck)
    c.comment(300, 500, "weights, one per source (clears the XY position)")
    w2 = c.msg(300, 520, "1 0 0 0")
    w4 = c.msg(370, 520, "0.25 0.25 0.25 0.25")
    fmt_w = _osc(c, 300, 550, "morph weights")
    c.connect(w2, 0, fmt_w)
    c.connect(w4, 0, fmt_w)
    c.comment(300, 590, "knobs: latent axes in std devs [ms-knob0..3]")
    fmt_knob = _osc(c, 300, 715, "knob", "if")
    for i in range(4):
        k = c.vsl(300 + 45 * i, 615, -3, 3, receive=f"ms-knob{i}", label=f"k{i}", init=0, height=60)
        m = c.msg(300 + 45 * i, 685, f"{i} $1")
        c.connect(k, 0, m)
        c.connect(m, 0, fmt_knob)

    # Envelope and gain --------------------------------------------------------------
    c.comment(780, 480, "ENVELOPE /adsr (s, s, 0..1, s) and /gain (dB)")
    adsr_specs = [("attack", 0.001, 2.0, 0.005), ("decay", 0.001, 2.0, 0.1),
                  ("sustain", 0.0, 1.0, 0.8), ("release", 0.001, 4.0, 0.3)]
    pack_adsr = c.obj(780, 660, "pack f f f f")
    for i, (name, lo, hi, init) in enumerate(adsr_specs):
        s = c.hsl(780, 515 + 30 * i, lo, hi, receive=f"ms-{name}", label=f"{name}_[ms-{name}]", init=init,
                  width=110)
        if i == 0:
            c.connect(s, 0, pack_adsr, 0)
        else:
            t = c.obj(920 + 50 * (i - 1), 630, "t b f")
            c.connect(s, 0, t)
            c.connect(t, 1, pack_adsr, i)
            c.connect(t, 0, pack_adsr, 0)
    r_adsr = c.obj(920, 660, "r ms-adsr")
    un_adsr = c.obj(920, 685, "unpack f f f f")
    c.connect(r_adsr, 0, un_adsr)
    for i in (3, 2, 1, 0):
        c.connect(un_adsr, i, pack_adsr, i)
    fmt_adsr = _osc(c, 780, 710, "adsr")
    c.connect(pack_adsr, 0, fmt_adsr)
    gain = c.hsl(1060, 510, -60, 12, receive="ms-gain", label="gain_dB_[ms-gain]", init=-6, width=110)
    fmt_gain = _osc(c, 1060, 540, "gain")
    c.connect(gain, 0, fmt_gain)

    # Render, library, status ----------------------------------------------------------
    c.comment(780, 100, "RENDER /render -> /done /render path")
    path = c.symbolatom(780, 125, 18, receive="ms-render-path", label="path_[ms-render-path]", label_pos=1)
    r_pitch = c.nbx(780, 160, 0, 127, receive="ms-render-pitch", label="pitch", init=60, width=3)
    r_vel = c.nbx(830, 160, 1, 127, receive="ms-render-velocity", label="vel", init=100, width=3)
    r_dur = c.nbx(880, 160, 0.05, 30, receive="ms-render-duration", label="dur_s", init=2, width=3)
    r_bang = c.bng(930, 155, receive="ms-render", label="render_[ms-render]")
    t_r = c.obj(780, 190, "t b b b b")
    s_path = c.obj(780, 215, "symbol")
    f_p, f_v, f_d = (c.obj(850 + 35 * i, 215, "f") for i in range(3))
    pack_r = c.obj(780, 240, "pack s f f f")
    fmt_r = _osc(c, 780, 265, "render", "siif")
    c.connect(path, 0, s_path, 1)
    c.connect(r_pitch, 0, f_p, 1)
    c.connect(r_vel, 0, f_v, 1)
    c.connect(r_dur, 0, f_d, 1)
    c.connect(r_bang, 0, t_r)
    for i, box in enumerate((s_path, f_p, f_v, f_d)):
        c.connect(t_r, i, box)
        c.connect(box, 0, pack_r, i)
    c.connect(pack_r, 0, fmt_r)

    c.comment(780, 300, "LIBRARY /library/list, /library/add")
    lib_list = c.bng(780, 320, receive="ms-library-list", label="list_[ms-library-list]")
    fmt_ll = _osc(c, 780, 350, "library list")
    c.connect(lib_list, 0, fmt_ll)
    add_path = c.symbolatom(780, 385, 14, receive="ms-add-path", label="path", label_pos=2)
    add_name = c.symbolatom(920, 385, 8, receive="ms-add-name", label="name", label_pos=2)
    add_bang = c.bng(1010, 383, receive="ms-library-add", label="add")
    s_ap = c.obj(780, 410, "symbol")
    s_an = c.obj(860, 410, "symbol")
    t_add = c.obj(940, 410, "t b b")
    pack_add = c.obj(780, 435, "pack s s")
    fmt_add = _osc(c, 780, 460, "library add")
    c.connect(add_path, 0, s_ap, 1)
    c.connect(add_name, 0, s_an, 1)
    c.connect(add_bang, 0, t_add)
    c.connect(t_add, 1, s_an)
    c.connect(t_add, 0, s_ap)
    c.connect(s_an, 0, pack_add, 1)
    c.connect(s_ap, 0, pack_add, 0)
    c.connect(pack_add, 0, fmt_add)

    c.comment(1060, 100, "STATUS")
    st = c.bng(1060, 120, receive="ms-status", label="status_[ms-status]")
    fmt_st = _osc(c, 1060, 150, "status")
    c.connect(st, 0, fmt_st)
    notify = c.tgl(1060, 180, receive="ms-notify", label="notify_[ms-notify]")
    fmt_nt = _osc(c, 1060, 210, "notify", "i")
    c.connect(notify, 0, fmt_nt)
    sync = c.bng(1060, 240, receive="ms-sync", label="sync_[ms-sync]")
    f_sync = c.obj(1060, 270, "f")
    inc = c.obj(1100, 270, "+ 1")
    fmt_sync = _osc(c, 1060, 300, "sync", "i")
    c.connect(sync, 0, f_sync)
    c.connect(f_sync, 0, inc)
    c.connect(inc, 0, f_sync, 1)
    c.connect(f_sync, 0, fmt_sync)

    _replies(c, client, 780, 730)
    return c.text()


# Example messages per address for the help patches (Pd message-box text).
PD_EXAMPLES = {
    "/note/on": ["60 100", "64 90 7"],
    "/note/off": ["60", "64 7"],
    "/note/bend": ["64 0.5 7"],
    "/note/morph": ["64 x 0.5 7", "64 knob0 0 7"],
    "/bend": ["-1", "0"],
    "/sustain": ["1", "0"],
    "/panic": ["bang"],
    "/morph/sources": ["list keyboard flute", "list keyboard flute string organ"],
    "/morph/weights": ["0.7 0.3", "0.25 0.25 0.25 0.25"],
    "/morph/xy": ["0.25 0.75", "0.5 0.5"],
    "/morph/ramp": ["0 1 0 2 0 1", "0"],
    "/morph/interp": ["symbol slerp", "symbol linear"],
    "/knob": ["0 1.5", "0 0"],
    "/morph/follow": ["0", "1"],
    "/adsr": ["0.01 0.2 0.7 0.5", "0.005 0.1 0.8 0.3"],
    "/gain": ["-6", "-12"],
    "/render": ["list note.wav 60 100", "list long.wav 48 90 4"],
    "/export": ["list pad sfz 3 21 108", "list pad_wavs wav 6 36 96"],
    "/library/list": ["bang", "symbol flute"],
    "/library/add": ["list mynote.wav mine"],
    "/status": ["bang"],
    "/notify": ["1", "0"],
    "/reply/port": [str(REPLY_PORT)],
    "/sync": ["1"],
    "/model/load": ["symbol default", "list default default/library.safetensors"],
    "/library/load": ["symbol default/library.safetensors"],
    "/latency": ["bang"],
    "/preset/save": ["symbol warm_pad", "symbol lead"],
    "/preset/load": ["symbol warm_pad", "symbol lead"],
    "/preset/list": ["bang"],
    "/describe": ["bang"],
}

HELP_FILES = {"Notes": "notes", "Morph": "morph", "Sound": "sound", "Files": "files", "Presets": "presets",
              "Server": "server"}


def _wrap(text: str, width: int = 80) -> list[str]:
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}".strip()
    return lines + ([cur] if cur else [])


def pd_help(group: str) -> str:
    """A help patch for one address group: the table's text and clickable examples."""
    from morphsynth.server.address_space import TABLE

    addresses = [a for a in TABLE if a.group == group]
    c = PdCanvas(1320, 140 + 150 * len(addresses))
    c.comment(20, 10, f"morphsynth {group.lower()}: OSC messages to morphsynth serve (UDP {DEFAULT_PORT})")
    c.comment(20, 30, "Click a message box; replies show on the right and in the Pd window. "
                      "Generated from the server's address table.")
    client = c.obj(720, 60, f"morphsynth-client {DEFAULT_PORT}")
    c.connect(c.obj(900, 60, "r $0-out"), 0, client)
    _replies(c, client, 720, 100)
    y = 70
    for a in addresses:
        sig = " ".join(arg.signature() for arg in a.args)
        c.comment(20, y, f"{a.path} {sig}".strip())
        y += 20
        for line in _wrap(a.doc + (f" Replies {a.reply}." if a.reply else ""), 90):
            c.comment(30, y, line)
            y += 18
        fixed = [arg for arg in a.args if not arg.repeat]
        tags = "".join(arg.type for arg in fixed) if any(arg.type == "i" for arg in fixed) else ""
        fmt = _osc(c, 360, y + 30, " ".join(a.path.strip("/").split("/")), tags)
        for k, text in enumerate(PD_EXAMPLES[a.path]):
            m = c.msg(30 + 160 * k, y + 4, text)
            c.connect(m, 0, fmt)
        y += 70
    return c.text()


# -- Max ---------------------------------------------------------------------------------------


def _max_replies(m: MaxPatcher, x: float, y: float, presentation_y: float | None = None,
                 port: int = REPLY_PORT) -> str:
    """[udpreceive] on the registered reply port, routed to displays; returns its id."""
    recv = m.obj(x, y, f"udpreceive {port}")
    prn = m.obj(x + 160, y, "print morphsynth")
    m.connect(recv, 0, prn)
    route = m.obj(x, y + 30, "route /done /fail /status.reply /synced /library/list.reply")
    m.connect(recv, 0, route)
    labels = ["/done", "/fail", "/status.reply", "/synced"]
    for k, label in enumerate(labels):
        prep = m.obj(x + 10 + 120 * k, y + 70, "prepend set")
        pres = None if presentation_y is None else (20, presentation_y + 24 * k, 330, 22)
        box = m.message(x + 10, y + 100 + 26 * k, "", presentation=pres)
        m.boxes[-1]["box"]["patching_rect"][2] = 320.0
        m.comment(x + 340, y + 100 + 26 * k, label, 120,
                  presentation=None if pres is None else (355, pres[1], 120, 20))
        m.connect(route, k, prep)
        m.connect(prep, 0, box)
    return route


def max_main() -> str:
    m = MaxPatcher(rect=(60.0, 80.0, 1180.0, 820.0), openinpresentation=True)
    m.comment(20, 10, "morphsynth for Max: play and morph over OSC. Start the server first "
                      f"(morphsynth serve); replies come back on UDP {REPLY_PORT}.", 700,
              presentation=(20, 5, 600, 20))
    send = m.obj(20, 760, f"udpsend 127.0.0.1 {DEFAULT_PORT}")
    # [udpsend] sends from a port of its own choosing, so ask for replies on ours.
    lb = m.obj(20, 40, "loadbang")
    reg = m.message(20, 70, f"/reply/port {REPLY_PORT}", presentation=(20, 30, 130, 22))
    m.chain(lb, reg, send)
    notify = m.message(200, 70, f"/notify 1 {REPLY_PORT}", presentation=(160, 30, 130, 22))
    m.connect(notify, 0, send)

    # Keyboard: velocity 0 (key released) is a note-off for /note/on.
    m.comment(20, 110, "kslider: /note/on pitch velocity (velocity 0 releases)", 360)
    keys = m.ui("kslider", 20, 135, 336, 53, presentation=(20, 320, 336, 53), mode=1, offset=36, range=61)
    pack_note = m.obj(20, 200, "pack 0 0")
    m.connect(keys, 1, pack_note, 1)
    m.connect(keys, 0, pack_note, 0)
    note_on = m.obj(20, 230, "prepend /note/on")
    m.chain(pack_note, note_on, send)
    panic = m.message(200, 230, "/panic", presentation=(370, 320, 60, 22))
    m.connect(panic, 0, send)

    # XY pad: four sources at the corners, positions 0..1.
    m.comment(400, 110, "pictslider: /morph/xy x y", 250)
    pad = m.ui("pictslider", 400, 135, 160, 160, presentation=(20, 60, 240, 240),
               leftvalue=0, rightvalue=1000, bottomvalue=0, topvalue=1000, parameter_enable=0)
    to_x = m.obj(400, 305, "/ 1000.")
    to_y = m.obj(480, 305, "/ 1000.")
    pack_xy = m.obj(400, 335, "pack 0. 0.")
    m.connect(pad, 0, to_x)
    m.connect(pad, 1, to_y)
    m.connect(to_y, 0, pack_xy, 1)
    m.connect(to_x, 0, pack_xy, 0)
    xy = m.obj(400, 365, "prepend /morph/xy")
    m.chain(pack_xy, xy, send)

    # Sources: menus filled from /library/list.reply.
    m.comment(600, 110, "sources (fill with /library/list, then pick four and send)", 300)
    lib_list = m.message(600, 135, "/library/list", presentation=(280, 60, 90, 22))
    m.connect(lib_list, 0, send)
    menus = []
    pack_src = m.obj(600, 300, "pack s s s s")
    for k in range(4):
        menu = m.ui("umenu", 600 + 130 * (k % 2), 170 + 30 * (k // 2), 120, 22,
                    presentation=(280 + 130 * (k % 2), 90 + 30 * (k // 2), 120, 22), items=[])
        menus.append(menu)
        if k == 0:
            m.connect(menu, 1, pack_src, 0)
        else:
            t = m.obj(600 + 60 * k, 240, "t b s")
            m.connect(menu, 1, t)
            m.connect(t, 1, pack_src, k)
    send_src = m.ui("button", 860, 170, 24, 24, presentation=(540, 90, 24, 24))
    m.connect(send_src, 0, pack_src)
    src = m.obj(600, 330, "prepend /morph/sources")
    m.chain(pack_src, src, send)

    # Envelope and knobs.
    m.comment(20, 420, "live.dial: /adsr, /knob index value, /gain", 300)
    pack_adsr = m.obj(20, 530, "pack 0.005 0.1 0.8 0.3")
    # Unit style 1 (plain float): the envelope times are seconds, Live's time style is ms.
    dials = [("Attack", "Atk", 0.0, 5.0, 0.005, 1), ("Decay", "Dec", 0.0, 5.0, 0.1, 1),
             ("Sustain", "Sus", 0.0, 1.0, 0.8, 1), ("Release", "Rel", 0.0, 10.0, 0.3, 1)]
    for k, (name, short, lo, hi, init, unit) in enumerate(dials):
        d = m.live_dial(20 + 60 * k, 445, name, short, lo, hi, init, unit,
                        presentation=(20 + 60 * k, 390, 44, 48))
        if k == 0:
            m.connect(d, 0, pack_adsr, 0)
        else:
            t = m.obj(20 + 60 * k, 500, "t b f")
            m.connect(d, 0, t)
            m.connect(t, 1, pack_adsr, k)
            m.connect(t, 0, pack_adsr, 0)
    adsr = m.obj(20, 560, "prepend /adsr")
    m.chain(pack_adsr, adsr, send)
    knob = m.obj(280, 560, "prepend /knob")
    m.connect(knob, 0, send)
    for k in range(4):
        d = m.live_dial(280 + 60 * k, 445, f"Knob {k}", f"K{k}", -4.0, 4.0, 0.0, 1,
                        presentation=(270 + 60 * k, 390, 44, 48))
        msg = m.message(280 + 60 * k, 510, f"{k} $1")
        m.connect(d, 0, msg)
        m.connect(msg, 0, knob)
    gain_dial = m.live_dial(540, 445, "Gain", "Gain", -60.0, 12.0, -6.0, 4, presentation=(520, 390, 44, 48))
    gain = m.obj(540, 560, "prepend /gain")
    m.chain(gain_dial, gain, send)

    # Render, status, sync.
    m.comment(620, 420, "render a note into the server's output folder", 300)
    render = m.message(620, 445, "/render note.wav 60 100 2.", presentation=(20, 460, 200, 22))
    status = m.message(620, 475, "/status", presentation=(230, 460, 60, 22))
    sync = m.message(700, 475, "/sync 1", presentation=(300, 460, 60, 22))
    for box in (render, status, sync):
        m.connect(box, 0, send)

    route = _max_replies(m, 600, 600, presentation_y=500)
    # The library's names fill the four menus.
    names = m.obj(400, 640, "t l b")
    m.connect(route, 4, names)
    clear = m.message(480, 670, "clear")
    it = m.obj(400, 670, "iter")
    app = m.obj(400, 700, "prepend append")
    m.connect(names, 1, clear)
    m.connect(names, 0, it)
    m.connect(it, 0, app)
    for menu in menus:
        m.connect(clear, 0, menu)
        m.connect(app, 0, menu)
    return m.to_json()


def max_m4l() -> str:
    """Max for Live MIDI effect: the track's notes and eight mappable dials go to the server."""
    m = MaxPatcher(rect=(80.0, 100.0, 1000.0, 640.0), openinpresentation=True, devicewidth=430.0)
    m.comment(20, 10, "morphsynth MIDI effect: notes and dials to morphsynth serve. In a Rack, use Map "
                      "to put macros on the dials.", 600)
    send = m.obj(20, 600, f"udpsend 127.0.0.1 {DEFAULT_PORT}")
    here = m.obj(20, 40, "live.thisdevice")
    reg = m.message(20, 70, f"/reply/port {DEVICE_REPLY_PORT}")
    m.connect(here, 0, reg)
    m.connect(reg, 0, send)
    # Notes: velocity 0 note-offs ride on /note/on; every MIDI byte also passes through.
    midi = m.obj(250, 40, "midiin")
    thru = m.obj(400, 70, "midiout")
    parse = m.obj(250, 70, "midiparse")
    m.connect(midi, 0, thru)
    m.connect(midi, 0, parse)
    note = m.obj(250, 100, "prepend /note/on")
    m.connect(parse, 0, note)
    m.connect(note, 0, send)
    dials = [("Morph X", "X", 0.0, 1.0, 0.5, 1), ("Morph Y", "Y", 0.0, 1.0, 0.5, 1),
             ("Knob 0", "K0", -4.0, 4.0, 0.0, 1), ("Knob 1", "K1", -4.0, 4.0, 0.0, 1),
             ("Knob 2", "K2", -4.0, 4.0, 0.0, 1), ("Attack", "Atk", 0.0, 5.0, 0.005, 1),
             ("Release", "Rel", 0.0, 10.0, 0.3, 1), ("Gain", "Gain", -60.0, 12.0, -6.0, 4)]
    ids = []
    for k, (name, short, lo, hi, init, unit) in enumerate(dials):
        ids.append(m.live_dial(20 + 60 * k, 160, name, short, lo, hi, init, unit,
                               presentation=(10 + 52 * k, 30, 44, 48)))
        m.comment(20 + 60 * k, 140, short, 50)
    pack_xy = m.obj(20, 240, "pack 0. 0.")
    ty = m.obj(80, 215, "t b f")
    m.connect(ids[0], 0, pack_xy, 0)
    m.connect(ids[1], 0, ty)
    m.connect(ty, 1, pack_xy, 1)
    m.connect(ty, 0, pack_xy, 0)
    xy = m.obj(20, 270, "prepend /morph/xy")
    m.chain(pack_xy, xy, send)
    knob = m.obj(140, 300, "prepend /knob")
    m.connect(knob, 0, send)
    for k in range(3):
        msg = m.message(140 + 60 * k, 240, f"{k} $1")
        m.connect(ids[2 + k], 0, msg)
        m.connect(msg, 0, knob)
    pack_adsr = m.obj(320, 300, "pack 0.005 0.1 0.8 0.3")
    tr = m.obj(380, 240, "t b f")
    m.connect(ids[5], 0, pack_adsr, 0)
    m.connect(ids[6], 0, tr)
    m.connect(tr, 1, pack_adsr, 3)
    m.connect(tr, 0, pack_adsr, 0)
    adsr = m.obj(320, 330, "prepend /adsr")
    m.chain(pack_adsr, adsr, send)
    gain = m.obj(460, 300, "prepend /gain")
    m.connect(ids[7], 0, gain)
    m.connect(gain, 0, send)
    _max_replies(m, 20, 380, port=DEVICE_REPLY_PORT)
    return m.to_json()


# -- Open Stage Control ------------------------------------------------------------------------


def osc_session() -> str:
    """An Open Stage Control session for a phone or tablet: XY pad, keys, envelope, knobs."""
    import json

    def widget(kind: str, wid: str, left, top, width, height, **props) -> dict:
        return {"type": kind, "id": wid, "left": left, "top": top, "width": width, "height": height,
                "label": props.pop("label", wid), **props}

    adsr_send = "send('/adsr', get('attack'), get('decay'), get('sustain'), get('release'))"
    widgets = [
        widget("xy", "morph_xy", 0, 0, "60%", "55%", label="morph (sources at the corners)",
               address="/morph/xy", rangeX={"min": 0, "max": 1}, rangeY={"min": 0, "max": 1},
               value=[0.5, 0.5], default=[0.5, 0.5], decimals=3, typeTags="ff"),
        widget("keyboard", "keys", 0, "75%", "100%", "25%", label=False, address="/note/on",
               keys=37, start=48, on=100, off=0, typeTags="ii"),
        widget("input", "sources", "60%", 0, "30%", 50, label="sources (space-separated)", bypass=True,
               onValue="if (value) send('/morph/sources', ...String(value).trim().split(/\\s+/))"),
        widget("button", "library_list", "90%", 0, "10%", 50, label="list", address="/library/list",
               mode="tap", on=None, off=None),
        widget("text", "library", "60%", 55, "40%", 40, label=False, address="/library/list.reply"),
    ]
    for k, (name, lo, hi, init) in enumerate([("attack", 0, 5, 0.005), ("decay", 0, 5, 0.1),
                                              ("sustain", 0, 1, 0.8), ("release", 0, 10, 0.3)]):
        widgets.append(widget("fader", name, f"{60 + 10 * k}%", 100, "10%", "30%", label=name, bypass=True,
                              range={"min": lo, "max": hi}, value=init, default=init, onValue=adsr_send))
    for k in range(4):
        widgets.append(widget("knob", f"knob{k}", f"{60 + 10 * k}%", "42%", "10%", "13%", label=f"knob {k}",
                              address="/knob", preArgs=[k], typeTags="if", range={"min": -4, "max": 4},
                              value=0, default=0))
    widgets += [
        widget("fader", "gain", 0, "55%", "60%", 50, label="gain dB", horizontal=True, address="/gain",
               range={"min": -60, "max": 12}, value=-6, default=-6),
        widget("button", "panic", 0, "63%", "15%", 50, address="/panic", mode="tap", on=None, off=None),
        widget("button", "status", "15%", "63%", "15%", 50, address="/status", mode="tap", on=None, off=None),
        widget("button", "replies", "30%", "63%", "15%", 50, label=f"replies to {REPLY_PORT}",
               address="/reply/port", mode="tap", on=REPLY_PORT, off=None, typeTags="i"),
        widget("button", "render", "45%", "63%", "15%", 50, label="render osc.wav", bypass=True, mode="tap",
               onValue="send('/render', 'osc.wav', 60, 100, 2)"),
        widget("text", "status_reply", "60%", "55%", "40%", 30, label=False, address="/status.reply"),
        widget("text", "done", "60%", "60%", "40%", 30, label=False, address="/done"),
        widget("text", "fail", "60%", "65%", "40%", 30, label=False, address="/fail"),
    ]
    session = {"createdWith": "Open Stage Control", "version": "1.26.2", "type": "session",
               "content": {"type": "root", "id": "root", "widgets": widgets, "tabs": []}}
    return json.dumps(session, indent=2) + "\n"


def pd_client_help() -> str:
    """morphsynth-client-help.pd: what the abstraction takes and gives, with a live example."""
    c = PdCanvas(760, 420)
    c.comment(20, 10, "[morphsynth-client PORT]: one UDP connection to morphsynth serve on this machine")
    c.comment(20, 30, "argument: the server's UDP port (default 57130)")
    c.comment(20, 48, "inlet: OSC packets from [oscformat], or port P, connect HOST PORT, disconnect")
    c.comment(20, 66, "outlet: every reply, its address split at the slashes (done /render note.wav)")
    c.comment(20, 84, "every reply is also printed in the Pd window as morphsynth: ...")
    c.comment(20, 102, "a global [s morphsynth-port] retargets every open client at once")
    status = c.msg(20, 140, "bang")
    fmt = c.obj(20, 170, "oscformat status")
    sync = c.msg(160, 140, "7")
    fmt_sync = c.obj(160, 170, "oscformat -f i sync")
    port = c.msg(330, 140, f"port {DEFAULT_PORT}")
    conn = c.msg(430, 140, f"connect 127.0.0.1 {DEFAULT_PORT}")
    disc = c.msg(620, 140, "disconnect")
    client = c.obj(20, 220, f"morphsynth-client {DEFAULT_PORT}")
    parsed = c.obj(20, 260, "route status.reply synced")
    voices = c.obj(20, 290, "list split 1")
    shown = c.floatatom(20, 320, 5, label="voices")
    synced = c.floatatom(200, 290, 5, label="synced")
    c.chain(status, fmt, client)
    c.chain(sync, fmt_sync, client)
    for box in (port, conn, disc):
        c.connect(box, 0, client)
    c.chain(client, parsed, voices, shown)
    c.connect(parsed, 1, synced)
    c.comment(20, 360, "see also: morphsynth.pd and the morphsynth-*-help.pd patches")
    return c.text()


def build_all() -> dict[str, str]:
    """Relative path under patches/ -> file text, for every generated patch."""
    out = {
        "pd/morphsynth-client.pd": pd_client(),
        "pd/morphsynth-client-help.pd": pd_client_help(),
        "pd/morphsynth.pd": pd_main(),
    }
    for group, stem in HELP_FILES.items():
        out[f"pd/morphsynth-{stem}-help.pd"] = pd_help(group)
    out["max/morphsynth.maxpat"] = max_main()
    out["max/morphsynth-m4l.maxpat"] = max_m4l()
    out["open-stage-control/morphsynth.json"] = osc_session()
    return out


def structure(rel: str, text: str) -> str:
    """What must match for a file to be current: for Pd files the boxes and wiring only.

    Help comments quote the address table's prose and their layout follows it; a reworded
    description must not fail the build, a changed object or connection must.
    """
    if not rel.endswith(".pd"):
        return text
    out = []
    for line in text.splitlines():
        words = line.split()
        if words[:2] == ["#X", "text"]:
            continue
        if words[:2] in (["#X", "obj"], ["#X", "msg"], ["#X", "floatatom"], ["#X", "symbolatom"],
                         ["#X", "listbox"], ["#X", "restore"]):
            words = words[:2] + words[4:]
        out.append(" ".join(words))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report files whose objects or wiring differ from the generator's")
    args = parser.parse_args(argv)
    stale = []
    for rel, text in build_all().items():
        path = PATCHES / rel
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old == text or (args.check and old is not None and structure(rel, old) == structure(rel, text)):
            continue
        stale.append(rel)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("stale (run patches/tools/build_patches.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
