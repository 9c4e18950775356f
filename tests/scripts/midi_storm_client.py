"""A JACK MIDI client that storms a server with notes, then holds a chord until it is killed.

argv: <the server's MIDI port name ends in ':' + this> <seed> <pitches, comma-separated> <events>

Sends ``events`` seeded note-ons/offs on random channels (and now and then a sustain pedal
move), then on channel 1 the pedal down and a note-on for every pitch, prints
``holding <messages sent>`` and sleeps for a minute: the test kills it meanwhile.
"""

import random
import sys
import time

import mido

be = mido.Backend('mido.backends.rtmidi', api='UNIX_JACK', load=True)
name = [n for n in be.get_output_names() if n.endswith(':' + sys.argv[1])][0]
out = be.open_output(name)
time.sleep(0.2)
rng = random.Random(int(sys.argv[2]))
sent = 0
pitches = [int(p) for p in sys.argv[3].split(',')]
for i in range(int(sys.argv[4])):
    ch, p = rng.randrange(16), rng.choice(pitches)
    if rng.random() < 0.55:
        out.send(mido.Message('note_on', channel=ch, note=p, velocity=100))
    else:
        out.send(mido.Message('note_off', channel=ch, note=p))
    sent += 1
    if rng.random() < 0.02:
        out.send(mido.Message('control_change', channel=ch, control=64, value=rng.choice((0, 127))))
        sent += 1
    if i % 10 == 0:
        time.sleep(0.002)   # rtmidi's JACK ring (16 KB) drops what a period cannot carry
for p in pitches:                      # hold a chord with the pedal down, then get killed
    out.send(mido.Message('control_change', channel=1, control=64, value=127))
    out.send(mido.Message('note_on', channel=1, note=p, velocity=100))
    sent += 2
print('holding', sent, flush=True)
time.sleep(60)
