"""keepmum: a smart-speaker firmware simulator that hears everything and keeps almost nothing.

This package is the small core every layer may use: :mod:`keepmum.errors` (the one exception
tree) and :mod:`keepmum.files` (safe file writing). It imports nothing from ``device``,
``wakeword``, ``storage`` or ``sim``, and nothing eagerly: importing ``keepmum`` loads no
audio, model or vault code.
"""
