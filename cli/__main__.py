from morphsynth.main import main

raise SystemExit(main())
