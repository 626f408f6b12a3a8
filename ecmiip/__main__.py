from ecmiip.cli import main

raise SystemExit(main())
