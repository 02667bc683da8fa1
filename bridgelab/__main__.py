from bridgelab.cli import main

raise SystemExit(main())
