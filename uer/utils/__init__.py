"""Ground-level helpers every part of uer may import; they import nothing of uer but ``uer.utils``
and ``uer.registry`` (checked by tests/test_layering.py).

``constants`` (special tokens), ``errors`` (UserInputError, ``cli_main``), ``textfile`` (reading
and atomic writing), ``config`` (option resolution), ``act_fun`` (activations), ``pooling``,
``seed``, ``progress`` (a progress bar).
"""
