"""keepmum's command line, configuration, scenarios, reports and benchmarks.

``sim`` is the only package that parses arguments, reads the environment, prints or exits.
"""
