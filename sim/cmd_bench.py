"""``keepmum bench``: placeholder until the benchmark lands (registered so the CLI imports)."""
