"""The code location stays light: the code server, every `dagster` CLI call, every sensor evaluation and every step
process imports `acctax_assets.definitions`, so torch-sized libraries load only inside the asset bodies and the
trainer, never at import time."""

import json
import subprocess
import sys

# Each costs from a second (scikit-learn) to several (torch + transformers) on a 2-core machine.
HEAVY = ("torch", "transformers", "peft", "deepspeed", "accelerate", "datasets", "sklearn", "tokenizers")


def test_loading_the_definitions_imports_no_ml_framework() -> None:
    probe = (
        "import json, sys\n"
        "import acctax_assets.definitions as location\n"
        "location.defs.get_repository_def()\n"
        f"print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
