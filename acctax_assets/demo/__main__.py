"""Lets `python -m acctax_assets.demo ...` run the demo command line."""

from acctax_assets.demo.cli import main

raise SystemExit(main())
