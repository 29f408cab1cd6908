"""keepmum's commands, one module each (``keepmum far`` is :mod:`sim.commands.far`); the
shared option builders, output and progress in the ``_`` modules."""
