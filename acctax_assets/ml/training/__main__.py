"""What `python -m acctax_assets.ml.training` (and so `deepspeed --module acctax_assets.ml.training`) runs."""

import sys

from acctax_assets.ml.training.entry import main

if __name__ == "__main__":
    sys.exit(main())
