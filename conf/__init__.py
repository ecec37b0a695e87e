"""The packaged Hydra config of the greenmachine commands (greenmachine.conf)."""

import greenmachine.conf_store  # noqa: F401  (stores the dataclass defaults the group files include)
