// A client for `morphsynth serve`: notes, morphs, envelope, renders and status over OSC.
// Install: copy this folder into Platform.userExtensionDir and recompile the class library.
// The OSC address space is the server's table (docs/osc.md); tests/test_patches.py checks
// every address sent here against it.

MorphSynth {
	classvar <>default;
	var <addr, <>outputDir, <>verbose = true, failFunc;

	*new { |host = "127.0.0.1", port = 57130, outputDir|
		^super.new.init(host, port, outputDir)
	}

	init { |host, port, dir|
		addr = NetAddr(host, port);
		outputDir = dir;
		default = default ? this;
		// Errors arrive as /fail address reason; post them so a typo is seen at once.
		failFunc = OSCFunc({ |msg|
			if(verbose) { ("morphsynth: /fail % %".format(msg[1], msg[2])).warn };
		}, '/fail').fix;
	}

	free {
		failFunc.free;
		if(default === this) { default = nil };
	}

	// Notes ----------------------------------------------------------------------------
	noteOn { |pitch, velocity = 100, id|
		if(id.isNil) {
			addr.sendMsg("/note/on", pitch.asInteger, velocity.asInteger)
		} {
			addr.sendMsg("/note/on", pitch.asInteger, velocity.asInteger, id.asInteger)
		}
	}

	noteOff { |pitch, id|
		if(id.isNil) {
			addr.sendMsg("/note/off", pitch.asInteger)
		} {
			addr.sendMsg("/note/off", pitch.asInteger, id.asInteger)
		}
	}

	bend { |semitones| addr.sendMsg("/bend", semitones.asFloat) }
	sustain { |on| addr.sendMsg("/sustain", on.binaryValue) }
	panic { addr.sendMsg("/panic") }

	// Morph ----------------------------------------------------------------------------
	// Up to four sources sit at the XY corners (0,0) (1,0) (0,1) (1,1).
	sources { |names| addr.sendMsg("/morph/sources", *names.collect(_.asString)) }
	weights { |weights| addr.sendMsg("/morph/weights", *weights.collect(_.asFloat)) }
	xy { |x, y| addr.sendMsg("/morph/xy", x.asFloat, y.asFloat) }
	// points: [[time_s, [w1, w2, ...]], ...], flattened for the wire; [] clears the ramp.
	ramp { |points|
		var flat = points.collect { |p| [p[0]] ++ p[1] }.flat.collect(_.asFloat);
		if(flat.isEmpty) { flat = [0.0] };
		addr.sendMsg("/morph/ramp", *flat)
	}
	interp { |mode| addr.sendMsg("/morph/interp", mode.asString) }
	knob { |index, value| addr.sendMsg("/knob", index.asInteger, value.asFloat) }

	// Sound ----------------------------------------------------------------------------
	adsr { |attack = 0.005, decay = 0.1, sustainLevel = 0.8, release = 0.3|
		addr.sendMsg("/adsr", attack.asFloat, decay.asFloat, sustainLevel.asFloat, release.asFloat)
	}
	gain { |db| addr.sendMsg("/gain", db.asFloat) }

	// Files ----------------------------------------------------------------------------
	// Render one note to `path` (relative to the server's output folder). When the server
	// answers /done, `action` gets a Buffer if `server` is running (else the file's path);
	// `failAction` gets the reason of a /fail.
	render { |path, pitch = 60, velocity = 100, duration, action, server, failAction|
		var done, fail;
		done = OSCFunc({ |msg|
			var file = this.pathOf(path);
			fail.free;
			if(server.notNil and: { server.serverRunning }) {
				Buffer.read(server, file, action: { |buf| action.value(buf) })
			} {
				action.value(file)
			}
		}, '/done', argTemplate: ['/render', path]).oneShot;
		fail = OSCFunc({ |msg|
			done.free;
			failAction.value(msg[2]);
		}, '/fail', argTemplate: ['/render']).oneShot;
		if(duration.isNil) {
			addr.sendMsg("/render", path, pitch.asInteger, velocity.asInteger)
		} {
			addr.sendMsg("/render", path, pitch.asInteger, velocity.asInteger, duration.asFloat)
		}
	}

	pathOf { |path|
		^if(outputDir.isNil or: { path.asString.beginsWith("/") }) { path } { outputDir +/+ path }
	}

	libraryList { |action|
		OSCFunc({ |msg| action.value(msg[1..].collect(_.asString)) }, '/library/list.reply').oneShot;
		addr.sendMsg("/library/list")
	}

	// pitch: the key the note was played at; nil lets the server detect it.
	libraryAdd { |path, name, pitch|
		if(pitch.isNil) { addr.sendMsg("/library/add", path, name) } { addr.sendMsg("/library/add", path, name, pitch.asInteger) }
	}

	// Server ---------------------------------------------------------------------------
	status { |action|
		OSCFunc({ |msg|
			var keys = #[\activeVoices, \polyphony, \cacheHits, \cacheMisses, \xruns,
				\renderQueue, \droppedMessages, \model, \device, \sampleRate];
			var info = ();
			keys.do { |k, i| info[k] = msg[i + 1] };
			action.value(info)
		}, '/status.reply').oneShot;
		addr.sendMsg("/status")
	}

	// Calls `action` once the server has done everything sent before.
	sync { |action|
		var id = UniqueID.next;
		OSCFunc({ action.value(id) }, '/synced', argTemplate: [id]).oneShot;
		addr.sendMsg("/sync", id)
	}

	notify { |on = true| addr.sendMsg("/notify", on.binaryValue) }

	// Patterns ---------------------------------------------------------------------------
	// Pbind(\type, \morphsynth, \midinote, 60, \x, 0.3, \y, Pseg([0, 1], 2), ...): each event
	// sets the morph it names (\x and \y, or \weights), then plays its notes for \sustain beats.
	*initClass {
		Class.initClassTree(Event);
		Event.addEventType(\morphsynth, {
			var ms = ~morphsynth ? MorphSynth.default;
			var notes = ~midinote.value.asArray.collect { |n| n.round.asInteger };
			var velocity = (~velocity ? (~amp.value * 127)).asInteger.clip(1, 127);
			var hold = ~sustain.value;
			if(ms.isNil) { Error("\\morphsynth event: no MorphSynth (set ~morphsynth)").throw };
			if(~x.notNil and: { ~y.notNil }) { ms.xy(~x.value, ~y.value) };
			if(~weights.notNil) { ms.weights(~weights.value.asArray) };
			notes.do { |n| ms.noteOn(n, velocity) };
			thisThread.clock.sched(hold, { notes.do { |n| ms.noteOff(n) }; nil });
		});
	}
}
