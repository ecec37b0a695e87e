"""Which archs a setting names: `select_archs` reads an `archs=` setting into benchmark indices."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from greenmachine.benchmark import fixed_holdout, load_benchmark
from greenmachine.benchmark.sampling import space_permutation
from greenmachine.errors import GreenmachineError
from greenmachine.spaces import get_space


def select_archs(space: str, spec: object, data: str | Path | None = None) -> np.ndarray:
    """Return arch indices for an `archs` setting: `all`, `holdout`, N, `start:stop`, or a list of indices.

    `holdout` is the space's fixed evaluation holdout (3,000 archs for NATS, a third of a smaller
    space: `SearchSpace.evaluation_size`); N the first N archs of the same fixed random order (so
    archs=3000 is the NATS holdout). Raises GreenmachineError naming the setting and the valid forms.
    """
    size = get_space(space).size
    forms = ("valid: all, holdout, a count N (first N of a fixed random order), 'start:stop', "
             "or a list of indices")
    if spec == "all":
        return np.arange(size)
    if spec == "holdout":
        return fixed_holdout(load_benchmark(space, data_dir=data))
    if isinstance(spec, int) and not isinstance(spec, bool):
        if not 1 <= spec <= size:
            raise GreenmachineError(f"archs={spec} is out of range for {space} (1..{size}); {forms}")
        return space_permutation(space)[:spec]
    if isinstance(spec, str) and spec.count(":") == 1:
        bounds = []
        for part in spec.split(":"):
            if part.strip() and not part.strip().lstrip("-").isdigit():
                raise GreenmachineError(f"archs={spec!r} is not understood: {part!r} is not an index; {forms}")
            bounds.append(int(part) if part.strip() else None)
        chosen = np.arange(size)[slice(*bounds)]
        if chosen.size == 0:
            raise GreenmachineError(f"archs={spec!r} selects no arch of {space} (indices 0..{size - 1}); {forms}")
        return chosen
    if isinstance(spec, (list, tuple)):
        space_obj = get_space(space)
        indices = [space_obj.resolve(a)[0] for a in spec]
        seen: dict[int, object] = {}
        for index, given in zip(indices, spec):
            if index in seen:
                forms_given = f" (as {seen[index]!r} and {given!r})" if str(seen[index]) != str(given) else ""
                raise GreenmachineError(f"archs lists arch {index} twice{forms_given}; each arch may appear once "
                                        "(it would count twice in every tau)")
            seen[index] = given
        return np.array(indices, dtype=np.int64)
    raise GreenmachineError(f"archs={spec!r} is not understood; {forms}")
