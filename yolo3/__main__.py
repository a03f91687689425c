from yolo3.cli import main

raise SystemExit(main())
