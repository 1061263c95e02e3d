"""Running ``%%parallel`` cells: statements as tasks, output in order, errors as in a plain cell."""
